package voip.inventory.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatabaseSettingsTest {
  @TempDir Path dir;

  @Test
  void defaultsAreTheOriginalScriptsDefaults() {
    DatabaseSettings settings = DatabaseSettings.resolve(Map.of(), Optional.empty());

    assertThat(settings.jdbcUrl()).isEqualTo("jdbc:postgresql://localhost:5432/infrastructure");
    assertThat(settings.user()).isEqualTo("ansible");
    assertThat(settings.password()).isEmpty();
  }

  @Test
  void infraVariablesWinOverLibpqVariables() {
    DatabaseSettings settings = DatabaseSettings.resolve(
        Map.of(
            "INFRA_DB_HOST", "db.internal", "PGHOST", "other", "PGPORT", "6543",
            "INFRA_DB_NAME", "inventory", "PGUSER", "pguser", "PGPASSWORD", "from-pg"),
        Optional.empty());

    assertThat(settings.jdbcUrl()).isEqualTo("jdbc:postgresql://db.internal:6543/inventory");
    assertThat(settings.user()).isEqualTo("pguser");
    assertThat(settings.password()).contains("from-pg");
  }

  @Test
  void passwordFileIsReadFromItsFirstLineAndNeverShown() throws Exception {
    Path file = Files.writeString(dir.resolve("pw"), "hunter2-secret\nignored\n");

    DatabaseSettings settings = DatabaseSettings.resolve(
        Map.of("INFRA_DB_PASSWORD_FILE", file.toString()), Optional.empty());

    assertThat(settings.password()).contains("hunter2-secret");
    assertThat(settings.toString()).doesNotContain("hunter2").contains("database 'infrastructure'");
    assertThat(settings.describe()).doesNotContain("hunter2");
  }

  @Test
  void missingPasswordFileNamesTheFile() {
    Path missing = dir.resolve("absent");

    assertThatThrownBy(() -> DatabaseSettings.resolve(Map.of(), Optional.of(missing)))
        .hasMessageContaining("cannot read password file " + missing);
  }

  @Test
  void badPortNamesTheVariable() {
    assertThatThrownBy(() -> DatabaseSettings.resolve(
            Map.of("INFRA_DB_PORT", "54x"), Optional.empty()))
        .hasMessageContaining("'54x'").hasMessageContaining("INFRA_DB_PORT");
  }

  @Test
  void unixSocketDirectoryHostIsRefusedWithTheFix() {
    assertThatThrownBy(() -> DatabaseSettings.resolve(
            Map.of("PGHOST", "/var/run/postgresql"), Optional.empty()))
        .hasMessageContaining("Unix socket directory").hasMessageContaining("INFRA_DB_HOST");
  }
}

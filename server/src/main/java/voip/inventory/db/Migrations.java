package voip.inventory.db;

import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.MigrationInfo;
import org.flywaydb.core.api.MigrationInfoService;
import org.flywaydb.core.api.MigrationVersion;
import org.flywaydb.core.api.output.MigrateResult;

/**
 * The schema migrations in db/migration and the optional sample data set in db/sample, both
 * applied by Flyway. The sample data keeps its own history table, so a plain migrate never
 * applies it and loading it twice does nothing.
 */
public final class Migrations {
  private static final String SCHEMA_LOCATION = "classpath:db/migration";
  private static final String SAMPLE_LOCATION = "classpath:db/sample";
  private static final String SAMPLE_HISTORY_TABLE = "voip_inventory_sample_data_history";

  private final DataSource dataSource;

  public Migrations(DataSource dataSource) {
    this.dataSource = dataSource;
  }

  /** Applies pending schema migrations; returns the schema version afterwards. */
  public String migrateSchema() {
    MigrateResult result = schemaFlyway().migrate();
    return result.targetSchemaVersion != null ? result.targetSchemaVersion : currentVersionText();
  }

  /** Loads the sample data set unless it was loaded before; returns how many scripts ran. */
  public int loadSampleData() {
    Flyway sample =
        Flyway.configure()
            .dataSource(dataSource)
            .locations(SAMPLE_LOCATION)
            .table(SAMPLE_HISTORY_TABLE)
            .baselineOnMigrate(true)
            .baselineVersion("0")
            .load();
    return sample.migrate().migrationsExecuted;
  }

  /** Compares the database's schema with the migrations this server was built with. */
  public SchemaState schemaState() {
    MigrationInfoService info = schemaFlyway().info();
    MigrationInfo current = info.current();
    MigrationInfo[] all = info.all();
    String expected = all.length == 0 ? "none" : all[all.length - 1].getVersion().getVersion();
    MigrationVersion latestKnown = latestKnown(info);
    String currentText = current == null ? null : current.getVersion().getVersion();
    boolean newer =
        current != null && latestKnown != null && current.getVersion().isNewerThan(latestKnown);
    return new SchemaState(currentText, expected, info.pending().length, newer);
  }

  private static MigrationVersion latestKnown(MigrationInfoService info) {
    MigrationVersion latest = null;
    for (MigrationInfo migration : info.all()) {
      boolean known = migration.getPhysicalLocation() != null
          && !migration.getPhysicalLocation().isEmpty();
      if (known && (latest == null || migration.getVersion().isNewerThan(latest))) {
        latest = migration.getVersion();
      }
    }
    return latest;
  }

  private String currentVersionText() {
    MigrationInfo current = schemaFlyway().info().current();
    return current == null ? "none" : current.getVersion().getVersion();
  }

  private Flyway schemaFlyway() {
    return Flyway.configure().dataSource(dataSource).locations(SCHEMA_LOCATION).load();
  }

  /**
   * The database's schema version against this server's.
   *
   * @param current the applied version, or null when nothing was ever migrated
   * @param expected the newest version this server ships
   * @param pending how many shipped migrations are not applied yet
   * @param newerThanServer whether the database was migrated by a newer release
   */
  public record SchemaState(String current, String expected, int pending, boolean newerThanServer) {
    public boolean isCurrent() {
      return current != null && pending == 0 && !newerThanServer;
    }

    /** Why a server cannot serve this schema, and what to do; empty when it can. */
    public String problem(String databaseDescription) {
      if (current == null) {
        return databaseDescription + " has no inventory schema: run `voip-inventory migrate`"
            + " (with the same INFRA_DB_* settings) before `serve`";
      }
      if (newerThanServer) {
        return databaseDescription + " has schema version " + current + ", newer than this"
            + " server's " + expected + ": upgrade voip-inventory";
      }
      if (pending > 0) {
        return databaseDescription + " has schema version " + current + " but this server needs "
            + expected + ": run `voip-inventory migrate`";
      }
      return "";
    }
  }
}

package voip.inventory.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * Where the inventory database is and who the server is there.
 *
 * <p>Each setting comes from the first of: the {@code INFRA_DB_*} variable the user's original
 * script read, the standard libpq {@code PG*} variable, then the script's default. The password
 * comes from {@code INFRA_DB_PASSWORD}, a password file, or {@code PGPASSWORD}; without any,
 * the PostgreSQL driver looks it up in {@code ~/.pgpass} (or {@code PGPASSFILE}) itself.
 *
 * <p>{@link #toString()} and {@link #describe()} never include the password.
 */
public final class DatabaseSettings {
  private final String host;
  private final int port;
  private final String database;
  private final String user;
  private final Optional<String> password;

  private DatabaseSettings(
      String host, int port, String database, String user, Optional<String> password) {
    this.host = host;
    this.port = port;
    this.database = database;
    this.user = user;
    this.password = password;
  }

  /** Resolves the settings from an environment and an optional password file. */
  public static DatabaseSettings resolve(Map<String, String> env, Optional<Path> passwordFile) {
    String host = first(env, "INFRA_DB_HOST", "PGHOST").orElse("localhost");
    if (host.startsWith("/")) {
      throw new SettingsException(
          "database host '" + host + "' is a Unix socket directory, which the PostgreSQL JDBC"
              + " driver cannot use: set INFRA_DB_HOST to a TCP host such as 127.0.0.1");
    }
    String portText = first(env, "INFRA_DB_PORT", "PGPORT").orElse("5432");
    String database = first(env, "INFRA_DB_NAME", "PGDATABASE").orElse("infrastructure");
    String user = first(env, "INFRA_DB_USER", "PGUSER").orElse("ansible");
    Optional<Path> file =
        passwordFile.or(() -> first(env, "INFRA_DB_PASSWORD_FILE").map(Path::of));
    Optional<String> password =
        first(env, "INFRA_DB_PASSWORD")
            .or(() -> file.map(DatabaseSettings::readPasswordFile))
            .or(() -> first(env, "PGPASSWORD"));
    return new DatabaseSettings(host, parsePort(portText), database, user, password);
  }

  private static Optional<String> first(Map<String, String> env, String... names) {
    for (String name : names) {
      String value = env.get(name);
      if (value != null && !value.isEmpty()) {
        return Optional.of(value);
      }
    }
    return Optional.empty();
  }

  private static int parsePort(String text) {
    try {
      int port = Integer.parseInt(text.trim());
      if (port > 0 && port < 65536) {
        return port;
      }
    } catch (NumberFormatException e) {
      // reported below with the same message as an out-of-range number
    }
    throw new SettingsException(
        "database port '" + text + "' is not a port number: set INFRA_DB_PORT to 1-65535");
  }

  private static String readPasswordFile(Path file) {
    try {
      String content = Files.readString(file, StandardCharsets.UTF_8);
      int newline = content.indexOf('\n');
      String password = (newline >= 0 ? content.substring(0, newline) : content).strip();
      if (password.isEmpty()) {
        throw new SettingsException("password file " + file + " is empty: write the password"
            + " on its first line");
      }
      return password;
    } catch (IOException e) {
      throw new SettingsException("cannot read password file " + file + " ("
          + e.getClass().getSimpleName() + "): check the path and that the server's user may"
          + " read it");
    }
  }

  public String host() {
    return host;
  }

  public int port() {
    return port;
  }

  public String database() {
    return database;
  }

  public String user() {
    return user;
  }

  public Optional<String> password() {
    return password;
  }

  /** The JDBC URL; it carries no credentials. */
  public String jdbcUrl() {
    String hostPart = host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
    return "jdbc:postgresql://" + hostPart + ":" + port + "/" + database;
  }

  /** How to name this database to an operator: database, host and port, never credentials. */
  public String describe() {
    return "database '" + database + "' on " + host + ":" + port;
  }

  @Override
  public String toString() {
    return describe() + " as user '" + user + "'";
  }

  /** A setting that cannot be used; its message names the setting and the fix. */
  public static final class SettingsException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public SettingsException(String message) {
      super(message);
    }
  }
}

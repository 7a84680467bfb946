package voip.inventory.testing;

import java.net.URI;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.postgresql.PostgreSQLContainer;

/**
 * The PostgreSQL server the tests use: the one named by VOIP_TEST_PG_URL (a superuser libpq URL,
 * such as a throwaway cluster from scripts/throwaway-pg), or else a Testcontainers container
 * where a Docker engine runs. Each test class gets databases of its own.
 */
public final class TestPostgres {
  private static TestPostgres instance;

  private final String host;
  private final int port;
  private final String user;
  private final String password;
  private final List<String> databases = new CopyOnWriteArrayList<>();
  private final List<String> roles = new CopyOnWriteArrayList<>();

  private TestPostgres(String host, int port, String user, String password) {
    this.host = host;
    this.port = port;
    this.user = user;
    this.password = password;
    Runtime.getRuntime().addShutdownHook(new Thread(this::dropCreated, "drop-test-databases"));
  }

  /** Drops what the tests created, so a shared server given by URL is left as it was. */
  private void dropCreated() {
    try (Connection connection = connect("postgres")) {
      DSLContext dsl = DSL.using(connection, SQLDialect.POSTGRES);
      for (String database : databases) {
        dsl.execute("DROP DATABASE IF EXISTS {0} WITH (FORCE)", DSL.name(database));
      }
      for (String role : roles) {
        dsl.execute("DROP ROLE IF EXISTS {0}", DSL.name(role));
      }
    } catch (SQLException | RuntimeException e) {
      System.err.println("could not drop the test databases: " + e.getMessage());
    }
  }

  /** The shared server, started on first use. */
  public static synchronized TestPostgres get() {
    if (instance == null) {
      instance = locate();
    }
    return instance;
  }

  private static TestPostgres locate() {
    String url = System.getenv("VOIP_TEST_PG_URL");
    if (url != null && !url.isBlank()) {
      return fromUrl(url);
    }
    if (DockerClientFactory.instance().isDockerAvailable()) {
      PostgreSQLContainer container = new PostgreSQLContainer("postgres:15");
      container.start();
      return new TestPostgres(container.getHost(), container.getFirstMappedPort(),
          container.getUsername(), container.getPassword());
    }
    throw new IllegalStateException("no PostgreSQL for the tests: set VOIP_TEST_PG_URL to a"
        + " superuser URL (make test starts a throwaway cluster and sets it), or run a Docker"
        + " engine for Testcontainers");
  }

  private static TestPostgres fromUrl(String url) {
    URI uri = URI.create(url);
    String userInfo = uri.getUserInfo() == null ? "postgres" : uri.getUserInfo();
    int colon = userInfo.indexOf(':');
    String user = colon < 0 ? userInfo : userInfo.substring(0, colon);
    String password = colon < 0 ? null : userInfo.substring(colon + 1);
    return new TestPostgres(uri.getHost(), uri.getPort() < 0 ? 5432 : uri.getPort(),
        user, password);
  }

  public String host() {
    return host;
  }

  public int port() {
    return port;
  }

  /** Creates an empty database with a unique name and returns its name. */
  public String createDatabase(String purpose) {
    String name = (purpose + "_" + UUID.randomUUID().toString().substring(0, 8))
        .toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9_]", "_");
    try (Connection connection = connect("postgres")) {
      DSL.using(connection, SQLDialect.POSTGRES).createDatabase(DSL.name(name)).execute();
      databases.add(name);
    } catch (SQLException e) {
      throw new IllegalStateException("cannot create test database " + name, e);
    }
    return name;
  }

  /** Creates a login role with a password, allowed to read and write the inventory of database. */
  public void createRole(String database, String role, String rolePassword) {
    try (Connection connection = connect(database)) {
      DSLContext dsl = DSL.using(connection, SQLDialect.POSTGRES);
      dsl.execute("CREATE ROLE {0} LOGIN PASSWORD {1}", DSL.name(role), DSL.inline(rolePassword));
      roles.add(role);
      dsl.execute("GRANT ALL ON SCHEMA public TO {0}", DSL.name(role));
      dsl.execute("GRANT ALL ON ALL TABLES IN SCHEMA public TO {0}", DSL.name(role));
      dsl.execute("GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {0}", DSL.name(role));
    } catch (SQLException e) {
      throw new IllegalStateException("cannot create role " + role, e);
    }
  }

  /** A superuser connection to a database; inet and jsonb columns accept text parameters. */
  public Connection connect(String database) throws SQLException {
    Properties properties = new Properties();
    properties.setProperty("user", user);
    if (password != null) {
      properties.setProperty("password", password);
    }
    properties.setProperty("stringtype", "unspecified");
    return DriverManager.getConnection(
        "jdbc:postgresql://" + host + ":" + port + "/" + database, properties);
  }

  /** Environment for the server process to reach a database as the superuser. */
  public java.util.Map<String, String> serverEnvironment(String database) {
    java.util.Map<String, String> env = new java.util.HashMap<>();
    env.put("INFRA_DB_HOST", host);
    env.put("INFRA_DB_PORT", Integer.toString(port));
    env.put("INFRA_DB_NAME", database);
    env.put("INFRA_DB_USER", user);
    if (password != null) {
      env.put("INFRA_DB_PASSWORD", password);
    }
    return env;
  }
}

package voip.inventory.db;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.time.Duration;
import javax.sql.DataSource;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.conf.Settings;
import org.jooq.impl.DSL;
import voip.inventory.config.DatabaseSettings;

/** The connection pool and the jOOQ context on top of it. */
public final class Database implements AutoCloseable {
  private final DatabaseSettings settings;
  private final HikariDataSource dataSource;
  private final DSLContext dsl;

  private Database(DatabaseSettings settings, HikariDataSource dataSource) {
    this.settings = settings;
    this.dataSource = dataSource;
    this.dsl = DSL.using(dataSource, SQLDialect.POSTGRES, new Settings().withExecuteLogging(false));
  }

  /**
   * Opens a pool. It does not connect yet, so a server can start, report health and give clear
   * errors while PostgreSQL is down.
   */
  public static Database open(DatabaseSettings settings, Options options) {
    HikariConfig config = new HikariConfig();
    config.setPoolName("voip-inventory");
    config.setJdbcUrl(settings.jdbcUrl());
    config.setUsername(settings.user());
    settings.password().ifPresent(config::setPassword);
    config.setMaximumPoolSize(options.poolSize());
    config.setMinimumIdle(1);
    config.setConnectionTimeout(options.connectTimeout().toMillis());
    config.setValidationTimeout(Math.min(options.connectTimeout().toMillis(), 2000));
    config.setInitializationFailTimeout(-1);
    config.setReadOnly(options.readOnly());
    config.addDataSourceProperty("ApplicationName", "voip-inventory");
    long connectSeconds = Math.max(1, options.connectTimeout().toSeconds());
    config.addDataSourceProperty("connectTimeout", connectSeconds);
    config.addDataSourceProperty("socketTimeout", options.socketTimeout().toSeconds());
    config.addDataSourceProperty("tcpKeepAlive", true);
    return new Database(settings, new HikariDataSource(config));
  }

  public DatabaseSettings settings() {
    return settings;
  }

  public DataSource dataSource() {
    return dataSource;
  }

  public DSLContext dsl() {
    return dsl;
  }

  @Override
  public void close() {
    dataSource.close();
  }

  /** Pool settings. */
  public record Options(
      int poolSize, Duration connectTimeout, Duration socketTimeout, boolean readOnly) {
    /** For serving: a small read-only pool that gives up quickly when the database is down. */
    public static Options forServing() {
      return new Options(4, Duration.ofSeconds(3), Duration.ofSeconds(60), true);
    }

    /** Settings for migrating: one writable connection with room for slow DDL. */
    public static Options forMigrating() {
      return new Options(2, Duration.ofSeconds(10), Duration.ofMinutes(30), false);
    }
  }
}

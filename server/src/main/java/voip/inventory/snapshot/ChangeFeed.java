package voip.inventory.snapshot;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.util.JsonFormat;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import voip.inventory.config.DatabaseSettings;
import voip.inventory.v1.ObjectKind;

/**
 * Listens on PostgreSQL's voip_inventory_changed channel, which the migrations' triggers notify
 * at every committed change, and tells the snapshot store. The connection is its own, outside
 * the pool, since LISTEN belongs to a session. When it breaks it reconnects with backoff, and
 * the store then re-reads the revision, so no change is missed.
 */
public final class ChangeFeed implements AutoCloseable {
  static final String CHANNEL = "voip_inventory_changed";
  private static final Logger logger = Logger.getLogger(ChangeFeed.class.getName());
  private static final int POLL_MILLIS = 250;
  private static final Duration PING_INTERVAL = Duration.ofSeconds(5);
  private static final Duration MAX_BACKOFF = Duration.ofSeconds(5);
  private static final Map<String, ObjectKind> KINDS = Map.of(
      "vm_configs", ObjectKind.OBJECT_KIND_HOSTS,
      "ansible_groups", ObjectKind.OBJECT_KIND_GROUPS,
      "vm_group_membership", ObjectKind.OBJECT_KIND_MEMBERSHIPS,
      "ansible_group_children", ObjectKind.OBJECT_KIND_GROUP_NESTING,
      "inventory_all_vars", ObjectKind.OBJECT_KIND_ALL_VARS);

  private final DatabaseSettings settings;
  private final SnapshotStore store;
  private final Thread thread;
  private volatile boolean running = true;
  private volatile Connection connection;

  public ChangeFeed(DatabaseSettings settings, SnapshotStore store) {
    this.settings = settings;
    this.store = store;
    this.thread = new Thread(this::run, "change-feed");
    this.thread.setDaemon(true);
  }

  public void start() {
    thread.start();
  }

  private void run() {
    Duration backoff = Duration.ofMillis(250);
    while (running) {
      try (Connection listening = connect()) {
        connection = listening;
        DSLContext dsl = DSL.using(listening, SQLDialect.POSTGRES);
        dsl.query("LISTEN {0}", DSL.name(CHANNEL)).execute();
        store.feedConnected();
        backoff = Duration.ofMillis(250);
        listen(listening.unwrap(PGConnection.class), dsl);
      } catch (SQLException | RuntimeException e) {
        if (!running) {
          return;
        }
        logger.log(Level.FINE, "change feed lost its connection; reconnecting", e);
        store.feedLost(e);
        sleep(backoff);
        Duration doubled = backoff.multipliedBy(2);
        backoff = doubled.compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : doubled;
      }
    }
  }

  private void listen(PGConnection listening, DSLContext dsl) throws SQLException {
    long lastPing = System.nanoTime();
    while (running) {
      PGNotification[] notifications = listening.getNotifications(POLL_MILLIS);
      if (notifications != null) {
        for (PGNotification notification : notifications) {
          deliver(notification.getParameter());
        }
      }
      if (System.nanoTime() - lastPing > PING_INTERVAL.toNanos()) {
        // A connection can die without the socket saying so; a query finds out.
        dsl.selectOne().fetch();
        lastPing = System.nanoTime();
      }
    }
  }

  private void deliver(String payload) {
    try {
      Struct.Builder parsed = Struct.newBuilder();
      JsonFormat.parser().merge(payload, parsed);
      Map<String, Value> fields = parsed.getFieldsMap();
      Value missing = Value.getDefaultInstance();
      long revision = (long) fields.getOrDefault("revision", missing).getNumberValue();
      String table = fields.getOrDefault("table", Value.getDefaultInstance()).getStringValue();
      store.changeNotified(revision, KINDS.getOrDefault(table, ObjectKind.OBJECT_KIND_UNSPECIFIED));
    } catch (InvalidProtocolBufferException e) {
      logger.warning("ignored a malformed notification on " + CHANNEL + "; refreshing anyway");
      store.changeNotified(Long.MAX_VALUE, ObjectKind.OBJECT_KIND_UNSPECIFIED);
    }
  }

  private Connection connect() throws SQLException {
    Properties properties = new Properties();
    properties.setProperty("user", settings.user());
    settings.password().ifPresent(password -> properties.setProperty("password", password));
    properties.setProperty("ApplicationName", "voip-inventory change feed");
    properties.setProperty("connectTimeout", "3");
    properties.setProperty("socketTimeout", "30");
    properties.setProperty("tcpKeepAlive", "true");
    return DriverManager.getConnection(settings.jdbcUrl(), properties);
  }

  private static void sleep(Duration duration) {
    try {
      Thread.sleep(duration.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    running = false;
    thread.interrupt();
    Connection listening = connection;
    if (listening != null) {
      try {
        listening.close();
      } catch (SQLException e) {
        // closing anyway
      }
    }
  }
}

package voip.inventory.cli;

import io.grpc.Status;
import io.grpc.protobuf.services.HealthStatusManager;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.logging.Logger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import voip.inventory.config.DatabaseSettings;
import voip.inventory.db.Database;
import voip.inventory.db.Migrations;
import voip.inventory.health.DatabaseHealth;
import voip.inventory.inventory.DatabaseErrors;
import voip.inventory.inventory.InventoryService;
import voip.inventory.server.InventoryServer;
import voip.inventory.server.ListenAddress;
import voip.inventory.snapshot.ChangeFeed;
import voip.inventory.snapshot.InventoryReader;
import voip.inventory.snapshot.InventorySnapshot;
import voip.inventory.snapshot.SnapshotFile;
import voip.inventory.snapshot.SnapshotStore;

/** Serves the inventory over gRPC until SIGTERM or SIGINT. */
@Command(
    name = "serve",
    mixinStandardHelpOptions = true,
    description =
        "Serve the inventory, gRPC health and reflection on a Unix socket or loopback port.")
final class ServeCommand implements Callable<Integer> {
  private static final Logger logger = Logger.getLogger(ServeCommand.class.getName());

  @Mixin DatabaseOptions database;

  @Option(
      names = "--listen",
      paramLabel = "ADDRESS",
      defaultValue = "unix:/run/voip-inventory/inventory.sock",
      description = "unix:/path/to.sock or 127.0.0.1:PORT (loopback only)."
          + " Default: ${DEFAULT-VALUE}")
  String listen;

  @Option(
      names = "--socket-group",
      paramLabel = "GROUP",
      description = "Group that may connect to the Unix socket (mode 0660), e.g. ansible.")
  String socketGroup;

  @Option(
      names = "--health-interval",
      paramLabel = "SECONDS",
      defaultValue = "5",
      description = "How often health checks that the database answers. Default: ${DEFAULT-VALUE}")
  int healthIntervalSeconds;

  @Option(
      names = "--shutdown-grace",
      paramLabel = "SECONDS",
      defaultValue = "30",
      description = "How long calls in flight may take to finish on shutdown."
          + " Default: ${DEFAULT-VALUE}")
  int shutdownGraceSeconds;

  @Option(
      names = "--snapshot-file",
      paramLabel = "FILE",
      description = "Keep the last good snapshot in FILE (mode 0600), so a server restarted while"
          + " the database is down can still serve. Default: none.")
  Path snapshotFile;

  @Option(
      names = "--max-stale-age",
      paramLabel = "AGE",
      defaultValue = "24h",
      converter = AgeConverter.class,
      description = "While the database does not answer, serve the last good snapshot, marked"
          + " stale, for at most AGE (e.g. 90s, 30m, 24h, 7d). Default: ${DEFAULT-VALUE}")
  Duration maxStaleAge;

  @Override
  public Integer call() throws Exception {
    ListenAddress address = parseListen();
    DatabaseSettings settings = database.resolve();
    Database db = Database.open(settings, Database.Options.forServing());
    try {
      DatabaseErrors errors = new DatabaseErrors(settings);
      InventoryReader reader = new InventoryReader(db);
      SnapshotStore store = new SnapshotStore(reader, errors, maxStaleAge,
          Optional.ofNullable(snapshotFile).map(SnapshotFile::new), Clock.systemUTC());
      String schemaVersion = checkSchemaOrStartStale(db, errors, store);
      HealthStatusManager health = new HealthStatusManager();
      DatabaseHealth databaseHealth = new DatabaseHealth(db, health, store::databaseAnswered);
      databaseHealth.start(Duration.ofSeconds(healthIntervalSeconds));
      InventoryService inventory = new InventoryService(store, errors);
      InventoryServer server = new InventoryServer(
          address, Optional.ofNullable(socketGroup), health, List.of(inventory));
      server.start();
      ChangeFeed feed = new ChangeFeed(settings, store);
      feed.start();
      logger.info("serving voip.inventory.v1.Inventory, health and reflection on "
          + server.listeningOn() + " from " + settings + ", schema version " + schemaVersion
          + "; whole-inventory responses up to " + inventory.responseBudgetBytes() / (1024 * 1024)
          + " MiB at once (half the JVM's direct memory limit, -XX:MaxDirectMemorySize)");
      awaitShutdownSignal(server, () -> {
        store.endWatches(Status.UNAVAILABLE.withDescription("the server is shutting down"));
        feed.close();
      }, () -> {
        store.close();
        databaseHealth.close();
        db.close();
      });
      return 0;
    } catch (IOException | RuntimeException e) {
      db.close();
      throw e instanceof CommandFailure ? e : new CommandFailure(e.getMessage());
    }
  }

  /**
   * Checks the schema. When the database does not answer and a snapshot file exists, starts
   * from that snapshot, marked stale, instead of refusing.
   */
  private String checkSchemaOrStartStale(Database db, DatabaseErrors errors, SnapshotStore store) {
    try {
      return checkSchema(db);
    } catch (DatabaseDown down) {
      Optional<InventorySnapshot> loaded = store.loadFromFile();
      if (loaded.isEmpty()) {
        throw new CommandFailure("serve failed: " + down.status.getDescription()
            + (snapshotFile == null ? ""
                : "; and " + snapshotFile + " holds no snapshot to serve"));
      }
      store.databaseUnavailable(down.status);
      return "unknown (serving the snapshot file " + snapshotFile + ", revision "
          + loaded.get().revision() + ", until the database answers)";
    }
  }

  private ListenAddress parseListen() {
    try {
      return InventoryServer.parseAddress(listen);
    } catch (IllegalArgumentException e) {
      throw new CommandFailure(e.getMessage());
    }
  }

  private static String checkSchema(Database db) {
    Migrations.SchemaState state;
    try {
      state = new Migrations(db.dataSource()).schemaState();
    } catch (RuntimeException e) {
      Status status = new DatabaseErrors(db.settings()).toStatus(e);
      if (status.getCode() == Status.Code.UNAVAILABLE) {
        throw new DatabaseDown(status);
      }
      throw CommandFailure.from(e, db.settings(), "serve");
    }
    if (!state.isCurrent()) {
      throw new CommandFailure("serve refused: " + state.problem(db.settings().describe()));
    }
    return state.current();
  }

  private void awaitShutdownSignal(InventoryServer server, Runnable beforeStop, Runnable afterStop)
      throws InterruptedException {
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        beforeStop.run();
        server.stop(Duration.ofSeconds(shutdownGraceSeconds));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        afterStop.run();
        stopped.countDown();
        logger.info("stopped");
        System.err.flush();
        // A clean stop on SIGTERM exits 0, not the JVM's 143, so service managers and
        // scripts see success. Nothing is left for the remaining hooks to do.
        Runtime.getRuntime().halt(0);
      }
    }, "shutdown"));
    server.awaitTermination();
    stopped.await();
  }

  /** The database did not answer the schema check. */
  private static final class DatabaseDown extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final transient Status status;

    DatabaseDown(Status status) {
      super(status.getDescription());
      this.status = status;
    }
  }
}

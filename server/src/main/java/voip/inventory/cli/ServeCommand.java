package voip.inventory.cli;

import io.grpc.protobuf.services.HealthStatusManager;
import java.io.IOException;
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
import voip.inventory.snapshot.InventoryReader;
import voip.inventory.snapshot.SnapshotStore;

/** Serves the inventory over gRPC until SIGTERM or SIGINT. */
@Command(
    name = "serve",
    mixinStandardHelpOptions = true,
    description = "Serve the inventory, gRPC health and reflection on a Unix socket or loopback port.")
final class ServeCommand implements Callable<Integer> {
  private static final Logger logger = Logger.getLogger(ServeCommand.class.getName());

  @Mixin DatabaseOptions database;

  @Option(
      names = "--listen",
      paramLabel = "ADDRESS",
      defaultValue = "unix:/run/voip-inventory/inventory.sock",
      description = "unix:/path/to.sock or 127.0.0.1:PORT (loopback only). Default: ${DEFAULT-VALUE}")
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
      description = "How long calls in flight may take to finish on shutdown. Default: ${DEFAULT-VALUE}")
  int shutdownGraceSeconds;

  @Override
  public Integer call() throws Exception {
    ListenAddress address = parseListen();
    DatabaseSettings settings = database.resolve();
    Database db = Database.open(settings, Database.Options.forServing());
    try {
      String schemaVersion = checkSchema(db);
      HealthStatusManager health = new HealthStatusManager();
      DatabaseHealth databaseHealth = new DatabaseHealth(db, health);
      databaseHealth.start(Duration.ofSeconds(healthIntervalSeconds));
      InventoryReader reader = new InventoryReader(db);
      InventoryService inventory =
          new InventoryService(reader, new SnapshotStore(reader), new DatabaseErrors(settings));
      InventoryServer server = new InventoryServer(
          address, Optional.ofNullable(socketGroup), health, List.of(inventory));
      server.start();
      logger.info("serving voip.inventory.v1.Inventory, health and reflection on "
          + server.listeningOn() + " from " + settings + ", schema version " + schemaVersion);
      awaitShutdownSignal(server, databaseHealth, db);
      return 0;
    } catch (IOException | RuntimeException e) {
      db.close();
      throw e instanceof CommandFailure ? e : new CommandFailure(e.getMessage());
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
      throw CommandFailure.from(e, db.settings(), "serve");
    }
    if (!state.isCurrent()) {
      throw new CommandFailure("serve refused: " + state.problem(db.settings().describe()));
    }
    return state.current();
  }

  private void awaitShutdownSignal(InventoryServer server, DatabaseHealth health, Database db)
      throws InterruptedException {
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        server.stop(Duration.ofSeconds(shutdownGraceSeconds));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        health.close();
        db.close();
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
}

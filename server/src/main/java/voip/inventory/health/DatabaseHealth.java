package voip.inventory.health;

import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import voip.inventory.db.Database;
import voip.inventory.v1.InventoryGrpc;

/**
 * Keeps grpc.health.v1.Health truthful: SERVING while the database answers, NOT_SERVING while
 * it does not, for the whole server ("") and for the inventory service by name.
 */
public final class DatabaseHealth implements AutoCloseable {
  private static final Logger logger = Logger.getLogger(DatabaseHealth.class.getName());
  private static final String INVENTORY_SERVICE = InventoryGrpc.SERVICE_NAME;

  private final Database database;
  private final HealthStatusManager health;
  private final ScheduledExecutorService scheduler;
  private final Runnable onAnswer;
  private volatile Boolean lastAnswered;

  /**
   * @param onAnswer run after every check the database answered (cheap: it tells the snapshot
   *     store that the database is back)
   */
  public DatabaseHealth(Database database, HealthStatusManager health, Runnable onAnswer) {
    this.database = database;
    this.health = health;
    this.onAnswer = onAnswer;
    this.scheduler = Executors.newSingleThreadScheduledExecutor(runnable -> {
      Thread thread = new Thread(runnable, "database-health");
      thread.setDaemon(true);
      return thread;
    });
  }

  /** Checks now, then at every interval. */
  public void start(Duration interval) {
    check();
    scheduler.scheduleWithFixedDelay(
        this::check, interval.toMillis(), interval.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Whether the database answered the last check. */
  public boolean databaseAnswers() {
    return Boolean.TRUE.equals(lastAnswered);
  }

  private void check() {
    boolean answers = probe();
    if (answers) {
      onAnswer.run(); // before SERVING shows, so a client that saw SERVING is served fresh
    }
    ServingStatus status = answers ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
    health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, status);
    health.setStatus(INVENTORY_SERVICE, status);
    Boolean previous = lastAnswered;
    lastAnswered = answers;
    if (previous != null && previous != answers) {
      if (answers) {
        logger.info(database.settings().describe() + " answers again; health is SERVING");
      } else {
        logger.warning(database.settings().describe() + " does not answer; health is NOT_SERVING");
      }
    }
  }

  private boolean probe() {
    try {
      database.dsl().selectOne().fetch();
      return true;
    } catch (RuntimeException e) {
      return false;
    }
  }

  /** Stops checking; the caller moves health to its terminal state. */
  @Override
  public void close() {
    scheduler.shutdownNow();
  }
}

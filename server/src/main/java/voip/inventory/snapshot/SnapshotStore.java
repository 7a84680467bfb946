package voip.inventory.snapshot;

import io.grpc.Status;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Level;
import java.util.logging.Logger;
import voip.inventory.inventory.DatabaseErrors;
import voip.inventory.v1.ObjectKind;
import voip.inventory.v1.WatchResponse;

/**
 * The current inventory snapshot, kept in memory. It is rebuilt in the background when
 * PostgreSQL notifies a change (bursts coalesce into one rebuild), and checked against the
 * database's revision on every request, so a request never sees data older than the last commit
 * while the database answers. While it does not, the last good snapshot is served, marked stale,
 * up to a maximum age; errors other than an unreachable database never fall back to it.
 */
public final class SnapshotStore implements AutoCloseable {
  private static final Logger logger = Logger.getLogger(SnapshotStore.class.getName());
  /** While the database is down, how often a request may try it again instead of waiting. */
  private static final Duration RETRY_INTERVAL = Duration.ofSeconds(1);

  private final InventoryReader reader;
  private final DatabaseErrors errors;
  private final Duration maxStaleAge;
  private final Optional<SnapshotFile> file;
  private final Clock clock;
  private final ReentrantLock rebuilding = new ReentrantLock();
  private final ExecutorService background;
  private final AtomicBoolean refreshQueued = new AtomicBoolean();
  private final Set<ObjectKind> changedSinceLastPublish = EnumSet.noneOf(ObjectKind.class);
  private final List<WatchSink> watchers = new CopyOnWriteArrayList<>();
  private volatile InventorySnapshot current;
  private volatile Instant confirmedAt;
  private volatile Instant databaseDownSince;
  private volatile Status lastOutage;
  private volatile boolean feedConnected;
  private volatile Instant nextAttempt = Instant.MIN;

  public SnapshotStore(
      InventoryReader reader,
      DatabaseErrors errors,
      Duration maxStaleAge,
      Optional<SnapshotFile> file,
      Clock clock) {
    this.reader = reader;
    this.errors = errors;
    this.maxStaleAge = maxStaleAge;
    this.file = file;
    this.clock = clock;
    this.background = Executors.newSingleThreadExecutor(runnable -> {
      Thread thread = new Thread(runnable, "snapshot-refresh");
      thread.setDaemon(true);
      return thread;
    });
  }

  /** Loads the snapshot file, if any, as the last good snapshot; returns what it loaded. */
  public Optional<InventorySnapshot> loadFromFile() {
    Optional<InventorySnapshot> loaded = file.flatMap(SnapshotFile::load);
    loaded.ifPresent(snapshot -> {
      current = snapshot;
      confirmedAt = snapshot.readTime();
    });
    return loaded;
  }

  /** Records that the database does not answer, e.g. when the server starts during an outage. */
  public void databaseUnavailable(Status status) {
    markDown(status);
  }

  /**
   * The snapshot to serve: the current one when the database answers, else the last good one,
   * marked stale. Fails with a status when neither is possible.
   */
  public Served serve() {
    if (waitingForDatabase()) {
      return lastKnownGood();
    }
    try {
      long revision = reader.readRevision().revision();
      markAnswering();
      InventorySnapshot snapshot = current;
      if (snapshot == null || snapshot.revision() != revision) {
        snapshot = rebuild(revision);
      }
      confirmedAt = clock.instant();
      return new Served(snapshot, Optional.empty());
    } catch (RuntimeException e) {
      Status status = errors.toStatus(e);
      if (status.getCode() != Status.Code.UNAVAILABLE) {
        throw status.asRuntimeException();
      }
      markDown(status);
      return lastKnownGood();
    }
  }

  /** The current revision: from the database, or the last good snapshot's while it is down. */
  public RevisionAnswer revision() {
    if (!waitingForDatabase()) {
      try {
        InventoryReader.Revision revision = reader.readRevision();
        markAnswering();
        return new RevisionAnswer(revision.revision(), revision.changedAt(), Optional.empty());
      } catch (RuntimeException e) {
        Status status = errors.toStatus(e);
        if (status.getCode() != Status.Code.UNAVAILABLE) {
          throw status.asRuntimeException();
        }
        markDown(status);
      }
    }
    Served stale = lastKnownGood();
    InventorySnapshot snapshot = stale.snapshot();
    return new RevisionAnswer(snapshot.revision(), snapshot.readTime(), stale.staleAge());
  }

  /**
   * Something else (the health check) reached the database: the next request tries it again
   * at once, and a refresh catches up in the background, without waiting for the change feed.
   */
  public void databaseAnswered() {
    if (databaseDownSince != null) {
      nextAttempt = Instant.MIN;
      queueRefresh();
    }
  }

  /**
   * Whether to answer from the last good snapshot without asking the database: it is down, the
   * change feed has not reconnected and an attempt started under {@link #RETRY_INTERVAL} ago,
   * so during an outage about one request a second, not every request, waits for the database.
   */
  private boolean waitingForDatabase() {
    if (databaseDownSince == null || feedConnected) {
      return false;
    }
    Instant now = clock.instant();
    if (now.isBefore(nextAttempt)) {
      return true;
    }
    nextAttempt = now.plus(RETRY_INTERVAL); // this request tries; the others keep waiting
    return false;
  }

  /** A committed change was notified: rebuild in the background. */
  public void changeNotified(long revision, ObjectKind kind) {
    synchronized (changedSinceLastPublish) {
      changedSinceLastPublish.add(kind);
    }
    InventorySnapshot snapshot = current;
    if (snapshot == null || revision > snapshot.revision()) {
      queueRefresh();
    }
  }

  /** The change feed listens (again): catch up on anything committed while it did not. */
  public void feedConnected() {
    feedConnected = true;
    queueRefresh();
  }

  /** The change feed lost its connection. */
  public void feedLost(Throwable cause) {
    feedConnected = false;
    Status status = errors.toStatus(cause);
    if (status.getCode() == Status.Code.UNAVAILABLE) {
      markDown(status);
    }
  }

  /** Receives revision messages until closed; the first is the current state. */
  public AutoCloseable watch(WatchSink sink) {
    watchers.add(sink);
    InventorySnapshot snapshot = current;
    sink.send(WatchResponse.newBuilder()
        .setRevision(snapshot == null ? 0 : snapshot.revision())
        .setStale(databaseDownSince != null)
        .build());
    return () -> watchers.remove(sink);
  }

  /** Ends every Watch stream, for shutdown. */
  public void endWatches(Status status) {
    for (WatchSink sink : watchers) {
      sink.end(status);
    }
    watchers.clear();
  }

  private void queueRefresh() {
    if (refreshQueued.compareAndSet(false, true)) {
      background.execute(this::refreshInBackground);
    }
  }

  private void refreshInBackground() {
    refreshQueued.set(false);
    try {
      long revision = reader.readRevision().revision();
      markAnswering();
      InventorySnapshot snapshot = current;
      if (snapshot == null || snapshot.revision() != revision) {
        rebuild(revision);
      }
      confirmedAt = clock.instant();
    } catch (RuntimeException e) {
      Status status = errors.toStatus(e);
      if (status.getCode() == Status.Code.UNAVAILABLE) {
        markDown(status);
      } else {
        logger.log(Level.WARNING, "could not refresh the inventory snapshot: "
            + status.getDescription());
      }
    }
  }

  private InventorySnapshot rebuild(long revision) {
    rebuilding.lock();
    try {
      InventorySnapshot snapshot = current;
      if (snapshot != null && snapshot.revision() == revision) {
        return snapshot;
      }
      long started = System.nanoTime();
      InventorySnapshot fresh = reader.refresh(snapshot);
      current = fresh;
      confirmedAt = clock.instant();
      logger.fine(() -> "snapshot at revision " + fresh.revision() + " with "
          + fresh.hostCount() + " hosts read in " + (System.nanoTime() - started) / 1_000_000
          + " ms");
      publishRevision(fresh);
      file.ifPresent(target -> background.execute(() -> save(target, fresh)));
      return fresh;
    } finally {
      rebuilding.unlock();
    }
  }

  private void save(SnapshotFile target, InventorySnapshot snapshot) {
    if (current != snapshot) {
      return;
    }
    try {
      target.save(snapshot);
    } catch (IOException e) {
      logger.warning("cannot write the snapshot file " + target.path() + ": " + e.getMessage()
          + "; a restart during a database outage will have nothing to serve");
    }
  }

  private void publishRevision(InventorySnapshot snapshot) {
    WatchResponse.Builder message = WatchResponse.newBuilder().setRevision(snapshot.revision());
    synchronized (changedSinceLastPublish) {
      message.addAllChanged(changedSinceLastPublish);
      changedSinceLastPublish.clear();
    }
    publish(message.setStale(false).build());
  }

  private void publish(WatchResponse message) {
    for (WatchSink sink : watchers) {
      sink.send(message);
    }
  }

  private Served lastKnownGood() {
    InventorySnapshot snapshot = current;
    Status outage = lastOutage != null ? lastOutage : Status.UNAVAILABLE;
    if (snapshot == null) {
      throw outage.augmentDescription("the server has no earlier snapshot to serve")
          .asRuntimeException();
    }
    Duration age = Duration.between(confirmedAt, clock.instant());
    if (age.compareTo(maxStaleAge) > 0) {
      throw outage.augmentDescription("the last snapshot (revision " + snapshot.revision()
          + ") is " + describe(age) + " old, beyond the server's --max-stale-age of "
          + describe(maxStaleAge)).asRuntimeException();
    }
    return new Served(snapshot, Optional.of(age));
  }

  private void markDown(Status status) {
    lastOutage = status;
    nextAttempt = clock.instant().plus(RETRY_INTERVAL);
    if (databaseDownSince == null) {
      databaseDownSince = clock.instant();
      InventorySnapshot snapshot = current;
      logger.warning(status.getDescription() + (snapshot == null ? "" : "; serving the last"
          + " snapshot (revision " + snapshot.revision() + ") marked stale"));
      publish(WatchResponse.newBuilder()
          .setRevision(snapshot == null ? 0 : snapshot.revision()).setStale(true).build());
    }
  }

  private void markAnswering() {
    if (databaseDownSince != null) {
      databaseDownSince = null;
      lastOutage = null;
      logger.info("the database answers again; serving fresh snapshots");
      InventorySnapshot snapshot = current;
      publish(WatchResponse.newBuilder()
          .setRevision(snapshot == null ? 0 : snapshot.revision()).setStale(false).build());
    }
  }

  static String describe(Duration duration) {
    long seconds = duration.toSeconds();
    if (seconds < 120) {
      return seconds + " s";
    }
    if (seconds < 7200) {
      return seconds / 60 + " min";
    }
    return seconds / 3600 + " h";
  }

  @Override
  public void close() {
    background.shutdownNow();
  }

  /**
   * A snapshot to serve.
   *
   * @param staleAge present when the database does not answer: how old the snapshot may be
   */
  public record Served(InventorySnapshot snapshot, Optional<Duration> staleAge) {}

  /** A revision to report, with the same staleness. */
  public record RevisionAnswer(long revision, Instant changedAt, Optional<Duration> staleAge) {}

  /** Where Watch messages go. */
  public interface WatchSink {
    void send(WatchResponse message);

    void end(Status status);
  }
}

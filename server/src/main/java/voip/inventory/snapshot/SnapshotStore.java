package voip.inventory.snapshot;

import java.util.concurrent.locks.ReentrantLock;

/**
 * Keeps the last snapshot read and reuses it while the database's revision is unchanged, so a
 * whole-inventory request at an unchanged revision costs one tiny query.
 */
public final class SnapshotStore {
  private final InventoryReader reader;
  private final ReentrantLock rebuilding = new ReentrantLock();
  private volatile InventorySnapshot current;

  public SnapshotStore(InventoryReader reader) {
    this.reader = reader;
  }

  /** A snapshot at the database's current revision. */
  public InventorySnapshot current() {
    long revision = reader.readRevision().revision();
    InventorySnapshot snapshot = current;
    if (snapshot != null && snapshot.revision() == revision) {
      return snapshot;
    }
    rebuilding.lock();
    try {
      snapshot = current;
      if (snapshot != null && snapshot.revision() >= revision) {
        return snapshot;
      }
      snapshot = reader.readSnapshot();
      current = snapshot;
      return snapshot;
    } finally {
      rebuilding.unlock();
    }
  }
}

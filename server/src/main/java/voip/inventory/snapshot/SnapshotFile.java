package voip.inventory.snapshot;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.logging.Logger;
import voip.inventory.v1.GetInventoryResponse;

/**
 * The last good snapshot on disk, so a server restarted while PostgreSQL is down can still
 * serve. Written atomically (a private temporary file, flushed, then renamed over the old one),
 * readable only by the server's user: the inventory can carry sensitive variables.
 */
public final class SnapshotFile {
  private static final Logger logger = Logger.getLogger(SnapshotFile.class.getName());

  private final Path path;

  public SnapshotFile(Path path) {
    this.path = path.toAbsolutePath();
  }

  public Path path() {
    return path;
  }

  /** The snapshot stored earlier, if there is a readable one. */
  public Optional<InventorySnapshot> load() {
    if (!Files.isRegularFile(path)) {
      return Optional.empty();
    }
    try (InputStream in = Files.newInputStream(path)) {
      GetInventoryResponse stored = GetInventoryResponse.parseFrom(in);
      return Optional.of(InventorySnapshot.fromCompleteResponse(stored));
    } catch (IOException e) {
      logger.warning("cannot read the snapshot file " + path + " (" + e.getMessage()
          + "); it will be replaced by the next snapshot read from the database");
      return Optional.empty();
    }
  }

  /** Replaces the stored snapshot. */
  public void save(InventorySnapshot snapshot) throws IOException {
    Files.createDirectories(path.getParent());
    Path temporary = Files.createTempFile(path.getParent(), ".snapshot-", ".tmp",
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    try {
      try (FileChannel channel = FileChannel.open(temporary, StandardOpenOption.WRITE);
          OutputStream out = Channels.newOutputStream(channel)) {
        snapshot.encodedCompleteResponse().writeTo(out);
        out.flush();
        channel.force(true);
      }
      try {
        Files.move(temporary, path, StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(temporary, path, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(temporary);
    }
  }
}

package voip.inventory.server;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.Set;
import java.util.logging.Logger;

/**
 * The file of the server's Unix socket: checked before binding, given its owner group and mode
 * after, removed on shutdown. Only the server's user and one group may connect.
 */
final class UnixSocketFile {
  private static final Logger logger = Logger.getLogger(UnixSocketFile.class.getName());
  private static final Set<PosixFilePermission> SOCKET_MODE =
      PosixFilePermissions.fromString("rw-rw----");
  private static final Set<PosixFilePermission> NEW_DIRECTORY_MODE =
      PosixFilePermissions.fromString("rwxr-x---");
  private static final int FILE_TYPE_MASK = 0170000;
  private static final int SOCKET_TYPE = 0140000;

  private final Path path;

  UnixSocketFile(Path path) {
    this.path = path;
  }

  /**
   * Makes the path ready to bind: its directory exists and is not world-writable, and a stale
   * socket left by a crashed server is removed. A socket another server listens on is left alone.
   */
  void prepare() throws IOException {
    Path directory = path.getParent();
    if (!Files.isDirectory(directory)) {
      Files.createDirectories(
          directory, PosixFilePermissions.asFileAttribute(NEW_DIRECTORY_MODE));
    }
    if (Files.getPosixFilePermissions(directory).contains(PosixFilePermission.OTHERS_WRITE)) {
      throw new SocketSetupException("socket directory " + directory + " is world-writable, so"
          + " anyone could replace the socket: use a directory only the server's user and group"
          + " can write, such as /run/voip-inventory (mode 0750)");
    }
    if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    if (!isSocket()) {
      throw new SocketSetupException(path + " exists and is not a socket: remove it or choose"
          + " another --listen path");
    }
    if (someoneListens()) {
      throw new SocketSetupException("another server already listens on " + path + ": stop it,"
          + " or give this one another --listen path");
    }
    Files.delete(path);
    logger.info("removed stale socket " + path + " left by an earlier run");
  }

  /** Gives the bound socket mode 0660 and, when named, its group. */
  void secure(Optional<String> group) throws IOException {
    Files.setPosixFilePermissions(path, SOCKET_MODE);
    if (group.isPresent()) {
      GroupPrincipal principal;
      try {
        principal = path.getFileSystem().getUserPrincipalLookupService()
            .lookupPrincipalByGroupName(group.get());
      } catch (IOException e) {
        throw new SocketSetupException("--socket-group " + group.get() + ": no such group; create"
            + " it (groupadd " + group.get() + ") or name an existing one");
      }
      try {
        Files.getFileAttributeView(path, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
            .setGroup(principal);
      } catch (FileSystemException e) {
        throw new SocketSetupException("cannot give socket " + path + " to group " + group.get()
            + ": the server's user must be a member of it (usermod -aG " + group.get()
            + " USER, or SupplementaryGroups=" + group.get() + " in the systemd unit)");
      }
    }
  }

  /** Removes the socket file if it is still there. */
  void remove() {
    try {
      Files.deleteIfExists(path);
    } catch (IOException e) {
      logger.warning("could not remove socket " + path + ": " + e.getMessage());
    }
  }

  private boolean isSocket() throws IOException {
    Object mode = Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
    return mode instanceof Integer bits && (bits & FILE_TYPE_MASK) == SOCKET_TYPE;
  }

  private boolean someoneListens() {
    try (SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      channel.connect(UnixDomainSocketAddress.of(path));
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** The socket cannot be set up; the message says why and what to do. */
  static final class SocketSetupException extends IOException {
    private static final long serialVersionUID = 1L;

    SocketSetupException(String message) {
      super(message);
    }
  }
}

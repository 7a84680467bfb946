package voip.inventory.cli;

import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One line per record on stderr. Libraries speak only when something is wrong; the server's own
 * lifecycle lines are INFO, per-request detail FINE (--verbose).
 */
final class Logging {
  private static final Logger[] QUIET_LIBRARIES = {
    Logger.getLogger("com.zaxxer.hikari"), Logger.getLogger("org.flywaydb"),
    Logger.getLogger("io.grpc"), Logger.getLogger("org.jooq")
  };

  /**
   * grpc-java asks every accepted connection for TCP keepalive, which Unix sockets lack; Netty
   * then warns once per connection about an option that means nothing here.
   */
  private static final Logger NETTY_BOOTSTRAP =
      Logger.getLogger("io.grpc.netty.shaded.io.netty.bootstrap.ServerBootstrap");

  private Logging() {}

  static void configure() {
    System.setProperty("java.util.logging.SimpleFormatter.format",
        "%1$tFT%1$tT.%1$tLZ %4$s %3$s: %5$s%6$s%n");
    System.setProperty("org.jooq.no-logo", "true");
    System.setProperty("org.jooq.no-tips", "true");
    for (Logger library : QUIET_LIBRARIES) {
      library.setLevel(Level.WARNING);
    }
    NETTY_BOOTSTRAP.setLevel(Level.SEVERE);
  }

  /** Shows Flyway's progress lines, for the migrate command. */
  static void showMigrationProgress() {
    Logger.getLogger("org.flywaydb").setLevel(Level.INFO);
  }

  static void verbose() {
    Logger root = Logger.getLogger("");
    root.setLevel(Level.FINE);
    for (var handler : root.getHandlers()) {
      handler.setLevel(Level.FINE);
    }
    Logger.getLogger("voip.inventory").setLevel(Level.FINE);
  }
}

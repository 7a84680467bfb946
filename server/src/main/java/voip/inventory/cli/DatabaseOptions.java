package voip.inventory.cli;

import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.Option;
import voip.inventory.config.DatabaseSettings;

/** Options shared by commands that reach the database. */
final class DatabaseOptions {
  @Option(
      names = "--password-file",
      paramLabel = "FILE",
      description = "Read the database password from the first line of FILE"
          + " (default: INFRA_DB_PASSWORD_FILE).")
  Path passwordFile;

  @Option(names = {"-v", "--verbose"}, description = "Log per-request detail.")
  boolean verbose;

  DatabaseSettings resolve() {
    if (verbose) {
      Logging.verbose();
    }
    return DatabaseSettings.resolve(System.getenv(), Optional.ofNullable(passwordFile));
  }
}

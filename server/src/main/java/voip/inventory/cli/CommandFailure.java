package voip.inventory.cli;

import io.grpc.Status;
import voip.inventory.config.DatabaseSettings;
import voip.inventory.inventory.DatabaseErrors;

/** A command failed; the message is what the operator sees, with no credentials in it. */
final class CommandFailure extends RuntimeException {
  private static final long serialVersionUID = 1L;

  CommandFailure(String message) {
    super(message);
  }

  /** Explains a database failure the way the gRPC service would. */
  static CommandFailure from(RuntimeException e, DatabaseSettings settings, String command) {
    if (e instanceof CommandFailure failure) {
      return failure;
    }
    Status status = new DatabaseErrors(settings).toStatus(e);
    String flywayHint = e.getClass().getName().startsWith("org.flywaydb")
        && status.getCode() == Status.Code.INTERNAL ? ": " + e.getMessage() : "";
    return new CommandFailure(command + " failed: " + status.getDescription() + flywayHint);
  }
}

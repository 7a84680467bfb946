package voip.inventory.inventory;

import io.grpc.Status;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.util.logging.Level;
import java.util.logging.Logger;
import voip.inventory.config.DatabaseSettings;

/**
 * Turns a failed database read into a gRPC status an operator can act on. Descriptions name the
 * database by name, host and port and say what to fix; they never carry credentials, SQL or the
 * driver's own message.
 */
public final class DatabaseErrors {
  private static final Logger logger = Logger.getLogger(DatabaseErrors.class.getName());

  private final DatabaseSettings settings;

  public DatabaseErrors(DatabaseSettings settings) {
    this.settings = settings;
  }

  /** The status for a failure while reading the inventory. */
  public Status toStatus(Throwable failure) {
    String sqlState = sqlState(failure);
    if (sqlState == null) {
      if (hasCause(failure, SQLTransientConnectionException.class)) {
        return unavailable();
      }
      logger.log(Level.WARNING, "inventory read failed", failure);
      return Status.INTERNAL.withDescription(
          "the server failed while reading " + settings.describe() + "; see the server's log");
    }
    return forSqlState(sqlState, failure);
  }

  private Status forSqlState(String sqlState, Throwable failure) {
    String db = settings.describe();
    // 55000 is what a database refusing connections (ALLOW_CONNECTIONS false) answers.
    if (sqlState.startsWith("08") || sqlState.startsWith("53") || sqlState.startsWith("57P")
        || sqlState.equals("55000")) {
      return unavailable();
    }
    switch (sqlState) {
      case "28000", "28P01":
        return Status.FAILED_PRECONDITION.withDescription(db + " refused the server's credentials"
            + " for user '" + settings.user() + "': fix INFRA_DB_USER and INFRA_DB_PASSWORD (or"
            + " the password file) in the server's environment");
      case "3D000":
        return Status.FAILED_PRECONDITION.withDescription(db + " does not exist: create it and run"
            + " `voip-inventory migrate`, or fix INFRA_DB_NAME");
      case "42P01", "42703", "42883":
        return Status.FAILED_PRECONDITION.withDescription(db + " lacks the inventory schema this"
            + " server needs: run `voip-inventory migrate`");
      case "42501":
        return Status.FAILED_PRECONDITION.withDescription("user '" + settings.user() + "' may not"
            + " read the inventory tables of " + db + ": grant it SELECT on them");
      case "57014":
        return Status.DEADLINE_EXCEEDED.withDescription("reading the inventory from " + db
            + " took too long and was cancelled");
      case "40001", "40P01":
        return Status.ABORTED.withDescription("the read of " + db + " conflicted with a concurrent"
            + " change; retry");
      default:
        logger.log(Level.WARNING, "inventory read failed with SQLSTATE " + sqlState, failure);
        return Status.INTERNAL.withDescription("reading " + db + " failed (SQLSTATE " + sqlState
            + "); see the server's log");
    }
  }

  private Status unavailable() {
    return Status.UNAVAILABLE.withDescription(settings.describe() + " does not answer: check that"
        + " PostgreSQL is running and that INFRA_DB_HOST and INFRA_DB_PORT point to it");
  }

  private static String sqlState(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof SQLException sql && sql.getSQLState() != null) {
        return sql.getSQLState();
      }
      if (t.getCause() == t) {
        break;
      }
    }
    return null;
  }

  private static boolean hasCause(Throwable failure, Class<? extends Throwable> type) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (type.isInstance(t)) {
        return true;
      }
    }
    return false;
  }
}

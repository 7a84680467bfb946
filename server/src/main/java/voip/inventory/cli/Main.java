package voip.inventory.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The voip-inventory command: migrate the database, or serve the inventory over gRPC. */
@Command(
    name = "voip-inventory",
    mixinStandardHelpOptions = true,
    versionProvider = Version.class,
    description = "Serves an Ansible inventory from PostgreSQL over gRPC on a local socket.",
    subcommands = {MigrateCommand.class, ServeCommand.class, CommandLine.HelpCommand.class},
    footer = {
      "",
      "Database settings come from INFRA_DB_HOST, INFRA_DB_PORT, INFRA_DB_NAME, INFRA_DB_USER,",
      "INFRA_DB_PASSWORD or INFRA_DB_PASSWORD_FILE, then the PG* variables and ~/.pgpass.",
      "There is no option for a password: command lines are visible to every local user."
    })
public final class Main implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    Logging.configure();
    System.exit(commandLine().execute(args));
  }

  /** The configured command line, also used by tests. */
  public static CommandLine commandLine() {
    CommandLine commandLine = new CommandLine(new Main());
    commandLine.setExecutionExceptionHandler((exception, line, parseResult) -> {
      line.getErr().println("voip-inventory: " + exception.getMessage());
      return 1;
    });
    return commandLine;
  }

  @Override
  public void run() {
    throw new CommandLine.ParameterException(
        spec.commandLine(), "name a command: migrate or serve (see --help)");
  }
}

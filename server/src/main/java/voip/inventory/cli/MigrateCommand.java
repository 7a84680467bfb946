package voip.inventory.cli;

import java.util.concurrent.Callable;
import java.util.logging.Logger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import voip.inventory.config.DatabaseSettings;
import voip.inventory.db.Database;
import voip.inventory.db.Migrations;

/** Applies the schema migrations, and on request the sample data set. */
@Command(
    name = "migrate",
    mixinStandardHelpOptions = true,
    description = "Apply the database schema migrations (Flyway).")
final class MigrateCommand implements Callable<Integer> {
  private static final Logger logger = Logger.getLogger(MigrateCommand.class.getName());

  @Mixin DatabaseOptions database;

  @Option(
      names = "--sample-data",
      description = "Also load the sample data set (two VMs, four groups), once.")
  boolean sampleData;

  @Override
  public Integer call() {
    DatabaseSettings settings = database.resolve();
    Logging.showMigrationProgress();
    try (Database db = Database.open(settings, Database.Options.forMigrating())) {
      Migrations migrations = new Migrations(db.dataSource());
      String version = migrations.migrateSchema();
      logger.info(settings.describe() + " is at schema version " + version);
      if (sampleData) {
        int loaded = migrations.loadSampleData();
        logger.info(loaded > 0
            ? "loaded the sample data set"
            : "the sample data set was loaded before");
      }
    } catch (RuntimeException e) {
      throw CommandFailure.from(e, settings, "migrate");
    }
    return 0;
  }
}

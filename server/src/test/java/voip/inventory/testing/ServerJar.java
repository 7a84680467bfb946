package voip.inventory.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs the real voip-inventory jar as a separate process, as an operator would. */
public final class ServerJar {
  private ServerJar() {}

  /** The jar built by `mvn package`; failsafe passes its path. */
  public static Path path() {
    String jar = System.getProperty("voip.server.jar", "target/voip-inventory.jar");
    Path path = Path.of(jar);
    if (!Files.isRegularFile(path)) {
      throw new IllegalStateException("server jar " + path + " is missing: run `mvn package`");
    }
    return path;
  }

  /** Starts `java -jar voip-inventory.jar ARGS` with extra environment; output goes to log. */
  public static Process start(Map<String, String> env, Path log, String... args)
      throws IOException {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-Xmx256m");
    command.add("-jar");
    command.add(path().toString());
    command.addAll(List.of(args));
    ProcessBuilder builder = new ProcessBuilder(command)
        .redirectErrorStream(true)
        .redirectOutput(log.toFile());
    builder.environment().keySet()
        .removeIf(name -> name.startsWith("INFRA_DB_") || name.startsWith("PG"));
    builder.environment().putAll(env);
    return builder.start();
  }

  /** Runs a command to completion and returns its exit code and output. */
  public static Result run(Map<String, String> env, Path workDir, String... args)
      throws IOException, InterruptedException {
    Path log = Files.createTempFile(workDir, "run", ".log");
    Process process = start(env, log, args);
    if (!process.waitFor(120, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new IllegalStateException("voip-inventory " + String.join(" ", args) + " hung");
    }
    return new Result(process.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
  }

  /** An exit code and everything the process printed. */
  public record Result(int exitCode, String output) {}
}

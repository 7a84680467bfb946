package voip.inventory.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The real grpcurl binary: GRPCURL, else $GOPATH/bin or ~/go/bin, else PATH. */
public final class Grpcurl {
  private Grpcurl() {}

  static String binary() {
    String configured = System.getenv("GRPCURL");
    if (configured != null && !configured.isBlank()) {
      return configured;
    }
    List<Path> candidates = new ArrayList<>();
    String gopath = System.getenv("GOPATH");
    if (gopath != null) {
      candidates.add(Path.of(gopath, "bin", "grpcurl"));
    }
    candidates.add(Path.of(System.getProperty("user.home"), "go", "bin", "grpcurl"));
    for (Path candidate : candidates) {
      if (Files.isExecutable(candidate)) {
        return candidate.toString();
      }
    }
    return "grpcurl";
  }

  /** Runs grpcurl -plaintext -unix with the arguments; returns exit code and output. */
  public static ServerJar.Result run(Path socket, String... args)
      throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of(binary(), "-plaintext", "-unix"));
    command.addAll(List.of(args));
    int socketIndex = command.indexOf("SOCKET");
    command.set(socketIndex, socket.toString());
    Process process;
    try {
      process = new ProcessBuilder(command).redirectErrorStream(true).start();
    } catch (IOException e) {
      throw new IllegalStateException("grpcurl is not installed: run `make grpcurl` (go install"
          + " github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4) or set GRPCURL", e);
    }
    if (!process.waitFor(60, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new IllegalStateException("grpcurl hung: " + command);
    }
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    return new ServerJar.Result(process.exitValue(), output);
  }
}

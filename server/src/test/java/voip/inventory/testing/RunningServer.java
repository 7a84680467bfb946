package voip.inventory.testing;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import voip.inventory.v1.InventoryGrpc;

/** A real server process listening on a real Unix socket, and gRPC channels to it. */
public final class RunningServer implements AutoCloseable {
  private static final EpollEventLoopGroup CLIENT_LOOP = new EpollEventLoopGroup(1);

  private final Process process;
  private final Path socket;
  private final Path log;
  private final List<ManagedChannel> channels = new ArrayList<>();

  private RunningServer(Process process, Path socket, Path log) {
    this.process = process;
    this.socket = socket;
    this.log = log;
  }

  /** Starts `serve` on DIR/inventory.sock and waits until it logs that it serves. */
  public static RunningServer start(Map<String, String> env, Path dir, String... extraArgs)
      throws IOException, InterruptedException {
    Path socket = dir.resolve("inventory.sock");
    Path log = dir.resolve("server-" + System.nanoTime() + ".log");
    List<String> args = new ArrayList<>(List.of("serve", "--listen", "unix:" + socket));
    args.addAll(List.of(extraArgs));
    Process process = ServerJar.start(env, log, args.toArray(String[]::new));
    RunningServer server = new RunningServer(process, socket, log);
    server.awaitLine("serving voip.inventory.v1.Inventory", Duration.ofSeconds(60));
    return server;
  }

  /** Waits until the server's output contains text; fails with the output if it exits first. */
  public void awaitLine(String text, Duration timeout) throws IOException, InterruptedException {
    Instant deadline = Instant.now().plus(timeout);
    while (Instant.now().isBefore(deadline)) {
      if (output().contains(text)) {
        return;
      }
      if (!process.isAlive()) {
        throw new IllegalStateException("server exited with " + process.exitValue()
            + " before printing '" + text + "':\n" + output());
      }
      Thread.sleep(50);
    }
    throw new IllegalStateException("server did not print '" + text + "' in " + timeout
        + ":\n" + output());
  }

  public Path socket() {
    return socket;
  }

  public Process process() {
    return process;
  }

  /** Everything the server has printed so far. */
  public String output() throws IOException {
    return Files.readString(log, StandardCharsets.UTF_8);
  }

  /** A new plaintext channel over the Unix socket. */
  public ManagedChannel channel() {
    ManagedChannel channel = NettyChannelBuilder
        .forAddress(new DomainSocketAddress(socket.toString()))
        .eventLoopGroup(CLIENT_LOOP)
        .channelType(EpollDomainSocketChannel.class)
        .usePlaintext()
        .maxInboundMessageSize(512 * 1024 * 1024)
        .build();
    channels.add(channel);
    return channel;
  }

  /** A blocking inventory stub with a deadline, on a new channel. */
  public InventoryGrpc.InventoryBlockingStub inventory() {
    return InventoryGrpc.newBlockingStub(channel()).withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  /** Sends SIGTERM and waits for the process to exit; returns its exit code. */
  public int terminate() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(60, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new IllegalStateException("server did not stop within 60 s of SIGTERM");
    }
    return process.exitValue();
  }

  @Override
  public void close() throws InterruptedException {
    for (ManagedChannel channel : channels) {
      channel.shutdownNow();
    }
    if (process.isAlive()) {
      terminate();
    }
  }
}

package voip.inventory.server;

import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionService;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Owns the gRPC server's lifecycle: binds the socket with the inventory, health and reflection
 * services, and shuts down gracefully.
 */
public final class InventoryServer {
  /** Requests are small; anything larger is a mistake, refused early. */
  private static final int MAX_REQUEST_BYTES = 1024 * 1024;
  private static final int FLOW_CONTROL_WINDOW_BYTES = 8 * 1024 * 1024;

  private final ListenAddress address;
  private final Optional<String> socketGroup;
  private final HealthStatusManager health;
  private final List<BindableService> services;
  private Server server;
  private UnixSocketFile socketFile;
  private EventLoopGroup bossGroup;
  private EventLoopGroup workerGroup;

  public InventoryServer(
      ListenAddress address,
      Optional<String> socketGroup,
      HealthStatusManager health,
      List<BindableService> services) {
    this.address = address;
    this.socketGroup = socketGroup;
    this.health = health;
    this.services = List.copyOf(services);
  }

  /** Parses a --listen value. */
  public static ListenAddress parseAddress(String text) {
    return ListenAddress.parse(text);
  }

  /** Binds and starts serving. */
  @SuppressWarnings("deprecation") // v1alpha reflection too, for older grpcurl and tools
  public void start() throws IOException {
    NettyServerBuilder builder = builderFor(address)
        .maxInboundMessageSize(MAX_REQUEST_BYTES)
        .flowControlWindow(FLOW_CONTROL_WINDOW_BYTES)
        .addService(health.getHealthService())
        .addService(ProtoReflectionServiceV1.newInstance())
        .addService(ProtoReflectionService.newInstance());
    services.forEach(builder::addService);
    if (socketFile != null) {
      socketFile.prepare();
    }
    server = builder.build().start();
    if (socketFile != null) {
      try {
        socketFile.secure(socketGroup);
      } catch (IOException e) {
        stopNow();
        throw e;
      }
    }
  }

  private NettyServerBuilder builderFor(ListenAddress listen) {
    if (listen instanceof ListenAddress.Unix unix) {
      socketFile = new UnixSocketFile(unix.path());
      bossGroup = new EpollEventLoopGroup(1);
      int workers = Math.max(2, Runtime.getRuntime().availableProcessors());
      workerGroup = new EpollEventLoopGroup(workers);
      return NettyServerBuilder.forAddress(new DomainSocketAddress(unix.path().toString()))
          .channelType(EpollServerDomainSocketChannel.class)
          .bossEventLoopGroup(bossGroup)
          .workerEventLoopGroup(workerGroup);
    }
    return NettyServerBuilder.forAddress(((ListenAddress.Tcp) listen).address());
  }

  /** Where the server listens; for TCP port 0, the port it was given. */
  public String listeningOn() {
    if (address instanceof ListenAddress.Tcp tcp && tcp.address().getPort() == 0) {
      return tcp.address().getAddress().getHostAddress() + ":" + server.getPort();
    }
    return address.toString();
  }

  /**
   * Stops gracefully: health turns NOT_SERVING, new calls are refused, calls in flight get
   * {@code grace} to finish, then the socket file is removed.
   */
  public void stop(Duration grace) throws InterruptedException {
    health.enterTerminalState();
    server.shutdown();
    if (!server.awaitTermination(grace.toMillis(), TimeUnit.MILLISECONDS)) {
      server.shutdownNow();
      server.awaitTermination(5, TimeUnit.SECONDS);
    }
    releaseResources();
  }

  private void stopNow() {
    server.shutdownNow();
    releaseResources();
  }

  private void releaseResources() {
    if (socketFile != null) {
      socketFile.remove();
    }
    if (bossGroup != null) {
      bossGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      workerGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
  }

  /** Blocks until the server has stopped. */
  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }
}

import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthGrpc;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.StringJoiner;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import voip.inventory.v1.GetHostRequest;
import voip.inventory.v1.GetInventoryRequest;
import voip.inventory.v1.GetInventoryResponse;
import voip.inventory.v1.GetRevisionRequest;
import voip.inventory.v1.Host;
import voip.inventory.v1.InventoryGrpc;
import voip.inventory.v1.InventoryGrpc.InventoryBlockingStub;

/**
 * The benchmark's gRPC client for the server alone (bench/bench.py drives it). It stays up while
 * the server restarts, so its own start-up and JIT warm-up never count in a figure.
 *
 * <pre>
 * javac -cp voip-inventory.jar -d OUT bench/ServerBench.java
 * java -cp voip-inventory.jar:OUT ServerBench SOCKET_PATH [JDBC_URL]
 * </pre>
 *
 * Reads one command a line from stdin and answers each with one JSON line on stdout; times are
 * milliseconds of one call each, from the request until the response is decoded:
 *
 * <pre>
 * inventory CALLS WARMUP  GetInventory (every enabled host) WARMUP times untimed, then CALLS
 * host CALLS WARMUP       GetHost for hosts drawn from the last inventory, with a fixed seed
 * ping CALLS WARMUP       grpc.health.v1.Health/Check, a call that does no work, to set
 *                         beside GetHost: what GetHost adds over it is its own
 * first                   on a new connection: GetRevision untimed, then one GetInventory
 * change CALLS RPC        commit a change to one host (JDBC_URL, autocommit), then call RPC
 *                         (inventory: GetInventory; host: GetHost for that host) until a
 *                         response shows it; time from commit to that
 * layers CALLS            the parts of a GetInventory call, each alone: GetRevision (the
 *                         server's per-call database check and a small round trip), and, on
 *                         the last response, protobuf serialisation and decoding
 * quit
 * </pre>
 */
public final class ServerBench {
  private static final int MAX_MESSAGE_BYTES = 512 * 1024 * 1024;
  private static final long DEADLINE_SECONDS = 300;
  private static final int MAX_CHANGE_POLLS = 10_000;
  // Netty warns on every connection that a Unix socket has no SO_KEEPALIVE; held here so the
  // level set on it is not lost when the logger is collected.
  private static final Logger NETTY_BOOTSTRAP =
      Logger.getLogger("io.grpc.netty.shaded.io.netty.bootstrap");

  private final String socketPath;
  private final String jdbcUrl;
  private final Random random = new Random(42);
  private ManagedChannel channel;
  private List<String> hostNames = List.of();

  private ServerBench(String socketPath, String jdbcUrl) {
    this.socketPath = socketPath;
    this.jdbcUrl = jdbcUrl;
    this.channel = connect();
  }

  public static void main(String[] args) throws Exception {
    if (args.length < 1 || args.length > 2) {
      System.err.println("usage: ServerBench SOCKET_PATH [JDBC_URL]");
      System.exit(2);
    }
    NETTY_BOOTSTRAP.setLevel(Level.SEVERE);
    ServerBench bench = new ServerBench(args[0], args.length > 1 ? args[1] : null);
    BufferedReader commands =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line = commands.readLine(); line != null; line = commands.readLine()) {
      String[] words = line.trim().split("\\s+");
      if (words[0].equals("quit")) {
        break;
      }
      System.out.println(bench.run(words));
      System.out.flush();
    }
    bench.channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  private String run(String[] words) throws SQLException {
    switch (words[0]) {
      case "inventory":
        return inventory(Integer.parseInt(words[1]), Integer.parseInt(words[2]));
      case "host":
        return host(Integer.parseInt(words[1]), Integer.parseInt(words[2]));
      case "ping":
        return ping(Integer.parseInt(words[1]), Integer.parseInt(words[2]));
      case "first":
        return first();
      case "change":
        return change(Integer.parseInt(words[1]), words[2]);
      case "layers":
        return layers(Integer.parseInt(words[1]));
      default:
        throw new IllegalArgumentException("unknown command: " + String.join(" ", words));
    }
  }

  private ManagedChannel connect() {
    return Grpc.newChannelBuilder("unix://" + socketPath, InsecureChannelCredentials.create())
        .maxInboundMessageSize(MAX_MESSAGE_BYTES)
        .build();
  }

  private InventoryBlockingStub stub() {
    return InventoryGrpc.newBlockingStub(channel)
        .withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS);
  }

  private String inventory(int calls, int warmup) {
    GetInventoryRequest request = GetInventoryRequest.getDefaultInstance();
    GetInventoryResponse response = null;
    for (int i = 0; i < warmup; i++) {
      response = stub().getInventory(request);
    }
    List<Double> times = new ArrayList<>(calls);
    for (int i = 0; i < calls; i++) {
      long start = System.nanoTime();
      response = stub().getInventory(request);
      times.add(millisSince(start));
    }
    remember(response);
    return "{\"command\": \"inventory\", \"hosts\": " + response.getHostsCount()
        + ", \"bytes\": " + response.getSerializedSize() + ", \"ms\": " + json(times) + "}";
  }

  private void remember(GetInventoryResponse response) {
    List<String> names = new ArrayList<>(response.getHostsCount());
    for (Host host : response.getHostsList()) {
      names.add(host.getName());
    }
    hostNames = names;
  }

  private String host(int calls, int warmup) {
    if (hostNames.isEmpty()) {
      throw new IllegalStateException("host needs the names of an inventory command first");
    }
    for (int i = 0; i < warmup; i++) {
      stub().getHost(hostRequest());
    }
    List<Double> times = new ArrayList<>(calls);
    for (int i = 0; i < calls; i++) {
      GetHostRequest request = hostRequest();
      long start = System.nanoTime();
      stub().getHost(request);
      times.add(millisSince(start));
    }
    return "{\"command\": \"host\", \"ms\": " + json(times) + "}";
  }

  private String ping(int calls, int warmup) {
    HealthCheckRequest request = HealthCheckRequest.getDefaultInstance();
    for (int i = 0; i < warmup; i++) {
      health().check(request);
    }
    List<Double> times = new ArrayList<>(calls);
    for (int i = 0; i < calls; i++) {
      long start = System.nanoTime();
      health().check(request);
      times.add(millisSince(start));
    }
    return "{\"command\": \"ping\", \"ms\": " + json(times) + "}";
  }

  private HealthGrpc.HealthBlockingStub health() {
    return HealthGrpc.newBlockingStub(channel)
        .withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS);
  }

  private GetHostRequest hostRequest() {
    String name = hostNames.get(random.nextInt(hostNames.size()));
    return GetHostRequest.newBuilder().setName(name).build();
  }

  /** The first whole-inventory call on a fresh connection, as after a server restart. */
  private String first() {
    channel.shutdownNow();
    channel = connect();
    stub().getRevision(GetRevisionRequest.getDefaultInstance());
    long start = System.nanoTime();
    GetInventoryResponse response = stub().getInventory(GetInventoryRequest.getDefaultInstance());
    double ms = millisSince(start);
    remember(response);
    return "{\"command\": \"first\", \"hosts\": " + response.getHostsCount()
        + ", \"ms\": [" + ms + "]}";
  }

  private String layers(int calls) {
    GetInventoryResponse response = stub().getInventory(GetInventoryRequest.getDefaultInstance());
    List<Double> revision = new ArrayList<>(calls);
    List<Double> serialize = new ArrayList<>(calls);
    List<Double> parse = new ArrayList<>(calls);
    for (int i = 0; i < calls; i++) {
      long start = System.nanoTime();
      stub().getRevision(GetRevisionRequest.getDefaultInstance());
      revision.add(millisSince(start));
      // A fresh copy each time: a message caches its size and its strings' UTF-8 bytes once
      // serialised, and the server serialises a message it built for the snapshot.
      GetInventoryResponse copy = response.toBuilder().build();
      start = System.nanoTime();
      byte[] bytes = copy.toByteArray();
      serialize.add(millisSince(start));
      start = System.nanoTime();
      try {
        GetInventoryResponse.parseFrom(bytes);
      } catch (com.google.protobuf.InvalidProtocolBufferException e) {
        throw new IllegalStateException(e);
      }
      parse.add(millisSince(start));
    }
    return "{\"command\": \"layers\", \"revision_ms\": " + json(revision)
        + ", \"serialize_ms\": " + json(serialize) + ", \"parse_ms\": " + json(parse) + "}";
  }

  private String change(int calls, String rpc) throws SQLException {
    if (!rpc.equals("inventory") && !rpc.equals("host")) {
      throw new IllegalArgumentException("change needs inventory or host, not " + rpc);
    }
    if (jdbcUrl == null || hostNames.isEmpty()) {
      throw new IllegalStateException("change needs a JDBC URL and an inventory command first");
    }
    List<Double> times = new ArrayList<>(calls);
    List<Integer> polls = new ArrayList<>(calls);
    try (Connection db = DriverManager.getConnection(jdbcUrl);
        PreparedStatement update = db.prepareStatement(
            "UPDATE vm_configs SET host_vars = host_vars || jsonb_build_object('bench_change', ?)"
                + " WHERE vm_name = ?")) {
      for (int i = 0; i < calls; i++) {
        String name = hostNames.get(random.nextInt(hostNames.size()));
        String marker = "change-" + System.nanoTime();
        update.setString(1, marker);
        update.setString(2, name);
        update.executeUpdate();
        long committed = System.nanoTime();
        polls.add(
            rpc.equals("host") ? awaitHostVisible(name, marker) : awaitVisible(name, marker));
        times.add(millisSince(committed));
      }
    }
    return "{\"command\": \"change\", \"rpc\": \"" + rpc + "\", \"polls\": " + polls
        + ", \"ms\": " + json(times) + "}";
  }

  /** Calls GetInventory until the host's variables carry the marker; returns how many calls. */
  private int awaitVisible(String name, String marker) {
    for (int poll = 1; poll <= MAX_CHANGE_POLLS; poll++) {
      GetInventoryResponse response = stub().getInventory(GetInventoryRequest.getDefaultInstance());
      for (Host host : response.getHostsList()) {
        if (host.getName().equals(name) && host.getVarsJson().contains(marker)) {
          return poll;
        }
      }
    }
    throw new IllegalStateException(
        "the change to " + name + " was not visible after " + MAX_CHANGE_POLLS + " calls");
  }

  /** Calls GetHost until the host's variables carry the marker; returns how many calls. */
  private int awaitHostVisible(String name, String marker) {
    GetHostRequest request = GetHostRequest.newBuilder().setName(name).build();
    for (int poll = 1; poll <= MAX_CHANGE_POLLS; poll++) {
      if (stub().getHost(request).getHost().getVarsJson().contains(marker)) {
        return poll;
      }
    }
    throw new IllegalStateException(
        "the change to " + name + " was not visible after " + MAX_CHANGE_POLLS + " calls");
  }

  private static double millisSince(long start) {
    return (System.nanoTime() - start) / 1e6;
  }

  private static String json(List<Double> values) {
    StringJoiner joined = new StringJoiner(", ", "[", "]");
    for (double value : values) {
      joined.add(String.format(Locale.ROOT, "%.3f", value));
    }
    return joined.toString();
  }
}

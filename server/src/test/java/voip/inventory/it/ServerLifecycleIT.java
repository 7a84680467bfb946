package voip.inventory.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import voip.inventory.testing.RunningServer;
import voip.inventory.testing.ServerJar;
import voip.inventory.testing.TcpProxy;
import voip.inventory.testing.TestPostgres;
import voip.inventory.v1.GetHostRequest;
import voip.inventory.v1.GetInventoryRequest;
import voip.inventory.v1.GetRevisionRequest;

/** Starting, refusing to start, the socket file, outages and shutdown, as an operator sees them. */
class ServerLifecycleIT {
  private static final String SECRET = "s3cret-Pa55word-never-shown";

  @TempDir Path dir;

  private final TestPostgres postgres = TestPostgres.get();

  @Test
  void serveRefusesAnUnmigratedDatabaseAndSaysToMigrate() throws Exception {
    String database = postgres.createDatabase("unmigrated");

    ServerJar.Result result = ServerJar.run(postgres.serverEnvironment(database), dir,
        "serve", "--listen", "unix:" + dir.resolve("inventory.sock"));

    assertThat(result.exitCode()).isEqualTo(1);
    assertThat(result.output()).contains("database '" + database + "'")
        .contains("has no inventory schema").contains("voip-inventory migrate");
    assertThat(dir.resolve("inventory.sock")).doesNotExist();
  }

  @Test
  void serveRefusesAnOlderSchemaAndSaysToMigrate() throws Exception {
    String database = postgres.createDatabase("older");
    Map<String, String> env = postgres.serverEnvironment(database);
    Flyway.configure()
        .dataSource("jdbc:postgresql://" + postgres.host() + ":" + postgres.port() + "/" + database,
            env.get("INFRA_DB_USER"), env.get("INFRA_DB_PASSWORD"))
        .locations("filesystem:../db/migration")
        .target("2")
        .load()
        .migrate();

    ServerJar.Result result = ServerJar.run(postgres.serverEnvironment(database), dir,
        "serve", "--listen", "unix:" + dir.resolve("inventory.sock"));

    assertThat(result.exitCode()).isEqualTo(1);
    assertThat(result.output()).contains("schema version 2 but this server needs 3")
        .contains("voip-inventory migrate");
  }

  @Test
  void socketIsGroupReadableOnlyAndRemovedOnSigterm() throws Exception {
    Map<String, String> env = migratedDatabase("socket");
    RunningServer server = RunningServer.start(env, dir);

    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(server.socket())))
        .isEqualTo("rw-rw----");
    assertThat(server.output()).contains("serving voip.inventory.v1.Inventory")
        .contains("unix:" + server.socket()).contains("schema version 3");

    assertThat(server.terminate()).isZero();
    assertThat(server.socket()).doesNotExist();
  }

  @Test
  void staleSocketFromACrashedRunIsReplaced() throws Exception {
    Map<String, String> env = migratedDatabase("stale");
    Path socket = dir.resolve("inventory.sock");
    try (ServerSocketChannel crashed = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      crashed.bind(UnixDomainSocketAddress.of(socket));
    }
    assertThat(socket).exists();

    try (RunningServer server = RunningServer.start(env, dir)) {
      assertThat(server.output()).contains("removed stale socket");
      assertThat(server.inventory().getRevision(GetRevisionRequest.getDefaultInstance())
          .getRevision()).isPositive();
    }
  }

  @Test
  void secondServerOnTheSameSocketIsRefusedAndTheFirstKeepsServing() throws Exception {
    Map<String, String> env = migratedDatabase("twice");
    try (RunningServer first = RunningServer.start(env, dir)) {
      ServerJar.Result second =
          ServerJar.run(env, dir, "serve", "--listen", "unix:" + first.socket());

      assertThat(second.exitCode()).isEqualTo(1);
      assertThat(second.output()).contains("another server already listens on " + first.socket());
      assertThat(first.inventory().getRevision(GetRevisionRequest.getDefaultInstance())
          .getRevision()).isPositive();
    }
  }

  @Test
  void worldWritableSocketDirectoryIsRefused() throws Exception {
    Map<String, String> env = migratedDatabase("worldwritable");
    Path open = Files.createDirectory(dir.resolve("open"));
    Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxrwxrwx"));

    ServerJar.Result result =
        ServerJar.run(env, dir, "serve", "--listen", "unix:" + open.resolve("s.sock"));

    assertThat(result.exitCode()).isEqualTo(1);
    assertThat(result.output()).contains("socket directory " + open + " is world-writable");
  }

  @Test
  void nonLoopbackTcpAddressIsRefused() throws Exception {
    ServerJar.Result result = ServerJar.run(Map.of(), dir, "serve", "--listen", "0.0.0.0:7000");

    assertThat(result.exitCode()).isEqualTo(1);
    assertThat(result.output()).contains("not a loopback address");
  }

  @Test
  void sigtermTurnsHealthNotServingThenExits() throws Exception {
    Map<String, String> env = migratedDatabase("sigterm");
    RunningServer server = RunningServer.start(env, dir, "--shutdown-grace", "2");
    Iterator<HealthCheckResponse> watch = HealthGrpc.newBlockingStub(server.channel())
        .withDeadlineAfter(60, TimeUnit.SECONDS)
        .watch(HealthCheckRequest.newBuilder().setService("voip.inventory.v1.Inventory").build());
    assertThat(watch.next().getStatus()).isEqualTo(ServingStatus.SERVING);

    server.process().destroy();

    assertThat(watch.next().getStatus()).isEqualTo(ServingStatus.NOT_SERVING);
    assertThat(server.process().waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(server.socket()).doesNotExist();
  }

  @Test
  void databaseThatStopsAnsweringGivesUnavailableAndRecovers() throws Exception {
    String database = postgres.createDatabase("outage");
    Map<String, String> env = new HashMap<>(postgres.serverEnvironment(database));
    assertThat(ServerJar.run(env, dir, "migrate", "--sample-data").exitCode()).isZero();
    try (TcpProxy proxy = new TcpProxy(postgres.host(), postgres.port())) {
      env.put("INFRA_DB_HOST", "127.0.0.1");
      env.put("INFRA_DB_PORT", Integer.toString(proxy.port()));
      try (RunningServer server = RunningServer.start(env, dir, "--health-interval", "1")) {
        var health = HealthGrpc.newBlockingStub(server.channel());
        proxy.stop();

        assertThatThrownBy(() -> server.inventory().getHost(
                GetHostRequest.newBuilder().setName("voip-prod-1").build()))
            .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
              assertThat(e.getStatus().getDescription())
                  .contains("database '" + database + "' on 127.0.0.1:" + proxy.port())
                  .contains("does not answer")
                  .doesNotContain("SELECT").doesNotContain("select");
            });
        awaitHealth(health, ServingStatus.NOT_SERVING);

        proxy.start();
        awaitHealth(health, ServingStatus.SERVING);
        assertThat(server.inventory().getInventory(GetInventoryRequest.getDefaultInstance())
            .getHostsCount()).isEqualTo(2);
      }
    }
  }

  @Test
  void passwordFromAFileWorksAndNeverAppearsInOutputOrErrors() throws Exception {
    String database = postgres.createDatabase("password");
    assertThat(ServerJar.run(postgres.serverEnvironment(database), dir, "migrate").exitCode())
        .isZero();
    String role = database + "_reader";
    postgres.createRole(database, role, SECRET);
    Path passwordFile = Files.writeString(dir.resolve("db-password"), SECRET + "\n");
    Map<String, String> env = new HashMap<>(postgres.serverEnvironment(database));
    env.remove("INFRA_DB_PASSWORD");
    env.put("INFRA_DB_USER", role);
    env.put("INFRA_DB_HOST", "127.0.0.1");
    env.put("INFRA_DB_PASSWORD_FILE", passwordFile.toString());

    try (RunningServer server = RunningServer.start(env, dir)) {
      assertThat(server.inventory().getRevision(GetRevisionRequest.getDefaultInstance())
          .getRevision()).isPositive();
      assertThat(server.output()).doesNotContain(SECRET).contains("as user '" + role + "'");
    }
  }

  @Test
  void wrongPasswordIsRefusedNamingTheUserButNotThePassword() throws Exception {
    String database = postgres.createDatabase("wrongpassword");
    assertThat(ServerJar.run(postgres.serverEnvironment(database), dir, "migrate").exitCode())
        .isZero();
    String role = database + "_reader";
    postgres.createRole(database, role, SECRET);
    Map<String, String> env = new HashMap<>(postgres.serverEnvironment(database));
    env.put("INFRA_DB_USER", role);
    env.put("INFRA_DB_HOST", "127.0.0.1");
    env.put("INFRA_DB_PASSWORD", "wrong-" + SECRET);

    ServerJar.Result result =
        ServerJar.run(env, dir, "serve", "--listen", "unix:" + dir.resolve("s.sock"));

    assertThat(result.exitCode()).isEqualTo(1);
    assertThat(result.output()).contains("refused the server's credentials for user '" + role + "'")
        .doesNotContain(SECRET);
  }

  private Map<String, String> migratedDatabase(String purpose) throws Exception {
    String database = postgres.createDatabase(purpose);
    Map<String, String> env = postgres.serverEnvironment(database);
    ServerJar.Result migrated = ServerJar.run(env, dir, "migrate", "--sample-data");
    assertThat(migrated.exitCode()).as(migrated.output()).isZero();
    return env;
  }

  private static void awaitHealth(HealthGrpc.HealthBlockingStub health, ServingStatus expected)
      throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    ServingStatus status = null;
    while (System.nanoTime() < deadline) {
      status = health.withDeadlineAfter(5, TimeUnit.SECONDS)
          .check(HealthCheckRequest.getDefaultInstance()).getStatus();
      if (status == expected) {
        return;
      }
      Thread.sleep(200);
    }
    throw new AssertionError("health stayed " + status + ", expected " + expected);
  }
}

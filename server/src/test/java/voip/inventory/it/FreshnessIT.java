package voip.inventory.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import voip.inventory.testing.Inventory;
import voip.inventory.testing.RunningServer;
import voip.inventory.testing.ServerJar;
import voip.inventory.testing.TcpProxy;
import voip.inventory.testing.TestPostgres;
import voip.inventory.v1.GetInventoryRequest;
import voip.inventory.v1.GetInventoryResponse;
import voip.inventory.v1.GetRevisionRequest;
import voip.inventory.v1.GetRevisionResponse;
import voip.inventory.v1.Host;
import voip.inventory.v1.InventoryGrpc;
import voip.inventory.v1.ObjectKind;
import voip.inventory.v1.WatchRequest;
import voip.inventory.v1.WatchResponse;

/** Change notification, Watch, and last-known-good serving while PostgreSQL is down. */
class FreshnessIT {
  @TempDir Path dir;

  private final TestPostgres postgres = TestPostgres.get();

  @Test
  void watchSendsTheCurrentRevisionThenEachCommittedChangeWithWhatChanged() throws Exception {
    String database = migrated("watch");
    try (RunningServer server = RunningServer.start(postgres.serverEnvironment(database), dir)) {
      Iterator<WatchResponse> watch = watch(server);
      long first = watch.next().getRevision();

      try (Inventory inventory = Inventory.open(postgres, database)) {
        inventory.group("media", "{}");
      }
      WatchResponse change = nextNewerThan(watch, first);

      assertThat(change.getRevision()).isGreaterThan(first);
      assertThat(change.getChangedList()).contains(ObjectKind.OBJECT_KIND_GROUPS);
      assertThat(change.getStale()).isFalse();
    }
  }

  @Test
  void killedListenConnectionReconnectsAndTheNextChangeIsStillSeen() throws Exception {
    String database = migrated("listenkill");
    try (RunningServer server = RunningServer.start(postgres.serverEnvironment(database), dir)) {
      Iterator<WatchResponse> watch = watch(server);
      long first = watch.next().getRevision();
      awaitFeedListening(database);

      try (Inventory inventory = Inventory.open(postgres, database)) {
        int killed = inventory.dsl().fetchSingle(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                + " WHERE datname = {0} AND application_name = 'voip-inventory change feed'",
            database).get(0, Integer.class);
        assertThat(killed).isEqualTo(1);
        awaitFeedListening(database);
        inventory.host("voip-after-kill", "production", "10.9.9.9");
      }
      WatchResponse change = nextNewerThan(watch, first);

      assertThat(change.getChangedList()).contains(ObjectKind.OBJECT_KIND_HOSTS);
      assertThat(server.inventory().getInventory(GetInventoryRequest.getDefaultInstance())
          .getHostsList()).extracting(Host::getName).contains("voip-after-kill");
    }
  }

  @Test
  void outageServesTheLastSnapshotMarkedStaleUntilTheMaximumAgeThenRecoversWithoutRestart()
      throws Exception {
    String database = migrated("stale");
    Map<String, String> env = new HashMap<>(postgres.serverEnvironment(database));
    try (TcpProxy proxy = new TcpProxy(postgres.host(), postgres.port())) {
      env.put("INFRA_DB_HOST", "127.0.0.1");
      env.put("INFRA_DB_PORT", Integer.toString(proxy.port()));
      try (RunningServer server = RunningServer.start(env, dir, "--max-stale-age", "6s")) {
        GetInventoryResponse fresh =
            server.inventory().getInventory(GetInventoryRequest.getDefaultInstance());
        assertThat(fresh.getStale()).isFalse();

        proxy.stop();
        GetInventoryResponse stale =
            server.inventory().getInventory(GetInventoryRequest.getDefaultInstance());
        GetRevisionResponse staleRevision =
            server.inventory().getRevision(GetRevisionRequest.getDefaultInstance());

        assertThat(stale.getStale()).isTrue();
        assertThat(stale.getRevision()).isEqualTo(fresh.getRevision());
        assertThat(stale.getHostsList()).isEqualTo(fresh.getHostsList());
        var staleHost = server.inventory().getHost(
            voip.inventory.v1.GetHostRequest.newBuilder().setName("voip-prod-1").build());
        assertThat(staleHost.getStale()).isTrue();
        assertThat(staleHost.getGroupsList()).contains("voip_servers");
        assertThat(staleRevision.getStale()).isTrue();
        assertThat(staleRevision.getRevision()).isEqualTo(fresh.getRevision());
        assertThat(server.output()).contains("does not answer").contains("marked stale");

        Thread.sleep(7000);
        assertThatThrownBy(() -> server.inventory().getInventory(
                GetInventoryRequest.getDefaultInstance()))
            .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
              assertThat(e.getStatus().getDescription()).contains("does not answer")
                  .contains("beyond the server's --max-stale-age of 6 s");
            });

        proxy.start();
        GetInventoryResponse recovered = awaitFresh(server.inventory());
        assertThat(recovered.getStale()).isFalse();
        assertThat(recovered.hasStaleAge()).isFalse();
        assertThat(recovered.getHostsList()).isEqualTo(fresh.getHostsList());
      }
    }
  }

  @Test
  void serverRestartedDuringAnOutageServesItsSnapshotFile() throws Exception {
    String database = migrated("restart");
    Path snapshot = dir.resolve("state").resolve("snapshot.pb");
    Map<String, String> env = new HashMap<>(postgres.serverEnvironment(database));
    try (TcpProxy proxy = new TcpProxy(postgres.host(), postgres.port())) {
      env.put("INFRA_DB_HOST", "127.0.0.1");
      env.put("INFRA_DB_PORT", Integer.toString(proxy.port()));
      GetInventoryResponse before;
      try (RunningServer server =
              RunningServer.start(env, dir, "--snapshot-file", snapshot.toString())) {
        before = server.inventory().getInventory(GetInventoryRequest.getDefaultInstance());
        awaitFile(snapshot);
      }
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(snapshot)))
          .isEqualTo("rw-------");
      proxy.stop();

      try (RunningServer server =
              RunningServer.start(env, dir, "--snapshot-file", snapshot.toString())) {
        GetInventoryResponse served =
            server.inventory().getInventory(GetInventoryRequest.getDefaultInstance());

        assertThat(served.getStale()).isTrue();
        assertThat(served.getRevision()).isEqualTo(before.getRevision());
        assertThat(served.getHostsList()).isEqualTo(before.getHostsList());
        assertThat(served.getGroupsList()).isEqualTo(before.getGroupsList());
        assertThat(server.output()).contains("serving the snapshot file " + snapshot);
      }
    }
  }

  @Test
  void withoutASnapshotFileAServerStartedDuringAnOutageRefusesAndSaysWhy() throws Exception {
    String database = migrated("nosnapshot");
    Map<String, String> env = new HashMap<>(postgres.serverEnvironment(database));
    try (TcpProxy proxy = new TcpProxy(postgres.host(), postgres.port())) {
      env.put("INFRA_DB_HOST", "127.0.0.1");
      env.put("INFRA_DB_PORT", Integer.toString(proxy.port()));
      proxy.stop();

      ServerJar.Result result =
          ServerJar.run(env, dir, "serve", "--listen", "unix:" + dir.resolve("s.sock"));

      assertThat(result.exitCode()).isEqualTo(1);
      assertThat(result.output())
          .contains("database '" + database + "' on 127.0.0.1:" + proxy.port())
          .contains("does not answer");
    }
  }

  @Test
  void permissionErrorNeverFallsBackToStaleData() throws Exception {
    String database = migrated("permission");
    String role = database + "_reader";
    postgres.createRole(database, role, "reader-password-1");
    Map<String, String> env = new HashMap<>(postgres.serverEnvironment(database));
    env.put("INFRA_DB_USER", role);
    env.put("INFRA_DB_HOST", "127.0.0.1");
    env.put("INFRA_DB_PASSWORD", "reader-password-1");
    try (RunningServer server = RunningServer.start(env, dir)) {
      server.inventory().getInventory(GetInventoryRequest.getDefaultInstance());
      try (Inventory inventory = Inventory.open(postgres, database)) {
        inventory.dsl().execute("REVOKE SELECT ON inventory_revision FROM {0}",
            org.jooq.impl.DSL.name(role));
      }

      assertThatThrownBy(() -> server.inventory().getInventory(
              GetInventoryRequest.getDefaultInstance()))
          .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
            assertThat(e.getStatus().getDescription()).contains("user '" + role + "' may not read");
          });
    }
  }

  private String migrated(String purpose) throws Exception {
    String database = postgres.createDatabase(purpose);
    ServerJar.Result migrated = ServerJar.run(postgres.serverEnvironment(database), dir,
        "migrate", "--sample-data");
    assertThat(migrated.exitCode()).as(migrated.output()).isZero();
    return database;
  }

  private static Iterator<WatchResponse> watch(RunningServer server) {
    return InventoryGrpc.newBlockingStub(server.channel())
        .withDeadlineAfter(60, TimeUnit.SECONDS)
        .watch(WatchRequest.getDefaultInstance());
  }

  private static WatchResponse nextNewerThan(Iterator<WatchResponse> watch, long revision) {
    while (true) {
      WatchResponse message = watch.next();
      if (message.getRevision() > revision) {
        return message;
      }
    }
  }

  private void awaitFeedListening(String database) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    try (Inventory inventory = Inventory.open(postgres, database)) {
      while (System.nanoTime() < deadline) {
        int listening = inventory.dsl().fetchSingle(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = {0}"
                + " AND application_name = 'voip-inventory change feed' AND state = 'idle'",
            database).get(0, Integer.class);
        if (listening == 1) {
          return;
        }
        Thread.sleep(100);
      }
    }
    throw new AssertionError("the server's change feed did not connect");
  }

  private static GetInventoryResponse awaitFresh(InventoryGrpc.InventoryBlockingStub inventory)
      throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    StatusRuntimeException last = null;
    while (System.nanoTime() < deadline) {
      try {
        GetInventoryResponse response =
            inventory.getInventory(GetInventoryRequest.getDefaultInstance());
        if (!response.getStale()) {
          return response;
        }
      } catch (StatusRuntimeException e) {
        last = e;
      }
      Thread.sleep(250);
    }
    throw new AssertionError("the server did not serve fresh data again", last);
  }

  private static void awaitFile(Path file) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (System.nanoTime() < deadline && !Files.exists(file)) {
      Thread.sleep(100);
    }
    assertThat(file).exists();
  }
}

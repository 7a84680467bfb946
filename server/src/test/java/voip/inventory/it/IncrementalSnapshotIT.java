package voip.inventory.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static voip.inventory.db.jooq.Tables.VM_CONFIGS;
import static voip.inventory.db.jooq.Tables.VM_GROUP_MEMBERSHIP;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.Optional;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import voip.inventory.config.DatabaseSettings;
import voip.inventory.db.Database;
import voip.inventory.snapshot.InventoryReader;
import voip.inventory.testing.Inventory;
import voip.inventory.testing.RunningServer;
import voip.inventory.testing.ServerJar;
import voip.inventory.testing.TestPostgres;
import voip.inventory.v1.GetHostRequest;
import voip.inventory.v1.GetHostResponse;
import voip.inventory.v1.GetInventoryRequest;
import voip.inventory.v1.GetInventoryResponse;

/**
 * The server brings its snapshot up to date by reading only the hosts the change log names.
 * After every kind of change, its whole inventory must equal a complete read of the database.
 */
class IncrementalSnapshotIT {
  private static final GetInventoryRequest EVERYTHING =
      GetInventoryRequest.newBuilder().setIncludeDisabled(true).build();

  @TempDir Path dir;

  private final TestPostgres postgres = TestPostgres.get();
  private String database;

  @BeforeEach
  void fleet() throws Exception {
    database = postgres.createDatabase("incremental");
    ServerJar.Result migrated =
        ServerJar.run(postgres.serverEnvironment(database), dir, "migrate", "--sample-data");
    assertThat(migrated.exitCode()).as(migrated.output()).isZero();
    try (Inventory inventory = Inventory.open(postgres, database)) {
      inventory.group("media", "{\"rtp_ports\": \"10000-20000\"}");
      for (int i = 0; i < 40; i++) {
        String name = String.format("voip-fleet-%02d", i);
        inventory.host(name, i % 3 == 0 ? "staging" : "production", "10.7.0." + (i + 1));
        inventory.member(name, i % 2 == 0 ? "media" : "voip_servers");
      }
    }
  }

  @Test
  void everyKindOfChangeLeavesTheSameInventoryAsACompleteRead() throws Exception {
    try (RunningServer server =
            RunningServer.start(postgres.serverEnvironment(database), dir, "-v");
        Inventory inventory = Inventory.open(postgres, database)) {
      assertMatchesCompleteRead(server);

      inventory.hostVars("voip-fleet-07", "{\"sip_port\": 5080, \"ansible_host\": \"ignored\"}");
      assertMatchesCompleteRead(server);

      inventory.host("aaa-first", "production", "10.7.1.1").member("aaa-first", "media");
      inventory.host("zzz-last", "staging", "10.7.1.2");
      inventory.host("voip-fleet-07b", "production", "10.7.1.3");
      assertMatchesCompleteRead(server);

      inventory.dsl().update(VM_CONFIGS).set(VM_CONFIGS.VM_NAME, "voip-renamed")
          .where(VM_CONFIGS.VM_NAME.eq("voip-fleet-10")).execute();
      assertMatchesCompleteRead(server);
      assertThat(host(server, "voip-renamed").getGroupsList()).containsExactly("media");
      assertThatThrownBy(() -> host(server, "voip-fleet-10"))
          .isInstanceOfSatisfying(StatusRuntimeException.class,
              e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));

      inventory.dsl().deleteFrom(VM_CONFIGS)
          .where(VM_CONFIGS.VM_NAME.eq("voip-fleet-11")).execute();
      inventory.disable("voip-fleet-12");
      inventory.dsl().deleteFrom(VM_GROUP_MEMBERSHIP)
          .where(VM_GROUP_MEMBERSHIP.VM_ID.eq(inventory.dsl().select(VM_CONFIGS.ID)
              .from(VM_CONFIGS).where(VM_CONFIGS.VM_NAME.eq("voip-fleet-13")).asField()))
          .execute();
      inventory.member("voip-fleet-14", "voip_servers");
      assertMatchesCompleteRead(server);

      inventory.dsl().update(VM_CONFIGS).set(VM_CONFIGS.CPUS, 64)
          .where(VM_CONFIGS.VM_NAME.eq("no-such-host")).execute();
      assertMatchesCompleteRead(server);

      inventory.dsl().transaction(configuration -> {
        var tx = DSL.using(configuration);
        tx.update(VM_CONFIGS).set(VM_CONFIGS.CPUS, 16)
            .where(VM_CONFIGS.VM_NAME.eq("voip-fleet-15")).execute();
        tx.deleteFrom(VM_CONFIGS).where(VM_CONFIGS.VM_NAME.eq("voip-fleet-16")).execute();
        tx.update(VM_CONFIGS).set(VM_CONFIGS.VM_NAME, "voip-fleet-16")
            .where(VM_CONFIGS.VM_NAME.eq("voip-fleet-17")).execute();
      });
      assertMatchesCompleteRead(server);

      inventory.dsl().update(VM_CONFIGS).set(VM_CONFIGS.MEMORY_MB, 8192).execute();
      inventory.group("new_group", "{}").member("voip-fleet-18", "new_group");
      inventory.allVars("{\"ntp_server\": \"10.0.0.123\"}");
      assertMatchesCompleteRead(server);

      inventory.hostVars("voip-fleet-19", "{\"after_full_read\": true}");
      assertMatchesCompleteRead(server);

      assertThat(server.output()).contains("changed 1 hosts; reading those")
          .contains("changed 3 hosts; reading those");
    }
  }

  private void assertMatchesCompleteRead(RunningServer server) {
    GetInventoryResponse served = server.inventory().getInventory(EVERYTHING);
    GetInventoryResponse complete = completeRead();
    assertThat(served.getRevision()).isEqualTo(complete.getRevision());
    assertThat(served.toBuilder().clearReadTime().build())
        .isEqualTo(complete.toBuilder().clearReadTime().build());
  }

  private GetInventoryResponse completeRead() {
    DatabaseSettings settings =
        DatabaseSettings.resolve(postgres.serverEnvironment(database), Optional.empty());
    try (Database db = Database.open(settings, Database.Options.forServing())) {
      return new InventoryReader(db).refresh(null).toCompleteResponse();
    }
  }

  private static GetHostResponse host(RunningServer server, String name) {
    return server.inventory().getHost(GetHostRequest.newBuilder().setName(name).build());
  }
}

package voip.inventory.it;

import static org.assertj.core.api.Assertions.assertThat;
import static voip.inventory.db.jooq.Tables.VM_CONFIGS;

import java.nio.file.Path;
import org.jooq.JSONB;
import org.jooq.impl.DSL;
import org.jooq.impl.SQLDataType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import voip.inventory.testing.Inventory;
import voip.inventory.testing.RunningServer;
import voip.inventory.testing.ServerJar;
import voip.inventory.testing.TestPostgres;
import voip.inventory.v1.GetInventoryRequest;
import voip.inventory.v1.GetInventoryResponse;

/** A fleet of 100,000 hosts gets through in one response, far above gRPC's default 4 MiB limit. */
class LargeInventoryIT {
  private static final int HOSTS = 100_000;

  @TempDir Path dir;

  @Test
  void hundredThousandHostsArriveInOneResponse() throws Exception {
    TestPostgres postgres = TestPostgres.get();
    String database = postgres.createDatabase("large");
    var env = postgres.serverEnvironment(database);
    assertThat(ServerJar.run(env, dir, "migrate").exitCode()).isZero();
    try (Inventory inventory = Inventory.open(postgres, database)) {
      var i = DSL.field(DSL.name("s", "i"), SQLDataType.INTEGER);
      inventory.dsl().insertInto(VM_CONFIGS, VM_CONFIGS.VM_NAME, VM_CONFIGS.ENVIRONMENT,
              VM_CONFIGS.CPUS, VM_CONFIGS.MEMORY_MB, VM_CONFIGS.DISK_GB, VM_CONFIGS.IP_ADDRESS,
              VM_CONFIGS.OPENSIPS_CONFIG)
          .select(DSL.select(DSL.concat(DSL.inline("voip-"), i.cast(SQLDataType.VARCHAR)),
                  DSL.inline("production"), DSL.inline(4), DSL.inline(8192), DSL.inline(100),
                  DSL.inline("10.0.0.1"),
                  DSL.val(JSONB.valueOf("{\"listen\": [{\"proto\": \"udp\", \"port\": 5060}],"
                      + " \"modules\": [\"tm\", \"rr\", \"dialog\", \"usrloc\", \"registrar\"]}")))
              .from(DSL.generateSeries(1, HOSTS).as("s", "i")))
          .execute();
    }

    try (RunningServer server = RunningServer.start(env, dir)) {
      GetInventoryResponse response =
          server.inventory().getInventory(GetInventoryRequest.getDefaultInstance());

      assertThat(response.getHostsCount()).isEqualTo(HOSTS);
      assertThat(response.getSerializedSize()).isGreaterThan(4 * 1024 * 1024);
      assertThat(response.getHosts(HOSTS - 1).getVarsJson())
          .contains("\"ansible_host\": \"10.0.0.1\"");
    }
  }
}

package voip.inventory.it;

import static org.assertj.core.api.Assertions.assertThat;
import static voip.inventory.db.jooq.Tables.VM_CONFIGS;

import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.jooq.JSONB;
import org.jooq.impl.DSL;
import org.jooq.impl.SQLDataType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import voip.inventory.testing.Inventory;
import voip.inventory.testing.RunningServer;
import voip.inventory.testing.ServerJar;
import voip.inventory.testing.TestPostgres;
import voip.inventory.v1.GetInventoryRequest;
import voip.inventory.v1.GetInventoryResponse;
import voip.inventory.v1.InventoryGrpc;

/** A fleet of 100,000 hosts: tens of MiB a response, far above gRPC's default 4 MiB limit. */
class LargeInventoryIT {
  private static final int HOSTS = 100_000;

  private static Map<String, String> env;

  @TempDir Path dir;

  @BeforeAll
  static void fleet(@TempDir Path setup) throws Exception {
    TestPostgres postgres = TestPostgres.get();
    String database = postgres.createDatabase("large");
    env = postgres.serverEnvironment(database);
    assertThat(ServerJar.run(env, setup, "migrate").exitCode()).isZero();
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
  }

  @Test
  void hundredThousandHostsArriveInOneResponse() throws Exception {
    try (RunningServer server = RunningServer.start(env, dir)) {
      GetInventoryResponse response =
          server.inventory().getInventory(GetInventoryRequest.getDefaultInstance());

      assertThat(response.getHostsCount()).isEqualTo(HOSTS);
      assertThat(response.getSerializedSize()).isGreaterThan(4 * 1024 * 1024);
      assertThat(response.getHosts(HOSTS - 1).getVarsJson())
          .contains("\"ansible_host\": \"10.0.0.1\"");
    }
  }

  /**
   * Responses wait their turn for the server's network buffers instead of failing. With 96 MiB
   * of direct memory, far less than the callers' responses together, every caller still gets
   * the whole inventory; before, the server ran out of direct memory and the calls failed.
   * Callers that give up while they wait leave nothing held: a call after all of them is
   * answered.
   */
  @Test
  void manyCallersAtOnceAllGetTheWholeInventoryWithLittleDirectMemory() throws Exception {
    int callers = 8;
    Map<String, String> small = new HashMap<>(env);
    small.put("JDK_JAVA_OPTIONS", "-XX:MaxDirectMemorySize=96m");
    try (RunningServer server = RunningServer.start(small, dir)) {
      server.inventory().getInventory(GetInventoryRequest.getDefaultInstance());
      List<CompletableFuture<GetInventoryResponse>> calls = new ArrayList<>();
      List<CompletableFuture<GetInventoryResponse>> impatient = new ArrayList<>();
      for (int i = 0; i < callers; i++) {
        CompletableFuture<GetInventoryResponse> call = new CompletableFuture<>();
        InventoryGrpc.newStub(server.channel()).withDeadlineAfter(120, TimeUnit.SECONDS)
            .getInventory(GetInventoryRequest.getDefaultInstance(), completing(call));
        calls.add(call);
        CompletableFuture<GetInventoryResponse> gaveUp = new CompletableFuture<>();
        InventoryGrpc.newStub(server.channel()).withDeadlineAfter(300, TimeUnit.MILLISECONDS)
            .getInventory(GetInventoryRequest.getDefaultInstance(), completing(gaveUp));
        impatient.add(gaveUp);
      }

      for (CompletableFuture<GetInventoryResponse> call : calls) {
        GetInventoryResponse response = call.get(150, TimeUnit.SECONDS);
        assertThat(response.getHostsCount()).isEqualTo(HOSTS);
        assertThat(response.getSerializedSize()).isGreaterThan(16 * 1024 * 1024);
      }
      CompletableFuture.allOf(impatient.toArray(CompletableFuture[]::new))
          .handle((done, failed) -> null).get(30, TimeUnit.SECONDS);
      assertThat(server.inventory().getInventory(GetInventoryRequest.getDefaultInstance())
          .getHostsCount()).isEqualTo(HOSTS);
      assertThat(server.output()).doesNotContain("OutOfMemoryError");
    }
  }

  private static <T> StreamObserver<T> completing(CompletableFuture<T> future) {
    return new StreamObserver<>() {
      @Override
      public void onNext(T value) {
        future.complete(value);
      }

      @Override
      public void onError(Throwable t) {
        future.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
        if (!future.isDone()) {
          future.completeExceptionally(new IllegalStateException("no response before the end"));
        }
      }
    };
  }
}

package voip.inventory.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import voip.inventory.testing.Grpcurl;
import voip.inventory.testing.RunningServer;
import voip.inventory.testing.ServerJar;
import voip.inventory.testing.TestPostgres;

/** Diagnosis with the real grpcurl and no .proto file at hand, as the README shows it. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class GrpcurlIT {
  @TempDir static Path dir;

  private RunningServer server;

  @BeforeAll
  void startServer() throws Exception {
    TestPostgres postgres = TestPostgres.get();
    var env = postgres.serverEnvironment(postgres.createDatabase("grpcurl"));
    assertThat(ServerJar.run(env, dir, "migrate", "--sample-data").exitCode()).isZero();
    server = RunningServer.start(env, dir);
  }

  @AfterAll
  void stopServer() throws Exception {
    server.close();
  }

  @Test
  void listShowsTheInventoryHealthAndReflectionServices() throws Exception {
    ServerJar.Result result = Grpcurl.run(server.socket(), "SOCKET", "list");

    assertThat(result.exitCode()).as(result.output()).isZero();
    assertThat(result.output().lines())
        .contains("voip.inventory.v1.Inventory", "grpc.health.v1.Health");
  }

  @Test
  void describeShowsTheDocumentedRpcs() throws Exception {
    ServerJar.Result result =
        Grpcurl.run(server.socket(), "SOCKET", "describe", "voip.inventory.v1.Inventory");

    assertThat(result.exitCode()).as(result.output()).isZero();
    assertThat(result.output()).contains("rpc GetInventory").contains("rpc GetHost")
        .contains("rpc GetRevision");
  }

  @Test
  void healthCheckSaysServing() throws Exception {
    ServerJar.Result result = Grpcurl.run(server.socket(), "SOCKET", "grpc.health.v1.Health/Check");

    assertThat(result.exitCode()).as(result.output()).isZero();
    assertThat(result.output()).contains("\"status\": \"SERVING\"");
  }

  @Test
  void getHostReturnsItsAnsibleHost() throws Exception {
    ServerJar.Result result = Grpcurl.run(server.socket(), "-d", "{\"name\": \"voip-prod-2\"}",
        "SOCKET", "voip.inventory.v1.Inventory/GetHost");

    assertThat(result.exitCode()).as(result.output()).isZero();
    assertThat(result.output()).contains("\"name\": \"voip-prod-2\"")
        .contains("\\\"ansible_host\\\": \\\"192.168.122.11\\\"");
  }

  @Test
  void unknownHostShowsNotFoundWithTheName() throws Exception {
    ServerJar.Result result = Grpcurl.run(server.socket(), "-d", "{\"name\": \"ghost\"}", "SOCKET",
        "voip.inventory.v1.Inventory/GetHost");

    assertThat(result.exitCode()).isNotZero();
    assertThat(result.output()).contains("NotFound").contains("ghost");
  }
}

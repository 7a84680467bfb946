package voip.inventory.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.util.JsonFormat;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import voip.inventory.testing.Inventory;
import voip.inventory.testing.RunningServer;
import voip.inventory.testing.ServerJar;
import voip.inventory.testing.TestPostgres;
import voip.inventory.v1.GetHostRequest;
import voip.inventory.v1.GetHostResponse;
import voip.inventory.v1.GetInventoryRequest;
import voip.inventory.v1.GetInventoryResponse;
import voip.inventory.v1.GetRevisionRequest;
import voip.inventory.v1.Group;
import voip.inventory.v1.Host;

/** The Inventory service's contract, against a real server on a real socket and PostgreSQL. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class InventoryContractIT {
  @TempDir static Path dir;

  private final TestPostgres postgres = TestPostgres.get();
  private String database;
  private RunningServer server;

  @BeforeAll
  void startServerOnSampleDataWithExtras() throws Exception {
    database = postgres.createDatabase("contract");
    Map<String, String> env = postgres.serverEnvironment(database);
    ServerJar.Result migrated = ServerJar.run(env, dir, "migrate", "--sample-data");
    assertThat(migrated.exitCode()).as(migrated.output()).isZero();
    try (Inventory inventory = Inventory.open(postgres, database)) {
      inventory
          .host("voip-stage-1", "staging", "10.20.0.5/24")
          .host("voip-dev-old", "development", "10.30.0.9")
          .disable("voip-dev-old")
          .hostVars("voip-stage-1",
              "{\"sip_port\": 5060, \"ansible_host\": \"spoofed\","
                  + " \"codecs\": [\"opus\", \"g722\"]}")
          .opensipsConfig("voip-stage-1",
              "{\"listen\": [{\"proto\": \"udp\", \"port\": 5060}], \"tls\": {\"enabled\": false}}")
          .group("edge", "{\"region\": \"eu-west\"}")
          .group("sbc", "{\"max_calls\": 500}")
          .nest("edge", "sbc")
          .nest("edge", "voip_servers")
          .member("voip-stage-1", "sbc")
          .member("voip-dev-old", "sbc")
          .allVars("{\"ansible_python_interpreter\": \"/usr/bin/python3\","
              + " \"ntp_server\": \"pool.ntp.org\"}");
    }
    server = RunningServer.start(env, dir);
  }

  @AfterAll
  void stopServer() throws Exception {
    server.close();
  }

  @Test
  void wholeInventoryHasEnabledHostsOrderedByNameAndEveryGroup() {
    GetInventoryResponse inventory =
        server.inventory().getInventory(GetInventoryRequest.getDefaultInstance());

    assertThat(inventory.getHostsList()).extracting(Host::getName)
        .containsExactly("voip-prod-1", "voip-prod-2", "voip-stage-1");
    assertThat(inventory.getGroupsList()).extracting(Group::getName).containsExactly(
        "asterisk_servers", "edge", "opensips_servers", "rtpengine_servers", "sbc", "voip_servers");
    assertThat(group(inventory, "voip_servers").getHostsList())
        .containsExactly("voip-prod-1", "voip-prod-2");
    assertThat(vars(group(inventory, "voip_servers").getVarsJson()))
        .containsEntry("ansible_user", string("admin"))
        .containsEntry("ansible_become", Value.newBuilder().setBoolValue(true).build());
    assertThat(vars(inventory.getAllVarsJson()))
        .containsEntry("ntp_server", string("pool.ntp.org"));
    assertThat(inventory.getRevision()).isPositive();
    assertThat(inventory.getReadTime().getSeconds()).isPositive();
  }

  @Test
  void hostVariablesUseTheOriginalScriptsNames() {
    GetHostResponse host = getHost("voip-prod-1");
    Map<String, Value> vars = vars(host.getHost().getVarsJson());

    assertThat(vars).containsEntry("ansible_host", string("192.168.122.10"))
        .containsEntry("vm_cpus", number(4))
        .containsEntry("vm_memory_mb", number(8192))
        .containsEntry("vm_disk_gb", number(100))
        .containsEntry("opensips_version", string("3.4"))
        .containsEntry("asterisk_version", string("20"))
        .containsEntry("rtpengine_version", string("latest"))
        .containsEntry("environment", string("production"))
        .containsEntry("opensips_config",
            Value.newBuilder().setStructValue(Struct.getDefaultInstance()).build());
    assertThat(host.getGroupsList()).containsExactly(
        "asterisk_servers", "opensips_servers", "rtpengine_servers", "voip_servers");
  }

  @Test
  void jsonbVariablesArriveAsStructuredData() {
    Map<String, Value> vars = vars(getHost("voip-stage-1").getHost().getVarsJson());

    assertThat(vars.get("codecs").getListValue().getValuesList())
        .containsExactly(string("opus"), string("g722"));
    Struct opensips = vars.get("opensips_config").getStructValue();
    assertThat(opensips.getFieldsOrThrow("listen").getListValue().getValues(0).getStructValue()
        .getFieldsOrThrow("port")).isEqualTo(number(5060));
    assertThat(opensips.getFieldsOrThrow("tls").getStructValue().getFieldsOrThrow("enabled")
        .getBoolValue()).isFalse();
  }

  @Test
  void fixedColumnsWinOverExtraVariablesAndAddressesLoseTheirPrefix() {
    Map<String, Value> vars = vars(getHost("voip-stage-1").getHost().getVarsJson());

    assertThat(vars).containsEntry("ansible_host", string("10.20.0.5"))
        .containsEntry("sip_port", number(5060));
  }

  @Test
  void nestedGroupsListTheirChildren() {
    GetInventoryResponse inventory =
        server.inventory().getInventory(GetInventoryRequest.getDefaultInstance());

    assertThat(group(inventory, "edge").getChildrenList()).containsExactly("sbc", "voip_servers");
    assertThat(group(inventory, "edge").getHostsList()).isEmpty();
    assertThat(group(inventory, "sbc").getChildrenList()).isEmpty();
  }

  @Test
  void environmentFilterKeepsOnlyThoseHostsAndTheirMemberships() {
    GetInventoryResponse staging = server.inventory().getInventory(
        GetInventoryRequest.newBuilder().addEnvironments("staging").build());

    assertThat(staging.getHostsList()).extracting(Host::getName).containsExactly("voip-stage-1");
    assertThat(group(staging, "sbc").getHostsList()).containsExactly("voip-stage-1");
    assertThat(group(staging, "voip_servers").getHostsList()).isEmpty();
  }

  @Test
  void disabledHostsAppearOnlyWhenAskedFor() {
    GetInventoryResponse withDisabled = server.inventory().getInventory(
        GetInventoryRequest.newBuilder().setIncludeDisabled(true).build());
    GetInventoryResponse development = server.inventory().getInventory(
        GetInventoryRequest.newBuilder().addEnvironments("development").build());

    assertThat(withDisabled.getHostsList()).extracting(Host::getName).contains("voip-dev-old");
    assertThat(host(withDisabled, "voip-dev-old").getEnabled()).isFalse();
    assertThat(group(withDisabled, "sbc").getHostsList())
        .containsExactly("voip-dev-old", "voip-stage-1");
    assertThat(development.getHostsList()).isEmpty();
  }

  @Test
  void unknownHostIsNotFoundAndNamed() {
    assertThatThrownBy(() -> getHost("voip-nowhere-9"))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
          assertThat(e.getStatus().getDescription()).contains("voip-nowhere-9");
        });
  }

  @Test
  void revisionGrowsAfterACommittedChangeAndTheNextInventoryShowsIt() throws Exception {
    long before =
        server.inventory().getRevision(GetRevisionRequest.getDefaultInstance()).getRevision();
    server.inventory().getInventory(GetInventoryRequest.getDefaultInstance());

    try (Inventory inventory = Inventory.open(postgres, database)) {
      inventory.host("voip-canary-1", "canary", "192.168.122.12");
    }
    try {
      long after =
          server.inventory().getRevision(GetRevisionRequest.getDefaultInstance()).getRevision();
      GetInventoryResponse inventory = server.inventory().getInventory(
          GetInventoryRequest.newBuilder().addEnvironments("canary").build());

      assertThat(after).isGreaterThan(before);
      assertThat(inventory.getRevision()).isEqualTo(after);
      assertThat(inventory.getHostsList()).extracting(Host::getName)
          .containsExactly("voip-canary-1");
    } finally {
      try (Inventory inventory = Inventory.open(postgres, database)) {
        inventory.dsl().deleteFrom(voip.inventory.db.jooq.Tables.VM_CONFIGS)
            .where(voip.inventory.db.jooq.Tables.VM_CONFIGS.VM_NAME.eq("voip-canary-1")).execute();
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {
    "", "production\u0000", "an-environment-name-that-is-far-longer-than-fifty-characters"})
  void invalidEnvironmentFiltersAreRefusedAsInvalidArgument(String environment) {
    assertThatThrownBy(() -> server.inventory().getInventory(
            GetInventoryRequest.newBuilder().addEnvironments(environment).build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
          assertThat(e.getStatus().getDescription()).contains("environments");
        });
  }

  @Test
  void emptyOrOverlongHostNamesAreRefusedAsInvalidArgument() {
    for (String name : List.of("", "x".repeat(256))) {
      assertThatThrownBy(() -> getHost(name))
          .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(e.getStatus().getDescription()).contains("name");
          });
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {
    "voip'; DROP TABLE vm_configs; --", "\"quoted\"", "semi;colon", "名前-ホスト",
    "emoji-🎉", "back\\slash", "%wild_card%", "voip-prod-1' OR '1'='1"})
  void strangeHostNamesAreNotFoundAndChangeNothing(String name) throws Exception {
    long revision;
    int hosts;
    try (Inventory inventory = Inventory.open(postgres, database)) {
      revision = inventory.revision();
      hosts = inventory.hostCount();
    }

    assertThatThrownBy(() -> getHost(name))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e ->
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));

    try (Inventory inventory = Inventory.open(postgres, database)) {
      assertThat(inventory.revision()).isEqualTo(revision);
      assertThat(inventory.hostCount()).isEqualTo(hosts);
    }
  }

  private GetHostResponse getHost(String name) {
    return server.inventory().getHost(GetHostRequest.newBuilder().setName(name).build());
  }

  private static Group group(GetInventoryResponse inventory, String name) {
    return inventory.getGroupsList().stream().filter(g -> g.getName().equals(name)).findFirst()
        .orElseThrow(() -> new AssertionError("no group " + name));
  }

  private static Host host(GetInventoryResponse inventory, String name) {
    return inventory.getHostsList().stream().filter(h -> h.getName().equals(name)).findFirst()
        .orElseThrow(() -> new AssertionError("no host " + name));
  }

  static Map<String, Value> vars(String json) {
    Struct.Builder struct = Struct.newBuilder();
    try {
      JsonFormat.parser().merge(json, struct);
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError("not a JSON object: " + json, e);
    }
    return struct.getFieldsMap();
  }

  static Value string(String value) {
    return Value.newBuilder().setStringValue(value).build();
  }

  static Value number(double value) {
    return Value.newBuilder().setNumberValue(value).build();
  }
}

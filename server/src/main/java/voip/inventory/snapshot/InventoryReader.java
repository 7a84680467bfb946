package voip.inventory.snapshot;

import static voip.inventory.db.jooq.Tables.ANSIBLE_GROUPS;
import static voip.inventory.db.jooq.Tables.ANSIBLE_GROUP_CHILDREN;
import static voip.inventory.db.jooq.Tables.INVENTORY_ALL_VARS;
import static voip.inventory.db.jooq.Tables.INVENTORY_REVISION;
import static voip.inventory.db.jooq.Tables.VM_CONFIGS;
import static voip.inventory.db.jooq.Tables.VM_GROUP_MEMBERSHIP;

import com.google.gson.FormattingStyle;
import com.google.gson.stream.JsonWriter;
import com.google.protobuf.ByteString;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jooq.Cursor;
import org.jooq.DSLContext;
import org.jooq.Field;
import org.jooq.JSONB;
import org.jooq.Record;
import org.jooq.Record2;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.jooq.impl.SQLDataType;
import voip.inventory.db.Database;
import voip.inventory.db.jooq.tables.AnsibleGroups;
import voip.inventory.snapshot.InventorySnapshot.GroupEntry;
import voip.inventory.v1.Host;

/**
 * Reads the inventory from PostgreSQL. Every read runs in one REPEATABLE READ, READ ONLY
 * transaction, so the data and the revision it reports belong to the same committed state.
 */
public final class InventoryReader {
  private static final int FETCH_SIZE = 10_000;
  private static final JSONB EMPTY_OBJECT = JSONB.valueOf("{}");

  /** ansible_host is the address alone, without a prefix length such as /24. */
  private static final Field<String> HOST_ADDRESS =
      DSL.function("host", SQLDataType.VARCHAR, VM_CONFIGS.IP_ADDRESS);

  /**
   * The host variables that come from columns, named as the user's original script named them.
   * A column wins over an extra variable (host_vars) of the same name.
   */
  private static final List<String> COLUMN_VARIABLES = List.of(
      "ansible_host", "vm_cpus", "vm_memory_mb", "vm_disk_gb", "opensips_version",
      "asterisk_version", "rtpengine_version", "opensips_config", "asterisk_config",
      "rtpengine_config", "environment");

  /**
   * host_vars as JSON text, without the names of {@link #COLUMN_VARIABLES}. Rewritten only when
   * it has one of them: building or merging JSONB in PostgreSQL costs ~20 us a host, three times
   * what reading it as text does, so the server writes the host's JSON itself.
   */
  private static final Field<String> EXTRA_VARS_JSON = DSL.field(
      "(CASE WHEN jsonb_exists_any({0}, {1}) THEN {0} - {1} ELSE {0} END)::text",
      SQLDataType.VARCHAR, VM_CONFIGS.HOST_VARS,
      DSL.val(COLUMN_VARIABLES.toArray(String[]::new), SQLDataType.VARCHAR.array()));

  private static final Field<String> OPENSIPS_CONFIG_JSON = jsonText(VM_CONFIGS.OPENSIPS_CONFIG);
  private static final Field<String> ASTERISK_CONFIG_JSON = jsonText(VM_CONFIGS.ASTERISK_CONFIG);
  private static final Field<String> RTPENGINE_CONFIG_JSON =
      jsonText(VM_CONFIGS.RTPENGINE_CONFIG);

  private static final FormattingStyle JSON_STYLE =
      FormattingStyle.COMPACT.withSpaceAfterSeparators(true);

  private static final Field<Boolean> ENABLED = DSL.coalesce(VM_CONFIGS.ENABLED, false);

  private final Database database;

  public InventoryReader(Database database) {
    this.database = database;
  }

  /** The current revision, read on its own. */
  public Revision readRevision() {
    return revision(database.dsl());
  }

  /** The whole inventory, every host included, at one revision. */
  public InventorySnapshot readSnapshot() {
    return inSnapshotTransaction(dsl -> {
      Revision revision = revision(dsl);
      HostRows hosts = readHosts(dsl);
      String allVars = dsl.select(INVENTORY_ALL_VARS.VARS).from(INVENTORY_ALL_VARS)
          .fetchOptional(INVENTORY_ALL_VARS.VARS)
          .map(JSONB::data)
          .orElse("{}");
      return new InventorySnapshot(
          revision.revision(), Instant.now(), allVars, hosts.hosts(), readGroups(dsl, hosts));
    });
  }

  /** Every host in name order, and where each host's id is in that order. */
  private record HostRows(List<Host> hosts, Map<Integer, Integer> positionOfId) {}

  private HostRows readHosts(DSLContext dsl) {
    List<Host> hosts = new ArrayList<>();
    Map<Integer, Integer> positionOfId = new HashMap<>();
    try (Cursor<? extends Record> cursor = dsl
        .select(VM_CONFIGS.ID, VM_CONFIGS.VM_NAME, VM_CONFIGS.ENVIRONMENT, ENABLED, HOST_ADDRESS,
            VM_CONFIGS.CPUS, VM_CONFIGS.MEMORY_MB, VM_CONFIGS.DISK_GB,
            VM_CONFIGS.OPENSIPS_VERSION, VM_CONFIGS.ASTERISK_VERSION, VM_CONFIGS.RTPENGINE_VERSION,
            OPENSIPS_CONFIG_JSON, ASTERISK_CONFIG_JSON, RTPENGINE_CONFIG_JSON, EXTRA_VARS_JSON)
        .from(VM_CONFIGS)
        .orderBy(VM_CONFIGS.VM_NAME)
        .fetchSize(FETCH_SIZE)
        .fetchLazy()) {
      StringWriter text = new StringWriter(1024);
      for (Record row : cursor) {
        text.getBuffer().setLength(0);
        positionOfId.put(row.get(VM_CONFIGS.ID), hosts.size());
        hosts.add(Host.newBuilder()
            .setName(row.get(VM_CONFIGS.VM_NAME))
            .setEnvironment(row.get(VM_CONFIGS.ENVIRONMENT))
            .setEnabled(row.get(ENABLED))
            // Held as UTF-8 bytes, so every response serialises this, the bulk of it, by copying.
            .setVarsJsonBytes(ByteString.copyFromUtf8(hostVarsJson(row, text)))
            .build());
      }
    }
    return new HostRows(hosts, positionOfId);
  }

  /**
   * The host's variables as one JSON object: the column variables in {@link #COLUMN_VARIABLES}
   * order, then the extra ones. Gson writes and escapes; the JSONB columns come as PostgreSQL's
   * own JSON text and go in as they are.
   */
  private static String hostVarsJson(Record row, StringWriter text) {
    try {
      JsonWriter json = new JsonWriter(text);
      json.setFormattingStyle(JSON_STYLE);
      json.beginObject();
      json.name("ansible_host").value(row.get(HOST_ADDRESS));
      json.name("vm_cpus").value(row.get(VM_CONFIGS.CPUS));
      json.name("vm_memory_mb").value(row.get(VM_CONFIGS.MEMORY_MB));
      json.name("vm_disk_gb").value(row.get(VM_CONFIGS.DISK_GB));
      json.name("opensips_version").value(row.get(VM_CONFIGS.OPENSIPS_VERSION));
      json.name("asterisk_version").value(row.get(VM_CONFIGS.ASTERISK_VERSION));
      json.name("rtpengine_version").value(row.get(VM_CONFIGS.RTPENGINE_VERSION));
      json.name("opensips_config").jsonValue(row.get(OPENSIPS_CONFIG_JSON));
      json.name("asterisk_config").jsonValue(row.get(ASTERISK_CONFIG_JSON));
      json.name("rtpengine_config").jsonValue(row.get(RTPENGINE_CONFIG_JSON));
      json.name("environment").value(row.get(VM_CONFIGS.ENVIRONMENT));
      json.endObject();
      json.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e); // a StringWriter does not fail
    }
    String extra = row.get(EXTRA_VARS_JSON);
    StringBuffer buffer = text.getBuffer();
    if (extra.length() > 2) { // "{...}" and not "{}": its members join the object
      buffer.setLength(buffer.length() - 1);
      buffer.append(", ").append(extra, 1, extra.length());
    }
    return buffer.toString();
  }

  private static Field<String> jsonText(Field<JSONB> config) {
    return DSL.coalesce(config, EMPTY_OBJECT).cast(SQLDataType.VARCHAR);
  }

  /**
   * Every group with its members and children. Memberships are read as ids and named here: at
   * 10,000 hosts that is 6 ms where joining the names in SQL took 55.
   */
  private List<GroupEntry> readGroups(DSLContext dsl, HostRows hosts) {
    Map<Integer, List<Integer>> memberPositions = new HashMap<>();
    try (Cursor<Record2<Integer, Integer>> cursor = dsl
        .select(VM_GROUP_MEMBERSHIP.GROUP_ID, VM_GROUP_MEMBERSHIP.VM_ID)
        .from(VM_GROUP_MEMBERSHIP)
        .fetchSize(FETCH_SIZE)
        .fetchLazy()) {
      for (Record2<Integer, Integer> row : cursor) {
        memberPositions.computeIfAbsent(row.value1(), id -> new ArrayList<>())
            .add(hosts.positionOfId().get(row.value2()));
      }
    }
    AnsibleGroups parent = ANSIBLE_GROUPS.as("parent");
    AnsibleGroups child = ANSIBLE_GROUPS.as("child");
    Map<String, List<String>> children = pairs(dsl, dsl
        .select(parent.GROUP_NAME, child.GROUP_NAME)
        .from(ANSIBLE_GROUP_CHILDREN)
        .join(parent).on(parent.ID.eq(ANSIBLE_GROUP_CHILDREN.PARENT_ID))
        .join(child).on(child.ID.eq(ANSIBLE_GROUP_CHILDREN.CHILD_ID))
        .orderBy(parent.GROUP_NAME, child.GROUP_NAME)
        .fetchLazy());
    return dsl
        .select(ANSIBLE_GROUPS.ID, ANSIBLE_GROUPS.GROUP_NAME,
            DSL.coalesce(ANSIBLE_GROUPS.DESCRIPTION, ""),
            DSL.coalesce(ANSIBLE_GROUPS.GROUP_VARS, EMPTY_OBJECT))
        .from(ANSIBLE_GROUPS)
        .orderBy(ANSIBLE_GROUPS.GROUP_NAME)
        .fetch(row -> new GroupEntry(
            row.value2(),
            row.value3(),
            row.value4().data(),
            names(hosts.hosts(), memberPositions.getOrDefault(row.value1(), List.of())),
            children.getOrDefault(row.value2(), List.of())));
  }

  /** The hosts at these positions, in host (name) order. */
  private static List<String> names(List<Host> hosts, List<Integer> positions) {
    int[] sorted = positions.stream().mapToInt(Integer::intValue).sorted().toArray();
    List<String> names = new ArrayList<>(sorted.length);
    for (int position : sorted) {
      names.add(hosts.get(position).getName());
    }
    return names;
  }

  private static Map<String, List<String>> pairs(
      DSLContext dsl, Cursor<Record2<String, String>> cursor) {
    Map<String, List<String>> byKey = new HashMap<>();
    try (cursor) {
      for (Record2<String, String> row : cursor) {
        byKey.computeIfAbsent(row.value1(), key -> new ArrayList<>()).add(row.value2());
      }
    }
    return byKey;
  }

  private static Revision revision(DSLContext dsl) {
    Record2<Long, OffsetDateTime> row = dsl
        .select(INVENTORY_REVISION.REVISION, INVENTORY_REVISION.CHANGED_AT)
        .from(INVENTORY_REVISION)
        .fetchOne();
    if (row == null) {
      throw new IllegalStateException(
          "inventory_revision has no row; run `voip-inventory migrate`");
    }
    return new Revision(row.value1(), row.value2().toInstant());
  }

  private <T> T inSnapshotTransaction(SnapshotWork<T> work) {
    return database.dsl().connectionResult(connection -> {
      connection.setAutoCommit(false);
      connection.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
      connection.setReadOnly(true);
      try {
        T result = work.read(DSL.using(connection, SQLDialect.POSTGRES));
        connection.commit();
        return result;
      } catch (RuntimeException e) {
        connection.rollback();
        throw e;
      }
    });
  }

  @FunctionalInterface
  private interface SnapshotWork<T> {
    T read(DSLContext dsl);
  }

  /** An inventory revision and when it was committed. */
  public record Revision(long revision, Instant changedAt) {}
}

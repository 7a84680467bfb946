package voip.inventory.snapshot;

import static voip.inventory.db.jooq.Tables.ANSIBLE_GROUPS;
import static voip.inventory.db.jooq.Tables.ANSIBLE_GROUP_CHILDREN;
import static voip.inventory.db.jooq.Tables.INVENTORY_ALL_VARS;
import static voip.inventory.db.jooq.Tables.INVENTORY_CHANGE_LOG;
import static voip.inventory.db.jooq.Tables.INVENTORY_REVISION;
import static voip.inventory.db.jooq.Tables.VM_CONFIGS;
import static voip.inventory.db.jooq.Tables.VM_GROUP_MEMBERSHIP;
import static voip.inventory.snapshot.InventorySnapshot.NAME_ORDER;

import com.google.gson.FormattingStyle;
import com.google.gson.stream.JsonWriter;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.logging.Logger;
import org.jooq.Condition;
import org.jooq.Cursor;
import org.jooq.DSLContext;
import org.jooq.Field;
import org.jooq.JSONB;
import org.jooq.Record;
import org.jooq.Record2;
import org.jooq.Record3;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.jooq.impl.SQLDataType;
import voip.inventory.db.Database;
import voip.inventory.db.jooq.tables.AnsibleGroups;
import voip.inventory.snapshot.InventorySnapshot.GroupRow;
import voip.inventory.snapshot.InventorySnapshot.HostEntry;
import voip.inventory.v1.Host;

/**
 * Reads the inventory from PostgreSQL. Every read runs in one REPEATABLE READ, READ ONLY
 * transaction, so the data and the revision it reports belong to the same committed state.
 */
public final class InventoryReader {
  private static final Logger logger = Logger.getLogger(InventoryReader.class.getName());
  private static final int FETCH_SIZE = 10_000;
  /** Above one host in this many changed, reading everything is cheaper than reading them. */
  private static final int MAX_INCREMENTAL_FRACTION = 8;
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

  /**
   * The whole inventory now, every host included, at one revision; from {@code current}
   * where it can: when the change log covers every
   * revision since {@code current} and names the hosts that changed, only those hosts and
   * their memberships are read. Otherwise (no snapshot yet, one loaded from a file, a change
   * to groups or the all group, more than one host in {@link #MAX_INCREMENTAL_FRACTION}
   * changed, or the log pruned past it) everything is read.
   */
  public InventorySnapshot refresh(InventorySnapshot current) {
    return inSnapshotTransaction(dsl -> {
      Revision revision = revision(dsl);
      if (current == null || !current.fromDatabase()
          || current.revision() < revision.logCompleteAfter()) {
        return readAll(dsl, revision, current);
      }
      if (current.revision() == revision.revision()) {
        return current;
      }
      List<Integer> changedIds = dsl
          .selectDistinct(INVENTORY_CHANGE_LOG.VM_ID)
          .from(INVENTORY_CHANGE_LOG)
          .where(INVENTORY_CHANGE_LOG.REVISION.gt(current.revision()))
          .fetch(INVENTORY_CHANGE_LOG.VM_ID);
      if (changedIds.contains(null)
          || changedIds.size() > Math.max(100, current.hostCount() / MAX_INCREMENTAL_FRACTION)) {
        return readAll(dsl, revision, current);
      }
      logger.fine(() -> "revisions " + (current.revision() + 1) + " to " + revision.revision()
          + " changed " + changedIds.size() + " hosts; reading those");
      Integer[] ids = changedIds.toArray(Integer[]::new);
      Map<Integer, List<Integer>> groupIds =
          readMemberships(dsl, VM_GROUP_MEMBERSHIP.VM_ID.eq(DSL.any(ids)));
      return current.withHosts(revision.revision(), Instant.now(), Set.copyOf(changedIds),
          readHosts(dsl, VM_CONFIGS.ID.eq(DSL.any(ids)), groupIds, null));
    });
  }

  /** Everything; hosts unchanged since {@code previous} (if any) share its memory. */
  private InventorySnapshot readAll(
      DSLContext dsl, Revision revision, InventorySnapshot previous) {
    Map<Integer, List<Integer>> groupIds = readMemberships(dsl, DSL.noCondition());
    List<HostEntry> hosts = readHosts(dsl, DSL.noCondition(), groupIds, previous);
    hosts.sort(Comparator.comparing(HostEntry::name, NAME_ORDER));
    String allVars = dsl.select(INVENTORY_ALL_VARS.VARS).from(INVENTORY_ALL_VARS)
        .fetchOptional(INVENTORY_ALL_VARS.VARS)
        .map(JSONB::data)
        .orElse("{}");
    return new InventorySnapshot(
        revision.revision(), Instant.now(), allVars, hosts, readGroups(dsl), true);
  }

  /**
   * The groups of each host, by id. Read as id pairs and named later: at 10,000 hosts that is
   * 6 ms where joining the names in SQL took 55.
   */
  private static Map<Integer, List<Integer>> readMemberships(DSLContext dsl, Condition which) {
    Map<Integer, List<Integer>> groupIds = new HashMap<>();
    try (Cursor<Record2<Integer, Integer>> cursor = dsl
        .select(VM_GROUP_MEMBERSHIP.VM_ID, VM_GROUP_MEMBERSHIP.GROUP_ID)
        .from(VM_GROUP_MEMBERSHIP)
        .where(which)
        .fetchSize(FETCH_SIZE)
        .fetchLazy()) {
      for (Record2<Integer, Integer> row : cursor) {
        groupIds.computeIfAbsent(row.value1(), id -> new ArrayList<>(4)).add(row.value2());
      }
    }
    return groupIds;
  }

  /**
   * The hosts that match, in no particular order; those unchanged since {@code previous}, when
   * given, share its memory.
   */
  private static List<HostEntry> readHosts(DSLContext dsl, Condition which,
      Map<Integer, List<Integer>> groupIds, InventorySnapshot previous) {
    List<HostEntry> hosts = new ArrayList<>();
    try (Cursor<? extends Record> cursor = dsl
        .select(VM_CONFIGS.ID, VM_CONFIGS.VM_NAME, VM_CONFIGS.ENVIRONMENT, ENABLED, HOST_ADDRESS,
            VM_CONFIGS.CPUS, VM_CONFIGS.MEMORY_MB, VM_CONFIGS.DISK_GB,
            VM_CONFIGS.OPENSIPS_VERSION, VM_CONFIGS.ASTERISK_VERSION, VM_CONFIGS.RTPENGINE_VERSION,
            OPENSIPS_CONFIG_JSON, ASTERISK_CONFIG_JSON, RTPENGINE_CONFIG_JSON, EXTRA_VARS_JSON)
        .from(VM_CONFIGS)
        .where(which)
        .fetchSize(FETCH_SIZE)
        .fetchLazy()) {
      StringWriter text = new StringWriter(1024);
      for (Record row : cursor) {
        text.getBuffer().setLength(0);
        int id = row.get(VM_CONFIGS.ID);
        Host host = Host.newBuilder()
            .setName(row.get(VM_CONFIGS.VM_NAME))
            .setEnvironment(row.get(VM_CONFIGS.ENVIRONMENT))
            .setEnabled(row.get(ENABLED))
            .setVarsJson(hostVarsJson(row, text))
            .build();
        int[] groups = groupIds.getOrDefault(id, List.of()).stream()
            .mapToInt(Integer::intValue).toArray();
        HostEntry entry = HostEntry.of(id, host, groups);
        hosts.add(previous == null ? entry : previous.sharing(entry));
      }
    }
    return hosts;
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

  /** Every group with its child groups, both in {@link InventorySnapshot#NAME_ORDER}. */
  private static List<GroupRow> readGroups(DSLContext dsl) {
    AnsibleGroups parent = ANSIBLE_GROUPS.as("parent");
    AnsibleGroups child = ANSIBLE_GROUPS.as("child");
    Map<String, List<String>> children = pairs(dsl
        .select(parent.GROUP_NAME, child.GROUP_NAME)
        .from(ANSIBLE_GROUP_CHILDREN)
        .join(parent).on(parent.ID.eq(ANSIBLE_GROUP_CHILDREN.PARENT_ID))
        .join(child).on(child.ID.eq(ANSIBLE_GROUP_CHILDREN.CHILD_ID))
        .fetchLazy());
    children.values().forEach(names -> names.sort(NAME_ORDER));
    List<GroupRow> groups = new ArrayList<>(dsl
        .select(ANSIBLE_GROUPS.ID, ANSIBLE_GROUPS.GROUP_NAME,
            DSL.coalesce(ANSIBLE_GROUPS.DESCRIPTION, ""),
            DSL.coalesce(ANSIBLE_GROUPS.GROUP_VARS, EMPTY_OBJECT))
        .from(ANSIBLE_GROUPS)
        .fetch(row -> new GroupRow(
            row.value1(),
            row.value2(),
            row.value3(),
            row.value4().data(),
            children.getOrDefault(row.value2(), List.of()))));
    groups.sort(Comparator.comparing(GroupRow::name, NAME_ORDER));
    return groups;
  }

  private static Map<String, List<String>> pairs(Cursor<Record2<String, String>> cursor) {
    Map<String, List<String>> byKey = new HashMap<>();
    try (cursor) {
      for (Record2<String, String> row : cursor) {
        byKey.computeIfAbsent(row.value1(), key -> new ArrayList<>()).add(row.value2());
      }
    }
    return byKey;
  }

  private static Revision revision(DSLContext dsl) {
    Record3<Long, OffsetDateTime, Long> row = dsl
        .select(INVENTORY_REVISION.REVISION, INVENTORY_REVISION.CHANGED_AT,
            INVENTORY_REVISION.LOG_COMPLETE_AFTER)
        .from(INVENTORY_REVISION)
        .fetchOne();
    if (row == null) {
      throw new IllegalStateException(
          "inventory_revision has no row; run `voip-inventory migrate`");
    }
    return new Revision(row.value1(), row.value2().toInstant(), row.value3());
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

  /**
   * An inventory revision and when it was committed.
   *
   * @param logCompleteAfter the change log names every change after this revision
   */
  public record Revision(long revision, Instant changedAt, long logCompleteAfter) {}
}

package voip.inventory.snapshot;

import static voip.inventory.db.jooq.Tables.ANSIBLE_GROUPS;
import static voip.inventory.db.jooq.Tables.ANSIBLE_GROUP_CHILDREN;
import static voip.inventory.db.jooq.Tables.INVENTORY_ALL_VARS;
import static voip.inventory.db.jooq.Tables.INVENTORY_REVISION;
import static voip.inventory.db.jooq.Tables.VM_CONFIGS;
import static voip.inventory.db.jooq.Tables.VM_GROUP_MEMBERSHIP;

import com.google.protobuf.ByteString;
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
import org.jooq.Record2;
import org.jooq.Record4;
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

  /** The fixed host variables, named as the user's original script named them. */
  private static final Field<JSONB> FIXED_VARS = DSL.jsonbObject(
      DSL.key("ansible_host").value(HOST_ADDRESS),
      DSL.key("vm_cpus").value(VM_CONFIGS.CPUS),
      DSL.key("vm_memory_mb").value(VM_CONFIGS.MEMORY_MB),
      DSL.key("vm_disk_gb").value(VM_CONFIGS.DISK_GB),
      DSL.key("opensips_version").value(VM_CONFIGS.OPENSIPS_VERSION),
      DSL.key("asterisk_version").value(VM_CONFIGS.ASTERISK_VERSION),
      DSL.key("rtpengine_version").value(VM_CONFIGS.RTPENGINE_VERSION),
      DSL.key("opensips_config").value(DSL.coalesce(VM_CONFIGS.OPENSIPS_CONFIG, EMPTY_OBJECT)),
      DSL.key("asterisk_config").value(DSL.coalesce(VM_CONFIGS.ASTERISK_CONFIG, EMPTY_OBJECT)),
      DSL.key("rtpengine_config").value(DSL.coalesce(VM_CONFIGS.RTPENGINE_CONFIG, EMPTY_OBJECT)),
      DSL.key("environment").value(VM_CONFIGS.ENVIRONMENT));

  /** Extra variables first, so a fixed column wins over an extra variable of the same name. */
  private static final Field<String> HOST_VARS_JSON =
      DSL.field("({0} || {1})::text", SQLDataType.VARCHAR, VM_CONFIGS.HOST_VARS, FIXED_VARS);

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
      String allVars = dsl.select(INVENTORY_ALL_VARS.VARS).from(INVENTORY_ALL_VARS)
          .fetchOptional(INVENTORY_ALL_VARS.VARS)
          .map(JSONB::data)
          .orElse("{}");
      return new InventorySnapshot(
          revision.revision(), Instant.now(), allVars, readHosts(dsl), readGroups(dsl));
    });
  }

  private List<Host> readHosts(DSLContext dsl) {
    List<Host> hosts = new ArrayList<>();
    try (Cursor<Record4<String, String, Boolean, String>> cursor = dsl
        .select(VM_CONFIGS.VM_NAME, VM_CONFIGS.ENVIRONMENT, ENABLED, HOST_VARS_JSON)
        .from(VM_CONFIGS)
        .orderBy(VM_CONFIGS.VM_NAME)
        .fetchSize(FETCH_SIZE)
        .fetchLazy()) {
      for (Record4<String, String, Boolean, String> row : cursor) {
        hosts.add(host(row));
      }
    }
    return hosts;
  }

  private static Host host(Record4<String, String, Boolean, String> row) {
    return Host.newBuilder()
        .setName(row.value1())
        .setEnvironment(row.value2())
        .setEnabled(row.value3())
        // Held as UTF-8 bytes, so every response serialises this, the bulk of it, by copying.
        .setVarsJsonBytes(ByteString.copyFromUtf8(row.value4()))
        .build();
  }

  private List<GroupEntry> readGroups(DSLContext dsl) {
    Map<String, List<String>> members = pairs(dsl, dsl
        .select(ANSIBLE_GROUPS.GROUP_NAME, VM_CONFIGS.VM_NAME)
        .from(VM_GROUP_MEMBERSHIP)
        .join(ANSIBLE_GROUPS).on(ANSIBLE_GROUPS.ID.eq(VM_GROUP_MEMBERSHIP.GROUP_ID))
        .join(VM_CONFIGS).on(VM_CONFIGS.ID.eq(VM_GROUP_MEMBERSHIP.VM_ID))
        .orderBy(ANSIBLE_GROUPS.GROUP_NAME, VM_CONFIGS.VM_NAME)
        .fetchSize(FETCH_SIZE)
        .fetchLazy());
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
        .select(ANSIBLE_GROUPS.GROUP_NAME, DSL.coalesce(ANSIBLE_GROUPS.DESCRIPTION, ""),
            DSL.coalesce(ANSIBLE_GROUPS.GROUP_VARS, EMPTY_OBJECT))
        .from(ANSIBLE_GROUPS)
        .orderBy(ANSIBLE_GROUPS.GROUP_NAME)
        .fetch(row -> new GroupEntry(
            row.value1(),
            row.value2(),
            row.value3().data(),
            members.getOrDefault(row.value1(), List.of()),
            children.getOrDefault(row.value1(), List.of())));
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

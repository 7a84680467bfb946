package voip.inventory.testing;

import static voip.inventory.db.jooq.Tables.ANSIBLE_GROUPS;
import static voip.inventory.db.jooq.Tables.ANSIBLE_GROUP_CHILDREN;
import static voip.inventory.db.jooq.Tables.INVENTORY_ALL_VARS;
import static voip.inventory.db.jooq.Tables.INVENTORY_REVISION;
import static voip.inventory.db.jooq.Tables.VM_CONFIGS;
import static voip.inventory.db.jooq.Tables.VM_GROUP_MEMBERSHIP;

import java.sql.Connection;
import java.sql.SQLException;
import org.jooq.DSLContext;
import org.jooq.JSONB;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;

/** Writes inventory rows the way an operator's tool would, through jOOQ with bound values. */
public final class Inventory implements AutoCloseable {
  private final Connection connection;
  private final DSLContext dsl;

  private Inventory(Connection connection) {
    this.connection = connection;
    this.dsl = DSL.using(connection, SQLDialect.POSTGRES);
  }

  public static Inventory open(TestPostgres postgres, String database) throws SQLException {
    return new Inventory(postgres.connect(database));
  }

  public DSLContext dsl() {
    return dsl;
  }

  /** Adds an enabled host with an address and the seed's resources. */
  public Inventory host(String name, String environment, String address) {
    dsl.insertInto(VM_CONFIGS)
        .set(VM_CONFIGS.VM_NAME, name)
        .set(VM_CONFIGS.ENVIRONMENT, environment)
        .set(VM_CONFIGS.CPUS, 2)
        .set(VM_CONFIGS.MEMORY_MB, 4096)
        .set(VM_CONFIGS.DISK_GB, 40)
        .set(VM_CONFIGS.IP_ADDRESS, address)
        .execute();
    return this;
  }

  public Inventory disable(String host) {
    dsl.update(VM_CONFIGS).set(VM_CONFIGS.ENABLED, false)
        .where(VM_CONFIGS.VM_NAME.eq(host)).execute();
    return this;
  }

  public Inventory hostVars(String host, String json) {
    dsl.update(VM_CONFIGS).set(VM_CONFIGS.HOST_VARS, JSONB.valueOf(json))
        .where(VM_CONFIGS.VM_NAME.eq(host)).execute();
    return this;
  }

  public Inventory opensipsConfig(String host, String json) {
    dsl.update(VM_CONFIGS).set(VM_CONFIGS.OPENSIPS_CONFIG, JSONB.valueOf(json))
        .where(VM_CONFIGS.VM_NAME.eq(host)).execute();
    return this;
  }

  public Inventory group(String name, String varsJson) {
    dsl.insertInto(ANSIBLE_GROUPS)
        .set(ANSIBLE_GROUPS.GROUP_NAME, name)
        .set(ANSIBLE_GROUPS.GROUP_VARS, JSONB.valueOf(varsJson))
        .execute();
    return this;
  }

  public Inventory member(String host, String group) {
    dsl.insertInto(VM_GROUP_MEMBERSHIP)
        .set(VM_GROUP_MEMBERSHIP.VM_ID,
            dsl.select(VM_CONFIGS.ID).from(VM_CONFIGS).where(VM_CONFIGS.VM_NAME.eq(host)).asField())
        .set(VM_GROUP_MEMBERSHIP.GROUP_ID, groupId(group))
        .execute();
    return this;
  }

  public Inventory nest(String parent, String child) {
    dsl.insertInto(ANSIBLE_GROUP_CHILDREN)
        .set(ANSIBLE_GROUP_CHILDREN.PARENT_ID, groupId(parent))
        .set(ANSIBLE_GROUP_CHILDREN.CHILD_ID, groupId(child))
        .execute();
    return this;
  }

  public Inventory allVars(String json) {
    dsl.update(INVENTORY_ALL_VARS).set(INVENTORY_ALL_VARS.VARS, JSONB.valueOf(json)).execute();
    return this;
  }

  public long revision() {
    return dsl.select(INVENTORY_REVISION.REVISION).from(INVENTORY_REVISION).fetchSingle().value1();
  }

  public int hostCount() {
    return dsl.fetchCount(VM_CONFIGS);
  }

  private org.jooq.Field<Integer> groupId(String group) {
    return dsl.select(ANSIBLE_GROUPS.ID).from(ANSIBLE_GROUPS)
        .where(ANSIBLE_GROUPS.GROUP_NAME.eq(group)).asField();
  }

  @Override
  public void close() throws SQLException {
    connection.close();
  }
}

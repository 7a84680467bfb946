-- V2: what the product needs on top of the user's schema (V1).

-- Audit rows must outlive the VM they describe. With V1's foreign key, deleting a VM
-- always failed: the AFTER DELETE trigger inserted an audit row pointing at it.
ALTER TABLE vm_config_audit DROP CONSTRAINT vm_config_audit_vm_id_fkey;

-- Extra host variables beside the fixed columns. Ansible needs variables as a mapping.
ALTER TABLE vm_configs
    ADD COLUMN host_vars JSONB NOT NULL DEFAULT '{}'
        CONSTRAINT vm_configs_host_vars_is_object CHECK (jsonb_typeof(host_vars) = 'object');

ALTER TABLE ansible_groups
    ADD CONSTRAINT ansible_groups_group_vars_is_object
        CHECK (group_vars IS NULL OR jsonb_typeof(group_vars) = 'object');

CREATE INDEX idx_vm_group_membership_group ON vm_group_membership(group_id);

-- Nested groups: a group can have child groups, without cycles.
CREATE TABLE ansible_group_children (
    parent_id INTEGER NOT NULL REFERENCES ansible_groups(id) ON DELETE CASCADE,
    child_id INTEGER NOT NULL REFERENCES ansible_groups(id) ON DELETE CASCADE,
    PRIMARY KEY (parent_id, child_id),
    CONSTRAINT ansible_group_children_not_self CHECK (parent_id <> child_id)
);

CREATE INDEX idx_ansible_group_children_child ON ansible_group_children(child_id);

CREATE FUNCTION ansible_group_children_reject_cycle() RETURNS TRIGGER AS $$
BEGIN
    IF EXISTS (
        WITH RECURSIVE descendants(id) AS (
            SELECT child_id FROM ansible_group_children WHERE parent_id = NEW.child_id
            UNION
            SELECT c.child_id FROM ansible_group_children c JOIN descendants d ON c.parent_id = d.id
        )
        SELECT 1 FROM descendants WHERE id = NEW.parent_id
    ) THEN
        RAISE EXCEPTION 'group % cannot be nested in group %: it would contain itself',
            NEW.child_id, NEW.parent_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER ansible_group_children_reject_cycle
BEFORE INSERT OR UPDATE ON ansible_group_children
FOR EACH ROW EXECUTE FUNCTION ansible_group_children_reject_cycle();

-- Variables of Ansible's implicit "all" group: a table with exactly one row.
CREATE TABLE inventory_all_vars (
    singleton BOOLEAN PRIMARY KEY DEFAULT true CONSTRAINT inventory_all_vars_one_row CHECK (singleton),
    vars JSONB NOT NULL DEFAULT '{}' CONSTRAINT inventory_all_vars_is_object CHECK (jsonb_typeof(vars) = 'object')
);

INSERT INTO inventory_all_vars DEFAULT VALUES;

-- updated_at is kept by the database, not by whoever writes the row.
CREATE FUNCTION set_updated_at() RETURNS TRIGGER AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER vm_configs_set_updated_at
BEFORE UPDATE ON vm_configs
FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- The acting user for audit rows: a tool may name the person behind a shared
-- database role with SET voip_inventory.actor = 'name'; otherwise the login role.
CREATE FUNCTION inventory_actor() RETURNS TEXT AS $$
    SELECT coalesce(nullif(current_setting('voip_inventory.actor', true), ''), session_user::text);
$$ LANGUAGE sql STABLE;

CREATE OR REPLACE FUNCTION audit_vm_config_changes() RETURNS TRIGGER AS $$
BEGIN
    IF (TG_OP = 'UPDATE') THEN
        INSERT INTO vm_config_audit (vm_id, action, old_values, new_values, changed_by)
        VALUES (NEW.id, 'UPDATE', row_to_json(OLD), row_to_json(NEW), inventory_actor());
    ELSIF (TG_OP = 'INSERT') THEN
        INSERT INTO vm_config_audit (vm_id, action, new_values, changed_by)
        VALUES (NEW.id, 'INSERT', row_to_json(NEW), inventory_actor());
    ELSIF (TG_OP = 'DELETE') THEN
        INSERT INTO vm_config_audit (vm_id, action, old_values, changed_by)
        VALUES (OLD.id, 'DELETE', row_to_json(OLD), inventory_actor());
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

-- Audit of the other inventory tables: groups, memberships, nesting, all-group vars.
CREATE TABLE inventory_audit (
    id BIGSERIAL PRIMARY KEY,
    table_name TEXT NOT NULL,
    action VARCHAR(50) NOT NULL,
    old_values JSONB,
    new_values JSONB,
    changed_by VARCHAR(100) NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_inventory_audit_changed_at ON inventory_audit(changed_at);

CREATE FUNCTION audit_inventory_changes() RETURNS TRIGGER AS $$
BEGIN
    INSERT INTO inventory_audit (table_name, action, old_values, new_values, changed_by)
    VALUES (
        TG_TABLE_NAME,
        TG_OP,
        CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) END,
        CASE WHEN TG_OP IN ('UPDATE', 'INSERT') THEN to_jsonb(NEW) END,
        inventory_actor()
    );
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER ansible_groups_audit
AFTER INSERT OR UPDATE OR DELETE ON ansible_groups
FOR EACH ROW EXECUTE FUNCTION audit_inventory_changes();

CREATE TRIGGER vm_group_membership_audit
AFTER INSERT OR UPDATE OR DELETE ON vm_group_membership
FOR EACH ROW EXECUTE FUNCTION audit_inventory_changes();

CREATE TRIGGER ansible_group_children_audit
AFTER INSERT OR UPDATE OR DELETE ON ansible_group_children
FOR EACH ROW EXECUTE FUNCTION audit_inventory_changes();

CREATE TRIGGER inventory_all_vars_audit
AFTER UPDATE ON inventory_all_vars
FOR EACH ROW EXECUTE FUNCTION audit_inventory_changes();

-- The inventory revision: one number that grows once per committed transaction that
-- changes any inventory table, so readers can tell two snapshots apart cheaply.
-- Every change also notifies listeners on channel voip_inventory_changed; PostgreSQL
-- delivers the notification at commit, and only then.
CREATE TABLE inventory_revision (
    singleton BOOLEAN PRIMARY KEY DEFAULT true CONSTRAINT inventory_revision_one_row CHECK (singleton),
    revision BIGINT NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    changed_by_xact XID8
);

INSERT INTO inventory_revision (revision) VALUES (1);

CREATE FUNCTION bump_inventory_revision() RETURNS TRIGGER AS $$
DECLARE
    current_revision BIGINT;
BEGIN
    UPDATE inventory_revision
       SET revision = revision + 1, changed_at = now(), changed_by_xact = pg_current_xact_id()
     WHERE changed_by_xact IS DISTINCT FROM pg_current_xact_id();
    SELECT revision INTO current_revision FROM inventory_revision;
    PERFORM pg_notify(
        'voip_inventory_changed',
        json_build_object('revision', current_revision, 'table', TG_TABLE_NAME)::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER vm_configs_bump_revision
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON vm_configs
FOR EACH STATEMENT EXECUTE FUNCTION bump_inventory_revision();

CREATE TRIGGER ansible_groups_bump_revision
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ansible_groups
FOR EACH STATEMENT EXECUTE FUNCTION bump_inventory_revision();

CREATE TRIGGER vm_group_membership_bump_revision
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON vm_group_membership
FOR EACH STATEMENT EXECUTE FUNCTION bump_inventory_revision();

CREATE TRIGGER ansible_group_children_bump_revision
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ansible_group_children
FOR EACH STATEMENT EXECUTE FUNCTION bump_inventory_revision();

CREATE TRIGGER inventory_all_vars_bump_revision
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON inventory_all_vars
FOR EACH STATEMENT EXECUTE FUNCTION bump_inventory_revision();

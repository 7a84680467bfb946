-- V3: which hosts each revision changed, so that the server can bring its snapshot up to
-- date by reading those hosts alone instead of the whole inventory.
--
-- Every revision (one per committed transaction, see V2) logs the ids of the VMs whose row
-- or group memberships it inserted, updated or deleted; a change to anything else (groups,
-- their nesting, the all group's variables) or a TRUNCATE logs one row with a NULL vm_id,
-- which tells readers to read everything again.
CREATE TABLE inventory_change_log (
    revision BIGINT NOT NULL,
    vm_id INTEGER
);

CREATE INDEX idx_inventory_change_log_revision ON inventory_change_log(revision);

-- The log holds every change after this revision. Older entries are pruned (see below); a
-- reader whose snapshot is older than this reads everything again.
ALTER TABLE inventory_revision ADD COLUMN log_complete_after BIGINT NOT NULL DEFAULT 0;
UPDATE inventory_revision SET log_complete_after = revision;

-- The transaction's revision: bumped by the first change of a transaction, the same for
-- every later change in it. The row lock taken by the bump is held until commit, so writers
-- take revisions in the order they commit: once a reader sees revision R, every revision
-- up to R is committed and visible to it too.
CREATE FUNCTION inventory_transaction_revision() RETURNS BIGINT AS $$
DECLARE
    current_revision BIGINT;
BEGIN
    UPDATE inventory_revision
       SET revision = revision + 1, changed_at = now(), changed_by_xact = pg_current_xact_id()
     WHERE changed_by_xact IS DISTINCT FROM pg_current_xact_id()
    RETURNING revision INTO current_revision;
    IF current_revision IS NULL THEN
        SELECT revision INTO current_revision FROM inventory_revision;
    END IF;
    RETURN current_revision;
END;
$$ LANGUAGE plpgsql;

-- Records a change: the revision, the VMs it touched (NULL: anything; empty: none, as for
-- an UPDATE that matched no row), a notification to listeners, and every 1,000 revisions the pruning of entries older than 10,000 revisions.
CREATE FUNCTION note_inventory_change(changed_table TEXT, vm_ids INTEGER[]) RETURNS VOID AS $$
DECLARE
    current_revision BIGINT := inventory_transaction_revision();
BEGIN
    IF vm_ids IS NULL THEN
        INSERT INTO inventory_change_log (revision, vm_id) VALUES (current_revision, NULL);
    ELSE
        INSERT INTO inventory_change_log (revision, vm_id)
        SELECT DISTINCT current_revision, id FROM unnest(vm_ids) AS id WHERE id IS NOT NULL;
    END IF;
    IF current_revision % 1000 = 0 THEN
        DELETE FROM inventory_change_log WHERE revision <= current_revision - 10000;
        UPDATE inventory_revision
           SET log_complete_after = greatest(log_complete_after, current_revision - 10000);
    END IF;
    PERFORM pg_notify(
        'voip_inventory_changed',
        json_build_object('revision', current_revision, 'table', changed_table)::text);
END;
$$ LANGUAGE plpgsql;

-- V2's trigger function, now through the log: a change that names no VM means anything.
CREATE OR REPLACE FUNCTION bump_inventory_revision() RETURNS TRIGGER AS $$
BEGIN
    PERFORM note_inventory_change(TG_TABLE_NAME, NULL);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

-- vm_configs and vm_group_membership log the VMs they touch, from the statement's
-- transition tables (one trigger per event: PostgreSQL allows transition tables only so).
-- The trigger's argument names the column that holds the VM's id.
CREATE FUNCTION log_vm_change() RETURNS TRIGGER AS $$
DECLARE
    vm_ids INTEGER[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        EXECUTE format('SELECT coalesce(array_agg(%I), ''{}'') FROM new_rows', TG_ARGV[0])
            INTO vm_ids;
    ELSIF TG_OP = 'UPDATE' THEN
        EXECUTE format('SELECT coalesce(array_agg(id), ''{}'') FROM (SELECT %1$I AS id FROM new_rows'
                       ' UNION SELECT %1$I FROM old_rows) AS ids', TG_ARGV[0])
            INTO vm_ids;
    ELSE
        EXECUTE format('SELECT coalesce(array_agg(%I), ''{}'') FROM old_rows', TG_ARGV[0])
            INTO vm_ids;
    END IF;
    PERFORM note_inventory_change(TG_TABLE_NAME, vm_ids);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER vm_configs_bump_revision ON vm_configs;
DROP TRIGGER vm_group_membership_bump_revision ON vm_group_membership;

CREATE TRIGGER vm_configs_log_insert
AFTER INSERT ON vm_configs REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION log_vm_change('id');

CREATE TRIGGER vm_configs_log_update
AFTER UPDATE ON vm_configs REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION log_vm_change('id');

CREATE TRIGGER vm_configs_log_delete
AFTER DELETE ON vm_configs REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION log_vm_change('id');

CREATE TRIGGER vm_configs_log_truncate
AFTER TRUNCATE ON vm_configs
FOR EACH STATEMENT EXECUTE FUNCTION bump_inventory_revision();

CREATE TRIGGER vm_group_membership_log_insert
AFTER INSERT ON vm_group_membership REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION log_vm_change('vm_id');

CREATE TRIGGER vm_group_membership_log_update
AFTER UPDATE ON vm_group_membership REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION log_vm_change('vm_id');

CREATE TRIGGER vm_group_membership_log_delete
AFTER DELETE ON vm_group_membership REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION log_vm_change('vm_id');

CREATE TRIGGER vm_group_membership_log_truncate
AFTER TRUNCATE ON vm_group_membership
FOR EACH STATEMENT EXECUTE FUNCTION bump_inventory_revision();

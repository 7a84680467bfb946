-- Writes the inventory as one JSON document for the floor plugin (bench/floor/bench_floor.py):
--   psql -X -At -v ON_ERROR_STOP=1 -o floor.json -f bench/floor_export.sql postgresql://...
-- It is the inventory the product serves by default, computed here straight from the tables:
-- enabled hosts only, their variables (host_vars under the fixed columns, as the server merges
-- them), every group with its variables, enabled members and child groups, and the all group's
-- variables with the two the plugin adds: the revision read and whether it is stale. The benchmark
-- then checks that all contenders agree on it.

\set ON_ERROR_STOP on

WITH enabled_host AS (
    SELECT id, vm_name, environment,
           host_vars || jsonb_build_object(
               'ansible_host', host(ip_address),
               'vm_cpus', cpus,
               'vm_memory_mb', memory_mb,
               'vm_disk_gb', disk_gb,
               'opensips_version', opensips_version,
               'asterisk_version', asterisk_version,
               'rtpengine_version', rtpengine_version,
               'opensips_config', coalesce(opensips_config, '{}'),
               'asterisk_config', coalesce(asterisk_config, '{}'),
               'rtpengine_config', coalesce(rtpengine_config, '{}'),
               'environment', environment) AS vars
    FROM vm_configs
    WHERE enabled
),
members AS (
    SELECT m.group_id, json_agg(h.vm_name ORDER BY h.vm_name) AS names
    FROM vm_group_membership m JOIN enabled_host h ON h.id = m.vm_id
    GROUP BY m.group_id
),
children AS (
    SELECT gc.parent_id, json_agg(c.group_name ORDER BY c.group_name) AS names
    FROM ansible_group_children gc JOIN ansible_groups c ON c.id = gc.child_id
    GROUP BY gc.parent_id
)
SELECT json_build_object(
    'all_vars', (SELECT a.vars || jsonb_build_object('voip_inventory_revision', r.revision,
                                                    'voip_inventory_stale', false)
                 FROM inventory_all_vars a, inventory_revision r),
    'groups', (
        SELECT coalesce(json_agg(json_build_object(
            'name', g.group_name,
            'vars', coalesce(g.group_vars, '{}'),
            'hosts', coalesce(m.names, '[]'),
            'children', coalesce(c.names, '[]')
        ) ORDER BY g.group_name), '[]')
        FROM ansible_groups g
        LEFT JOIN members m ON m.group_id = g.id
        LEFT JOIN children c ON c.parent_id = g.id),
    'hosts', (
        SELECT coalesce(json_agg(json_build_object('name', vm_name, 'environment', environment, 'vars', vars)
                                 ORDER BY vm_name), '[]')
        FROM enabled_host));

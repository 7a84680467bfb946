-- The sample data set from the user's design document: two production VMs, four
-- groups and their memberships. Loaded only by `voip-inventory migrate --sample-data`
-- (the demo and tests), never by a plain migrate.

INSERT INTO vm_configs (vm_name, environment, cpus, memory_mb, disk_gb, ip_address, opensips_version, asterisk_version, rtpengine_version, created_by)
VALUES
    ('voip-prod-1', 'production', 4, 8192, 100, '192.168.122.10', '3.4', '20', 'latest', 'automation'),
    ('voip-prod-2', 'production', 4, 8192, 100, '192.168.122.11', '3.4', '20', 'latest', 'automation');

INSERT INTO ansible_groups (group_name, description, group_vars)
VALUES
    ('voip_servers', 'All VoIP servers', '{"ansible_user": "admin", "ansible_become": true}'),
    ('opensips_servers', 'Servers running OpenSIPS', '{}'),
    ('asterisk_servers', 'Servers running Asterisk', '{}'),
    ('rtpengine_servers', 'Servers running RTPEngine', '{}');

INSERT INTO vm_group_membership (vm_id, group_id)
SELECT vm_configs.id, ansible_groups.id
FROM vm_configs
CROSS JOIN ansible_groups
WHERE vm_configs.environment = 'production'
  AND ansible_groups.group_name IN ('voip_servers', 'opensips_servers', 'asterisk_servers', 'rtpengine_servers');

-- The original script hard-coded the interpreter on every host; here it is data.
UPDATE inventory_all_vars SET vars = '{"ansible_python_interpreter": "/usr/bin/python3"}';

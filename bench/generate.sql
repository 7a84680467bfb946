-- Fills a freshly migrated inventory database with :hosts VoIP hosts of realistic shape, for
-- the benchmark (bench/bench.py). Run as a superuser:
--   psql -X -v ON_ERROR_STOP=1 -v hosts=10000 -f bench/generate.sql postgresql://...
--
-- Every host: 11 fixed variables plus 4 in host_vars (15 in all), and the JSONB configs of the
-- services it runs, lists and nested objects, about 900 bytes of JSON in all. Every host is in
-- 2 to 5 groups: its site, its service roles, voip_servers (all but development) and sometimes
-- canary. Sites nest in regions, regions in "sites". One host in 23 is disabled. The group
-- "quarantine" holds disabled hosts only, so it is a group without hosts once they are left out.
-- Everything is derived from the host number, so a given :hosts always gives the same data.

\set ON_ERROR_STOP on

BEGIN;

-- Loads as a replica so the per-row audit triggers stay quiet (an audit row per host would only
-- slow the load) and foreign keys go unchecked: the rows below are consistent by construction.
SET LOCAL session_replication_role = replica;

CREATE TEMP TABLE bench_site ON COMMIT DROP AS
SELECT s AS n,
       (ARRAY['fra', 'ams', 'lon', 'par', 'waw', 'mad', 'nyc', 'dal', 'sjc', 'sin', 'syd', 'tyo'])[1 + s % 12]
           || (1 + s / 12) AS code,
       (ARRAY['eu', 'eu', 'eu', 'eu', 'eu', 'eu', 'us', 'us', 'us', 'apac', 'apac', 'apac'])[1 + s % 12] AS region
FROM generate_series(0, 7 + :hosts / 1000) AS s;

-- Groups: roles, sites, regions, their root, and two special ones.
INSERT INTO ansible_groups (group_name, description, group_vars) VALUES
    ('voip_servers', 'All VoIP servers outside development',
     '{"ansible_user": "admin", "ansible_become": true, "syslog": {"server": "10.255.0.10", "port": 514}}'),
    ('opensips_servers', 'Servers running OpenSIPS',
     '{"opensips_package": "opensips", "opensips_modules_extra": ["tls_mgm", "proto_tls", "rtpengine"]}'),
    ('asterisk_servers', 'Servers running Asterisk',
     '{"asterisk_package": "asterisk", "asterisk_sounds": ["en", "de", "fr"]}'),
    ('rtpengine_servers', 'Servers running RTPEngine',
     '{"rtpengine_kernel_module": true, "rtpengine_table": 0}'),
    ('canary', 'Hosts that get changes first', '{"serial": 1, "canary": true}'),
    ('quarantine', 'Disabled hosts under investigation', '{"quarantine_reason": "hardware"}'),
    ('sites', 'Every site, by region', '{}');

INSERT INTO ansible_groups (group_name, description, group_vars)
SELECT DISTINCT 'region_' || region, 'Sites in region ' || region,
       jsonb_build_object('region', region,
                          'timezone', CASE region WHEN 'eu' THEN 'Europe/Berlin'
                                                  WHEN 'us' THEN 'America/Chicago' ELSE 'Asia/Singapore' END,
                          'ntp_servers', jsonb_build_array('ntp1.' || region || '.example.net',
                                                           'ntp2.' || region || '.example.net'))
FROM bench_site;

INSERT INTO ansible_groups (group_name, description, group_vars)
SELECT 'site_' || code, 'Site ' || code,
       jsonb_build_object('site_code', code,
                          'datacenter', jsonb_build_object('name', upper(code) || '-DC', 'rows', 4 + n % 9),
                          'dns_servers', jsonb_build_array(format('10.%s.0.53', n), format('10.%s.1.53', n)))
FROM bench_site;

INSERT INTO ansible_group_children (parent_id, child_id)
SELECT p.id, c.id
FROM (SELECT DISTINCT region FROM bench_site) r
JOIN ansible_groups p ON p.group_name = 'sites'
JOIN ansible_groups c ON c.group_name = 'region_' || r.region
UNION ALL
SELECT p.id, c.id
FROM bench_site s
JOIN ansible_groups p ON p.group_name = 'region_' || s.region
JOIN ansible_groups c ON c.group_name = 'site_' || s.code;

-- Hosts. role: 0 OpenSIPS, 1 Asterisk, 2 RTPEngine, 3 all three ("edge").
CREATE TEMP TABLE bench_host ON COMMIT DROP AS
SELECT i,
       i % 4 AS role,
       CASE WHEN i % 20 < 12 THEN 'production' WHEN i % 20 < 17 THEN 'staging' ELSE 'development' END AS env,
       s.n AS site_n,
       s.code AS site,
       '10.0.0.0'::inet + i AS ip,
       format('voip-%s-%s-%s', s.code, (ARRAY['sbc', 'pbx', 'media', 'edge'])[1 + i % 4], lpad(i::text, 6, '0'))
           AS name
FROM generate_series(1, :hosts) AS i
JOIN bench_site s ON s.n = (i * 7919) % (8 + :hosts / 1000);

INSERT INTO vm_configs (id, vm_name, environment, enabled, cpus, memory_mb, disk_gb, ip_address, gateway,
                        dns_servers, opensips_version, asterisk_version, rtpengine_version,
                        opensips_config, asterisk_config, rtpengine_config, created_by, notes, host_vars)
SELECT h.i, h.name, h.env, h.i % 23 <> 0,
       (ARRAY[2, 4, 8, 16])[1 + h.i % 4],
       (ARRAY[2, 4, 8, 16])[1 + h.i % 4] * 2048,
       40 + (h.i % 10) * 20,
       h.ip,
       network(set_masklen(h.ip, 16))::inet + 1,
       ARRAY[format('10.%s.0.53', h.site_n)::inet, format('10.%s.1.53', h.site_n)::inet],
       CASE WHEN h.role IN (0, 3) THEN '3.4.' || h.i % 9 END,
       CASE WHEN h.role IN (1, 3) THEN '20.' || h.i % 12 || '.0' END,
       CASE WHEN h.role IN (2, 3) THEN 'mr12.5.1.' || h.i % 30 END,
       CASE WHEN h.role IN (0, 3) THEN jsonb_build_object(
           'listen', jsonb_build_array(
               jsonb_build_object('proto', 'udp', 'address', host(h.ip), 'port', 5060),
               jsonb_build_object('proto', 'tls', 'address', host(h.ip), 'port', 5061)),
           'children', 4 + h.i % 8,
           'modules', jsonb_build_array('tm', 'rr', 'dialog', 'usrloc', 'registrar', 'dispatcher', 'nathelper'),
           'dispatcher', jsonb_build_object(
               'set', 1 + h.i % 5,
               'destinations', jsonb_build_array(format('sip:10.%s.2.%s:5060', h.site_n, h.i % 250 + 1),
                                                 format('sip:10.%s.3.%s:5060', h.site_n, h.i % 250 + 1))),
           'tls', jsonb_build_object('certificate', '/etc/opensips/tls/' || h.name || '.pem',
                                     'verify_client', h.i % 2 = 0),
           'ssh_port', 22) END,
       CASE WHEN h.role IN (1, 3) THEN jsonb_build_object(
           'sip', jsonb_build_object('transports', jsonb_build_array('udp', 'tcp'),
                                     'codecs', jsonb_build_array('ulaw', 'alaw', 'opus', 'g722')),
           'rtp', jsonb_build_object('start', 10000, 'end', 20000),
           'max_calls', 200 + h.i % 800,
           'trunks', jsonb_build_array(
               jsonb_build_object('name', 'carrier-a', 'host', 'sip.carrier-a.example.net', 'channels', 30),
               jsonb_build_object('name', 'carrier-b', 'host', 'sip.carrier-b.example.net', 'channels', 60)),
           'manager', jsonb_build_object('enabled', true, 'port', 5038)) END,
       CASE WHEN h.role IN (2, 3) THEN jsonb_build_object(
           'interfaces', jsonb_build_array(
               jsonb_build_object('name', 'internal', 'address', host(h.ip)),
               jsonb_build_object('name', 'external', 'address', format('203.0.%s.%s', h.i % 250, h.i % 200 + 1))),
           'port_min', 30000,
           'port_max', 40000,
           'recording', jsonb_build_object('enabled', h.i % 10 = 0, 'directory', '/var/spool/rtpengine'),
           'log_level', 6) END,
       'bench',
       CASE WHEN h.i % 23 = 0 THEN 'disabled for the benchmark' END,
       jsonb_build_object(
           'site', h.site,
           'rack', format('r%s-%s', h.i % 40, h.i % 7),
           'owner_team', (ARRAY['voice-core', 'voice-edge', 'media', 'platform'])[1 + h.i % 4],
           'monitoring', jsonb_build_object('enabled', true, 'interval_s', 30,
                                            'labels', jsonb_build_object('tier', h.env, 'site', h.site)))
FROM bench_host h;

SELECT setval(pg_get_serial_sequence('vm_configs', 'id'), :hosts);

INSERT INTO vm_group_membership (vm_id, group_id)
SELECT h.i, g.id FROM bench_host h JOIN ansible_groups g ON g.group_name = 'site_' || h.site
UNION ALL
SELECT h.i, g.id FROM bench_host h JOIN ansible_groups g ON g.group_name = 'voip_servers'
WHERE h.env <> 'development'
UNION ALL
SELECT h.i, g.id FROM bench_host h JOIN ansible_groups g ON g.group_name = 'opensips_servers'
WHERE h.role IN (0, 3)
UNION ALL
SELECT h.i, g.id FROM bench_host h JOIN ansible_groups g ON g.group_name = 'asterisk_servers'
WHERE h.role IN (1, 3)
UNION ALL
SELECT h.i, g.id FROM bench_host h JOIN ansible_groups g ON g.group_name = 'rtpengine_servers'
WHERE h.role IN (2, 3)
UNION ALL
SELECT h.i, g.id FROM bench_host h JOIN ansible_groups g ON g.group_name = 'canary'
WHERE h.i % 50 = 1 AND h.role <> 3
UNION ALL
SELECT h.i, g.id FROM bench_host h JOIN ansible_groups g ON g.group_name = 'quarantine'
WHERE h.i % 23 = 0 AND h.i % 2 = 0;

-- Back to normal for the last change, so the revision triggers record the load as one revision.
SET LOCAL session_replication_role = origin;
UPDATE inventory_all_vars SET vars = jsonb_build_object(
    'ansible_python_interpreter', '/usr/bin/python3',
    'ansible_ssh_common_args', '-o ControlMaster=auto -o ControlPersist=60s',
    'voip_domain', 'voice.example.net');

COMMIT;

-- Fresh statistics and hint bits, so the first read of the benchmark does not pay for the load.
VACUUM (ANALYZE) vm_configs, ansible_groups, vm_group_membership, ansible_group_children;

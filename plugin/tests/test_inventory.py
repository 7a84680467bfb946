"""What ansible-inventory shows from the plugin: hosts, groups, variables, filters and constructed groups."""

from __future__ import annotations

import socket

import pytest

from conftest import Server, hosts_of

# On top of the sample data: a staging host, a disabled production host, JSONB configuration and extra host
# variables, two levels of nested groups with group variables, and a list among the all-group variables.
EXTRA_ROWS = """
INSERT INTO vm_configs (vm_name, environment, enabled, cpus, memory_mb, disk_gb, ip_address,
                        opensips_version, asterisk_version, rtpengine_version, opensips_config, host_vars)
VALUES
    ('voip-stage-1', 'staging', true, 2, 4096, 50, '192.168.123.10', '3.5', '21', 'latest',
     '{"listen": ["udp:0.0.0.0:5060"], "tls": {"enabled": false}}', '{"site": "fra"}'),
    ('voip-prod-3', 'production', false, 4, 8192, 100, '192.168.122.12', '3.4', '20', 'latest', NULL, '{}');

UPDATE vm_configs
   SET opensips_config = '{"listen": ["udp:0.0.0.0:5060", "tls:0.0.0.0:5061"], "tls": {"enabled": true, "port": 5061}}',
       host_vars = '{"site": "ams", "rack": {"row": 3, "unit": 12}, "labels": ["edge", "sip"]}'
 WHERE vm_name = 'voip-prod-1';

INSERT INTO ansible_groups (group_name, description, group_vars)
VALUES ('sip_edge', 'SIP edge', '{"sip_domain": "sip.example.net", "limits": {"cps": 200}}'),
       ('datacenter_ams', 'Amsterdam', '{"dc": "ams"}');

INSERT INTO ansible_group_children (parent_id, child_id)
SELECT p.id, c.id FROM ansible_groups p, ansible_groups c
 WHERE (p.group_name, c.group_name) IN (('sip_edge', 'opensips_servers'), ('sip_edge', 'rtpengine_servers'),
                                        ('datacenter_ams', 'sip_edge'));

INSERT INTO vm_group_membership (vm_id, group_id)
SELECT v.id, g.id FROM vm_configs v, ansible_groups g
 WHERE (v.vm_name, g.group_name) IN (('voip-stage-1', 'opensips_servers'), ('voip-prod-3', 'voip_servers'));

UPDATE inventory_all_vars SET vars = vars || '{"ntp_servers": ["192.0.2.123", "192.0.2.124"]}';
"""

ENABLED_HOSTS = {'voip-prod-1', 'voip-prod-2', 'voip-stage-1'}


@pytest.fixture(scope='module', autouse=True)
def extra_rows(database):
    database.execute(EXTRA_ROWS)


@pytest.fixture
def inventory(ansible, server):
    return ansible.write_inventory(endpoint=server.endpoint)


def test_graph_shows_environment_groups_database_groups_and_nesting(ansible, inventory):
    graph = ansible.graph(inventory)

    expected = """\
@all:
  |--@ungrouped:
  |--@asterisk_servers:
  |  |--voip-prod-1
  |  |--voip-prod-2
  |--@datacenter_ams:
  |  |--@sip_edge:
  |  |  |--@opensips_servers:
  |  |  |  |--voip-prod-1
  |  |  |  |--voip-prod-2
  |  |  |  |--voip-stage-1
  |  |  |--@rtpengine_servers:
  |  |  |  |--voip-prod-1
  |  |  |  |--voip-prod-2
  |--@voip_servers:
  |  |--voip-prod-1
  |  |--voip-prod-2
  |--@production:
  |  |--voip-prod-1
  |  |--voip-prod-2
  |--@staging:
  |  |--voip-stage-1
"""
    assert graph == expected


def test_list_gives_every_enabled_host_with_its_variables_and_jsonb_as_mappings(ansible, inventory):
    listing = ansible.list(inventory)

    hostvars = listing['_meta']['hostvars']
    assert set(hostvars) == ENABLED_HOSTS
    prod1 = hostvars['voip-prod-1']
    assert prod1['ansible_host'] == '192.168.122.10'
    assert (prod1['vm_cpus'], prod1['vm_memory_mb'], prod1['vm_disk_gb']) == (4, 8192, 100)
    assert (prod1['opensips_version'], prod1['asterisk_version'], prod1['rtpengine_version']) == ('3.4', '20', 'latest')
    assert prod1['environment'] == 'production'
    assert prod1['opensips_config'] == {'listen': ['udp:0.0.0.0:5060', 'tls:0.0.0.0:5061'],
                                        'tls': {'enabled': True, 'port': 5061}}
    assert prod1['asterisk_config'] == {}
    assert prod1['rack'] == {'row': 3, 'unit': 12}
    assert prod1['labels'] == ['edge', 'sip']
    assert prod1['site'] == 'ams'


def test_export_carries_group_vars_children_and_all_vars(ansible, inventory):
    listing = ansible.list(inventory, '--export')

    assert listing['voip_servers']['vars'] == {'ansible_user': 'admin', 'ansible_become': True}
    assert listing['sip_edge']['vars'] == {'sip_domain': 'sip.example.net', 'limits': {'cps': 200}}
    assert sorted(listing['sip_edge']['children']) == ['opensips_servers', 'rtpengine_servers']
    assert listing['datacenter_ams']['children'] == ['sip_edge']
    assert hosts_of(listing, 'datacenter_ams') == ENABLED_HOSTS
    all_vars = listing['all']['vars']
    assert all_vars['ansible_python_interpreter'] == '/usr/bin/python3'
    assert all_vars['ntp_servers'] == ['192.0.2.123', '192.0.2.124']
    assert all_vars['voip_inventory_stale'] is False
    assert isinstance(all_vars['voip_inventory_revision'], int) and all_vars['voip_inventory_revision'] > 1


def test_host_merges_host_group_parent_group_and_all_vars(ansible, inventory):
    prod1 = ansible.host(inventory, 'voip-prod-1')
    stage1 = ansible.host(inventory, 'voip-stage-1')

    assert prod1['ansible_user'] == 'admin'
    assert prod1['ansible_become'] is True
    assert prod1['sip_domain'] == 'sip.example.net'
    assert prod1['limits'] == {'cps': 200}
    assert prod1['dc'] == 'ams'
    assert prod1['ansible_python_interpreter'] == '/usr/bin/python3'
    assert prod1['ntp_servers'] == ['192.0.2.123', '192.0.2.124']
    assert stage1['sip_domain'] == 'sip.example.net'
    assert stage1['opensips_config'] == {'listen': ['udp:0.0.0.0:5060'], 'tls': {'enabled': False}}
    assert 'ansible_user' not in stage1


def test_environment_filter_returns_only_hosts_of_those_environments(ansible, server):
    inventory = ansible.write_inventory(endpoint=server.endpoint, environments=['staging'])

    listing = ansible.list(inventory)

    assert set(listing['_meta']['hostvars']) == {'voip-stage-1'}
    assert hosts_of(listing, 'staging') == {'voip-stage-1'}
    assert hosts_of(listing, 'opensips_servers') == {'voip-stage-1'}
    assert 'production' not in listing


def test_disabled_hosts_are_left_out_unless_asked_for(ansible, server):
    default = ansible.write_inventory('default.yml', endpoint=server.endpoint)
    with_disabled = ansible.write_inventory('with_disabled.yml', endpoint=server.endpoint, include_disabled=True,
                                            groups={'disabled_vms': 'not vm_enabled'})

    without = ansible.list(default)
    listing = ansible.list(with_disabled)

    assert 'voip-prod-3' not in without['_meta']['hostvars']
    assert 'vm_enabled' not in without['_meta']['hostvars']['voip-prod-1']
    assert set(listing['_meta']['hostvars']) == ENABLED_HOSTS | {'voip-prod-3'}
    assert listing['_meta']['hostvars']['voip-prod-3']['vm_enabled'] is False
    assert listing['_meta']['hostvars']['voip-prod-1']['vm_enabled'] is True
    assert hosts_of(listing, 'voip_servers') == {'voip-prod-1', 'voip-prod-2', 'voip-prod-3'}
    assert hosts_of(listing, 'disabled_vms') == {'voip-prod-3'}


def test_keyed_groups_compose_and_conditional_groups_use_database_variables(ansible, server):
    inventory = ansible.write_inventory(
        endpoint=server.endpoint,
        keyed_groups=[{'key': 'opensips_version', 'prefix': 'opensips'},
                      {'key': 'site', 'prefix': 'site', 'default_value': 'unknown'}],
        compose={'sip_uri': "'sip:' ~ ansible_host ~ ':5060'", 'memory_gb': 'vm_memory_mb // 1024'},
        groups={'tls_enabled': 'opensips_config.tls.enabled | default(false)', 'small_vms': 'vm_cpus < 4'},
    )

    listing = ansible.list(inventory)

    assert hosts_of(listing, 'opensips_3_4') == {'voip-prod-1', 'voip-prod-2'}
    assert hosts_of(listing, 'opensips_3_5') == {'voip-stage-1'}
    assert hosts_of(listing, 'site_ams') == {'voip-prod-1'}
    assert hosts_of(listing, 'site_fra') == {'voip-stage-1'}
    assert hosts_of(listing, 'site_unknown') == set()
    assert hosts_of(listing, 'tls_enabled') == {'voip-prod-1'}
    assert hosts_of(listing, 'small_vms') == {'voip-stage-1'}
    assert listing['_meta']['hostvars']['voip-prod-2']['sip_uri'] == 'sip:192.168.122.11:5060'
    assert listing['_meta']['hostvars']['voip-stage-1']['memory_gb'] == 4


def test_keyed_group_on_a_missing_variable_is_skipped_or_fails_with_strict(ansible, server):
    keyed_groups = [{'key': 'no_such_variable', 'prefix': 'x'}]
    lenient = ansible.write_inventory('lenient.yml', endpoint=server.endpoint, keyed_groups=keyed_groups)
    strict = ansible.write_inventory('strict.yml', endpoint=server.endpoint, keyed_groups=keyed_groups, strict=True)

    listing = ansible.list(lenient)
    error = ansible.fails(strict)

    assert set(listing['_meta']['hostvars']) == ENABLED_HOSTS
    assert 'no_such_variable' in error


def test_inventory_yml_works_through_the_auto_plugin(ansible, server):
    inventory = ansible.write_inventory('inventory.yml', endpoint=server.endpoint)

    listing = ansible.list(inventory)

    assert set(listing['_meta']['hostvars']) == ENABLED_HOSTS


def test_the_endpoint_can_come_from_the_environment_in_unix_url_form(ansible, server):
    inventory = ansible.write_inventory()

    listing = ansible.list(inventory, env={'VOIP_INVENTORY_ENDPOINT': f'unix://{server.socket}'})

    assert set(listing['_meta']['hostvars']) == ENABLED_HOSTS


def test_a_server_listening_on_tcp_loopback_serves_the_same_inventory(ansible, server, server_jar, database,
                                                                      tmp_path):
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    tcp_server = Server(server_jar, database, tmp_path, tcp_port=port)
    tcp_server.start()
    try:
        over_tcp = ansible.list(ansible.write_inventory('tcp.yml', endpoint=f'127.0.0.1:{port}'))
    finally:
        tcp_server.stop()
    over_socket = ansible.list(ansible.write_inventory('socket.yml', endpoint=server.endpoint))

    assert over_tcp == over_socket
    assert set(over_tcp['_meta']['hostvars']) == ENABLED_HOSTS


def test_a_file_of_any_name_works_when_the_plugin_is_enabled_by_name(ansible, server):
    # The auto plugin only looks at .yml/.yaml files; enable_plugins lets the plugin judge the file itself.
    inventory = ansible.write_inventory('voip-fleet', endpoint=server.endpoint)

    listing = ansible.list(inventory, env={'ANSIBLE_INVENTORY_ENABLED': 'voip.infrastructure.postgresql'})

    assert set(listing['_meta']['hostvars']) == ENABLED_HOSTS


def test_a_yaml_file_for_another_plugin_is_not_claimed(ansible):
    other = ansible.home / 'inventory.yml'
    other.write_text('plugin: ansible.builtin.constructed\n')

    error = ansible.fails(other, env={'ANSIBLE_INVENTORY_ENABLED': 'voip.infrastructure.postgresql'})

    assert 'Unable to parse' in error
    assert 'cannot reach the voip-inventory server' not in error


# Loads inventories in one Python process, as ansible-playbook does, and reports the garbage collector's state
# after each: the first from the server, the second from a server that is not running.
GC_PROBE = '''
import gc, sys
from ansible.errors import AnsibleError
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
init_plugin_loader()
for source in sys.argv[1:]:
    try:
        hosts = len(InventoryManager(loader=DataLoader(), sources=[source]).hosts)
    except AnsibleError:
        hosts = 'failed'
    print(hosts, gc.isenabled())
'''


def test_python_garbage_collection_is_back_on_after_the_inventory_is_built_or_fails(ansible, server, tmp_path):
    # The plugin pauses the collector while it builds the inventory; a playbook run after it needs it back.
    good = ansible.write_inventory('good.yml', endpoint=server.endpoint)
    down = ansible.write_inventory('down.yml', endpoint=f'unix://{tmp_path / "missing.sock"}')
    result = ansible.run('python', '-c', GC_PROBE, good, down)
    good_line, down_line = result.stdout.split('\n')[:2]
    hosts, enabled = good_line.split()
    assert int(hosts) > 0 and enabled == 'True'
    assert down_line == 'failed True'

"""Given the same rows, the plugin shows every host, group membership and variable that the user's original
inventory script printed, with the same value. The script runs unchanged against the same database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.module_utils.parsing.convert_bool import boolean

from conftest import Ansible, hosts_of, make_database
from test_inventory import EXTRA_ROWS

ORIGINAL_SCRIPT = Path(__file__).parent / 'data' / 'original_inventory_script.py'

# The script printed ansible_become as the string 'yes'; the data now holds the boolean true, which Ansible
# reads the same way.
BOOLEAN_VARIABLES = {'ansible_become'}


@pytest.fixture(scope='module', params=['sample data', 'sample data and more rows'])
def database(request, pg_url, server_jar):
    """The sample data alone, then with a staging host, a disabled host, JSONB configuration and nested groups."""
    database = make_database(pg_url, server_jar)
    if request.param == 'sample data and more rows':
        database.execute(EXTRA_ROWS)
        # The script gave every host ansible_user and ansible_become; in the data they are voip_servers' group
        # vars, so a fleet moved from the script has every host in that group.
        database.execute("INSERT INTO vm_group_membership (vm_id, group_id) "
                         "SELECT v.id, g.id FROM vm_configs v, ansible_groups g "
                         "WHERE v.vm_name = 'voip-stage-1' AND g.group_name = 'voip_servers'")
    yield database
    database.drop()


@pytest.fixture(scope='module')
def original_output(database):
    """The original script's --list output for the sample data, from its own database connection."""
    env = {key: value for key, value in os.environ.items() if not key.startswith('PG')}
    result = subprocess.run([sys.executable, str(ORIGINAL_SCRIPT), '--list'], env={**env, **database.env},
                            capture_output=True, text=True, timeout=60, check=True)
    return json.loads(result.stdout)


@pytest.fixture(scope='module')
def plugin_view(server, original_output, tmp_path_factory):
    """What ansible-inventory shows through the plugin: --list, and --host for each host the script printed."""
    ansible = Ansible(tmp_path_factory.mktemp('ansible'))
    inventory = ansible.write_inventory(endpoint=server.endpoint)
    hosts = {name: ansible.host(inventory, name) for name in original_output['_meta']['hostvars']}
    return ansible.list(inventory), hosts


def test_the_original_script_sees_the_enabled_hosts(original_output):
    assert {'voip-prod-1', 'voip-prod-2'} <= set(original_output['_meta']['hostvars'])
    assert 'voip-prod-3' not in original_output['_meta']['hostvars']


def test_every_host_the_script_printed_is_in_the_inventory(plugin_view, original_output):
    listing, _ = plugin_view

    assert set(original_output['_meta']['hostvars']) <= set(listing['_meta']['hostvars'])


def test_every_group_membership_the_script_printed_is_in_the_inventory(plugin_view, original_output):
    listing, _ = plugin_view

    for group, entry in original_output.items():
        if group == '_meta':
            continue
        assert set(entry['hosts']) <= hosts_of(listing, group), group


def test_every_host_variable_the_script_printed_has_the_same_value(plugin_view, original_output):
    _, host_vars = plugin_view
    for host, expected_vars in original_output['_meta']['hostvars'].items():
        actual_vars = host_vars[host]

        for name, expected in expected_vars.items():
            assert name in actual_vars, f'{host}: {name} is missing'
            if name in BOOLEAN_VARIABLES:
                assert actual_vars[name] is boolean(expected), f'{host}: {name}'
            else:
                assert actual_vars[name] == expected, f'{host}: {name}'


def test_every_group_variable_the_script_printed_reaches_the_group_members(plugin_view, original_output):
    _, host_vars = plugin_view
    for group, entry in original_output.items():
        if group == '_meta':
            continue
        for host in entry['hosts']:
            actual_vars = host_vars[host]
            for name, expected in entry.get('vars', {}).items():
                assert actual_vars[name] == expected, f'{group} -> {host}: {name}'

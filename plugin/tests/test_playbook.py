"""Playbooks run against the inventory: they read host, group and all-group variables, and strings from the
database stay data unless the inventory allows templating."""

from __future__ import annotations

import json

import pytest

PLAYBOOK = """\
- name: Read the inventory's variables
  hosts: voip_servers
  connection: local
  gather_facts: false
  tasks:
    - name: Host, group and all-group variables reach the play
      ansible.builtin.assert:
        that:
          - ansible_host is match('192\\\\.168\\\\.122\\\\.1[01]$')
          - vm_cpus == 4 and vm_memory_mb == 8192
          - opensips_version == '3.4'
          - opensips_config is mapping
          - ansible_user == 'admin'
          - ansible_become is sameas true
          - ansible_python_interpreter == '/usr/bin/python3'
          # environment is also a play keyword, which a bare name in a task resolves to; hostvars gives the variable.
          - hostvars[inventory_hostname]['environment'] == 'production'
          - "'production' in group_names and 'opensips_servers' in group_names"
          - groups['voip_servers'] | sort == ['voip-prod-1', 'voip-prod-2']

    - name: Show what the play saw
      ansible.builtin.debug:
        msg: "{{ inventory_hostname }} at {{ ansible_host }} as {{ ansible_user }} with {{ vm_cpus }} CPUs"
"""

UNTRUSTED_PLAYBOOK = """\
- name: Use strings that came from the database
  hosts: voip-prod-1
  connection: local
  gather_facts: false
  tasks:
    - name: Print them
      ansible.builtin.debug:
        msg:
          host_var: "{{ motd }}"
          nested: "{{ opensips_config.banner }}"
          group_var: "{{ greeting }}"
          all_var: "{{ footer }}"
"""


@pytest.fixture(scope='module')
def marker_rows(database, tmp_path_factory):
    """Rows whose strings are templates that would create a marker file on the controller if rendered."""
    directory = tmp_path_factory.mktemp('markers')
    paths = {place: directory / place for place in ('host_var', 'nested', 'group_var', 'all_var')}

    def template(place):
        return "{{ lookup('pipe', 'touch %s') }}" % paths[place]

    database.execute("UPDATE vm_configs SET host_vars = %s, opensips_config = %s WHERE vm_name = 'voip-prod-1'",
                     (json.dumps({'motd': template('host_var')}), json.dumps({'banner': template('nested')})))
    database.execute("UPDATE ansible_groups SET group_vars = group_vars || %s WHERE group_name = 'voip_servers'",
                     (json.dumps({'greeting': template('group_var')}),))
    database.execute('UPDATE inventory_all_vars SET vars = vars || %s', (json.dumps({'footer': template('all_var')}),))
    return paths, template


@pytest.fixture
def markers(marker_rows):
    paths, _ = marker_rows
    for path in paths.values():
        path.unlink(missing_ok=True)
    return marker_rows


def run_playbook(ansible, inventory, text):
    playbook = ansible.home / 'playbook.yml'
    playbook.write_text(text)
    return ansible.run('ansible-playbook', '-i', inventory, playbook, env={'ANSIBLE_CALLBACK_RESULT_FORMAT': 'json'})


def test_a_playbook_reads_host_group_and_all_group_variables(ansible, server):
    inventory = ansible.write_inventory(endpoint=server.endpoint)

    result = run_playbook(ansible, inventory, PLAYBOOK)

    assert 'voip-prod-1 at 192.168.122.10 as admin with 4 CPUs' in result.stdout
    assert 'voip-prod-2 at 192.168.122.11 as admin with 4 CPUs' in result.stdout
    assert 'ok=2' in result.stdout and 'failed=0' in result.stdout


def test_templates_in_database_strings_stay_literal_and_run_nothing(ansible, server, markers):
    paths, template = markers
    inventory = ansible.write_inventory(endpoint=server.endpoint)

    result = run_playbook(ansible, inventory, UNTRUSTED_PLAYBOOK)
    listing = ansible.list_raw(inventory, '--export')

    for place, path in paths.items():
        assert not path.exists(), f'the {place} template ran on the controller'
        assert template(place) in result.stdout, place
    assert listing['_meta']['hostvars']['voip-prod-1']['motd'] == {'__ansible_unsafe': template('host_var')}


def test_templates_in_database_strings_render_when_the_inventory_allows_it(ansible, server, markers):
    paths, _ = markers
    inventory = ansible.write_inventory(endpoint=server.endpoint, allow_templating=True)

    run_playbook(ansible, inventory, UNTRUSTED_PLAYBOOK)

    for place, path in paths.items():
        assert path.exists(), f'the {place} template did not render'


def test_templates_stay_literal_when_the_inventory_comes_from_the_cache(ansible, server, markers):
    paths, template = markers
    inventory = ansible.write_inventory(endpoint=server.endpoint, cache=True, cache_plugin='ansible.builtin.jsonfile',
                                        cache_connection=str(ansible.home / 'cache'))

    ansible.list(inventory)
    result = run_playbook(ansible, inventory, UNTRUSTED_PLAYBOOK)

    for place, path in paths.items():
        assert not path.exists(), f'the cached {place} template ran on the controller'
        assert template(place) in result.stdout, place

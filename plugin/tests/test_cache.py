"""The inventory cache: a second run is served from Ansible's cache, entries never leak between inventory files
or options, and --flush-cache, refresh_inventory and the cache timeout fetch again."""

from __future__ import annotations

import time

import pytest

NEW_HOST = 'voip-new-1'

ADD_NEW_HOST = f"""
INSERT INTO vm_configs (vm_name, environment, cpus, memory_mb, disk_gb, ip_address)
VALUES ('{NEW_HOST}', 'production', 2, 2048, 20, '192.168.122.50')
"""

REFRESH_PLAYBOOK = f"""\
- name: Refresh the inventory in the middle of a play
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
  tasks:
    - name: The new host is not there yet
      ansible.builtin.assert:
        that: "'{NEW_HOST}' not in groups['all']"

    - name: An operator adds it to the database
      ansible.builtin.command:
        argv: ["{{{{ ansible_playbook_python }}}}", "{{{{ add_host_script }}}}"]
      changed_when: true

    - name: Read the inventory again
      ansible.builtin.meta: refresh_inventory

    - name: The new host is there now
      ansible.builtin.assert:
        that: "'{NEW_HOST}' in groups['production']"
"""


@pytest.fixture
def new_host(database):
    """Lets a test add a host to the database; removes it afterwards."""
    yield lambda: database.execute(ADD_NEW_HOST)
    database.execute('DELETE FROM vm_configs WHERE vm_name = %s', (NEW_HOST,))


def cached_inventory(ansible, server, name='inventory.yml', **options):
    return ansible.write_inventory(name, endpoint=server.endpoint, cache=True,
                                   cache_plugin='ansible.builtin.jsonfile',
                                   cache_connection=str(ansible.home / 'cache'), **options)


def hostnames(listing):
    return set(listing['_meta']['hostvars'])


def test_a_second_run_is_served_from_the_cache_without_the_server(ansible, running_server):
    inventory = cached_inventory(ansible, running_server)
    uncached = ansible.write_inventory('uncached.yml', endpoint=running_server.endpoint)

    first = ansible.list(inventory)
    running_server.stop()
    second = ansible.list(inventory)
    error = ansible.fails(uncached)

    assert hostnames(first) == {'voip-prod-1', 'voip-prod-2'}
    assert second == first
    assert 'cannot reach the voip-inventory server' in error


def test_the_cache_keeps_the_old_inventory_until_flushed(ansible, server, new_host):
    inventory = cached_inventory(ansible, server)

    ansible.list(inventory)
    new_host()
    cached = ansible.list(inventory)
    flushed = ansible.list(inventory, '--flush-cache')
    after_flush = ansible.list(inventory)

    assert NEW_HOST not in hostnames(cached)
    assert NEW_HOST in hostnames(flushed)
    assert NEW_HOST in hostnames(after_flush)


def test_ansible_playbook_flush_cache_asks_the_server_again(ansible, server, new_host):
    inventory = cached_inventory(ansible, server)
    playbook = ansible.home / 'count.yml'
    playbook.write_text(
        '- hosts: localhost\n'
        '  connection: local\n'
        '  gather_facts: false\n'
        '  tasks:\n'
        '    - ansible.builtin.debug:\n'
        '        msg: "production hosts: {{ groups.production | sort | join(\',\') }}"\n')

    ansible.list(inventory)
    new_host()
    cached = ansible.run('ansible-playbook', '-i', inventory, playbook)
    flushed = ansible.run('ansible-playbook', '-i', inventory, playbook, '--flush-cache')

    assert 'production hosts: voip-prod-1,voip-prod-2"' in cached.stdout
    assert f'production hosts: {NEW_HOST},voip-prod-1,voip-prod-2"' in flushed.stdout


def test_a_cache_entry_older_than_the_cache_timeout_is_not_used(ansible, server, new_host):
    inventory = cached_inventory(ansible, server, cache_timeout=1)

    ansible.list(inventory)
    new_host()
    time.sleep(2)
    listing = ansible.list(inventory)

    assert NEW_HOST in hostnames(listing)


def test_without_cache_every_run_asks_the_server(ansible, server, new_host):
    inventory = ansible.write_inventory(endpoint=server.endpoint)

    ansible.list(inventory)
    new_host()
    listing = ansible.list(inventory)

    assert NEW_HOST in hostnames(listing)


def test_two_inventory_files_sharing_a_cache_keep_their_own_entries(ansible, running_server, database):
    database.execute("UPDATE vm_configs SET environment = 'staging' WHERE vm_name = 'voip-prod-2'")
    try:
        production = cached_inventory(ansible, running_server, 'production.yml', environments=['production'])
        staging = cached_inventory(ansible, running_server, 'staging.yml', environments=['staging'])
        ansible.list(production)
        ansible.list(staging)
        running_server.stop()

        from_cache = {'production': ansible.list(production), 'staging': ansible.list(staging)}
    finally:
        database.execute("UPDATE vm_configs SET environment = 'production' WHERE vm_name = 'voip-prod-2'")

    assert hostnames(from_cache['production']) == {'voip-prod-1'}
    assert hostnames(from_cache['staging']) == {'voip-prod-2'}
    assert list(sorted((ansible.home / 'cache').iterdir())) != [], 'the jsonfile cache wrote nothing'


def test_changing_the_options_of_an_inventory_file_does_not_reuse_its_old_entry(ansible, server, database):
    database.execute("UPDATE vm_configs SET enabled = false WHERE vm_name = 'voip-prod-2'")
    try:
        cached_inventory(ansible, server)
        enabled_only = ansible.list(ansible.home / 'inventory.yml')
        cached_inventory(ansible, server, include_disabled=True)
        with_disabled = ansible.list(ansible.home / 'inventory.yml')
    finally:
        database.execute("UPDATE vm_configs SET enabled = true WHERE vm_name = 'voip-prod-2'")

    assert hostnames(enabled_only) == {'voip-prod-1'}
    assert hostnames(with_disabled) == {'voip-prod-1', 'voip-prod-2'}


def test_refresh_inventory_in_a_playbook_asks_the_server_again(ansible, server, database, new_host):
    inventory = cached_inventory(ansible, server)
    script = ansible.home / 'add_host.py'
    script.write_text(
        'import psycopg2\n'
        f'with psycopg2.connect(host={database.host!r}, port={database.port}, dbname={database.name!r}, '
        f'user={database.user!r}, password={database.password!r}) as conn:\n'
        f'    conn.cursor().execute({ADD_NEW_HOST!r})\n')
    playbook = ansible.home / 'refresh.yml'
    playbook.write_text(REFRESH_PLAYBOOK)

    ansible.list(inventory)
    result = ansible.run('ansible-playbook', '-i', inventory, playbook, '-e', f'add_host_script={script}')

    assert 'failed=0' in result.stdout
    assert NEW_HOST in hostnames(ansible.list(inventory))

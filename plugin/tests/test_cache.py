"""The inventory cache. By default each run asks the server for the revision only and uses the cached inventory while
it holds that revision; while the server cannot be reached a cache that has not expired is used with a warning.
With revalidate_cache: false the cache is used by age alone. Entries never leak between inventory files or options,
and --flush-cache and refresh_inventory fetch again."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import Server, inventory_pb2, run_readme_stale_task, without_unsafe_marks

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

# gRPC's own transport trace in the client: it logs the path of every call the plugin starts.
GRPC_CALL_TRACE = {'GRPC_VERBOSITY': 'debug', 'GRPC_TRACE': 'http'}
CALL_PATH = re.compile(r'SEND_INITIAL_METADATA\{:path: /voip\.inventory\.v1\.Inventory/(\w+)')


@pytest.fixture
def new_host(database):
    """Lets a test add a host to the database; removes it afterwards."""
    yield lambda: database.execute(ADD_NEW_HOST)
    database.execute('DELETE FROM vm_configs WHERE vm_name = %s', (NEW_HOST,))


@pytest.fixture
def database_down(database, running_server):
    """Lets a test make the database refuse the server, as a stopped PostgreSQL would; lets it back in afterwards."""
    made_down = []

    def stop_answering():
        database.set_allow_connections(False)
        made_down.append(True)

    yield stop_answering
    if made_down:
        database.set_allow_connections(True)
        # A server the test stopped is started again by running_server, fresh.
        if running_server.process is not None:
            running_server.wait_until_fresh()


def cached_inventory(ansible, server, name='inventory.yml', **options):
    return ansible.write_inventory(name, endpoint=server.endpoint, cache=True,
                                   cache_plugin='ansible.builtin.jsonfile',
                                   cache_connection=str(ansible.home / 'cache'), **options)


def hostnames(listing):
    return set(listing['_meta']['hostvars'])


def stale_flag(listing):
    return listing['_meta']['hostvars']['voip-prod-1']['voip_inventory_stale']


def revision_of(listing):
    return listing['_meta']['hostvars']['voip-prod-1']['voip_inventory_revision']


def listing_and_warnings(ansible, inventory, **kwargs):
    result = ansible.inventory(inventory, '--list', **kwargs)
    return without_unsafe_marks(json.loads(result.stdout)), ' '.join(result.stderr.split())


def calls_of_a_run(ansible, inventory):
    """The rpcs one `ansible-inventory --list` started, as gRPC's transport trace in the plugin's process shows."""
    result = ansible.inventory(inventory, '--list', env=GRPC_CALL_TRACE)
    return set(CALL_PATH.findall(result.stderr)), json.loads(result.stdout)


def psql(database, statement):
    """Commits a statement with the psql command-line client, as an operator would; the password via PGPASSWORD."""
    if shutil.which('psql') is None:
        pytest.fail('psql is not installed: apt-get install postgresql-client')
    env = {**os.environ, 'PGHOST': database.host, 'PGPORT': str(database.port), 'PGDATABASE': database.name,
           'PGUSER': database.user, 'PGPASSWORD': database.password}
    subprocess.run(['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', statement], env=env, check=True,
                   capture_output=True, timeout=60)


def test_a_change_committed_with_psql_shows_up_in_the_next_run_with_the_cache_on(ansible, running_server, database,
                                                                                 new_host):
    inventory = cached_inventory(ansible, running_server)

    before = ansible.list(inventory)
    psql(database, ADD_NEW_HOST)
    after = ansible.list(inventory)
    running_server.stop()
    from_renewed_cache = ansible.list(inventory)

    assert NEW_HOST not in hostnames(before)
    assert NEW_HOST in hostnames(after)
    assert revision_of(after) > revision_of(before)
    assert NEW_HOST in hostnames(from_renewed_cache)


def test_a_change_to_group_or_all_variables_also_renews_the_cached_inventory(ansible, server, database):
    inventory = cached_inventory(ansible, server)

    before = ansible.list(inventory)
    database.execute("""UPDATE ansible_groups SET group_vars = group_vars || '{"sip_port": 5070}'
                        WHERE group_name = 'voip_servers'""")
    database.execute("""UPDATE inventory_all_vars SET vars = vars || '{"ntp_server": "ntp.example.net"}'""")
    try:
        after = ansible.list(inventory)
    finally:
        database.execute("UPDATE ansible_groups SET group_vars = group_vars - 'sip_port'")
        database.execute("UPDATE inventory_all_vars SET vars = vars - 'ntp_server'")

    assert 'sip_port' not in before['_meta']['hostvars']['voip-prod-1']
    assert after['_meta']['hostvars']['voip-prod-1']['sip_port'] == 5070
    assert after['_meta']['hostvars']['voip-prod-1']['ntp_server'] == 'ntp.example.net'


def test_a_run_with_a_current_cache_asks_the_server_for_the_revision_only(ansible, server, new_host):
    inventory = cached_inventory(ansible, server)

    first, _ = calls_of_a_run(ansible, inventory)
    current, listing = calls_of_a_run(ansible, inventory)
    new_host()
    outdated, renewed = calls_of_a_run(ansible, inventory)

    assert first == {'GetInventory'}
    assert current == {'GetRevision'}
    assert hostnames(listing) == {'voip-prod-1', 'voip-prod-2'}
    assert outdated == {'GetRevision', 'GetInventory'}
    assert NEW_HOST in hostnames(renewed)


def test_cached_and_uncached_listings_are_identical_for_the_same_revision(ansible, server):
    cached = cached_inventory(ansible, server)
    uncached = ansible.write_inventory('uncached.yml', endpoint=server.endpoint)

    from_server = ansible.list_raw(uncached)
    fetched_and_cached = ansible.list_raw(cached)
    calls, from_cache = calls_of_a_run(ansible, cached)

    assert calls == {'GetRevision'}
    assert fetched_and_cached == from_server
    assert from_cache == from_server


def test_with_the_server_stopped_the_cached_inventory_is_served_with_a_warning(ansible, running_server):
    inventory = cached_inventory(ansible, running_server)
    uncached = ansible.write_inventory('uncached.yml', endpoint=running_server.endpoint)

    first = ansible.list(inventory)
    running_server.stop()
    second, warnings = listing_and_warnings(ansible, inventory)
    error = ansible.fails(uncached)

    assert hostnames(second) == hostnames(first) == {'voip-prod-1', 'voip-prod-2'}
    assert second['_meta']['hostvars']['voip-prod-1']['opensips_version'] == '3.4'
    assert stale_flag(first) is False and stale_flag(second) is True
    assert revision_of(second) == revision_of(first)
    assert f'cannot reach the voip-inventory server at {running_server.endpoint}' in warnings
    assert f'Using the cached inventory instead: revision {revision_of(first)}, fetched' in warnings
    assert 'Changes made since then may be missing' in warnings
    assert warnings.count('Using the cached inventory instead') == 1
    assert 'cannot reach the voip-inventory server' in error


def test_the_readmes_guard_stops_a_playbook_run_from_the_cache_while_the_server_is_down(ansible, running_server):
    cache_options = {'cache': True, 'cache_plugin': 'ansible.builtin.jsonfile',
                     'cache_connection': str(ansible.home / 'cache')}

    current = run_readme_stale_task(ansible, running_server.endpoint, **cache_options)
    running_server.stop()
    from_cache = run_readme_stale_task(ansible, running_server.endpoint, **cache_options)

    assert current.returncode == 0, current.stdout + current.stderr
    assert from_cache.returncode != 0
    assert 'Using the cached inventory instead' in ' '.join(from_cache.stderr.split())
    assert 'the inventory may be outdated' in from_cache.stdout


def test_with_the_server_stopped_and_nothing_cached_ansible_inventory_fails(ansible, running_server):
    inventory = cached_inventory(ansible, running_server)

    running_server.stop()
    result = ansible.inventory(inventory, '--list', env={'ANSIBLE_INVENTORY_UNPARSED_FAILED': 'true'}, check=False)

    assert result.returncode != 0
    assert f'cannot reach the voip-inventory server at {running_server.endpoint}' in ' '.join(result.stderr.split())


def test_with_the_server_stopped_an_expired_cache_is_not_used(ansible, running_server):
    inventory = cached_inventory(ansible, running_server, cache_timeout=1)

    ansible.list(inventory)
    running_server.stop()
    time.sleep(2)
    error = ansible.fails(inventory)

    assert f'cannot reach the voip-inventory server at {running_server.endpoint}' in error
    assert 'Using the cached inventory' not in error


def test_a_server_that_does_not_answer_in_time_is_replaced_by_the_cache(ansible, running_server):
    inventory = cached_inventory(ansible, running_server, timeout=2)

    first = ansible.list(inventory)
    running_server.pause()
    second, warnings = listing_and_warnings(ansible, inventory)

    assert hostnames(second) == hostnames(first)
    assert stale_flag(second) is True
    assert f'the voip-inventory server at {running_server.endpoint} did not answer within 2 seconds' in warnings
    assert f'Using the cached inventory instead: revision {revision_of(first)}' in warnings


def test_an_error_the_server_answers_is_never_covered_by_the_cache(ansible, server, database):
    inventory = cached_inventory(ansible, server)

    ansible.list(inventory)
    # The server's own role loses the right to read the revision: a permissions problem the operator must see.
    database.execute('REVOKE SELECT ON inventory_revision FROM CURRENT_USER')
    try:
        error = ansible.fails(inventory)
    finally:
        database.execute('GRANT SELECT ON inventory_revision TO CURRENT_USER')

    assert f'the voip-inventory server at {server.endpoint} answered FAILED_PRECONDITION:' in error
    assert 'grant it SELECT' in error
    assert 'Using the cached inventory' not in error


def test_a_socket_this_user_may_not_open_is_never_covered_by_the_cache(ansible, running_server):
    inventory = cached_inventory(ansible, running_server)
    # root opens any file; without the capability that allows it, root is held to the file's mode like anyone.
    as_unprivileged = ('setpriv', '--bounding-set', '-dac_override,-dac_read_search') if os.geteuid() == 0 else ()

    ansible.list(inventory)
    running_server.socket.chmod(0)
    try:
        error = ansible.fails(inventory, wrapper=as_unprivileged)
    finally:
        running_server.socket.chmod(0o660)

    assert f'permission denied on the socket of the voip-inventory server ({running_server.endpoint})' in error
    assert 'Using the cached inventory' not in error


def test_while_the_database_is_down_a_cache_of_the_same_revision_is_served_marked_stale(
        ansible, server, database_down):
    inventory = cached_inventory(ansible, server)

    fresh = ansible.list(inventory)
    database_down()
    calls, _ = calls_of_a_run(ansible, inventory)
    stale, warnings = listing_and_warnings(ansible, inventory)

    assert calls == {'GetRevision'}
    assert hostnames(stale) == hostnames(fresh)
    assert revision_of(stale) == revision_of(fresh)
    assert stale_flag(fresh) is False and stale_flag(stale) is True
    assert f'the voip-inventory server at {server.endpoint} cannot read its database' in warnings
    assert 'seconds ago' in warnings
    assert warnings.count('cannot read its database') == 1


def test_the_stale_mark_goes_with_the_servers_state_not_the_caches(ansible, server, database, database_down):
    inventory = cached_inventory(ansible, server)

    ansible.list(inventory)
    database_down()
    during = ansible.list(inventory)
    database.set_allow_connections(True)
    server.wait_until_fresh()
    after, warnings = listing_and_warnings(ansible, inventory)

    assert stale_flag(during) is True
    assert stale_flag(after) is False
    assert 'cannot read its database' not in warnings


def test_while_the_database_is_down_an_older_cache_gives_way_to_the_servers_last_snapshot(
        ansible, running_server, new_host, database_down):
    inventory = cached_inventory(ansible, running_server)
    uncached = ansible.write_inventory('uncached.yml', endpoint=running_server.endpoint)

    cached = ansible.list(inventory)
    new_host()
    ansible.list(uncached)
    database_down()
    stale, warnings = listing_and_warnings(ansible, inventory)
    running_server.stop()
    still_cached = ansible.list(inventory)

    assert NEW_HOST not in hostnames(cached)
    assert NEW_HOST in hostnames(stale) and stale_flag(stale) is True
    assert 'cannot read its database' in warnings
    assert NEW_HOST not in hostnames(still_cached), 'the stale answer was written to the cache'
    assert revision_of(still_cached) == revision_of(cached)


def test_a_server_that_refuses_a_snapshot_past_its_maximum_age_is_not_covered_by_the_cache(
        ansible, server_jar, database, database_down, tmp_path):
    strict = Server(server_jar, database, tmp_path / 'strict', '--max-stale-age=1s')
    strict.socket.parent.mkdir()
    strict.start()
    try:
        inventory = cached_inventory(ansible, strict)
        ansible.list(inventory)
        database_down()
        time.sleep(2)
        error = ansible.fails(inventory)
    finally:
        strict.stop()

    assert f'the voip-inventory server at {strict.endpoint} answered UNAVAILABLE:' in error
    assert 'Using the cached inventory' not in error


def test_the_environment_can_turn_revalidation_off(ansible, server, new_host):
    inventory = cached_inventory(ansible, server)
    by_age_alone = {'VOIP_INVENTORY_REVALIDATE_CACHE': 'false'}

    ansible.list(inventory)
    new_host()
    cached = ansible.list(inventory, env=by_age_alone)
    revalidated = ansible.list(inventory)

    assert NEW_HOST not in hostnames(cached)
    assert NEW_HOST in hostnames(revalidated)


def test_the_cache_keeps_the_old_inventory_until_flushed_when_not_revalidated(ansible, server, new_host):
    inventory = cached_inventory(ansible, server, revalidate_cache=False)

    ansible.list(inventory)
    new_host()
    calls, cached = calls_of_a_run(ansible, inventory)
    flushed = ansible.list(inventory, '--flush-cache')
    after_flush = ansible.list(inventory)

    assert calls == set(), 'a cache used by age alone must not ask the server anything'
    assert NEW_HOST not in hostnames(cached)
    assert NEW_HOST in hostnames(flushed)
    assert NEW_HOST in hostnames(after_flush)


def test_ansible_playbook_flush_cache_asks_the_server_again(ansible, server, new_host):
    inventory = cached_inventory(ansible, server, revalidate_cache=False)
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
    inventory = cached_inventory(ansible, server, cache_timeout=1, revalidate_cache=False)

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
        production = cached_inventory(ansible, running_server, 'production.yml', environments=['production'],
                                      revalidate_cache=False)
        staging = cached_inventory(ansible, running_server, 'staging.yml', environments=['staging'],
                                   revalidate_cache=False)
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
        cached_inventory(ansible, server, revalidate_cache=False)
        enabled_only = ansible.list(ansible.home / 'inventory.yml')
        cached_inventory(ansible, server, include_disabled=True, revalidate_cache=False)
        with_disabled = ansible.list(ansible.home / 'inventory.yml')
    finally:
        database.execute("UPDATE vm_configs SET enabled = true WHERE vm_name = 'voip-prod-2'")

    assert hostnames(enabled_only) == {'voip-prod-1'}
    assert hostnames(with_disabled) == {'voip-prod-1', 'voip-prod-2'}


def test_refresh_inventory_in_a_playbook_asks_the_server_again(ansible, server, database, new_host):
    inventory = cached_inventory(ansible, server, revalidate_cache=False)
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


@pytest.mark.parametrize('bad_vars, expected', [
    ('{"vm_cpus": 4', 'that are not JSON'),
    ('{"vm_cpus": 4}, {"vm_cpus": 8}', 'that are not JSON'),
    ('["vm_cpus"]', 'that are not a mapping but list'),
])
def test_host_variables_that_are_not_one_json_object_fail_the_run_naming_the_host(ansible, server, bad_vars,
                                                                                   expected):
    # The server only sends JSON objects; a cache entry edited on disk is the way to feed the plugin anything else.
    inventory = cached_inventory(ansible, server, revalidate_cache=False)
    ansible.list(inventory)
    [entry_file] = (ansible.home / 'cache').iterdir()

    def spoil(entry):
        response = inventory_pb2.GetInventoryResponse.FromString(base64.b64decode(entry['response']))
        [bad] = [host for host in response.hosts if host.name == 'voip-prod-1']
        bad.vars_json = bad_vars
        entry['response'] = base64.b64encode(response.SerializeToString()).decode('ascii')

    _edit_cached_entry(entry_file, spoil)

    error = ansible.fails(inventory)

    assert f'the server sent variables for host voip-prod-1 {expected}' in error


def _edit_cached_entry(path, edit):
    """Lets EDIT change the plugin's entry in a jsonfile cache file in place. ansible-core keeps the entry as JSON text
    under "__payload__" (2.19 and later) or as the file's document itself (before)."""
    stored = json.loads(path.read_text())
    if isinstance(stored, dict) and '__payload__' in stored:
        entry = json.loads(stored['__payload__'])
        edit(entry)
        stored['__payload__'] = json.dumps(entry)
    else:
        edit(stored)
    path.write_text(json.dumps(stored))

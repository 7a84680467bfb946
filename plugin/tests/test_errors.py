"""Every failure stops ansible-inventory with a message that names the thing and the fix."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from conftest import ROOT, VENV_BIN, Server, make_database, run_readme_stale_task, without_unsafe_marks


def test_a_server_that_is_not_running_is_named_with_how_to_start_it(ansible, tmp_path):
    socket_path = tmp_path / 'inventory.sock'
    inventory = ansible.write_inventory(endpoint=f'unix:{socket_path}')

    error = ansible.fails(inventory)

    assert f'cannot reach the voip-inventory server at unix:{socket_path}' in error
    assert f'there is no socket {socket_path}' in error
    assert f"voip-inventory serve --listen unix:{socket_path}" in error
    assert 'systemctl start voip-inventory' in error
    assert 'VOIP_INVENTORY_ENDPOINT' in error


def test_the_endpoint_can_come_from_the_environment(ansible, tmp_path):
    socket_path = tmp_path / 'elsewhere.sock'
    inventory = ansible.write_inventory()

    error = ansible.fails(inventory, env={'VOIP_INVENTORY_ENDPOINT': f'unix://{socket_path}'})

    assert f'cannot reach the voip-inventory server at unix://{socket_path}' in error


def test_a_stale_socket_file_from_a_crashed_server_is_reported_as_not_running(ansible, tmp_path):
    socket_path = tmp_path / 'inventory.sock'
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stale:
        stale.bind(str(socket_path))
    inventory = ansible.write_inventory(endpoint=f'unix:{socket_path}')

    error = ansible.fails(inventory)

    assert f'cannot reach the voip-inventory server at unix:{socket_path}' in error
    assert 'Connection refused' in error
    assert f"voip-inventory serve --listen unix:{socket_path}" in error


def test_a_tcp_endpoint_with_nothing_listening_is_named(ansible):
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    inventory = ansible.write_inventory(endpoint=f'127.0.0.1:{port}')

    error = ansible.fails(inventory)

    assert f'cannot reach the voip-inventory server at 127.0.0.1:{port}' in error
    assert f'voip-inventory serve --listen 127.0.0.1:{port}' in error


def test_a_server_that_does_not_answer_in_time_names_the_timeout_option(ansible, running_server):
    inventory = ansible.write_inventory(endpoint=running_server.endpoint, timeout=2)

    running_server.pause()
    error = ansible.fails(inventory)

    assert f'the voip-inventory server at {running_server.endpoint} did not answer within 2 seconds' in error
    assert "'timeout' option" in error


def test_a_socket_this_user_may_not_open_says_to_join_its_group(ansible, running_server):
    inventory = ansible.write_inventory(endpoint=running_server.endpoint)
    # root opens any file; without the capability that allows it, root is held to the file's mode like anyone.
    as_unprivileged = ('setpriv', '--bounding-set', '-dac_override,-dac_read_search') if os.geteuid() == 0 else ()

    running_server.socket.chmod(0)
    try:
        error = ansible.fails(inventory, wrapper=as_unprivileged)
    finally:
        running_server.socket.chmod(0o660)

    assert f'permission denied on the socket of the voip-inventory server ({running_server.endpoint})' in error
    assert "add this user to the socket's group" in error


@pytest.mark.parametrize('options, expected', [
    ({'endpoint': 'inventory.sock'}, "option 'endpoint': endpoint 'inventory.sock' is not valid: use unix:/"),
    ({'endpoint': 'unix:run/inventory.sock'}, 'a socket endpoint needs an absolute path'),
    ({'endpoint': '127.0.0.1:70000'}, "endpoint '127.0.0.1:70000' is not valid"),
    ({'endpoint': 'unix:/' + 'd' * 120 + '/inventory.sock'}, 'Unix socket paths are limited to 107 bytes'),
    ({'timeout': 0}, "option 'timeout' must be a number of seconds above 0, not 0"),
    ({'include_disabled': 'maybe'}, "option 'include_disabled' in"),
    ({'allow_templating': 'sometimes'}, "must be true or false, not 'sometimes'"),
    ({'environment': ['staging']}, "unknown options: 'environment' (did you mean 'environments'?)"),
])
def test_a_bad_option_value_is_named(ansible, server, options, expected):
    inventory = ansible.write_inventory(**{'endpoint': server.endpoint, **options})

    error = ansible.fails(inventory)

    assert expected in error


def test_a_bad_timeout_type_gets_ansibles_own_message(ansible, server):
    inventory = ansible.write_inventory(endpoint=server.endpoint, timeout='soon')

    error = ansible.fails(inventory)

    assert "Config 'timeout'" in error and "Invalid value provided for 'float': 'soon'" in error


@pytest.mark.parametrize('environment, detail', [
    ('', 'environments[1] is empty'),
    ('x' * 51, 'at most 50'),
])
def test_a_request_the_server_refuses_is_passed_on_with_its_status_and_description(ansible, server, environment,
                                                                                  detail):
    inventory = ansible.write_inventory(endpoint=server.endpoint, environments=['production', environment])

    error = ansible.fails(inventory)

    assert f'the voip-inventory server at {server.endpoint} answered INVALID_ARGUMENT:' in error
    assert detail in error


@pytest.fixture(scope='module')
def outage(server_jar, tmp_path_factory):
    """Two servers on a PostgreSQL that then stops: one may serve its last good snapshot for a day, one for 1s."""
    run_dir = tmp_path_factory.mktemp('outage')
    cluster = ThrowawayCluster(run_dir / 'pg')
    database = make_database(cluster.start(), server_jar)
    patient = Server(server_jar, database, run_dir / 'patient', '--max-stale-age=24h')
    strict = Server(server_jar, database, run_dir / 'strict', '--max-stale-age=1s')
    try:
        for server in (patient, strict):
            server.socket.parent.mkdir()
            server.start()
        cluster.stop()
        time.sleep(3)
        yield database, patient, strict
    finally:
        patient.stop()
        strict.stop()
        cluster.stop()


def test_while_the_database_is_down_the_last_good_snapshot_is_served_with_a_warning(ansible, outage):
    _, patient, _ = outage
    inventory = ansible.write_inventory(endpoint=patient.endpoint)

    result = ansible.inventory(inventory, '--list')
    listing = without_unsafe_marks(json.loads(result.stdout))
    warning = ' '.join(result.stderr.split())

    assert set(listing['_meta']['hostvars']) == {'voip-prod-1', 'voip-prod-2'}
    assert listing['_meta']['hostvars']['voip-prod-1']['voip_inventory_stale'] is True
    assert f'the voip-inventory server at {patient.endpoint} cannot read its database' in warning
    assert 'last good snapshot' in warning and 'seconds ago' in warning


def test_the_readmes_guard_stops_a_playbook_on_a_stale_inventory(ansible, outage):
    _, patient, _ = outage

    result = run_readme_stale_task(ansible, patient.endpoint)

    assert result.returncode != 0
    assert 'the inventory may be outdated' in result.stdout


def test_the_readmes_guard_lets_a_playbook_run_on_a_current_inventory(ansible, server):
    result = run_readme_stale_task(ansible, server.endpoint)

    assert result.returncode == 0, result.stdout + result.stderr


def test_a_stale_answer_is_not_cached(ansible, outage):
    _, patient, _ = outage
    inventory = ansible.write_inventory(endpoint=patient.endpoint, cache=True, cache_plugin='ansible.builtin.jsonfile',
                                        cache_connection=str(ansible.home / 'cache'))

    ansible.inventory(inventory, '--list')

    assert not (ansible.home / 'cache').exists() or not list((ansible.home / 'cache').iterdir())


def test_a_database_down_for_longer_than_the_servers_limit_is_passed_on_as_unavailable(ansible, outage):
    database, _, strict = outage
    inventory = ansible.write_inventory(endpoint=strict.endpoint)

    error = ansible.fails(inventory)

    assert f'the voip-inventory server at {strict.endpoint} answered UNAVAILABLE:' in error
    assert database.name in error
    assert database.password not in error


class ThrowawayCluster:
    """A private PostgreSQL cluster made by scripts/throwaway-pg, so a test may stop it."""

    def __init__(self, run_dir: Path) -> None:
        with socket.socket() as probe:
            probe.bind(('127.0.0.1', 0))
            self.port = probe.getsockname()[1]
        self.env = {**os.environ, 'VOIP_RUN_DIR': str(run_dir), 'VOIP_PG_PORT': str(self.port)}

    def start(self) -> str:
        result = subprocess.run([ROOT / 'scripts' / 'throwaway-pg', 'start'], env=self.env, capture_output=True,
                                text=True, timeout=120, check=False)
        if result.returncode != 0:
            pytest.skip(f'no private PostgreSQL cluster to stop: {result.stderr.strip()}')
        return result.stdout.strip()

    def stop(self) -> None:
        subprocess.run([ROOT / 'scripts' / 'throwaway-pg', 'stop'], env=self.env, capture_output=True, timeout=120,
                       check=False)


def test_missing_grpcio_and_protobuf_name_the_pip_command(ansible, server, tmp_path):
    python, pythonpath = python_without_grpc(tmp_path)
    inventory = ansible.write_inventory(endpoint=server.endpoint)

    result = ansible.run(python, '-S', VENV_BIN / 'ansible-inventory', '-i', inventory, '--list',
                         env={'PYTHONPATH': str(pythonpath)}, check=False)
    error = ' '.join(result.stderr.split())

    assert result.returncode != 0
    assert 'needs the Python packages grpcio and protobuf' in error
    assert f"'{python} -m pip install grpcio protobuf'" in error
    assert "collection's requirements.txt" in error


def python_without_grpc(tmp_path: Path) -> tuple[str, Path]:
    """This virtualenv's packages except grpcio and protobuf, for the base interpreter run without site-packages."""
    site_packages = Path(sysconfig.get_paths()['purelib'])
    pythonpath = tmp_path / 'site-packages-without-grpc'
    pythonpath.mkdir()
    for entry in site_packages.iterdir():
        if not entry.name.startswith(('grpc', 'google', 'protobuf')):
            (pythonpath / entry.name).symlink_to(entry)
    return sys._base_executable, pythonpath  # pylint: disable=protected-access

"""Real parts for the end-to-end tests: a fresh PostgreSQL database per test module, the real server on a real
socket, and the real ansible-inventory / ansible-playbook from this virtualenv.

Environment:
  VOIP_TEST_PG_URL   superuser libpq URL of a PostgreSQL server to make test databases in (required);
                     scripts/throwaway-pg start prints one.
  VOIP_SERVER_JAR    the server jar (default: server/target/voip-inventory.jar, built by mvn -B -q package).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import pytest
import yaml
from psycopg2 import sql

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / 'collections'
VENV_BIN = Path(sys.executable).parent
SERVER_START_SECONDS = 90

sys.path.insert(0, str(COLLECTIONS))
from ansible_collections.voip.infrastructure.plugins.module_utils import inventory_pb2, inventory_pb2_grpc  # noqa: E402
import grpc  # noqa: E402


@pytest.fixture(scope='session')
def pg_url() -> str:
    url = os.environ.get('VOIP_TEST_PG_URL')
    if not url:
        pytest.fail('VOIP_TEST_PG_URL is not set: give a superuser PostgreSQL URL, for example the one '
                    '`scripts/throwaway-pg start` prints (postgresql://postgres@127.0.0.1:54329/postgres)')
    return url


@pytest.fixture(scope='session')
def server_jar() -> Path:
    jar = Path(os.environ.get('VOIP_SERVER_JAR', ROOT / 'server' / 'target' / 'voip-inventory.jar'))
    if not jar.is_file():
        pytest.fail(f'server jar {jar} not found: build it with `mvn -B -q package -DskipTests` '
                    f'or point VOIP_SERVER_JAR at one')
    return jar


class Database:
    """A fresh database owned by a fresh password-authenticated role, as the server would use in production."""

    def __init__(self, pg_url: str) -> None:
        self.admin_url = pg_url
        parts = urlsplit(pg_url)
        self.host = parts.hostname or '127.0.0.1'
        self.port = parts.port or 5432
        suffix = secrets.token_hex(4)
        self.name = f'voip_test_{suffix}'
        self.user = f'voip_test_{suffix}'
        self.password = secrets.token_urlsafe(18)

    @property
    def env(self) -> dict[str, str]:
        """The server's database settings; the password travels in the environment, never in argv."""
        return {'INFRA_DB_HOST': self.host, 'INFRA_DB_PORT': str(self.port), 'INFRA_DB_NAME': self.name,
                'INFRA_DB_USER': self.user, 'INFRA_DB_PASSWORD': self.password}

    def create(self) -> None:
        with _autocommit(self.admin_url) as cursor:
            cursor.execute(sql.SQL('CREATE ROLE {} LOGIN PASSWORD {}').format(
                sql.Identifier(self.user), sql.Literal(self.password)))
            cursor.execute(sql.SQL('CREATE DATABASE {} OWNER {}').format(
                sql.Identifier(self.name), sql.Identifier(self.user)))

    def drop(self) -> None:
        with _autocommit(self.admin_url) as cursor:
            cursor.execute(sql.SQL('DROP DATABASE IF EXISTS {} WITH (FORCE)').format(sql.Identifier(self.name)))
            cursor.execute(sql.SQL('DROP ROLE IF EXISTS {}').format(sql.Identifier(self.user)))

    def execute(self, statement: str, params=None) -> None:
        """Runs SQL as the owning role, as an operator editing the inventory would."""
        with psycopg2.connect(host=self.host, port=self.port, dbname=self.name, user=self.user,
                              password=self.password) as conn, conn.cursor() as cursor:
            cursor.execute(statement, params)
        conn.close()

    def set_allow_connections(self, allowed: bool) -> None:
        with _autocommit(self.admin_url) as cursor:
            cursor.execute(sql.SQL('ALTER DATABASE {} ALLOW_CONNECTIONS {}').format(
                sql.Identifier(self.name), sql.Literal(allowed)))
            if not allowed:
                cursor.execute('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s',
                               (self.name,))


class _autocommit:
    def __init__(self, url: str) -> None:
        self.conn = psycopg2.connect(url)
        self.conn.autocommit = True

    def __enter__(self):
        return self.conn.cursor()

    def __exit__(self, *exc_info) -> None:
        self.conn.close()


def run_server_command(jar: Path, database: Database, *args: str) -> subprocess.CompletedProcess:
    env = {**_clean_environ(), **database.env}
    return subprocess.run(['java', '-jar', str(jar), *args], env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def make_database(pg_url: str, jar: Path, sample_data: bool = True) -> Database:
    database = Database(pg_url)
    database.create()
    result = run_server_command(jar, database, 'migrate', *(['--sample-data'] if sample_data else []))
    if result.returncode != 0:
        database.drop()
        pytest.fail(f'voip-inventory migrate failed ({result.returncode}):\n{result.stdout}\n{result.stderr}')
    return database


class Server:
    """The real server process listening on a Unix socket in a private directory."""

    def __init__(self, jar: Path, database: Database, run_dir: Path, *options: str, tcp_port: int | None = None):
        self.jar = jar
        self.database = database
        self.options = options
        self.socket = run_dir / 'inventory.sock'
        self.tcp_port = tcp_port
        self.log = run_dir / 'server.log'
        self.process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f'127.0.0.1:{self.tcp_port}' if self.tcp_port else f'unix:{self.socket}'

    def start(self) -> None:
        env = {**_clean_environ(), **self.database.env}
        with open(self.log, 'ab') as log:
            self.process = subprocess.Popen(['java', '-jar', str(self.jar), 'serve', '--listen', self.endpoint,
                                             *self.options], env=env, stdout=log, stderr=subprocess.STDOUT)
        self._wait_until_serving()

    def _wait_until_serving(self) -> None:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f'the server exited with {self.process.returncode} at start:\n{self.log.read_text()}')
            if (self.tcp_port or self.socket.exists()) and self.answers():
                return
            time.sleep(0.2)
        self.stop()
        pytest.fail(f'the server did not answer within {SERVER_START_SECONDS}s:\n{self.log.read_text()}')

    def answers(self) -> bool:
        with grpc.insecure_channel(self.endpoint) as channel:
            try:
                inventory_pb2_grpc.InventoryStub(channel).GetRevision(inventory_pb2.GetRevisionRequest(), timeout=5)
            except grpc.RpcError:
                return False
        return True

    def wait_until_fresh(self) -> None:
        """Waits until the server reads its database again after an outage, so later tests see fresh answers."""
        deadline = time.monotonic() + SERVER_START_SECONDS
        while time.monotonic() < deadline:
            with grpc.insecure_channel(self.endpoint) as channel:
                try:
                    answer = inventory_pb2_grpc.InventoryStub(channel).GetRevision(
                        inventory_pb2.GetRevisionRequest(), timeout=5)
                    if not answer.stale:
                        return
                except grpc.RpcError:
                    pass
            time.sleep(0.2)
        pytest.fail(f'the server still does not read its database after {SERVER_START_SECONDS}s:\n'
                    f'{self.log.read_text()}')

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGCONT)
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)


def _clean_environ() -> dict[str, str]:
    """The caller's environment without settings that would change what Ansible, the server or libpq do."""
    prefixes = ('ANSIBLE_', 'VOIP_INVENTORY_', 'INFRA_DB_', 'PG')
    return {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}


@pytest.fixture(scope='module')
def database(pg_url, server_jar):
    """A fresh database per test module, migrated, with the sample data of the user's design document."""
    database = make_database(pg_url, server_jar)
    yield database
    database.drop()


@pytest.fixture(scope='module')
def server(server_jar, database, tmp_path_factory):
    server = Server(server_jar, database, tmp_path_factory.mktemp('server'))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def running_server(server):
    """The module's server, started again after a test that stopped or paused it."""
    yield server
    if server.process is None:
        server.start()
    else:
        server.resume()


class Ansible:
    """Runs the real Ansible command-line tools with a private ANSIBLE_HOME and the collection from this checkout."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.home.mkdir(parents=True, exist_ok=True)
        self.env = {
            **_clean_environ(),
            'ANSIBLE_HOME': str(home),
            'ANSIBLE_COLLECTIONS_PATH': str(COLLECTIONS),
            'ANSIBLE_LOCAL_TEMP': str(home / 'tmp'),
            'ANSIBLE_INVENTORY_UNPARSED_FAILED': 'true',
            'ANSIBLE_NOCOLOR': '1',
            'ANSIBLE_DEPRECATION_WARNINGS': 'false',
            'LC_ALL': 'C.UTF-8',
        }

    def write_inventory(self, name: str = 'inventory.yml', **options) -> Path:
        path = self.home / name
        path.write_text(yaml.safe_dump({'plugin': 'voip.infrastructure.postgresql', **options}, sort_keys=False))
        return path

    def run(self, tool: str, *args: str, env: dict[str, str] | None = None, check: bool = True,
            wrapper: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
        command = [*wrapper, str(VENV_BIN / tool), *map(str, args)]
        result = subprocess.run(command, env={**self.env, **(env or {})}, cwd=self.home, capture_output=True,
                                text=True, timeout=300, check=False)
        if check and result.returncode != 0:
            pytest.fail(f'{" ".join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}')
        return result

    def inventory(self, inventory: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return self.run('ansible-inventory', '-i', inventory, *args, **kwargs)

    def list(self, inventory: Path, *args: str, **kwargs) -> dict:
        """`--list` output with Ansible's marks on untrusted strings removed; list_raw keeps them."""
        return without_unsafe_marks(self.list_raw(inventory, *args, **kwargs))

    def list_raw(self, inventory: Path, *args: str, **kwargs) -> dict:
        return json.loads(self.inventory(inventory, '--list', *args, **kwargs).stdout)

    def host(self, inventory: Path, name: str, **kwargs) -> dict:
        return json.loads(self.inventory(inventory, '--host', name, **kwargs).stdout)

    def graph(self, inventory: Path, *args: str, **kwargs) -> str:
        return self.inventory(inventory, '--graph', *args, **kwargs).stdout

    def fails(self, inventory: Path, *args: str, **kwargs) -> str:
        """Runs ansible-inventory --list expecting failure; returns stderr with lines joined for matching."""
        result = self.inventory(inventory, '--list', *args, check=False, **kwargs)
        assert result.returncode != 0, f'ansible-inventory succeeded unexpectedly:\n{result.stdout}'
        return ' '.join(result.stderr.split())


@pytest.fixture
def ansible(tmp_path) -> Ansible:
    return Ansible(tmp_path / 'ansible')


def readme_stale_task() -> str:
    """The task the collection's README gives for refusing to act on a stale inventory."""
    readme = (ROOT / 'collections/ansible_collections/voip/infrastructure/README.md').read_text()
    section = readme.split('## When the database does not answer', 1)[1]
    return section.split('```yaml\n', 1)[1].split('```', 1)[0]


def run_readme_stale_task(ansible, endpoint, **options):
    inventory = ansible.write_inventory(endpoint=endpoint, **options)
    playbook = ansible.home / 'guard.yml'
    tasks = ''.join(f'    {line}\n' for line in readme_stale_task().splitlines())
    playbook.write_text(f'- hosts: voip_servers\n  connection: local\n  gather_facts: false\n  tasks:\n{tasks}')
    return ansible.run('ansible-playbook', '-i', inventory, playbook, check=False)


def hosts_of(listing: dict, group: str) -> set[str]:
    """The hosts in a group of `ansible-inventory --list` output, including those of its child groups."""
    entry = listing.get(group, {})
    hosts = set(entry.get('hosts', []))
    for child in entry.get('children', []):
        hosts |= hosts_of(listing, child)
    return hosts


def without_unsafe_marks(value):
    """Undoes the {"__ansible_unsafe": text} form in which `ansible-inventory --list` shows untrusted strings."""
    if isinstance(value, dict):
        if set(value) == {'__ansible_unsafe'}:
            return value['__ansible_unsafe']
        return {key: without_unsafe_marks(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_unsafe_marks(item) for item in value]
    return value

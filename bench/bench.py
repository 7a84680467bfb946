#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, voip-inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The benchmark behind `make bench` and `make bench-quick`.

For each size it makes a fresh database, fills it (generate.sql), starts the real server on a Unix
socket and measures, with the same data:

- ansible-inventory --graph and --list --export, wall time and peak memory, for four contenders run
  in turn: the floor (bench_floor: the same inventory from a JSON file, ansible-core's own cost), the
  script (script/postgres_inventory.py, the user's way), and voip.infrastructure.postgresql warm, cold
  (first request after the server starts) and with Ansible's inventory cache;
- the server alone through ServerBench.java: GetInventory and GetHost latency, the first call after
  a start, the time from a commit to the response that shows it, and the server's memory;
- where the plugin's time goes on the Python side (the gRPC call, json.loads of the variables).

Before it times anything it checks that every contender's normalised --list --export output is the
same, and stops with the differences if not. It prints one table and writes it, with the versions
and the machine, to bench/RESULTS.md (or --output).

PostgreSQL comes from VOIP_BENCH_PG_URL or VOIP_TEST_PG_URL (a superuser URL); without either, it
starts a throwaway cluster (scripts/throwaway-pg, port VOIP_BENCH_PG_PORT or 54349) and stops it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import platform
import secrets
import shutil
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RUN_DIR = ROOT / '.run' / 'bench'

SERVER_START_SECONDS = 180

# The floor that adds the plugin's way: host variables straight into Host.vars instead of through set_variable,
# with Python's cyclic garbage collector paused; bench/floor/bench_floor.py says why both floors.
FLOOR_UPDATE = "floor, the plugin's way"
ANSIBLE_RUN_SECONDS = 1800


@dataclass
class Plan:
    """How much to measure at one size. The warm-up calls let the server's JIT compile the hot paths first:
    GetHost needs more than 10,000 before its tail settles (after 5,000 its p99 on two cores was 2.4-4.8 ms, after
    15,000 0.3-0.4 ms), GetInventory at 10,000 hosts a few hundred (after only 40, its warm p50 ranged from 24 to
    91 ms)."""

    hosts: int
    runs: int
    inventory_calls: int
    inventory_warmup: int
    host_calls: int
    host_warmup: int
    cold_starts: int
    changes: int


def plans(sizes: list[int], quick: bool, runs: int | None) -> list[Plan]:
    result = []
    for hosts in sizes:
        if quick:
            plan = Plan(hosts, runs or 1, 20, 10, 1000, 1000, cold_starts=2, changes=3)
        elif hosts >= 50_000:
            plan = Plan(hosts, runs or 3, 40, 20, 5000, 20000, cold_starts=3, changes=5)
        else:
            plan = Plan(hosts, runs or 5, 200, 200, 5000, 20000, cold_starts=5, changes=10)
        result.append(plan)
    return result


def say(message: str) -> None:
    print(f'>> {message}', file=sys.stderr, flush=True)


class BenchError(Exception):
    """A failure that stops the benchmark; the message says what to do."""


# --------------------------------------------------------------------------------------------------
# PostgreSQL


class Postgres:
    """A superuser URL, and the throwaway cluster behind it when the benchmark started one."""

    def __init__(self) -> None:
        self.url = os.environ.get('VOIP_BENCH_PG_URL') or os.environ.get('VOIP_TEST_PG_URL')
        self.started = False
        self.bindir = None

    def __enter__(self) -> Postgres:
        if not self.url:
            say('starting a throwaway PostgreSQL for the benchmark')
            env = dict(os.environ, VOIP_RUN_DIR=str(RUN_DIR),
                       VOIP_PG_PORT=os.environ.get('VOIP_BENCH_PG_PORT', '54349'))
            RUN_DIR.mkdir(parents=True, exist_ok=True)
            result = subprocess.run([ROOT / 'scripts' / 'throwaway-pg', 'start'], env=env, text=True,
                                    stdout=subprocess.PIPE, check=False)
            if result.returncode != 0:
                raise BenchError('could not start a throwaway PostgreSQL (its message is above); or give one with '
                                 'VOIP_BENCH_PG_URL=postgresql://postgres@HOST:PORT/postgres')
            self.url = result.stdout.strip().splitlines()[-1]
            self.started = True
            self.bindir = _read_env_file(RUN_DIR / 'pg.env').get('VOIP_PG_BINDIR')
        return self

    def __exit__(self, *exc_info) -> None:
        if self.started:
            say('stopping the throwaway PostgreSQL')
            subprocess.run([ROOT / 'scripts' / 'throwaway-pg', 'stop'], env=dict(os.environ, VOIP_RUN_DIR=str(RUN_DIR)),
                           check=False, stdout=subprocess.DEVNULL)

    @property
    def psql(self) -> str:
        for candidate in ([Path(self.bindir) / 'psql'] if self.bindir else []) + sorted(
                Path('/usr/lib/postgresql').glob('*/bin/psql'), reverse=True):
            if candidate.exists():
                return str(candidate)
        found = shutil.which('psql')
        if not found:
            raise BenchError('psql not found: install it with apt-get install -y postgresql-client')
        return found

    def parts(self) -> urllib.parse.SplitResult:
        return urllib.parse.urlsplit(self.url)

    def url_for(self, database: str) -> str:
        return self.parts()._replace(path='/' + database).geturl()

    def run_sql(self, sql: str, database: str = 'postgres') -> str:
        result = subprocess.run([self.psql, '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', self.url_for(database)],
                                input=sql, text=True, capture_output=True, check=False)
        if result.returncode != 0:
            raise BenchError(f'psql failed on {database}: {result.stderr.strip()}')
        return result.stdout.strip()


def _read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition('=')
        values[key] = value
    return values


@dataclass
class BenchDatabase:
    """A fresh database and login role for one size, filled with the generated fleet."""

    pg: Postgres
    hosts: int
    work: Path
    name: str = ''
    password_file: Path = Path()
    pgpass_file: Path = Path()

    def __enter__(self) -> BenchDatabase:
        self.name = f'voip_bench_{self.hosts}_{secrets.token_hex(4)}'
        password = secrets.token_urlsafe(24)
        self.password_file = self.work / 'db-password'
        self.pgpass_file = self.work / 'pgpass'
        _write_private(self.password_file, password)
        _write_private(self.pgpass_file, f'{self.host}:{self.port}:{self.name}:{self.name}:{password}\n')
        self.pg.run_sql(f"CREATE ROLE {self.name} LOGIN PASSWORD '{password}';\n"
                        f'CREATE DATABASE {self.name} OWNER {self.name};\n')
        return self

    def __exit__(self, *exc_info) -> None:
        with contextlib.suppress(BenchError):
            self.pg.run_sql(f'DROP DATABASE IF EXISTS {self.name} WITH (FORCE);\nDROP ROLE IF EXISTS {self.name};\n')

    @property
    def host(self) -> str:
        return self.pg.parts().hostname or '127.0.0.1'

    @property
    def port(self) -> str:
        return str(self.pg.parts().port or 5432)

    def server_env(self) -> dict[str, str]:
        """The server's settings, as a service would give them: the password only in a file."""
        return {'INFRA_DB_HOST': self.host, 'INFRA_DB_PORT': self.port, 'INFRA_DB_NAME': self.name,
                'INFRA_DB_USER': self.name, 'INFRA_DB_PASSWORD_FILE': str(self.password_file)}

    def script_env(self) -> dict[str, str]:
        """The script's settings: the original's INFRA_DB_* names, the password through libpq's pgpass."""
        return {'INFRA_DB_HOST': self.host, 'INFRA_DB_PORT': self.port, 'INFRA_DB_NAME': self.name,
                'INFRA_DB_USER': self.name, 'PGPASSFILE': str(self.pgpass_file)}

    def jdbc_url(self) -> str:
        # The superuser, trusted on loopback in the throwaway cluster, commits the changes ServerBench times.
        user = self.pg.parts().username or 'postgres'
        return f'jdbc:postgresql://{self.host}:{self.port}/{self.name}?user={user}'

    def fill(self, jar: Path) -> None:
        env = dict(os.environ, **self.server_env())
        result = subprocess.run(['java', '-jar', str(jar), 'migrate'], env=env, capture_output=True, text=True,
                                check=False)
        if result.returncode != 0:
            raise BenchError(f'voip-inventory migrate failed:\n{result.stderr[-4000:]}')
        started = time.perf_counter()
        result = subprocess.run([self.pg.psql, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v', f'hosts={self.hosts}',
                                 '-f', str(BENCH_DIR / 'generate.sql'), self.pg.url_for(self.name)],
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BenchError(f'generate.sql failed: {result.stderr.strip()}')
        say(f'generated {self.hosts} hosts in {time.perf_counter() - started:.1f} s')

    def export_floor(self, path: Path) -> None:
        result = subprocess.run([self.pg.psql, '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-o', str(path),
                                 '-f', str(BENCH_DIR / 'floor_export.sql'), self.pg.url_for(self.name)],
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BenchError(f'floor_export.sql failed: {result.stderr.strip()}')

    def stats(self) -> dict[str, float]:
        row = self.pg.run_sql(
            'SELECT count(*), count(*) FILTER (WHERE enabled), '
            "round(avg(length((host_vars || coalesce(opensips_config, '{}') || coalesce(asterisk_config, '{}') "
            "|| coalesce(rtpengine_config, '{}'))::text))), "
            '(SELECT count(*) FROM ansible_groups), (SELECT count(*) FROM vm_group_membership) FROM vm_configs',
            self.name)
        total, enabled, json_bytes, groups, memberships = (float(v) for v in row.split('|'))
        return {'hosts': total, 'enabled': enabled, 'json_bytes': json_bytes, 'groups': groups,
                'memberships': memberships}


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as handle:
        handle.write(text)


# --------------------------------------------------------------------------------------------------
# The server


UNIT_FILE = BENCH_DIR.parent / 'packaging' / 'voip-inventory.service'


def unit_memory_settings(unit: Path = UNIT_FILE) -> tuple[str, dict[str, str]]:
    """The JVM options (JDK_JAVA_OPTIONS) and malloc settings (MALLOC_*) that the systemd unit gives the server, read
    from its Environment= lines, so that the benchmark measures the server as it is deployed."""
    java_options, environment = None, {}
    for line in unit.read_text().splitlines():
        if not line.startswith('Environment='):
            continue
        for assignment in shlex.split(line.removeprefix('Environment=')):
            name, _, value = assignment.partition('=')
            if name == 'JDK_JAVA_OPTIONS':
                java_options = value
            elif name.startswith('MALLOC_'):
                environment[name] = value
    if java_options is None:
        raise BenchError(f'{unit} has no Environment=JDK_JAVA_OPTIONS=... line to take the server\'s JVM options from')
    return java_options, environment


# The JVM settings packaging/voip-inventory.service gives the server; VOIP_BENCH_SERVER_JAVA_OPTS replaces them.
UNIT_JAVA_OPTIONS, UNIT_ENVIRONMENT = unit_memory_settings()


def server_java_options() -> list[str]:
    return os.environ.get('VOIP_BENCH_SERVER_JAVA_OPTS', UNIT_JAVA_OPTIONS).split()


class Server:
    """The real server process on a Unix socket; restartable, so the first call after a start can be timed."""

    def __init__(self, jar: Path, database: BenchDatabase, work: Path) -> None:
        self.jar = jar
        self.env = dict(os.environ, **UNIT_ENVIRONMENT, **database.server_env())
        # The server refuses a socket in a world-writable directory such as /tmp.
        self.socket_dir = work / 'socket'
        self.socket_dir.mkdir(mode=0o750, exist_ok=True)
        self.socket = self.socket_dir / 'inventory.sock'
        self.log = work / 'server.log'
        self.process: subprocess.Popen | None = None
        self.java_options = server_java_options()
        self.snapshot_file: Path | None = None

    def start(self) -> None:
        with open(self.log, 'ab') as log:
            log.write(b'--- start\n')
            log.flush()
            offset = log.tell()
            options = ['--snapshot-file', str(self.snapshot_file)] if self.snapshot_file else []
            self.process = subprocess.Popen(
                ['java', *self.java_options, '-jar', str(self.jar), 'serve', '--listen', f'unix:{self.socket}',
                 *options], env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + SERVER_START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f'the server exited during start-up; its log: {self.log}')
            with open(self.log, 'rb') as log:
                log.seek(offset)
                if b' serving ' in log.read() and self.socket.exists():
                    return
            time.sleep(0.05)
        raise BenchError(f'the server did not start within {SERVER_START_SECONDS} s; its log: {self.log}')

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def cpu_seconds(self) -> float:
        """User and system CPU the server has used since its start, all threads (GC and JIT included)."""
        fields = Path(f'/proc/{self.process.pid}/stat').read_text().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')

    def memory_mib(self) -> dict[str, float]:
        """Resident memory now and at its peak since the start (VmRSS, VmHWM)."""
        values = {}
        for line in Path(f'/proc/{self.process.pid}/status').read_text().splitlines():
            key, _, value = line.partition(':')
            if key in ('VmRSS', 'VmHWM'):
                values[key] = int(value.split()[0]) / 1024
        return values

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


class ServerBench:
    """The Java client (ServerBench.java), compiled once, kept running across server restarts."""

    def __init__(self, jar: Path, classes: Path, socket: Path, jdbc_url: str) -> None:
        self.process = subprocess.Popen(
            ['java', '-cp', f'{jar}{os.pathsep}{classes}', 'ServerBench', str(socket), jdbc_url],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    @staticmethod
    def compile(jar: Path, classes: Path) -> None:
        result = subprocess.run(['javac', '-nowarn', '-cp', str(jar), '-d', str(classes),
                                 str(BENCH_DIR / 'ServerBench.java')], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BenchError(f'javac failed on bench/ServerBench.java:\n{result.stderr}')

    def ask(self, command: str) -> dict:
        self.process.stdin.write(command + '\n')
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise BenchError(f'ServerBench stopped on "{command}" (its error is above)')
        return json.loads(line)

    def close(self) -> None:
        with contextlib.suppress(BrokenPipeError):
            self.process.stdin.write('quit\n')
            self.process.stdin.close()
        self.process.wait(timeout=30)


# --------------------------------------------------------------------------------------------------
# ansible-inventory and the contenders


@dataclass
class Run:
    """One ansible-inventory run: wall seconds, CPU seconds (user and system), peak resident MiB."""

    wall: float
    cpu: float
    peak_mib: float


@dataclass
class Contender:
    name: str
    source: Path
    env: dict[str, str]
    before_each: object = None  # called before every timed run, e.g. to restart the server
    # Lets Ansible render the database's strings as templates, as the user's original script did; compared with
    # the others with the unsafe markers taken off, since that is the one difference it is allowed.
    trusted: bool = False
    results: dict[str, list[Run]] = field(default_factory=dict)


class Ansible:
    def __init__(self, venv: Path, work: Path) -> None:
        self.command = venv / 'bin' / 'ansible-inventory'
        if not self.command.exists():
            raise BenchError(f'{self.command} is missing; make the virtualenv first: make venv')
        home = work / 'ansible-home'
        home.mkdir(exist_ok=True)
        self.env = dict(
            os.environ,
            PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            ANSIBLE_HOME=str(home),
            ANSIBLE_LOCAL_TEMP=str(home / 'tmp'),
            ANSIBLE_COLLECTIONS_PATH=str(ROOT / 'collections'),
            ANSIBLE_INVENTORY_PLUGINS=str(BENCH_DIR / 'floor'),
            # A source that fails must stop the benchmark, not time an empty inventory.
            ANSIBLE_INVENTORY_UNPARSED_FAILED='true',
            ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED='true',
            ANSIBLE_NOCOLOR='1',
        )

    def run(self, contender: Contender, args: list[str], stdout_path: Path | None = None) -> Run:
        """Runs ansible-inventory once and measures it with its children (the script)."""
        env = dict(self.env, **contender.env)
        stdout = open(stdout_path, 'wb') if stdout_path else subprocess.DEVNULL  # pylint: disable=consider-using-with
        with tempfile.TemporaryFile() as stderr:
            try:
                started = time.perf_counter()
                process = subprocess.Popen([str(self.command), '-i', str(contender.source), *args], env=env,
                                           stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr)
                _, status, usage = _wait4(process)
                elapsed = time.perf_counter() - started
            finally:
                if stdout_path:
                    stdout.close()
            if status != 0:
                stderr.seek(0)
                raise BenchError(f'ansible-inventory {" ".join(args)} failed for {contender.name} (exit {status}):\n'
                                 f'{stderr.read().decode(errors="replace")[-4000:]}')
        # wait4's usage covers the process and its waited-for children; ru_maxrss is the largest of them, in KiB.
        return Run(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def _wait4(process: subprocess.Popen, timeout: float = ANSIBLE_RUN_SECONDS):
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return pid, process.returncode, usage
        if time.monotonic() > deadline:
            process.kill()
            raise BenchError(f'ansible-inventory ran longer than {timeout} s')
        time.sleep(0.005)


def make_contenders(work: Path, database: BenchDatabase, server: Server, floor_json: Path,
                    hosts: int) -> list[Contender]:
    floor = work / 'floor.yml'
    floor.write_text(f'plugin: bench_floor\npath: {floor_json}\n')
    floor_update = work / 'floor-vars-update.yml'
    floor_update.write_text(f'plugin: bench_floor\npath: {floor_json}\nhost_vars: vars_update\npause_gc: true\n')
    plugin = work / 'plugin.yml'
    plugin.write_text(f'plugin: voip.infrastructure.postgresql\nendpoint: unix://{server.socket}\n')
    script = BENCH_DIR / 'script' / 'postgres_inventory.py'
    cached = work / 'plugin-cached.yml'
    cached.write_text(f'plugin: voip.infrastructure.postgresql\nendpoint: unix://{server.socket}\n'
                      f'cache: true\ncache_plugin: ansible.builtin.jsonfile\n'
                      f'cache_connection: {work / "inventory-cache"}\ncache_timeout: 86400\n')
    contenders = [
        Contender('floor', floor, {}),
        Contender(FLOOR_UPDATE, floor_update, {}),
        Contender('script', script, database.script_env()),
        Contender('script, templating', script, dict(database.script_env(), INVENTORY_ALLOW_TEMPLATING='1'),
                  trusted=True),
        Contender('plugin', plugin, {}),
        Contender('plugin, cold', plugin, {}, before_each=server.restart),
        Contender('plugin, cached', cached, {}),
    ]
    # The original's way costs about what the script costs (see the smaller sizes); at 100,000 hosts its runs
    # would add half an hour and tell nothing new.
    return [c for c in contenders if hosts <= 10_000 or c.name != 'script, templating']


# --------------------------------------------------------------------------------------------------
# Equivalence


def normalised(path: Path, strip_unsafe: bool = False):
    """The --list --export output with every list sorted, so only content counts, not order; with strip_unsafe,
    strings marked unsafe ({"__ansible_unsafe": "..."}) become plain strings."""
    def sort_lists(value):
        if isinstance(value, dict):
            if strip_unsafe and len(value) == 1 and '__ansible_unsafe' in value:
                return value['__ansible_unsafe']
            return {key: sort_lists(item) for key, item in value.items()}
        if isinstance(value, list):
            items = [sort_lists(item) for item in value]
            return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
        return value

    with open(path, 'rb') as handle:
        return sort_lists(json.load(handle))


def differences(expected: dict, actual: dict, limit: int = 8) -> list[str]:
    """How actual differs from expected, group by group and host by host, at most limit lines of each kind."""
    found = []
    expected_vars = expected.get('_meta', {}).get('hostvars', {})
    actual_vars = actual.get('_meta', {}).get('hostvars', {})
    for kind, mine, theirs in (('group', expected, actual), ('host', expected_vars, actual_vars)):
        keys_mine = set(mine) - {'_meta'}
        keys_theirs = set(theirs) - {'_meta'}
        for name in sorted(keys_mine - keys_theirs)[:limit]:
            found.append(f'{kind} {name} is missing')
        for name in sorted(keys_theirs - keys_mine)[:limit]:
            found.append(f'{kind} {name} is extra')
        changed = [name for name in sorted(keys_mine & keys_theirs) if mine[name] != theirs[name]]
        for name in changed[:limit]:
            found.append(f'{kind} {name} differs: ' + '; '.join(_leaf_differences(mine[name], theirs[name])[:4]))
        if len(changed) > limit:
            found.append(f'... and {len(changed) - limit} more {kind}s differ')
    return found


def _leaf_differences(expected, actual, path: str = '') -> list[str]:
    """Where two values differ, down to the innermost key: 'vars.a.b: expected 1, got 2'."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = []
        for key in sorted(set(expected) | set(actual)):
            where = f'{path}.{key}' if path else key
            if key not in actual:
                found.append(f'{where} is missing')
            elif key not in expected:
                found.append(f'{where} is extra: {_short(actual[key])}')
            elif expected[key] != actual[key]:
                found += _leaf_differences(expected[key], actual[key], where)
        return found
    return [f'{path}: expected {_short(expected)}, got {_short(actual)}']


def _short(value) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + '...'


def check_equivalence(ansible: Ansible, contenders: list[Contender], work: Path) -> None:
    """Stops the benchmark unless every contender's --list --export output is the floor's."""
    outputs = {}
    for contender in contenders:
        if contender.before_each is not None:
            continue  # the cold plugin reads the same server as the warm one
        outputs[contender.name] = work / f'list-{contender.name.replace(", ", "-")}.json'
        ansible.run(contender, ['--list', '--export'], outputs[contender.name])
    problems = []
    for strip_unsafe in (False, True):
        reference = normalised(outputs['floor'], strip_unsafe)
        if not strip_unsafe:
            hosts = len(reference.get('_meta', {}).get('hostvars', {}))
            say(f'floor: {hosts} hosts, {len(reference) - 1} groups in --list --export')
        for contender in contenders:
            if contender.name == 'floor' or contender.name not in outputs or contender.trusted != strip_unsafe:
                continue
            diff = differences(reference, normalised(outputs[contender.name], strip_unsafe))
            if diff:
                problems.append(f'{contender.name} differs from the floor:\n  ' + '\n  '.join(diff))
            else:
                alike = 'but for the unsafe markers on strings' if strip_unsafe else 'exactly'
                say(f'{contender.name}: the same --list --export output as the floor, {alike}')
        del reference
    if problems:
        raise BenchError('the contenders do not return the same inventory, so timing them would compare unequal '
                         'work:\n' + '\n'.join(problems))


# --------------------------------------------------------------------------------------------------
# Measuring


def time_contenders(ansible: Ansible, contenders: list[Contender], runs: int) -> None:
    """Runs every contender's --graph and --list --export in turn, runs times. The equivalence check ran each once
    just before, so the page cache, bytecode, the server's snapshot and the inventory cache are warm."""
    for round_number in range(runs):
        # Each round starts with the next contender, so none always runs first or after a given one.
        shift = round_number % len(contenders)
        for contender in contenders[shift:] + contenders[:shift]:
            for mode, args in (('graph', ['--graph']), ('list', ['--list', '--export'])):
                if contender.before_each is not None:
                    contender.before_each()
                contender.results.setdefault(mode, []).append(ansible.run(contender, args))
        say(f'round {round_number + 1}/{runs}: ' + ', '.join(
            f'{c.name} {c.results["graph"][-1].wall:.2f} s' for c in contenders))


def python_layers(socket: Path, repeats: int = 3) -> dict[str, float]:
    """The plugin's own Python work outside ansible-core: the gRPC call (transport and protobuf decoding) and
    json.loads of every host's and group's variables. Medians of a few repeats, in seconds."""
    sys.path.insert(0, str(ROOT / 'collections'))
    # pylint: disable=import-outside-toplevel
    from ansible_collections.voip.infrastructure.plugins.module_utils import inventory_client
    endpoint = inventory_client.parse_endpoint(f'unix://{socket}')
    calls, decodes, sizes = [], [], []
    for _ in range(repeats):
        with inventory_client.InventoryClient(endpoint, 600) as client:
            started = time.perf_counter()
            response = client.get_inventory([], False)
            calls.append(time.perf_counter() - started)
        started = time.perf_counter()
        for host in response.hosts:
            json.loads(host.vars_json)
        for group in response.groups:
            json.loads(group.vars_json)
        decodes.append(time.perf_counter() - started)
        sizes.append(response.ByteSize())
        del response
    return {'grpc_call_s': statistics.median(calls), 'json_loads_s': statistics.median(decodes),
            'response_mib': sizes[-1] / 2**20}


def empty_start(ansible: Ansible, work: Path, runs: int) -> float:
    """ansible-inventory's own start-up: --graph of an inventory with one host."""
    source = work / 'empty.yml'
    source.write_text('all:\n  hosts:\n    one:\n')
    contender = Contender('empty', source, {})
    return statistics.median(ansible.run(contender, ['--graph']).wall for _ in range(max(runs, 3)))


def first_calls_from_file(server: Server, client: ServerBench, starts: int, work: Path) -> list[float]:
    """The first GetInventory after a start with --snapshot-file (as the systemd unit runs it) holding a snapshot
    at the database's revision, so the server need not read the inventory from PostgreSQL."""
    server.snapshot_file = work / 'snapshot.bin'
    server.restart()
    client.ask('first')
    deadline = time.monotonic() + SERVER_START_SECONDS
    while not server.snapshot_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    times = []
    for _ in range(starts):
        server.restart()
        times.append(client.ask('first')['ms'][0])
    return times


@dataclass
class SizeResult:
    plan: Plan
    data: dict
    contenders: list[Contender]
    server: dict
    layers: dict
    start_s: float


def measure_size(plan: Plan, pg: Postgres, jar: Path, venv: Path, classes: Path, work: Path) -> SizeResult:
    say(f'--- {plan.hosts} hosts')
    work.mkdir(parents=True)
    ansible = Ansible(venv, work)
    with BenchDatabase(pg, plan.hosts, work) as database:
        database.fill(jar)
        data = database.stats()
        floor_json = work / 'floor.json'
        database.export_floor(floor_json)
        with Server(jar, database, work) as server:
            client = ServerBench(jar, classes, server.socket, database.jdbc_url())
            try:
                server_figures = {'cold_ms': [client.ask('first')['ms'][0]]}
                client.ask(f'inventory 1 {plan.inventory_warmup}')
                cpu = server.cpu_seconds()
                warm = client.ask(f'inventory {plan.inventory_calls} 0')
                server_figures['inventory_cpu_ms'] = (server.cpu_seconds() - cpu) * 1000 / plan.inventory_calls
                client.ask(f'host 1 {plan.host_warmup}')
                cpu = server.cpu_seconds()
                server_figures['host_ms'] = client.ask(f'host {plan.host_calls} 0')['ms']
                server_figures['host_cpu_ms'] = (server.cpu_seconds() - cpu) * 1000 / plan.host_calls
                client.ask(f'ping 1 {plan.host_warmup}')
                server_figures['ping_ms'] = client.ask(f'ping {plan.host_calls} 0')['ms']
                server_figures.update(inventory_ms=warm['ms'], response_bytes=warm['bytes'],
                                      layers=client.ask(f'layers {max(10, plan.inventory_calls // 2)}'))
                server_figures['memory_mib'] = server.memory_mib()
                say(f'server: GetInventory p50 {_p(warm["ms"], 50):.1f} ms, RSS {server_figures["memory_mib"]}')

                contenders = make_contenders(work, database, server, floor_json, plan.hosts)
                check_equivalence(ansible, contenders, work)
                layers = python_layers(server.socket)
                time_contenders(ansible, contenders, plan.runs)
                start_s = empty_start(ansible, work, plan.runs)

                for _ in range(plan.cold_starts - 1):
                    server.restart()
                    server_figures['cold_ms'].append(client.ask('first')['ms'][0])
                server_figures['cold_file_ms'] = first_calls_from_file(server, client, plan.cold_starts, work)
                server_figures['change_ms'] = client.ask(f'change {plan.changes} inventory')['ms']
                server_figures['change_host_ms'] = client.ask(f'change {plan.changes} host')['ms']
            finally:
                client.close()
    return SizeResult(plan, data, contenders, server_figures, layers, start_s)


# --------------------------------------------------------------------------------------------------
# Reporting


def _p(values: list[float], percentile: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percentile / 100 * len(ordered)) - 1)]


def _spread(values: list[float], digits: int = 2) -> str:
    return f'{statistics.median(values):.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})'


def _median(contender: Contender, mode: str, measure: str = 'wall') -> float:
    return statistics.median(getattr(run, measure) for run in contender.results[mode])


def _peak(contender: Contender) -> float:
    return max(run.peak_mib for runs in contender.results.values() for run in runs)


def contender_table(results: list[SizeResult]) -> list[str]:
    lines = ['| hosts | contender | --graph s | --graph CPU s | --list --export s | --list --export CPU s | peak MiB '
             f'| --graph ×floor | --graph ×{FLOOR_UPDATE} | --graph ×script |',
             '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|']
    for result in results:
        by_name = {c.name: c for c in result.contenders}
        for contender in result.contenders:
            ratios = ' | '.join(_ratio(contender, by_name[other]) for other in ('floor', FLOOR_UPDATE, 'script'))
            lines.append(
                f'| {result.plan.hosts:,} | {contender.name} '
                f'| {_spread([run.wall for run in contender.results["graph"]])} '
                f'| {_median(contender, "graph", "cpu"):.2f} '
                f'| {_spread([run.wall for run in contender.results["list"]])} '
                f'| {_median(contender, "list", "cpu"):.2f} | {_peak(contender):,.0f} | {ratios} |')
    return lines


def _ratio(contender: Contender, other: Contender) -> str:
    wall = _median(contender, 'graph') / _median(other, 'graph')
    cpu = _median(contender, 'graph', 'cpu') / _median(other, 'graph', 'cpu')
    return f'{wall:.2f} (CPU {cpu:.2f})'


def server_table(results: list[SizeResult]) -> list[str]:
    lines = ['| hosts | GetInventory warm p50 / p99 ms | server CPU ms a call '
             '| first call after start ms, median (max) '
             '| the same with --snapshot-file '
             '| GetHost p50 / p99 ms | server CPU ms a call | response MiB | server RSS / peak MiB '
             '| commit → visible in GetInventory ms, median (max) | the same in GetHost |',
             '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
    for result in results:
        server = result.server
        memory = server['memory_mib']
        lines.append(
            f'| {result.plan.hosts:,} '
            f'| {_p(server["inventory_ms"], 50):.1f} / {_p(server["inventory_ms"], 99):.1f} '
            f'| {server["inventory_cpu_ms"]:.1f} '
            f'| {statistics.median(server["cold_ms"]):,.0f} ({max(server["cold_ms"]):,.0f}) '
            f'| {statistics.median(server["cold_file_ms"]):,.0f} ({max(server["cold_file_ms"]):,.0f}) '
            f'| {_p(server["host_ms"], 50):.2f} / {_p(server["host_ms"], 99):.2f} '
            f'| {server["host_cpu_ms"]:.2f} '
            f'| {server["response_bytes"] / 2**20:.1f} '
            f'| {memory["VmRSS"]:,.0f} / {memory["VmHWM"]:,.0f} '
            f'| {statistics.median(server["change_ms"]):,.0f} ({max(server["change_ms"]):,.0f}) '
            f'| {statistics.median(server["change_host_ms"]):,.0f} ({max(server["change_host_ms"]):,.0f}) |')
    return lines


def small_calls_table(results: list[SizeResult]) -> list[str]:
    lines = ['| hosts | GetHost p50 / p90 / p99 ms | Health/Check p50 / p90 / p99 ms (a call that does no work) |',
             '|---:|---:|---:|']
    for result in results:
        host, ping = result.server['host_ms'], result.server['ping_ms']
        lines.append(f'| {result.plan.hosts:,} | {_p(host, 50):.2f} / {_p(host, 90):.2f} / {_p(host, 99):.2f} '
                     f'| {_p(ping, 50):.2f} / {_p(ping, 90):.2f} / {_p(ping, 99):.2f} |')
    return lines


def server_layers_table(results: list[SizeResult]) -> list[str]:
    lines = ['| hosts | GetInventory p50 ms | GetRevision p50 ms (database check, round trip) '
             '| serialise p50 ms (once per snapshot, not per call) | decode p50 ms '
             '| the rest p50 ms (transport, framing) |',
             '|---:|---:|---:|---:|---:|---:|']
    for result in results:
        server = result.server
        parts = {name: statistics.median(server['layers'][f'{name}_ms']) for name in ('revision', 'serialize', 'parse')}
        total = statistics.median(server['inventory_ms'])
        lines.append(f'| {result.plan.hosts:,} | {total:.1f} | {parts["revision"]:.1f} | {parts["serialize"]:.1f} '
                     f'| {parts["parse"]:.1f} | {total - parts["revision"] - parts["parse"]:.1f} |')
    return lines


def layers_table(results: list[SizeResult]) -> list[str]:
    lines = [f'| hosts | ansible-inventory start-up s | {FLOOR_UPDATE} --graph CPU s | plugin --graph CPU s | '
             f'plugin: gRPC call s | plugin: json.loads of vars s | plugin − {FLOOR_UPDATE} CPU s |',
             '|---:|---:|---:|---:|---:|---:|---:|']
    for result in results:
        by_name = {c.name: c for c in result.contenders}
        floor, plugin = (_median(by_name[name], 'graph', 'cpu') for name in (FLOOR_UPDATE, 'plugin'))
        lines.append(f'| {result.plan.hosts:,} | {result.start_s:.2f} | {floor:.2f} | {plugin:.2f} '
                     f'| {result.layers["grpc_call_s"]:.3f} | {result.layers["json_loads_s"]:.3f} '
                     f'| {plugin - floor:+.2f} |')
    return lines


def targets_table(results: list[SizeResult]) -> list[str]:
    rows = []
    for result in results:
        hosts = result.plan.hosts
        by_name = {c.name: c for c in result.contenders}
        floor, script, plugin = (by_name[n] for n in ('floor', 'script', 'plugin'))
        server = result.server
        if hosts >= 10_000:
            rows.append(_ratio_target(f'plugin --graph ≤ 1.10× floor at {hosts:,}', plugin, floor, 1.10))
            rows.append(_ratio_target(f'plugin --graph ≤ 1.10× {FLOOR_UPDATE} at '
                                      f'{hosts:,}', plugin, by_name[FLOOR_UPDATE], 1.10))
        if hosts == 10_000:
            rows.append(_ratio_target(f'plugin --graph ≤ 0.8× script at {hosts:,}', plugin, script, 0.8))
        limit = {10_000: 30, 100_000: 250}.get(hosts)
        if limit:
            p99 = _p(server['inventory_ms'], 99)
            rows.append((f'GetInventory p99 warm ≤ {limit} ms at {hosts:,}', f'{p99:.1f} ms', p99 <= limit))
        p99 = _p(server['host_ms'], 99)
        rows.append((f'GetHost p99 ≤ 2 ms at {hosts:,}', f'{p99:.2f} ms', p99 <= 2))
        for name in ('floor', FLOOR_UPDATE):
            ratio = _peak(plugin) / _peak(by_name[name])
            rows.append((f'ansible-inventory peak memory, plugin ≤ 1.2× {name} at {hosts:,}', f'{ratio:.2f}×',
                         ratio <= 1.2))
        if hosts >= 100_000:
            rss = server['memory_mib']['VmHWM']
            rows.append((f'server peak RSS ≤ 512 MiB at {hosts:,}', f'{rss:,.0f} MiB', rss <= 512))
        for key, rpc in (('change_ms', 'GetInventory'), ('change_host_ms', 'GetHost')):
            change = max(server[key])
            rows.append((f'commit visible in the next {rpc} response ≤ 100 ms at {hosts:,}',
                         f'{change:,.0f} ms (max)', change <= 100))
    lines = ['| target | measured | met |', '|---|---:|---|']
    lines += [f'| {name} | {value} | {"yes" if met else "**no**"} |' for name, value, met in rows]
    return lines


def _ratio_target(name: str, contender: Contender, other: Contender, limit: float) -> tuple[str, str, bool]:
    """Judged on wall time, as the target says; CPU time beside it shows how much of a gap is load noise."""
    wall = _median(contender, 'graph') / _median(other, 'graph')
    cpu = _median(contender, 'graph', 'cpu') / _median(other, 'graph', 'cpu')
    return name, f'{wall:.2f}× (CPU {cpu:.2f}×)', wall <= limit


def data_table(results: list[SizeResult]) -> list[str]:
    lines = ['| hosts | enabled | groups | memberships | JSONB bytes a host (configs, host_vars) '
             '| GetInventory bytes a host | timed runs a contender |',
             '|---:|---:|---:|---:|---:|---:|---:|']
    for result in results:
        data = result.data
        lines.append(f'| {data["hosts"]:,.0f} | {data["enabled"]:,.0f} | {data["groups"]:,.0f} '
                     f'| {data["memberships"]:,.0f} | {data["json_bytes"]:,.0f} '
                     f'| {result.server["response_bytes"] / data["enabled"]:,.0f} | {result.plan.runs} |')
    return lines


def versions(pg: Postgres, venv: Path, checkout: str) -> list[tuple[str, str]]:
    def output(command: list[str]) -> str:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        return (result.stdout + result.stderr).strip().splitlines()[0] if result.returncode == 0 else '?'

    python = str(venv / 'bin' / 'python')
    packages = output([python, '-c', 'import importlib.metadata as m; print(" ".join(p + "==" + m.version(p) for p in '
                                     '("ansible-core", "grpcio", "protobuf", "psycopg2-binary")))'])
    cpu = next((line.split(':', 1)[1].strip() for line in Path('/proc/cpuinfo').read_text().splitlines()
                if line.startswith('model name')), platform.processor())
    memory = next(line.split(':', 1)[1].strip() for line in Path('/proc/meminfo').read_text().splitlines()
                  if line.startswith('MemTotal'))
    heap = next((line.split('=')[1].split()[0] for line in subprocess.run(
        ['java', *server_java_options(), '-XX:+PrintFlagsFinal', '-version'], capture_output=True, text=True,
        check=False).stdout.splitlines() if ' MaxHeapSize ' in line), '0')
    return [
        ('Python packages', packages),
        ('Python', output([python, '--version'])),
        ('Java', output(['java', '-version'])),
        ('PostgreSQL', pg.run_sql('SHOW server_version')),
        ('CPU', f'{os.cpu_count()} cores, {cpu}'),
        ('Memory', memory),
        ('Kernel', platform.release()),
        ('Checkout', checkout),
        ('Server JVM options', f'{" ".join(server_java_options()) or "none (the JVM defaults)"}, '
                               f'so at most {int(heap) / 2**20:,.0f} MiB of heap'),
    ]


def report(results: list[SizeResult], facts: list[tuple[str, str]], load: tuple, started: datetime.datetime) -> str:
    minutes = (datetime.datetime.now(datetime.timezone.utc) - started).total_seconds() / 60
    lines = [
        '# Benchmark results',
        '',
        f'Made by `{" ".join(["bench/bench.py", *sys.argv[1:]])}` on {started:%Y-%m-%d %H:%M} UTC in '
        f'{minutes:.0f} minutes. bench/README.md says what each figure means.',
        '',
        '## ansible-inventory',
        '',
        'Wall time: median (min–max) of the runs. CPU: median user + system seconds of ansible-inventory and the '
        'script it runs (not the server\'s), which load on the machine disturbs far less than wall time. Peak '
        'memory: the largest resident set of ansible-inventory (or of the script it runs), over all runs.',
        '',
        *contender_table(results),
        '',
        '## The server alone (gRPC client bench/ServerBench.java on the Unix socket)',
        '',
        *server_table(results),
        '',
        'The parts of a warm GetInventory call, each timed alone in ServerBench: the revision check the server makes '
        'on every call (as GetRevision), protobuf serialisation of the response (paid once per snapshot and filter: '
        'the server keeps the encoded bytes and sends them on every call) and its decoding (the client\'s work); the '
        'rest is transport and gRPC framing.',
        '',
        *server_layers_table(results),
        '',
        'GetHost next to the smallest call the server answers, the health check (no database, no snapshot): '
        'what GetHost adds over it is its own work, the per-call revision check in PostgreSQL and the lookup.',
        '',
        *small_calls_table(results),
        '',
        '## Where the plugin\'s time goes',
        '',
        *layers_table(results),
        '',
        '## Targets (issue 6)',
        '',
        *targets_table(results),
        '',
        'Where a target is missed, bench/README.md ("Where the targets stand") says which layer the time goes to.',
        '',
        '## Data',
        '',
        *data_table(results),
        '',
        '## Machine',
        '',
        *[f'- {name}: {value}' for name, value in facts],
        f'- Load average (1, 5, 15 min) before: {load[0][0]:.2f}, {load[0][1]:.2f}, {load[0][2]:.2f}; '
        f'after: {load[1][0]:.2f}, {load[1][1]:.2f}, {load[1][2]:.2f}',
        '',
    ]
    return '\n'.join(lines)


# --------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--sizes', default='1000,10000,100000', help='host counts, comma-separated')
    parser.add_argument('--runs', type=int, help='timed runs of each contender and command (default 5; 3 at 100k)')
    parser.add_argument('--quick', action='store_true', help='1,000 hosts, 1 run, few server calls: a smoke test')
    parser.add_argument('--output', type=Path, help='results file (default bench/RESULTS.md; .run/bench/ if --quick)')
    parser.add_argument('--jar', type=Path, default=Path(os.environ.get(
        'VOIP_SERVER_JAR', ROOT / 'server' / 'target' / 'voip-inventory.jar')))
    parser.add_argument('--venv', type=Path, default=ROOT / '.venv')
    args = parser.parse_args()

    sizes = [1000] if args.quick else [int(size.replace('_', '')) for size in args.sizes.split(',')]
    output = args.output or (RUN_DIR / 'RESULTS-quick.md' if args.quick else BENCH_DIR / 'RESULTS.md')
    if not args.jar.exists():
        raise BenchError(f'the server jar {args.jar} is missing; build it with: make build')
    for tool in ('java', 'javac'):
        if not shutil.which(tool):
            raise BenchError(f'{tool} not found: install a JDK 17 (apt-get install -y openjdk-17-jdk-headless)')

    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = os.getloadavg()
    # The code measured is the code at the start: later commits during a long run must not take the credit.
    described = subprocess.run(['git', '-C', str(ROOT), 'describe', '--always', '--dirty'], capture_output=True,
                               text=True, check=False)
    checkout = described.stdout.strip() if described.returncode == 0 else '?'
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix='work-', dir=RUN_DIR))
    results = []
    try:
        classes = work / 'classes'
        ServerBench.compile(args.jar, classes)
        with Postgres() as pg:
            for plan in plans(sizes, args.quick, args.runs):
                results.append(measure_size(plan, pg, args.jar, args.venv, classes, work / str(plan.hosts)))
                shutil.rmtree(work / str(plan.hosts), ignore_errors=True)
            facts = versions(pg, args.venv, checkout)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    text = report(results, facts, (load_before, os.getloadavg()), started)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    print(text)
    say(f'results written to {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}')
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f'bench: {exc}', file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)

# -*- coding: utf-8 -*-
# Copyright: (c) 2025, voip-inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: postgresql
short_description: Hosts, groups and variables of the VoIP fleet from the voip-inventory server
version_added: 1.0.0
author:
  - voip-inventory contributors (!UNKNOWN)
description:
  - Reads the VoIP fleet (VMs running OpenSIPS, Asterisk and RTPEngine) that operators keep in PostgreSQL, through
    the C(voip-inventory) server. The plugin talks gRPC to the server over a Unix socket (or TCP on loopback); the
    server owns the database and its credentials, so Ansible and playbook authors never see them.
  - Each run reads one consistent snapshot of the inventory.
  - Every host is put in a group named after its environment (for example C(production)).
  - The database's groups become Ansible groups with their group variables and their child groups; the variables of
    the implicit C(all) group come from the database too.
  - "Host variables keep the names of the original inventory script: C(ansible_host), C(vm_cpus), C(vm_memory_mb),
    C(vm_disk_gb), C(opensips_version), C(asterisk_version), C(rtpengine_version), C(opensips_config),
    C(asterisk_config), C(rtpengine_config) (mappings, from JSONB) and C(environment), plus each host's extra
    variables."
  - Uses a YAML configuration file whose O(plugin) key is V(voip.infrastructure.postgresql); any file name works,
    for example C(inventory.yml).
  - Strings from the database are data, never templates, unless O(allow_templating) is set.
  - "The C(all) group also gets C(voip_inventory_revision), the revision of the inventory snapshot, and
    C(voip_inventory_stale), so a playbook can refuse to make changes from an outdated inventory. It is V(true),
    and the plugin warns, when the server could not read its database and answered with its last good snapshot,
    or when the server could not be reached and a cached inventory was used instead (see O(revalidate_cache))."
  - With O(cache) on, each run asks the server for the inventory's revision, one small request, and uses the cached
    inventory only while it holds that revision, so a change committed to the database shows up in the next run.
    O(revalidate_cache) turns this off for caching by age alone.
requirements:
  - grpcio >= 1.85.1
  - protobuf >= 7.35.1
notes:
  - A broken inventory source is only a warning to Ansible by default. Set C(unparsed_is_failed = true) in the
    C([inventory]) section of C(ansible.cfg) (or E(ANSIBLE_INVENTORY_UNPARSED_FAILED=true)) so that a server that
    cannot be reached stops a playbook instead of running it against no hosts.
  - The Python packages this plugin needs are listed in the collection's C(requirements.txt).
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description: The name of this plugin; it marks a configuration file as this plugin's.
    type: str
    required: true
    choices:
      - voip.infrastructure.postgresql
  endpoint:
    description:
      - Where the voip-inventory server listens.
      - A Unix socket as V(unix:/path/to/inventory.sock) or V(unix:///path/to/inventory.sock) (the path must be
        absolute; C(~) is expanded), or TCP as V(host:port), for example V(127.0.0.1:50051).
      - The server chooses it with C(voip-inventory serve --listen ...).
    type: str
    default: unix:///run/voip-inventory/inventory.sock
    env:
      - name: VOIP_INVENTORY_ENDPOINT
  timeout:
    description:
      - Seconds to wait for the server's answer before giving up.
      - Raise it for very large inventories or a slow database.
    type: float
    default: 30
    env:
      - name: VOIP_INVENTORY_TIMEOUT
  environments:
    description:
      - Only hosts in these environments (for example V(production)). The server applies the filter.
      - An empty list means every environment.
      - Groups from the database are always returned, also those left without hosts by the filter.
    type: list
    elements: str
    default: []
  include_disabled:
    description:
      - Also return hosts whose C(enabled) flag is false in the database. By default they are left out, as the
        original inventory script did.
      - When set, every host gets the variable C(vm_enabled) (V(true) or V(false)), so O(groups) or
        O(keyed_groups) can tell disabled hosts apart.
    type: bool
    default: false
  allow_templating:
    description:
      - Let Ansible render Jinja2 templates found in strings from the database.
      - By default those strings are data only, so whoever can write a row cannot make the controller run a lookup
        or a filter. Set this only when everyone who can write to the inventory database may run code on the
        Ansible controller.
    type: bool
    default: false
  revalidate_cache:
    description:
      - With O(cache) on, ask the server for the current inventory revision before using a cached inventory, and
        use it only if it holds that revision; otherwise fetch the inventory and renew the cache entry. Asking costs
        one small request, however large the inventory.
      - When the server cannot be reached or does not answer within O(timeout), a cached inventory younger than
        O(cache_timeout) is used instead, with a warning, and C(voip_inventory_stale) is V(true). Without such an
        entry the inventory fails. An error the server answers with (for example a database that refuses its
        credentials) is never covered up with the cache.
      - O(cache_timeout) counts from when the inventory was last fetched, not from when it was last found current.
      - "Set to V(false) for caching by age alone, as with other inventory plugins: a cached inventory is used
        without asking the server until it is older than O(cache_timeout) or is flushed with C(--flush-cache) or
        C(meta: refresh_inventory), so changes made meanwhile do not show."
    type: bool
    default: true
    env:
      - name: VOIP_INVENTORY_REVALIDATE_CACHE
"""

EXAMPLES = r"""
# inventory.yml: every enabled host, from the server's default socket.
plugin: voip.infrastructure.postgresql

---
# inventory.yml: production only, grouped by OpenSIPS version, cached in files. Each run asks the server for the
# revision only and uses the cache while it is current; if the server is down, a cache under an hour old is used.
plugin: voip.infrastructure.postgresql
endpoint: unix:///run/voip-inventory/inventory.sock
environments:
  - production
keyed_groups:
  - key: opensips_version
    prefix: opensips
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/voip-inventory
cache_timeout: 3600

---
# inventory.yml: cached by age alone: for ten minutes the server is not asked at all, and changes made meanwhile
# show only after that or with --flush-cache.
plugin: voip.infrastructure.postgresql
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/voip-inventory
cache_timeout: 600
revalidate_cache: false

---
# inventory.yml: disabled hosts too, kept apart in their own group, with variables composed from the database's.
plugin: voip.infrastructure.postgresql
endpoint: 127.0.0.1:50051
timeout: 60
include_disabled: true
groups:
  disabled_vms: not vm_enabled
  big_vms: vm_memory_mb >= 8192
compose:
  ansible_port: opensips_config.ssh_port | default(22)
keyed_groups:
  - key: environment
    prefix: env
strict: true
"""

import base64
import contextlib
import difflib
import gc
import hashlib
import json
import sys
import time

from ansible.errors import AnsibleParserError
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.common.yaml import yaml_load
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.template import trust_as_template

from ansible_collections.voip.infrastructure.plugins.module_utils.inventory_client import (
    GRPC_IMPORT_ERROR,
    InventoryClient,
    InventoryClientError,
    ServerUnreachableError,
    parse_endpoint,
)

if GRPC_IMPORT_ERROR is None:
    from ansible_collections.voip.infrastructure.plugins.module_utils.inventory_pb2 import GetInventoryResponse


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):

    NAME = 'voip.infrastructure.postgresql'

    # Bumped when the cached form changes, so an entry written by another version reads as a miss.
    _CACHE_FORMAT = 2
    # Hosts whose variables one json.loads decodes, as one JSON array. Within a call json.loads makes each distinct
    # key once and shares it, so a batch keeps one copy of "ansible_host" and the like instead of one a host (about
    # 35-65 keys a host with the service configs); and 1,000 hosts make one call instead of 1,000.
    _HOSTS_PER_DECODE = 1000

    def verify_file(self, path):
        """Accepts any readable YAML file whose plugin key names this plugin, whatever the file is called."""
        if not super().verify_file(path):
            return False
        try:
            with open(path, 'rb') as config_file:
                config = yaml_load(config_file)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            self.display.vvv(f'{self.NAME}: skipping {path}, it is not YAML: {to_native(exc)}')
            return False
        names = getattr(self, '_redirected_names', None) or [self.NAME]
        return isinstance(config, dict) and config.get('plugin') in names

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache=cache)
        config = self._read_config_data(path)
        self._check_config(config, path)
        self._require_grpc()
        endpoint, timeout = self._endpoint(), self._timeout()

        with _cyclic_gc_paused():
            # The channel connects on its first call, so a cache used without asking the server costs no connection.
            with InventoryClient(endpoint, timeout) as client:
                response = self._inventory_snapshot(client, self._cache_key(path, endpoint), use_cache=cache)
            self._populate(response)

    def _inventory_snapshot(self, client, cache_key, use_cache):
        """The cached inventory when it may be used (not on --flush-cache or refresh_inventory), else the server's."""
        caching = self.get_option('cache')
        entry = self._cached_entry(cache_key) if caching and use_cache else None
        if entry is not None:
            if self.get_option('revalidate_cache'):
                response = self._revalidated(client, entry, cache_key)
            else:
                response = self._decode(entry, cache_key)
            if response is not None:
                return response

        response = self._fetch(client)
        # A stale answer is not kept: the next run should ask again rather than repeat it for cache_timeout.
        if caching and not response.stale:
            self._cache[cache_key] = self._cache_entry(response)
        return response

    def _revalidated(self, client, entry, cache_key):
        """The cached inventory if it holds the server's current revision, or if the server cannot be reached;
        None when the server has a newer inventory."""
        try:
            current = client.get_revision()
        except ServerUnreachableError as exc:
            return self._cached_without_server(exc, entry, cache_key)
        except InventoryClientError as exc:
            # The server answered, so it is up and something is wrong (credentials, permissions, schema): the cache
            # would hide that until it expires.
            raise AnsibleParserError(f'{self.NAME}: {exc}') from exc

        if current.revision != entry['revision']:
            self.display.vvv(f"{self.NAME}: the cached inventory {cache_key} holds revision {entry['revision']}, "
                             f'the server has revision {current.revision}')
            return None
        response = self._decode(entry, cache_key)
        if response is not None and current.stale:
            # The same revision is the same inventory; whether it is stale is the server's state now, not then.
            response.stale = True
            response.stale_age.CopyFrom(current.stale_age)
            self._warn_stale(client.endpoint, response)
        return response

    def _cached_without_server(self, error, entry, cache_key):
        response = self._decode(entry, cache_key)
        if response is None:
            raise AnsibleParserError(f'{self.NAME}: {error}') from error
        # Nothing confirms that the copy is still current, so playbooks that check voip_inventory_stale hold back.
        response.stale = True
        stored_ago = _describe_age(max(0.0, time.time() - entry['stored']))
        self.display.warning(
            f'{self.NAME}: {error}. Using the cached inventory instead: revision {response.revision}, fetched '
            f'{stored_ago} ago. Changes made since then may be missing; voip_inventory_stale is true.')
        return response

    def _check_config(self, config, path):
        """Refuses what Ansible would quietly accept: unknown keys, and booleans that are neither true nor false."""
        # A misspelt filter such as 'environment' would otherwise return every environment.
        unknown = sorted(set(config) - set(self._options))
        if unknown:
            hints = []
            for key in unknown:
                close = difflib.get_close_matches(str(key), self._options, n=1)
                hints.append(f"'{key}'" + (f" (did you mean '{close[0]}'?)" if close else ''))
            raise AnsibleParserError(f"{self.NAME}: {path} sets unknown options: {', '.join(hints)}. "
                                     f"'ansible-doc -t inventory {self.NAME}' lists the options")
        for key in ('include_disabled', 'allow_templating', 'revalidate_cache'):
            try:
                boolean(config.get(key, False), strict=True)
            except TypeError:
                raise AnsibleParserError(f"{self.NAME}: option '{key}' in {path} must be true or false, "
                                         f"not {config[key]!r}") from None

    def _require_grpc(self):
        if GRPC_IMPORT_ERROR is not None:
            raise AnsibleParserError(
                f'{self.NAME} needs the Python packages grpcio and protobuf in the Python that runs Ansible '
                f'({sys.executable}), and they could not be loaded: {to_native(GRPC_IMPORT_ERROR)}. Install them '
                f"with '{sys.executable} -m pip install grpcio protobuf' (the versions are in the voip.infrastructure "
                f"collection's requirements.txt)") from None

    def _endpoint(self):
        try:
            return parse_endpoint(self.get_option('endpoint'))
        except ValueError as exc:
            raise AnsibleParserError(f"{self.NAME}: option 'endpoint': {exc}") from exc

    def _timeout(self):
        timeout = self.get_option('timeout')
        if not timeout > 0:
            raise AnsibleParserError(f"{self.NAME}: option 'timeout' must be a number of seconds above 0, "
                                     f'not {timeout!r}')
        return timeout

    def _cache_key(self, path, endpoint):
        """The file's own key plus the options that change what the server returns."""
        request = [str(endpoint.target), sorted(set(self.get_option('environments'))),
                   bool(self.get_option('include_disabled'))]
        digest = hashlib.sha256(json.dumps(request).encode('utf-8')).hexdigest()[:16]
        return f'{self.get_cache_key(path)}_{digest}'

    def _cached_entry(self, cache_key):
        """The cache entry as stored, checked only for shape: the inventory in it is decoded once it is needed."""
        try:
            entry = self._cache[cache_key]
        except KeyError:
            self.display.vvv(f'{self.NAME}: no cached inventory under {cache_key}')
            return None
        if not isinstance(entry, dict) or entry.get('format') != self._CACHE_FORMAT:
            self.display.vvv(f'{self.NAME}: the cached inventory {cache_key} was written by another version of '
                             f'this plugin; asking the server')
            return None
        if not (isinstance(entry.get('revision'), int) and isinstance(entry.get('stored'), (int, float))
                and isinstance(entry.get('response'), str)):
            self.display.warning(f'{self.NAME}: ignoring the cached inventory {cache_key}, which lacks the '
                                 f'revision, the time or the inventory; asking the server')
            return None
        return entry

    def _decode(self, entry, cache_key):
        try:
            response = GetInventoryResponse.FromString(base64.b64decode(entry['response'], validate=True))
        except Exception as exc:  # pylint: disable=broad-exception-caught
            self.display.warning(f'{self.NAME}: ignoring the unreadable cached inventory {cache_key}: '
                                 f'{to_native(exc)}')
            return None
        self.display.vvv(f'{self.NAME}: using the cached inventory {cache_key} (revision {response.revision})')
        return response

    def _cache_entry(self, response):
        # The response kept whole as one string: cache plugins copy and compare what they hold, which for one
        # string costs nothing, while 100,000 hosts as nested mappings would cost seconds. The revision stands
        # beside it so that revalidation does not decode an entry it then throws away.
        return {'format': self._CACHE_FORMAT, 'revision': response.revision, 'stored': time.time(),
                'response': base64.b64encode(response.SerializeToString()).decode('ascii')}

    def _fetch(self, client):
        environments = self.get_option('environments')
        include_disabled = self.get_option('include_disabled')
        self.display.vvv(f'{self.NAME}: asking {client.endpoint} for the inventory (environments: '
                         f'{", ".join(environments) or "all"}, include_disabled: {include_disabled})')
        try:
            response = client.get_inventory(environments, include_disabled)
        except InventoryClientError as exc:
            raise AnsibleParserError(f'{self.NAME}: {exc}') from exc
        self.display.vvv(f'{self.NAME}: {len(response.hosts)} hosts and {len(response.groups)} groups '
                         f'at revision {response.revision}')
        if response.stale:
            self._warn_stale(client.endpoint, response)
        return response

    def _warn_stale(self, endpoint, response):
        age = response.stale_age.ToTimedelta()
        self.display.warning(
            f'{self.NAME}: the voip-inventory server at {endpoint} cannot read its database, so this inventory is '
            f'its last good snapshot (revision {response.revision}), last known to match the database '
            f'{_describe_age(age.total_seconds())} ago. Changes made since are missing; the server\'s log says why '
            f'the database does not answer. Playbooks can check voip_inventory_stale.')

    def _populate(self, response):
        inventory = self.inventory
        trust = self.get_option('allow_templating')
        self._set_vars('all', self._load_vars(response.all_vars_json, trust, 'the all group'))
        self._set_vars('all', {'voip_inventory_revision': response.revision, 'voip_inventory_stale': response.stale})

        group_names = {}
        for group in response.groups:
            name = group_names[group.name] = inventory.add_group(group.name)
            self._set_vars(name, self._load_vars(group.vars_json, trust, 'group', name))
        for group in response.groups:
            for child in group.children:
                inventory.add_child(group_names[group.name], group_names.get(child) or inventory.add_group(child))

        host_vars = self._add_hosts(response.hosts, trust)
        for group in response.groups:
            parent = group_names[group.name]
            for host in group.hosts:
                inventory.add_child(parent, host)
        self._construct(host_vars)

    def _add_hosts(self, hosts, trust):
        """Adds each host to its environment's group with its variables; returns the variables by host name."""
        inventory = self.inventory
        include_disabled = self.get_option('include_disabled')
        environment_groups = {}
        host_vars = {}
        for start in range(0, len(hosts), self._HOSTS_PER_DECODE):
            batch = hosts[start:start + self._HOSTS_PER_DECODE]
            for host, variables in zip(batch, self._load_host_vars(batch, trust)):
                environment_name = host.environment
                environment = environment_groups.get(environment_name)
                if environment is None:
                    environment = environment_groups[environment_name] = inventory.add_group(environment_name)
                name = inventory.add_host(host.name, group=environment)
                host_vars[name] = variables
                if include_disabled:
                    variables['vm_enabled'] = host.enabled
                # All of a host's variables at once: set_variable copies and tags each value, which at 100,000
                # hosts costs tens of seconds; json.loads has just made these values, plain and owned by no one else.
                inventory.get_host(name).vars.update(variables)
        return host_vars

    def _load_host_vars(self, hosts, trust):
        """The variables of each host, in order; a host whose variables are bad is named in the error."""
        documents = [host.vars_json or '{}' for host in hosts]
        try:
            decoded = json.loads('[' + ','.join(documents) + ']')
        except ValueError:
            decoded = None
        if decoded is None or len(decoded) != len(documents) or not all(isinstance(v, dict) for v in decoded):
            # Some host's variables are not one JSON object: decode them one by one to say which.
            return [self._load_vars(host.vars_json, trust, 'host', host.name) for host in hosts]
        return [_trusted(variables) for variables in decoded] if trust else decoded

    def _construct(self, host_vars):
        compose, groups, keyed_groups = (self.get_option(name) for name in ('compose', 'groups', 'keyed_groups'))
        if not (compose or groups or keyed_groups):
            return
        strict = self.get_option('strict')
        for name, variables in host_vars.items():
            self._set_composite_vars(compose, variables, name, strict=strict)
            self._add_host_to_composed_groups(groups, variables, name, strict=strict)
            self._add_host_to_keyed_groups(keyed_groups, variables, name, strict=strict)

    def _set_vars(self, entity, variables):
        for key, value in variables.items():
            self.inventory.set_variable(entity, key, value)

    def _load_vars(self, vars_json, trust, kind, name=None):
        """Decodes one object's variables; strings are marked as templates only when the inventory trusts them.

        The object is named by kind and name, joined only for an error: this runs once a host."""
        if not vars_json:
            return {}
        try:
            variables = json.loads(vars_json)
        except ValueError as exc:
            what = kind if name is None else f'{kind} {name}'
            raise AnsibleParserError(f'{self.NAME}: the server sent variables for {what} that are not JSON '
                                     f'({exc}); the server and this collection may not be the same version') from exc
        if not isinstance(variables, dict):
            what = kind if name is None else f'{kind} {name}'
            raise AnsibleParserError(f'{self.NAME}: the server sent variables for {what} that are not a mapping '
                                     f'but {type(variables).__name__}; the server and this collection may not be '
                                     f'the same version')
        return _trusted(variables) if trust else variables


@contextlib.contextmanager
def _cyclic_gc_paused():
    """Pauses Python's cyclic garbage collector while the inventory is built, and restores it as it was.

    Building an inventory makes hundreds of thousands of objects that all stay alive, the worst case for a
    generational collector: each full collection walks every one of them again and frees nothing. At 100,000
    hosts that is about a third of ansible-inventory's time. Reference counting still frees everything the
    parse drops; the few cycles among it wait for the next collection after the parse.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _describe_age(seconds):
    if seconds < 120:
        return f'{seconds:.0f} seconds'
    if seconds < 2 * 3600:
        return f'{seconds / 60:.0f} minutes'
    return f'{seconds / 3600:.1f} hours'


def _trusted(value):
    """Marks every string in value as a template Ansible may render; unmarked strings are only ever data."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {key: _trusted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_trusted(item) for item in value]
    return value

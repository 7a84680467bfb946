# -*- coding: utf-8 -*-
# Copyright: (c) 2025, voip-inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The benchmark's floor: ansible-core's own cost of adding an inventory.

It adds exactly the hosts, groups and variables that voip.infrastructure.postgresql adds from a JSON
file already on disk (written by bench/floor_export.sql), and nothing else: no network, no per-host
decoding. Whatever the real plugin costs above this is ours.

Host variables go in one of two ways (option host_vars): through InventoryData.set_variable, the
documented way, whose inventory wrapper copies and tags every value; or straight into Host.vars, as
the plugin does since it found the first way costs most of ansible-core's time. With pause_gc, Python's
cyclic garbage collector is paused while the inventory is added, as the plugin pauses it, so that the
floor that adds the plugin's way is the plugin's cost without the server, the call and the decoding.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: bench_floor
short_description: The inventory from a JSON file on disk, for the benchmark's floor
description:
  - Reads one JSON document with C(all_vars), C(groups) and C(hosts) and adds it to the inventory.
options:
  plugin:
    description: The name of this plugin.
    type: str
    required: true
    choices:
      - bench_floor
  path:
    description: The JSON document that bench/floor_export.sql wrote.
    type: path
    required: true
  host_vars:
    description: How host variables are added, see above.
    type: str
    default: set_variable
    choices:
      - set_variable
      - vars_update
  pause_gc:
    description: Pause Python's cyclic garbage collector while adding, as voip.infrastructure.postgresql does.
    type: bool
    default: false
"""

import gc
import json

from ansible.plugins.inventory import BaseInventoryPlugin


class InventoryModule(BaseInventoryPlugin):

    NAME = 'bench_floor'

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(('.yml', '.yaml'))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache=cache)
        self._read_config_data(path)
        pause_gc = self.get_option('pause_gc') and gc.isenabled()
        if pause_gc:
            gc.disable()
        try:
            self._add(inventory)
        finally:
            if pause_gc:
                gc.enable()

    def _add(self, inventory):
        with open(self.get_option('path'), 'rb') as document:
            data = json.load(document)

        update_vars = self.get_option('host_vars') == 'vars_update'
        for key, value in data['all_vars'].items():
            inventory.set_variable('all', key, value)
        for group in data['groups']:
            inventory.add_group(group['name'])
            for key, value in group['vars'].items():
                inventory.set_variable(group['name'], key, value)
        for group in data['groups']:
            for child in group['children']:
                inventory.add_child(group['name'], child)
        for host in data['hosts']:
            environment = inventory.add_group(host['environment'])
            name = inventory.add_host(host['name'], group=environment)
            if update_vars:
                inventory.get_host(name).vars.update(host['vars'])
            else:
                for key, value in host['vars'].items():
                    inventory.set_variable(name, key, value)
        for group in data['groups']:
            for name in group['hosts']:
                inventory.add_child(group['name'], name)

#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, voip-inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The benchmark's script contender: a dynamic inventory script in the style of the user's original.

Like the original it connects with psycopg2 from the INFRA_DB_* variables (libpq's ~/.pgpass or
PGPASSFILE supply the password), runs one query per table and prints --list JSON with _meta.hostvars.
Unlike the original it returns what the product returns, so the benchmark compares equal work:
host_vars merged under the fixed columns, groups with their children and no enabled hosts,
nested groups, the all group's variables (with the revision and stale flag the plugin adds), no
hard-coded connection variables, and strings from the database marked unsafe, so Ansible never
renders them as templates (the plugin's default). With INVENTORY_ALLOW_TEMPLATING=1 it leaves
them plain, as the original did.
"""

import argparse
import json
import os
import sys

import psycopg2
from psycopg2.extras import RealDictCursor


def get_db_connection():
    return psycopg2.connect(
        host=os.getenv('INFRA_DB_HOST', 'localhost'),
        port=os.getenv('INFRA_DB_PORT', '5432'),
        database=os.getenv('INFRA_DB_NAME', 'infrastructure'),
        user=os.getenv('INFRA_DB_USER', 'ansible'),
        password=os.getenv('INFRA_DB_PASSWORD'),
        cursor_factory=RealDictCursor,
    )


def unsafe(value):
    """Wraps every string in Ansible's unsafe marker, the only way a script's output can refuse templating."""
    if isinstance(value, str):
        return {'__ansible_unsafe': value}
    if isinstance(value, dict):
        return {key: unsafe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unsafe(item) for item in value]
    return value


def get_inventory(mark_unsafe):
    conn = get_db_connection()
    try:
        cursor = conn.cursor()
        cursor.execute("""
            SELECT id, vm_name, environment, host(ip_address) AS ansible_host, cpus, memory_mb, disk_gb,
                   opensips_version, asterisk_version, rtpengine_version,
                   opensips_config, asterisk_config, rtpengine_config, host_vars
            FROM vm_configs
            WHERE enabled = true
            ORDER BY vm_name
        """)
        vms = cursor.fetchall()
        cursor.execute("SELECT id, group_name, group_vars FROM ansible_groups ORDER BY group_name")
        groups = cursor.fetchall()
        cursor.execute("""
            SELECT vm_group_membership.group_id, vm_configs.vm_name
            FROM vm_group_membership
            JOIN vm_configs ON vm_group_membership.vm_id = vm_configs.id
            WHERE vm_configs.enabled = true
            ORDER BY vm_configs.vm_name
        """)
        memberships = cursor.fetchall()
        cursor.execute("SELECT parent_id, child_id FROM ansible_group_children")
        nesting = cursor.fetchall()
        cursor.execute("SELECT vars FROM inventory_all_vars")
        all_vars = cursor.fetchone()
        cursor.execute("SELECT revision FROM inventory_revision")
        revision = cursor.fetchone()
    finally:
        conn.close()

    protect = unsafe if mark_unsafe else (lambda value: value)
    inventory = {'_meta': {'hostvars': {}}, 'all': {'vars': protect(all_vars['vars'] if all_vars else {})}}
    inventory['all']['vars'].update(voip_inventory_revision=revision['revision'], voip_inventory_stale=False)
    hostvars = inventory['_meta']['hostvars']
    for vm in vms:
        variables = dict(vm['host_vars'] or {})
        variables.update({
            'ansible_host': vm['ansible_host'],
            'vm_cpus': vm['cpus'],
            'vm_memory_mb': vm['memory_mb'],
            'vm_disk_gb': vm['disk_gb'],
            'opensips_version': vm['opensips_version'],
            'asterisk_version': vm['asterisk_version'],
            'rtpengine_version': vm['rtpengine_version'],
            'opensips_config': vm['opensips_config'] or {},
            'asterisk_config': vm['asterisk_config'] or {},
            'rtpengine_config': vm['rtpengine_config'] or {},
            'environment': vm['environment'],
        })
        hostvars[vm['vm_name']] = protect(variables)

    names = {}
    for group in groups:
        names[group['id']] = group['group_name']
        inventory[group['group_name']] = {'hosts': [], 'vars': protect(group['group_vars'] or {}),
                                         'children': []}
    for membership in memberships:
        inventory[names[membership['group_id']]]['hosts'].append(membership['vm_name'])
    for link in nesting:
        inventory[names[link['parent_id']]]['children'].append(names[link['child_id']])

    # One group per environment, merged into a database group of the same name if there is one.
    for vm in vms:
        inventory.setdefault(vm['environment'], {'hosts': []})['hosts'].append(vm['vm_name'])
    return inventory


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--list', action='store_true')
    parser.add_argument('--host', action='store')
    args = parser.parse_args()
    mark_unsafe = os.getenv('INVENTORY_ALLOW_TEMPLATING', '') not in ('1', 'true', 'yes')
    if args.list:
        json.dump(get_inventory(mark_unsafe), sys.stdout)
    elif args.host:
        json.dump(get_inventory(mark_unsafe)['_meta']['hostvars'].get(args.host, {}), sys.stdout)
    else:
        parser.print_help()
        sys.exit(1)


if __name__ == '__main__':
    main()

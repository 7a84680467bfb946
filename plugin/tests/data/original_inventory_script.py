#!/usr/bin/env python3
# The user's original inventory script, exactly as their design document gives it (Approach 1), kept
# as the reference for test_seed_equivalence.py. Do not change it: it is what the plugin must match.
# ~/automation/ansible/inventory/postgres_inventory.py

import os
import sys
import json
import psycopg2
from psycopg2.extras import RealDictCursor

def get_db_connection():
    """Connect to PostgreSQL infrastructure database."""
    return psycopg2.connect(
        host=os.getenv('INFRA_DB_HOST', 'localhost'),
        port=os.getenv('INFRA_DB_PORT', '5432'),
        database=os.getenv('INFRA_DB_NAME', 'infrastructure'),
        user=os.getenv('INFRA_DB_USER', 'ansible'),
        password=os.getenv('INFRA_DB_PASSWORD'),
        cursor_factory=RealDictCursor
    )

def get_inventory():
    """Generate Ansible inventory from PostgreSQL."""

    inventory = {
        '_meta': {
            'hostvars': {}
        }
    }

    conn = get_db_connection()
    cursor = conn.cursor()

    # Get all enabled VMs
    cursor.execute("""
        SELECT
            vm_name,
            environment,
            cpus,
            memory_mb,
            disk_gb,
            ip_address,
            opensips_version,
            asterisk_version,
            rtpengine_version,
            opensips_config,
            asterisk_config,
            rtpengine_config
        FROM vm_configs
        WHERE enabled = true
        ORDER BY vm_name
    """)

    vms = cursor.fetchall()

    # Get group memberships
    cursor.execute("""
        SELECT
            vm_configs.vm_name,
            ansible_groups.group_name,
            ansible_groups.group_vars
        FROM vm_group_membership
        JOIN vm_configs ON vm_group_membership.vm_id = vm_configs.id
        JOIN ansible_groups ON vm_group_membership.group_id = ansible_groups.id
        WHERE vm_configs.enabled = true
    """)

    memberships = cursor.fetchall()

    # Build inventory
    for vm in vms:
        vm_name = vm['vm_name']

        # Add host variables
        inventory['_meta']['hostvars'][vm_name] = {
            'ansible_host': str(vm['ip_address']),
            'ansible_user': 'admin',
            'ansible_become': 'yes',
            'ansible_python_interpreter': '/usr/bin/python3',

            # VM specs
            'vm_cpus': vm['cpus'],
            'vm_memory_mb': vm['memory_mb'],
            'vm_disk_gb': vm['disk_gb'],

            # Software versions
            'opensips_version': vm['opensips_version'],
            'asterisk_version': vm['asterisk_version'],
            'rtpengine_version': vm['rtpengine_version'],

            # Service configs (from JSONB columns)
            'opensips_config': vm['opensips_config'] or {},
            'asterisk_config': vm['asterisk_config'] or {},
            'rtpengine_config': vm['rtpengine_config'] or {},

            # Metadata
            'environment': vm['environment']
        }

    # Build groups
    groups_dict = {}
    for membership in memberships:
        group_name = membership['group_name']
        vm_name = membership['vm_name']

        if group_name not in groups_dict:
            groups_dict[group_name] = {
                'hosts': [],
                'vars': membership['group_vars'] or {}
            }

        groups_dict[group_name]['hosts'].append(vm_name)

    # Add groups to inventory
    for group_name, group_data in groups_dict.items():
        inventory[group_name] = {
            'hosts': group_data['hosts']
        }
        if group_data['vars']:
            inventory[group_name]['vars'] = group_data['vars']

    # Add environment-based groups automatically
    env_groups = {}
    for vm in vms:
        env = vm['environment']
        if env not in env_groups:
            env_groups[env] = []
        env_groups[env].append(vm['vm_name'])

    for env, hosts in env_groups.items():
        inventory[env] = {'hosts': hosts}

    cursor.close()
    conn.close()

    return inventory

def get_host(hostname):
    """Get specific host details (--host option)."""
    inventory = get_inventory()
    return inventory['_meta']['hostvars'].get(hostname, {})

if __name__ == '__main__':
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument('--list', action='store_true')
    parser.add_argument('--host', action='store')
    args = parser.parse_args()

    if args.list:
        print(json.dumps(get_inventory(), indent=2))
    elif args.host:
        print(json.dumps(get_host(args.host), indent=2))
    else:
        parser.print_help()
        sys.exit(1)

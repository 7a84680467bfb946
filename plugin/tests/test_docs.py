"""ansible-doc shows the whole plugin, and every example in it works against a real server."""

from __future__ import annotations

import json

import pytest
import yaml

from conftest import hosts_of

PLUGIN = 'voip.infrastructure.postgresql'
OWN_OPTIONS = {'plugin', 'endpoint', 'timeout', 'environments', 'include_disabled', 'allow_templating',
               'revalidate_cache'}
CONSTRUCTED_OPTIONS = {'strict', 'compose', 'groups', 'keyed_groups', 'use_extra_vars', 'leading_separator'}
CACHE_OPTIONS = {'cache', 'cache_plugin', 'cache_timeout', 'cache_connection', 'cache_prefix'}


@pytest.fixture
def doc(ansible):
    result = ansible.run('ansible-doc', '-t', 'inventory', '--json', PLUGIN)
    return json.loads(result.stdout)[PLUGIN]


def test_ansible_doc_lists_the_plugins_options_and_those_of_constructed_and_the_cache(doc):
    options = doc['doc']['options']

    assert OWN_OPTIONS | CONSTRUCTED_OPTIONS | CACHE_OPTIONS <= set(options)
    assert options['endpoint']['default'] == 'unix:///run/voip-inventory/inventory.sock'
    assert options['endpoint']['env'] == [{'name': 'VOIP_INVENTORY_ENDPOINT'}]
    assert options['timeout']['env'] == [{'name': 'VOIP_INVENTORY_TIMEOUT'}]
    assert options['environments']['type'] == 'list' and options['environments']['elements'] == 'str'
    assert options['include_disabled']['default'] is False
    assert options['allow_templating']['default'] is False
    assert options['revalidate_cache']['default'] is True
    assert options['revalidate_cache']['env'] == [{'name': 'VOIP_INVENTORY_REVALIDATE_CACHE'}]
    for name in OWN_OPTIONS:
        assert options[name]['description'], name
        assert options[name]['type'], name


def test_ansible_doc_renders_the_page_with_examples_and_requirements(ansible):
    page = ansible.run('ansible-doc', '-t', 'inventory', PLUGIN).stdout

    assert 'EXAMPLES:' in page
    assert 'grpcio' in page and 'protobuf' in page
    assert 'unparsed_is_failed' in page


def examples():
    from ansible_collections.voip.infrastructure.plugins.inventory.postgresql import EXAMPLES
    return list(yaml.safe_load_all(EXAMPLES))


@pytest.mark.parametrize('example', examples(), ids=[f'example {n}' for n in range(1, len(examples()) + 1)])
def test_every_example_works(ansible, server, example):
    # The examples name the production socket or port; here the server listens elsewhere.
    config = {**example, 'endpoint': server.endpoint}
    if 'cache_connection' in config:
        config['cache_connection'] = str(ansible.home / 'cache')
    inventory = ansible.write_inventory(**{key: value for key, value in config.items() if key != 'plugin'})

    listing = ansible.list(inventory)

    assert hosts_of(listing, 'production') == {'voip-prod-1', 'voip-prod-2'}
    if example.get('keyed_groups', [{}])[0].get('prefix') == 'opensips':
        assert hosts_of(listing, 'opensips_3_4') == {'voip-prod-1', 'voip-prod-2'}
    if 'big_vms' in example.get('groups', {}):
        assert hosts_of(listing, 'big_vms') == {'voip-prod-1', 'voip-prod-2'}
        assert hosts_of(listing, 'disabled_vms') == set()
        assert listing['_meta']['hostvars']['voip-prod-1']['ansible_port'] == 22

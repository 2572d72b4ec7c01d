# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Unit tests of the Azure link reconciler (plugins/module_utils/_azure_vpn.py): spec, desired state, changes, diff, SDK side with fakes.

from __future__ import annotations

import copy
import os

import pytest
import yaml

from ansible_collections.multicloud.vpn.plugins.module_utils._azure import AzureError
from ansible_collections.multicloud.vpn.plugins.module_utils._azure_vpn import (
    CREATED_SUBNET_TAG, LINK_TAG, CurrentLink, LinkClient, LinkError, build_link_spec, desired_link, link_diff, plan_absent, plan_present,
    run_link)
from ansible_collections.multicloud.vpn.plugins.module_utils._ipsec import PROFILES, azure_ipsec_policy

SUB = '00000000-0000-4000-8000-0000000000c1'
RG = 'rg'
BASE = '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network' % (SUB, RG)
GATEWAY_ID = BASE + '/virtualNetworkGateways/lab-gw'
CASES = os.path.join(os.path.dirname(__file__), 'cases', 'azure_apipa_mapping.yml')
# FACTS.md, Microsoft's documented AWS BGP mapping, verbatim:
# (AWS connection -> Azure instance, AWS tunnel) -> (Azure APIPA, AWS peer, AWS inside CIDR)
MICROSOFT_TABLE = {
    (0, 1): ('169.254.21.2', '169.254.21.1', '169.254.21.0/30'),
    (0, 2): ('169.254.22.2', '169.254.22.1', '169.254.22.0/30'),
    (1, 1): ('169.254.21.6', '169.254.21.5', '169.254.21.4/30'),
    (1, 2): ('169.254.22.6', '169.254.22.5', '169.254.22.4/30'),
}
PSKS = {(0, 't1'): 'Key.c0t1_aaaa', (0, 't2'): 'Key.c0t2_aaaa', (1, 't1'): 'Key.c1t1_aaaa', (1, 't2'): 'Key.c1t2_aaaa'}
OUTSIDE = {(0, 't1'): '198.51.100.1', (0, 't2'): '198.51.100.2', (1, 't1'): '198.51.100.3', (1, 't2'): '198.51.100.4'}


def tunnels(mode):
    positions = [(0, 't1'), (1, 't1')] if mode == 'static' else [(0, 't1'), (0, 't2'), (1, 't1'), (1, 't2')]
    return [{'connection': connection, 'aws_tunnel': tunnel, 'outside_ip': OUTSIDE[(connection, tunnel)],
             'pre_shared_key': PSKS[(connection, tunnel)]} for connection, tunnel in positions]


def params(mode='bgp', **overrides):
    values = {'name': 'lab', 'resource_group': RG, 'location': 'eastus', 'mode': mode, 'state': 'present', 'wait': True, 'wait_timeout': 60,
              'virtual_network': {'name': 'vnet', 'address_prefixes': ['10.20.0.0/16'], 'gateway_subnet_prefix': '10.20.255.0/27'},
              'aws_tunnels': tunnels(mode), 'aws_prefixes': ['10.10.0.0/16'] if mode == 'static' else None}
    values.update(overrides)
    return values


def existing_vnet(with_gateway_subnet=True, tags=None):
    subnets = [{'name': 'workload', 'id': BASE + '/virtualNetworks/vnet/subnets/workload', 'properties': {'addressPrefix': '10.20.1.0/24'}}]
    if with_gateway_subnet:
        subnets.append({'name': 'GatewaySubnet', 'id': BASE + '/virtualNetworks/vnet/subnets/GatewaySubnet',
                        'properties': {'addressPrefix': '10.20.255.0/27'}})
    vnet = {'name': 'vnet', 'id': BASE + '/virtualNetworks/vnet', 'location': 'eastus',
            'properties': {'addressSpace': {'addressPrefixes': ['10.20.0.0/16']}, 'subnets': subnets}}
    if tags:
        vnet['tags'] = tags
    return vnet


def as_existing(body, name, kind, state='Succeeded'):
    """What Azure would answer for a body we sent: id, name, provisioningState (and no sharedKey)."""
    resource = copy.deepcopy(body)
    resource.update(name=name, id='%s/%s/%s' % (BASE, kind, name))
    resource['properties'].pop('sharedKey', None)
    resource['properties']['provisioningState'] = state
    return resource


def converged(spec, current=None):
    """The CurrentLink of a link that exactly matches its desired state."""
    current = current or CurrentLink(virtual_network=existing_vnet(), virtual_network_read=True)
    desired = desired_link(spec, SUB, current)
    converged_link = CurrentLink()
    converged_link.gateway = as_existing(desired.gateway, 'lab-gw', 'virtualNetworkGateways')
    converged_link.public_ips = {name.lower(): dict(as_existing(body, name, 'publicIPAddresses'), properties=dict(
        body['properties'], provisioningState='Succeeded', ipAddress='192.0.2.%d' % (index + 1)))
        for index, (name, body) in enumerate(desired.public_ips.items())}
    converged_link.local_network_gateways = {name.lower(): as_existing(body, name, 'localNetworkGateways')
                                             for name, body in desired.local_network_gateways.items()}
    converged_link.connections = {name.lower(): as_existing(body, name, 'connections') for name, body in desired.connections.items()}
    converged_link.shared_keys = {name.lower(): key for name, key in desired.shared_keys.items()}
    return converged_link


def describe(plan):
    return [change.describe() for change in plan.changes]


# -- spec validation: one clear line naming the option ---------------------------------------------
@pytest.mark.parametrize('overrides, message', [
    ({'mode': 'static', 'aws_tunnels': tunnels('bgp')}, 'aws_tunnels[1].aws_tunnel: static mode uses tunnel t1'),
    ({'aws_tunnels': [dict(tunnels('bgp')[0], connection=2)]}, 'aws_tunnels[0].connection: must be 0 or 1'),
    ({'aws_tunnels': [tunnels('bgp')[0], dict(tunnels('bgp')[0], outside_ip='198.51.100.9')]}, 'aws_tunnels[1]: connection 0 tunnel t1 is already'),
    ({'aws_tunnels': [tunnels('bgp')[0], dict(tunnels('bgp')[1], outside_ip='198.51.100.1')]}, 'aws_tunnels[1].outside_ip: 198.51.100.1 is already'),
    ({'aws_tunnels': [dict(tunnels('bgp')[0], outside_ip='198.51.100.300')]}, 'aws_tunnels[0].outside_ip:'),
    ({'aws_tunnels': [dict(tunnels('bgp')[0], pre_shared_key='0startsWithZero')]}, 'aws_tunnels[0].pre_shared_key: must not start with "0"'),
    ({'aws_tunnels': [dict(tunnels('bgp')[0], pre_shared_key='short')]}, 'aws_tunnels[0].pre_shared_key: must be 8 to 64'),
    ({'aws_tunnels': [dict(tunnels('bgp')[0], inside_cidr='169.254.10.0/30')]}, "aws_tunnels[0].inside_cidr: 169.254.10.0/30 is outside Azure's APIPA"),
    ({'aws_tunnels': [dict(tunnels('bgp')[0], inside_cidr='169.254.21.0/30'), dict(tunnels('bgp')[1], inside_cidr='169.254.21.0/30')]},
     'aws_tunnels[1].inside_cidr: 169.254.21.0/30 overlaps'),
    ({'aws_tunnels': [dict(tunnels('bgp')[0], amazon_asn=64512), dict(tunnels('bgp')[1], amazon_asn=64513)]}, 'aws_tunnels[1].amazon_asn: 64513 differs'),
    ({'gateway': {'asn': 64512}}, 'gateway.asn: must differ'),
    ({'gateway': {'asn': 65518}}, 'gateway.asn: 65518 is reserved'),
    ({'gateway': {'sku': 'VpnGw1AZ', 'generation': 'Generation2'}}, 'gateway.generation: SKU VpnGw1AZ exists only in Generation1'),
    ({'gateway': {'sku': 'Basic'}}, "gateway.sku: 'Basic' is not"),
    ({'mode': 'static', 'aws_prefixes': None}, 'aws_prefixes: required in static mode'),
    ({'mode': 'static', 'aws_prefixes': ['10.10.0.1/16']}, 'aws_prefixes[0]: 10.10.0.1/16 has host bits set'),
    ({'virtual_network': {'name': 'vnet', 'gateway_subnet_prefix': '10.20.255.0/28'}}, 'virtual_network.gateway_subnet_prefix: 10.20.255.0/28 is too small'),
    ({'virtual_network': {'name': 'vnet', 'address_prefixes': ['10.20.0.0/16'], 'gateway_subnet_prefix': '10.99.0.0/27'}},
     'virtual_network.gateway_subnet_prefix: 10.99.0.0/27 is not inside'),
    ({'name': 'x' * 70}, "name: 'xxxx"),
    ({'ipsec_profile': 'ikev1_compat'}, 'ipsec_profile.ike_versions: Azure connections here use IKEv2'),
    ({'ipsec_profile': {'phase1_encryption': ['AES128', 'AES256']}}, 'ipsec_profile.phase1_encryption: Azure cannot express more than one'),
])
def test_invalid_values_fail_naming_the_option(overrides, message):
    spec_params = params(**{key: value for key, value in overrides.items() if key != 'mode'}) if 'mode' not in overrides else \
        params(overrides['mode'], **{key: value for key, value in overrides.items() if key != 'mode'})
    with pytest.raises(LinkError) as caught:
        build_link_spec(spec_params)
    assert str(caught.value).startswith(message), str(caught.value)
    assert '\n' not in str(caught.value) and not any(key in str(caught.value) for key in PSKS.values())


def test_generation_defaults_to_what_the_sku_offers():
    assert build_link_spec(params()).gateway.generation == 'Generation1'  # VpnGw1AZ exists in Generation1 only
    assert build_link_spec(params(gateway={'sku': 'VpnGw2AZ'})).gateway.generation == 'Generation2'
    assert build_link_spec(params(gateway={'sku': 'VpnGw5'})).gateway.generation == 'Generation2'


def test_phase_one_needs_no_tunnels_and_manages_none():
    spec = build_link_spec(params(aws_tunnels=None))
    assert spec.tunnels == () and spec.manage_tunnels is False
    assert spec.gateway_apipa == {0: ['169.254.21.2', '169.254.22.2'], 1: ['169.254.21.6', '169.254.22.6']}


# -- desired state: Microsoft's APIPA mapping ---------------------------------------------------------
def test_bgp_desired_state_follows_microsofts_table_exactly():
    spec = build_link_spec(params('bgp'))
    desired = desired_link(spec, SUB, CurrentLink(virtual_network=existing_vnet(), virtual_network_read=True))
    gateway = desired.gateway['properties']
    assert (gateway['activeActive'], gateway['enableBgp'], gateway['vpnType'], gateway['sku'], gateway['vpnGatewayGeneration']) == (
        True, True, 'RouteBased', {'name': 'VpnGw1AZ', 'tier': 'VpnGw1AZ'}, 'Generation1')
    config_ids = [GATEWAY_ID + '/ipConfigurations/instance-0', GATEWAY_ID + '/ipConfigurations/instance-1']
    assert gateway['bgpSettings'] == {'asn': 65515, 'bgpPeeringAddresses': [
        {'ipconfigurationId': config_ids[0], 'customBgpIpAddresses': [MICROSOFT_TABLE[(0, 1)][0], MICROSOFT_TABLE[(0, 2)][0]]},
        {'ipconfigurationId': config_ids[1], 'customBgpIpAddresses': [MICROSOFT_TABLE[(1, 1)][0], MICROSOFT_TABLE[(1, 2)][0]]}]}
    assert [config['properties']['publicIPAddress']['id'] for config in gateway['ipConfigurations']] == [
        BASE + '/publicIPAddresses/lab-pip-0', BASE + '/publicIPAddresses/lab-pip-1']
    assert {config['properties']['subnet']['id'] for config in gateway['ipConfigurations']} == {BASE + '/virtualNetworks/vnet/subnets/GatewaySubnet'}
    for (instance, tunnel), (azure_apipa, aws_peer, inside_cidr) in MICROSOFT_TABLE.items():
        suffix = 'c%d-t%d' % (instance, tunnel)
        lng = desired.local_network_gateways['lab-lng-' + suffix]['properties']
        assert lng == {'gatewayIpAddress': OUTSIDE[(instance, 't%d' % tunnel)], 'localNetworkAddressSpace': {'addressPrefixes': []},
                       'bgpSettings': {'asn': 64512, 'bgpPeeringAddress': aws_peer}}
        connection = desired.connections['lab-conn-' + suffix]['properties']
        assert connection['enableBgp'] is True and connection['connectionProtocol'] == 'IKEv2'
        assert connection['localNetworkGateway2'] == {'id': BASE + '/localNetworkGateways/lab-lng-' + suffix}
        custom = {entry['ipConfigurationId']: entry['customBgpIpAddress'] for entry in connection['gatewayCustomBgpIpAddresses']}
        assert custom[config_ids[instance]] == azure_apipa
        assert custom[config_ids[1 - instance]] == MICROSOFT_TABLE[(1 - instance, tunnel)][0]
        assert desired.tunnels['lab-conn-' + suffix].inside_cidr == inside_cidr
        assert 'sharedKey' not in connection and desired.shared_keys['lab-conn-' + suffix] == PSKS[(instance, 't%d' % tunnel)]


def test_case_file_and_facts_table_agree():
    with open(CASES, encoding='utf-8') as handle:
        cases = yaml.safe_load(handle)
    assert {(case['azure_instance'], case['aws_tunnel']): (case['azure_apipa_ip'], case['aws_inside_ip'], case['inside_cidr'])
            for case in cases} == MICROSOFT_TABLE


def test_static_desired_state_is_the_seed_layout():
    spec = build_link_spec(params('static'))
    desired = desired_link(spec, SUB, CurrentLink(virtual_network=existing_vnet(), virtual_network_read=True))
    gateway = desired.gateway['properties']
    assert gateway['enableBgp'] is False and gateway['bgpSettings'] == {'asn': 65515} and len(gateway['ipConfigurations']) == 2
    assert sorted(desired.connections) == ['lab-conn-c0-t1', 'lab-conn-c1-t1']
    for name, body in desired.local_network_gateways.items():
        assert body['properties']['localNetworkAddressSpace'] == {'addressPrefixes': ['10.10.0.0/16']} and 'bgpSettings' not in body['properties']
        assert body['tags'] == {LINK_TAG: 'lab', 'mcvpn-tunnel': name[-5:]}
    for body in desired.connections.values():
        assert body['properties']['enableBgp'] is False and 'gatewayCustomBgpIpAddresses' not in body['properties']
        assert body['properties']['ipsecPolicies'] == [azure_ipsec_policy(PROFILES['gcp_safe'])]
    assert desired.virtual_network is None and desired.gateway_subnet is None


def test_missing_network_pieces_are_created_only_when_described():
    spec = build_link_spec(params('static'))
    desired = desired_link(spec, SUB, CurrentLink(virtual_network=None, virtual_network_read=True))
    assert desired.virtual_network['properties']['subnets'] == [{'name': 'GatewaySubnet', 'properties': {'addressPrefix': '10.20.255.0/27'}}]
    assert desired.virtual_network['tags'] == {LINK_TAG: 'lab'}
    desired = desired_link(spec, SUB, CurrentLink(virtual_network=existing_vnet(with_gateway_subnet=False), virtual_network_read=True))
    assert desired.gateway_subnet == {'properties': {'addressPrefix': '10.20.255.0/27'}}
    assert desired.gateway['tags'][CREATED_SUBNET_TAG] == 'GatewaySubnet'
    assert all(body['tags'][CREATED_SUBNET_TAG] == 'GatewaySubnet' for body in desired.public_ips.values())
    bare = build_link_spec(params('static', virtual_network={'name': 'vnet'}))
    with pytest.raises(LinkError, match='^virtual_network.gateway_subnet_prefix: virtual network vnet has no GatewaySubnet'):
        desired_link(bare, SUB, CurrentLink(virtual_network=existing_vnet(with_gateway_subnet=False), virtual_network_read=True))
    with pytest.raises(LinkError, match='^virtual_network.address_prefixes: virtual network vnet does not exist'):
        desired_link(bare, SUB, CurrentLink(virtual_network=None, virtual_network_read=True))
    with pytest.raises(LinkError, match='^location: required'):
        desired_link(build_link_spec(params('static', location=None)), SUB, CurrentLink(virtual_network=None, virtual_network_read=True))


# -- changes against partial existing state -----------------------------------------------------------
def test_nothing_to_do_when_everything_matches():
    spec = build_link_spec(params('bgp'))
    current = converged(spec)
    plan = plan_present(spec, desired_link(spec, SUB, current), current)
    assert plan.changes == [] and plan.pending == []


def test_partial_state_creates_only_what_is_missing_in_dependency_order():
    spec = build_link_spec(params('static'))
    current = converged(spec)
    del current.connections['lab-conn-c1-t1']
    del current.local_network_gateways['lab-lng-c1-t1']
    del current.public_ips['lab-pip-1']
    plan = plan_present(spec, desired_link(spec, SUB, current), current)
    assert describe(plan) == ['create public_ip lab-pip-1', 'create local_network_gateway lab-lng-c1-t1', 'create connection lab-conn-c1-t1']
    assert plan.changes[-1].body['properties']['sharedKey'] == PSKS[(1, 't1')]


def test_fresh_link_is_built_in_dependency_order():
    spec = build_link_spec(params('static'))
    current = CurrentLink(virtual_network=existing_vnet(with_gateway_subnet=False), virtual_network_read=True)
    plan = plan_present(spec, desired_link(spec, SUB, current), current)
    assert describe(plan) == ['create public_ip lab-pip-0', 'create public_ip lab-pip-1', 'create subnet vnet/GatewaySubnet',
                              'create local_network_gateway lab-lng-c0-t1', 'create local_network_gateway lab-lng-c1-t1',
                              'create gateway lab-gw', 'create connection lab-conn-c0-t1', 'create connection lab-conn-c1-t1']


def test_shared_key_alone_is_set_through_the_sharedkey_call_and_masked_in_the_diff():
    spec = build_link_spec(params('static'))
    current = converged(spec)
    current.shared_keys['lab-conn-c0-t1'] = 'Old.key_before'
    plan = plan_present(spec, desired_link(spec, SUB, current), current)
    assert describe(plan) == ['set shared key of connection lab-conn-c0-t1']
    assert plan.changes[0].body == {'value': PSKS[(0, 't1')]}
    diff = link_diff(plan, current)
    assert diff == {'before': {'connections': {'lab-conn-c0-t1': {'shared_key': '********'}}},
                    'after': {'connections': {'lab-conn-c0-t1': {'shared_key': '******** (changed)'}}}}
    assert 'Old.key_before' not in repr(diff) and PSKS[(0, 't1')] not in repr(diff)


def test_policy_change_and_key_change_make_one_put():
    spec = build_link_spec(params('static', ipsec_profile='modern_gcm'))
    current = converged(build_link_spec(params('static')))
    current.shared_keys['lab-conn-c1-t1'] = 'Old.key_before'
    plan = plan_present(spec, desired_link(spec, SUB, current), current)
    assert describe(plan) == ['update connection lab-conn-c0-t1 (ipsec_policies)', 'update connection lab-conn-c1-t1 (ipsec_policies, shared_key)']
    assert plan.changes[1].body['properties']['sharedKey'] == PSKS[(1, 't1')]
    diff = link_diff(plan, current)
    assert diff['after']['connections']['lab-conn-c1-t1']['shared_key'] == '******** (changed)'
    assert diff['before']['connections']['lab-conn-c0-t1']['ipsec_policies'][0]['ikeEncryption'] == 'AES256'
    assert diff['after']['connections']['lab-conn-c0-t1']['ipsec_policies'][0]['ikeEncryption'] == 'GCMAES256'


def test_azure_policy_aliases_and_casing_are_not_differences():
    spec = build_link_spec(params('static'))
    current = converged(spec)
    for connection in current.connections.values():
        policy = connection['properties']['ipsecPolicies'][0]
        policy.update(dhGroup='DHGroup2048', pfsGroup='PFS14', ikeIntegrity='sha256')
        connection['properties']['localNetworkGateway2']['id'] = connection['properties']['localNetworkGateway2']['id'].lower()
    plan = plan_present(spec, desired_link(spec, SUB, current), current)
    assert plan.changes == []


def test_local_network_gateway_changes_in_place():
    spec = build_link_spec(params('bgp'))
    current = converged(spec)
    current.local_network_gateways['lab-lng-c1-t2']['properties']['gatewayIpAddress'] = '198.51.100.99'
    current.local_network_gateways['lab-lng-c0-t1']['properties']['bgpSettings']['asn'] = 64600
    plan = plan_present(spec, desired_link(spec, SUB, current), current)
    assert describe(plan) == ['update local_network_gateway lab-lng-c0-t1 (bgp)', 'update local_network_gateway lab-lng-c1-t2 (gateway_ip_address)']


def test_gateway_busy_is_never_written_and_its_connections_wait():
    spec = build_link_spec(params('bgp'))
    current = converged(spec)
    current.gateway['properties']['provisioningState'] = 'Updating'
    current.gateway['properties']['enableBgp'] = False  # would be an update, were the gateway not busy
    current.connections.clear()
    plan = plan_present(spec, desired_link(spec, SUB, current), current)
    assert plan.changes == [] and 'Updating' in plan.pending[0]


def test_without_wait_connections_are_left_for_later_when_the_gateway_is_written():
    spec = build_link_spec(params('static', wait=False))
    current = CurrentLink(virtual_network=existing_vnet(), virtual_network_read=True)
    plan = plan_present(spec, desired_link(spec, SUB, current), current)
    assert [change.kind for change in plan.changes] == ['public_ip', 'public_ip', 'local_network_gateway', 'local_network_gateway', 'gateway']
    assert 'run again with wait: true' in plan.pending[0]


def test_generation_cannot_change_and_says_so_before_any_write():
    spec = build_link_spec(params('static', gateway={'sku': 'VpnGw2AZ', 'generation': 'Generation2'}))
    current = converged(build_link_spec(params('static', gateway={'sku': 'VpnGw2AZ', 'generation': 'Generation1'})))
    with pytest.raises(LinkError, match='^gateway.generation: gateway lab-gw has generation Generation1'):
        plan_present(spec, desired_link(spec, SUB, current), current)


def test_gateway_in_another_virtual_network_is_an_error():
    spec = build_link_spec(params('static', virtual_network={'name': 'other-vnet'}))
    current = converged(build_link_spec(params('static')))
    with pytest.raises(LinkError, match='^virtual_network.name: gateway lab-gw already sits in virtual network vnet'):
        desired_link(spec, SUB, current)


def test_switch_to_static_removes_t2_tunnels_and_replaces_connections_using_vanishing_apipa():
    bgp_current = converged(build_link_spec(params('bgp')))
    spec = build_link_spec(params('static'))
    plan = plan_present(spec, desired_link(spec, SUB, bgp_current), bgp_current)
    operations = describe(plan)
    assert operations.index('update gateway lab-gw (enable_bgp, custom_bgp_ips)') > operations.index('delete connection lab-conn-c0-t2: not in aws_tunnels')
    assert 'delete connection lab-conn-c0-t1: replaced: its custom BGP addresses leave the gateway' in operations
    assert operations.index('create connection lab-conn-c0-t1: replaced') > operations.index('update gateway lab-gw (enable_bgp, custom_bgp_ips)')
    assert operations[-2:] == ['delete local_network_gateway lab-lng-c0-t2: not in aws_tunnels',
                               'delete local_network_gateway lab-lng-c1-t2: not in aws_tunnels']


def test_phase_one_leaves_existing_connections_alone():
    spec = build_link_spec(params('bgp', aws_tunnels=None))
    current = converged(build_link_spec(params('bgp')))
    plan = plan_present(spec, desired_link(spec, SUB, current), current)
    assert plan.changes == []


def test_foreign_resources_are_never_deleted_nor_retagged():
    spec = build_link_spec(params('static'))
    current = converged(spec)
    current.connections['other'] = {'name': 'other', 'tags': {'team': 'x'}, 'properties': {}}
    current.gateway['tags'] = {'owner': 'someone'}  # adopted gateway: its tags stay as they are
    plan = plan_present(spec, desired_link(spec, SUB, current), current)
    assert plan.changes == []
    assert desired_link(spec, SUB, current).gateway['tags'] == {'owner': 'someone'}


# -- absent ---------------------------------------------------------------------------------------------
def test_absent_deletes_in_dependency_order_and_only_what_is_ours():
    spec = build_link_spec(params('bgp', state='absent'))
    current = converged(build_link_spec(params('bgp')))
    current.local_network_gateways['foreign'] = {'name': 'foreign', 'properties': {}}
    current.virtual_network = existing_vnet()
    plan = plan_absent(spec, current)
    kinds = [change.kind for change in plan.changes]
    assert kinds == ['connection'] * 4 + ['local_network_gateway'] * 4 + ['gateway', 'public_ip', 'public_ip']
    assert 'foreign' not in describe(plan)


def test_absent_removes_the_gateway_subnet_or_network_only_when_it_created_them():
    spec = build_link_spec(params('static', state='absent'))
    current = converged(build_link_spec(params('static')))
    current.virtual_network = existing_vnet()
    assert 'subnet' not in [change.kind for change in plan_absent(spec, current).changes]
    current.gateway['tags'][CREATED_SUBNET_TAG] = 'GatewaySubnet'
    assert describe(plan_absent(spec, current))[-1] == 'delete subnet vnet/GatewaySubnet: created by this link'
    current.virtual_network = existing_vnet(tags={LINK_TAG: 'lab'})
    assert describe(plan_absent(spec, current))[-1] == 'delete virtual_network vnet: created by this link'


def test_absent_without_wait_leaves_public_ips_until_the_gateway_is_gone():
    spec = build_link_spec(params('static', state='absent', wait=False))
    current = converged(build_link_spec(params('static')))
    plan = plan_absent(spec, current)
    assert [change.kind for change in plan.changes][-1] == 'gateway' and 'public IPs' in plan.pending[0]
    current.gateway['properties']['provisioningState'] = 'Deleting'
    plan = plan_absent(spec, current)
    assert 'gateway' not in [change.kind for change in plan.changes] and len(plan.pending) == 2


# -- SDK side with a fake client -----------------------------------------------------------------------
class FakePoller:
    def __init__(self, result):
        self._result = result

    def done(self):
        return True

    def wait(self, timeout=None):
        del timeout

    def status(self):
        return 'Succeeded'

    def result(self):
        return self._result


class FakeOperations:
    def __init__(self, calls, kind, items=(), fail_first=0, shared_keys=None):
        self.calls, self.kind, self.items, self.fail_first = calls, kind, list(items), fail_first
        self.shared_keys = shared_keys or {}

    def list(self, resource_group):
        self.calls.append(('list', self.kind, resource_group))
        return iter(self.items)

    def get(self, resource_group, name):
        self.calls.append(('get', self.kind, name))
        return next((item for item in self.items if item['name'] == name), None)

    def get_shared_key(self, resource_group, name):
        self.calls.append(('get_shared_key', name))
        return {'value': self.shared_keys[name.lower()]}

    def begin_create_or_update(self, resource_group, name, body, **kwargs):
        self.calls.append(('put', self.kind, name))
        if self.fail_first:
            self.fail_first -= 1
            raise AzureError('put failed: AnotherOperationInProgress: busy (HTTP 409)', code='AnotherOperationInProgress', status=409)
        return FakePoller(as_existing(body, name, self.kind))

    def begin_delete(self, resource_group, name):
        self.calls.append(('delete', self.kind, name))
        return FakePoller(None)

    def begin_set_shared_key(self, resource_group, name, body, **kwargs):
        self.calls.append(('set_shared_key', name))
        return FakePoller(body)


class FakeClient:
    def __init__(self, current=None, fail_first=0):
        current = current or CurrentLink()
        self.calls = []
        self.public_ip_addresses = FakeOperations(self.calls, 'publicIPAddresses', current.public_ips.values())
        self.virtual_network_gateways = FakeOperations(self.calls, 'virtualNetworkGateways', [current.gateway] if current.gateway else [], fail_first)
        self.local_network_gateways = FakeOperations(self.calls, 'localNetworkGateways', current.local_network_gateways.values())
        self.virtual_network_gateway_connections = FakeOperations(self.calls, 'connections', current.connections.values(),
                                                                  shared_keys=current.shared_keys)
        self.virtual_networks = FakeOperations(self.calls, 'virtualNetworks', [existing_vnet()])
        self.subnets = FakeOperations(self.calls, 'subnets')


def test_a_converged_link_costs_four_lists_and_one_shared_key_read_per_connection():
    spec = build_link_spec(params('static'))
    current = converged(spec)
    client = FakeClient(current)
    result = run_link(client, spec, subscription_id=SUB, check_mode=False, poll_interval=0, sleep=lambda seconds: None)
    assert result['changed'] is False and result['operations'] == []
    assert [call[0] for call in client.calls] == ['list'] * 4 + ['get_shared_key'] * 2
    assert result['gateway']['public_ips'] == ['192.0.2.1', '192.0.2.2']


def test_check_mode_reads_only():
    spec = build_link_spec(params('bgp'))
    client = FakeClient()
    result = run_link(client, spec, subscription_id=SUB, check_mode=True, poll_interval=0, want_diff=True)
    assert {call[0] for call in client.calls} == {'list', 'get'} and result['performed'] == []
    assert len(result['operations']) == 2 + 4 + 1 + 4 and result['gateway']['exists'] is False
    assert all(entry['shared_key'] == '********' for entry in result['diff']['after']['connections'].values())
    assert not any(key in repr(result) for key in PSKS.values())


def test_another_operation_in_progress_is_waited_out_then_retried():
    spec = build_link_spec(params('static', aws_tunnels=None))
    client = FakeClient(fail_first=2)
    sleeps = []
    result = run_link(client, spec, subscription_id=SUB, check_mode=False, poll_interval=0.5, sleep=sleeps.append)
    assert [call for call in client.calls if call[:2] == ('put', 'virtualNetworkGateways')] == [('put', 'virtualNetworkGateways', 'lab-gw')] * 3
    assert sleeps == [0.5, 0.5] and result['gateway']['provisioning_state'] == 'Succeeded'


def test_waiting_for_a_busy_gateway_stops_at_wait_timeout():
    spec = build_link_spec(params('static', wait_timeout=2))
    current = converged(spec)
    current.gateway['properties']['provisioningState'] = 'Updating'
    client = FakeClient(current)
    clock = iter(range(100)).__next__
    with pytest.raises(AzureError) as caught:
        LinkClient(client, spec, poll_interval=1, clock=clock, sleep=lambda seconds: None).wait_for_gateway()
    assert caught.value.code == 'Timeout' and 'wait_timeout' in str(caught.value)
    assert not [call for call in client.calls if call[0] == 'put']


def test_missing_resource_group_names_the_option():
    spec = build_link_spec(params('static'))

    class MissingGroup(FakeOperations):
        def list(self, resource_group):
            raise AzureError('list failed: ResourceGroupNotFound: nope (HTTP 404)', code='ResourceGroupNotFound', status=404)

    client = FakeClient()
    client.public_ip_addresses = MissingGroup(client.calls, 'publicIPAddresses')
    with pytest.raises(LinkError, match='^resource_group: resource group rg does not exist'):
        run_link(client, spec, subscription_id=SUB, check_mode=True, poll_interval=0)

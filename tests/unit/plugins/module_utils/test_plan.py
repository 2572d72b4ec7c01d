# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.multicloud.vpn.plugins.module_utils._plan import (
    AZURE_APIPA_RANGE,
    RESERVED_INSIDE_CIDRS,
    PlanError,
    allocate_inside_cidrs,
    plan_aws_azure,
    plan_aws_gcp,
    tunnel_addresses,
    validate_inside_cidr,
)

CASES_DIR = os.path.join(os.path.dirname(__file__), 'cases')


def _load_cases(name):
    with open(os.path.join(CASES_DIR, name), encoding='utf-8') as case_file:
        return yaml.safe_load(case_file)


AWS_GCP_LAYOUTS = _load_cases('aws_gcp_layouts.yml')
AZURE_APIPA_MAPPING = _load_cases('azure_apipa_mapping.yml')


def _raises_plan_error(message_start, function, *args, **kwargs):
    with pytest.raises(PlanError) as raised:
        function(*args, **kwargs)
    assert str(raised.value).startswith(message_start), str(raised.value)
    return raised.value


# ---------------------------------------------------------------------------------------------
# Inside CIDR rules
# ---------------------------------------------------------------------------------------------

def test_reserved_inside_cidrs_are_exactly_facts_list():
    assert RESERVED_INSIDE_CIDRS == (
        '169.254.0.0/30', '169.254.1.0/30', '169.254.2.0/30', '169.254.3.0/30', '169.254.4.0/30', '169.254.5.0/30', '169.254.169.252/30',
    )


@pytest.mark.parametrize('cidr', RESERVED_INSIDE_CIDRS)
def test_reserved_inside_cidr_refused(cidr):
    error = _raises_plan_error('inside_cidrs[2]: %s is reserved by AWS' % cidr, validate_inside_cidr, cidr, 'inside_cidrs[2]')
    assert error.variable == 'inside_cidrs[2]'


@pytest.mark.parametrize('cidr', ['169.254.0.4/30', '169.254.5.4/30', '169.254.6.0/30', '169.254.169.248/30', '169.254.255.252/30'])
def test_neighbours_of_reserved_accepted(cidr):
    assert validate_inside_cidr(cidr, 'inside_cidrs[0]') == cidr


@pytest.mark.parametrize('cidr, message_start', [
    ('169.254.10.1/30', 'v: 169.254.10.1/30 is not the network address of its /30 (did you mean 169.254.10.0/30?)'),
    ('169.254.10.0/29', 'v: 169.254.10.0/29 must be a /30'),
    ('169.254.10.0/31', 'v: 169.254.10.0/31 must be a /30'),
    ('10.0.0.0/30', 'v: 10.0.0.0/30 is outside 169.254.0.0/16'),
    ('169.254.10.0', "v: '169.254.10.0' is not an IPv4 CIDR"),
    ('not-a-cidr/30', "v: 'not-a-cidr/30' is not an IPv4 CIDR"),
    ('fd00::/126', 'v: fd00::/126 is not an IPv4 CIDR'),
    (None, 'v: None is not an IPv4 CIDR'),
    (30, 'v: 30 is not an IPv4 CIDR'),
])
def test_invalid_inside_cidr(cidr, message_start):
    _raises_plan_error(message_start, validate_inside_cidr, cidr, 'v')


@pytest.mark.parametrize('cidr, accepted', [
    ('169.254.21.0/30', True),
    ('169.254.22.252/30', True),
    ('169.254.20.252/30', False),
    ('169.254.23.0/30', False),
    ('169.254.10.0/30', False),
])
def test_azure_apipa_range(cidr, accepted):
    assert AZURE_APIPA_RANGE == ('169.254.21.0', '169.254.22.255')
    if accepted:
        assert validate_inside_cidr(cidr, 'v', azure=True) == cidr
    else:
        _raises_plan_error("v: %s is outside Azure's APIPA range 169.254.21.0-169.254.22.255" % cidr, validate_inside_cidr, cidr, 'v', azure=True)


def test_inside_cidr_is_normalised():
    assert validate_inside_cidr(' 169.254.10.0/30 ', 'v') == '169.254.10.0/30'


@pytest.mark.parametrize('cidr, expected', [
    ('169.254.10.0/30', ('169.254.10.1', '169.254.10.2')),
    ('169.254.21.4/30', ('169.254.21.5', '169.254.21.6')),
    ('169.254.255.252/30', ('169.254.255.253', '169.254.255.254')),
])
def test_tunnel_addresses(cidr, expected):
    assert tunnel_addresses(cidr) == expected


# ---------------------------------------------------------------------------------------------
# Allocator (examples; properties live in test_plan_properties.py)
# ---------------------------------------------------------------------------------------------

def test_allocate_lowest_free_skipping_reserved_and_taken():
    assert allocate_inside_cidrs(3, pool='169.254.0.0/28') == ['169.254.0.4/30', '169.254.0.8/30', '169.254.0.12/30']
    assert allocate_inside_cidrs(1, pool='169.254.169.248/29') == ['169.254.169.248/30']
    assert allocate_inside_cidrs(3, taken=['169.254.0.8/30']) == ['169.254.0.4/30', '169.254.0.12/30', '169.254.0.16/30']


def test_allocate_keeps_requested_and_fills_gaps():
    assert allocate_inside_cidrs(3, requested=[None, '169.254.0.4/30', None]) == ['169.254.0.8/30', '169.254.0.4/30', '169.254.0.12/30']


def test_allocate_zero():
    assert not allocate_inside_cidrs(0)


def test_allocate_in_small_pool_until_exhausted():
    assert allocate_inside_cidrs(1, pool='169.254.0.0/29') == ['169.254.0.4/30']
    _raises_plan_error('inside_cidrs[1]: no free /30 left in 169.254.0.0/29', allocate_inside_cidrs, 2, pool='169.254.0.0/29')


def test_allocate_azure_defaults_to_apipa_range():
    assert allocate_inside_cidrs(2, azure=True) == ['169.254.21.0/30', '169.254.21.4/30']


@pytest.mark.parametrize('kwargs, message_start', [
    ({'count': 2, 'requested': ['169.254.10.0/30']}, 'inside_cidrs: expected 2 entries, got 1'),
    ({'count': 2, 'requested': '169.254.10.0/30'}, 'inside_cidrs: must be a list'),
    ({'count': -1}, 'inside_cidrs: the number of inside CIDRs must be a non-negative integer'),
    ({'count': 2, 'requested': ['169.254.10.0/30', '169.254.10.0/30']}, 'inside_cidrs[1]: 169.254.10.0/30 overlaps inside_cidrs[0]'),
    ({'count': 1, 'requested': ['169.254.10.4/30'], 'taken': ['169.254.10.0/29']},
     'inside_cidrs[0]: 169.254.10.4/30 overlaps 169.254.10.0/29, already used by another VPN connection'),
    ({'count': 1, 'requested': ['169.254.1.0/30']}, 'inside_cidrs[0]: 169.254.1.0/30 is reserved by AWS'),
    ({'count': 1, 'pool': '10.0.0.0/16'}, 'pool: 10.0.0.0/16 is outside 169.254.0.0/16'),
    ({'count': 1, 'pool': '169.254.10.0/31'}, 'pool: 169.254.10.0/31 is smaller than one /30'),
    ({'count': 1, 'pool': '169.254.0.0/16', 'azure': True}, "pool: 169.254.0.0/16 is outside Azure's APIPA range"),
    ({'count': 1, 'taken': ['bogus']}, "taken[0]: 'bogus' is not an IPv4 CIDR"),
    ({'count': 1, 'variable': 'gcp_inside_cidrs', 'requested': ['169.254.169.252/30']}, 'gcp_inside_cidrs[0]: 169.254.169.252/30 is reserved'),
])
def test_allocate_refusals(kwargs, message_start):
    count = kwargs.pop('count')
    _raises_plan_error(message_start, allocate_inside_cidrs, count, **kwargs)


def test_allocate_ignores_ipv6_taken():
    assert allocate_inside_cidrs(1, taken=['fd00::/126']) == ['169.254.0.4/30']


# ---------------------------------------------------------------------------------------------
# AWS <-> GCP
# ---------------------------------------------------------------------------------------------

def _gcp_plan(tunnels, **kwargs):
    kwargs.setdefault('amazon_asn', 64512)
    kwargs.setdefault('gcp_asn', 65000)
    return plan_aws_gcp(tunnels=tunnels, **kwargs)


@pytest.mark.parametrize('row', AWS_GCP_LAYOUTS, ids=lambda row: '%d-tunnels' % row['tunnels'])
def test_aws_gcp_layout_matches_mission_table(row):
    plan = _gcp_plan(row['tunnels'])
    assert plan['redundancy_type'] == row['redundancy_type']
    assert len(plan['connections']) == row['aws_connections']
    assert plan['customer_gateways'] == [{'index': index, 'ha_interface': index, 'bgp_asn': 65000} for index in range(row['aws_connections'])]
    used = sorted((tunnel for tunnel in plan['tunnels'] if tunnel['used']), key=lambda tunnel: tunnel['external_interface'])
    assert [
        {'external_interface': tunnel['external_interface'], 'connection': tunnel['connection'] + 1,
         'aws_tunnel': tunnel['aws_tunnel'], 'ha_interface': tunnel['ha_interface']}
        for tunnel in used
    ] == row['interfaces']
    for connection in plan['connections']:
        assert connection['customer_gateway'] == connection['index']
        assert connection['tunnels_used'] == sorted(entry['aws_tunnel'] for entry in row['interfaces'] if entry['connection'] == connection['index'] + 1)
    # A connection's tunnels end on the HA interface whose IP is its customer gateway.
    for tunnel in used:
        assert tunnel['ha_interface'] == plan['customer_gateways'][tunnel['connection']]['ha_interface']


@pytest.mark.parametrize('tunnels, unused', [(1, ['c0-t2']), (2, ['c0-t2', 'c1-t2']), (4, [])])
def test_aws_gcp_unused_aws_tunnels_still_get_inside_cidr(tunnels, unused):
    plan = _gcp_plan(tunnels)
    assert len(plan['tunnels']) == 2 * len(plan['connections'])
    assert [tunnel['name_suffix'] for tunnel in plan['tunnels'] if not tunnel['used']] == unused
    for tunnel in plan['tunnels']:
        if not tunnel['used']:
            assert tunnel['external_interface'] is None and tunnel['ha_interface'] is None
    cidrs = [tunnel['inside_cidr'] for tunnel in plan['tunnels']]
    assert len(set(cidrs)) == len(cidrs)


def test_aws_gcp_addresses_and_asns():
    plan = _gcp_plan(4, amazon_asn=64513, gcp_asn=4200000001)
    assert [tunnel['inside_cidr'] for tunnel in plan['tunnels']] == ['169.254.0.4/30', '169.254.0.8/30', '169.254.0.12/30', '169.254.0.16/30']
    first = plan['tunnels'][0]
    assert (first['aws_inside_ip'], first['gcp_inside_ip'], first['gcp_router_ip_range']) == ('169.254.0.5', '169.254.0.6', '169.254.0.6/30')
    assert all((tunnel['amazon_asn'], tunnel['gcp_asn']) == (64513, 4200000001) for tunnel in plan['tunnels'])
    assert (plan['amazon_asn'], plan['gcp_asn'], plan['tunnel_count']) == (64513, 4200000001, 4)


def test_aws_gcp_inventory_inside_cidrs_follow_external_interfaces():
    plan = _gcp_plan(4, inside_cidrs=['169.254.10.0/30', None, '169.254.10.8/30', '169.254.10.12/30'])
    by_interface = {tunnel['external_interface']: tunnel['inside_cidr'] for tunnel in plan['tunnels']}
    assert by_interface[0] == '169.254.10.0/30'
    assert by_interface[2] == '169.254.10.8/30'
    assert by_interface[3] == '169.254.10.12/30'
    assert by_interface[1] == '169.254.0.4/30'


def test_aws_gcp_two_tunnel_inventory_maps_to_tunnel_1_of_each_connection():
    plan = _gcp_plan(2, inside_cidrs=['169.254.10.0/30', '169.254.10.4/30'])
    used = {(tunnel['connection'], tunnel['aws_tunnel']): tunnel['inside_cidr'] for tunnel in plan['tunnels'] if tunnel['used']}
    assert used == {(0, 1): '169.254.10.0/30', (1, 1): '169.254.10.4/30'}


def test_aws_gcp_pool_and_taken():
    plan = _gcp_plan(1, pool='169.254.100.0/24', taken=['169.254.100.0/30'])
    assert [tunnel['inside_cidr'] for tunnel in plan['tunnels']] == ['169.254.100.4/30', '169.254.100.8/30']


def test_aws_gcp_rerun_keeps_existing_inside_cidrs():
    first = _gcp_plan(2, taken=['169.254.0.4/30'])
    existing = {(tunnel['connection'], tunnel['aws_tunnel']): tunnel['inside_cidr'] for tunnel in first['tunnels']}
    # The other connection is gone: without `existing` the allocator would now start at .0.4.
    assert _gcp_plan(2)['tunnels'][0]['inside_cidr'] == '169.254.0.4/30'
    again = _gcp_plan(2, existing=existing)
    assert [tunnel['inside_cidr'] for tunnel in again['tunnels']] == [tunnel['inside_cidr'] for tunnel in first['tunnels']]


def test_aws_gcp_is_deterministic():
    assert _gcp_plan(4, taken=['169.254.0.8/30']) == _gcp_plan(4, taken=['169.254.0.8/30'])


@pytest.mark.parametrize('kwargs, message_start', [
    ({'tunnels': 3}, 'tunnels: must be 1, 2 or 4 (got 3)'),
    ({'tunnels': True}, 'tunnels: must be 1, 2 or 4 (got True)'),
    ({'tunnels': '4'}, "tunnels: must be 1, 2 or 4 (got '4')"),
    ({'amazon_asn': 7224}, 'amazon_asn: 7224 is not a private ASN (64512-65534 or 4200000000-4294967294)'),
    ({'amazon_asn': 65535}, 'amazon_asn: 65535 is not a private ASN'),
    ({'gcp_asn': 4294967295}, 'gcp_asn: 4294967295 is not a private ASN'),
    ({'gcp_asn': 'sixty'}, "gcp_asn: must be an integer ASN (got 'sixty')"),
    ({'gcp_asn': 64512}, 'gcp_asn: must differ from amazon_asn (both are 64512)'),
    ({'inside_cidrs': ['169.254.10.0/30']}, 'inside_cidrs: expected 4 entries (one per tunnel), got 1'),
    ({'inside_cidrs': ['169.254.10.0/30', '169.254.1.0/30', None, None]}, 'inside_cidrs[1]: 169.254.1.0/30 is reserved by AWS'),
    ({'inside_cidrs': [None, None, '169.254.10.0/30', '169.254.10.0/30']}, 'inside_cidrs[3]: 169.254.10.0/30 overlaps inside_cidrs[2]'),
    ({'inside_cidrs': ['169.254.10.0/30', None, None, None], 'taken': ['169.254.10.0/30']}, 'inside_cidrs[0]: 169.254.10.0/30 overlaps'),
    ({'pool': '192.168.0.0/24'}, 'pool: 192.168.0.0/24 is outside 169.254.0.0/16'),
    ({'pool': '169.254.0.0/29'}, 'inside_cidrs[1]: no free /30 left in 169.254.0.0/29'),
])
def test_aws_gcp_refusals(kwargs, message_start):
    kwargs.setdefault('tunnels', 4)
    _raises_plan_error(message_start, _gcp_plan, **kwargs)


def test_aws_gcp_accepts_asn_as_digit_string():
    assert _gcp_plan(1, amazon_asn='64512', gcp_asn='65000')['amazon_asn'] == 64512


# ---------------------------------------------------------------------------------------------
# AWS <-> Azure
# ---------------------------------------------------------------------------------------------

def test_aws_azure_bgp_matches_microsoft_mapping():
    plan = plan_aws_azure(mode='bgp', amazon_asn=64512)
    rows = [
        {'azure_instance': tunnel['azure_instance'], 'aws_tunnel': tunnel['aws_tunnel'], 'azure_apipa_ip': tunnel['azure_apipa_ip'],
         'aws_inside_ip': tunnel['aws_inside_ip'], 'inside_cidr': tunnel['inside_cidr']}
        for tunnel in plan['tunnels']
    ]
    assert rows == AZURE_APIPA_MAPPING
    assert all(tunnel['used'] for tunnel in plan['tunnels'])
    assert plan['azure_gateway_apipa'] == {0: ['169.254.21.2', '169.254.22.2'], 1: ['169.254.21.6', '169.254.22.6']}
    assert plan['customer_gateways'] == [{'index': 0, 'azure_instance': 0, 'bgp_asn': 65515}, {'index': 1, 'azure_instance': 1, 'bgp_asn': 65515}]
    assert [connection['tunnels_used'] for connection in plan['connections']] == [[1, 2], [1, 2]]
    assert not any(connection['static_routes_only'] for connection in plan['connections'])
    assert (plan['mode'], plan['amazon_asn'], plan['azure_asn']) == ('bgp', 64512, 65515)


def test_aws_azure_static_uses_tunnel_1_of_each_connection():
    plan = plan_aws_azure(mode='static', amazon_asn=64512)
    assert [(tunnel['connection'], tunnel['aws_tunnel']) for tunnel in plan['tunnels'] if tunnel['used']] == [(0, 1), (1, 1)]
    assert all(connection['static_routes_only'] and connection['tunnels_used'] == [1] for connection in plan['connections'])
    assert plan['azure_gateway_apipa'] == {0: [], 1: []}
    assert all(tunnel['azure_apipa_ip'] is None for tunnel in plan['tunnels'])
    # Same inside CIDRs as BGP mode: switching modes later does not replace the tunnels.
    bgp = plan_aws_azure(mode='bgp', amazon_asn=64512)
    assert [tunnel['inside_cidr'] for tunnel in plan['tunnels']] == [tunnel['inside_cidr'] for tunnel in bgp['tunnels']]


def test_aws_azure_static_accepts_any_valid_inside_cidr():
    plan = plan_aws_azure(mode='static', amazon_asn=64512, inside_cidrs=['169.254.10.0/30', None])
    assert plan['tunnels'][0]['inside_cidr'] == '169.254.10.0/30'


def test_aws_azure_documented_cidr_taken_elsewhere_falls_back_inside_apipa():
    plan = plan_aws_azure(mode='bgp', amazon_asn=64512, taken=['169.254.21.0/30'])
    assert [tunnel['inside_cidr'] for tunnel in plan['tunnels']] == ['169.254.21.8/30', '169.254.22.0/30', '169.254.21.4/30', '169.254.22.4/30']
    assert plan['azure_gateway_apipa'][0] == ['169.254.21.10', '169.254.22.2']


def test_aws_azure_existing_wins_over_documented():
    existing = {(0, 1): '169.254.21.16/30'}
    plan = plan_aws_azure(mode='bgp', amazon_asn=64512, existing=existing)
    assert plan['tunnels'][0]['inside_cidr'] == '169.254.21.16/30'


@pytest.mark.parametrize('asn', [0, 8074, 8075, 12076, 23456, 64496, 64511, 65517, 65518, 65519, 65520, 65535, 65551, 4294967295])
def test_azure_reserved_asns_refused(asn):
    _raises_plan_error('azure_asn: %d is reserved by Azure or IANA' % asn, plan_aws_azure, mode='bgp', amazon_asn=64512, azure_asn=asn)


@pytest.mark.parametrize('asn', [1, 65000, 65515, 65516, 65521, 65534, 65552, 4200000000, 4294967294])
def test_azure_asns_accepted(asn):
    assert plan_aws_azure(mode='bgp', amazon_asn=64512, azure_asn=asn)['azure_asn'] == asn


@pytest.mark.parametrize('kwargs, message_start', [
    ({'mode': 'dynamic'}, "mode: must be static or bgp (got 'dynamic')"),
    ({'amazon_asn': 65515}, 'azure_asn: must differ from amazon_asn (both are 65515)'),
    ({'amazon_asn': 100}, 'amazon_asn: 100 is not a private ASN'),
    ({'inside_cidrs': ['169.254.21.0/30']}, 'inside_cidrs: expected 4 entries (one per used tunnel), got 1'),
    ({'inside_cidrs': [None, None, '169.254.10.0/30', None]}, "inside_cidrs[2]: 169.254.10.0/30 is outside Azure's APIPA range"),
    ({'inside_cidrs': [None, '169.254.21.0/30', None, None], 'taken': ['169.254.21.0/30']}, 'inside_cidrs[1]: 169.254.21.0/30 overlaps'),
    ({'mode': 'static', 'inside_cidrs': [None, None, None, None]}, 'inside_cidrs: expected 2 entries (one per used tunnel), got 4'),
])
def test_aws_azure_refusals(kwargs, message_start):
    kwargs.setdefault('mode', 'bgp')
    kwargs.setdefault('amazon_asn', 64512)
    _raises_plan_error(message_start, plan_aws_azure, **kwargs)

# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import copy
import json
import os

import pytest

from ansible_collections.multicloud.vpn.plugins.module_utils import _ipsec, _vyos
from ansible_collections.multicloud.vpn.plugins.module_utils._aws_config import parse_vpn_connection
from ansible_collections.multicloud.vpn.plugins.module_utils._vyos import (
    MASK,
    VyosRenderError,
    mask_commands,
    mask_secret_lines,
    render_vyos_commands,
)

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')
BATFISH_KEYS = ('QMP5tKPP5qk95Y1Eee9c_82.MofNUJQV', 'tYrysT4iT0.CRwQnhiBbng.BahDc7YPq')
NETBRAIN_KEYS = ('xlk6lMNzd4CNRP8YUX4PlRLVL4pV1FWS', 'KMA_6TXDeJzOJAnrn6gnMEtCO0jbE655')


def read_fixture(*names):
    with open(os.path.join(FIXTURES, *names), encoding='utf-8') as handle:
        return handle.read()


def batfish_connection():
    vpn_connection = json.loads(read_fixture('aws_cgw', 'batfish_VpnConnectionWithTunnelOptions.json'))['VpnConnections'][0]
    return parse_vpn_connection(vpn_connection=vpn_connection)


def batfish_xml_only_connection():
    vpn_connection = json.loads(read_fixture('aws_cgw', 'batfish_VpnConnectionWithTunnelOptions.json'))['VpnConnections'][0]
    return parse_vpn_connection(customer_gateway_configuration=vpn_connection['CustomerGatewayConfiguration'])


def netbrain_connection():
    return parse_vpn_connection(read_fixture('aws_cgw', 'netbrain_vpn_conn1.xml'))


GOLDEN_CASES = [
    ('batfish_describe_nat_current.txt', batfish_connection, dict(local_address='192.168.1.10', networks=['10.20.0.0/16'])),
    ('batfish_describe_nat_legacy.txt', batfish_connection, dict(local_address='192.168.1.10', networks=['10.20.0.0/16'], syntax='legacy')),
    ('netbrain_conn1_xml_no_nat_current.txt', netbrain_connection, dict(local_address='3.15.245.169', networks=['10.30.0.0/16'])),
    ('netbrain_conn1_xml_no_nat_legacy.txt', netbrain_connection, dict(local_address='3.15.245.169', networks=['10.30.0.0/16'], syntax='legacy')),
]


@pytest.mark.parametrize('golden, connection, router', GOLDEN_CASES, ids=[case[0] for case in GOLDEN_CASES])
def test_rendered_commands_equal_golden(golden, connection, router):
    assert render_vyos_commands(connection(), **router) == read_fixture('vyos_golden', golden).splitlines()


def lines_with(commands, fragment):
    return [command for command in commands if fragment in command]


def test_nat_fix_only_when_private_and_public_addresses_differ():
    behind_nat = render_vyos_commands(batfish_connection(), local_address='192.168.1.10')
    assert lines_with(behind_nat, 'authentication local-id') == [
        "set vpn ipsec site-to-site peer aws-52-27-166-152 authentication local-id '147.75.69.27'",
        "set vpn ipsec site-to-site peer aws-52-39-121-126 authentication local-id '147.75.69.27'",
    ]
    assert len(lines_with(behind_nat, "local-address '192.168.1.10'")) == 2
    assert lines_with(behind_nat, "local-address '147.75.69.27'") == []

    direct = render_vyos_commands(batfish_connection(), local_address='147.75.69.27')
    assert lines_with(direct, 'local-id') == []
    assert len(lines_with(direct, "local-address '147.75.69.27'")) == 2
    assert lines_with(direct, "psk aws-52-27-166-152 id '147.75.69.27'") == ["set vpn ipsec authentication psk aws-52-27-166-152 id '147.75.69.27'"]

    legacy_nat = render_vyos_commands(batfish_connection(), local_address='192.168.1.10', syntax='legacy')
    assert lines_with(legacy_nat, 'authentication id') == [
        "set vpn ipsec site-to-site peer 52.27.166.152 authentication id '147.75.69.27'",
        "set vpn ipsec site-to-site peer 52.39.121.126 authentication id '147.75.69.27'",
    ]
    legacy_direct = render_vyos_commands(batfish_connection(), local_address='147.75.69.27', public_address='147.75.69.27', syntax='legacy')
    assert lines_with(legacy_direct, 'authentication id') == []


def test_describe_options_win_in_the_rendered_groups():
    described = render_vyos_commands(batfish_connection(), local_address='192.168.1.10')
    defaults = render_vyos_commands(batfish_xml_only_connection(), local_address='192.168.1.10')
    assert lines_with(described, "esp-group aws-52-39-121-126 proposal 1 encryption") == [
        "set vpn ipsec esp-group aws-52-39-121-126 proposal 1 encryption 'aes128gcm128'"]
    assert lines_with(described, "ike-group aws-52-39-121-126 proposal 1 dh-group") == ["set vpn ipsec ike-group aws-52-39-121-126 proposal 1 dh-group '23'"]
    assert lines_with(defaults, 'sha512') == [] and lines_with(defaults, 'gcm') == []
    # Same options on both tunnels: one shared group per phase, named after the connection.
    assert sorted({line.split()[4] for line in lines_with(defaults, 'ike-group ') if line.startswith('set vpn ipsec ike-group')}) == ['aws-vpn-ba2e34a8']
    assert sorted({line.split()[4] for line in lines_with(described, 'set vpn ipsec ike-group')}) == ['aws-52-27-166-152', 'aws-52-39-121-126']


def test_ikev2_is_used_when_the_tunnel_allows_it():
    connection = netbrain_connection()
    connection['tunnels'][0]['ike']['versions'] = ['ikev1', 'ikev2']
    commands = render_vyos_commands(connection, local_address='3.15.245.169')
    assert lines_with(commands, 'key-exchange') == [
        "set vpn ipsec ike-group aws-3-18-239-122 key-exchange 'ikev2'",
        "set vpn ipsec ike-group aws-52-15-217-142 key-exchange 'ikev1'",
    ]


def test_gcm_only_ike_gets_an_explicit_prf_in_current_syntax():
    connection = netbrain_connection()
    for tunnel in connection['tunnels']:
        tunnel['ike'].update(versions=['ikev2'], encryption=['AES256-GCM-16'], integrity=['SHA2-256', 'SHA1'], dh_groups=[14, 19])
    current = render_vyos_commands(connection, local_address='3.15.245.169')
    assert lines_with(current, 'set vpn ipsec ike-group aws-vpn-xxxxxxxxxxxxxxxxx proposal 1') == [
        "set vpn ipsec ike-group aws-vpn-xxxxxxxxxxxxxxxxx proposal 1 dh-group '19'",
        "set vpn ipsec ike-group aws-vpn-xxxxxxxxxxxxxxxxx proposal 1 encryption 'aes256gcm128'",
        "set vpn ipsec ike-group aws-vpn-xxxxxxxxxxxxxxxxx proposal 1 hash 'sha256'",
        "set vpn ipsec ike-group aws-vpn-xxxxxxxxxxxxxxxxx proposal 1 prf 'prfsha256'",
    ]
    assert lines_with(render_vyos_commands(connection, local_address='3.15.245.169', syntax='legacy'), ' prf ') == []


def test_vti_numbering_follows_aws_tunnel_index_not_list_position():
    connection = netbrain_connection()
    swapped = copy.deepcopy(connection)
    for tunnel in swapped['tunnels']:
        tunnel['index'] = 3 - tunnel['index']
    commands = render_vyos_commands(swapped, local_address='3.15.245.169', vti_base_index=10, mtu=1400)
    assert lines_with(commands, 'vti bind') == [
        "set vpn ipsec site-to-site peer aws-3-18-239-122 vti bind 'vti11'",
        "set vpn ipsec site-to-site peer aws-52-15-217-142 vti bind 'vti10'",
    ]
    assert lines_with(commands, "vti11 address") == ["set interfaces vti vti11 address '169.254.225.10/30'"]
    assert len(lines_with(commands, "mtu '1400'")) == 2


def test_bgp_asn_override_and_networks():
    commands = render_vyos_commands(netbrain_connection(), local_address='3.15.245.169', bgp_asn=65010, networks=['10.0.0.0/16', '10.1.0.0/24'])
    assert lines_with(commands, 'protocols bgp system-as') == ["set protocols bgp system-as '65010'"]
    assert lines_with(commands, 'ipv4-unicast network') == [
        "set protocols bgp address-family ipv4-unicast network '10.0.0.0/16'",
        "set protocols bgp address-family ipv4-unicast network '10.1.0.0/24'",
    ]
    legacy = render_vyos_commands(netbrain_connection(), local_address='3.15.245.169', bgp_asn=65010, syntax='legacy')
    assert len(lines_with(legacy, 'set protocols bgp 65010 neighbor')) == 8


def test_static_routing_renders_no_bgp_and_refuses_bgp_inputs():
    connection = netbrain_connection()
    connection['static_routes_only'] = True
    commands = render_vyos_commands(connection, local_address='3.15.245.169')
    assert lines_with(commands, 'protocols bgp') == []
    assert len(lines_with(commands, 'vti bind')) == 2
    with pytest.raises(VyosRenderError, match='static routing'):
        render_vyos_commands(connection, local_address='3.15.245.169', networks=['10.0.0.0/16'])


@pytest.mark.parametrize('syntax, secret_prefix', [
    ('current', 'set vpn ipsec authentication psk aws-'),
    ('legacy', 'set vpn ipsec site-to-site peer '),
])
def test_masking_replaces_only_the_keys(syntax, secret_prefix):
    connection = batfish_connection()
    commands = render_vyos_commands(connection, local_address='192.168.1.10', syntax=syntax)
    masked, secrets = mask_commands(commands, connection)
    assert sorted(secrets) == sorted(BATFISH_KEYS)
    assert not any(key in line for line in masked for key in BATFISH_KEYS)
    changed = [(before, after) for before, after in zip(commands, masked) if before != after]
    assert len(changed) == 2 and len(masked) == len(commands)
    for before, after in changed:
        assert after.startswith(secret_prefix) and after.endswith("'%s'" % MASK)
        assert before.rsplit(' ', 1)[0] == after.rsplit(' ', 1)[0]
    assert mask_secret_lines('\n'.join(commands)) == '\n'.join(masked)


def test_masking_catches_a_key_outside_the_secret_lines():
    connection = netbrain_connection()
    masked, _secrets = mask_commands(["set interfaces vti vti9 description 'xlk6lMNzd4CNRP8YUX4PlRLVL4pV1FWS'"], connection)
    assert masked == ["set interfaces vti vti9 description '%s'" % MASK]


@pytest.mark.parametrize('router, message', [
    (dict(local_address='not-an-ip'), "local_address 'not-an-ip' is not an IP address"),
    (dict(local_address='192.168.1.10', public_address='203.0.113.9'), 'public_address 203.0.113.9 is not the customer gateway address AWS expects'),
    (dict(local_address='192.168.1.10', networks=['10.1.2.3/16']), "has host bits set; did you mean 10.1.0.0/16?"),
    (dict(local_address='192.168.1.10', networks=['2001:db8::/32']), 'is not IPv4'),
    (dict(local_address='192.168.1.10', syntax='vyatta'), 'syntax must be one of current, legacy'),
    (dict(local_address='192.168.1.10', interface="eth0' ; delete"), 'is not an interface name'),
    (dict(local_address='192.168.1.10', mtu=20), 'mtu 20 is outside 68-16000'),
    (dict(local_address='192.168.1.10', bgp_asn=0), 'bgp_asn 0 is outside 1-4294967294'),
    (dict(local_address='2001:db8::1'), 'different IP versions'),
])
def test_bad_router_facts_give_a_clear_error(router, message):
    with pytest.raises(VyosRenderError) as error:
        render_vyos_commands(batfish_connection(), **router)
    assert message in str(error.value)


def test_a_key_that_would_break_quoting_is_refused():
    connection = netbrain_connection()
    connection['tunnels'][0]['psk'] = "abc'def\nset system login"
    with pytest.raises(VyosRenderError, match='cannot be quoted safely'):
        render_vyos_commands(connection, local_address='3.15.245.169')


def test_vendor_names_come_from_the_ipsec_tables_only():
    # One table of VyOS names in the collection: _vyos holds preference orders, never its own names.
    assert _vyos.VYOS_ENCRYPTION is _ipsec.VYOS_ENCRYPTION
    assert _vyos.VYOS_HASH is _ipsec.VYOS_HASH
    assert _vyos.VYOS_PRF is _ipsec.VYOS_PRF
    assert _vyos.VYOS_DH_GROUPS is _ipsec.VYOS_DH_GROUPS
    # Every value _ipsec can name has a place in the selection policy (a new algorithm there must be ranked here).
    assert sorted(_vyos.ENCRYPTION_PREFERENCE) == sorted(_ipsec.VYOS_ENCRYPTION)
    assert sorted(_vyos.INTEGRITY_PREFERENCE) == sorted(_ipsec.VYOS_HASH) == sorted(_ipsec.VYOS_PRF)
    assert sorted(_vyos.DH_GROUP_PREFERENCE) == sorted(_ipsec.VYOS_DH_GROUPS)


def test_a_renamed_vyos_algorithm_in_ipsec_reaches_the_rendered_commands(monkeypatch):
    monkeypatch.setitem(_ipsec.VYOS_HASH, 'SHA1', 'sha1_160')
    commands = render_vyos_commands(netbrain_connection(), local_address='3.15.245.169')
    assert lines_with(commands, ' hash ') == [
        "set vpn ipsec ike-group aws-vpn-xxxxxxxxxxxxxxxxx proposal 1 hash 'sha1_160'",
        "set vpn ipsec esp-group aws-vpn-xxxxxxxxxxxxxxxxx proposal 1 hash 'sha1_160'",
    ]


def test_a_group_the_ipsec_table_lacks_is_never_chosen(monkeypatch):
    connection = netbrain_connection()
    for tunnel in connection['tunnels']:
        tunnel['ike']['dh_groups'] = [21, 14]
    assert lines_with(render_vyos_commands(connection, local_address='3.15.245.169'), 'proposal 1 dh-group') == [
        "set vpn ipsec ike-group aws-vpn-xxxxxxxxxxxxxxxxx proposal 1 dh-group '21'"]
    monkeypatch.setattr(_vyos, 'VYOS_DH_GROUPS', tuple(group for group in _ipsec.VYOS_DH_GROUPS if group != 21))
    assert lines_with(render_vyos_commands(connection, local_address='3.15.245.169'), 'proposal 1 dh-group') == [
        "set vpn ipsec ike-group aws-vpn-xxxxxxxxxxxxxxxxx proposal 1 dh-group '14'"]


def test_pfs_names_are_shared_with_ipsec():
    assert _ipsec.vyos_pfs_name(14) == 'dh-group14'
    with pytest.raises(_ipsec.ProfileError, match='no equivalent of DH group 35'):
        _ipsec.vyos_pfs_name(35)

# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import os
import stat

import pytest


from ansible_collections.multicloud.vpn.plugins.modules import vyos_from_aws_config
from ansible_collections.multicloud.vpn.tests.unit.plugins.modules.module_runner import run_module as _run_module

FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'module_utils', 'fixtures')
NETBRAIN_KEYS = ('xlk6lMNzd4CNRP8YUX4PlRLVL4pV1FWS', 'KMA_6TXDeJzOJAnrn6gnMEtCO0jbE655')
BATFISH_KEYS = ('QMP5tKPP5qk95Y1Eee9c_82.MofNUJQV', 'tYrysT4iT0.CRwQnhiBbng.BahDc7YPq')


def read_fixture(*names):
    with open(os.path.join(FIXTURES, *names), encoding='utf-8') as handle:
        return handle.read()


def run_module(capsys, args, check_mode=False, diff=False):
    return _run_module(capsys, vyos_from_aws_config, args, check_mode, diff)


def netbrain_args(**extra):
    args = dict(customer_gateway_configuration=read_fixture('aws_cgw', 'netbrain_vpn_conn1.xml'), local_address='3.15.245.169',
                networks=['10.30.0.0/16'])
    args.update(extra)
    return args


def test_commands_and_tunnels_are_returned_with_keys_masked(capsys):
    result, raw_output = run_module(capsys, netbrain_args())
    assert not result.get('failed') and result['changed'] is False
    golden = read_fixture('vyos_golden', 'netbrain_conn1_xml_no_nat_current.txt').splitlines()
    assert len(result['commands']) == len(golden)
    assert [line for line in result['commands'] if line not in golden] == [
        "set vpn ipsec authentication psk aws-3-18-239-122 secret '********'",
        "set vpn ipsec authentication psk aws-52-15-217-142 secret '********'",
    ]
    assert [tunnel['outside_ip'] for tunnel in result['tunnels']] == ['3.18.239.122', '52.15.217.142']
    assert [tunnel['psk'] for tunnel in result['tunnels']] == ['********', '********']
    assert result['vpn_connection_id'] == 'vpn-xxxxxxxxxxxxxxxxx' and result['static_routes_only'] is False
    assert not any(key in raw_output for key in NETBRAIN_KEYS)


def test_return_secrets_gives_the_real_commands(capsys):
    result, _raw = run_module(capsys, netbrain_args(return_secrets=True))
    assert result['commands'] == read_fixture('vyos_golden', 'netbrain_conn1_xml_no_nat_current.txt').splitlines()


def test_describe_data_in_camel_case_and_nat(capsys):
    vpn_connection = json.loads(read_fixture('aws_cgw', 'batfish_VpnConnectionWithTunnelOptions.json'))['VpnConnections'][0]
    result, raw_output = run_module(capsys, dict(vpn_connection=vpn_connection, local_address='192.168.1.10', networks=['10.20.0.0/16'],
                                                 syntax='legacy', return_secrets=True))
    assert result['commands'] == read_fixture('vyos_golden', 'batfish_describe_nat_legacy.txt').splitlines()
    assert [tunnel['options_source'] for tunnel in result['tunnels']] == ['describe', 'describe']
    # The keys appear where asked for (commands), never in the parsed tunnels.
    assert all(tunnel['psk'] == '********' for tunnel in result['tunnels'])
    assert all(key in raw_output for key in BATFISH_KEYS)


def test_keys_in_vpn_connection_are_masked_everywhere_by_default(capsys):
    vpn_connection = json.loads(read_fixture('aws_cgw', 'batfish_VpnConnectionWithTunnelOptions.json'))['VpnConnections'][0]
    result, raw_output = run_module(capsys, dict(vpn_connection=vpn_connection, local_address='192.168.1.10'))
    assert not result.get('failed')
    assert not any(key in raw_output for key in BATFISH_KEYS)
    # Addresses are not collateral damage of the masking.
    assert "set vpn ipsec site-to-site peer aws-52-27-166-152 remote-address '52.27.166.152'" in result['commands']


def test_dest_is_written_0600_once_and_then_unchanged(capsys, tmp_path):
    dest = tmp_path / 'router.commands'
    result, raw_output = run_module(capsys, netbrain_args(dest=str(dest)), diff=True)
    assert result['changed'] is True and result['dest'] == str(dest)
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600
    assert dest.read_text() == read_fixture('vyos_golden', 'netbrain_conn1_xml_no_nat_current.txt')
    assert result['diff']['before'] == '' and "secret '********'" in result['diff']['after']
    assert not any(key in raw_output for key in NETBRAIN_KEYS)
    assert os.listdir(tmp_path) == ['router.commands']

    again, _raw = run_module(capsys, netbrain_args(dest=str(dest)))
    assert again['changed'] is False

    changed_networks, _raw = run_module(capsys, netbrain_args(dest=str(dest), networks=['10.31.0.0/16']))
    assert changed_networks['changed'] is True
    assert "network '10.31.0.0/16'" in dest.read_text() and stat.S_IMODE(os.stat(dest).st_mode) == 0o600


def test_dest_with_loose_mode_is_tightened(capsys, tmp_path):
    dest = tmp_path / 'router.commands'
    dest.write_text(read_fixture('vyos_golden', 'netbrain_conn1_xml_no_nat_current.txt'))
    os.chmod(dest, 0o644)
    result, _raw = run_module(capsys, netbrain_args(dest=str(dest)))
    assert result['changed'] is True and stat.S_IMODE(os.stat(dest).st_mode) == 0o600


def test_check_mode_reports_the_change_and_writes_nothing(capsys, tmp_path):
    dest = tmp_path / 'router.commands'
    result, _raw = run_module(capsys, netbrain_args(dest=str(dest)), check_mode=True, diff=True)
    assert result['changed'] is True and not dest.exists()
    assert result['diff']['after'].count("'********'") == 2

    dest.write_text(read_fixture('vyos_golden', 'netbrain_conn1_xml_no_nat_current.txt'))
    os.chmod(dest, 0o600)
    unchanged, _raw = run_module(capsys, netbrain_args(dest=str(dest)), check_mode=True)
    assert unchanged['changed'] is False


def test_different_bgp_asn_warns(capsys, monkeypatch):
    # Capture module.warn directly: where ansible-core routes a warning depends on whether
    # controller code was imported earlier in the test session.
    warnings = []
    monkeypatch.setattr(vyos_from_aws_config.AnsibleModule, 'warn', lambda self, warning: warnings.append(warning))
    result, _raw = run_module(capsys, netbrain_args(bgp_asn=65099))
    assert "set protocols bgp system-as '65099'" in result['commands']
    assert len(warnings) == 1 and 'differs from the customer gateway ASN AWS knows (64513)' in warnings[0]

    warnings.clear()
    run_module(capsys, netbrain_args(bgp_asn=64513))
    assert warnings == []


@pytest.mark.parametrize('args, message', [
    (dict(customer_gateway_configuration='<vpn_connection id="vpn-1"><ipsec_tunnel>', local_address='10.0.0.5'), 'not well-formed XML'),
    ('one_tunnel', 'expected 2 <ipsec_tunnel> elements, found 1'),
    (dict(local_address='not-an-ip'), "local_address 'not-an-ip' is not an IP address"),
    (dict(customer_gateway_configuration=None, local_address='10.0.0.5'), 'one of the following is required'),
])
def test_bad_input_fails_clearly_and_writes_nothing(capsys, tmp_path, args, message):
    dest = tmp_path / 'router.commands'
    if args == 'one_tunnel':
        xml_text = read_fixture('aws_cgw', 'netbrain_vpn_conn1.xml')
        start = xml_text.index('  <ipsec_tunnel>', xml_text.index('</ipsec_tunnel>'))
        args = dict(customer_gateway_configuration=xml_text[:start] + xml_text[xml_text.index('</vpn_connection>'):], local_address='10.0.0.5')
    full_args = netbrain_args(dest=str(dest))
    full_args.update(args)
    if full_args['customer_gateway_configuration'] is None:
        del full_args['customer_gateway_configuration']
    result, _raw = run_module(capsys, full_args)
    assert result['failed'] is True and message in result['msg']
    assert not dest.exists() and os.listdir(tmp_path) == []

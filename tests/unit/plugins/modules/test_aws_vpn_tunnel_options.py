# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import copy

import pytest


from ansible_collections.multicloud.vpn.plugins.module_utils._aws_vpn import Backoff
from ansible_collections.multicloud.vpn.plugins.modules import aws_vpn_tunnel_options as module_under_test
from ansible_collections.multicloud.vpn.tests.unit.plugins.modules.module_runner import run_module as _run_module

botocore_exceptions = pytest.importorskip('botocore.exceptions')

PSK_T1 = 'described.key_one_1'
PSK_T2 = 'described.key_two_2'
NEW_PSK = 'wanted.new_key_3'
IP_T1 = '203.0.113.10'
IP_T2 = '203.0.113.20'
REQUEST_TO_DESCRIBE = {'IKEVersions': 'IkeVersions', 'DPDTimeoutSeconds': 'DpdTimeoutSeconds', 'DPDTimeoutAction': 'DpdTimeoutAction'}


class FakeEc2:
    """DescribeVpnConnections / ModifyVpnTunnelOptions over one connection, with AWS's states over time."""

    def __init__(self, transit: bool = False) -> None:
        self.events: list = []
        self.modifying_polls = 0
        self.connection = {
            'VpnConnectionId': 'vpn-0123', 'State': 'available', 'CustomerGatewayId': 'cgw-1', 'Type': 'ipsec.1',
            'Tags': [{'Key': 'Name', 'Value': 'lab-vpn1'}],
            'Options': {'TunnelInsideIpVersion': 'ipv4', 'TunnelOptions': [
                {'OutsideIpAddress': IP_T1, 'TunnelInsideCidr': '169.254.10.0/30', 'PreSharedKey': PSK_T1},
                {'OutsideIpAddress': IP_T2, 'TunnelInsideCidr': '169.254.10.4/30', 'PreSharedKey': PSK_T2}]},
            'VgwTelemetry': [{'OutsideIpAddress': IP_T2, 'Status': 'UP', 'StatusMessage': '3 BGP ROUTES', 'AcceptedRouteCount': 3},
                             {'OutsideIpAddress': IP_T1, 'Status': 'DOWN', 'StatusMessage': 'IPSEC IS DOWN', 'AcceptedRouteCount': 0}]}
        if transit:
            self.connection['TransitGatewayId'] = 'tgw-1'
        else:
            self.connection['VpnGatewayId'] = 'vgw-1'

    def _state(self) -> str:
        if self.connection['State'] == 'modifying':
            self.modifying_polls += 1
            if self.modifying_polls >= 2:
                self.connection['State'] = 'available'
                return 'modifying'
        return self.connection['State']

    def describe_vpn_connections(self, VpnConnectionIds=None, Filters=None):
        if VpnConnectionIds and VpnConnectionIds != ['vpn-0123']:
            raise botocore_exceptions.ClientError({'Error': {'Code': 'InvalidVpnConnectionID.NotFound', 'Message': 'not found'}},
                                                  'DescribeVpnConnections')
        state = self._state()
        self.events.append(('describe', state))
        if Filters:
            wanted = {item['Name']: item['Values'] for item in Filters}
            tags = {'tag:%s' % tag['Key']: tag['Value'] for tag in self.connection['Tags']}
            if any(tags.get(name) not in values for name, values in wanted.items()):
                return {'VpnConnections': []}
        return {'VpnConnections': [dict(copy.deepcopy(self.connection), State=state)]}

    def modify_vpn_tunnel_options(self, VpnConnectionId, VpnTunnelOutsideIpAddress, TunnelOptions, **extra):
        assert self.connection['State'] == 'available', 'modified while %s' % self.connection['State']
        self.events.append(('modify', VpnTunnelOutsideIpAddress, sorted(TunnelOptions)))
        tunnel = next(item for item in self.connection['Options']['TunnelOptions'] if item['OutsideIpAddress'] == VpnTunnelOutsideIpAddress)
        for key, value in TunnelOptions.items():
            tunnel[REQUEST_TO_DESCRIBE.get(key, key)] = copy.deepcopy(value)
        self.connection['State'] = 'modifying'
        self.modifying_polls = 0
        return {'VpnConnection': copy.deepcopy(self.connection)}

    @property
    def modify_calls(self) -> list:
        return [event for event in self.events if event[0] == 'modify']


@pytest.fixture
def ec2(monkeypatch):
    fake = FakeEc2()
    monkeypatch.setattr(module_under_test, 'ec2_client', lambda params: fake)
    monkeypatch.setattr(module_under_test, 'Backoff', lambda: Backoff(sleep=lambda seconds: None))
    return fake


def run(capsys, check_mode=False, diff=False, **args):
    args = {key: value for key, value in dict({'region': 'us-east-1', 'vpn_connection_id': 'vpn-0123'}, **args).items() if value is not None}
    return _run_module(capsys, module_under_test, args, check_mode, diff)


GCP_SAFE_T1 = [{'outside_ip': IP_T1, 'phase1_encryption_algorithms': ['AES256'], 'phase2_lifetime_seconds': 1800}]


def test_check_mode_reports_exactly_the_would_be_changes(capsys, ec2):
    result, _output = run(capsys, check_mode=True, tunnels=GCP_SAFE_T1)
    assert result['changed'] is True and not ec2.modify_calls
    by_ip = {tunnel['outside_ip']: tunnel for tunnel in result['tunnels']}
    assert by_ip[IP_T1]['changed_options'] == ['phase1_encryption_algorithms', 'phase2_lifetime_seconds']
    assert by_ip[IP_T1]['options']['phase2_lifetime_seconds'] == 1800
    assert by_ip[IP_T2]['changed_options'] == [] and by_ip[IP_T2]['status'] == 'UP'


def test_apply_then_rerun_is_idempotent(capsys, ec2):
    result, _output = run(capsys, tunnels=GCP_SAFE_T1)
    assert result['changed'] is True
    assert ec2.modify_calls == [('modify', IP_T1, ['Phase1EncryptionAlgorithms', 'Phase2LifetimeSeconds'])]
    ec2.events.clear()
    result, _output = run(capsys, tunnels=GCP_SAFE_T1)
    assert result['changed'] is False and not ec2.modify_calls
    assert ec2.events == [('describe', 'available')]  # a no-op run costs one call


def test_only_one_tunnel_is_modified_at_a_time_never_both_down(capsys, ec2):
    result, _output = run(capsys, all_tunnels=True, ipsec_profile='gcp_safe')
    assert result['changed'] is True
    assert [event[1] for event in ec2.modify_calls] == [IP_T1, IP_T2]  # the DOWN tunnel first, the UP one last
    modify_positions = [index for index, event in enumerate(ec2.events) if event[0] == 'modify']
    between = ec2.events[modify_positions[0] + 1:modify_positions[1]]
    assert between[-1] == ('describe', 'available') and ('describe', 'modifying') in between
    assert ec2.events[-1] == ('describe', 'available')


def test_explicit_values_win_over_the_profile_and_lists_compare_as_sets(capsys, ec2):
    tunnels = [{'outside_ip': IP_T2, 'phase1_dh_group_numbers': [20, 14], 'dpd_timeout_action': 'restart'}]
    run(capsys, tunnels=tunnels, ipsec_profile='gcp_safe')
    sent = ec2.connection['Options']['TunnelOptions'][1]
    assert sent['Phase1DHGroupNumbers'] == [{'Value': 20}, {'Value': 14}] and sent['DpdTimeoutAction'] == 'restart'
    assert sent['Phase1EncryptionAlgorithms'] == [{'Value': 'AES256'}]
    ec2.events.clear()
    tunnels[0]['phase1_dh_group_numbers'] = [14, 20]
    result, _output = run(capsys, tunnels=tunnels, ipsec_profile='gcp_safe')
    assert result['changed'] is False and not ec2.modify_calls


def test_pre_shared_keys_never_appear_and_are_compared(capsys, ec2):
    result, output = run(capsys, diff=True, tunnels=[{'outside_ip': IP_T1, 'pre_shared_key': NEW_PSK}, {'outside_ip': IP_T2, 'pre_shared_key': PSK_T2}])
    assert [event[1:] for event in ec2.modify_calls] == [(IP_T1, ['PreSharedKey'])]
    assert ec2.connection['Options']['TunnelOptions'][0]['PreSharedKey'] == NEW_PSK
    for key in (PSK_T1, PSK_T2, NEW_PSK):
        assert key not in output
    assert result['diff']['after'][IP_T1]['pre_shared_key'] == '******** (changed)'
    result, output = run(capsys, tunnels=[{'outside_ip': IP_T1, 'pre_shared_key': NEW_PSK}])
    assert result['changed'] is False and NEW_PSK not in output


@pytest.mark.parametrize('args, message', [
    (dict(tunnels=[{'outside_ip': IP_T1}, {'outside_ip': IP_T2, 'phase2_lifetime_seconds': 4000}]),
     'tunnels[1].phase2_lifetime_seconds: 4000 is outside 900-3600'),
    (dict(tunnels=[{'phase2_lifetime_seconds': 3000}]), 'tunnels[0].outside_ip: required unless all_tunnels is true'),
    (dict(tunnels=[{'outside_ip': 'tunnel-1'}]), "tunnels[0].outside_ip: 'tunnel-1' is not an IP address"),
    (dict(ipsec_profile='gcp_fast', all_tunnels=True), "ipsec_profile.name: unknown profile 'gcp_fast'"),
])
def test_invalid_values_fail_before_any_call(capsys, monkeypatch, args, message):
    monkeypatch.setattr(module_under_test, 'ec2_client', lambda params: pytest.fail('no client before validation'))
    result, _output = run(capsys, **args)
    assert result['failed'] is True and result['msg'].startswith(message)


@pytest.mark.parametrize('args, message', [
    (dict(tunnels=[{'outside_ip': IP_T1, 'dpd_timeout_seconds': 60}, {'outside_ip': '198.51.100.7', 'dpd_timeout_seconds': 60}]),
     'tunnels[1].outside_ip: 198.51.100.7 is not a tunnel of vpn-0123 (its tunnels: 203.0.113.10, 203.0.113.20)'),
    (dict(tunnels=[{'outside_ip': IP_T1, 'tunnel_inside_ipv6_cidr': 'fd00::/126'}]),
     'tunnels[0].tunnel_inside_ipv6_cidr: only VPN connections to a transit gateway take this option; vpn-0123 is attached to virtual private '
     'gateway vgw-1'),
    (dict(vpn_connection_id='vpn-9999', all_tunnels=True, ipsec_profile='gcp_safe'), 'vpn_connection_id: vpn-9999 does not exist'),
    (dict(vpn_connection_id=None, tags={'Name': 'other'}, all_tunnels=True, ipsec_profile='gcp_safe'), 'tags: no live VPN connection matches'),
])
def test_errors_after_describe_fail_before_any_write(capsys, ec2, args, message):
    result, _output = run(capsys, **args)
    assert result['failed'] is True and result['msg'] == message
    assert not ec2.modify_calls


def test_connection_found_by_tags_and_gathered_reads_only(capsys, ec2):
    result, _output = run(capsys, vpn_connection_id=None, tags={'Name': 'lab-vpn1'}, state='gathered')
    assert result['changed'] is False and result['vpn_connection_id'] == 'vpn-0123' and not ec2.modify_calls
    assert [(tunnel['outside_ip'], tunnel['status'], tunnel['accepted_route_count']) for tunnel in result['tunnels']] == [
        (IP_T1, 'DOWN', 0), (IP_T2, 'UP', 3)]


def test_cloudwatch_logging_and_lifecycle_control(capsys, ec2):
    arn = 'arn:aws:logs:us-east-1:111122223333:log-group:vpn'
    tunnels = [{'outside_ip': IP_T2, 'log_options': {'cloudwatch': {'log_enabled': True, 'log_group_arn': arn, 'log_output_format': 'text'}},
                'enable_tunnel_lifecycle_control': True}]
    result, _output = run(capsys, tunnels=tunnels)
    assert result['tunnels'][1]['changed_options'] == ['log_options', 'enable_tunnel_lifecycle_control']
    sent = ec2.connection['Options']['TunnelOptions'][1]
    assert sent['LogOptions']['CloudWatchLogOptions']['LogGroupArn'] == arn and sent['EnableTunnelLifecycleControl'] is True
    result, _output = run(capsys, tunnels=tunnels)
    assert result['changed'] is False

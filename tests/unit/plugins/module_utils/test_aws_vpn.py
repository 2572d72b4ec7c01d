# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json

import pytest

from ansible_collections.multicloud.vpn.plugins.module_utils import _aws_vpn as aws_vpn
from ansible_collections.multicloud.vpn.plugins.module_utils._aws_vpn import (
    MASK,
    Backoff,
    TunnelDesire,
    TunnelOptionsError,
    apply_tunnel_changes,
    creation_options,
    described_tunnel_options,
    find_customer_gateway,
    merge_tunnel_options,
    option_differences,
    plan_tunnel_changes,
    profile_tunnel_options,
    static_route_changes,
    tunnel_mapping,
    validate_link,
    validate_tunnel_options,
)

botocore = pytest.importorskip('botocore')
from botocore.session import get_session  # noqa: E402  (after importorskip)
from botocore.validate import ParamValidator  # noqa: E402

PSK_T1 = 'tunnel.one_key_A1'
PSK_T2 = 'tunnel.two_key_B2'
IP_T1 = '203.0.113.10'
IP_T2 = '203.0.113.20'


def described(outside_ip, inside_cidr, psk, **options):
    tunnel = {'OutsideIpAddress': outside_ip, 'TunnelInsideCidr': inside_cidr, 'PreSharedKey': psk,
              'LogOptions': {'CloudWatchLogOptions': {'LogEnabled': False}}}
    tunnel.update(options)
    return tunnel


def connection(state='available', status=('DOWN', 'DOWN'), tunnels=None, **extra):
    tunnels = tunnels or [described(IP_T1, '169.254.10.0/30', PSK_T1), described(IP_T2, '169.254.10.4/30', PSK_T2)]
    found = {'VpnConnectionId': 'vpn-0123', 'State': state, 'VpnGatewayId': 'vgw-1', 'CustomerGatewayId': 'cgw-1',
             'Options': {'TunnelInsideIpVersion': 'ipv4', 'TunnelOptions': tunnels},
             # telemetry sorted differently from TunnelOptions on purpose: it must never be paired by position
             'VgwTelemetry': [{'OutsideIpAddress': tunnel['OutsideIpAddress'], 'Status': state_of, 'StatusMessage': '', 'AcceptedRouteCount': 0}
                              for tunnel, state_of in reversed(list(zip(tunnels, status)))]}
    found.update(extra)
    return found


def ec2_shape(name):
    return get_session().get_service_model('ec2').operation_model(name).input_shape


def assert_valid_request(operation, parameters):
    report = ParamValidator().validate(parameters, ec2_shape(operation))
    assert not report.has_errors(), report.generate_report()


# -- validation: every documented range, named -----------------------------------------------------

@pytest.mark.parametrize('option, value, message', [
    ('phase2_lifetime_seconds', 4000, 'tunnels[1].phase2_lifetime_seconds: 4000 is outside 900-3600'),
    ('phase2_lifetime_seconds', 899, 'tunnels[1].phase2_lifetime_seconds: 899 is outside 900-3600'),
    ('phase1_lifetime_seconds', 28801, 'tunnels[1].phase1_lifetime_seconds: 28801 is outside 900-28800'),
    ('rekey_fuzz_percentage', 101, 'tunnels[1].rekey_fuzz_percentage: 101 is outside 0-100'),
    ('replay_window_size', 63, 'tunnels[1].replay_window_size: 63 is outside 64-2048'),
    ('replay_window_size', 2049, 'tunnels[1].replay_window_size: 2049 is outside 64-2048'),
    ('dpd_timeout_seconds', 29, 'tunnels[1].dpd_timeout_seconds: 29 is outside at least 30'),
    ('rekey_margin_time_seconds', 59, 'tunnels[1].rekey_margin_time_seconds: 59 is outside at least 60'),
])
def test_out_of_range_values_name_the_option(option, value, message):
    with pytest.raises(TunnelOptionsError) as error:
        validate_tunnel_options({option: value}, 'tunnels[1]')
    assert str(error.value) == message
    assert error.value.option == 'tunnels[1].%s' % option


@pytest.mark.parametrize('option, value', [
    ('phase1_lifetime_seconds', 900), ('phase1_lifetime_seconds', 28800), ('phase2_lifetime_seconds', 3600),
    ('rekey_fuzz_percentage', 0), ('replay_window_size', 2048), ('dpd_timeout_seconds', 30), ('rekey_margin_time_seconds', 60),
])
def test_range_bounds_are_accepted(option, value):
    assert validate_tunnel_options({option: value}, 't') == {option: value}


@pytest.mark.parametrize('options, message', [
    ({'phase1_lifetime_seconds': 3600, 'phase2_lifetime_seconds': 3600},
     't.phase2_lifetime_seconds: phase2_lifetime_seconds (3600) must be less than phase1_lifetime_seconds (3600)'),
    ({'phase2_lifetime_seconds': 1000, 'rekey_margin_time_seconds': 501},
     't.rekey_margin_time_seconds: rekey_margin_time_seconds 501 is outside 60-500 (at most half of phase2_lifetime_seconds 1000)'),
    ({'phase1_encryption_algorithms': ['AES512']}, "t.phase1_encryption_algorithms: 'AES512' is not an AWS value"),
    ({'phase1_dh_group_numbers': [5]}, "t.phase1_dh_group_numbers: 5 is not an AWS value"),
    ({'ike_versions': []}, 't.ike_versions: must hold at least one value'),
    ({'dpd_timeout_action': 'explode'}, "t.dpd_timeout_action: 'explode' is not one of clear, none, restart"),
    ({'tunnel_inside_cidr': '169.254.5.0/30'}, 't.tunnel_inside_cidr: 169.254.5.0/30 is reserved by AWS'),
    ({'tunnel_inside_cidr': '169.254.10.0/29'}, 't.tunnel_inside_cidr: 169.254.10.0/29 must be a /30'),
    ({'tunnel_inside_ipv6_cidr': 'fd00::/64'}, 't.tunnel_inside_ipv6_cidr: fd00::/64 must be a /126 from fd00::/8'),
    ({'log_options': {'cloudwatch': {'log_enabled': True}}}, 't.log_options.cloudwatch.log_group_arn: required when log_enabled is true'),
    ({'log_options': {'cloudwatch': {'log_group_arn': 'my-group'}}}, "t.log_options.cloudwatch.log_group_arn: 'my-group' is not a CloudWatch"),
    ({'log_options': {'syslog': {}}}, 't.log_options.syslog: unknown option'),
    ({'colour': 'blue'}, 't.colour: unknown tunnel option'),
])
def test_invalid_values_are_refused_with_the_option_named(options, message):
    with pytest.raises(TunnelOptionsError) as error:
        validate_tunnel_options(options, 't')
    assert str(error.value).startswith(message)


def test_a_bad_pre_shared_key_is_refused_without_showing_it():
    for key in ('0starts_with_zero', 'short', 'has-a-dash-inside'):
        with pytest.raises(TunnelOptionsError) as error:
            validate_tunnel_options({'pre_shared_key': key}, 'tunnels[0]')
        assert str(error.value).startswith('tunnels[0].pre_shared_key: ')
        assert key not in str(error.value)


def test_secrets_and_addresses_can_be_kept_out_of_free_form_options():
    with pytest.raises(TunnelOptionsError, match=r"^tunnel_options.pre_shared_key: give the pre-shared key"):
        validate_tunnel_options({'pre_shared_key': PSK_T1}, 'tunnel_options', allow_secret=False)
    with pytest.raises(TunnelOptionsError, match=r"^tunnel_options.tunnel_inside_cidr: set the tunnel's inside CIDR"):
        validate_tunnel_options({'tunnel_inside_cidr': '169.254.10.0/30'}, 'tunnel_options', allow_addresses=False)


def test_values_are_normalised_and_deduplicated():
    options = validate_tunnel_options({'phase1_encryption_algorithms': ['aes256', 'AES256', 'aes128-gcm-16'], 'ike_versions': 'IKEv2',
                                       'phase2_dh_group_numbers': ['14', 20], 'startup_action': 'START', 'enable_tunnel_lifecycle_control': 'yes',
                                       'phase1_lifetime_seconds': '28800', 'dpd_timeout_seconds': None}, 't')
    assert options == {'phase1_encryption_algorithms': ['AES256', 'AES128-GCM-16'], 'ike_versions': ['ikev2'],
                       'phase2_dh_group_numbers': [14, 20], 'startup_action': 'start', 'enable_tunnel_lifecycle_control': True,
                       'phase1_lifetime_seconds': 28800}


def test_profile_then_explicit_values_win():
    profile = profile_tunnel_options('gcp_safe')
    assert profile['phase1_encryption_algorithms'] == ['AES256'] and profile['ike_versions'] == ['ikev2']
    merged = merge_tunnel_options(profile, validate_tunnel_options({'phase2_lifetime_seconds': 1800, 'ike_versions': ['ikev1']}, 't'))
    assert merged['phase2_lifetime_seconds'] == 1800 and merged['ike_versions'] == ['ikev1']
    assert merged['phase1_encryption_algorithms'] == ['AES256']


def test_profile_errors_name_the_module_option():
    with pytest.raises(TunnelOptionsError, match=r"^ipsec_profile.name: unknown profile 'gcp_fast'"):
        profile_tunnel_options('gcp_fast')
    with pytest.raises(TunnelOptionsError, match=r'^ipsec_profile.phase2_lifetime: must be between 900 and 3600'):
        profile_tunnel_options({'name': 'gcp_safe', 'phase2_lifetime': 4000})


def test_log_options_merge_key_by_key():
    merged = merge_tunnel_options({'log_options': {'cloudwatch': {'log_enabled': True, 'log_group_arn': 'arn:aws:logs:x'}}},
                                  {'log_options': {'cloudwatch': {'log_output_format': 'text'}}})
    assert merged['log_options'] == {'cloudwatch': {'log_enabled': True, 'log_group_arn': 'arn:aws:logs:x', 'log_output_format': 'text'}}


# -- what AWS describes, and the comparison ------------------------------------------------------------

def test_an_untouched_tunnel_reads_as_aws_defaults():
    current = described_tunnel_options(described(IP_T1, '169.254.10.0/30', PSK_T1))
    assert current['phase1_dh_group_numbers'] == [2, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24]
    assert current['phase2_lifetime_seconds'] == 3600 and current['dpd_timeout_seconds'] == 40 and current['startup_action'] == 'add'
    assert current['log_options'] == {'cloudwatch': {'log_enabled': False, 'log_output_format': 'json', 'bgp_log_enabled': False,
                                                     'bgp_log_output_format': 'json'}}
    assert current['enable_tunnel_lifecycle_control'] is False and current['pre_shared_key'] == PSK_T1


@pytest.mark.parametrize('spelling', [
    {'IkeVersions': [{'Value': 'ikev2'}], 'DpdTimeoutSeconds': 45, 'DpdTimeoutAction': 'restart'},   # DescribeVpnConnections
    {'IKEVersions': [{'Value': 'ikev2'}], 'DPDTimeoutSeconds': 45, 'DPDTimeoutAction': 'restart'},   # ModifyVpnTunnelOptions
])
def test_both_spellings_of_describe_are_read(spelling):
    current = described_tunnel_options(described(IP_T1, '169.254.10.0/30', PSK_T1, **spelling))
    assert current['ike_versions'] == ['ikev2'] and current['dpd_timeout_seconds'] == 45 and current['dpd_timeout_action'] == 'restart'


def test_value_lists_compare_as_sets():
    current = described_tunnel_options(described(IP_T1, '169.254.10.0/30', PSK_T1,
                                                 Phase1EncryptionAlgorithms=[{'Value': 'AES256'}, {'Value': 'AES128'}]))
    assert option_differences({'phase1_encryption_algorithms': ['AES128', 'AES256']}, current) == ([], [])
    assert option_differences({'phase1_encryption_algorithms': ['AES128']}, current) == (['phase1_encryption_algorithms'], [])


def test_pre_shared_key_compares_equal_or_not_and_unknown_keys_cannot_be_compared():
    current = described_tunnel_options(described(IP_T1, '169.254.10.0/30', PSK_T1))
    assert option_differences({'pre_shared_key': PSK_T1}, current) == ([], [])
    assert option_differences({'pre_shared_key': PSK_T2}, current) == (['pre_shared_key'], [])
    hidden = described_tunnel_options({'OutsideIpAddress': IP_T1, 'TunnelInsideCidr': '169.254.10.0/30'})
    assert option_differences({'pre_shared_key': PSK_T2}, hidden) == ([], ['pre_shared_key'])


def test_log_options_compare_only_the_keys_given():
    current = described_tunnel_options(described(IP_T1, '169.254.10.0/30', PSK_T1, LogOptions={'CloudWatchLogOptions': {
        'LogEnabled': True, 'LogGroupArn': 'arn:aws:logs:eu-west-1:1:log-group:a', 'LogOutputFormat': 'json'}}))
    assert option_differences({'log_options': {'cloudwatch': {'log_enabled': True}}}, current) == ([], [])
    assert option_differences({'log_options': {'cloudwatch': {'log_output_format': 'text'}}}, current) == (['log_options'], [])


# -- planning the per-tunnel modifications ------------------------------------------------------------

def test_only_differing_tunnels_are_modified_and_the_request_is_botocore_valid():
    desired = validate_tunnel_options({'phase1_encryption_algorithms': ['AES256'], 'pre_shared_key': PSK_T1,
                                       'log_options': {'cloudwatch': {'log_enabled': True, 'log_group_arn': 'arn:aws:logs:x:1:log-group:v'}}}, 't')
    plan = plan_tunnel_changes(connection(), [TunnelDesire(IP_T1, desired, 'tunnels[0]'),
                                              TunnelDesire(IP_T2, {'pre_shared_key': PSK_T2}, 'tunnels[1]')])
    assert [(change.outside_ip, change.changed_options) for change in plan.changes] == [(IP_T1, ['phase1_encryption_algorithms', 'log_options'])]
    parameters = plan.changes[0].api_parameters('vpn-0123')
    assert parameters['TunnelOptions'] == {
        'Phase1EncryptionAlgorithms': [{'Value': 'AES256'}],
        'LogOptions': {'CloudWatchLogOptions': {'LogEnabled': True, 'LogOutputFormat': 'json', 'BgpLogEnabled': False, 'BgpLogOutputFormat': 'json',
                                                'LogGroupArn': 'arn:aws:logs:x:1:log-group:v'}}}
    assert 'PreSharedKey' not in parameters['TunnelOptions']  # unchanged keys are not sent again
    assert_valid_request('ModifyVpnTunnelOptions', parameters)


def test_an_unknown_outside_ip_fails_before_any_change():
    with pytest.raises(TunnelOptionsError) as error:
        plan_tunnel_changes(connection(), [TunnelDesire(IP_T1, {'dpd_timeout_seconds': 60}, 'tunnels[0]'),
                                           TunnelDesire('198.51.100.7', {'dpd_timeout_seconds': 60}, 'tunnels[1]')])
    assert str(error.value) == 'tunnels[1].outside_ip: 198.51.100.7 is not a tunnel of vpn-0123 (its tunnels: %s, %s)' % (IP_T1, IP_T2)


def test_a_transit_gateway_only_option_on_a_vgw_connection_fails():
    with pytest.raises(TunnelOptionsError, match=r'^tunnels\[0\].tunnel_inside_ipv6_cidr: only VPN connections to a transit gateway'):
        plan_tunnel_changes(connection(), [TunnelDesire(IP_T1, {'tunnel_inside_ipv6_cidr': 'fd00::/126'}, 'tunnels[0]')])
    ipv6 = connection(TransitGatewayId='tgw-1', VpnGatewayId=None)
    ipv6['Options']['TunnelInsideIpVersion'] = 'ipv6'
    with pytest.raises(TunnelOptionsError, match=r'^tunnels\[0\].tunnel_inside_cidr: vpn-0123 carries IPv6'):
        plan_tunnel_changes(ipv6, [TunnelDesire(IP_T1, {'tunnel_inside_cidr': '169.254.20.0/30'}, 'tunnels[0]')])


def test_two_tunnels_cannot_end_with_one_inside_cidr():
    with pytest.raises(TunnelOptionsError, match=r'^tunnels\[0\].tunnel_inside_cidr: 169.254.10.4/30 would also be the inside CIDR of tunnel '):
        plan_tunnel_changes(connection(), [TunnelDesire(IP_T1, {'tunnel_inside_cidr': '169.254.10.4/30'}, 'tunnels[0]')])


def test_cross_field_rules_use_the_values_in_force():
    tunnels = [described(IP_T1, '169.254.10.0/30', PSK_T1, RekeyMarginTimeSeconds=540), described(IP_T2, '169.254.10.4/30', PSK_T2)]
    with pytest.raises(TunnelOptionsError) as error:
        plan_tunnel_changes(connection(tunnels=tunnels), [TunnelDesire(IP_T1, {'phase2_lifetime_seconds': 1000}, 'tunnels[0]')])
    assert str(error.value) == ('tunnels[0].phase2_lifetime_seconds: rekey_margin_time_seconds 540 is outside 60-500 '
                                '(at most half of phase2_lifetime_seconds 1000)')


def test_a_tunnel_that_is_down_is_replaced_before_one_that_is_up():
    both = [TunnelDesire(IP_T1, {'dpd_timeout_seconds': 60}, 'tunnels[0]'), TunnelDesire(IP_T2, {'dpd_timeout_seconds': 60}, 'tunnels[1]')]
    assert [change.outside_ip for change in plan_tunnel_changes(connection(status=('UP', 'DOWN')), both).changes] == [IP_T2, IP_T1]
    assert [change.outside_ip for change in plan_tunnel_changes(connection(status=('DOWN', 'UP')), both).changes] == [IP_T1, IP_T2]


def test_telemetry_is_matched_by_outside_ip_not_position():
    plan = plan_tunnel_changes(connection(status=('UP', 'DOWN')), [])
    assert [(view.outside_ip, view.status) for view in plan.views] == [(IP_T1, 'UP'), (IP_T2, 'DOWN')]


def test_diff_and_results_never_hold_a_pre_shared_key():
    new_key = 'brand.new_key_C3'
    plan = plan_tunnel_changes(connection(), [TunnelDesire(IP_T1, {'pre_shared_key': new_key}, 'tunnels[0]')])
    shown = json.dumps([plan.diff(), [view.result() for view in plan.views]])
    for key in (PSK_T1, PSK_T2, new_key):
        assert key not in shown
    assert plan.diff()['before'][IP_T1]['pre_shared_key'] == MASK
    assert plan.diff()['after'][IP_T1]['pre_shared_key'] == '******** (changed)'
    assert plan.changes[0].api_parameters('vpn-0123')['TunnelOptions'] == {'PreSharedKey': new_key}


def test_moving_the_key_storage_travels_with_a_modification():
    plan = plan_tunnel_changes(connection(), [TunnelDesire(IP_T2, {'dpd_timeout_seconds': 60}, 'tunnels[1]')],
                               pre_shared_key_storage='SecretsManager')
    assert plan.changes[0].api_parameters('vpn-0123')['PreSharedKeyStorage'] == 'SecretsManager'
    plan = plan_tunnel_changes(connection(), [TunnelDesire(IP_T2, {'pre_shared_key': PSK_T2}, 'tunnels[1]')], pre_shared_key_storage='SecretsManager')
    assert [(change.outside_ip, change.changed_options) for change in plan.changes] == [(IP_T2, ['pre_shared_key_storage'])]
    with pytest.raises(TunnelOptionsError, match=r'^pre_shared_key_storage: moving the pre-shared keys to SecretsManager takes'):
        plan_tunnel_changes(connection(), [TunnelDesire(IP_T2, {'dpd_timeout_seconds': 40}, 'tunnels[1]')], pre_shared_key_storage='SecretsManager')
    assert not plan_tunnel_changes(connection(), [], pre_shared_key_storage='Standard').changed


# -- sequencing: one tunnel at a time ------------------------------------------------------------------

def two_changes(initial_state='available'):
    both = [TunnelDesire(IP_T1, {'dpd_timeout_seconds': 60}, 'tunnels[0]'), TunnelDesire(IP_T2, {'dpd_timeout_seconds': 60}, 'tunnels[1]')]
    return plan_tunnel_changes(connection(state=initial_state), both)


def test_modifications_run_one_at_a_time_with_a_wait_after_each():
    events = []
    final = apply_tunnel_changes(two_changes(), connection_state='available',
                                 modify=lambda change: events.append(('modify', change.outside_ip)),
                                 wait_available=lambda: events.append(('wait',)) or {'State': 'available', 'n': len(events)})
    assert events == [('modify', IP_T1), ('wait',), ('modify', IP_T2), ('wait',)]
    assert final == {'State': 'available', 'n': 4}


def test_a_connection_that_is_not_available_is_waited_for_first():
    events = []
    apply_tunnel_changes(two_changes('modifying'), connection_state='modifying', modify=lambda change: events.append('modify'),
                         wait_available=lambda: events.append('wait') or {})
    assert events == ['wait', 'modify', 'wait', 'modify', 'wait']


def test_a_failed_wait_stops_before_the_second_tunnel():
    events = []

    def wait_available():
        events.append('wait')
        raise RuntimeError('still modifying after 900 s')

    with pytest.raises(RuntimeError):
        apply_tunnel_changes(two_changes(), connection_state='available', modify=lambda change: events.append(change.outside_ip),
                             wait_available=wait_available)
    assert events == [IP_T1, 'wait']


def test_nothing_to_do_calls_nothing():
    plan = plan_tunnel_changes(connection(), [TunnelDesire(IP_T1, {'pre_shared_key': PSK_T1}, 'tunnels[0]')])
    assert apply_tunnel_changes(plan, connection_state='pending', modify=pytest.fail, wait_available=pytest.fail) is None


def test_backoff_grows_to_its_maximum():
    slept = []
    backoff = Backoff(first=0.25, factor=2, maximum=1.0, sleep=slept.append)
    for _attempt in range(4):
        backoff(99)
    assert slept == [0.25, 0.5, 1.0, 1.0]


# -- connections of a link ---------------------------------------------------------------------------------

def link_connection(**extra):
    entry = {'customer_gateway_ip': '192.0.2.10', 'customer_gateway_asn': 65010,
             'tunnels': [{'inside_cidr': '169.254.10.0/30', 'pre_shared_key': PSK_T1}, {'inside_cidr': '169.254.10.4/30'}]}
    entry.update(extra)
    return entry


def test_a_link_validates_and_layers_its_options():
    [desired] = validate_link([link_connection(tunnels=[{'inside_cidr': '169.254.10.0/30', 'tunnel_options': {'dpd_timeout_seconds': 60}},
                                                        {'inside_cidr': '169.254.10.4/30', 'pre_shared_key': PSK_T2}])],
                              profile='gcp_safe', tunnel_options={'dpd_timeout_seconds': 45, 'startup_action': 'start'})
    assert desired.inside_cidrs == ['169.254.10.0/30', '169.254.10.4/30']
    assert desired.tunnels[0]['dpd_timeout_seconds'] == 60 and desired.tunnels[1]['dpd_timeout_seconds'] == 45
    assert desired.tunnels[0]['startup_action'] == 'start' and desired.tunnels[0]['ike_versions'] == ['ikev2']
    assert 'pre_shared_key' not in desired.tunnels[0] and desired.tunnels[1]['pre_shared_key'] == PSK_T2
    options = creation_options(False, [dict(tunnel, pre_shared_key=PSK_T1) for tunnel in desired.tunnels])
    assert [tunnel['TunnelInsideCidr'] for tunnel in options['TunnelOptions']] == desired.inside_cidrs
    assert_valid_request('CreateVpnConnection', {'Type': 'ipsec.1', 'CustomerGatewayId': 'cgw-1', 'VpnGatewayId': 'vgw-1', 'Options': options})


@pytest.mark.parametrize('connections, message', [
    ([link_connection(customer_gateway_asn=None)], 'connections[0].customer_gateway_asn: required for dynamic (BGP) routing'),
    ([link_connection(customer_gateway_asn=0)], 'connections[0].customer_gateway_asn: 0 is outside 1-4294967294'),
    ([link_connection(customer_gateway_ip='192.0.2.300')], "connections[0].customer_gateway_ip: '192.0.2.300' is not an IPv4 address"),
    ([link_connection(tunnels=[{'inside_cidr': '169.254.10.0/30'}])], 'connections[0].tunnels: a VPN connection has exactly 2 tunnels'),
    ([link_connection(static_routes=['10.0.0.0/16'])], 'connections[0].static_routes: static routes need static_routes_only: true'),
    ([link_connection(), link_connection()], 'connections[1].customer_gateway_ip: 192.0.2.10 is also the customer gateway of connections[0]'),
    ([link_connection(), link_connection(customer_gateway_ip='192.0.2.11')],
     'connections[1].tunnels[0].inside_cidr: 169.254.10.0/30 is also connections[0].tunnels[0].inside_cidr'),
    ([link_connection(tunnels=[{'inside_cidr': '169.254.1.0/30'}, {'inside_cidr': '169.254.10.4/30'}])],
     'connections[0].tunnels[0].inside_cidr: 169.254.1.0/30 is reserved by AWS'),
    ([link_connection(tunnels=[{'inside_cidr': '169.254.10.0/30', 'tunnel_options': {'pre_shared_key': PSK_T1}},
                               {'inside_cidr': '169.254.10.4/30'}])], 'connections[0].tunnels[0].tunnel_options.pre_shared_key: give'),
    ([link_connection(tunnels=[{'inside_cidr': 'fd00::/126'}, {'inside_cidr': 'fd00::4/126'}])],
     'connections[0].tunnels[0].inside_cidr: IPv6 inside CIDRs need a transit gateway'),
    ([link_connection(tunnels=[{'inside_cidr': '169.254.10.0/30', 'tunnel_options': {'phase2_lifetime_seconds': 4000}},
                               {'inside_cidr': '169.254.10.4/30'}])], 'connections[0].tunnels[0].tunnel_options.phase2_lifetime_seconds: 4000'),
])
def test_link_errors_name_the_option(connections, message):
    with pytest.raises(TunnelOptionsError) as error:
        validate_link(connections)
    assert str(error.value).startswith(message)


def test_static_links_default_their_asn_and_normalise_routes():
    [desired] = validate_link([link_connection(customer_gateway_asn=None, static_routes_only=True, static_routes=['10.1.0.0/16', 'fd12::/48'])])
    assert desired.customer_gateway_asn == 65000 and desired.static_routes == ['10.1.0.0/16', 'fd12::/48']
    with pytest.raises(TunnelOptionsError, match='is not a network prefix'):
        validate_link([link_connection(static_routes_only=True, static_routes=['10.1.2.3/16'])])


def test_customer_gateways_match_by_ip_asn_and_device_name_ours_first():
    gateways = [
        {'CustomerGatewayId': 'cgw-asn', 'State': 'available', 'Type': 'ipsec.1', 'IpAddress': '192.0.2.10', 'BgpAsn': '65011', 'DeviceName': 'lk'},
        {'CustomerGatewayId': 'cgw-dead', 'State': 'deleted', 'Type': 'ipsec.1', 'IpAddress': '192.0.2.10', 'BgpAsn': '65010', 'DeviceName': 'lk'},
        {'CustomerGatewayId': 'cgw-other', 'State': 'available', 'Type': 'ipsec.1', 'IpAddress': '192.0.2.10', 'BgpAsn': '65010', 'DeviceName': 'x'},
        {'CustomerGatewayId': 'cgw-foreign', 'State': 'available', 'Type': 'ipsec.1', 'IpAddress': '192.0.2.10', 'BgpAsn': '65010',
         'DeviceName': 'lk'},
        {'CustomerGatewayId': 'cgw-ours', 'State': 'available', 'Type': 'ipsec.1', 'IpAddress': '192.0.2.10', 'BgpAsn': '65010', 'DeviceName': 'lk',
         'Tags': [{'Key': 'mcvpn:link', 'Value': 'lk'}]},
        {'CustomerGatewayId': 'cgw-big', 'State': 'available', 'Type': 'ipsec.1', 'IpAddress': '192.0.2.10', 'BgpAsnExtended': '4200000001',
         'DeviceName': 'lk'},
    ]
    assert find_customer_gateway(gateways, '192.0.2.10', 65010, 'lk', 'lk')['CustomerGatewayId'] == 'cgw-ours'
    assert find_customer_gateway(gateways[:4], '192.0.2.10', 65010, 'lk', 'lk')['CustomerGatewayId'] == 'cgw-foreign'
    assert find_customer_gateway(gateways, '192.0.2.10', 4200000001, 'lk', 'lk')['CustomerGatewayId'] == 'cgw-big'
    assert find_customer_gateway(gateways, '192.0.2.10', 65012, 'lk', 'lk') is None
    assert aws_vpn.customer_gateway_parameters('192.0.2.10', 4200000001, 'lk', {})['BgpAsnExtended'] == 4200000001


def test_tunnel_identity_comes_from_tags_then_the_inside_cidr_first_asked_for():
    # AWS lists the tunnels in another order than they were created
    created = connection(tunnels=[described(IP_T2, '169.254.10.4/30', PSK_T2), described(IP_T1, '169.254.10.0/30', PSK_T1)])
    assert tunnel_mapping(created, ['169.254.10.0/30', '169.254.10.4/30']) == ({'t1': IP_T1, 't2': IP_T2}, True)
    # t1's inside CIDR drifted: the tags recorded at creation still say which is which
    drifted = connection(tunnels=[described(IP_T1, '169.254.99.0/30', PSK_T1), described(IP_T2, '169.254.10.4/30', PSK_T2)],
                         Tags=[{'Key': 'mcvpn:t1', 'Value': IP_T1}, {'Key': 'mcvpn:t2', 'Value': IP_T2}])
    assert tunnel_mapping(drifted, ['169.254.10.0/30', '169.254.10.4/30']) == ({'t1': IP_T1, 't2': IP_T2}, False)
    untagged = dict(drifted, Tags=[])
    assert tunnel_mapping(untagged, ['169.254.10.0/30', '169.254.10.4/30']) == ({'t2': IP_T2, 't1': IP_T1}, True)
    assert tunnel_mapping(dict(drifted, Tags=[{'Key': 'mcvpn:t1', 'Value': '198.51.100.1'}]), []) == ({'t1': IP_T1, 't2': IP_T2}, True)


def test_static_routes_are_kept_exactly():
    described_routes = {'Routes': [{'DestinationCidrBlock': '10.1.0.0/16', 'State': 'available'},
                                   {'DestinationCidrBlock': '10.2.0.0/16', 'State': 'pending'},
                                   {'DestinationCidrBlock': '10.3.0.0/16', 'State': 'deleted'}]}
    assert static_route_changes(['10.1.0.0/16', '10.3.0.0/16'], described_routes) == (['10.3.0.0/16'], ['10.2.0.0/16'])
    assert static_route_changes(None, described_routes) == ([], [])

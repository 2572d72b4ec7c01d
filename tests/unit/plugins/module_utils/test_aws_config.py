# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import copy
import json
import os

import pytest

from ansible.module_utils.common.dict_transformations import _camel_to_snake, camel_dict_to_snake_dict

from ansible_collections.multicloud.vpn.plugins.module_utils._aws_config import (
    REDACTED,
    AwsConfigError,
    parse_customer_gateway_configuration,
    parse_vpn_connection,
    redact_connection,
    snake_case,
    tunnel_secrets,
)

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures', 'aws_cgw')


def read_fixture(name):
    with open(os.path.join(FIXTURES, name), encoding='utf-8') as handle:
        return handle.read()


def batfish_vpn_connection():
    return json.loads(read_fixture('batfish_VpnConnectionWithTunnelOptions.json'))['VpnConnections'][0]


def swap_tunnel_blocks(xml_text):
    """Derived input: the same document with its two <ipsec_tunnel> blocks in the other order."""
    head, first, rest = xml_text.split('<ipsec_tunnel>')
    second, tail = rest.split('</vpn_connection>')
    return '%s<ipsec_tunnel>%s\n  <ipsec_tunnel>%s\n</vpn_connection>%s' % (head, second.rstrip(), first.rstrip(), tail)


def test_parse_netbrain_xml_exact_values():
    connection = parse_vpn_connection(customer_gateway_configuration=read_fixture('netbrain_vpn_conn1.xml'))
    assert {key: value for key, value in connection.items() if key != 'tunnels'} == {
        'vpn_connection_id': 'vpn-xxxxxxxxxxxxxxxxx',
        'customer_gateway_id': 'cgw-xxxxxxxxxxxxxxxxx',
        'vpn_gateway_id': 'vgw-xxxxxxxxxxxxxxxxx',
        'transit_gateway_id': None,
        'type': 'ipsec.1',
        'static_routes_only': False,
    }
    assert connection['tunnels'][0] == {
        'index': 1,
        'outside_ip': '3.18.239.122',
        'customer_outside_ip': '3.15.245.169',
        'aws_inside_ip': '169.254.225.9',
        'customer_inside_ip': '169.254.225.10',
        'inside_cidr': '169.254.225.8/30',
        'inside_prefix_length': 30,
        'amazon_asn': 64512,
        'customer_asn': 64513,
        'bgp_hold_time': 30,
        'psk': 'xlk6lMNzd4CNRP8YUX4PlRLVL4pV1FWS',
        'options_source': 'xml',
        'ike': {'versions': ['ikev1'], 'encryption': ['AES128'], 'integrity': ['SHA1'], 'dh_groups': [2], 'lifetime': 28800, 'mode': 'main'},
        'ipsec': {
            'protocol': 'esp', 'encryption': ['AES128'], 'integrity': ['SHA1'], 'dh_groups': [2], 'lifetime': 3600, 'mode': 'tunnel',
            'clear_df_bit': True, 'fragmentation_before_encryption': True, 'tcp_mss_adjustment': 1379,
            'dpd_interval': 10, 'dpd_retries': 3, 'dpd_timeout': None, 'dpd_timeout_action': None, 'startup_action': None,
            'rekey_margin_time': None, 'rekey_fuzz_percentage': None, 'replay_window_size': None,
        },
    }
    second = connection['tunnels'][1]
    assert (second['index'], second['outside_ip'], second['aws_inside_ip'], second['customer_inside_ip'], second['inside_cidr'], second['psk']) == (
        2, '52.15.217.142', '169.254.68.25', '169.254.68.26', '169.254.68.24/30', 'KMA_6TXDeJzOJAnrn6gnMEtCO0jbE655')


def test_tunnels_sorted_by_outside_ip_as_addresses_not_text():
    connection = parse_vpn_connection(read_fixture('netbrain_vpn_conn2.xml'))
    assert [(tunnel['outside_ip'], tunnel['index']) for tunnel in connection['tunnels']] == [('3.19.204.36', 1), ('18.216.245.201', 2)]


def test_swapped_xml_keeps_keys_and_reports_new_positions():
    original = parse_vpn_connection(read_fixture('netbrain_vpn_conn1.xml'))
    swapped = parse_vpn_connection(swap_tunnel_blocks(read_fixture('netbrain_vpn_conn1.xml')))
    assert [tunnel['outside_ip'] for tunnel in swapped['tunnels']] == [tunnel['outside_ip'] for tunnel in original['tunnels']]
    assert [tunnel['index'] for tunnel in swapped['tunnels']] == [2, 1]
    for before, after in zip(original['tunnels'], swapped['tunnels']):
        assert {key: value for key, value in before.items() if key != 'index'} == {key: value for key, value in after.items() if key != 'index'}


def test_describe_tunnel_options_win_over_xml_defaults():
    vpn_connection = batfish_vpn_connection()
    xml_only = parse_vpn_connection(vpn_connection['CustomerGatewayConfiguration'])
    merged = parse_vpn_connection(vpn_connection=vpn_connection)
    assert [tunnel['ike']['encryption'] for tunnel in xml_only['tunnels']] == [['AES128'], ['AES128']]
    first, second = merged['tunnels']
    assert first['outside_ip'] == '52.27.166.152' and second['outside_ip'] == '52.39.121.126'
    assert first['ike'] == {'versions': ['ikev1'], 'encryption': ['AES128', 'AES128-GCM-16'], 'integrity': ['SHA1', 'SHA2-512'],
                            'dh_groups': [2], 'lifetime': 28800, 'mode': 'main'}
    assert (first['ipsec']['encryption'], first['ipsec']['integrity'], first['ipsec']['dh_groups']) == (['AES128', 'AES128-GCM-16'], ['SHA2-512'], [15, 16])
    assert (second['ike']['encryption'], second['ike']['dh_groups']) == (['AES256', 'AES128-GCM-16'], [22, 23])
    assert (second['ipsec']['encryption'], second['ipsec']['dh_groups']) == (['AES128-GCM-16'], [14, 15, 16])
    assert [tunnel['options_source'] for tunnel in merged['tunnels']] == ['describe', 'describe']
    assert [tunnel['options_source'] for tunnel in xml_only['tunnels']] == ['xml', 'xml']
    # Inside CIDR given with host bits by the publisher: normalised, addresses unchanged.
    assert (first['inside_cidr'], first['aws_inside_ip'], first['customer_inside_ip']) == ('169.254.15.192/30', '169.254.15.193', '169.254.15.194')


def test_tunnel_options_are_matched_by_outside_ip_not_position():
    vpn_connection = batfish_vpn_connection()
    reversed_options = copy.deepcopy(vpn_connection)
    reversed_options['Options']['TunnelOptions'].reverse()
    assert parse_vpn_connection(vpn_connection=reversed_options) == parse_vpn_connection(vpn_connection=vpn_connection)


def test_explicit_xml_plus_describe_data():
    vpn_connection = batfish_vpn_connection()
    xml_text = vpn_connection.pop('CustomerGatewayConfiguration')
    merged = parse_vpn_connection(customer_gateway_configuration=xml_text, vpn_connection=vpn_connection)
    assert merged == parse_vpn_connection(vpn_connection=batfish_vpn_connection())


def test_snake_case_describe_data_from_amazon_aws_is_accepted():
    vpn_connection = batfish_vpn_connection()
    snake = camel_dict_to_snake_dict(vpn_connection)
    assert 'tunnel_options' in snake['options'] and 'phase1_dh_group_numbers' in snake['options']['tunnel_options'][0]
    assert parse_vpn_connection(vpn_connection=snake) == parse_vpn_connection(vpn_connection=vpn_connection)


@pytest.mark.parametrize('name', ['Phase1DHGroupNumbers', 'OutsideIpAddress', 'TunnelInsideCidr', 'IkeVersions', 'CustomerGatewayConfiguration', 'Value'])
def test_snake_case_matches_ansible_conversion(name):
    assert snake_case(name) == _camel_to_snake(name)


def test_new_tunnel_inside_cidr_recomputes_addresses():
    vpn_connection = batfish_vpn_connection()
    vpn_connection['Options']['TunnelOptions'][1]['TunnelInsideCidr'] = '169.254.200.0/30'
    tunnel = parse_vpn_connection(vpn_connection=vpn_connection)['tunnels'][1]
    assert (tunnel['outside_ip'], tunnel['inside_cidr'], tunnel['aws_inside_ip'], tunnel['customer_inside_ip']) == (
        '52.39.121.126', '169.254.200.0/30', '169.254.200.1', '169.254.200.2')


def test_psk_from_describe_wins_and_xml_psk_is_kept_when_describe_has_none():
    vpn_connection = batfish_vpn_connection()
    vpn_connection['Options']['TunnelOptions'][0]['PreSharedKey'] = 'NewKey_from.Describe1'
    del vpn_connection['Options']['TunnelOptions'][1]['PreSharedKey']  # e.g. stored in Secrets Manager
    tunnels = parse_vpn_connection(vpn_connection=vpn_connection)['tunnels']
    assert [tunnel['psk'] for tunnel in tunnels] == ['NewKey_from.Describe1', 'tYrysT4iT0.CRwQnhiBbng.BahDc7YPq']


def test_ike_versions_and_lifetimes_from_describe():
    vpn_connection = batfish_vpn_connection()
    vpn_connection['Options']['TunnelOptions'][0].update({
        'IkeVersions': [{'Value': 'ikev2'}], 'Phase1LifetimeSeconds': 14400, 'Phase2LifetimeSeconds': 1800,
        'DpdTimeoutSeconds': 40, 'DpdTimeoutAction': 'restart', 'StartupAction': 'start'})
    tunnel = parse_vpn_connection(vpn_connection=vpn_connection)['tunnels'][0]
    assert (tunnel['ike']['versions'], tunnel['ike']['lifetime'], tunnel['ipsec']['lifetime']) == (['ikev2'], 14400, 1800)
    assert (tunnel['ipsec']['dpd_timeout'], tunnel['ipsec']['dpd_timeout_action'], tunnel['ipsec']['startup_action']) == (40, 'restart', 'start')


def test_static_routing_connection():
    xml_text = read_fixture('netbrain_vpn_conn1.xml')
    derived = xml_text.replace('<vpn_connection_type>ipsec.1</vpn_connection_type>',
                               '<vpn_connection_type>ipsec.1</vpn_connection_type>\n'
                               '  <vpn_connection_attributes>NoBGPVPNConnection</vpn_connection_attributes>')
    derived = derived.replace('<asn>64513</asn>', '').replace('<asn>64512</asn>', '')
    connection = parse_vpn_connection(derived)
    assert connection['static_routes_only'] is True
    assert [(tunnel['amazon_asn'], tunnel['customer_asn']) for tunnel in connection['tunnels']] == [(None, None), (None, None)]


def test_redaction_masks_keys_without_touching_the_original():
    connection = parse_vpn_connection(read_fixture('netbrain_vpn_conn1.xml'))
    redacted = redact_connection(connection)
    assert [tunnel['psk'] for tunnel in redacted['tunnels']] == [REDACTED, REDACTED]
    assert tunnel_secrets(connection) == ['xlk6lMNzd4CNRP8YUX4PlRLVL4pV1FWS', 'KMA_6TXDeJzOJAnrn6gnMEtCO0jbE655']
    assert 'xlk6lMNzd4CNRP8YUX4PlRLVL4pV1FWS' not in json.dumps(redacted)


def one_tunnel_xml():
    xml_text = read_fixture('netbrain_vpn_conn1.xml')
    start = xml_text.index('  <ipsec_tunnel>', xml_text.index('</ipsec_tunnel>'))
    end = xml_text.index('</vpn_connection>')
    return xml_text[:start] + xml_text[end:]


def with_3des_encryption():
    return read_fixture('netbrain_vpn_conn1.xml').replace('<encryption_protocol>aes-128-cbc</', '<encryption_protocol>3des</')


@pytest.mark.parametrize('xml_text, message', [
    (lambda: read_fixture('netbrain_vpn_conn1.xml')[:-40], 'not well-formed XML'),
    (lambda: '', 'empty'),
    (lambda: '<vpn_connections/>', 'expected <vpn_connection>'),
    (one_tunnel_xml, 'expected 2 <ipsec_tunnel> elements, found 1'),
    (lambda: read_fixture('netbrain_sanitized_same_outside_ip.xml'), 'both tunnels have the same AWS outside IP 1.2.3.4'),
    (lambda: '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><vpn_connection/>', 'DTD/entity declarations are not allowed'),
    (lambda: read_fixture('netbrain_vpn_conn1.xml').replace('<ip_address>169.254.225.9</ip_address>', ''),
     'tunnel 1 is missing <vpn_gateway/tunnel_inside_address/ip_address>'),
    (lambda: read_fixture('netbrain_vpn_conn1.xml').replace('<ip_address>3.18.239.122</ip_address>', '<ip_address>3.18.239</ip_address>'),
     "'3.18.239', which is not an IP address"),
    (with_3des_encryption,
     "unknown IKE encryption '3des'"),
    (lambda: read_fixture('netbrain_vpn_conn1.xml').replace('<pre_shared_key>KMA_6TXDeJzOJAnrn6gnMEtCO0jbE655</pre_shared_key>', ''),
     'tunnel 52.15.217.142 has no pre-shared key'),
    (lambda: read_fixture('netbrain_vpn_conn1.xml').replace('<asn>64512</asn>', '', 1), 'tunnel 1 is missing <vpn_gateway/bgp/asn>'),
])
def test_bad_xml_gives_a_clear_error(xml_text, message):
    with pytest.raises(AwsConfigError) as error:
        parse_vpn_connection(customer_gateway_configuration=xml_text())
    assert message in str(error.value)


def test_bad_describe_data_gives_a_clear_error():
    vpn_connection = batfish_vpn_connection()
    vpn_connection['Options']['TunnelOptions'][0]['OutsideIpAddress'] = '198.51.100.7'
    with pytest.raises(AwsConfigError, match='outside IP 198.51.100.7, which is not a tunnel of this connection'):
        parse_vpn_connection(vpn_connection=vpn_connection)

    vpn_connection = batfish_vpn_connection()
    vpn_connection['Options']['TunnelOptions'][1]['Phase2EncryptionAlgorithms'] = [{'Value': 'DES'}]
    with pytest.raises(AwsConfigError, match="Phase2EncryptionAlgorithms for 52.39.121.126 has unknown value 'DES'"):
        parse_vpn_connection(vpn_connection=vpn_connection)

    vpn_connection = batfish_vpn_connection()
    xml_text = vpn_connection.pop('CustomerGatewayConfiguration')
    vpn_connection['VpnConnectionId'] = 'vpn-0aaaaaaaaaaaaaaaa'
    with pytest.raises(AwsConfigError, match='vpn_connection is vpn-0aaaaaaaaaaaaaaaa but the CustomerGatewayConfiguration describes vpn-ba2e34a8'):
        parse_vpn_connection(customer_gateway_configuration=xml_text, vpn_connection=vpn_connection)
    with pytest.raises(AwsConfigError, match='has no CustomerGatewayConfiguration'):
        parse_vpn_connection(vpn_connection=vpn_connection)


def test_missing_or_wrong_input_types():
    with pytest.raises(AwsConfigError, match='give customer_gateway_configuration'):
        parse_vpn_connection()
    with pytest.raises(AwsConfigError, match='must be a string'):
        parse_customer_gateway_configuration(b'<vpn_connection/>')
    with pytest.raises(AwsConfigError, match='vpn_connection must be a dict'):
        parse_vpn_connection(vpn_connection=['not', 'a', 'dict'])

# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import copy
import itertools

import pytest


from ansible_collections.multicloud.vpn.plugins.module_utils._aws_vpn import Backoff
from ansible_collections.multicloud.vpn.plugins.module_utils._psk import validate_psk
from ansible_collections.multicloud.vpn.plugins.modules import aws_vpn_connection as module_under_test
from ansible_collections.multicloud.vpn.tests.unit.plugins.modules.module_runner import run_module as _run_module

botocore_exceptions = pytest.importorskip('botocore.exceptions')

PSK_GIVEN = 'given.tunnel_key_1'
REQUEST_TO_DESCRIBE = {'IKEVersions': 'IkeVersions', 'DPDTimeoutSeconds': 'DpdTimeoutSeconds', 'DPDTimeoutAction': 'DpdTimeoutAction'}


def client_error(code, status=400, operation='Operation'):
    return botocore_exceptions.ClientError({'Error': {'Code': code, 'Message': code}, 'ResponseMetadata': {'HTTPStatusCode': status}}, operation)


def matches(resource, filters, loose=False):
    """EC2 filters; ``loose`` matches values as prefixes, as moto does (AWS matches them exactly)."""
    tags = {'tag:%s' % tag['Key']: tag['Value'] for tag in resource.get('Tags', [])}
    fields = {'ip-address': resource.get('IpAddress'), 'vpn-gateway-id': resource.get('VpnGatewayId'),
              'transit-gateway-id': resource.get('TransitGatewayId'), 'customer-gateway-id': resource.get('CustomerGatewayId')}
    for item in filters or []:
        value = tags.get(item['Name']) if item['Name'].startswith('tag:') else fields[item['Name']]
        if not any(value == wanted or (loose and value is not None and value.startswith(wanted)) for wanted in item['Values']):
            return False
    return True


class FakeEc2:
    """The EC2 calls of aws_vpn_connection, in memory, with pending/modifying/deleting lasting one describe."""

    def __init__(self) -> None:
        self.calls: list = []
        self.customer_gateways: dict = {}
        self.connections: dict = {}
        self.ids = itertools.count(1)
        self.addresses = itertools.count(10)
        self.lose_next_create = False
        self.loose_filters = False

    def record(self, operation):
        self.calls.append(operation)

    def operations(self):
        return sorted(set(self.calls))

    def writes(self):
        return [call for call in self.calls if not call.startswith('Describe')]

    # customer gateways
    def describe_customer_gateways(self, Filters=None, CustomerGatewayIds=None):
        self.record('DescribeCustomerGateways')
        found = [gateway for gateway in self.customer_gateways.values()
                 if matches(gateway, Filters, self.loose_filters) and (CustomerGatewayIds is None or gateway['CustomerGatewayId'] in CustomerGatewayIds)]
        return {'CustomerGateways': copy.deepcopy(found)}

    def create_customer_gateway(self, Type, IpAddress, DeviceName, TagSpecifications, BgpAsn=None, BgpAsnExtended=None):
        self.record('CreateCustomerGateway')
        asn = str(BgpAsn or BgpAsnExtended)
        for gateway in self.customer_gateways.values():
            if gateway['State'] == 'available' and (gateway['IpAddress'], gateway['BgpAsn'], gateway['DeviceName']) == (IpAddress, asn, DeviceName):
                return {'CustomerGateway': copy.deepcopy(gateway)}
        gateway = {'CustomerGatewayId': 'cgw-%d' % next(self.ids), 'State': 'available', 'Type': Type, 'IpAddress': IpAddress, 'BgpAsn': asn,
                   'DeviceName': DeviceName, 'Tags': TagSpecifications[0]['Tags']}
        self.customer_gateways[gateway['CustomerGatewayId']] = gateway
        return {'CustomerGateway': copy.deepcopy(gateway)}

    def delete_customer_gateway(self, CustomerGatewayId):
        self.record('DeleteCustomerGateway')
        if any(connection['CustomerGatewayId'] == CustomerGatewayId and connection['State'] != 'deleted' for connection in self.connections.values()):
            raise client_error('IncorrectState')
        self.customer_gateways[CustomerGatewayId]['State'] = 'deleted'

    # connections
    def _advance(self, connection):
        state = connection['State']
        connection['State'] = {'pending': 'available', 'modifying': 'available', 'deleting': 'deleted'}.get(state, state)
        return state

    def describe_vpn_connections(self, Filters=None, VpnConnectionIds=None):
        self.record('DescribeVpnConnections')
        found = []
        for connection in self.connections.values():
            if matches(connection, Filters, self.loose_filters) and (VpnConnectionIds is None or connection['VpnConnectionId'] in VpnConnectionIds):
                shown = copy.deepcopy(connection)
                shown['State'] = self._advance(connection)
                found.append(shown)
        return {'VpnConnections': found}

    def create_vpn_connection(self, Type, CustomerGatewayId, Options, TagSpecifications, VpnGatewayId=None, TransitGatewayId=None):
        self.record('CreateVpnConnection')
        tunnels = []
        for specification in Options['TunnelOptions']:
            tunnel = {'OutsideIpAddress': '203.0.113.%d' % next(self.addresses)}
            tunnel.update({REQUEST_TO_DESCRIBE.get(key, key): copy.deepcopy(value) for key, value in specification.items()})
            tunnels.append(tunnel)
        connection = {'VpnConnectionId': 'vpn-%d' % next(self.ids), 'State': 'pending', 'Type': Type, 'CustomerGatewayId': CustomerGatewayId,
                      'Tags': list(TagSpecifications[0]['Tags']), 'Routes': [],
                      'Options': {'StaticRoutesOnly': Options['StaticRoutesOnly'], 'TunnelInsideIpVersion': 'ipv4',
                                  'TunnelOptions': list(reversed(tunnels))},  # AWS does not promise the order
                      'VgwTelemetry': [{'OutsideIpAddress': tunnel['OutsideIpAddress'], 'Status': 'DOWN', 'StatusMessage': 'IPSEC IS DOWN',
                                        'AcceptedRouteCount': 0} for tunnel in tunnels]}
        connection['VpnGatewayId' if VpnGatewayId else 'TransitGatewayId'] = VpnGatewayId or TransitGatewayId
        self.connections[connection['VpnConnectionId']] = connection
        if self.lose_next_create:
            self.lose_next_create = False
            raise client_error('InternalError', 500, 'CreateVpnConnection')
        return {'VpnConnection': copy.deepcopy(connection)}

    def create_tags(self, Resources, Tags):
        self.record('CreateTags')
        for resource in Resources:
            target = self.connections[resource]
            keys = {tag['Key'] for tag in Tags}
            target['Tags'] = [tag for tag in target['Tags'] if tag['Key'] not in keys] + list(Tags)

    def modify_vpn_tunnel_options(self, VpnConnectionId, VpnTunnelOutsideIpAddress, TunnelOptions):
        self.record('ModifyVpnTunnelOptions')
        connection = self.connections[VpnConnectionId]
        assert connection['State'] == 'available'
        tunnel = self.tunnel(VpnConnectionId, VpnTunnelOutsideIpAddress)
        tunnel.update({REQUEST_TO_DESCRIBE.get(key, key): copy.deepcopy(value) for key, value in TunnelOptions.items()})
        connection['State'] = 'modifying'

    def create_vpn_connection_route(self, VpnConnectionId, DestinationCidrBlock):
        self.record('CreateVpnConnectionRoute')
        self.connections[VpnConnectionId]['Routes'].append({'DestinationCidrBlock': DestinationCidrBlock, 'State': 'available'})

    def delete_vpn_connection_route(self, VpnConnectionId, DestinationCidrBlock):
        self.record('DeleteVpnConnectionRoute')
        for route in self.connections[VpnConnectionId]['Routes']:
            if route['DestinationCidrBlock'] == DestinationCidrBlock:
                route['State'] = 'deleted'

    def delete_vpn_connection(self, VpnConnectionId):
        self.record('DeleteVpnConnection')
        self.connections[VpnConnectionId]['State'] = 'deleting'

    # helpers for the tests
    def tunnel(self, vpn_id, outside_ip):
        return next(tunnel for tunnel in self.connections[vpn_id]['Options']['TunnelOptions'] if tunnel['OutsideIpAddress'] == outside_ip)

    def live_connections(self):
        return [connection for connection in self.connections.values() if connection['State'] not in ('deleting', 'deleted')]


@pytest.fixture
def ec2(monkeypatch):
    fake = FakeEc2()
    monkeypatch.setattr(module_under_test, 'ec2_client', lambda params: fake)
    monkeypatch.setattr(module_under_test, 'Backoff', lambda: Backoff(sleep=lambda seconds: None))
    return fake


def link(**extra):
    args = {'region': 'us-east-1', 'name': 'lab', 'vpn_gateway_id': 'vgw-1', 'ipsec_profile': 'gcp_safe', 'connections': [
        {'customer_gateway_ip': '192.0.2.10', 'customer_gateway_asn': 65010,
         'tunnels': [{'inside_cidr': '169.254.10.0/30', 'pre_shared_key': PSK_GIVEN}, {'inside_cidr': '169.254.10.4/30'}]},
        {'customer_gateway_ip': '192.0.2.11', 'customer_gateway_asn': 65010,
         'tunnels': [{'inside_cidr': '169.254.11.0/30'}, {'inside_cidr': '169.254.11.4/30', 'tunnel_options': {'dpd_timeout_seconds': 45}}]}]}
    args.update(extra)
    return args


def run(capsys, args, check_mode=False, diff=False):
    return _run_module(capsys, module_under_test, args, check_mode, diff)


def all_keys(ec2):
    return [tunnel['PreSharedKey'] for connection in ec2.connections.values() for tunnel in connection['Options']['TunnelOptions']]


def test_check_mode_then_create_then_rerun(capsys, ec2):
    result, _output = run(capsys, link(), check_mode=True, diff=True)
    assert result['changed'] is True and ec2.writes() == []
    assert [connection['vpn_connection_id'] for connection in result['connections']] == [None, None]
    assert [tunnel['inside_cidr'] for tunnel in result['connections'][0]['tunnels']] == ['169.254.10.0/30', '169.254.10.4/30']
    assert result['connections'][0]['changed_options'] == ['create_customer_gateway', 'create']

    ec2.calls.clear()
    result, output = run(capsys, link())
    assert result['changed'] is True
    assert sorted(ec2.writes()) == ['CreateCustomerGateway'] * 2 + ['CreateTags'] * 2 + ['CreateVpnConnection'] * 2
    first = result['connections'][0]
    assert first['state'] == 'available' and first['customer_gateway_ip'] == '192.0.2.10' and first['customer_gateway_asn'] == 65010
    t1, t2 = first['tunnels']
    assert (t1['tunnel'], t1['inside_cidr'], t1['aws_inside_ip'], t1['customer_inside_ip']) == ('t1', '169.254.10.0/30', '169.254.10.1', '169.254.10.2')
    assert (t2['tunnel'], t2['inside_cidr']) == ('t2', '169.254.10.4/30')
    # options given at creation: inside CIDR, PSK (given or generated), the profile, overrides
    created = ec2.connections[first['vpn_connection_id']]
    expected_tags = {'Name': 'lab-vpn1', 'mcvpn:link': 'lab', 'mcvpn:t1': t1['outside_ip'], 'mcvpn:t2': t2['outside_ip']}
    assert {tag['Key']: tag['Value'] for tag in created['Tags']} == expected_tags
    assert ec2.tunnel(first['vpn_connection_id'], t1['outside_ip'])['PreSharedKey'] == PSK_GIVEN
    assert ec2.tunnel(first['vpn_connection_id'], t1['outside_ip'])['Phase1EncryptionAlgorithms'] == [{'Value': 'AES256'}]
    second = ec2.connections[result['connections'][1]['vpn_connection_id']]
    assert ec2.tunnel(second['VpnConnectionId'], result['connections'][1]['tunnels'][1]['outside_ip'])['DpdTimeoutSeconds'] == 45
    keys = all_keys(ec2)
    assert len(set(keys)) == 4 and all(validate_psk(key, 'key') for key in keys)
    assert not any(key in output for key in keys)
    assert set(result['tunnel_status']) == {tunnel['outside_ip'] for connection in result['connections'] for tunnel in connection['tunnels']}

    ec2.calls.clear()
    result, _output = run(capsys, link())
    assert result['changed'] is False
    assert ec2.calls == ['DescribeCustomerGateways', 'DescribeVpnConnections']  # a no-op rerun costs two calls


def test_drift_is_repaired_on_the_drifted_tunnel_only(capsys, ec2):
    result, _output = run(capsys, link())
    vpn_id = result['connections'][0]['vpn_connection_id']
    t1, t2 = (tunnel['outside_ip'] for tunnel in result['connections'][0]['tunnels'])
    ec2.tunnel(vpn_id, t1)['Phase1EncryptionAlgorithms'] = [{'Value': 'AES128'}, {'Value': 'AES256'}]
    ec2.tunnel(vpn_id, t1)['TunnelInsideCidr'] = '169.254.99.0/30'   # tags still say which tunnel is t1
    ec2.tunnel(vpn_id, t2)['PreSharedKey'] = 'someone.else_changed_it'  # t2's key was generated: not compared
    ec2.calls.clear()
    result, _output = run(capsys, link())
    assert result['changed'] is True and ec2.calls.count('ModifyVpnTunnelOptions') == 1
    assert result['connections'][0]['tunnels'][0]['changed_options'] == ['tunnel_inside_cidr', 'phase1_encryption_algorithms']
    assert ec2.tunnel(vpn_id, t1)['TunnelInsideCidr'] == '169.254.10.0/30'
    assert ec2.tunnel(vpn_id, t1)['Phase1EncryptionAlgorithms'] == [{'Value': 'AES256'}]
    assert ec2.tunnel(vpn_id, t2)['PreSharedKey'] == 'someone.else_changed_it'
    ec2.tunnel(vpn_id, t1)['PreSharedKey'] = 'someone.else_changed_it'   # t1's key was given: repaired
    result, output = run(capsys, link())
    assert result['connections'][0]['tunnels'][0]['changed_options'] == ['pre_shared_key']
    assert ec2.tunnel(vpn_id, t1)['PreSharedKey'] == PSK_GIVEN and PSK_GIVEN not in output


def test_a_lost_create_answer_does_not_make_a_second_connection(capsys, ec2):
    ec2.lose_next_create = True
    result, _output = run(capsys, link())
    assert result['changed'] is True and len(ec2.live_connections()) == 2
    assert ec2.calls.count('CreateVpnConnection') == 2  # the lost one was found again, not re-created


def test_an_interrupted_run_finds_its_objects_and_records_the_tunnel_names(capsys, ec2):
    run(capsys, link())
    for connection in ec2.connections.values():
        connection['Tags'] = [tag for tag in connection['Tags'] if tag['Key'] not in ('mcvpn:t1', 'mcvpn:t2')]
    ec2.calls.clear()
    result, _output = run(capsys, link())
    assert result['changed'] is True and sorted(ec2.writes()) == ['CreateTags', 'CreateTags']
    assert [connection['changed_options'] for connection in result['connections']] == [['tags'], ['tags']]
    assert len(ec2.live_connections()) == 2


def test_a_connection_of_someone_else_on_our_customer_gateway_is_not_doubled(capsys, ec2):
    run(capsys, link())
    for connection in ec2.connections.values():
        connection['Tags'] = [tag for tag in connection['Tags'] if tag['Key'] != 'mcvpn:link']
    ec2.calls.clear()
    result, _output = run(capsys, link())
    assert result['failed'] is True and 'is not tagged mcvpn:link=lab' in result['msg'] and result['msg'].startswith('connections[0]: ')
    assert ec2.writes() == []


def test_a_changed_asn_is_refused_with_the_option_named(capsys, ec2):
    run(capsys, link())
    args = link()
    args['connections'][1]['customer_gateway_asn'] = 65020
    ec2.calls.clear()
    result, _output = run(capsys, args)
    assert result['failed'] is True and result['msg'].startswith('connections[1].customer_gateway_asn: ')
    assert 'AWS cannot change a customer gateway\'s ASN' in result['msg'] and ec2.writes() == []


def test_return_secrets_returns_every_key(capsys, ec2):
    result, _output = run(capsys, link(return_secrets=True))
    returned = [tunnel['pre_shared_key'] for connection in result['connections'] for tunnel in connection['tunnels']]
    assert returned[0] == PSK_GIVEN and sorted(returned) == sorted(all_keys(ec2))
    result, output = run(capsys, link(state='gathered'))
    assert 'pre_shared_key' not in result['connections'][0]['tunnels'][0] and not any(key in output for key in all_keys(ec2))


def test_static_routes_are_created_and_kept_exact(capsys, ec2):
    args = link(connections=[{'customer_gateway_ip': '192.0.2.20', 'static_routes_only': True, 'static_routes': ['10.1.0.0/16', '10.2.0.0/16'],
                              'tunnels': [{'inside_cidr': '169.254.21.0/30'}, {'inside_cidr': '169.254.22.0/30'}]}])
    result, _output = run(capsys, args)
    assert result['connections'][0]['static_routes'] == ['10.1.0.0/16', '10.2.0.0/16'] and result['connections'][0]['customer_gateway_asn'] == 65000
    args['connections'][0]['static_routes'] = ['10.1.0.0/16', '10.3.0.0/16']
    ec2.calls.clear()
    result, _output = run(capsys, args)
    assert sorted(ec2.writes()) == ['CreateVpnConnectionRoute', 'DeleteVpnConnectionRoute']
    assert result['connections'][0]['static_routes'] == ['10.1.0.0/16', '10.3.0.0/16']
    args['connections'][0]['static_routes_only'] = False
    args['connections'][0]['customer_gateway_asn'] = 65000
    args['connections'][0].pop('static_routes')
    result, _output = run(capsys, args)
    assert result['failed'] is True and result['msg'].startswith('connections[0].static_routes_only: ')


def test_a_dropped_connection_is_purged_with_its_customer_gateway(capsys, ec2):
    run(capsys, link())
    args = link()
    args['connections'].pop()
    ec2.calls.clear()
    result, _output = run(capsys, args)
    assert result['changed'] is True and len(result['deleted']['vpn_connections']) == 1 and len(result['deleted']['customer_gateways']) == 1
    assert len(ec2.live_connections()) == 1
    assert ec2.writes() == ['DeleteVpnConnection', 'DeleteCustomerGateway']


def test_absent_deletes_connections_then_their_customer_gateways(capsys, ec2):
    run(capsys, link())
    ec2.calls.clear()
    result, _output = run(capsys, {'region': 'us-east-1', 'name': 'lab', 'state': 'absent'}, check_mode=True)
    assert result['changed'] is True and ec2.writes() == []
    result, _output = run(capsys, {'region': 'us-east-1', 'name': 'lab', 'state': 'absent'})
    assert ec2.writes() == ['DeleteVpnConnection', 'DeleteVpnConnection', 'DeleteCustomerGateway', 'DeleteCustomerGateway']
    assert not ec2.live_connections() and all(gateway['State'] == 'deleted' for gateway in ec2.customer_gateways.values())
    result, _output = run(capsys, {'region': 'us-east-1', 'name': 'lab', 'state': 'absent'})
    assert result['changed'] is False


def test_a_link_never_touches_a_link_whose_name_starts_like_it(capsys, ec2):
    ec2.loose_filters = True
    static = {'customer_gateway_ip': '192.0.2.100', 'static_routes_only': True,
              'tunnels': [{'inside_cidr': '169.254.30.0/30'}, {'inside_cidr': '169.254.30.4/30'}]}
    run(capsys, link(name='lab-static', connections=[static]))
    run(capsys, link())
    assert len(ec2.live_connections()) == 3
    result, _output = run(capsys, {'region': 'us-east-1', 'name': 'lab', 'state': 'gathered'})
    assert len(result['connections']) == 2
    result, _output = run(capsys, {'region': 'us-east-1', 'name': 'lab', 'state': 'absent'})
    assert len(result['deleted']['vpn_connections']) == 2 and len(result['deleted']['customer_gateways']) == 2
    [survivor] = ec2.live_connections()
    assert {tag['Key']: tag['Value'] for tag in survivor['Tags']}['mcvpn:link'] == 'lab-static'
    assert ec2.customer_gateways[survivor['CustomerGatewayId']]['State'] == 'available'


def test_gathered_reads_telemetry_keyed_by_outside_ip(capsys, ec2):
    created, _output = run(capsys, link())
    vpn_id = created['connections'][1]['vpn_connection_id']
    t2 = created['connections'][1]['tunnels'][1]['outside_ip']
    next(item for item in ec2.connections[vpn_id]['VgwTelemetry'] if item['OutsideIpAddress'] == t2).update(
        Status='UP', StatusMessage='2 BGP ROUTES', AcceptedRouteCount=2)
    ec2.calls.clear()
    result, _output = run(capsys, {'region': 'us-east-1', 'name': 'lab', 'state': 'gathered'})
    assert result['changed'] is False and ec2.writes() == []
    assert result['tunnel_status'][t2] == {'vpn_connection_id': vpn_id, 'tunnel': 't2', 'status': 'UP', 'status_message': '2 BGP ROUTES',
                                           'accepted_route_count': 2}
    assert [connection['vpn_connection_id'] for connection in result['connections']] == [c['vpn_connection_id'] for c in created['connections']]


@pytest.mark.parametrize('change, message', [
    (dict(vpn_gateway_id=None), 'vpn_gateway_id: state present needs vpn_gateway_id or transit_gateway_id'),
    (dict(ipsec_profile={'name': 'gcp_safe', 'rekey_fuzz': 101}), 'ipsec_profile.rekey_fuzz: must be between 0 and 100'),
    (dict(tunnel_options={'replay_window_size': 4096}), 'tunnel_options.replay_window_size: 4096 is outside 64-2048'),
    (dict(connections=[{'customer_gateway_ip': '192.0.2.10', 'tunnels': [{'inside_cidr': '169.254.10.0/30'}, {'inside_cidr': '169.254.10.4/30'}]}]),
     'connections[0].customer_gateway_asn: required for dynamic (BGP) routing'),
])
def test_invalid_values_fail_before_any_call(capsys, monkeypatch, change, message):
    monkeypatch.setattr(module_under_test, 'ec2_client', lambda params: pytest.fail('no client before validation'))
    args = {key: value for key, value in link(**change).items() if value is not None}
    result, _output = run(capsys, args)
    assert result['failed'] is True and result['msg'].startswith(message)

# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import itertools

import pytest

from ansible_collections.multicloud.vpn.plugins.modules import aws_vpn_gateway as module_under_test
from ansible_collections.multicloud.vpn.tests.unit.plugins.modules.module_runner import run_module as _run_module

botocore_exceptions = pytest.importorskip('botocore.exceptions')

BASE = {'region': 'us-east-1', 'vpc_name': 'demo-vpc', 'vpc_cidr_block': '10.0.0.0/16', 'vpn_gateway_name': 'demo-vgw',
        'asn': 64512, 'tags': {'mcvpn-link': 'demo'}}


def client_error(code, status=400, operation='Operation'):
    return botocore_exceptions.ClientError({'Error': {'Code': code, 'Message': code}, 'ResponseMetadata': {'HTTPStatusCode': status}}, operation)


def tags_of(specifications):
    return [dict(tag) for tag in specifications[0]['Tags']]


def matches(resource, filters):
    tags = {'tag:%s' % tag['Key']: tag['Value'] for tag in resource.get('Tags', [])}
    fields = {'cidr-block': resource.get('CidrBlock'), 'type': resource.get('Type'), 'state': resource.get('State')}
    for item in filters or []:
        value = tags.get(item['Name']) if item['Name'].startswith('tag:') else fields[item['Name']]
        if value not in item['Values']:
            return False
    return True


class FakeEc2:
    """The EC2 calls of aws_vpn_gateway in memory. ``lose`` names operations whose next answer is lost after the
    write (a 504, as a load balancer answers); ``fail`` names operations whose next call fails before writing."""

    def __init__(self) -> None:
        self.calls: list = []
        self.vpcs: dict = {}
        self.gateways: dict = {}
        self.ids = itertools.count(1)
        self.lose: set = set()
        self.fail: dict = {}

    def writes(self):
        return [call for call in self.calls if not call.startswith('Describe')]

    def _enter(self, operation):
        self.calls.append(operation)
        if operation in self.fail:
            raise self.fail.pop(operation)

    def _answer(self, operation, answer):
        if operation in self.lose:
            self.lose.discard(operation)
            raise client_error('504', 504, operation)
        return answer

    # VPCs
    def describe_vpcs(self, Filters=None, VpcIds=None):
        self._enter('DescribeVpcs')
        vpcs = [vpc for vpc in self.vpcs.values() if (VpcIds is None or vpc['VpcId'] in VpcIds) and matches(vpc, Filters)]
        return {'Vpcs': [dict(vpc) for vpc in vpcs]}

    def create_vpc(self, CidrBlock, TagSpecifications):
        self._enter('CreateVpc')
        vpc_id = 'vpc-%d' % next(self.ids)
        self.vpcs[vpc_id] = {'VpcId': vpc_id, 'CidrBlock': CidrBlock, 'State': 'available', 'Tags': tags_of(TagSpecifications)}
        return self._answer('CreateVpc', {'Vpc': dict(self.vpcs[vpc_id], State='pending')})

    def delete_vpc(self, VpcId):
        self._enter('DeleteVpc')
        if any(item['VpcId'] == VpcId and item['State'] != 'detached' for gateway in self.gateways.values() for item in gateway['VpcAttachments']):
            raise client_error('DependencyViolation')
        del self.vpcs[VpcId]
        return {}

    def create_tags(self, Resources, Tags):
        self._enter('CreateTags')
        for resource in Resources:
            target = self.vpcs.get(resource) or self.gateways[resource]
            target['Tags'] = [tag for tag in target['Tags'] if tag['Key'] not in {item['Key'] for item in Tags}] + Tags
        return {}

    # gateways
    def describe_vpn_gateways(self, Filters=None, VpnGatewayIds=None):
        self._enter('DescribeVpnGateways')
        gateways = [gateway for gateway in self.gateways.values()
                    if (VpnGatewayIds is None or gateway['VpnGatewayId'] in VpnGatewayIds) and matches(gateway, Filters)]
        return {'VpnGateways': [dict(gateway, VpcAttachments=[dict(item) for item in gateway['VpcAttachments']]) for gateway in gateways]}

    def create_vpn_gateway(self, Type, TagSpecifications, AmazonSideAsn=64512):
        self._enter('CreateVpnGateway')
        gateway_id = 'vgw-%d' % next(self.ids)
        self.gateways[gateway_id] = {'VpnGatewayId': gateway_id, 'Type': Type, 'State': 'available', 'AmazonSideAsn': AmazonSideAsn,
                                     'VpcAttachments': [], 'Tags': tags_of(TagSpecifications)}
        return self._answer('CreateVpnGateway', {'VpnGateway': dict(self.gateways[gateway_id], State='pending')})

    def attach_vpn_gateway(self, VpnGatewayId, VpcId):
        self._enter('AttachVpnGateway')
        gateway = self.gateways[VpnGatewayId]
        if any(item['State'] in ('attaching', 'attached') for item in gateway['VpcAttachments']):
            raise client_error('VpnGatewayAttachmentLimitExceeded')
        gateway['VpcAttachments'].append({'VpcId': VpcId, 'State': 'attached'})
        return self._answer('AttachVpnGateway', {'VpcAttachment': {'VpcId': VpcId, 'State': 'attaching'}})

    def detach_vpn_gateway(self, VpnGatewayId, VpcId):
        self._enter('DetachVpnGateway')
        for item in self.gateways[VpnGatewayId]['VpcAttachments']:
            if item['VpcId'] == VpcId:
                item['State'] = 'detached'
        return {}

    def delete_vpn_gateway(self, VpnGatewayId):
        self._enter('DeleteVpnGateway')
        self.gateways[VpnGatewayId]['State'] = 'deleted'
        return {}


@pytest.fixture
def ec2(monkeypatch):
    fake = FakeEc2()
    monkeypatch.setattr(module_under_test, 'ec2_client', lambda params: fake)
    monkeypatch.setattr(module_under_test.time, 'sleep', lambda seconds: None)
    monkeypatch.setattr(module_under_test, 'POLL_SECONDS', 0.0)
    return fake


def run_module(capsys, args, **kwargs):
    return _run_module(capsys, module_under_test, args, **kwargs)[0]


def test_creates_attaches_then_changes_nothing(capsys, ec2):
    result = run_module(capsys, BASE, diff=True)
    assert result['changed'] is True
    assert [action.split(' ')[0] for action in result['actions']] == ['create', 'create', 'attach']
    vpc, = ec2.vpcs.values()
    gateway, = ec2.gateways.values()
    assert {'Key': 'Name', 'Value': 'demo-vpc'} in vpc['Tags'] and {'Key': 'mcvpn-link', 'Value': 'demo'} in vpc['Tags']
    assert gateway['AmazonSideAsn'] == 64512 and gateway['VpcAttachments'] == [{'VpcId': vpc['VpcId'], 'State': 'attached'}]
    assert result['vpc_id'] == vpc['VpcId'] and result['vpn_gateway_id'] == gateway['VpnGatewayId']
    assert result['diff']['before'] == {'vpc': None, 'vpn_gateway': None}
    ec2.calls.clear()
    again = run_module(capsys, BASE)
    assert again['changed'] is False and again['actions'] == [] and ec2.writes() == []
    assert again['vpn_gateway_id'] == gateway['VpnGatewayId']


@pytest.mark.parametrize('operation', ['CreateVpc', 'CreateVpnGateway', 'AttachVpnGateway'])
def test_a_lost_answer_never_creates_or_attaches_twice(capsys, ec2, operation):
    ec2.lose.add(operation)
    result = run_module(capsys, BASE)
    assert result['changed'] is True
    assert len(ec2.vpcs) == 1 and len(ec2.gateways) == 1
    gateway, = ec2.gateways.values()
    assert len(gateway['VpcAttachments']) == 1
    assert ec2.calls.count(operation) == 1


def test_a_create_that_failed_before_writing_is_tried_again(capsys, ec2):
    ec2.fail['CreateVpnGateway'] = client_error('InternalError', 500)
    result = run_module(capsys, BASE)
    assert result['changed'] is True and len(ec2.gateways) == 1 and ec2.calls.count('CreateVpnGateway') == 2


def test_a_client_error_is_one_clear_message(capsys, ec2):
    ec2.fail['CreateVpc'] = client_error('VpcLimitExceeded', 400)
    result = run_module(capsys, BASE)
    assert result['failed'] is True and result['msg'].startswith('create vpc: VpcLimitExceeded')
    assert ec2.calls.count('CreateVpc') == 1


def test_check_mode_writes_nothing(capsys, ec2):
    result = run_module(capsys, BASE, check_mode=True, diff=True)
    assert result['changed'] is True and ec2.writes() == [] and ec2.vpcs == {}
    assert result['diff']['after']['vpn_gateway']['tags']['Name'] == 'demo-vgw'


def test_existing_gateway_with_another_asn_is_refused(capsys, ec2):
    run_module(capsys, BASE)
    ec2.calls.clear()
    result = run_module(capsys, dict(BASE, asn=65010))
    assert result['failed'] is True and 'has the Amazon-side ASN 64512' in result['msg'] and ec2.writes() == []


def test_two_gateways_of_one_name_are_an_error_not_a_guess(capsys, ec2):
    run_module(capsys, BASE)
    ec2.create_vpn_gateway('ipsec.1', [{'ResourceType': 'vpn-gateway', 'Tags': [{'Key': 'Name', 'Value': 'demo-vgw'}]}])
    result = run_module(capsys, BASE)
    assert result['failed'] is True and '2 virtual private gateways are named demo-vgw' in result['msg']


@pytest.mark.parametrize('args, message', [
    ({'vpc_cidr_block': None}, 'vpc_name and vpc_cidr_block: give both'),
    ({'vpc_id': 'vpc-1'}, 'vpc_id: give either'),
    ({'vpc_name': None, 'vpc_cidr_block': None}, 'vpc_id: state present needs the VPC'),
    ({'asn': 65535}, 'asn: the Amazon-side ASN must be private'),
    ({'wait_timeout': 0}, 'wait_timeout: must be at least 1 second'),
])
def test_bad_input_fails_before_any_call(capsys, ec2, args, message):
    result = run_module(capsys, dict(BASE, **args))
    assert result['failed'] is True and result['msg'].startswith(message) and ec2.calls == []


def test_absent_detaches_then_deletes_both_and_is_idempotent(capsys, ec2):
    run_module(capsys, BASE)
    ec2.calls.clear()
    result = run_module(capsys, dict(BASE, state='absent'))
    assert result['changed'] is True
    assert ec2.writes() == ['DetachVpnGateway', 'DeleteVpnGateway', 'DeleteVpc']
    assert ec2.vpcs == {}
    again = run_module(capsys, dict(BASE, state='absent'))
    assert again['changed'] is False


def test_absent_never_deletes_a_vpc_given_by_id(capsys, ec2):
    vpc_id = ec2.create_vpc('10.5.0.0/16', [{'ResourceType': 'vpc', 'Tags': [{'Key': 'Name', 'Value': 'theirs'}]}])['Vpc']['VpcId']
    args = {'region': 'us-east-1', 'vpc_id': vpc_id, 'vpn_gateway_name': 'demo-vgw', 'asn': 64512}
    assert run_module(capsys, args)['changed'] is True
    result = run_module(capsys, dict(args, state='absent'))
    assert result['changed'] is True and vpc_id in ec2.vpcs and 'DeleteVpc' not in ec2.calls

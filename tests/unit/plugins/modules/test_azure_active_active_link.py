# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Unit tests of the module wiring of multicloud.vpn.azure_active_active_link (argspec, docs, check mode, failures).

from __future__ import annotations


import pytest
import yaml


from ansible_collections.multicloud.vpn.plugins.doc_fragments.azure import ModuleDocFragment
from ansible_collections.multicloud.vpn.plugins.module_utils._azure import AzureError
from ansible_collections.multicloud.vpn.plugins.modules import azure_active_active_link
from ansible_collections.multicloud.vpn.tests.unit.plugins.modules.module_runner import run_module as _run_module

SUB = '00000000-0000-4000-8000-0000000000d1'
PSK = 'Unit.test_key_c0t1'
BASE = '/subscriptions/%s/resourceGroups/rg/providers/Microsoft.Network' % SUB


class RecordingOperations:
    """Answers reads from a fixed list; any other call is recorded and fails the test."""

    def __init__(self, calls, kind, items=()):
        self.calls, self.kind, self.items = calls, kind, list(items)

    def list(self, resource_group):
        self.calls.append(('list', self.kind, resource_group))
        return iter(self.items)

    def get(self, resource_group, name):
        self.calls.append(('get', self.kind, name))
        return next((item for item in self.items if item['name'] == name), None)

    def __getattr__(self, name):
        def write(*args, **kwargs):
            self.calls.append((name, self.kind))
            raise AssertionError('unexpected call %s on %s' % (name, self.kind))
        return write


class RecordingClient:
    def __init__(self, vnet=True):
        self.calls = []
        vnets = [{'name': 'vnet', 'id': BASE + '/virtualNetworks/vnet', 'location': 'eastus',
                  'properties': {'addressSpace': {'addressPrefixes': ['10.20.0.0/16']}, 'subnets': [
                      {'name': 'GatewaySubnet', 'id': BASE + '/virtualNetworks/vnet/subnets/GatewaySubnet',
                       'properties': {'addressPrefix': '10.20.255.0/27'}}]}}] if vnet else []
        for attribute, kind in (('public_ip_addresses', 'publicIPAddresses'), ('virtual_network_gateways', 'virtualNetworkGateways'),
                                ('local_network_gateways', 'localNetworkGateways'), ('virtual_network_gateway_connections', 'connections'),
                                ('subnets', 'subnets')):
            setattr(self, attribute, RecordingOperations(self.calls, kind))
        self.virtual_networks = RecordingOperations(self.calls, 'virtualNetworks', vnets)


@pytest.fixture
def client(monkeypatch):
    recording = RecordingClient()
    recording.built = []

    def fake_network_client(params, environ=None, **options):
        del environ, options
        recording.built.append(params)
        return recording

    monkeypatch.setattr(azure_active_active_link, 'network_client', fake_network_client)
    return recording


def module_args(**overrides):
    args = {'base_url': 'http://127.0.0.1:9', 'subscription_id': SUB, 'name': 'lab', 'resource_group': 'rg', 'mode': 'static',
            'virtual_network': {'name': 'vnet'}, 'aws_prefixes': ['10.10.0.0/16'],
            'aws_tunnels': [{'connection': 0, 'aws_tunnel': 't1', 'outside_ip': '198.51.100.1', 'pre_shared_key': PSK},
                            {'connection': 1, 'aws_tunnel': 't1', 'outside_ip': '198.51.100.2', 'pre_shared_key': PSK + '2'}]}
    args.update(overrides)
    return args


def run_module(capsys, args, check_mode=False, diff=False):
    return _run_module(capsys, azure_active_active_link, args, check_mode, diff)


def test_check_mode_reads_only_and_reports_every_change(capsys, client):
    result, output = run_module(capsys, module_args(), check_mode=True, diff=True)
    assert result['changed'] is True and not result.get('failed'), result.get('msg')
    assert {call[0] for call in client.calls} == {'list', 'get'}
    assert result['operations'] == ['create public_ip lab-pip-0', 'create public_ip lab-pip-1', 'create local_network_gateway lab-lng-c0-t1',
                                    'create local_network_gateway lab-lng-c1-t1', 'create gateway lab-gw', 'create connection lab-conn-c0-t1',
                                    'create connection lab-conn-c1-t1']
    assert result['diff']['after']['gateway']['active_active'] is True
    assert result['diff']['after']['gateway']['ip_configurations'][1] == {'name': 'instance-1', 'subnet': 'vnet/GatewaySubnet',
                                                                          'public_ip': 'lab-pip-1'}
    assert PSK not in output
    assert [connection['aws_outside_ip'] for connection in result['connections']] == ['198.51.100.1', '198.51.100.2']


def test_no_diff_unless_asked(capsys, client):
    result, _output = run_module(capsys, module_args(), check_mode=True)
    assert 'diff' not in result and client.calls


def test_wrong_value_fails_before_any_api_call(capsys, client):
    args = module_args(aws_tunnels=[{'connection': 0, 'aws_tunnel': 't1', 'outside_ip': '198.51.100.1', 'pre_shared_key': '0' + PSK}])
    result, output = run_module(capsys, args)
    assert result['failed'] is True and result['msg'] == 'aws_tunnels[0].pre_shared_key: must not start with "0" (AWS refuses it)'
    assert client.built == [] and client.calls == []
    assert PSK not in output


def test_argument_spec_rejects_unknown_choices(capsys, client):
    result, _output = run_module(capsys, module_args(mode='ospf'))
    assert result['failed'] is True and 'mode' in result['msg'] and client.calls == []


def test_azure_error_is_one_line(capsys, client, monkeypatch):
    def refuse(resource_group):
        raise AzureError('list public IP addresses failed: AuthorizationFailed: no access (HTTP 403)', code='AuthorizationFailed', status=403)

    monkeypatch.setattr(client.public_ip_addresses, 'list', refuse)
    result, _output = run_module(capsys, module_args())
    assert result['failed'] is True and result['msg'] == 'list public IP addresses failed: AuthorizationFailed: no access (HTTP 403)'


def test_gathered_never_writes(capsys, client):
    result, _output = run_module(capsys, module_args(state='gathered', aws_tunnels=None))
    assert result['changed'] is False and result['connections'] == [] and result['gateway']['exists'] is False
    assert {call[0] for call in client.calls} == {'list'}


def test_missing_sdk_is_reported(capsys, client, monkeypatch):
    monkeypatch.setattr(azure_active_active_link, 'HAS_AZURE_SDK', False)
    result, _output = run_module(capsys, module_args())
    assert result['failed'] is True and 'azure-mgmt-network' in result['msg']


def _documented_options(options):
    return {name: sorted(_documented_options(option.get('suboptions') or {})) if option.get('suboptions') else None
            for name, option in options.items()}


def _spec_options(spec):
    return {name: sorted(_spec_options(option['options'])) if option.get('options') else None for name, option in spec.items()}


def test_documentation_matches_the_argument_spec():
    documented = dict(yaml.safe_load(ModuleDocFragment.DOCUMENTATION)['options'])
    documented.update(yaml.safe_load(azure_active_active_link.DOCUMENTATION)['options'])
    spec = azure_active_active_link.argument_spec()
    assert _documented_options(documented) == _spec_options(spec)
    module_doc = yaml.safe_load(azure_active_active_link.DOCUMENTATION)['options']
    for name, option in module_doc.items():
        assert option.get('default') == spec[name].get('default'), name
        assert option.get('choices') == spec[name].get('choices'), name
    assert spec['aws_tunnels']['options']['pre_shared_key']['no_log'] is True and spec['secret']['no_log'] is True
    yaml.safe_load(azure_active_active_link.EXAMPLES)
    assert set(yaml.safe_load(azure_active_active_link.RETURN)) == {'gateway', 'connections', 'operations', 'performed', 'pending', 'mode', 'diff'}

from __future__ import annotations

import pytest

from ansible_collections.multicloud.vpn.plugins.module_utils import _ipsec, _plan
from ansible_collections.multicloud.vpn.plugins.modules import vpn_link_plan


def params(**overrides):
    base = dict(scenario='aws_gcp', tunnels=4, azure_mode='bgp', amazon_asn=64512, gcp_asn=65000, azure_asn=65515,
                inside_cidrs=None, inside_cidr_pool=None, taken_inside_cidrs=[], ipsec_profile='gcp_safe',
                pre_shared_keys=None, aws_cidrs=['10.0.0.0/16'], peer_cidrs=['10.10.0.0/16'], probes=[], variables={})
    base.update(overrides)
    return base


def test_aws_gcp_plan_returns_the_used_tunnels_in_plan_order_and_gcp_crypto():
    result = vpn_link_plan.plan_link(params())
    assert [(t['connection'], t['aws_tunnel'], t['external_interface'], t['ha_interface']) for t in result['used_tunnels']] == [
        (0, 1, 0, 0), (0, 2, 1, 0), (1, 1, 2, 1), (1, 2, 3, 1)]
    assert result['plan']['redundancy_type'] == 'FOUR_IPS_REDUNDANCY'
    assert result['gcp_tunnel_crypto']['ikeVersion'] == 2
    assert result['aws_tunnel_options']['phase1_encryption_algorithms'] == ['AES256']
    assert 'azure_ipsec_policy' not in result


def test_aws_azure_bgp_plan_uses_microsofts_apipa_mapping():
    result = vpn_link_plan.plan_link(params(scenario='aws_azure'))
    assert [t['inside_cidr'] for t in result['used_tunnels']] == [
        '169.254.21.0/30', '169.254.22.0/30', '169.254.21.4/30', '169.254.22.4/30']
    assert result['azure_ipsec_policy']['ikeEncryption'] == 'AES256'


@pytest.mark.parametrize('overrides, variables, expected', [
    (dict(inside_cidrs=['169.254.1.0/30', None, None, None]), {'inside_cidrs': 'mcvpn_inside_cidrs'},
     'mcvpn_inside_cidrs[0]: 169.254.1.0/30 is reserved by AWS'),
    (dict(gcp_asn=64512), {'gcp_asn': 'mcvpn_gcp_asn'}, 'mcvpn_gcp_asn'),
    (dict(scenario='aws_azure', ipsec_profile='aws_default'), {'ipsec_profile': 'mcvpn_ipsec_profile'},
     'mcvpn_ipsec_profile.phase1_encryption: Azure cannot express'),
    (dict(pre_shared_keys=['0startswithzero', 'a' * 8, 'b' * 8, 'c' * 8]), {'pre_shared_keys': 'mcvpn_psks'},
     'mcvpn_psks[0]'),
    (dict(inside_cidr_pool='10.0.0.0/16'), {'inside_cidr_pool': 'mcvpn_inside_cidr_pool'},
     'mcvpn_inside_cidr_pool: 10.0.0.0/16 is outside'),
    (dict(pre_shared_keys=['a' * 8]), {'pre_shared_keys': 'mcvpn_psks'}, 'mcvpn_psks: 1 given, the link has 4 tunnels'),
    (dict(peer_cidrs=['10.0.128.0/17']), {'aws_cidrs': 'mcvpn_aws_vpc_cidr'}, 'mcvpn_aws_vpc_cidr: 10.0.0.0/16 overlaps'),
    (dict(probes=[{'name': 'aws_probe', 'side': 'aws', 'address': '10.0.1.10'}]), {'probes': 'groups.mcvpn_probes'},
     'groups.mcvpn_probes: no probe host on the peer side'),
    (dict(probes=[{'name': 'aws_probe', 'side': 'aws', 'address': '10.9.1.10'},
                  {'name': 'gcp_probe', 'side': 'peer', 'address': '10.10.1.10'}]), {}, 'probes: aws_probe (10.9.1.10) is outside'),
])
def test_bad_inventory_values_fail_naming_the_inventory_variable(overrides, variables, expected):
    with pytest.raises(ValueError) as raised:
        vpn_link_plan.plan_link(params(**overrides))
    message = vpn_link_plan._name_inventory_variable(raised.value, variables)
    assert message.startswith(expected) or expected in message
    assert '0startswithzero' not in message


def test_profile_errors_are_profile_errors_and_plan_errors_are_plan_errors():
    with pytest.raises(_ipsec.ProfileError):
        vpn_link_plan.plan_link(params(ipsec_profile={'phase1_lifetime': 5}))
    with pytest.raises(_plan.PlanError):
        vpn_link_plan.plan_link(params(tunnels=3))

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.multicloud.vpn.plugins.filter import vpn_link
from ansible_collections.multicloud.vpn.plugins.module_utils import _plan

PLAN4 = _plan.plan_aws_gcp(tunnels=4, amazon_asn=64512, gcp_asn=65000)
PLAN1 = _plan.plan_aws_gcp(tunnels=1, amazon_asn=64512, gcp_asn=65000)
OUTSIDE = {(0, 1): '203.0.113.10', (0, 2): '203.0.113.20', (1, 1): '203.0.113.30', (1, 2): '203.0.113.40'}


def aws_result(plan, status='UP'):
    connections = []
    for connection in plan['connections']:
        tunnels = [{'tunnel': 't%d' % t['aws_tunnel'], 'outside_ip': OUTSIDE[(t['connection'], t['aws_tunnel'])],
                    'inside_cidr': t['inside_cidr'], 'status': status, 'pre_shared_key': 'key_%d_%d_abcdef' % (t['connection'], t['aws_tunnel'])}
                   for t in plan['tunnels'] if t['connection'] == connection['index']]
        connections.append({'tunnels': tunnels})
    return {'connections': connections}


def test_aws_connections_give_each_connection_its_gateway_ip_and_both_planned_cidrs():
    connections = vpn_link.aws_connections(PLAN4, ['198.51.100.1', '198.51.100.2'], ['k%d_abcdefgh' % i for i in range(4)])
    assert [c['customer_gateway_ip'] for c in connections] == ['198.51.100.1', '198.51.100.2']
    assert [[t['inside_cidr'] for t in c['tunnels']] for c in connections] == [
        [t['inside_cidr'] for t in PLAN4['tunnels'] if t['connection'] == index] for index in (0, 1)]
    assert [t.get('pre_shared_key') for c in connections for t in c['tunnels']] == ['k%d_abcdefgh' % i for i in range(4)]


def test_unused_tunnel_gets_no_key_and_one_tunnel_needs_one_gateway():
    connections = vpn_link.aws_connections(PLAN1, ['198.51.100.1'], ['only_key_abc'])
    assert len(connections) == 1
    assert [t.get('pre_shared_key') for t in connections[0]['tunnels']] == ['only_key_abc', None]
    with pytest.raises(AnsibleFilterError):
        vpn_link.aws_connections(PLAN4, ['198.51.100.1'])


def test_peer_tunnels_follow_the_plan_order_and_key_by_aws_tunnel():
    tunnels = vpn_link.peer_tunnels(PLAN4, aws_result(PLAN4))
    assert [t['outside_ip'] for t in tunnels] == ['203.0.113.10', '203.0.113.20', '203.0.113.30', '203.0.113.40']
    assert [t['aws_tunnel'] for t in tunnels] == ['t1', 't2', 't1', 't2']
    assert all(t['amazon_asn'] == 64512 for t in tunnels)


def test_link_report_is_up_only_when_both_clouds_say_so():
    gcp = {'tunnels': [{'peer_ip': ip, 'status': 'ESTABLISHED', 'bgp_peer': {'status': 'UP', 'num_learned_routes': 1}}
                       for ip in OUTSIDE.values()]}
    assert vpn_link.link_report(PLAN4, aws_result(PLAN4), gcp)['all_up'] is True
    gcp['tunnels'][2]['bgp_peer']['status'] = 'DOWN'
    report = vpn_link.link_report(PLAN4, aws_result(PLAN4), gcp)
    assert report['all_up'] is False and [row['up'] for row in report['tunnels']] == [True, True, False, True]
    assert report['aws_all_up'] is True
    assert vpn_link.link_report(PLAN4, aws_result(PLAN4, 'DOWN'), gcp)['aws_all_up'] is False
    assert len(report['lines']) == 4 and 'key_' not in ''.join(report['lines'])


def azure_result(plan, bgp_state='Connected'):
    """azure_active_active_link gathered: one connection per used tunnel; each AWS inside address is listed as a BGP
    neighbor of both gateway instances, as Azure lists it, and only the instance of the tunnel's APIPA address
    (the one its AWS connection ends on) can have the session established."""
    connections, peers = [], []
    for tunnel in (t for t in plan['tunnels'] if t['used']):
        connections.append({'name': 'conn-%s' % tunnel['name_suffix'], 'aws_outside_ip': OUTSIDE[(tunnel['connection'], tunnel['aws_tunnel'])],
                            'connection_status': 'Connected', 'aws_inside_ip': tunnel['aws_inside_ip'],
                            'azure_apipa_ip': tunnel['azure_apipa_ip']})
        if tunnel['azure_apipa_ip']:
            other_instance = plan['azure_gateway_apipa'][1 - tunnel['connection']][tunnel['aws_tunnel'] - 1]
            peers.append({'neighbor': tunnel['aws_inside_ip'], 'local_address': other_instance, 'state': 'Connecting', 'routes_received': 0})
            peers.append({'neighbor': tunnel['aws_inside_ip'], 'local_address': tunnel['azure_apipa_ip'], 'state': bgp_state,
                          'routes_received': 1})
    return {'connections': connections, 'gateway': {'bgp': {'peers': peers}}}


def test_link_report_azure_bgp_needs_the_session_of_the_tunnels_own_instance():
    plan = _plan.plan_aws_azure(mode='bgp', amazon_asn=64512)
    assert vpn_link.link_report(plan, aws_result(plan), azure_result(plan), 'azure')['all_up'] is True
    report = vpn_link.link_report(plan, aws_result(plan), azure_result(plan, bgp_state='Connecting'), 'azure')
    assert report['all_up'] is False and {row['bgp'] for row in report['tunnels']} == {'Connecting (1 routes)'}
    unread = dict(azure_result(plan), gateway={'bgp': {}})   # gateway still provisioning: BGP status not read
    assert vpn_link.link_report(plan, aws_result(plan), unread, 'azure')['all_up'] is False


def test_link_report_azure_static_has_two_tunnels_and_no_bgp():
    plan = _plan.plan_aws_azure(mode='static', amazon_asn=64512)
    report = vpn_link.link_report(plan, aws_result(plan), azure_result(plan), 'azure')
    assert report['all_up'] is True and len(report['lines']) == 2
    missing = vpn_link.link_report(plan, aws_result(plan), {'connections': []}, 'azure')
    assert missing['all_up'] is False and {row['peer_status'] for row in missing['tunnels']} == {'no connection'}

# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters that hand one cloud's results to the next module of a link, keyed by the plan."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError


def _used_tunnels(plan: dict) -> list:
    return [tunnel for tunnel in plan['tunnels'] if tunnel['used']]


def aws_connections(plan: dict, customer_gateway_ips: list, pre_shared_keys=None, static_routes=None) -> list:
    """The `connections` option of multicloud.vpn.aws_vpn_connection for a planned link.

    Connection i gets customer gateway IP i (GCP HA interface i, or Azure instance i's public IP)
    and both its tunnels' planned inside CIDRs; pre_shared_keys (plan order of the used tunnels)
    go to the used tunnels, the unused second tunnel of a connection gets an AWS-generated key.
    """
    if len(customer_gateway_ips) < len(plan['customer_gateways']):
        raise AnsibleFilterError('aws_connections: the plan needs %d customer gateway IPs, got %d'
                                 % (len(plan['customer_gateways']), len(customer_gateway_ips)))
    keys = dict(zip([(t['connection'], t['aws_tunnel']) for t in _used_tunnels(plan)], pre_shared_keys or []))
    connections = []
    for connection in plan['connections']:
        gateway = plan['customer_gateways'][connection['customer_gateway']]
        static = bool(connection.get('static_routes_only'))
        tunnels = []
        for tunnel in sorted((t for t in plan['tunnels'] if t['connection'] == connection['index']), key=lambda t: t['aws_tunnel']):
            entry = {'inside_cidr': tunnel['inside_cidr']}
            key = keys.get((tunnel['connection'], tunnel['aws_tunnel']))
            if key:
                entry['pre_shared_key'] = key
            tunnels.append(entry)
        entry = {'customer_gateway_ip': customer_gateway_ips[connection['customer_gateway']],
                 'customer_gateway_asn': gateway['bgp_asn'], 'static_routes_only': static, 'tunnels': tunnels}
        if static:
            entry['static_routes'] = list(static_routes or [])
        connections.append(entry)
    return connections


def peer_tunnels(plan: dict, aws_result: dict) -> list:
    """The `aws_tunnels` option of gcp_ha_vpn_link / azure_active_active_link.

    For each used tunnel of the plan, the AWS tunnel that aws_vpn_connection built for it (its
    connection's t1/t2), with the outside IP, inside CIDR, Amazon ASN and pre-shared key (the
    result must come from a `return_secrets: true` call registered with no_log).
    """
    connections = aws_result.get('connections') or []
    tunnels = []
    for planned in _used_tunnels(plan):
        if planned['connection'] >= len(connections):
            raise AnsibleFilterError('peer_tunnels: AWS connection %d of the plan does not exist (yet)' % planned['connection'])
        built = {tunnel['tunnel']: tunnel for tunnel in connections[planned['connection']].get('tunnels', [])}
        tunnel = built.get('t%d' % planned['aws_tunnel'])
        if tunnel is None:
            raise AnsibleFilterError('peer_tunnels: tunnel t%d of AWS connection %d is missing' % (planned['aws_tunnel'], planned['connection']))
        entry = {'connection': planned['connection'], 'aws_tunnel': 't%d' % planned['aws_tunnel'],
                 'outside_ip': tunnel['outside_ip'], 'inside_cidr': tunnel['inside_cidr'],
                 'amazon_asn': planned['amazon_asn']}
        if tunnel.get('pre_shared_key'):
            entry['pre_shared_key'] = tunnel['pre_shared_key']
        tunnels.append(entry)
    return tunnels


def _aws_tunnel(aws_result: dict, planned: dict) -> dict:
    connections = aws_result.get('connections') or []
    if planned['connection'] >= len(connections):
        return {}
    by_name = {tunnel.get('tunnel'): tunnel for tunnel in connections[planned['connection']].get('tunnels', [])}
    return by_name.get('t%d' % planned['aws_tunnel'], {})


def _gcp_view(peer_result: dict, outside_ip: str) -> dict:
    for tunnel in peer_result.get('tunnels') or []:
        if tunnel.get('peer_ip') == outside_ip:
            peer = tunnel.get('bgp_peer') or {}
            return {'name': tunnel.get('name'), 'up': tunnel.get('status') == 'ESTABLISHED', 'status': tunnel.get('status'),
                    'bgp_up': peer.get('status') == 'UP',
                    'bgp': '%s (%s routes)' % (peer.get('status', 'no peer'), peer.get('num_learned_routes', 0))}
    return {'name': None, 'up': False, 'status': 'no tunnel', 'bgp_up': False, 'bgp': 'no peer'}


def _azure_bgp_session(peers, connection: dict) -> dict | None:
    """The gateway's BGP peer of one connection: neighbor = the AWS inside IP, local = the connection's APIPA address.

    An active-active gateway lists each neighbor once per instance; only the instance the AWS
    connection ends on can establish the session, so its entry (local address = the connection's
    custom APIPA address) decides. None when the status was not read (gateway still provisioning).
    """
    if peers is None:
        return None
    neighbor = [peer for peer in peers if peer.get('neighbor') and peer.get('neighbor') == connection.get('aws_inside_ip')]
    local = [peer for peer in neighbor if peer.get('local_address') == connection.get('azure_apipa_ip')]
    candidates = local or neighbor
    established = [peer for peer in candidates if peer.get('state') == 'Connected']
    return (established or candidates or [{'state': 'no peer'}])[0]


def _azure_view(peer_result: dict, outside_ip: str, bgp: bool) -> dict:
    peers = ((peer_result.get('gateway') or {}).get('bgp') or {}).get('peers')
    for connection in peer_result.get('connections') or []:
        if connection.get('aws_outside_ip') == outside_ip:
            up = connection.get('connection_status') == 'Connected'
            view = {'name': connection.get('name'), 'up': up, 'status': connection.get('connection_status'), 'bgp_up': True,
                    'bgp': 'n/a (static routes)'}
            if bgp:
                session = _azure_bgp_session(peers, connection)
                if session is None:
                    view.update(bgp_up=False, bgp='not read')
                else:
                    view.update(bgp_up=session.get('state') == 'Connected',
                                bgp='%s (%s routes)' % (session.get('state'), session.get('routes_received') or 0))
            return view
    return {'name': None, 'up': False, 'status': 'no connection', 'bgp_up': False, 'bgp': 'no peer' if bgp else 'n/a (static routes)'}


def link_report(plan: dict, aws_result: dict, peer_result: dict, peer: str = 'gcp') -> dict:
    """One line per planned tunnel, from each cloud's own API status, and whether all are up.

    aws_result: aws_vpn_connection (state gathered); peer_result: gcp_ha_vpn_link or
    azure_active_active_link (state gathered). A tunnel is up when AWS reports it UP and the
    peer cloud reports it established/connected (and its BGP session up, for BGP links).
    """
    bgp = plan.get('mode', 'bgp') == 'bgp'
    rows, lines = [], []
    for planned in _used_tunnels(plan):
        aws = _aws_tunnel(aws_result, planned)
        outside_ip = aws.get('outside_ip')
        view = _gcp_view(peer_result, outside_ip) if peer == 'gcp' else _azure_view(peer_result, outside_ip, bgp)
        aws_up = aws.get('status') == 'UP'
        up = aws_up and view['up'] and view['bgp_up']
        label = 'c%d/t%d' % (planned['connection'] + 1, planned['aws_tunnel'])
        rows.append({'tunnel': label, 'aws_outside_ip': outside_ip, 'inside_cidr': planned['inside_cidr'], 'up': up,
                     'aws_status': aws.get('status', 'missing'), 'peer_status': view['status'], 'bgp': view['bgp']})
        lines.append('%-6s %-15s inside %-18s AWS %-4s (%s) | %s %s | BGP %s -> %s' % (
            label, outside_ip or '-', planned['inside_cidr'], aws.get('status', 'missing'), aws.get('status_message') or '',
            peer.upper(), view['status'], view['bgp'], 'UP' if up else 'DOWN'))
    return {'all_up': bool(rows) and all(row['up'] for row in rows),
            'aws_all_up': bool(rows) and all(row['aws_status'] == 'UP' for row in rows), 'tunnels': rows, 'lines': lines}


class FilterModule:
    def filters(self) -> dict:
        return {'aws_connections': aws_connections, 'peer_tunnels': peer_tunnels, 'link_report': link_report}

# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: aws_vpn_connection
short_description: Customer gateways, VPN connections and their tunnel options for a whole AWS link, in one task
version_added: 0.1.0
description:
  - Creates, repairs, reads or removes the AWS side of a site-to-site link in one invocation - one customer
    gateway and one Site-to-Site VPN connection per entry of O(connections), to one virtual private gateway or
    transit gateway.
  - Every tunnel's options (inside CIDR, pre-shared key, IKE/IPsec profile and overrides) are given B(at
    creation) in C(Options.TunnelOptions), so AWS never picks an inside CIDR that collides with the plan of the
    next connection. Later differences are repaired with C(ModifyVpnTunnelOptions) by the same per-tunnel
    reconciler as M(multicloud.vpn.aws_vpn_tunnel_options) - only tunnels that differ, one at a time, waiting
    for C(available) between them.
  - Tunnels are named V(t1) and V(t2) - the tunnels created with the first and the second entry of
    O(connections[].tunnels). AWS keys tunnels by outside IP; the mapping (by the inside CIDR first asked for)
    is recorded in the connection's tags C(mcvpn:t1) and C(mcvpn:t2), so a drifted inside CIDR cannot confuse it.
  - Objects are found again after an interrupted run - customer gateways by IP, ASN and C(DeviceName) (the link
    O(name)), connections by customer gateway, gateway and the tag C(mcvpn:link=<name>) - and a customer gateway
    never gets a second connection to the same gateway. C(CreateVpnConnection) has no idempotency token, so a
    create whose answer is lost is looked up again before it is retried.
  - Pre-shared keys are given per tunnel or generated at creation (32 characters every cloud accepts) and kept
    by AWS. With O(return_secrets=true) they are returned in RV(connections[].tunnels[].pre_shared_key) for the
    peer cloud; the task must then set C(no_log=true).
  - Why this module and not M(amazon.aws.ec2_vpc_vpn) and M(community.aws.ec2_customer_gateway).
    M(amazon.aws.ec2_vpc_vpn) fails as soon as C(tunnel_options) are given (it passes unset keys such as
    C(TunnelInsideIpv6Cidr=None) to botocore; amazon.aws issues 2683 and 2546) and never compares the PSK or the
    inside CIDR afterwards; created without tunnel options, AWS picks random inside CIDRs that can collide with
    the next connection's plan. M(community.aws.ec2_customer_gateway) matches by IP address only, never compares
    the BGP ASN and tags with a separate call. And each boto3 module task costs about 1.1 s before its first API
    call - one task for the whole link instead of six or more.
author:
  - multicloud.vpn contributors (@multicloud-vpn)
extends_documentation_fragment:
  - multicloud.vpn.aws
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports what would be created, modified or deleted; writes nothing. Outside IPs of connections not yet created are null.
  diff_mode:
    support: full
    details: Before and after per customer gateway IP, pre-shared keys masked.
  platform:
    platforms: posix
options:
  name:
    description:
      - The link's name. Used in the C(Name) tags (C(<name>-cgw1), C(<name>-vpn1), ...), as the customer gateways'
        C(DeviceName), and in the ownership tag C(mcvpn:link).
    type: str
    required: true
  vpn_gateway_id:
    description: The virtual private gateway the connections attach to. Required (or O(transit_gateway_id)) with O(state=present).
    type: str
  transit_gateway_id:
    description: The transit gateway the connections attach to.
    type: str
  connections:
    description:
      - The connections of the link, one per customer gateway. Required with O(state=present).
    type: list
    elements: dict
    default: []
    suboptions:
      customer_gateway_ip:
        description: The customer gateway's public IPv4 address (for GCP, an HA VPN interface IP; for Azure, a gateway public IP).
        type: str
        required: true
      customer_gateway_asn:
        description:
          - The customer side's BGP ASN. Required for dynamic routing; 65000 for static routing when not given.
          - AWS cannot change a customer gateway's ASN; a different ASN for an existing connection is refused with a message.
        type: int
      static_routes_only:
        description: Static routing (no BGP). Fixed at creation.
        type: bool
        default: false
      static_routes:
        description:
          - The prefixes routed over a static connection. When given, exactly these routes are kept
            (C(CreateVpnConnectionRoute) and C(DeleteVpnConnectionRoute)).
        type: list
        elements: str
      tunnels:
        description: Exactly two entries, t1 then t2.
        type: list
        elements: dict
        required: true
        suboptions:
          inside_cidr:
            description:
              - The tunnel's /30 inside CIDR from 169.254.0.0/16 (AWS takes the first host, the customer gateway the
                second), unique across the link; or a /126 from fd00::/8 on a transit gateway.
            type: str
            required: true
          pre_shared_key:
            description:
              - The tunnel's pre-shared key (8-64 letters, digits, C(.) and C(_), not starting with C(0)). When not
                given, one is generated at creation and a later run does not compare it.
            type: str
          tunnel_options:
            description:
              - Options for this tunnel only, with the names of M(multicloud.vpn.aws_vpn_tunnel_options)'s
                O(multicloud.vpn.aws_vpn_tunnel_options#module:tunnels) entries (for example C(phase2_lifetime_seconds),
                C(dpd_timeout_action), C(log_options)). Not the inside CIDR or the key, which have their own options.
            type: dict
  ipsec_profile:
    description:
      - A named IKE/IPsec profile (V(gcp_safe), V(modern_gcm), V(ikev1_compat), V(aws_default)) or a dict
        with the key C(name) (a profile to start from) and profile fields to override; applied to every tunnel.
      - When not given, the tunnels keep AWS's default proposals.
    type: raw
  tunnel_options:
    description:
      - Options for every tunnel of the link (names as in M(multicloud.vpn.aws_vpn_tunnel_options)); they win over
        O(ipsec_profile), and O(connections[].tunnels[].tunnel_options) win over them.
    type: dict
  tags:
    description: Extra tags for the customer gateways and connections created.
    type: dict
  purge_connections:
    description:
      - With O(state=present), delete the link's connections (tag C(mcvpn:link=<name>)) on this gateway whose
        customer gateway is no longer in O(connections), and then the customer gateways the link created for them.
    type: bool
    default: true
  state:
    description:
      - V(present) creates and repairs; V(absent) deletes the link's connections, waits until they are deleted,
        then deletes the customer gateways the link created (tag C(mcvpn:link)); V(gathered) only reads the link's
        connections with tunnel telemetry (poll it with C(until)/C(retries)) and never writes.
    type: str
    choices: [present, absent, gathered]
    default: present
  wait:
    description: Wait until every connection is C(available) (after creation), or deleted with O(state=absent).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait in all.
    type: int
    default: 900
  return_secrets:
    description:
      - Return the tunnels' pre-shared keys in RV(connections[].tunnels[].pre_shared_key). Set C(no_log=true) on the task.
    type: bool
    default: false
notes:
  - Deleting a connection releases its outside IPs; a connection that must be re-created gets new ones.
  - Tunnel modifications replace the tunnel endpoint (short outage of that tunnel); they run one tunnel at a time.
seealso:
  - module: multicloud.vpn.aws_vpn_tunnel_options
  - module: amazon.aws.ec2_vpc_vgw
"""

EXAMPLES = r"""
- name: AWS side of a 4-tunnel AWS <-> GCP HA VPN link, keys returned for the GCP side
  multicloud.vpn.aws_vpn_connection:
    name: aws-gcp
    vpn_gateway_id: "{{ vgw.vgw.id }}"
    ipsec_profile: gcp_safe
    connections:
      - customer_gateway_ip: "{{ gcp_gateway.ha_vpn_gateway.interfaces[0].ip_address }}"
        customer_gateway_asn: 65534
        tunnels:
          - inside_cidr: 169.254.10.0/30
          - inside_cidr: 169.254.10.4/30
      - customer_gateway_ip: "{{ gcp_gateway.ha_vpn_gateway.interfaces[1].ip_address }}"
        customer_gateway_asn: 65534
        tunnels:
          - inside_cidr: 169.254.11.0/30
          - inside_cidr: 169.254.11.4/30
    return_secrets: true
  register: aws_link
  no_log: true

- name: Static routing toward Azure
  multicloud.vpn.aws_vpn_connection:
    name: aws-azure
    vpn_gateway_id: vgw-0123456789abcdef0
    ipsec_profile: gcp_safe
    connections:
      - customer_gateway_ip: 198.51.100.20
        static_routes_only: true
        static_routes: [10.1.0.0/16]
        tunnels:
          - inside_cidr: 169.254.21.0/30
            pre_shared_key: "{{ vault_psk_1 }}"
          - inside_cidr: 169.254.22.0/30
            pre_shared_key: "{{ vault_psk_2 }}"
  no_log: true

- name: Wait until every tunnel is UP
  multicloud.vpn.aws_vpn_connection:
    name: aws-gcp
    state: gathered
  register: aws_link_state
  until: aws_link_state.tunnel_status.values() | map(attribute='status') | unique == ['UP']
  retries: 30
  delay: 10

- name: Remove the link's connections and customer gateways
  multicloud.vpn.aws_vpn_connection:
    name: aws-gcp
    state: absent
"""

RETURN = r"""
connections:
  description: The link's connections, in the order of O(connections) (with O(state=gathered), by C(Name) tag).
  returned: with state present or gathered
  type: list
  elements: dict
  contains:
    vpn_connection_id:
      description: The connection (null in check mode before creation).
      type: str
    customer_gateway_id:
      description: Its customer gateway.
      type: str
    customer_gateway_ip:
      description: The customer gateway's IP address.
      type: str
    customer_gateway_asn:
      description: The customer gateway's BGP ASN.
      type: int
    state:
      description: C(pending), C(available), C(modifying), ...
      type: str
    type:
      description: Always C(ipsec.1).
      type: str
    static_routes_only:
      description: Static routing.
      type: bool
    static_routes:
      description: Static routes in place (not being deleted).
      type: list
      elements: str
    changed_options:
      description: What was (or would be) done on this connection - C(create), C(tags), C(routes), or tunnel option names.
      type: list
      elements: str
    tunnels:
      description: t1 then t2.
      type: list
      elements: dict
      contains:
        tunnel:
          description: V(t1) or V(t2).
          type: str
        outside_ip:
          description: AWS's outside IP of the tunnel (the external gateway interface of the peer cloud).
          type: str
        inside_cidr:
          description: The tunnel's inside CIDR.
          type: str
        aws_inside_ip:
          description: AWS's inside address (first host of the /30, the peer's BGP neighbour).
          type: str
        customer_inside_ip:
          description: The customer side's inside address (second host).
          type: str
        status:
          description: Telemetry status, V(UP) or V(DOWN).
          type: str
        status_message:
          description: Telemetry status message.
          type: str
        accepted_route_count:
          description: Routes AWS accepted from this tunnel.
          type: int
        changed_options:
          description: Tunnel options that were (or would be) modified.
          type: list
          elements: str
        pre_shared_key:
          description: The tunnel's pre-shared key. Only with O(return_secrets=true).
          type: str
tunnel_status:
  description: Telemetry keyed by outside IP - C({vpn_connection_id, tunnel, status, status_message, accepted_route_count}).
  returned: with state present or gathered
  type: dict
deleted:
  description: What was (or would be) deleted - C({vpn_connections, customer_gateways}).
  returned: always
  type: dict
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.multicloud.vpn.plugins.module_utils._aws import (
    AwsError,
    aws_argument_spec,
    call,
    create_once,
    ec2_client,
    poll_until,
    single_attempt_params,
    wait_vpn_connection_available,
)
from ansible_collections.multicloud.vpn.plugins.module_utils._aws_vpn import (
    LINK_TAG,
    TUNNEL_NAMES,
    Backoff,
    TunnelOptionsError,
    apply_tunnel_changes,
    connection_gateway_id,
    creation_options,
    customer_gateway_asn,
    customer_gateway_parameters,
    find_customer_gateway,
    is_owned,
    link_tags,
    live,
    mapping_tags,
    masked,
    plan_tunnel_changes,
    secrets_of_connection,
    static_route_changes,
    tag_list,
    tags_dict,
    telemetry_by_outside_ip,
    tunnel_mapping,
    tunnel_options_of,
    tunnel_summary,
    validate_link,
)
from ansible_collections.multicloud.vpn.plugins.module_utils._psk import generate_psk

FIRST_POLL_SECONDS = 0.25


def argument_spec() -> dict:
    tunnel = dict(inside_cidr=dict(type='str', required=True), pre_shared_key=dict(type='str', no_log=True),
                  tunnel_options=dict(type='dict'))
    connection = dict(
        customer_gateway_ip=dict(type='str', required=True),
        customer_gateway_asn=dict(type='int'),
        static_routes_only=dict(type='bool', default=False),
        static_routes=dict(type='list', elements='str'),
        tunnels=dict(type='list', elements='dict', required=True, options=tunnel),
    )
    spec = aws_argument_spec()
    spec.update(
        name=dict(type='str', required=True),
        vpn_gateway_id=dict(type='str'),
        transit_gateway_id=dict(type='str'),
        connections=dict(type='list', elements='dict', default=[], options=connection),
        ipsec_profile=dict(type='raw'),
        tunnel_options=dict(type='dict'),
        tags=dict(type='dict'),
        purge_connections=dict(type='bool', default=True),
        state=dict(type='str', choices=['present', 'absent', 'gathered'], default='present'),
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=900),
        return_secrets=dict(type='bool', default=False),
    )
    return spec


class Link:
    """One invocation of the module: the link's objects in AWS and what to do with them."""

    def __init__(self, module: AnsibleModule, client=None, sleep=time.sleep) -> None:
        self.module = module
        self.params = module.params
        self.name = self.params['name']
        self.deadline = time.monotonic() + self.params['wait_timeout']
        self.sleep = sleep
        self.client = client
        self._single_attempt_client = None
        self.warnings: list = []
        if self.params['transit_gateway_id']:
            self.gateway_filter, self.gateway_id = 'transit-gateway-id', self.params['transit_gateway_id']
        else:
            self.gateway_filter, self.gateway_id = 'vpn-gateway-id', self.params['vpn_gateway_id']

    # -- plumbing ---------------------------------------------------------------------------------
    def ec2(self):
        if self.client is None:
            self.client = ec2_client(self.params)
        return self.client

    def single_attempt_client(self):
        """A client without botocore retries, for the one create that is not idempotent (CreateVpnConnection)."""
        if self._single_attempt_client is None:
            self._single_attempt_client = ec2_client(single_attempt_params(self.params))
        return self._single_attempt_client

    def remaining(self) -> float:
        return max(1.0, self.deadline - time.monotonic())

    def hide_secrets_of(self, connections: list) -> None:
        if not self.params['return_secrets']:
            for connection in connections:
                self.module.no_log_values.update(secrets_of_connection(connection))

    def describe_connections(self, filters: list) -> list:
        connections = call(self.ec2(), 'describe_vpn_connections', Filters=filters).get('VpnConnections') or []
        self.hide_secrets_of(connections)
        return connections

    def describe_by_ids(self, ids: list) -> list:
        if not ids:
            return []
        connections = call(self.ec2(), 'describe_vpn_connections', VpnConnectionIds=ids).get('VpnConnections') or []
        self.hide_secrets_of(connections)
        return connections

    def wait_connections(self, ids: list, ready: str) -> list:
        """One DescribeVpnConnections per poll for all connections; ready = available | deleted."""

        def fetch() -> list:
            try:
                return self.describe_by_ids(ids)
            except AwsError as error:
                if ready == 'deleted' and error.code == 'InvalidVpnConnectionID.NotFound':
                    return []
                raise

        def state_of(connections: list) -> str:
            states = {connection['VpnConnectionId']: connection.get('State') for connection in connections}
            waiting = [states.get(vpn_id, 'deleted' if ready == 'deleted' else 'unknown') for vpn_id in ids]
            return next((state for state in waiting if state != ready), ready)

        return poll_until(fetch, state_of, what='VPN connections %s' % ', '.join(ids), ready=(ready,),
                          failed=('deleting', 'deleted') if ready == 'available' else (), timeout=self.remaining(),
                          sleep=FIRST_POLL_SECONDS, sleeper=Backoff(), transient_codes=('InvalidVpnConnectionID.NotFound',))

    # -- state: present --------------------------------------------------------------------------
    def present(self) -> dict:
        params = self.params
        if not self.gateway_id:
            raise TunnelOptionsError('vpn_gateway_id: state present needs vpn_gateway_id or transit_gateway_id', option='vpn_gateway_id')
        if not params['connections']:
            raise TunnelOptionsError('connections: state present needs at least one connection', option='connections')
        desired = validate_link(params['connections'], profile=params['ipsec_profile'], tunnel_options=params['tunnel_options'],
                                transit_gateway=bool(params['transit_gateway_id']))
        ips = [connection.customer_gateway_ip for connection in desired]
        customer_gateways = call(self.ec2(), 'describe_customer_gateways',
                                 Filters=[{'Name': 'ip-address', 'Values': ips}]).get('CustomerGateways') or []
        gateways_by_id = {gateway['CustomerGatewayId']: gateway for gateway in customer_gateways}
        on_gateway = [connection for connection in live(self.describe_connections([{'Name': self.gateway_filter, 'Values': [self.gateway_id]}]))
                      if connection_gateway_id(connection) == self.gateway_id]
        ours = [connection for connection in on_gateway if is_owned(connection, self.name)]

        steps, matched_ids = [], set()
        for connection in desired:
            gateway = find_customer_gateway(customer_gateways, connection.customer_gateway_ip, connection.customer_gateway_asn,
                                            self.name, self.name)
            existing = None
            if gateway is not None:
                users = [item for item in on_gateway if item.get('CustomerGatewayId') == gateway['CustomerGatewayId']]
                mine = [item for item in users if is_owned(item, self.name)]
                if len(mine) > 1:
                    raise TunnelOptionsError('%s: customer gateway %s has %d connections of link %s (%s); delete all but one'
                                             % (connection.path, gateway['CustomerGatewayId'], len(mine), self.name,
                                                ', '.join(item['VpnConnectionId'] for item in mine)), option=connection.path)
                if users and not mine:
                    raise TunnelOptionsError('%s: %s already connects customer gateway %s to %s but is not tagged %s=%s; tag it to adopt it, '
                                             'or delete it' % (connection.path, users[0]['VpnConnectionId'], gateway['CustomerGatewayId'],
                                                               self.gateway_id, LINK_TAG, self.name), option=connection.path)
                existing = mine[0] if mine else None
            if existing is not None:
                matched_ids.add(existing['VpnConnectionId'])
            steps.append(self.plan_connection(connection, gateway, existing))

        stale = [connection for connection in ours if connection['VpnConnectionId'] not in matched_ids]
        for connection in stale:
            gateway = gateways_by_id.get(connection.get('CustomerGatewayId'))
            same_ip = [item for item in desired if gateway and gateway.get('IpAddress') == item.customer_gateway_ip]
            if same_ip:
                raise TunnelOptionsError('%s.customer_gateway_asn: %s (link %s) uses customer gateway %s with ASN %s, not %d; AWS cannot change a '
                                         'customer gateway\'s ASN: delete the connection (state: absent, or leave it out of connections) '
                                         'and run again' % (same_ip[0].path, connection['VpnConnectionId'], self.name,
                                                            gateway['CustomerGatewayId'], customer_gateway_asn(gateway),
                                                            same_ip[0].customer_gateway_asn), option=same_ip[0].path + '.customer_gateway_asn')
        if not params['purge_connections'] and stale:
            self.warnings.append('connections of link %s no longer listed and kept (purge_connections: false): %s'
                                 % (self.name, ', '.join(connection['VpnConnectionId'] for connection in stale)))
            stale = []
        stale_gateways = self.stale_customer_gateways(stale, customer_gateways, steps)

        changed = any(step['actions'] for step in steps) or bool(stale)
        result: dict = {'changed': changed, 'deleted': {'vpn_connections': [connection['VpnConnectionId'] for connection in stale],
                                                        'customer_gateways': [gateway['CustomerGatewayId'] for gateway in stale_gateways]}}
        if self.module._diff:
            result['diff'] = self.diff(steps, stale, gateways_by_id)
        if not self.module.check_mode and changed:
            self.apply(steps, stale, stale_gateways)
        result['connections'] = [self.connection_result(step) for step in steps]
        result['tunnel_status'] = tunnel_status(result['connections'])
        return result

    def plan_connection(self, connection, gateway: dict | None, existing: dict | None) -> dict:
        step = {'desired': connection, 'customer_gateway': gateway, 'connection': existing, 'actions': [], 'mapping': {},
                'tunnel_plan': None, 'routes_to_add': [], 'routes_to_delete': []}
        if gateway is None:
            step['actions'].append('create_customer_gateway')
        if existing is None:
            step['actions'].append('create')
            step['routes_to_add'] = list(connection.static_routes or [])
            return step
        static = bool((existing.get('Options') or {}).get('StaticRoutesOnly'))
        if static != connection.static_routes_only:
            raise TunnelOptionsError('%s.static_routes_only: %s was created with %s routing; AWS cannot change it: delete the connection '
                                     'and run again' % (connection.path, existing['VpnConnectionId'], 'static' if static else 'dynamic (BGP)'),
                                     option=connection.path + '.static_routes_only')
        mapping, write_tags = tunnel_mapping(existing, connection.inside_cidrs)
        step['mapping'] = mapping
        if write_tags:
            step['actions'].append('tags')
        plan = plan_tunnel_changes(existing, connection.tunnel_desires(mapping))
        self.warnings.extend(plan.warnings)
        step['tunnel_plan'] = plan
        if plan.changed:
            step['actions'].append('tunnel_options')
        step['routes_to_add'], step['routes_to_delete'] = static_route_changes(connection.static_routes, existing)
        if step['routes_to_add'] or step['routes_to_delete']:
            step['actions'].append('routes')
        return step

    def stale_customer_gateways(self, stale: list, customer_gateways: list, steps: list) -> list:
        """The link's own customer gateways of stale connections that no desired connection keeps."""
        if not stale:
            return []
        kept = {step['customer_gateway']['CustomerGatewayId'] for step in steps if step['customer_gateway']}
        ids = sorted({connection['CustomerGatewayId'] for connection in stale} - kept)
        known = {gateway['CustomerGatewayId']: gateway for gateway in customer_gateways}
        missing = [gateway_id for gateway_id in ids if gateway_id not in known]
        if missing:
            for gateway in call(self.ec2(), 'describe_customer_gateways', CustomerGatewayIds=missing).get('CustomerGateways') or []:
                known[gateway['CustomerGatewayId']] = gateway
        return [known[gateway_id] for gateway_id in ids if gateway_id in known and is_owned(known[gateway_id], self.name)
                and known[gateway_id].get('State') in ('pending', 'available')]

    def apply(self, steps: list, stale: list, stale_gateways: list) -> None:
        created = []
        for step in steps:
            connection = step['desired']
            if 'create_customer_gateway' in step['actions']:
                parameters = customer_gateway_parameters(connection.customer_gateway_ip, connection.customer_gateway_asn, self.name,
                                                         link_tags(self.name, 'cgw', connection.index, self.params['tags']))
                step['customer_gateway'] = call(self.ec2(), 'create_customer_gateway', **parameters)['CustomerGateway']
            if 'create' in step['actions']:
                step['connection'] = self.create_connection(step)
                created.append(step['connection']['VpnConnectionId'])
        for step in steps:
            existing = step['connection']
            vpn_id = existing['VpnConnectionId']
            if 'tags' in step['actions']:
                call(self.ec2(), 'create_tags', Resources=[vpn_id], Tags=mapping_tags(step['mapping']))
            for cidr in step['routes_to_delete']:
                call(self.ec2(), 'delete_vpn_connection_route', VpnConnectionId=vpn_id, DestinationCidrBlock=cidr)
            for cidr in step['routes_to_add']:
                call(self.ec2(), 'create_vpn_connection_route', VpnConnectionId=vpn_id, DestinationCidrBlock=cidr)
            if step['tunnel_plan'] is not None and step['tunnel_plan'].changed:
                step['connection'] = self.modify_tunnels(step['tunnel_plan'], existing) or existing
        deleting = []
        for connection in stale:
            call(self.ec2(), 'delete_vpn_connection', VpnConnectionId=connection['VpnConnectionId'])
            deleting.append(connection['VpnConnectionId'])
        if deleting and (stale_gateways or self.params['wait']):
            self.wait_connections(deleting, 'deleted')
        self.delete_customer_gateways(stale_gateways)
        ids = [step['connection']['VpnConnectionId'] for step in steps]
        final = self.wait_connections(ids, 'available') if self.params['wait'] else self.describe_by_ids(ids)
        by_id = {connection['VpnConnectionId']: connection for connection in final}
        for step in steps:
            step['connection'] = by_id.get(step['connection']['VpnConnectionId'], step['connection'])

    def create_connection(self, step: dict) -> dict:
        connection = step['desired']
        tunnels = []
        for options in connection.tunnels:
            options = dict(options)
            if 'pre_shared_key' not in options:
                options['pre_shared_key'] = generate_psk()
                if not self.params['return_secrets']:
                    self.module.no_log_values.add(options['pre_shared_key'])
            tunnels.append(options)
        gateway_key = 'TransitGatewayId' if self.gateway_filter == 'transit-gateway-id' else 'VpnGatewayId'
        parameters = {'Type': 'ipsec.1', 'CustomerGatewayId': step['customer_gateway']['CustomerGatewayId'], gateway_key: self.gateway_id,
                      'Options': creation_options(connection.static_routes_only, tunnels, connection.ipv6_inside),
                      'TagSpecifications': [{'ResourceType': 'vpn-connection',
                                             'Tags': tag_list(link_tags(self.name, 'vpn', connection.index, self.params['tags']))}]}
        created = self.create_once(parameters)
        self.hide_secrets_of([created])
        mapping, _write = tunnel_mapping(created, connection.inside_cidrs)
        if all(mapping.get(name) for name in TUNNEL_NAMES):
            step['mapping'] = mapping
            call(self.ec2(), 'create_tags', Resources=[created['VpnConnectionId']], Tags=mapping_tags(mapping))
            created['Tags'] = (created.get('Tags') or []) + mapping_tags(mapping)
        # else: the answer carried no outside IPs; the next run records the mapping (by inside CIDR)
        return created

    def create_once(self, parameters: dict) -> dict:
        """CreateVpnConnection has no idempotency token: after a failure that may have created it, look first."""

        def find() -> dict | None:
            found = live(self.describe_connections([
                {'Name': 'customer-gateway-id', 'Values': [parameters['CustomerGatewayId']]},
                {'Name': self.gateway_filter, 'Values': [self.gateway_id]},
                {'Name': 'tag:%s' % LINK_TAG, 'Values': [self.name]}]))
            found = [connection for connection in found if is_owned(connection, self.name)
                     and connection.get('CustomerGatewayId') == parameters['CustomerGatewayId']]
            return found[0] if found else None

        return create_once(lambda: call(self.single_attempt_client(), 'create_vpn_connection', **parameters)['VpnConnection'],
                           find, sleep=self.sleep)

    def modify_tunnels(self, plan, connection: dict) -> dict | None:
        vpn_id = connection['VpnConnectionId']

        def wait_available() -> dict:
            final = wait_vpn_connection_available(self.ec2(), vpn_id, timeout=self.remaining(), sleep=FIRST_POLL_SECONDS, sleeper=Backoff())
            self.hide_secrets_of([final])
            return final

        def modify(change) -> None:
            call(self.ec2(), 'modify_vpn_tunnel_options', **change.api_parameters(vpn_id))

        return apply_tunnel_changes(plan, connection_state=connection.get('State', ''), modify=modify, wait_available=wait_available)

    def delete_customer_gateways(self, gateways: list) -> None:
        for gateway in gateways:
            try:
                call(self.ec2(), 'delete_customer_gateway', CustomerGatewayId=gateway['CustomerGatewayId'])
            except AwsError as error:
                if error.code != 'IncorrectState':
                    raise
                self.warnings.append('customer gateway %s was kept: %s' % (gateway['CustomerGatewayId'], error.message))

    # -- results ------------------------------------------------------------------------------------
    def connection_result(self, step: dict) -> dict:
        connection = step['connection'] or {}
        desired = step['desired']
        gateway = step['customer_gateway'] or {}
        mapping = step['mapping'] or {}
        if connection and not mapping:
            mapping, _write = tunnel_mapping(connection, desired.inside_cidrs if desired else [])
        plan = step.get('tunnel_plan')
        changed_options = {view.outside_ip: view.changed_options for view in plan.views} if plan else {}
        return self.summarise(connection, gateway, mapping, changed_options, step['actions'], desired)

    def summarise(self, connection: dict, gateway: dict, mapping: dict, changed_options: dict, actions: list, desired=None) -> dict:
        by_ip = {tunnel.get('OutsideIpAddress'): tunnel for tunnel in tunnel_options_of(connection)}
        telemetry = telemetry_by_outside_ip(connection)
        tunnels = []
        for position, name in enumerate(TUNNEL_NAMES):
            outside_ip = mapping.get(name)
            tunnel_option = by_ip.get(outside_ip)
            if tunnel_option is None and desired is not None:
                cidr = desired.inside_cidrs[position]
                tunnel_option = {'TunnelInsideIpv6Cidr' if ':' in cidr else 'TunnelInsideCidr': cidr}
            entry = tunnel_summary(name, outside_ip, tunnel_option, telemetry.get(outside_ip))
            entry['changed_options'] = list(changed_options.get(outside_ip, []))
            if self.params['return_secrets']:
                entry['pre_shared_key'] = (tunnel_option or {}).get('PreSharedKey')
            tunnels.append(entry)
        routes = [route.get('DestinationCidrBlock') for route in connection.get('Routes') or [] if route.get('State') not in ('deleting', 'deleted')]
        return {
            'vpn_connection_id': connection.get('VpnConnectionId'),
            'customer_gateway_id': gateway.get('CustomerGatewayId') or connection.get('CustomerGatewayId'),
            'customer_gateway_ip': gateway.get('IpAddress') or (desired.customer_gateway_ip if desired else None),
            'customer_gateway_asn': customer_gateway_asn(gateway) if gateway else (desired.customer_gateway_asn if desired else None),
            'state': connection.get('State'),
            'type': connection.get('Type', 'ipsec.1'),
            'static_routes_only': bool((connection.get('Options') or {}).get('StaticRoutesOnly', desired.static_routes_only if desired else False)),
            'static_routes': routes if connection else list(desired.static_routes or []) if desired else [],
            'changed_options': list(actions),
            'tunnels': tunnels,
        }

    def diff(self, steps: list, stale: list, gateways_by_id: dict) -> dict:
        before, after = {}, {}
        for step in steps:
            desired = step['desired']
            key = desired.customer_gateway_ip
            plan = step['tunnel_plan']
            names = {ip: name for name, ip in step['mapping'].items()}
            common = {'customer_gateway_asn': desired.customer_gateway_asn, 'static_routes_only': desired.static_routes_only}
            if step['connection'] is not None:
                routes = sorted(route.get('DestinationCidrBlock') for route in step['connection'].get('Routes') or []
                                if route.get('State') not in ('deleting', 'deleted'))
                tunnels_before, tunnels_after = {}, {}
                for view in plan.views:
                    tunnel = names.get(view.outside_ip, view.outside_ip)
                    tunnels_before[tunnel] = dict(masked(view.after if view.before is None else view.before), outside_ip=view.outside_ip)
                    tunnels_after[tunnel] = dict(masked(view.after, view.changed_options), outside_ip=view.outside_ip)
                before[key] = dict(common, vpn_connection_id=step['connection']['VpnConnectionId'], static_routes=routes, tunnels=tunnels_before)
                after[key] = dict(before[key], tunnels=tunnels_after,
                                  static_routes=sorted(desired.static_routes) if desired.static_routes is not None else routes)
            else:
                after[key] = dict(common, vpn_connection_id=None, static_routes=sorted(desired.static_routes or []),
                                  tunnels={name: dict(masked(options), outside_ip=None) for name, options in zip(TUNNEL_NAMES, desired.tunnels)})
        for connection in stale:
            gateway = gateways_by_id.get(connection.get('CustomerGatewayId')) or {}
            before[gateway.get('IpAddress') or connection['VpnConnectionId']] = {'vpn_connection_id': connection['VpnConnectionId']}
        return {'before': before, 'after': after}

    # -- state: absent / gathered ------------------------------------------------------------------
    def link_filters(self) -> list:
        filters = [{'Name': 'tag:%s' % LINK_TAG, 'Values': [self.name]}]
        if self.gateway_id:
            filters.append({'Name': self.gateway_filter, 'Values': [self.gateway_id]})
        return filters

    def link_connections(self) -> list:
        """The link's live connections. Ownership is checked here too: a server may match tag values loosely."""
        return [connection for connection in live(self.describe_connections(self.link_filters())) if is_owned(connection, self.name)]

    def absent(self) -> dict:
        connections = self.link_connections()
        gateways = [gateway for gateway in call(self.ec2(), 'describe_customer_gateways',
                                                Filters=[{'Name': 'tag:%s' % LINK_TAG, 'Values': [self.name]}]).get('CustomerGateways') or []
                    if gateway.get('State') in ('pending', 'available') and is_owned(gateway, self.name)]
        result = {'changed': bool(connections or gateways),
                  'deleted': {'vpn_connections': [connection['VpnConnectionId'] for connection in connections],
                              'customer_gateways': [gateway['CustomerGatewayId'] for gateway in gateways]}}
        if self.module._diff:
            result['diff'] = {'before': result['deleted'], 'after': {'vpn_connections': [], 'customer_gateways': []}}
        if self.module.check_mode or not result['changed']:
            return result
        for connection in connections:
            call(self.ec2(), 'delete_vpn_connection', VpnConnectionId=connection['VpnConnectionId'])
        if connections and (gateways or self.params['wait']):
            # a customer gateway in use cannot be deleted: wait for the connections first
            self.wait_connections([connection['VpnConnectionId'] for connection in connections], 'deleted')
        self.delete_customer_gateways(gateways)
        return result

    def gathered(self) -> dict:
        connections = self.link_connections()
        connections.sort(key=lambda connection: (tags_dict(connection.get('Tags')).get('Name') or '', connection['VpnConnectionId']))
        gateway_ids = sorted({connection['CustomerGatewayId'] for connection in connections})
        gateways = {}
        if gateway_ids:
            for gateway in call(self.ec2(), 'describe_customer_gateways', CustomerGatewayIds=gateway_ids).get('CustomerGateways') or []:
                gateways[gateway['CustomerGatewayId']] = gateway
        results = []
        for connection in connections:
            mapping, _write = tunnel_mapping(connection, [])
            results.append(self.summarise(connection, gateways.get(connection['CustomerGatewayId'], {}), mapping, {}, []))
        return {'changed': False, 'connections': results, 'tunnel_status': tunnel_status(results),
                'deleted': {'vpn_connections': [], 'customer_gateways': []}}


def tunnel_status(connections: list) -> dict:
    status = {}
    for connection in connections:
        for tunnel in connection['tunnels']:
            if tunnel['outside_ip']:
                status[tunnel['outside_ip']] = {'vpn_connection_id': connection['vpn_connection_id'], 'tunnel': tunnel['tunnel'],
                                                'status': tunnel['status'], 'status_message': tunnel['status_message'],
                                                'accepted_route_count': tunnel['accepted_route_count']}
    return status


def run(module: AnsibleModule, client=None, sleep=time.sleep) -> dict:
    if module.params['wait_timeout'] < 1:
        raise TunnelOptionsError('wait_timeout: must be at least 1 second (got %d)' % module.params['wait_timeout'], option='wait_timeout')
    if module.params['return_secrets']:
        # Keys given as no_log options are masked everywhere by Ansible; the caller asked for them back.
        for connection in module.params['connections'] or []:
            for tunnel in connection.get('tunnels') or []:
                module.no_log_values.discard(tunnel.get('pre_shared_key'))
    link = Link(module, client=client, sleep=sleep)
    result = getattr(link, module.params['state'])()
    for warning in link.warnings:
        module.warn(warning)
    return result


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           mutually_exclusive=[('vpn_gateway_id', 'transit_gateway_id')])
    try:
        result = run(module)
    except TunnelOptionsError as error:
        module.fail_json(msg=str(error), option=error.option)
    except AwsError as error:
        module.fail_json(msg=error.message, code=error.code, exception=error.exception_text)
    module.exit_json(**result)


if __name__ == '__main__':
    main()

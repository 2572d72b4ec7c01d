#!/usr/bin/python
# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vpn_link_plan
short_description: Validate a link's inventory and plan its tunnels, before anything is written
version_added: 0.1.0
description:
  - Pure planning step that every playbook of this collection runs first. It calls no cloud API.
  - From the redundancy, the ASNs, optional inside CIDRs and pre-shared keys and the IKE/IPsec
    profile, it returns the exact list of tunnels of an AWS <-> GCP or AWS <-> Azure link (which
    customer gateway, which AWS connection and tunnel, which GCP or Azure interface, which /30
    inside CIDR and which address on each side) and the profile rendered for each cloud.
  - A value that cannot make a valid link stops the run here, with a message naming the
    inventory variable (see O(variables)), so nothing is ever half-built.
author:
  - multicloud.vpn contributors (@multicloud-vpn)
attributes:
  check_mode:
    support: full
    description: Plans identically in check mode; it never changes anything.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to diff.
options:
  scenario:
    description: Which link to plan.
    type: str
    required: true
    choices: [aws_gcp, aws_azure]
  tunnels:
    description:
      - Number of tunnels of an AWS <-> GCP link. V(1) saves cost (one AWS connection,
        SINGLE_IP_INTERNALLY_REDUNDANT), V(2) is the console walk-through, V(4) is the
        production layout needed for GCP's 99.99% SLA.
    type: int
    choices: [1, 2, 4]
    default: 4
  azure_mode:
    description:
      - AWS <-> Azure routing. V(static) uses tunnel 1 of each AWS connection (2 tunnels, static
        routes); V(bgp) uses all 4 tunnels with Azure custom APIPA BGP addresses.
    type: str
    choices: [static, bgp]
    default: bgp
  amazon_asn:
    description: Amazon-side ASN of the virtual private gateway or transit gateway (private range).
    type: int
    default: 64512
  gcp_asn:
    description: ASN of the GCP Cloud Router (64512-65534 or 4200000000-4294967294).
    type: int
    default: 65000
  azure_asn:
    description: ASN of the Azure VPN gateway (Azure's default 65515; must differ from O(amazon_asn)).
    type: int
    default: 65515
  inside_cidrs:
    description:
      - Optional inside /30 per used tunnel, in plan order; an empty entry lets the planner choose.
      - Each must lie in 169.254.0.0/16, not be reserved by AWS, not overlap another, and lie in
        169.254.21.0-169.254.22.255 for an Azure BGP link.
    type: list
    elements: str
  inside_cidr_pool:
    description: Where the planner takes free /30s from (AWS <-> GCP). Default 169.254.0.0/16.
    type: str
  taken_inside_cidrs:
    description: Inside CIDRs already used by other connections of the same gateway; never handed out.
    type: list
    elements: str
    default: []
  ipsec_profile:
    description:
      - IKE/IPsec profile, a name (V(gcp_safe), V(aws_default), V(modern_gcm), V(ikev1_compat)) or a
        dict with an optional C(name) and field overrides. Refused when the peer cloud cannot express it.
    type: raw
    default: gcp_safe
  pre_shared_keys:
    description:
      - Optional pre-shared key per used tunnel, in plan order (8-64 of letters, digits, C(.) and
        C(_), not starting with C(0)). Validated only; never returned.
    type: list
    elements: str
  aws_cidrs:
    description: CIDRs of the AWS VPC(s); must not overlap O(peer_cidrs).
    type: list
    elements: str
    default: []
  peer_cidrs:
    description: CIDRs of the GCP network or Azure VNet; must not overlap O(aws_cidrs).
    type: list
    elements: str
    default: []
  probes:
    description:
      - Probe hosts that the connectivity check pings between. When given, each side needs at least
        one probe and each probe's address must lie in its side's CIDRs.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Inventory name of the probe host.
        type: str
        required: true
      side:
        description: Which side the probe is on; V(gcp), V(azure) and V(peer) all mean the peer cloud.
        type: str
        required: true
        choices: [aws, gcp, azure, peer]
      address:
        description: The probe's private address.
        type: str
        required: true
  variables:
    description:
      - Maps this module's option names to the inventory variable names a role passed them from,
        so that an error names what the user wrote (for example C(tunnels=mcvpn_tunnels)).
    type: dict
    default: {}
requirements:
  - netaddr >= 0.10
notes:
  - Runs on the controller (a localhost play, or C(delegate_to) localhost); calls no cloud API.
"""

EXAMPLES = r"""
- name: Plan a 4-tunnel AWS <-> GCP link (fails here on a bad inventory value)
  multicloud.vpn.vpn_link_plan:
    scenario: aws_gcp
    tunnels: 4
    amazon_asn: 64512
    gcp_asn: 65000
    ipsec_profile: gcp_safe
    aws_cidrs: [10.0.0.0/16]
    peer_cidrs: [10.10.0.0/16]
    variables:
      tunnels: mcvpn_tunnels
      gcp_asn: mcvpn_gcp_asn
  register: link_plan

- name: Plan an AWS <-> Azure BGP link with Microsoft's documented APIPA mapping
  multicloud.vpn.vpn_link_plan:
    scenario: aws_azure
    azure_mode: bgp
    amazon_asn: 64512
    azure_asn: 65515
  register: link_plan
"""

RETURN = r"""
plan:
  description: The link's tunnels, customer gateways and connections (see the module description).
  returned: always
  type: dict
  sample:
    redundancy_type: FOUR_IPS_REDUNDANCY
    tunnels:
      - {connection: 0, aws_tunnel: 1, used: true, external_interface: 0, ha_interface: 0,
         inside_cidr: 169.254.6.0/30, aws_inside_ip: 169.254.6.1, gcp_inside_ip: 169.254.6.2}
used_tunnels:
  description: The tunnels of RV(plan) that carry traffic, in plan order (O(inside_cidrs) order).
  returned: always
  type: list
  elements: dict
profile:
  description: The resolved IKE/IPsec profile, field by field (AWS vocabulary).
  returned: always
  type: dict
aws_tunnel_options:
  description: The profile as AWS tunnel options (snake_case ModifyVpnTunnelOptions fields).
  returned: always
  type: dict
gcp_tunnel_crypto:
  description: The profile as GCP tunnel fields (C(ikeVersion), C(cipherSuite)).
  returned: when O(scenario=aws_gcp)
  type: dict
azure_ipsec_policy:
  description: The profile as an Azure connection IPsec policy.
  returned: when O(scenario=aws_azure)
  type: dict
"""

import dataclasses

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.multicloud.vpn.plugins.module_utils import _ipsec, _plan, _psk


def _check_cidrs(aws_cidrs: list, peer_cidrs: list, probes: list) -> None:
    from netaddr import AddrFormatError, IPNetwork, IPAddress  # pylint: disable=import-outside-toplevel

    def parse(values, option):
        networks = []
        for index, value in enumerate(values):
            try:
                networks.append(IPNetwork(value))
            except (AddrFormatError, ValueError, TypeError):
                raise _plan.PlanError('%s[%d]: %r is not a CIDR' % (option, index, value), variable=option) from None
        return networks

    aws = parse(aws_cidrs, 'aws_cidrs')
    peer = parse(peer_cidrs, 'peer_cidrs')
    for aws_network in aws:
        for peer_network in peer:
            if aws_network.first <= peer_network.last and peer_network.first <= aws_network.last:
                raise _plan.PlanError('aws_cidrs: %s overlaps peer_cidrs %s; the two sides must use distinct ranges'
                                      % (aws_network, peer_network), variable='aws_cidrs')
    if not probes:
        return
    for side, networks in (('aws', aws), ('peer', peer)):
        side_probes = [probe for probe in probes if (probe['side'] == 'aws') == (side == 'aws')]
        if not side_probes:
            raise _plan.PlanError('probes: no probe host on the %s side; the connectivity check needs one on each side' % side,
                                  variable='probes')
        for probe in side_probes:
            try:
                address = IPAddress(probe['address'])
            except (AddrFormatError, ValueError, TypeError):
                raise _plan.PlanError('probes: %s has address %r, not an IP address' % (probe['name'], probe['address']),
                                      variable='probes') from None
            if networks and not any(address in network for network in networks):
                raise _plan.PlanError('probes: %s (%s) is outside the %s CIDRs %s'
                                      % (probe['name'], address, side, ', '.join(str(n) for n in networks)), variable='probes')


# The planner's names for values that this module's options call otherwise.
_CORE_NAMES = {'pool': 'inside_cidr_pool'}


def _name_inventory_variable(error: ValueError, variables: dict) -> str:
    """Name the inventory variable the user wrote, in front of an error about one of our options.

    Profile errors read ``profile.<field>: ...`` and become ``<profile variable>.<field>: ...``;
    plan errors start with the option (``inside_cidrs[2]: ...``) and get its variable's name.
    """
    message = str(error)
    for core_name, option in _CORE_NAMES.items():
        if message.startswith(core_name + ':'):
            message = option + message[len(core_name):]
    if isinstance(error, _ipsec.ProfileError) and message.startswith('profile'):
        return variables.get('ipsec_profile', 'ipsec_profile') + message[len('profile'):]
    for option in sorted(variables, key=len, reverse=True):
        if message.startswith(option):
            return variables[option] + message[len(option):]
    return message


def plan_link(params: dict) -> dict:
    """The module's whole logic, without Ansible: plan, render, validate. Raises ValueError subclasses."""
    profile = _ipsec.resolve_profile(params['ipsec_profile'])
    if params['scenario'] == 'aws_gcp':
        plan = _plan.plan_aws_gcp(tunnels=params['tunnels'], amazon_asn=params['amazon_asn'], gcp_asn=params['gcp_asn'],
                                  inside_cidrs=params['inside_cidrs'], pool=params['inside_cidr_pool'],
                                  taken=params['taken_inside_cidrs'])
        rendered = {'gcp_tunnel_crypto': _ipsec.gcp_tunnel_crypto(profile)}
    else:
        plan = _plan.plan_aws_azure(mode=params['azure_mode'], amazon_asn=params['amazon_asn'], azure_asn=params['azure_asn'],
                                    inside_cidrs=params['inside_cidrs'], taken=params['taken_inside_cidrs'])
        rendered = {'azure_ipsec_policy': _ipsec.azure_ipsec_policy(profile)}
    used_tunnels = [tunnel for tunnel in plan['tunnels'] if tunnel['used']]
    keys = params['pre_shared_keys']
    if keys:
        if len(keys) != len(used_tunnels):
            raise _plan.PlanError('pre_shared_keys: %d given, the link has %d tunnels' % (len(keys), len(used_tunnels)),
                                  variable='pre_shared_keys')
        for index, key in enumerate(keys):
            _psk.validate_psk(key, 'pre_shared_keys[%d]' % index)
    _check_cidrs(params['aws_cidrs'], params['peer_cidrs'], params['probes'])
    result = {'plan': plan, 'used_tunnels': used_tunnels, 'profile': dataclasses.asdict(profile),
              'aws_tunnel_options': _ipsec.aws_tunnel_options(profile)}
    result.update(rendered)
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            scenario=dict(type='str', required=True, choices=['aws_gcp', 'aws_azure']),
            tunnels=dict(type='int', default=4, choices=[1, 2, 4]),
            azure_mode=dict(type='str', default='bgp', choices=['static', 'bgp']),
            amazon_asn=dict(type='int', default=64512),
            gcp_asn=dict(type='int', default=65000),
            azure_asn=dict(type='int', default=65515),
            inside_cidrs=dict(type='list', elements='str'),
            inside_cidr_pool=dict(type='str'),
            taken_inside_cidrs=dict(type='list', elements='str', default=[]),
            ipsec_profile=dict(type='raw', default='gcp_safe'),
            pre_shared_keys=dict(type='list', elements='str', no_log=True),
            aws_cidrs=dict(type='list', elements='str', default=[]),
            peer_cidrs=dict(type='list', elements='str', default=[]),
            probes=dict(type='list', elements='dict', default=[], options=dict(
                name=dict(type='str', required=True),
                side=dict(type='str', required=True, choices=['aws', 'gcp', 'azure', 'peer']),
                address=dict(type='str', required=True),
            )),
            variables=dict(type='dict', default={}),
        ),
        supports_check_mode=True,
    )
    if not _plan.HAS_NETADDR:
        module.fail_json(msg=missing_required_lib('netaddr'), exception=str(_plan.NETADDR_IMPORT_ERROR))
    params = dict(module.params)
    # Empty strings from inventory mean "let the planner choose".
    if params['inside_cidrs'] is not None:
        params['inside_cidrs'] = [cidr or None for cidr in params['inside_cidrs']]
    try:
        result = plan_link(params)
    except ValueError as error:
        module.fail_json(msg=_name_inventory_variable(error, params['variables']))
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()

# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: azure_active_active_link
short_description: The Azure half of an AWS <-> Azure site-to-site VPN link (active-active gateway, static or BGP)
version_added: 0.1.0
description:
  - Builds, in one task, the Azure side of a link to an AWS virtual private gateway - two Standard static public IP
    addresses, a route-based active-active virtual network gateway with exactly two IP configurations, the
    C(GatewaySubnet) (and the virtual network) when missing, and one local network gateway and one IPsec connection
    (IKEv2, pre-shared key, IPsec policy from O(ipsec_profile)) per AWS tunnel used.
  - O(mode=static) is the layout of the seed walk-through - tunnel 1 of each of the two AWS connections, local network
    gateways carrying O(aws_prefixes). O(mode=bgp) uses all four AWS tunnels with BGP and Azure custom APIPA addresses,
    Microsoft's documented AWS mapping (instance I of the gateway is the customer gateway of AWS connection I; the AWS
    tunnel inside CIDR C(169.254.21.0/30) gives Azure C(169.254.21.2) and AWS C(169.254.21.1), and so on).
  - Run it first without O(aws_tunnels) to create the gateway and obtain its two public IPs (the AWS customer gateways
    need them); with O(wait=false) it starts the gateway (30 to 45 minutes in Azure) and returns at once, so a
    playbook can build the AWS side meanwhile. Run it again with O(aws_tunnels) to add the local network gateways and
    connections; it waits for a gateway still being provisioned and never starts a second creation of it.
  - Idempotent - it reads everything with one list call per resource type, compares (IPsec policy aliases
    normalised, shared keys through the sharedkey API) and writes only what differs, in place where Azure allows it
    (shared key, IPsec policy, BGP settings, local network gateway prefixes and addresses, custom APIPA addresses).
  - Why not M(azure.azcollection.azure_rm_virtualnetworkgateway) and friends. That module cannot build an active-active
    gateway (it points every IP configuration at the first public IP), cannot set custom APIPA BGP addresses, and its
    connection module cannot set an IPsec policy or custom BGP addresses; none of them compares a shared key. This
    module does all of that in one invocation.
author:
  - multicloud.vpn contributors (@multicloud-vpn)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - multicloud.vpn.azure
attributes:
  check_mode:
    support: full
    details: Reads only and returns the changes it would make in RV(operations), RV(diff) and RV(pending).
  diff_mode:
    support: full
    details: Before and after of every resource a change touches; shared keys show as C(********).
  platform:
    platforms: posix
options:
  name:
    description:
      - Name of the link. It prefixes every resource the module creates (C(<name>-pip-0), C(<name>-lng-c0-t1),
        C(<name>-conn-c0-t1), ...) and is the value of the C(mcvpn-link) tag that marks them as owned by the link.
    type: str
    required: true
  resource_group:
    description:
      - The resource group of every resource of the link. It must exist.
    type: str
    required: true
  location:
    description:
      - Azure region of the resources to create.
      - Defaults to the location of the existing gateway or virtual network; required to create the virtual network.
    type: str
  virtual_network:
    description:
      - The virtual network of the gateway. Needed with O(state=present) until the gateway exists; with O(state=absent)
        it lets the module remove the virtual network or C(GatewaySubnet) it created itself (never one it did not).
    type: dict
    suboptions:
      name:
        description: Name of the virtual network (in O(resource_group)).
        type: str
        required: true
      address_prefixes:
        description:
          - Address space to create the virtual network with when it does not exist. An existing virtual network is
            never modified.
        type: list
        elements: str
      gateway_subnet_prefix:
        description:
          - Prefix (a C(/27) or larger) of the C(GatewaySubnet) to create when the virtual network has none.
        type: str
  gateway:
    description:
      - The virtual network gateway.
    type: dict
    suboptions:
      name:
        description: Name of the gateway. Defaults to C(<name>-gw).
        type: str
      sku:
        description:
          - Gateway SKU. Non-AZ SKUs are being retired by Azure; the AZ SKUs use the Standard public IPs made here.
        type: str
        default: VpnGw1AZ
        choices: [VpnGw1, VpnGw2, VpnGw3, VpnGw4, VpnGw5, VpnGw1AZ, VpnGw2AZ, VpnGw3AZ, VpnGw4AZ, VpnGw5AZ]
      generation:
        description:
          - Gateway generation. Defaults to V(Generation2) where the SKU offers it, else V(Generation1) (VpnGw1 and
            VpnGw1AZ exist in Generation1 only). Azure cannot change it on an existing gateway.
        type: str
        choices: [Generation1, Generation2]
      asn:
        description:
          - BGP ASN of the gateway; must differ from the Amazon-side ASN.
        type: int
        default: 65515
  mode:
    description:
      - V(static) - 2 tunnels (tunnel 1 of each AWS connection), routes from O(aws_prefixes).
      - V(bgp) - 4 tunnels, BGP over custom APIPA addresses.
    type: str
    choices: [static, bgp]
    default: static
  amazon_asn:
    description:
      - Amazon-side ASN of the AWS virtual private gateway, for entries of O(aws_tunnels) that do not set their own.
    type: int
    default: 64512
  aws_tunnels:
    description:
      - The AWS tunnels to connect, as the AWS module returns them. Empty or omitted - phase 1, only the gateway and its
        public IPs are ensured and existing connections are left alone.
      - When given, connections and local network gateways of this link that are not listed are removed.
    type: list
    elements: dict
    suboptions:
      outside_ip:
        description: The AWS tunnel outside IP address (the local network gateway address).
        type: str
        required: true
      pre_shared_key:
        description: The tunnel's pre-shared key (8-64 letters, digits, C(.) and C(_); not starting with C(0)).
        type: str
        required: true
      inside_cidr:
        description:
          - The tunnel's inside C(/30). Defaults to Microsoft's documented CIDR of the tunnel's position. In BGP mode it
            must lie in Azure's APIPA range C(169.254.21.0) - C(169.254.22.255).
        type: str
      amazon_asn:
        description: Amazon-side ASN (defaults to O(amazon_asn)); every entry must agree.
        type: int
      connection:
        description: Index of the AWS VPN connection, which is also the Azure gateway instance whose IP is its customer gateway.
        type: int
        required: true
        choices: [0, 1]
      aws_tunnel:
        description: Which tunnel of that AWS connection (C(TunnelOptions[0]) is V(t1)).
        type: str
        required: true
        choices: [t1, t2]
  aws_prefixes:
    description:
      - The AWS VPC CIDRs, carried by the local network gateways in static mode. Required in static mode with
        O(aws_tunnels).
    type: list
    elements: str
  ipsec_profile:
    description:
      - IKE/IPsec profile of the connections - a profile name (V(gcp_safe), V(modern_gcm), V(aws_default)) or a dict
        with an optional C(name) (the base profile) and profile fields as in the AWS tunnel options (C(phase1_encryption)
        and so on). Azure takes one value per field and IKEv2. Defaults to V(gcp_safe) (AES256, SHA256, DH group 14,
        PFS2048).
    type: raw
  state:
    description:
      - V(present) builds the link; V(absent) removes what the link owns (tag C(mcvpn-link)) in dependency order,
        connections, local network gateways, gateway, public IPs, then the C(GatewaySubnet) or virtual network only if
        the link created it; V(gathered) only reads and returns the state and status (with BGP peer status in BGP mode).
    type: str
    choices: [present, absent, gathered]
    default: present
  wait:
    description:
      - V(false) starts a gateway creation, update or deletion and returns without waiting (RV(pending) says what is
        left); a later run with V(true) waits for it.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds the whole invocation may wait for Azure (a gateway takes 30 to 45 minutes).
    type: int
    default: 3600
notes:
  - Shared keys are compared through the sharedkey API and never returned. A key-only change is one C(sharedkey)
    call; other connection changes are one PUT that also carries the key.
  - Updates send the module's own body; settings made outside the module on its gateway or connections (for example
    point-to-site or NAT rules) are not preserved.
  - With O(state=gathered) in BGP mode the gateway's BGP peer status is read with the C(getBgpPeerStatus) action, an
    ARM POST that changes nothing.
"""

EXAMPLES = r"""
- name: Phase 1 - start the gateway, get the two public IPs for the AWS customer gateways
  multicloud.vpn.azure_active_active_link:
    name: aws-link
    resource_group: rg-network
    location: westeurope
    virtual_network:
      name: vnet-hub
      address_prefixes: [10.20.0.0/16]
      gateway_subnet_prefix: 10.20.255.0/27
    mode: bgp
    wait: false
  register: azure_phase1

- name: Phase 2 - the four AWS tunnels (PSKs from the AWS module's result)
  multicloud.vpn.azure_active_active_link:
    name: aws-link
    resource_group: rg-network
    virtual_network:
      name: vnet-hub
    mode: bgp
    amazon_asn: 64512
    aws_tunnels: "{{ aws_tunnels_for_azure }}"
    wait_timeout: 3600
  no_log: true

- name: Static mode, as in the seed walk-through (tunnel 1 of each AWS connection)
  multicloud.vpn.azure_active_active_link:
    name: aws-link
    resource_group: rg-network
    virtual_network:
      name: vnet-hub
    mode: static
    aws_prefixes: [10.10.0.0/16]
    aws_tunnels:
      - {connection: 0, aws_tunnel: t1, outside_ip: 198.51.100.10, pre_shared_key: "{{ psk_c0_t1 }}"}
      - {connection: 1, aws_tunnel: t1, outside_ip: 198.51.100.20, pre_shared_key: "{{ psk_c1_t1 }}"}

- name: Connection status, for until/retries loops
  multicloud.vpn.azure_active_active_link:
    name: aws-link
    resource_group: rg-network
    mode: bgp
    state: gathered
  register: azure_link
  until: azure_link.connections | selectattr('connection_status', 'equalto', 'Connected') | list | length == 4
  retries: 30
  delay: 10

- name: Remove the link
  multicloud.vpn.azure_active_active_link:
    name: aws-link
    resource_group: rg-network
    virtual_network:
      name: vnet-hub
    state: absent
"""

RETURN = r"""
gateway:
  description: The virtual network gateway (as planned when it does not exist yet, in check mode).
  returned: always
  type: dict
  contains:
    name:
      description: Gateway name.
      type: str
      returned: always
    id:
      description: ARM resource id.
      type: str
      returned: always
    exists:
      description: Whether the gateway exists.
      type: bool
      returned: always
    provisioning_state:
      description: Azure's provisioningState (C(Updating) while it is being created).
      type: str
      returned: always
    public_ips:
      description: Public IP address of instance 0 and instance 1 (customer gateway of AWS connection 0 and 1).
      type: list
      elements: str
      returned: always
    sku:
      description: Gateway SKU.
      type: str
      returned: when the gateway exists
    generation:
      description: Gateway generation.
      type: str
      returned: when the gateway exists
    active_active:
      description: Active-active mode.
      type: bool
      returned: when the gateway exists
    enable_bgp:
      description: BGP enabled.
      type: bool
      returned: when the gateway exists
    bgp:
      description: C(asn), C(peering_addresses) (per IP configuration - default, custom APIPA and tunnel IPs) and, with
        O(state=gathered) in BGP mode, C(peers) (local_address, neighbor, asn, state, routes_received, connected_duration).
      type: dict
      returned: when the gateway exists
  sample:
    name: aws-link-gw
    provisioning_state: Succeeded
    public_ips: [192.0.2.1, 192.0.2.2]
    bgp: {asn: 65515, peering_addresses: [{ip_configuration: instance-0, custom_ips: [169.254.21.2, 169.254.22.2]}]}
connections:
  description: One entry per AWS tunnel of O(aws_tunnels) (every connection of the link with O(state=gathered) or
    when O(aws_tunnels) is omitted).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Connection name.
      type: str
      returned: always
    exists:
      description: Whether it exists (false in check mode before creation).
      type: bool
      returned: always
    local_network_gateway:
      description: Its local network gateway.
      type: str
      returned: always
    aws_outside_ip:
      description: The AWS tunnel outside IP.
      type: str
      returned: always
    aws_connection:
      description: AWS connection index (= Azure gateway instance).
      type: int
      returned: always
    aws_tunnel:
      description: V(t1) or V(t2).
      type: str
      returned: always
    azure_instance:
      description: Gateway instance of the AWS customer gateway.
      type: int
      returned: always
    inside_cidr:
      description: The tunnel inside /30 (from the plan).
      type: str
      returned: when known
    aws_inside_ip:
      description: AWS inside address (the BGP peer of Azure).
      type: str
      returned: always
    azure_apipa_ip:
      description: Azure's custom APIPA BGP address for this tunnel (BGP mode).
      type: str
      returned: always
    amazon_asn:
      description: Amazon-side ASN (BGP mode).
      type: int
      returned: always
    enable_bgp:
      description: BGP on the connection.
      type: bool
      returned: always
    provisioning_state:
      description: Azure's provisioningState.
      type: str
      returned: always
    connection_status:
      description: C(Unknown), C(Connecting), C(Connected) or C(NotConnected).
      type: str
      returned: always
    ingress_bytes:
      description: Bytes received.
      type: int
      returned: always
    egress_bytes:
      description: Bytes sent.
      type: int
      returned: always
    tunnels:
      description: Per gateway instance, C(azure_public_ip) and C(connection_status).
      type: list
      elements: dict
      returned: always
operations:
  description: The changes made (or, in check mode, that would be made), in order.
  returned: always
  type: list
  elements: str
  sample: ["create public_ip aws-link-pip-0", "update connection aws-link-conn-c0-t1 (ipsec_policies)", "set shared key of connection aws-link-conn-c1-t1"]
performed:
  description: The changes actually carried out (empty in check mode).
  returned: always
  type: list
  elements: str
pending:
  description: What is left for a later run (a gateway still being provisioned, connections waiting for it).
  returned: always
  type: list
  elements: str
mode:
  description: The link mode.
  returned: always
  type: str
diff:
  description: Before and after of every resource a change touches, shared keys masked.
  returned: when diff mode is on
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.multicloud.vpn.plugins.module_utils._azure import (
    AZURE_SDK_IMPORT_ERROR, HAS_AZURE_SDK, LAB_POLLING_INTERVAL, AzureError, azure_argument_spec, network_client, resolve_auth)
from ansible_collections.multicloud.vpn.plugins.module_utils._azure_vpn import LinkError, build_link_spec, run_link

# Seconds between reads while waiting for a gateway that another run started (real Azure; the lab polls faster).
GATEWAY_POLL_INTERVAL = 15.0


def argument_spec() -> dict:
    spec = azure_argument_spec()
    spec.update(
        name={'type': 'str', 'required': True},
        resource_group={'type': 'str', 'required': True},
        location={'type': 'str'},
        virtual_network={'type': 'dict', 'options': {
            'name': {'type': 'str', 'required': True},
            'address_prefixes': {'type': 'list', 'elements': 'str'},
            'gateway_subnet_prefix': {'type': 'str'},
        }},
        gateway={'type': 'dict', 'options': {
            'name': {'type': 'str'},
            'sku': {'type': 'str', 'default': 'VpnGw1AZ',
                    'choices': ['VpnGw1', 'VpnGw2', 'VpnGw3', 'VpnGw4', 'VpnGw5', 'VpnGw1AZ', 'VpnGw2AZ', 'VpnGw3AZ', 'VpnGw4AZ', 'VpnGw5AZ']},
            'generation': {'type': 'str', 'choices': ['Generation1', 'Generation2']},
            'asn': {'type': 'int', 'default': 65515},
        }},
        mode={'type': 'str', 'choices': ['static', 'bgp'], 'default': 'static'},
        amazon_asn={'type': 'int', 'default': 64512},
        aws_tunnels={'type': 'list', 'elements': 'dict', 'options': {
            'outside_ip': {'type': 'str', 'required': True},
            'pre_shared_key': {'type': 'str', 'required': True, 'no_log': True},
            'inside_cidr': {'type': 'str'},
            'amazon_asn': {'type': 'int'},
            'connection': {'type': 'int', 'required': True, 'choices': [0, 1]},
            'aws_tunnel': {'type': 'str', 'required': True, 'choices': ['t1', 't2']},
        }},
        aws_prefixes={'type': 'list', 'elements': 'str'},
        ipsec_profile={'type': 'raw'},
        state={'type': 'str', 'choices': ['present', 'absent', 'gathered'], 'default': 'present'},
        wait={'type': 'bool', 'default': True},
        wait_timeout={'type': 'int', 'default': 3600},
    )
    return spec


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if not HAS_AZURE_SDK:
        module.fail_json(msg=missing_required_lib('azure-mgmt-network'), exception=AZURE_SDK_IMPORT_ERROR)
    try:
        spec = build_link_spec(module.params)
        auth = resolve_auth(module.params)
        client = network_client(module.params)
        result = run_link(client, spec, subscription_id=auth.subscription_id, check_mode=module.check_mode,
                          poll_interval=LAB_POLLING_INTERVAL if auth.plain_http else GATEWAY_POLL_INTERVAL, want_diff=module._diff)
    except (LinkError, AzureError) as error:
        module.fail_json(msg=str(error))
    module.exit_json(**result)


if __name__ == '__main__':
    main()

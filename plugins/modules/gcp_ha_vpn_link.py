# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gcp_ha_vpn_link
short_description: The GCP half of an AWS <-> GCP HA VPN link, idempotent, never re-creating the HA VPN gateway
version_added: 0.1.0
description:
  - Builds, in one invocation, the GCP side of a site-to-site link toward AWS (MISSION scenario 1) - the VPC network
    (existing, or created with O(create_network=true)), the Cloud Router with its ASN, the HA VPN gateway, one
    external (peer) VPN gateway whose interfaces are the AWS tunnel outside IPs with the right redundancy type, the
    VPN tunnels on the right HA interfaces, Cloud Router interfaces with the customer inside addresses and BGP peers
    toward the AWS inside addresses, and optional custom route advertisements.
  - "Mapping (1 tunnel: C(SINGLE_IP_INTERNALLY_REDUNDANT), external interface 0 = connection 0 tunnel t1 on HA
    interface 0; 2 tunnels: C(TWO_IPS_REDUNDANCY), 0 = connection 0 t1 on HA 0, 1 = connection 1 t1 on HA 1;
    4 tunnels: C(FOUR_IPS_REDUNDANCY), 0 = c0/t1, 1 = c0/t2 (both on HA 0), 2 = c1/t1, 3 = c1/t2 (both on HA 1)).
    The router interface gets the second address of the tunnel's /30 inside CIDR (the customer side), the BGP peer
    the first (the AWS side) and the Amazon-side ASN."
  - Two phases fit a playbook naturally. Without O(aws_tunnels) (phase 1) the module ensures the network, router and
    HA VPN gateway and returns the two HA interface IPs the AWS customer gateways need; tunnels, external gateways and
    router interfaces that exist are left alone. With O(aws_tunnels) (phase 2, typically straight from
    M(multicloud.vpn.aws_vpn_connection) with C(return_secrets=true) in a C(no_log) task) it builds the rest.
  - The HA VPN gateway is found by name and never re-created or modified by O(state=present) - its IP addresses
    would change and break the AWS customer gateways. If it exists in another network the module fails.
  - What GCP cannot update is replaced, and listed in RV(replaced). A tunnel's gateway interfaces, peer gateway,
    router, IKE version, cipher suite and shared secret are immutable - its router interface and BGP peer are removed
    first, the tunnel is deleted and re-created with the same name, and the interface and peer are added back. An
    external VPN gateway's interfaces are immutable - a new one is created under a new name (C(<name>-aws-<digest>)),
    the tunnels are moved to it, then the old one is deleted. Changing O(redundancy) from 2 to 4 therefore replaces
    the external gateway and the two tunnels and adds two, and never touches the HA VPN gateway.
  - Shared secrets - GCP returns only an opaque C(sharedSecretHash). To notice a rotated key without storing it, each
    tunnel's description records C(psk-fingerprint=pbkdf2-sha256:<16 hex>), PBKDF2-HMAC-SHA256 of the key salted with
    the tunnel's path (50,000 iterations, truncated to 64 bits). It cannot be reversed; like GCP's own hash it could
    confirm a guess of a weak key, so use long random keys (the AWS module generates 32 characters). A tunnel with the
    link's name but no fingerprint (made by another tool) is replaced once.
  - Cloud Router changes merge with what is there - the API replaces whole lists, so the module sends the full lists
    with every interface and BGP peer it does not own unchanged (it owns those named C(<name>-c<0|1>-t<1|2>-if) and
    C(-peer)). Additions use C(routers.patch); removals use C(routers.update) when a list becomes empty (the client
    library cannot send an empty list in a PATCH).
  - Independent operations are started together and then waited for (for example all tunnel inserts); reads use list
    calls (all tunnels of the region in one call). A no-op run makes only reads.
  - Why not C(google.cloud). It has no HA VPN gateway module and no Cloud Router interface or BGP peer module; its
    C(gcp_compute_vpn_tunnel) deletes and re-creates a tunnel on any difference and never compares the shared secret;
    its C(gcp_compute_router) replaces the interface and peer lists it is given. Terraform's C(vpn_ha) module leaves
    the AWS mapping, inside addresses and ciphers to the user. This module does the GCP half of an AWS link in one
    task.
author:
  - multicloud.vpn contributors (@multicloud-vpn)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - multicloud.vpn.gcp
attributes:
  check_mode:
    support: full
    details: Only reads are made; RV(actions), RV(replaced) and the diff show exactly what would change.
  diff_mode:
    support: full
    details: The link's configuration before and after; shared secrets are always C(********).
  platform:
    platforms: posix
options:
  region:
    description: The region of the HA VPN gateway, the Cloud Router and the tunnels, for example C(us-central1).
    type: str
    required: true
  network:
    description:
      - The name of the VPC network. Required with O(state=present).
      - With O(state=absent) it is only needed to delete a network the link created (see O(create_network)).
    type: str
  create_network:
    description:
      - Create O(network) when it does not exist, as a custom-mode network (no automatic subnets) with global dynamic
        routing, tagged in its description as created by this link.
      - With O(state=absent), C(true) also deletes the network if this link created it and nothing else uses it.
    type: bool
    default: false
  name:
    description:
      - The link name, prefix of every object the module creates and the key by which it finds them again (at most 50
        characters, lowercase letters, digits and C(-)).
    type: str
    required: true
  router:
    description: The Cloud Router.
    type: dict
    suboptions:
      name:
        description: Its name. Defaults to C(<name>-router).
        type: str
      asn:
        description:
          - Its BGP ASN (64512-65534 or 4200000000-4294967294); the AWS customer gateways must use the same.
          - Required to create the router. An existing router's ASN is changed only if this link created it; otherwise
            a different value is an error.
        type: int
      create:
        description: Create the router when it does not exist. With V(false) a missing router is an error.
        type: bool
        default: true
      advertise_mode:
        description:
          - V(CUSTOM) advertises O(router.advertised_groups) and O(router.advertised_ip_ranges) (for example peered
            VPC ranges, or C(35.199.192.0/19) so that replies to Cloud DNS forwarding come back over the VPN);
            V(DEFAULT) advertises the network's subnets.
          - Defaults to V(CUSTOM) when ranges or groups are given; when nothing is given the router's advertisements are
            left as they are.
        type: str
        choices: [DEFAULT, CUSTOM]
      advertised_groups:
        description: Groups advertised in V(CUSTOM) mode. Defaults to V(ALL_SUBNETS) in V(CUSTOM) mode; V([]) for none.
        type: list
        elements: str
        choices: [ALL_SUBNETS]
      advertised_ip_ranges:
        description: IP ranges advertised in V(CUSTOM) mode.
        type: list
        elements: dict
        suboptions:
          range:
            description: A CIDR, for example C(35.199.192.0/19).
            type: str
            required: true
          description:
            description: A note shown in the console.
            type: str
  ha_vpn_gateway:
    description: The HA VPN gateway's name. Defaults to C(<name>-gw). Found by name, never re-created.
    type: str
  redundancy:
    description:
      - The number of tunnels, 1, 2 or 4 (MISSION scenario 1). Defaults to the length of O(aws_tunnels); when both are
        given they must agree.
    type: int
    choices: [1, 2, 4]
  aws_tunnels:
    description:
      - The AWS tunnels to connect, one entry per GCP tunnel. Empty or omitted is phase 1 (see the description).
      - Each entry is keyed by O(aws_tunnels[].connection) and O(aws_tunnels[].aws_tunnel); without them the list order
        is MISSION's order (connection 0 t1, [connection 0 t2,] connection 1 t1[, connection 1 t2]).
    type: list
    elements: dict
    suboptions:
      outside_ip:
        description: The AWS tunnel's outside IP address (becomes an external VPN gateway interface).
        type: str
        required: true
      inside_cidr:
        description: The tunnel's /30 inside CIDR (169.254.0.0/16); AWS takes the first address, GCP the second.
        type: str
        required: true
      pre_shared_key:
        description: The tunnel's pre-shared key.
        type: str
        required: true
      amazon_asn:
        description: The Amazon-side ASN of the AWS gateway (virtual private gateway or transit gateway).
        type: int
        required: true
      connection:
        description: The AWS VPN connection, 0 (customer gateway of HA interface 0) or 1.
        type: int
        choices: [0, 1]
      aws_tunnel:
        description: The tunnel of that connection, V(t1) (created with C(TunnelOptions[0])) or V(t2).
        type: str
        choices: [t1, t2]
  ipsec_profile:
    description:
      - The IKE/IPsec profile, a name (V(gcp_safe) - IKEv2, AES-256, SHA2-256, group 14 - the default; V(modern_gcm);
        V(ikev1_compat)) or a dict with C(name) and field overrides, as for the AWS modules.
      - It must hold one value per role (GCP toward AWS needs a single proposal); it sets the tunnels' C(ikeVersion)
        and, for IKEv2, C(cipherSuite).
    type: raw
  state:
    description:
      - V(present) builds the link; V(absent) removes what the link created, in dependency order (its router
        interfaces and peers, tunnels, external VPN gateways, the HA VPN gateway and router if it created them and
        nothing else uses them, the network if O(create_network=true) and it created it).
      - V(gathered) only reads, and returns the objects with tunnel and BGP status (for polling with until/retries).
    type: str
    choices: [present, absent, gathered]
    default: present
  wait_timeout:
    description: Seconds to wait, in total, for the operations of one run.
    type: int
    default: 600
notes:
  - In check mode the returned objects are those that exist now; RV(actions) and the diff show the change.
  - Changing O(router.name) or the HA gateway of an existing link is not supported in place; remove the link with
    O(state=absent) first.
  - Tunnel and BGP status (RV(tunnels[].status), RV(tunnels[].bgp_peer.status)) are what the API reports; a tunnel
    shows C(ESTABLISHED) once the AWS side and the data plane are up.
seealso:
  - module: multicloud.vpn.aws_vpn_connection
  - name: Create HA VPN connections between Google Cloud and AWS
    description: Google's tutorial (IKEv2, one cipher set per tunnel).
    link: https://cloud.google.com/network-connectivity/docs/vpn/tutorials/create-ha-vpn-connections-google-cloud-aws
"""

EXAMPLES = r"""
- name: Phase 1 - HA VPN gateway and router, before the AWS side exists
  multicloud.vpn.gcp_ha_vpn_link:
    project: my-project
    region: us-central1
    network: vpn-vpc
    create_network: true
    name: aws-link
    router:
      asn: 65000
      advertised_ip_ranges:
        - range: 35.199.192.0/19
          description: Cloud DNS forwarding source range
  register: gcp_phase1

- name: The AWS customer gateways take the two HA interface IPs
  ansible.builtin.debug:
    msg: "{{ gcp_phase1.ha_vpn_gateway.interfaces | map(attribute='ip_address') | list }}"

- name: Phase 2 - four tunnels toward two AWS VPN connections (PSKs from the AWS module, in a no_log task)
  multicloud.vpn.gcp_ha_vpn_link:
    project: my-project
    region: us-central1
    network: vpn-vpc
    name: aws-link
    router:
      asn: 65000
    aws_tunnels:
      - {connection: 0, aws_tunnel: t1, outside_ip: 203.0.113.10, inside_cidr: 169.254.10.0/30, amazon_asn: 64512,
         pre_shared_key: "{{ psk_c0_t1 }}"}
      - {connection: 0, aws_tunnel: t2, outside_ip: 203.0.113.11, inside_cidr: 169.254.10.4/30, amazon_asn: 64512,
         pre_shared_key: "{{ psk_c0_t2 }}"}
      - {connection: 1, aws_tunnel: t1, outside_ip: 203.0.113.20, inside_cidr: 169.254.11.0/30, amazon_asn: 64512,
         pre_shared_key: "{{ psk_c1_t1 }}"}
      - {connection: 1, aws_tunnel: t2, outside_ip: 203.0.113.21, inside_cidr: 169.254.11.4/30, amazon_asn: 64512,
         pre_shared_key: "{{ psk_c1_t2 }}"}
  no_log: true
  register: gcp_link

- name: Wait until every tunnel is up and its BGP session established
  multicloud.vpn.gcp_ha_vpn_link:
    project: my-project
    region: us-central1
    name: aws-link
    state: gathered
  register: gcp_status
  until: >-
    gcp_status.tunnels | length == 4 and
    gcp_status.tunnels | selectattr('status', 'equalto', 'ESTABLISHED') | list | length == 4 and
    gcp_status.tunnels | map(attribute='bgp_peer') | select | selectattr('status', 'equalto', 'UP') | list | length == 4
  retries: 60
  delay: 10

- name: Remove the link (and the network it created)
  multicloud.vpn.gcp_ha_vpn_link:
    project: my-project
    region: us-central1
    network: vpn-vpc
    create_network: true
    name: aws-link
    state: absent
"""

RETURN = r"""
ha_vpn_gateway:
  description: The HA VPN gateway; null when it does not exist (or, in check mode, not yet).
  returned: always
  type: dict
  contains:
    name: {description: Its name., type: str, sample: aws-link-gw}
    self_link: {description: Its URL., type: str}
    network: {description: Its network's name., type: str, sample: vpn-vpc}
    interfaces:
      description: Interfaces 0 and 1 with their public IPs (customer gateway 0 and 1 on the AWS side).
      type: list
      elements: dict
      sample: [{id: 0, ip_address: 35.242.1.10}, {id: 1, ip_address: 35.220.1.11}]
    created_by_link: {description: Whether this link created it (then O(state=absent) deletes it)., type: bool}
external_vpn_gateway:
  description: The link's external VPN gateway (the one its tunnels use); null in phase 1 or when absent.
  returned: always
  type: dict
  contains:
    name: {description: Its name (C(<name>-aws-<digest>))., type: str, sample: aws-link-aws-3f2a9c1e}
    self_link: {description: Its URL., type: str}
    redundancy_type: {description: Its redundancy type., type: str, sample: FOUR_IPS_REDUNDANCY}
    interfaces: {description: Interface ids and AWS outside IPs., type: list, elements: dict, sample: [{id: 0, ip_address: 203.0.113.10}]}
router:
  description: The Cloud Router; null when it does not exist.
  returned: always
  type: dict
  contains:
    name: {description: Its name., type: str}
    self_link: {description: Its URL., type: str}
    network: {description: Its network's name., type: str}
    asn: {description: Its BGP ASN., type: int, sample: 65000}
    advertise_mode: {description: DEFAULT or CUSTOM., type: str}
    advertised_groups: {description: Advertised groups., type: list, elements: str}
    advertised_ip_ranges: {description: "Advertised ranges, each with C(range) and C(description).", type: list, elements: dict}
    created_by_link: {description: Whether this link created it., type: bool}
network:
  description: The network (C(name), C(self_link), C(created_by_link) - null when the network was not read).
  returned: always
  type: dict
tunnels:
  description: The link's tunnels, sorted by name, with the status the API reports.
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: Tunnel name (C(<name>-c<connection>-t<1|2>))., type: str, sample: aws-link-c0-t1}
    self_link: {description: Its URL., type: str}
    connection: {description: AWS connection (0 or 1)., type: int}
    aws_tunnel: {description: AWS tunnel of that connection., type: str, sample: t1}
    ha_vpn_gateway: {description: HA VPN gateway name., type: str}
    ha_interface: {description: HA VPN gateway interface., type: int, sample: 0}
    external_vpn_gateway: {description: External VPN gateway name., type: str}
    external_interface: {description: External VPN gateway interface., type: int, sample: 0}
    peer_ip: {description: AWS outside IP (the external interface's address)., type: str}
    inside_cidr: {description: The /30 inside CIDR (from the router interface)., type: str, sample: 169.254.10.0/30}
    ike_version: {description: IKE version., type: int, sample: 2}
    status: {description: The tunnel's status (C(ESTABLISHED) when up)., type: str, sample: FIRST_HANDSHAKE}
    detailed_status: {description: The tunnel's detailed status text., type: str}
    router_interface: {description: The Cloud Router interface linked to the tunnel., type: str}
    bgp_peer:
      description: The BGP peer on that interface with its status from C(getRouterStatus); null when there is none.
      type: dict
      contains:
        name: {description: Peer name., type: str}
        interface_name: {description: Router interface., type: str}
        ip_address: {description: GCP (customer) inside address., type: str, sample: 169.254.10.2}
        peer_ip_address: {description: AWS inside address., type: str, sample: 169.254.10.1}
        peer_asn: {description: Amazon-side ASN., type: int, sample: 64512}
        status: {description: "UP, DOWN or UNKNOWN.", type: str}
        state: {description: BGP state (Established when up)., type: str}
        num_learned_routes: {description: Routes learned from AWS., type: int}
        uptime_seconds: {description: Session uptime when up., type: int}
replaced:
  description: Objects replaced (deleted and re-created) because GCP cannot update them, with the reasons.
  returned: always
  type: list
  elements: dict
  sample: [{kind: vpn_tunnel, name: aws-link-c0-t1, new_name: aws-link-c0-t1, reasons: [pre-shared key]}]
actions:
  description: The changes made (or, in check mode, that would be made), in order; no secrets.
  returned: always
  type: list
  elements: str
  sample: ["create external_vpn_gateway aws-link-aws-3f2a9c1e (FOUR_IPS_REDUNDANCY: 0=203.0.113.10, ...)"]
"""

import dataclasses

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.multicloud.vpn.plugins.module_utils._gcp import (
    GOOGLE_IMPORT_ERROR,
    HAS_GOOGLE_CLOUD_COMPUTE,
    GcpError,
    compute_clients,
    gcp_argument_spec,
)
from ansible_collections.multicloud.vpn.plugins.module_utils._gcp_vpn import (
    GcpLinkApi,
    LinkExecutionError,
    VpnLinkError,
    link_spec,
    run_link,
)
from ansible_collections.multicloud.vpn.plugins.module_utils._plan import HAS_NETADDR, NETADDR_IMPORT_ERROR


def argument_spec() -> dict:
    spec = gcp_argument_spec()
    spec.update(
        region=dict(type="str", required=True),
        network=dict(type="str"),
        create_network=dict(type="bool", default=False),
        name=dict(type="str", required=True),
        router=dict(type="dict", options=dict(
            name=dict(type="str"),
            asn=dict(type="int"),
            create=dict(type="bool", default=True),
            advertise_mode=dict(type="str", choices=["DEFAULT", "CUSTOM"]),
            advertised_groups=dict(type="list", elements="str", choices=["ALL_SUBNETS"]),
            advertised_ip_ranges=dict(type="list", elements="dict", options=dict(
                range=dict(type="str", required=True),
                description=dict(type="str"),
            )),
        )),
        ha_vpn_gateway=dict(type="str"),
        redundancy=dict(type="int", choices=[1, 2, 4]),
        aws_tunnels=dict(type="list", elements="dict", options=dict(
            outside_ip=dict(type="str", required=True),
            inside_cidr=dict(type="str", required=True),
            pre_shared_key=dict(type="str", required=True, no_log=True),
            amazon_asn=dict(type="int", required=True),
            connection=dict(type="int", choices=[0, 1]),
            aws_tunnel=dict(type="str", choices=["t1", "t2"]),
        )),
        ipsec_profile=dict(type="raw"),
        state=dict(type="str", choices=["present", "absent", "gathered"], default="present"),
        wait_timeout=dict(type="int", default=600),
    )
    return spec


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), required_if=[("state", "present", ("network",))], supports_check_mode=True)
    if not HAS_GOOGLE_CLOUD_COMPUTE:
        module.fail_json(msg=missing_required_lib("google-cloud-compute"), exception=GOOGLE_IMPORT_ERROR)
    if not HAS_NETADDR:
        module.fail_json(msg=missing_required_lib("netaddr"), exception=str(NETADDR_IMPORT_ERROR))
    params = module.params
    if params["wait_timeout"] <= 0:
        module.fail_json(msg="wait_timeout: must be a positive number of seconds")
    try:
        spec = link_spec(params)
        clients = compute_clients(params)
        spec = dataclasses.replace(spec, project=clients.project)
        api = GcpLinkApi(clients, spec, wait_timeout=float(params["wait_timeout"]))
        result, warnings = run_link(api, spec, check_mode=module.check_mode, want_diff=module._diff)
    except LinkExecutionError as error:
        module.fail_json(msg=error.message, changed=bool(error.done), actions_done=error.done)
    except (VpnLinkError, GcpError) as error:
        module.fail_json(msg=str(error), changed=False)
    for warning in warnings:
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

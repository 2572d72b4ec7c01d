# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vyos_from_aws_config
short_description: Turn an AWS Site-to-Site VPN connection into VyOS configuration commands
version_added: 0.1.0
description:
  - Reads an AWS VPN connection (its C(CustomerGatewayConfiguration) XML and/or one
    C(DescribeVpnConnections) entry) and renders the VyOS C(set) commands for both tunnels -
    IKE and ESP groups, pre-shared keys, site-to-site peers, VTIs with the inside addresses,
    and BGP neighbours with AWS's timers.
  - Pure transformation; it talks to no device and no cloud API. Hand the C(commands) to
    M(vyos.vyos.vyos_config), or write them to O(dest).
  - Why not just AWS's own "Vyatta" sample download. It uses the VyOS 1.3 and older syntax
    (peers keyed by address, C(ipsec-interfaces), C(protocols bgp <asn>)), which VyOS 1.4 and
    1.5 no longer accept; this module renders the current syntax by default (named peers with
    C(remote-address), keys under C(vpn ipsec authentication psk), C(system-as)) and the legacy
    one on request.
  - The sample download and the XML always show AWS's minimal default proposal (AES128, SHA1,
    DH group 2) whatever the tunnel options really are. When O(vpn_connection) carries
    C(Options.TunnelOptions), their algorithm lists, lifetimes and keys win; tunnels are matched
    to them by outside IP address, never by list position.
  - A VyOS EC2 instance sits behind 1:1 NAT (private IP on the interface, Elastic IP outside).
    AWS's sample sets C(local-address) to the Elastic IP, which cannot work. Here
    C(local-address) is O(local_address) and, only when it differs from O(public_address),
    the IKE local identity is set to the public address.
  - Each IKE and ESP group carries one proposal chosen from what the tunnel allows (CBC with
    HMAC before GCM, then the strongest integrity and DH group; IKEv2 when allowed). The two
    tunnels share one group when their settings agree.
  - Connections with static routing get no BGP commands; route your prefixes over the VTIs.
  - Looking a connection up by id with AWS credentials is not part of this module yet; fetch it
    with M(amazon.aws.ec2_vpc_vpn_info) and pass the entry as O(vpn_connection).
author:
  - multicloud.vpn contributors (@multicloud-vpn)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Nothing is written in check mode; C(changed) tells whether O(dest) would change.
  diff_mode:
    support: full
    details: With O(dest), the diff shows the old and new file with pre-shared keys masked.
  platform:
    platforms: posix
options:
  customer_gateway_configuration:
    description:
      - The C(CustomerGatewayConfiguration) XML document of the VPN connection (as returned by
        C(CreateVpnConnection) or C(DescribeVpnConnections)).
      - Contains the pre-shared keys.
      - If omitted, the document inside O(vpn_connection) is used.
    type: str
  vpn_connection:
    description:
      - One C(DescribeVpnConnections) C(VpnConnections[]) entry, with botocore's CamelCase keys
        or with the snake_case keys of an item of C(vpn_connections) returned by
        M(amazon.aws.ec2_vpc_vpn_info).
      - Its C(Options.TunnelOptions) (matched by C(OutsideIpAddress)) override the XML's defaults.
      - Contains the pre-shared keys; they are masked in this module's result unless
        O(return_secrets=true).
    type: dict
  local_address:
    description:
      - The router's address on O(interface), used as the IPsec C(local-address). On EC2 this is
        the instance's private IP.
    type: str
    required: true
  public_address:
    description:
      - The address AWS knows the router by (the Elastic IP); it must be the customer gateway
        address of the connection.
      - Defaults to the customer gateway address in the connection. When it differs from
        O(local_address), the IKE local identity is set to it (NAT).
    type: str
  interface:
    description: The VyOS interface facing AWS.
    type: str
    default: eth0
  bgp_asn:
    description:
      - The router's BGP ASN. Defaults to the customer gateway ASN in the connection; a
        different value is allowed but AWS will refuse the BGP session (a warning is returned).
    type: int
  networks:
    description: IPv4 prefixes the router advertises to AWS over BGP.
    type: list
    elements: str
    default: []
  syntax:
    description:
      - V(current) renders VyOS 1.4 (sagitta) and 1.5 (circinus) syntax.
      - V(legacy) renders VyOS 1.3 and older syntax, the shape of AWS's Vyatta sample download.
    type: str
    choices: [current, legacy]
    default: current
  vti_base_index:
    description: The VTI for AWS tunnel 1 is C(vti<vti_base_index>), tunnel 2 the next one.
    type: int
    default: 0
  mtu:
    description: MTU of the VTIs (AWS's sample uses 1436).
    type: int
    default: 1436
  dest:
    description:
      - Write the commands, one per line and with the real pre-shared keys, to this file on the
        host running the module. The file is replaced atomically and gets mode C(0600).
      - The task reports a change only when the file's content (or its mode) differs.
    type: path
  return_secrets:
    description:
      - Return the real pre-shared keys in RV(commands). By default they are shown as
        C(********) and registered as no_log values. Set C(no_log) on the task when enabling this.
    type: bool
    default: false
notes:
  - The XML parser refuses DTD and entity declarations (AWS documents have none).
seealso:
  - module: vyos.vyos.vyos_config
  - module: amazon.aws.ec2_vpc_vpn_info
"""

EXAMPLES = r"""
- name: Fetch the VPN connection of region A
  amazon.aws.ec2_vpc_vpn_info:
    region: us-west-2
    vpn_connection_ids: [vpn-0123456789abcdef0]
  register: region_a_vpn
  no_log: true

- name: Render the VyOS commands for the router in region B (NAT fix, current syntax)
  multicloud.vpn.vyos_from_aws_config:
    vpn_connection: "{{ region_a_vpn.vpn_connections[0] }}"
    local_address: 172.100.0.200
    public_address: 52.69.10.20
    networks: [172.100.0.0/16]
    return_secrets: true
  register: vyos_config
  no_log: true

- name: Push them to the router
  vyos.vyos.vyos_config:
    lines: "{{ vyos_config.commands }}"
    save: true
  no_log: true

- name: Or render from the XML only and keep a 0600 copy of the commands
  multicloud.vpn.vyos_from_aws_config:
    customer_gateway_configuration: "{{ lookup('ansible.builtin.file', 'vpn-0123456789abcdef0.xml') }}"
    local_address: 172.100.0.200
    syntax: legacy
    dest: /srv/vyos/region-b-aws.commands
"""

RETURN = r"""
commands:
  description:
    - The VyOS C(set) commands, in order. Pre-shared keys are C(********) unless
      O(return_secrets=true).
  returned: success
  type: list
  elements: str
  sample:
    - set vpn ipsec interface 'eth0'
    - set vpn ipsec authentication psk aws-52-27-166-152 secret '********'
    - set vpn ipsec site-to-site peer aws-52-27-166-152 local-address '192.168.1.10'
vpn_connection_id:
  description: The id of the VPN connection.
  returned: success
  type: str
  sample: vpn-ba2e34a8
static_routes_only:
  description: Whether the connection uses static routing (then no BGP commands are rendered).
  returned: success
  type: bool
  sample: false
tunnels:
  description:
    - The two tunnels as parsed, sorted by AWS outside IP, pre-shared keys masked.
    - Algorithm values use the AWS API vocabulary (C(AES128), C(SHA2-256), DH group numbers).
  returned: success
  type: list
  elements: dict
  contains:
    index:
      description: Position of the tunnel in the XML (AWS's "Tunnel 1" or "Tunnel 2").
      type: int
      sample: 1
    outside_ip:
      description: AWS (VGW/TGW) outside IP address of the tunnel.
      type: str
      sample: 52.27.166.152
    customer_outside_ip:
      description: The customer gateway address AWS expects.
      type: str
      sample: 147.75.69.27
    aws_inside_ip:
      description: AWS inside (BGP) address.
      type: str
      sample: 169.254.15.193
    customer_inside_ip:
      description: Router inside address, put on the VTI.
      type: str
      sample: 169.254.15.194
    inside_cidr:
      description: Inside network of the tunnel.
      type: str
      sample: 169.254.15.192/30
    inside_prefix_length:
      description: Prefix length of the inside network.
      type: int
      sample: 30
    amazon_asn:
      description: Amazon-side BGP ASN (null for static routing).
      type: int
      sample: 64512
    customer_asn:
      description: Customer gateway BGP ASN (null for static routing).
      type: int
      sample: 65000
    bgp_hold_time:
      description: BGP hold time from the XML.
      type: int
      sample: 30
    psk:
      description: Always C(********).
      type: str
      sample: "********"
    options_source:
      description: C(describe) when tunnel options came from O(vpn_connection), else C(xml).
      type: str
      sample: describe
    ike:
      description: Phase 1 settings (C(versions), C(encryption), C(integrity), C(dh_groups), C(lifetime), C(mode)).
      type: dict
    ipsec:
      description:
        - Phase 2 and tunnel settings (C(encryption), C(integrity), C(dh_groups), C(lifetime), C(mode),
          C(clear_df_bit), C(tcp_mss_adjustment), C(dpd_interval), C(dpd_retries), C(dpd_timeout) and others).
      type: dict
dest:
  description: The file written (or that would be written in check mode).
  returned: when O(dest) is set
  type: str
  sample: /srv/vyos/region-b-aws.commands
"""

import os
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.multicloud.vpn.plugins.module_utils._aws_config import (
    AwsConfigError,
    parse_vpn_connection,
    redact_connection,
)
from ansible_collections.multicloud.vpn.plugins.module_utils._vyos import (
    VyosRenderError,
    mask_commands,
    mask_secret_lines,
    render_vyos_commands,
)

COMMANDS_FILE_MODE = 0o600


def _read_existing(path):
    try:
        with open(path, 'rb') as handle:
            return handle.read(), stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return None, None


def _write_atomically(path, content):
    directory = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix='.vyos_from_aws_config.')  # created 0600
    try:
        with os.fdopen(descriptor, 'wb') as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, COMMANDS_FILE_MODE)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def ensure_commands_file(module, path, text):
    """Make ``path`` hold ``text`` with mode 0600; return (changed, diff)."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        module.fail_json(msg='dest directory %s does not exist' % directory)
    if os.path.isdir(path):
        module.fail_json(msg='dest %s is a directory' % path)
    content = to_bytes(text, errors='surrogate_or_strict')
    before, mode = _read_existing(path)
    content_changed = before != content
    mode_changed = mode is not None and mode != COMMANDS_FILE_MODE
    diff = {
        'before_header': path,
        'after_header': path,
        'before': mask_secret_lines(to_native(before, errors='surrogate_or_strict')) if before is not None else '',
        'after': mask_secret_lines(text),
    }
    if not module.check_mode:
        try:
            if content_changed:
                _write_atomically(path, content)
            elif mode_changed:
                os.chmod(path, COMMANDS_FILE_MODE)
        except OSError as exc:
            module.fail_json(msg='cannot write dest %s: %s' % (path, to_native(exc)))
    return content_changed or mode_changed, diff


def main():
    module = AnsibleModule(
        argument_spec=dict(
            customer_gateway_configuration=dict(type='str', no_log=True),
            vpn_connection=dict(type='dict', no_log=False),
            local_address=dict(type='str', required=True),
            public_address=dict(type='str'),
            interface=dict(type='str', default='eth0'),
            bgp_asn=dict(type='int'),
            networks=dict(type='list', elements='str', default=[]),
            syntax=dict(type='str', choices=['current', 'legacy'], default='current'),
            vti_base_index=dict(type='int', default=0),
            mtu=dict(type='int', default=1436),
            dest=dict(type='path'),
            return_secrets=dict(type='bool', default=False),
        ),
        required_one_of=[('customer_gateway_configuration', 'vpn_connection')],
        supports_check_mode=True,
    )
    params = module.params
    try:
        connection = parse_vpn_connection(params['customer_gateway_configuration'], params['vpn_connection'])
        commands = render_vyos_commands(
            connection,
            local_address=params['local_address'],
            public_address=params['public_address'],
            interface=params['interface'],
            bgp_asn=params['bgp_asn'],
            networks=params['networks'],
            syntax=params['syntax'],
            vti_base_index=params['vti_base_index'],
            mtu=params['mtu'],
        )
    except (AwsConfigError, VyosRenderError) as exc:
        module.fail_json(msg=to_native(exc))

    masked_commands, secrets = mask_commands(commands, connection)
    if not params['return_secrets']:
        # The keys also sit in vpn_connection (not no_log: its numbers and addresses would be masked everywhere).
        module.no_log_values.update(secrets)

    xml_asns = {tunnel['customer_asn'] for tunnel in connection['tunnels']}
    if params['bgp_asn'] is not None and not connection['static_routes_only'] and xml_asns != {params['bgp_asn']}:
        module.warn('bgp_asn %d differs from the customer gateway ASN AWS knows (%s); AWS will refuse the BGP session'
                    % (params['bgp_asn'], ', '.join(str(asn) for asn in sorted(xml_asns, key=str))))

    result = dict(
        changed=False,
        commands=commands if params['return_secrets'] else masked_commands,
        vpn_connection_id=connection['vpn_connection_id'],
        static_routes_only=connection['static_routes_only'],
        tunnels=redact_connection(connection)['tunnels'],
    )
    if params['dest']:
        changed, diff = ensure_commands_file(module, params['dest'], '\n'.join(commands) + '\n')
        result['changed'] = changed
        result['dest'] = params['dest']
        if module._diff:
            result['diff'] = diff
    module.exit_json(**result)


if __name__ == '__main__':
    main()

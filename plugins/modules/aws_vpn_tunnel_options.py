# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: aws_vpn_tunnel_options
short_description: Set and keep every tunnel option of an AWS Site-to-Site VPN connection, keyed by outside IP
version_added: 0.1.0
description:
  - Compares the tunnel options of one existing AWS Site-to-Site VPN connection with the desired ones and
    modifies, with C(ModifyVpnTunnelOptions), only the tunnels that differ - one tunnel at a time, waiting for
    the connection to be C(available) again before the next one, so both tunnels are never replaced at once.
  - Tunnels are selected by their B(outside IP address), never by list or telemetry position (ordering by
    position has applied the options of tunnel 2 to tunnel 1 elsewhere). O(all_tunnels=true) applies options
    to every tunnel of the connection.
  - The whole C(ModifyVpnTunnelOptions) surface - IKE versions, phase 1 and 2 encryption, integrity and DH
    groups, lifetimes, rekey margin and fuzz, replay window, DPD timeout and action, startup action, inside
    CIDR, pre-shared key and its storage, CloudWatch tunnel logging, tunnel lifecycle control.
  - A named IKE/IPsec profile (O(ipsec_profile)) sets the IKE/IPsec options at once; explicit values win over it.
  - 'Every value is checked before the first API call that writes; a value out of range, an outside IP the
    connection does not have, a connection that does not exist, or a transit-gateway-only option on a
    connection to a virtual private gateway stops the task with a message naming the option, for example
    C(tunnels[1].phase2_lifetime_seconds: 4000 is outside 900-3600).'
  - Value lists compare as sets (AWS ignores their order). The pre-shared key is compared without ever being
    shown; it is masked in results and diffs, and every key AWS returns is registered as a no_log value.
  - Why this module and not M(amazon.aws.ec2_vpc_vpn). That module accepts only the inside CIDR and the
    pre-shared key, only at creation, fails as soon as C(tunnel_options) are given (it passes unset keys
    such as C(TunnelInsideIpv6Cidr=None) to botocore, amazon.aws issues 2683 and 2546), and never compares
    the options again (a different PSK reports no change). Narrowing the proposals of four tunnels by hand
    takes about 80 clicks in the console.
author:
  - multicloud.vpn contributors (@multicloud-vpn)
extends_documentation_fragment:
  - multicloud.vpn.aws
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports exactly which tunnels and options would change (RV(tunnels[].changed_options)); writes nothing.
  diff_mode:
    support: full
    details: Before and after of each selected tunnel, keyed by outside IP, pre-shared keys masked.
  platform:
    platforms: posix
options:
  vpn_connection_id:
    description:
      - The VPN connection, for example V(vpn-0123456789abcdef0).
      - One of O(vpn_connection_id), O(filters) or O(tags) is required.
    type: str
  filters:
    description:
      - C(DescribeVpnConnections) filters, for example C(tag:Name) or C(customer-gateway-id) with their values, that must
        match exactly one live VPN connection.
    type: dict
  tags:
    description:
      - Select the connection by tags (every tag must match); combined with O(filters).
    type: dict
  state:
    description:
      - V(present) makes the selected tunnels run the desired options.
      - V(gathered) only reads the connection and returns its tunnels' options and telemetry; it never writes.
    type: str
    choices: [present, gathered]
    default: present
  all_tunnels:
    description:
      - Apply O(ipsec_profile), and the entries of O(tunnels) without O(tunnels[].outside_ip), to every tunnel of the
        connection. Entries with O(tunnels[].outside_ip) still win for their tunnel.
      - When false, only the tunnels listed in O(tunnels) by outside IP are compared and modified.
    type: bool
    default: false
  ipsec_profile:
    description:
      - A named IKE/IPsec profile (V(gcp_safe), V(modern_gcm), V(ikev1_compat), V(aws_default)) or a dict
        with the key C(name) (a profile to start from) and profile fields to override, as the planning core understands it.
      - Sets the IKE versions, algorithms, DH groups, lifetimes, rekey, replay window, DPD and startup action
        of the selected tunnels. Explicit values in O(tunnels) win.
    type: raw
  tunnels:
    description:
      - The desired options per tunnel. Options left out are not compared and not changed.
      - Error messages name an entry by its position in this list, counting from 0 (C(tunnels[1]) is the second).
    type: list
    elements: dict
    default: []
    suboptions:
      outside_ip:
        description:
          - The tunnel's outside IP address (C(Options.TunnelOptions[].OutsideIpAddress)), the key of the tunnel.
          - Required unless O(all_tunnels=true); an entry without it applies to every tunnel.
        type: str
      tunnel_inside_cidr:
        description:
          - The /30 inside CIDR from 169.254.0.0/16 (not one of AWS's reserved /30s); AWS takes the first host,
            the customer gateway the second. Changing it moves the BGP addresses.
        type: str
      tunnel_inside_ipv6_cidr:
        description: A /126 from fd00::/8. Only VPN connections to a transit gateway with IPv6 inside addresses.
        type: str
      pre_shared_key:
        description:
          - The pre-shared key, 8-64 letters, digits, C(.) and C(_), not starting with C(0).
          - Compared with the key AWS holds without being shown; never returned.
        type: str
      ike_versions:
        description: IKE versions the tunnel permits.
        type: list
        elements: str
        choices: [ikev1, ikev2]
      phase1_encryption_algorithms:
        description: Phase 1 encryption algorithms the tunnel permits.
        type: list
        elements: str
        choices: [AES128, AES256, AES128-GCM-16, AES256-GCM-16]
      phase1_integrity_algorithms:
        description: Phase 1 integrity algorithms the tunnel permits.
        type: list
        elements: str
        choices: [SHA1, SHA2-256, SHA2-384, SHA2-512]
      phase1_dh_group_numbers:
        description: Phase 1 Diffie-Hellman groups the tunnel permits.
        type: list
        elements: int
        choices: [2, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 35]
      phase2_encryption_algorithms:
        description: Phase 2 encryption algorithms the tunnel permits.
        type: list
        elements: str
        choices: [AES128, AES256, AES128-GCM-16, AES256-GCM-16]
      phase2_integrity_algorithms:
        description: Phase 2 integrity algorithms the tunnel permits.
        type: list
        elements: str
        choices: [SHA1, SHA2-256, SHA2-384, SHA2-512]
      phase2_dh_group_numbers:
        description: Phase 2 Diffie-Hellman (PFS) groups the tunnel permits.
        type: list
        elements: int
        choices: [2, 5, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 35, 36, 37]
      phase1_lifetime_seconds:
        description: Phase 1 (IKE SA) lifetime, 900-28800 seconds (AWS default 28800).
        type: int
      phase2_lifetime_seconds:
        description: Phase 2 (IPsec SA) lifetime, 900-3600 seconds (AWS default 3600); less than the phase 1 lifetime.
        type: int
      rekey_margin_time_seconds:
        description: Rekey margin, 60 seconds to half the phase 2 lifetime (AWS default 270).
        type: int
      rekey_fuzz_percentage:
        description: Rekey fuzz, 0-100 percent (AWS default 100).
        type: int
      replay_window_size:
        description: IKE replay window, 64-2048 packets (AWS default 1024).
        type: int
      dpd_timeout_seconds:
        description: Dead peer detection timeout, at least 30 seconds (AWS default 40).
        type: int
      dpd_timeout_action:
        description: What AWS does when DPD times out.
        type: str
        choices: [clear, none, restart]
      startup_action:
        description: V(add) waits for the customer gateway to initiate; V(start) lets AWS initiate.
        type: str
        choices: [add, start]
      log_options:
        description: Tunnel logging (seed 002 - tunnel health logs with status UP/DOWN per outside IP).
        type: dict
        suboptions:
          cloudwatch:
            description: CloudWatch Logs options. Only the keys given are compared.
            type: dict
            aliases: [cloudwatch_log_options]
            suboptions:
              log_enabled:
                description: Send tunnel logs to CloudWatch Logs.
                type: bool
              log_group_arn:
                description: ARN of the log group (required when O(tunnels[].log_options.cloudwatch.log_enabled=true)).
                type: str
              log_output_format:
                description: Log format.
                type: str
                choices: [json, text]
              bgp_log_enabled:
                description: Send BGP logs to CloudWatch Logs.
                type: bool
              bgp_log_group_arn:
                description: ARN of the BGP log group.
                type: str
              bgp_log_output_format:
                description: BGP log format.
                type: str
                choices: [json, text]
      enable_tunnel_lifecycle_control:
        description: Let you control when AWS replaces the tunnel endpoint for maintenance.
        type: bool
  pre_shared_key_storage:
    description:
      - Where AWS keeps the pre-shared keys of the connection. With V(SecretsManager) AWS returns only an ARN,
        so keys cannot be compared any more (a warning says so).
      - Moving the keys travels with a tunnel modification; when nothing else changes, the tunnels'
        O(tunnels[].pre_shared_key) must be given.
    type: str
    choices: [Standard, SecretsManager]
  skip_tunnel_replacement:
    description:
      - Pass C(SkipTunnelReplacement) (AWS applies it only when tunnel lifecycle control is turned on or off).
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait in all for the connection to become C(available) (before the first modification and after
        each one).
    type: int
    default: 900
notes:
  - A modification replaces the tunnel endpoint (a short outage of that tunnel). Tunnels that are DOWN are
    modified first, so a tunnel carrying traffic is replaced last.
  - The result never holds a pre-shared key.
seealso:
  - module: multicloud.vpn.aws_vpn_connection
  - module: amazon.aws.ec2_vpc_vpn
"""

EXAMPLES = r"""
- name: Narrow every tunnel of a connection to the one proposal GCP Cloud VPN needs
  multicloud.vpn.aws_vpn_tunnel_options:
    vpn_connection_id: vpn-0123456789abcdef0
    ipsec_profile: gcp_safe
    all_tunnels: true

- name: One tunnel, by outside IP - explicit values win over the profile; log to CloudWatch
  multicloud.vpn.aws_vpn_tunnel_options:
    tags:
      Name: aws-gcp-vpn1
    ipsec_profile: gcp_safe
    tunnels:
      - outside_ip: 203.0.113.10
        pre_shared_key: "{{ vault_tunnel1_psk }}"
        phase2_lifetime_seconds: 1800
        dpd_timeout_action: restart
        log_options:
          cloudwatch:
            log_enabled: true
            log_group_arn: arn:aws:logs:us-east-1:111122223333:log-group:vpn-tunnels
            log_output_format: json
  no_log: true

- name: Read the options and telemetry only
  multicloud.vpn.aws_vpn_tunnel_options:
    vpn_connection_id: vpn-0123456789abcdef0
    state: gathered
  register: tunnel_state
"""

RETURN = r"""
vpn_connection_id:
  description: The VPN connection.
  returned: always
  type: str
  sample: vpn-0123456789abcdef0
tunnels:
  description: Every tunnel of the connection, in the connection's tunnel order, after the change (or as it would be in check mode).
  returned: always
  type: list
  elements: dict
  contains:
    outside_ip:
      description: The tunnel's outside IP address (its key).
      type: str
      sample: 203.0.113.10
    changed:
      description: Whether this tunnel was (or would be) modified.
      type: bool
    changed_options:
      description: Names of the options that differed and were (or would be) set.
      type: list
      elements: str
      sample: [phase1_encryption_algorithms, pre_shared_key]
    options:
      description: The options in force (AWS defaults filled in), snake_case; the pre-shared key as C(********).
      type: dict
    status:
      description: Telemetry status, V(UP) or V(DOWN) (a replaced endpoint reads V(DOWN) until the customer side renegotiates).
      type: str
    status_message:
      description: Telemetry status message.
      type: str
    accepted_route_count:
      description: Routes AWS accepted from this tunnel.
      type: int
warnings:
  description: For example a key that cannot be compared because it is stored in AWS Secrets Manager.
  returned: when there are any
  type: list
  elements: str
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.multicloud.vpn.plugins.module_utils._aws import (
    AwsError,
    aws_argument_spec,
    call,
    describe_vpn_connection,
    ec2_client,
    wait_vpn_connection_available,
)
from ansible_collections.multicloud.vpn.plugins.module_utils._aws_vpn import (
    DEAD_STATES,
    Backoff,
    TunnelDesire,
    TunnelOptionsError,
    apply_tunnel_changes,
    merge_tunnel_options,
    outside_ips,
    plan_tunnel_changes,
    profile_tunnel_options,
    secrets_of_connection,
    tags_dict,
    tunnel_option_argument_spec,
    validate_tunnel_options,
)

try:
    from netaddr import AddrFormatError, IPAddress
except ImportError:  # pragma: no cover - netaddr is a requirement; sanity import runs without it
    IPAddress = None

FIRST_POLL_SECONDS = 0.25


def argument_spec() -> dict:
    tunnel = dict(
        outside_ip=dict(type='str'),
        tunnel_inside_cidr=dict(type='str'),
        tunnel_inside_ipv6_cidr=dict(type='str'),
        pre_shared_key=dict(type='str', no_log=True),
    )
    tunnel.update(tunnel_option_argument_spec())
    spec = aws_argument_spec()
    spec.update(
        vpn_connection_id=dict(type='str'),
        filters=dict(type='dict'),
        tags=dict(type='dict'),
        state=dict(type='str', choices=['present', 'gathered'], default='present'),
        all_tunnels=dict(type='bool', default=False),
        ipsec_profile=dict(type='raw'),
        tunnels=dict(type='list', elements='dict', options=tunnel, default=[]),
        pre_shared_key_storage=dict(type='str', choices=['Standard', 'SecretsManager']),
        skip_tunnel_replacement=dict(type='bool', default=False),
        wait_timeout=dict(type='int', default=900),
    )
    return spec


def validated_request(params: dict) -> tuple[dict, list, list]:
    """(profile options, [(path, options) for every entry without outside IP], [(path, outside ip, options)])."""
    profile = profile_tunnel_options(params['ipsec_profile'])
    for_all, by_ip = [], []
    for index, entry in enumerate(params['tunnels'] or []):
        path = 'tunnels[%d]' % index
        options = {name: value for name, value in entry.items() if name != 'outside_ip'}
        normalised = validate_tunnel_options(options, path)
        outside_ip = entry.get('outside_ip')
        if outside_ip is None:
            if not params['all_tunnels']:
                raise TunnelOptionsError('%s.outside_ip: required unless all_tunnels is true' % path, option=path + '.outside_ip')
            for_all.append((path, normalised))
        else:
            by_ip.append((path, _normalise_ip(outside_ip, path + '.outside_ip'), normalised))
    if params['state'] == 'present' and not by_ip and not (params['all_tunnels'] and (profile or for_all)):
        raise TunnelOptionsError('tunnels: give the tunnels by outside_ip, or all_tunnels: true with ipsec_profile or tunnel options',
                                 option='tunnels')
    if params['wait_timeout'] < 1:
        raise TunnelOptionsError('wait_timeout: must be at least 1 second (got %d)' % params['wait_timeout'], option='wait_timeout')
    return profile, for_all, by_ip


def _normalise_ip(value: str, path: str) -> str:
    if IPAddress is None:  # pragma: no cover
        return value.strip()
    try:
        return str(IPAddress(value.strip()))
    except (AddrFormatError, ValueError, TypeError):
        raise TunnelOptionsError('%s: %r is not an IP address' % (path, value), option=path) from None


def desires_for(connection: dict, profile: dict, for_all: list, by_ip: list, all_tunnels: bool) -> list:
    """The desired options of each selected tunnel of the connection: profile, all-tunnel entries, then its own entry."""
    desires = []
    listed = {outside_ip: (path, options) for path, outside_ip, options in by_ip}
    for path, outside_ip, options in by_ip:
        if outside_ip not in outside_ips(connection):
            # plan_tunnel_changes names the entry and lists the connection's tunnels
            desires.append(TunnelDesire(outside_ip, options, path))
    for outside_ip in outside_ips(connection):
        if outside_ip in listed:
            path, options = listed[outside_ip]
            layers = [profile] + [entry for _path, entry in for_all] if all_tunnels else [profile]
            desires.append(TunnelDesire(outside_ip, merge_tunnel_options(*layers, options), path))
        elif all_tunnels:
            path = for_all[-1][0] if for_all else 'ipsec_profile'
            desires.append(TunnelDesire(outside_ip, merge_tunnel_options(profile, *[entry for _path, entry in for_all]), path))
    return desires


def find_connection(client, params: dict) -> dict:
    if params['vpn_connection_id']:
        try:
            connection = describe_vpn_connection(client, params['vpn_connection_id'])
        except AwsError as error:
            if error.code in ('InvalidVpnConnectionID.NotFound', 'InvalidVpnConnectionID.Malformed'):
                raise TunnelOptionsError('vpn_connection_id: %s does not exist' % params['vpn_connection_id'], option='vpn_connection_id') from None
            raise
        if connection.get('State') in DEAD_STATES:
            raise TunnelOptionsError('vpn_connection_id: %s is %s' % (params['vpn_connection_id'], connection['State']), option='vpn_connection_id')
        return connection
    filters = [{'Name': str(name), 'Values': [str(item) for item in value] if isinstance(value, list) else [str(value)]}
               for name, value in (params['filters'] or {}).items()]
    filters += [{'Name': 'tag:%s' % key, 'Values': [str(value)]} for key, value in (params['tags'] or {}).items()]
    wanted_tags = {str(key): str(value) for key, value in (params['tags'] or {}).items()}
    found = [connection for connection in call(client, 'describe_vpn_connections', Filters=filters).get('VpnConnections') or []
             if connection.get('State') not in DEAD_STATES
             and all(tags_dict(connection.get('Tags')).get(key) == value for key, value in wanted_tags.items())]
    selector = 'filters' if params['filters'] else 'tags'
    if not found:
        raise TunnelOptionsError('%s: no live VPN connection matches' % selector, option=selector)
    if len(found) > 1:
        raise TunnelOptionsError('%s: %d VPN connections match (%s); narrow the selection to one'
                                 % (selector, len(found), ', '.join(connection['VpnConnectionId'] for connection in found)), option=selector)
    return found[0]


def run(module: AnsibleModule) -> dict:
    params = module.params
    profile, for_all, by_ip = validated_request(params)
    deadline = time.monotonic() + params['wait_timeout']
    client = ec2_client(params)
    connection = find_connection(client, params)
    vpn_connection_id = connection['VpnConnectionId']
    module.no_log_values.update(secrets_of_connection(connection))
    desires = [] if params['state'] == 'gathered' else desires_for(connection, profile, for_all, by_ip, params['all_tunnels'])
    storage = params['pre_shared_key_storage'] if params['state'] == 'present' else None
    plan = plan_tunnel_changes(connection, desires, pre_shared_key_storage=storage)
    result: dict = {'changed': plan.changed, 'vpn_connection_id': vpn_connection_id}
    for warning in plan.warnings:
        module.warn(warning)
    if module._diff and params['state'] == 'present':
        result['diff'] = plan.diff()
    if module.check_mode or not plan.changed:
        result['tunnels'] = [view.result() for view in plan.views]
        return result

    def wait_available() -> dict:
        final = wait_vpn_connection_available(client, vpn_connection_id, timeout=max(1.0, deadline - time.monotonic()),
                                              sleep=FIRST_POLL_SECONDS, sleeper=Backoff())
        module.no_log_values.update(secrets_of_connection(final))
        return final

    def modify(change) -> None:
        call(client, 'modify_vpn_tunnel_options', **change.api_parameters(vpn_connection_id, params['skip_tunnel_replacement']))

    final = apply_tunnel_changes(plan, connection_state=connection.get('State', ''), modify=modify, wait_available=wait_available)
    # Read back: what AWS now runs must match what was asked (no extra call: the last wait described it).
    check = plan_tunnel_changes(final, desires)
    for change in check.changes:
        module.warn('tunnel %s still differs after the modification in: %s' % (change.outside_ip, ', '.join(change.changed_options)))
    changed_by_ip = {view.outside_ip: view.changed_options for view in plan.views}
    tunnels = []
    for view in check.views:
        entry = view.result()
        entry['changed_options'] = list(changed_by_ip.get(view.outside_ip, []))
        entry['changed'] = bool(entry['changed_options'])
        tunnels.append(entry)
    result['tunnels'] = tunnels
    return result


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           mutually_exclusive=[('vpn_connection_id', 'filters'), ('vpn_connection_id', 'tags')],
                           required_one_of=[('vpn_connection_id', 'filters', 'tags')])
    try:
        result = run(module)
    except TunnelOptionsError as error:
        module.fail_json(msg=str(error), option=error.option)
    except AwsError as error:
        module.fail_json(msg=error.message, code=error.code, exception=error.exception_text)
    module.exit_json(**result)


if __name__ == '__main__':
    main()

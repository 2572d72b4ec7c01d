# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal to multicloud.vpn: not a public API, may change without notice.
#
# Pure renderer (no I/O): a parsed AWS VPN connection (see _aws_config) plus the
# router's facts -> an ordered list of VyOS ``set`` commands.
#
# Syntax sources (checked line by line for the golden files in
# tests/unit/plugins/module_utils/fixtures/vyos_golden/README.md):
#   current (VyOS 1.4 sagitta / 1.5 circinus):
#     vyos-documentation docs/configuration/vpn/ipsec/site2site_ipsec.md
#       (vpn ipsec authentication psk <name> id/secret, named peers with
#       remote-address / local-address / authentication local-id|remote-id,
#       vpn ipsec interface, options disable-route-autoinstall, vti bind/esp-group)
#     vyos-documentation docs/configexamples/gcp-ha-vpn-bgp.md and azure-vpn-bgp.md
#       (cloud peers behind 1:1 NAT: local-address = interface address,
#       authentication local-id = public IP; vti ip adjust-mss; protocols bgp
#       system-as, neighbor ... address-family ipv4-unicast soft-reconfiguration,
#       timers holdtime/keepalive, address-family ipv4-unicast network)
#   legacy (VyOS <= 1.3, the shape of AWS's "Vyatta" sample download):
#     vyos-documentation docs/configuration/vpn/site2site_ipsec.rst (1.3: peer
#       keyed by address, authentication id / mode / pre-shared-secret,
#       ipsec-interfaces interface, vti bind/esp-group) and the 1.2/1.3
#       protocols/bgp.rst (protocols bgp <asn> ... address-family ipv4-unicast),
#     plus AWS's Vyatta download (esp-group compression 'disable', neighbour timers).
#
# Proposals: VyOS initiates (AWS's default startup action waits for the customer
# side), so each ike-group/esp-group carries ONE proposal chosen from what the
# tunnel allows: CBC+HMAC before GCM, the strongest integrity, the strongest DH
# group; ikev2 when the tunnel allows it.

from __future__ import annotations

import ipaddress
import re

from ansible_collections.multicloud.vpn.plugins.module_utils._ipsec import (
    AWS_GCM_ENCRYPTIONS,
    VYOS_DH_GROUPS,
    VYOS_DPD_ACTION,
    VYOS_ENCRYPTION,
    VYOS_HASH,
    VYOS_PRF,
    vyos_pfs_name,
)

MASK = '********'
SYNTAXES = ('current', 'legacy')
DEFAULT_MTU = 1436
AWS_BGP_KEEPALIVE_DIVISOR = 3  # AWS's sample: holdtime 30, keepalive 10

# Selection policy (this renderer's own): ONE proposal per group, so a preference order over
# the AWS values a tunnel permits. The names of the chosen values in VyOS vocabulary come from
# _ipsec (VYOS_ENCRYPTION, VYOS_HASH, VYOS_PRF, VYOS_DH_GROUPS), the collection's single table.
ENCRYPTION_PREFERENCE = ('AES256', 'AES128', 'AES256-GCM-16', 'AES128-GCM-16')  # CBC+HMAC before GCM, then the longer key
INTEGRITY_PREFERENCE = ('SHA2-512', 'SHA2-384', 'SHA2-256', 'SHA1')  # strongest first
DH_GROUP_PREFERENCE = (21, 20, 19, 18, 17, 16, 15, 14, 24, 23, 22, 5, 2)  # ECP, then MODP by size, then the RFC 5114 groups

_INTERFACE_PATTERN = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]*$')
_SECRET_LINE = re.compile(r"^(set vpn ipsec authentication psk \S+ secret |set vpn ipsec site-to-site peer \S+ authentication pre-shared-secret )'[^']*'$")


class VyosRenderError(ValueError):
    """The router facts or the connection cannot be rendered as VyOS commands."""


def render_vyos_commands(connection, local_address, public_address=None, interface='eth0', bgp_asn=None, networks=None,
                         syntax='current', vti_base_index=0, mtu=DEFAULT_MTU):
    """Render ``set`` commands configuring both tunnels of ``connection`` on a VyOS router.

    ``local_address`` is the address on ``interface`` (the EC2 private IP);
    ``public_address`` the address AWS knows the router by (the Elastic IP),
    defaulting to the customer gateway address in the connection.  When they
    differ the router is behind 1:1 NAT: local-address stays the private IP and
    the IKE local identity becomes the public IP (seed 003's fix).
    """
    if syntax not in SYNTAXES:
        raise VyosRenderError('syntax must be one of %s, got %r' % (', '.join(SYNTAXES), syntax))
    tunnels = connection.get('tunnels') or []
    if len(tunnels) != 2:
        raise VyosRenderError('expected a connection with 2 tunnels, got %d' % len(tunnels))
    local_ip = _ip(local_address, 'local_address')
    if not isinstance(interface, str) or not _INTERFACE_PATTERN.match(interface):
        raise VyosRenderError('interface %r is not an interface name such as eth0' % (interface,))
    mtu = _int_in_range(mtu, 'mtu', 68, 16000)
    vti_base_index = _int_in_range(vti_base_index, 'vti_base_index', 0, 65535)
    local_id = _local_identity(tunnels, local_ip, public_address)
    for tunnel in tunnels:
        if ipaddress.ip_address(tunnel['outside_ip']).version != local_ip.version:
            raise VyosRenderError('local_address %s and AWS outside IP %s are of different IP versions' % (local_ip, tunnel['outside_ip']))

    static = bool(connection.get('static_routes_only'))
    networks = _networks(networks)
    if static and (networks or bgp_asn is not None):
        raise VyosRenderError('this connection uses static routing (no BGP): networks and bgp_asn cannot be applied; route your prefixes over the VTIs')
    asn = None if static else _asn(bgp_asn, tunnels)

    prefix = 'aws-%s' % (connection.get('vpn_connection_id') or 'vpn')
    ike_groups = _groups(tunnels, prefix, lambda tunnel: _ike_group_settings(tunnel, syntax))
    esp_groups = _groups(tunnels, prefix, lambda tunnel: _esp_group_settings(tunnel, syntax))

    commands = []
    if syntax == 'current':
        commands.append('set vpn ipsec interface %s' % _q(interface))
        commands.append('set vpn ipsec options disable-route-autoinstall')
    else:
        commands.append('set vpn ipsec ipsec-interfaces interface %s' % _q(interface))
    for group_name, settings in _unique_groups(tunnels, ike_groups):
        commands.extend('set vpn ipsec ike-group %s %s %s' % (group_name, path, _q(value)) for path, value in settings)
    for group_name, settings in _unique_groups(tunnels, esp_groups):
        commands.extend('set vpn ipsec esp-group %s %s %s' % (group_name, path, _q(value)) for path, value in settings)

    for tunnel in tunnels:
        vti = 'vti%d' % (vti_base_index + tunnel['index'] - 1)
        description = 'AWS %s tunnel %d' % (connection.get('vpn_connection_id') or 'VPN', tunnel['index'])
        commands.extend(_vti_commands(tunnel, vti, description, mtu, syntax))
        peer_commands = _peer_commands_current if syntax == 'current' else _peer_commands_legacy
        commands.extend(peer_commands(tunnel, vti, description, local_ip, local_id, ike_groups[tunnel['outside_ip']][0],
                                      esp_groups[tunnel['outside_ip']][0]))

    if not static:
        commands.extend(_bgp_commands(tunnels, asn, networks, syntax))
    return commands


def mask_commands(commands, connection):
    """Return ``(masked_commands, secrets)``: the commands with every pre-shared key shown as MASK, and the keys."""
    secrets = sorted({tunnel['psk'] for tunnel in connection.get('tunnels', []) if tunnel.get('psk')}, key=len, reverse=True)
    masked = []
    for command in commands:
        command = _SECRET_LINE.sub(lambda match: "%s'%s'" % (match.group(1), MASK), command)
        for secret in secrets:  # defence in depth: no key may survive anywhere else either
            command = command.replace(secret, MASK)
        masked.append(command)
    return masked, secrets


def mask_secret_lines(text):
    """Mask the secret values of any VyOS PSK lines in ``text`` (e.g. an older commands file)."""
    return '\n'.join(_SECRET_LINE.sub(lambda match: "%s'%s'" % (match.group(1), MASK), line) for line in text.split('\n'))


# ---------------------------------------------------------------------------
# validation helpers


def _q(value):
    text = str(value)
    if "'" in text or '\n' in text or '\r' in text or not text:
        raise VyosRenderError('value %r cannot be quoted safely in a VyOS command' % (text,))
    return "'%s'" % text


def _ip(value, what):
    try:
        return ipaddress.ip_address(str(value).strip())
    except ValueError:
        raise VyosRenderError('%s %r is not an IP address' % (what, value)) from None


def _int_in_range(value, what, low, high):
    if isinstance(value, bool):
        raise VyosRenderError('%s must be an integer' % what)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise VyosRenderError('%s %r is not an integer' % (what, value)) from None
    if not low <= number <= high:
        raise VyosRenderError('%s %d is outside %d-%d' % (what, number, low, high))
    return number


def _local_identity(tunnels, local_ip, public_address):
    customer_ips = {tunnel['customer_outside_ip'] for tunnel in tunnels}
    if public_address is None or public_address == '':
        if len(customer_ips) != 1:
            raise VyosRenderError('the tunnels name different customer gateway addresses (%s): give public_address' % ', '.join(sorted(customer_ips)))
        return ipaddress.ip_address(customer_ips.pop())
    public_ip = _ip(public_address, 'public_address')
    if str(public_ip) not in customer_ips:
        raise VyosRenderError('public_address %s is not the customer gateway address AWS expects (%s): AWS would reject the IKE identity'
                              % (public_ip, ', '.join(sorted(customer_ips))))
    return public_ip


def _networks(networks):
    result = []
    for position, network in enumerate(networks or []):
        try:
            parsed = ipaddress.ip_network(str(network).strip())
        except ValueError:
            try:
                suggestion = ipaddress.ip_network(str(network).strip(), strict=False)
            except ValueError:
                raise VyosRenderError('networks[%d] %r is not a CIDR' % (position, network)) from None
            raise VyosRenderError('networks[%d] %r has host bits set; did you mean %s?' % (position, network, suggestion)) from None
        if parsed.version != 4:
            raise VyosRenderError('networks[%d] %s is not IPv4 (only ipv4-unicast is rendered)' % (position, parsed))
        if str(parsed) not in result:
            result.append(str(parsed))
    return result


def _asn(bgp_asn, tunnels):
    if bgp_asn is not None:
        return _int_in_range(bgp_asn, 'bgp_asn', 1, 4294967294)
    asns = {tunnel.get('customer_asn') for tunnel in tunnels}
    if None in asns or len(asns) != 1:
        raise VyosRenderError('cannot tell the customer gateway BGP ASN from the connection (%s): give bgp_asn' % ', '.join(str(asn) for asn in asns))
    return asns.pop()


# ---------------------------------------------------------------------------
# proposals and groups


def _pick(allowed, preference, what, tunnel):
    for candidate in preference:
        if candidate in allowed:
            return candidate
    raise VyosRenderError('tunnel %s: no %s that VyOS can use among %s' % (tunnel['outside_ip'], what, allowed))


def _proposal(section, tunnel):
    """(AWS encryption, AWS integrity, DH group) chosen for one group: the first of each preference the tunnel allows."""
    encryption = _pick(section['encryption'], [name for name in ENCRYPTION_PREFERENCE if name in VYOS_ENCRYPTION], 'encryption algorithm', tunnel)
    integrity = _pick(section['integrity'], [name for name in INTEGRITY_PREFERENCE if name in VYOS_HASH], 'integrity algorithm', tunnel)
    dh_group = _pick(section['dh_groups'], [group for group in DH_GROUP_PREFERENCE if group in VYOS_DH_GROUPS], 'DH group', tunnel)
    return encryption, integrity, dh_group


def _ike_group_settings(tunnel, syntax):
    ike, ipsec = tunnel['ike'], tunnel['ipsec']
    encryption, integrity, dh_group = _proposal(ike, tunnel)
    # DPD as the XML states AWS's own (interval 10 s, 3 retries); DpdTimeoutSeconds wins when described.
    interval = ipsec.get('dpd_interval') or 10
    timeout = ipsec.get('dpd_timeout') or interval * (ipsec.get('dpd_retries') or 3)
    settings = [
        ('dead-peer-detection action', VYOS_DPD_ACTION),
        ('dead-peer-detection interval', interval),
        ('dead-peer-detection timeout', timeout),
        ('key-exchange', 'ikev2' if 'ikev2' in ike['versions'] else 'ikev1'),
        ('lifetime', ike.get('lifetime') or 28800),
        ('proposal 1 dh-group', dh_group),
        ('proposal 1 encryption', VYOS_ENCRYPTION[encryption]),
        ('proposal 1 hash', VYOS_HASH[integrity]),
    ]
    if syntax == 'current' and encryption in AWS_GCM_ENCRYPTIONS:
        # AEAD in IKE has no integrity algorithm: name the PRF explicitly (site2site_ipsec.md: proposal N prf).
        settings.append(('proposal 1 prf', VYOS_PRF[integrity]))
    return tuple(settings)


def _esp_group_settings(tunnel, syntax):
    ipsec = tunnel['ipsec']
    encryption, integrity, dh_group = _proposal(ipsec, tunnel)
    settings = []
    if syntax == 'legacy':
        # <= 1.3 takes enable|disable (AWS's download sets 'disable'); 1.4+ made it a valueless flag, off by default.
        settings.append(('compression', 'disable'))
    settings.extend((
        ('lifetime', ipsec.get('lifetime') or 3600),
        ('mode', ipsec.get('mode') or 'tunnel'),
        ('pfs', vyos_pfs_name(dh_group)),
        # VyOS builds a proposal only from encryption AND hash (strongSwan drops the hash next to GCM).
        ('proposal 1 encryption', VYOS_ENCRYPTION[encryption]),
        ('proposal 1 hash', VYOS_HASH[integrity]),
    ))
    return tuple(settings)


def _peer_name(tunnel):
    return 'aws-%s' % tunnel['outside_ip'].replace('.', '-').replace(':', '-')


def _groups(tunnels, prefix, settings_of):
    """Map outside IP -> (group name, settings): one shared group when both tunnels agree, else one per tunnel."""
    settings = {tunnel['outside_ip']: settings_of(tunnel) for tunnel in tunnels}
    if len(set(settings.values())) == 1:
        return {outside_ip: (prefix, value) for outside_ip, value in settings.items()}
    return {tunnel['outside_ip']: (_peer_name(tunnel), settings[tunnel['outside_ip']]) for tunnel in tunnels}


def _unique_groups(tunnels, groups):
    seen = []
    for tunnel in tunnels:
        group = groups[tunnel['outside_ip']]
        if group not in seen:
            seen.append(group)
    return seen


# ---------------------------------------------------------------------------
# per-tunnel and BGP commands


def _vti_commands(tunnel, vti, description, mtu, syntax):
    base = 'set interfaces vti %s' % vti
    commands = [
        '%s address %s' % (base, _q('%s/%d' % (tunnel['customer_inside_ip'], tunnel['inside_prefix_length']))),
        '%s description %s' % (base, _q(description)),
    ]
    mss = tunnel['ipsec'].get('tcp_mss_adjustment')
    if syntax == 'current' and mss:
        commands.append('%s ip adjust-mss %s' % (base, _q(mss)))
    commands.append('%s mtu %s' % (base, _q(mtu)))
    return commands


def _peer_commands_current(tunnel, vti, description, local_ip, local_id, ike_group, esp_group):
    name = _peer_name(tunnel)
    psk = 'set vpn ipsec authentication psk %s' % name
    peer = 'set vpn ipsec site-to-site peer %s' % name
    commands = [
        '%s id %s' % (psk, _q(local_id)),
        '%s id %s' % (psk, _q(tunnel['outside_ip'])),
        '%s secret %s' % (psk, _q(tunnel['psk'])),
    ]
    if local_id != local_ip:
        commands.append('%s authentication local-id %s' % (peer, _q(local_id)))
    commands.extend((
        '%s authentication mode %s' % (peer, _q('pre-shared-secret')),
        '%s authentication remote-id %s' % (peer, _q(tunnel['outside_ip'])),
        '%s connection-type %s' % (peer, _q('initiate')),
        '%s description %s' % (peer, _q(description)),
        '%s ike-group %s' % (peer, _q(ike_group)),
        '%s local-address %s' % (peer, _q(local_ip)),
        '%s remote-address %s' % (peer, _q(tunnel['outside_ip'])),
        '%s vti bind %s' % (peer, _q(vti)),
        '%s vti esp-group %s' % (peer, _q(esp_group)),
    ))
    return commands


def _peer_commands_legacy(tunnel, vti, description, local_ip, local_id, ike_group, esp_group):
    peer = 'set vpn ipsec site-to-site peer %s' % tunnel['outside_ip']
    commands = []
    if local_id != local_ip:
        commands.append('%s authentication id %s' % (peer, _q(local_id)))
    commands.extend((
        '%s authentication mode %s' % (peer, _q('pre-shared-secret')),
        '%s authentication pre-shared-secret %s' % (peer, _q(tunnel['psk'])),
        '%s connection-type %s' % (peer, _q('initiate')),
        '%s description %s' % (peer, _q(description)),
        '%s ike-group %s' % (peer, _q(ike_group)),
        '%s local-address %s' % (peer, _q(local_ip)),
        '%s vti bind %s' % (peer, _q(vti)),
        '%s vti esp-group %s' % (peer, _q(esp_group)),
    ))
    return commands


def _bgp_commands(tunnels, asn, networks, syntax):
    if syntax == 'current':
        base = 'set protocols bgp'
        commands = ['%s system-as %s' % (base, _q(asn))]
    else:
        base = 'set protocols bgp %d' % asn
        commands = []
    commands.extend('%s address-family ipv4-unicast network %s' % (base, _q(network)) for network in networks)
    for tunnel in tunnels:
        if tunnel.get('amazon_asn') is None:
            raise VyosRenderError('tunnel %s has no Amazon-side BGP ASN' % tunnel['outside_ip'])
        hold_time = tunnel.get('bgp_hold_time') or 30
        neighbor = '%s neighbor %s' % (base, tunnel['aws_inside_ip'])
        commands.extend((
            '%s address-family ipv4-unicast soft-reconfiguration %s' % (neighbor, _q('inbound')),
            '%s remote-as %s' % (neighbor, _q(tunnel['amazon_asn'])),
            '%s timers holdtime %s' % (neighbor, _q(hold_time)),
            '%s timers keepalive %s' % (neighbor, _q(max(1, hold_time // AWS_BGP_KEEPALIVE_DIVISOR))),
        ))
    return commands

# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal to multicloud.vpn: not a public API, may change without notice.
#
# Pure parser (no SDK import, no I/O) for an AWS Site-to-Site VPN connection:
#   * the CustomerGatewayConfiguration XML document (CreateVpnConnection /
#     DescribeVpnConnections, "native XML format"), and/or
#   * one DescribeVpnConnections ``VpnConnections[]`` entry in botocore's shape.
# Result: one connection dict with exactly two tunnel dicts, sorted by the AWS
# (VGW/TGW) outside IP address.  Describe data is merged into the XML tunnels by
# outside IP (never by list position); its algorithm lists win over the XML,
# which always shows the minimal defaults (aes-128-cbc / sha1 / group2).
#
# XML safety: xml.etree is used on purpose (no defusedxml dependency).  The
# document never needs a DTD, so any <!DOCTYPE or <!ENTITY is refused before
# parsing; with that, entity-expansion and external-entity attacks have nothing
# to work with (and expat >= 2.4.1 also limits amplification).

from __future__ import annotations

import copy
import ipaddress
import re
from xml.etree import ElementTree

from ansible_collections.multicloud.vpn.plugins.module_utils import _ipsec

REDACTED = '********'

# AWS API vocabulary (ModifyVpnTunnelOptions / TunnelOption) is the one used in
# the parsed result; XML spellings are translated into it.
# AWS's algorithm vocabulary has one home: _ipsec.
AWS_ENCRYPTION_ALGORITHMS = _ipsec.AWS_ENCRYPTIONS
AWS_INTEGRITY_ALGORITHMS = _ipsec.AWS_INTEGRITIES
AWS_PHASE1_DH_GROUPS = _ipsec.AWS_DEFAULT_PHASE1_DH_GROUPS
AWS_PHASE2_DH_GROUPS = _ipsec.AWS_DEFAULT_PHASE2_DH_GROUPS
AWS_IKE_VERSIONS = ('ikev1', 'ikev2')

_XML_ENCRYPTION = {
    'aes-128-cbc': 'AES128',
    'aes-256-cbc': 'AES256',
    'aes-128-gcm-16': 'AES128-GCM-16',
    'aes-256-gcm-16': 'AES256-GCM-16',
}
_XML_INTEGRITY = {
    'sha1': 'SHA1',
    'hmac-sha1-96': 'SHA1',
    'sha2-256': 'SHA2-256',
    'hmac-sha2-256-128': 'SHA2-256',
    'sha2-384': 'SHA2-384',
    'hmac-sha2-384-192': 'SHA2-384',
    'sha2-512': 'SHA2-512',
    'hmac-sha2-512-256': 'SHA2-512',
}
# In the XML, ike/mode "main" (or "aggressive") is IKEv1 vocabulary.
_XML_IKE_MODE_VERSIONS = {'main': ['ikev1'], 'aggressive': ['ikev1']}
_STATIC_ROUTING_ATTRIBUTE = 'NoBGPVPNConnection'
_DH_GROUP_PATTERN = re.compile(r'^group(\d+)$')


class AwsConfigError(ValueError):
    """The AWS VPN connection data is malformed or incomplete."""


def snake_case(camel_name):
    """'Phase1DHGroupNumbers' -> 'phase1_dh_group_numbers' (the spelling amazon.aws modules return)."""
    words = re.sub(r'([a-z0-9])([A-Z])', r'\1_\2', camel_name)
    return re.sub(r'([A-Z]+)([A-Z][a-z])', r'\1_\2', words).lower()


def _get(mapping, camel_name):
    """Read a botocore field from ``mapping`` in CamelCase or in amazon.aws's snake_case."""
    if camel_name in mapping:
        return mapping[camel_name]
    return mapping.get(snake_case(camel_name))


def parse_vpn_connection(customer_gateway_configuration=None, vpn_connection=None):
    """Parse a VPN connection from its XML and/or DescribeVpnConnections entry.

    ``customer_gateway_configuration`` wins as the XML source; otherwise the
    ``CustomerGatewayConfiguration`` inside ``vpn_connection`` is used.  When
    ``vpn_connection`` is given, its ``Options.TunnelOptions`` are merged into
    the XML tunnels by outside IP address.
    """
    if customer_gateway_configuration is None and vpn_connection is None:
        raise AwsConfigError('give customer_gateway_configuration (the XML) and/or vpn_connection (a DescribeVpnConnections entry)')
    if vpn_connection is not None and not isinstance(vpn_connection, dict):
        raise AwsConfigError('vpn_connection must be a dict (one DescribeVpnConnections VpnConnections[] entry), got %s' % type(vpn_connection).__name__)

    xml_text = customer_gateway_configuration
    if xml_text is None:
        xml_text = _get(vpn_connection, 'CustomerGatewayConfiguration')
        if not xml_text:
            raise AwsConfigError(
                'vpn_connection %s has no CustomerGatewayConfiguration (AWS returns it only in the pending and available states; '
                'state here: %s): pass customer_gateway_configuration'
                % (_get(vpn_connection, 'VpnConnectionId') or '(no id)', _get(vpn_connection, 'State') or 'unknown'))
    connection = parse_customer_gateway_configuration(xml_text)
    if vpn_connection is not None:
        connection = merge_describe_vpn_connection(connection, vpn_connection)
    _require_complete(connection)
    return connection


def parse_customer_gateway_configuration(xml_text):
    """Parse the CustomerGatewayConfiguration XML into a connection dict."""
    root = _parse_xml(xml_text)
    if root.tag != 'vpn_connection':
        raise AwsConfigError("CustomerGatewayConfiguration: root element is <%s>, expected <vpn_connection>" % root.tag)

    tunnel_elements = root.findall('ipsec_tunnel')
    if len(tunnel_elements) != 2:
        raise AwsConfigError('CustomerGatewayConfiguration: expected 2 <ipsec_tunnel> elements, found %d' % len(tunnel_elements))

    attributes = _optional_text(root, 'vpn_connection_attributes')
    static_routes_only = attributes == _STATIC_ROUTING_ATTRIBUTE

    # Outside addresses first: a duplicate makes every later match ambiguous.
    outside_ips = [_ip_text(element, 'vpn_gateway/tunnel_outside_address/ip_address', index)
                   for index, element in enumerate(tunnel_elements, start=1)]
    if outside_ips[0] == outside_ips[1]:
        raise AwsConfigError('CustomerGatewayConfiguration: both tunnels have the same AWS outside IP %s; tunnels are keyed by outside IP, '
                             'so this document cannot be used (is it a placeholder or emulator sample?)' % outside_ips[0])

    tunnels = [_parse_tunnel(element, index, static_routes_only) for index, element in enumerate(tunnel_elements, start=1)]
    return {
        'vpn_connection_id': root.get('id') or None,
        'customer_gateway_id': _optional_text(root, 'customer_gateway_id'),
        'vpn_gateway_id': _optional_text(root, 'vpn_gateway_id'),
        'transit_gateway_id': None,
        'type': _optional_text(root, 'vpn_connection_type'),
        'static_routes_only': static_routes_only,
        'tunnels': _sorted_by_outside_ip(tunnels),
    }


def merge_describe_vpn_connection(connection, vpn_connection):
    """Return a copy of ``connection`` updated from a DescribeVpnConnections entry.

    Keys may be botocore's CamelCase or the snake_case that amazon.aws modules return.

    Tunnel options are matched by ``OutsideIpAddress``; a tunnel option whose
    address is not one of the connection's tunnels is an error.  Present
    values win over the XML (the XML only shows AWS's defaults).
    """
    merged = copy.deepcopy(connection)
    described_id = _get(vpn_connection, 'VpnConnectionId')
    if described_id and merged['vpn_connection_id'] and described_id != merged['vpn_connection_id']:
        raise AwsConfigError('vpn_connection is %s but the CustomerGatewayConfiguration describes %s' % (described_id, merged['vpn_connection_id']))
    for key, field in (('vpn_connection_id', 'VpnConnectionId'), ('customer_gateway_id', 'CustomerGatewayId'),
                       ('vpn_gateway_id', 'VpnGatewayId'), ('transit_gateway_id', 'TransitGatewayId'), ('type', 'Type')):
        if _get(vpn_connection, field):
            merged[key] = _get(vpn_connection, field)

    options = _get(vpn_connection, 'Options') or {}
    if not isinstance(options, dict):
        raise AwsConfigError('vpn_connection Options must be a dict')
    if _get(options, 'StaticRoutesOnly') is not None:
        merged['static_routes_only'] = bool(_get(options, 'StaticRoutesOnly'))

    tunnel_options = _get(options, 'TunnelOptions') or []
    if not isinstance(tunnel_options, list):
        raise AwsConfigError('vpn_connection Options.TunnelOptions must be a list')
    by_outside_ip = {tunnel['outside_ip']: tunnel for tunnel in merged['tunnels']}
    seen = set()
    for position, tunnel_option in enumerate(tunnel_options):
        if not isinstance(tunnel_option, dict) or not _get(tunnel_option, 'OutsideIpAddress'):
            raise AwsConfigError('vpn_connection Options.TunnelOptions[%d] has no OutsideIpAddress' % position)
        outside_ip = _canonical_ip(_get(tunnel_option, 'OutsideIpAddress'), 'Options.TunnelOptions[%d].OutsideIpAddress' % position)
        if outside_ip not in by_outside_ip:
            raise AwsConfigError('vpn_connection Options.TunnelOptions[%d] is for outside IP %s, which is not a tunnel of this connection (%s)'
                                 % (position, outside_ip, ', '.join(sorted(by_outside_ip))))
        if outside_ip in seen:
            raise AwsConfigError('vpn_connection Options.TunnelOptions lists outside IP %s twice' % outside_ip)
        seen.add(outside_ip)
        _apply_tunnel_option(by_outside_ip[outside_ip], tunnel_option)
    return merged


def redact_connection(connection):
    """Return a deep copy of ``connection`` with every pre-shared key replaced by REDACTED."""
    redacted = copy.deepcopy(connection)
    for tunnel in redacted.get('tunnels', []):
        if tunnel.get('psk'):
            tunnel['psk'] = REDACTED
    return redacted


def tunnel_secrets(connection):
    """The pre-shared keys of the connection's tunnels (for no_log handling)."""
    return [tunnel['psk'] for tunnel in connection.get('tunnels', []) if tunnel.get('psk')]


# ---------------------------------------------------------------------------
# XML helpers


def _parse_xml(xml_text):
    if not isinstance(xml_text, str):
        raise AwsConfigError('CustomerGatewayConfiguration must be a string, got %s' % type(xml_text).__name__)
    if not xml_text.strip():
        raise AwsConfigError('CustomerGatewayConfiguration is empty')
    upper = xml_text.upper()
    if '<!DOCTYPE' in upper or '<!ENTITY' in upper:
        raise AwsConfigError('CustomerGatewayConfiguration: DTD/entity declarations are not allowed (AWS documents have none)')
    try:
        return ElementTree.fromstring(xml_text)
    except ElementTree.ParseError as exc:
        raise AwsConfigError('CustomerGatewayConfiguration is not well-formed XML: %s' % exc) from None


def _optional_text(element, path):
    found = element.find(path)
    if found is None or found.text is None or not found.text.strip():
        return None
    return found.text.strip()


def _required_text(element, path, tunnel_index):
    value = _optional_text(element, path)
    if value is None:
        raise AwsConfigError('CustomerGatewayConfiguration: tunnel %d is missing <%s>' % (tunnel_index, path))
    return value


def _ip_text(element, path, tunnel_index):
    return _canonical_ip(_required_text(element, path, tunnel_index), 'tunnel %d <%s>' % (tunnel_index, path))


def _int_text(element, path, tunnel_index, required=True):
    value = _required_text(element, path, tunnel_index) if required else _optional_text(element, path)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise AwsConfigError('CustomerGatewayConfiguration: tunnel %d <%s> is %r, expected an integer' % (tunnel_index, path, value)) from None


def _bool_text(element, path, tunnel_index):
    value = _optional_text(element, path)
    if value is None:
        return None
    if value.lower() in ('true', 'false'):
        return value.lower() == 'true'
    raise AwsConfigError('CustomerGatewayConfiguration: tunnel %d <%s> is %r, expected true or false' % (tunnel_index, path, value))


def _translate(table, value, what, tunnel_index):
    translated = table.get(value.lower())
    if translated is None:
        raise AwsConfigError('CustomerGatewayConfiguration: tunnel %d has unknown %s %r (known: %s)'
                             % (tunnel_index, what, value, ', '.join(sorted(table))))
    return translated


def _dh_group(value, tunnel_index, what):
    match = _DH_GROUP_PATTERN.match(value.lower())
    if not match:
        raise AwsConfigError("CustomerGatewayConfiguration: tunnel %d %s is %r, expected 'groupN'" % (tunnel_index, what, value))
    return int(match.group(1))


def _parse_tunnel(element, index, static_routes_only):
    customer_inside_ip = _ip_text(element, 'customer_gateway/tunnel_inside_address/ip_address', index)
    aws_inside_ip = _ip_text(element, 'vpn_gateway/tunnel_inside_address/ip_address', index)
    prefix_length = _int_text(element, 'customer_gateway/tunnel_inside_address/network_cidr', index)
    try:
        inside_network = ipaddress.ip_interface('%s/%d' % (customer_inside_ip, prefix_length)).network
    except ValueError as exc:
        raise AwsConfigError('CustomerGatewayConfiguration: tunnel %d inside address: %s' % (index, exc)) from None
    if ipaddress.ip_address(aws_inside_ip) not in inside_network:
        raise AwsConfigError('CustomerGatewayConfiguration: tunnel %d AWS inside IP %s is not in the customer inside network %s'
                             % (index, aws_inside_ip, inside_network))

    bgp_required = not static_routes_only
    ike_mode = _required_text(element, 'ike/mode', index)
    ike = {
        'versions': list(_XML_IKE_MODE_VERSIONS.get(ike_mode.lower(), AWS_IKE_VERSIONS)),
        'encryption': [_translate(_XML_ENCRYPTION, _required_text(element, 'ike/encryption_protocol', index), 'IKE encryption', index)],
        'integrity': [_translate(_XML_INTEGRITY, _required_text(element, 'ike/authentication_protocol', index), 'IKE integrity', index)],
        'dh_groups': [_dh_group(_required_text(element, 'ike/perfect_forward_secrecy', index), index, 'IKE DH group')],
        'lifetime': _int_text(element, 'ike/lifetime', index),
        'mode': ike_mode,
    }
    ipsec = {
        'protocol': _required_text(element, 'ipsec/protocol', index),
        'encryption': [_translate(_XML_ENCRYPTION, _required_text(element, 'ipsec/encryption_protocol', index), 'IPsec encryption', index)],
        'integrity': [_translate(_XML_INTEGRITY, _required_text(element, 'ipsec/authentication_protocol', index), 'IPsec integrity', index)],
        'dh_groups': [_dh_group(_required_text(element, 'ipsec/perfect_forward_secrecy', index), index, 'IPsec PFS group')],
        'lifetime': _int_text(element, 'ipsec/lifetime', index),
        'mode': _required_text(element, 'ipsec/mode', index),
        'clear_df_bit': _bool_text(element, 'ipsec/clear_df_bit', index),
        'fragmentation_before_encryption': _bool_text(element, 'ipsec/fragmentation_before_encryption', index),
        'tcp_mss_adjustment': _int_text(element, 'ipsec/tcp_mss_adjustment', index, required=False),
        'dpd_interval': _int_text(element, 'ipsec/dead_peer_detection/interval', index, required=False),
        'dpd_retries': _int_text(element, 'ipsec/dead_peer_detection/retries', index, required=False),
        'dpd_timeout': None,
        'dpd_timeout_action': None,
        'startup_action': None,
        'rekey_margin_time': None,
        'rekey_fuzz_percentage': None,
        'replay_window_size': None,
    }
    return {
        'index': index,
        'outside_ip': _ip_text(element, 'vpn_gateway/tunnel_outside_address/ip_address', index),
        'customer_outside_ip': _ip_text(element, 'customer_gateway/tunnel_outside_address/ip_address', index),
        'aws_inside_ip': aws_inside_ip,
        'customer_inside_ip': customer_inside_ip,
        'inside_cidr': str(inside_network),
        'inside_prefix_length': prefix_length,
        'amazon_asn': _int_text(element, 'vpn_gateway/bgp/asn', index, required=bgp_required),
        'customer_asn': _int_text(element, 'customer_gateway/bgp/asn', index, required=bgp_required),
        'bgp_hold_time': _int_text(element, 'vpn_gateway/bgp/hold_time', index, required=False),
        'psk': _optional_text(element, 'ike/pre_shared_key'),
        'options_source': 'xml',
        'ike': ike,
        'ipsec': ipsec,
    }


# ---------------------------------------------------------------------------
# DescribeVpnConnections helpers


def _canonical_ip(value, what):
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise AwsConfigError('%s is %r, which is not an IP address' % (what, value)) from None


def _sorted_by_outside_ip(tunnels):
    return sorted(tunnels, key=lambda tunnel: (ipaddress.ip_address(tunnel['outside_ip']).version, ipaddress.ip_address(tunnel['outside_ip'])))


def _values(tunnel_option, field, allowed, outside_ip):
    entries = _get(tunnel_option, field)
    if not entries:
        return None
    if not isinstance(entries, list):
        raise AwsConfigError('TunnelOptions %s for %s must be a list of {"Value": ...}' % (field, outside_ip))
    values = []
    for entry in entries:
        value = _get(entry, 'Value') if isinstance(entry, dict) else entry
        if value not in allowed:
            raise AwsConfigError('TunnelOptions %s for %s has unknown value %r (AWS allows: %s)'
                                 % (field, outside_ip, value, ', '.join(str(item) for item in allowed)))
        if value not in values:
            values.append(value)
    return values


def _int_option(tunnel_option, field, outside_ip):
    value = _get(tunnel_option, field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise AwsConfigError('TunnelOptions %s for %s is %r, expected an integer' % (field, outside_ip, value))
    return value


def _apply_tunnel_option(tunnel, tunnel_option):
    outside_ip = tunnel['outside_ip']
    if _get(tunnel_option, 'PreSharedKey'):
        tunnel['psk'] = _get(tunnel_option, 'PreSharedKey')
    inside_cidr = _get(tunnel_option, 'TunnelInsideCidr')
    if inside_cidr:
        try:
            network = ipaddress.ip_network(inside_cidr, strict=False)
        except ValueError:
            raise AwsConfigError('TunnelOptions TunnelInsideCidr for %s is %r, not a CIDR' % (outside_ip, inside_cidr)) from None
        if network.num_addresses < 4:
            raise AwsConfigError('TunnelOptions TunnelInsideCidr for %s is %s, too small for two inside addresses' % (outside_ip, network))
        # AWS takes the first host of the inside CIDR, the customer gateway the second.
        tunnel.update({'inside_cidr': str(network), 'inside_prefix_length': network.prefixlen,
                       'aws_inside_ip': str(network[1]), 'customer_inside_ip': str(network[2])})

    described = {
        ('ike', 'versions'): _values(tunnel_option, 'IkeVersions', AWS_IKE_VERSIONS, outside_ip),
        ('ike', 'encryption'): _values(tunnel_option, 'Phase1EncryptionAlgorithms', AWS_ENCRYPTION_ALGORITHMS, outside_ip),
        ('ike', 'integrity'): _values(tunnel_option, 'Phase1IntegrityAlgorithms', AWS_INTEGRITY_ALGORITHMS, outside_ip),
        ('ike', 'dh_groups'): _values(tunnel_option, 'Phase1DHGroupNumbers', AWS_PHASE1_DH_GROUPS, outside_ip),
        ('ike', 'lifetime'): _int_option(tunnel_option, 'Phase1LifetimeSeconds', outside_ip),
        ('ipsec', 'encryption'): _values(tunnel_option, 'Phase2EncryptionAlgorithms', AWS_ENCRYPTION_ALGORITHMS, outside_ip),
        ('ipsec', 'integrity'): _values(tunnel_option, 'Phase2IntegrityAlgorithms', AWS_INTEGRITY_ALGORITHMS, outside_ip),
        ('ipsec', 'dh_groups'): _values(tunnel_option, 'Phase2DHGroupNumbers', AWS_PHASE2_DH_GROUPS, outside_ip),
        ('ipsec', 'lifetime'): _int_option(tunnel_option, 'Phase2LifetimeSeconds', outside_ip),
        ('ipsec', 'dpd_timeout'): _int_option(tunnel_option, 'DpdTimeoutSeconds', outside_ip),
        ('ipsec', 'rekey_margin_time'): _int_option(tunnel_option, 'RekeyMarginTimeSeconds', outside_ip),
        ('ipsec', 'rekey_fuzz_percentage'): _int_option(tunnel_option, 'RekeyFuzzPercentage', outside_ip),
        ('ipsec', 'replay_window_size'): _int_option(tunnel_option, 'ReplayWindowSize', outside_ip),
        ('ipsec', 'dpd_timeout_action'): _get(tunnel_option, 'DpdTimeoutAction') or None,
        ('ipsec', 'startup_action'): _get(tunnel_option, 'StartupAction') or None,
    }
    for (section, key), value in described.items():
        if value is not None:
            tunnel[section][key] = value
            tunnel['options_source'] = 'describe'


def _require_complete(connection):
    for tunnel in connection['tunnels']:
        if not tunnel.get('psk'):
            raise AwsConfigError('tunnel %s has no pre-shared key in the XML or in TunnelOptions (is it stored in Secrets Manager?)' % tunnel['outside_ip'])

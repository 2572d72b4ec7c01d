# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal to multicloud.vpn: not a public API, may change without notice.
#
# The link planner: from a few inventory values (redundancy, ASNs, optional inside CIDRs)
# to the exact list of tunnels of an AWS <-> GCP or AWS <-> Azure link: which customer
# gateway, which AWS connection and tunnel, which GCP/Azure interface, which /30 inside CIDR
# and which address on each side. Pure: no SDK, no I/O; netaddr for address arithmetic.

from __future__ import annotations

from collections import namedtuple

try:
    from netaddr import AddrFormatError, IPNetwork, IPRange, IPSet
    HAS_NETADDR = True
    NETADDR_IMPORT_ERROR = None
except ImportError as import_error:  # pragma: no cover - exercised by sanity import tests only
    HAS_NETADDR = False
    NETADDR_IMPORT_ERROR = import_error


class PlanError(ValueError):
    """An inventory value cannot make a valid link. The message starts with the variable name."""

    def __init__(self, message: str, *, variable: str | None = None):
        super().__init__(message)
        self.variable = variable


def _fail(variable: str, detail: str) -> PlanError:
    return PlanError('%s: %s' % (variable, detail), variable=variable)


def _require_netaddr() -> None:
    if not HAS_NETADDR:
        raise PlanError('the netaddr Python library is required to plan inside addresses (%s)' % NETADDR_IMPORT_ERROR)


# --------------------------------------------------------------------------------------
# Inside CIDRs
# --------------------------------------------------------------------------------------

LINK_LOCAL_RANGE = '169.254.0.0/16'
# AWS refuses these as tunnel inside CIDRs (ModifyVpnTunnelOptions, TunnelInsideCidr).
RESERVED_INSIDE_CIDRS = (
    '169.254.0.0/30',
    '169.254.1.0/30',
    '169.254.2.0/30',
    '169.254.3.0/30',
    '169.254.4.0/30',
    '169.254.5.0/30',
    '169.254.169.252/30',
)
# Azure custom APIPA BGP addresses must come from this range.
AZURE_APIPA_RANGE = ('169.254.21.0', '169.254.22.255')
INSIDE_PREFIX_LENGTH = 30

_InsideCidrSlot = namedtuple('_InsideCidrSlot', ['variable', 'explicit', 'preferred'])


def _parse_ipv4_cidr(cidr, variable: str):
    if not isinstance(cidr, str) or '/' not in cidr:
        raise _fail(variable, '%r is not an IPv4 CIDR such as 169.254.10.0/30' % (cidr,))
    try:
        network = IPNetwork(cidr.strip())
    except (AddrFormatError, ValueError, TypeError):
        raise _fail(variable, '%r is not an IPv4 CIDR such as 169.254.10.0/30' % (cidr,)) from None
    if network.version != 4:
        raise _fail(variable, '%s is not an IPv4 CIDR' % cidr)
    return network


def _within(network, first, last) -> bool:
    return network.first >= first and network.last <= last


def _apipa_range():
    return IPRange(*AZURE_APIPA_RANGE)


def validate_inside_cidr(cidr: str, variable: str, *, azure: bool = False) -> str:
    """Check one tunnel inside CIDR against AWS's rules (and Azure's APIPA range) -> '169.254.x.y/30'."""
    _require_netaddr()
    network = _parse_ipv4_cidr(cidr, variable)
    if network.prefixlen != INSIDE_PREFIX_LENGTH:
        raise _fail(variable, '%s must be a /30 (AWS tunnels take a /30 inside CIDR)' % cidr)
    if network.ip != network.network:
        raise _fail(variable, '%s is not the network address of its /30 (did you mean %s?)' % (cidr, network.cidr))
    link_local = IPNetwork(LINK_LOCAL_RANGE)
    if not _within(network, link_local.first, link_local.last):
        raise _fail(variable, '%s is outside %s' % (cidr, LINK_LOCAL_RANGE))
    normalised = str(network.cidr)
    if normalised in RESERVED_INSIDE_CIDRS:
        raise _fail(variable, '%s is reserved by AWS' % normalised)
    if azure:
        apipa = _apipa_range()
        if not _within(network, apipa.first, apipa.last):
            raise _fail(variable, '%s is outside Azure\'s APIPA range %s-%s' % (normalised, AZURE_APIPA_RANGE[0], AZURE_APIPA_RANGE[1]))
    return normalised


def tunnel_addresses(inside_cidr: str) -> tuple[str, str]:
    """(AWS inside IP, customer inside IP): the first and second host of the /30."""
    _require_netaddr()
    network = IPNetwork(validate_inside_cidr(inside_cidr, 'inside_cidr'))
    return str(network[1]), str(network[2])


def _pool_set(pool, azure: bool):
    """The address set free /30s are taken from, validated."""
    if pool is None:
        if azure:
            return IPSet(_apipa_range()), '%s-%s' % AZURE_APIPA_RANGE
        return IPSet([LINK_LOCAL_RANGE]), LINK_LOCAL_RANGE
    network = _parse_ipv4_cidr(pool, 'pool')
    link_local = IPNetwork(LINK_LOCAL_RANGE)
    if not _within(network, link_local.first, link_local.last):
        raise _fail('pool', '%s is outside %s' % (pool, LINK_LOCAL_RANGE))
    if network.prefixlen > INSIDE_PREFIX_LENGTH:
        raise _fail('pool', '%s is smaller than one /30' % pool)
    if azure:
        apipa = _apipa_range()
        if not _within(network, apipa.first, apipa.last):
            raise _fail('pool', '%s is outside Azure\'s APIPA range %s-%s' % (pool, AZURE_APIPA_RANGE[0], AZURE_APIPA_RANGE[1]))
    return IPSet([network.cidr]), str(network.cidr)


def _taken_networks(taken) -> list:
    networks = []
    for index, cidr in enumerate(taken or ()):
        if _is_ipv6_text(cidr):
            continue  # IPv6 inside CIDRs (/126) never clash with IPv4 ones
        networks.append(_parse_ipv4_cidr(cidr, 'taken[%d]' % index).cidr)
    return networks


def _is_ipv6_text(cidr) -> bool:
    return isinstance(cidr, str) and ':' in cidr


def _free_inside_cidrs(pool_set, used_set):
    """Every free /30 of the pool, lowest first, never reserved, never touching ``used_set``."""
    free = pool_set - used_set - IPSet(RESERVED_INSIDE_CIDRS)
    for block in free.iter_cidrs():
        if block.prefixlen <= INSIDE_PREFIX_LENGTH:
            for subnet in block.subnet(INSIDE_PREFIX_LENGTH):
                yield str(subnet)


def _assign_inside_cidrs(slots, *, pool_set, pool_label: str, taken, azure: bool) -> list[str]:
    """Explicit CIDRs first (validated, conflicts are errors), then preferred ones where still
    valid and free, then the lowest free /30s of the pool, in slot order."""
    taken_networks = _taken_networks(taken)
    used = IPSet(taken_networks)
    assigned = [None] * len(slots)
    owners = []  # (variable, IPNetwork) of the explicit CIDRs seen so far
    for index, slot in enumerate(slots):
        if slot.explicit is None:
            continue
        cidr = validate_inside_cidr(slot.explicit, slot.variable, azure=azure)
        network = IPNetwork(cidr)
        for other_variable, other in owners:
            if network.first <= other.last and other.first <= network.last:
                raise _fail(slot.variable, '%s overlaps %s (%s); inside CIDRs must be unique' % (cidr, other_variable, other))
        for other in taken_networks:
            if network.first <= other.last and other.first <= network.last:
                raise _fail(slot.variable, '%s overlaps %s, already used by another VPN connection of this gateway' % (cidr, other))
        owners.append((slot.variable, network))
        used.add(network)
        assigned[index] = cidr
    for index, slot in enumerate(slots):
        if assigned[index] is not None:
            continue
        for candidate in slot.preferred:
            try:
                cidr = validate_inside_cidr(candidate, slot.variable, azure=azure)
            except PlanError:
                continue
            if used.isdisjoint(IPSet([cidr])):
                used.add(cidr)
                assigned[index] = cidr
                break
    missing = [index for index, cidr in enumerate(assigned) if cidr is None]
    if missing:
        free = _free_inside_cidrs(pool_set, used)
        for index in missing:
            cidr = next(free, None)
            if cidr is None:
                raise _fail(slots[index].variable, 'no free /30 left in %s (%d needed)' % (pool_label, len(missing)))
            assigned[index] = cidr
    return assigned


def allocate_inside_cidrs(count: int, *, pool: str | None = None, taken=(), requested=None, azure: bool = False,
                          variable: str = 'inside_cidrs') -> list[str]:
    """``count`` unique /30 inside CIDRs.

    ``requested`` optionally lists ``count`` entries, each an explicit CIDR (validated) or None
    (allocated). Allocated ones are the lowest free /30s of ``pool`` (default 169.254.0.0/16, or
    Azure's APIPA range when ``azure``): never reserved, never overlapping each other, ``taken``
    or the requested ones. ``taken`` lists the inside CIDRs of the *other* connections of the
    same gateway; leave this link's own ones out, or pass them through ``requested``, so that a
    rerun keeps them. Same input, same output.
    """
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise _fail(variable, 'the number of inside CIDRs must be a non-negative integer (got %r)' % (count,))
    if requested is None:
        requested = [None] * count
    if not isinstance(requested, (list, tuple)):
        raise _fail(variable, 'must be a list (got %s)' % type(requested).__name__)
    if len(requested) != count:
        raise _fail(variable, 'expected %d entries, got %d' % (count, len(requested)))
    _require_netaddr()
    pool_set, pool_label = _pool_set(pool, azure)
    slots = [_InsideCidrSlot('%s[%d]' % (variable, index), cidr, ()) for index, cidr in enumerate(requested)]
    return _assign_inside_cidrs(slots, pool_set=pool_set, pool_label=pool_label, taken=taken, azure=azure)


# --------------------------------------------------------------------------------------
# ASNs
# --------------------------------------------------------------------------------------

# Private ASN ranges: GCP Cloud Router bgp.asn; AWS Amazon-side ASN (CreateVpnGateway /
# CreateTransitGateway reference: 64512-65534 for 16 bits, 4200000000-4294967294 for 32 bits).
PRIVATE_ASN_RANGES = ((64512, 65534), (4200000000, 4294967294))
AZURE_DEFAULT_ASN = 65515
# ASNs Azure VPN gateways refuse: Azure's public and internal ASNs, plus IANA reserved ones.
AZURE_RESERVED_ASN_RANGES = (
    (0, 0),
    (8074, 8075),
    (12076, 12076),
    (23456, 23456),
    (64496, 64511),
    (65517, 65520),
    (65535, 65551),
    (4294967295, 4294967295),
)
AZURE_ASN_RANGE = (1, 4294967294)


def _asn_value(value, variable: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool):
        raise _fail(variable, 'must be an integer ASN (got %r)' % (value,))
    return value


def _describe_ranges(ranges) -> str:
    return ' or '.join('%d-%d' % bounds if bounds[0] != bounds[1] else '%d' % bounds[0] for bounds in ranges)


def validate_private_asn(value, variable: str) -> int:
    """A private ASN as GCP Cloud Router and the AWS Amazon side accept it."""
    asn = _asn_value(value, variable)
    if not any(low <= asn <= high for low, high in PRIVATE_ASN_RANGES):
        raise _fail(variable, '%d is not a private ASN (%s)' % (asn, _describe_ranges(PRIVATE_ASN_RANGES)))
    return asn


def validate_azure_asn(value, variable: str) -> int:
    """An ASN an Azure VPN gateway accepts for its BGP settings."""
    asn = _asn_value(value, variable)
    if not AZURE_ASN_RANGE[0] <= asn <= AZURE_ASN_RANGE[1] or any(low <= asn <= high for low, high in AZURE_RESERVED_ASN_RANGES):
        raise _fail(variable, '%d is reserved by Azure or IANA (refused: %s)' % (asn, _describe_ranges(AZURE_RESERVED_ASN_RANGES)))
    return asn


def _require_distinct(asn: int, other_asn: int, variable: str, other_variable: str) -> None:
    if asn == other_asn:
        raise _fail(variable, 'must differ from %s (both are %d): eBGP needs two autonomous systems' % (other_variable, asn))


def _inventory_inside_cidrs(inside_cidrs, expected: int, what: str) -> list:
    if inside_cidrs is None:
        return [None] * expected
    if not isinstance(inside_cidrs, (list, tuple)):
        raise _fail('inside_cidrs', 'must be a list (got %s)' % type(inside_cidrs).__name__)
    if len(inside_cidrs) != expected:
        raise _fail('inside_cidrs', 'expected %d entries (one per %s), got %d' % (expected, what, len(inside_cidrs)))
    return list(inside_cidrs)


def _tunnel_name_suffix(connection: int, aws_tunnel: int) -> str:
    return 'c%d-t%d' % (connection, aws_tunnel)


# --------------------------------------------------------------------------------------
# AWS <-> GCP HA VPN
# --------------------------------------------------------------------------------------

# MISSION.md's redundancy table: tunnels -> (redundancy type,
# [(connection, AWS tunnel, external interface, HA interface), ...] of the tunnels used).
AWS_GCP_LAYOUTS = {
    1: ('SINGLE_IP_INTERNALLY_REDUNDANT', ((0, 1, 0, 0),)),
    2: ('TWO_IPS_REDUNDANCY', ((0, 1, 0, 0), (1, 1, 1, 1))),
    4: ('FOUR_IPS_REDUNDANCY', ((0, 1, 0, 0), (0, 2, 1, 0), (1, 1, 2, 1), (1, 2, 3, 1))),
}


def plan_aws_gcp(*, tunnels: int, amazon_asn: int, gcp_asn: int, inside_cidrs=None, pool: str | None = None, taken=(),
                 existing=None) -> dict:
    """The tunnels of an AWS <-> GCP HA VPN link (MISSION.md's 1/2/4 table).

    ``inside_cidrs`` lists one entry per *used* tunnel (in external interface order), each a
    CIDR or None. Every AWS tunnel gets an inside CIDR, the unused second tunnel of a
    connection too (``used: False``), so AWS never picks a clashing random one.
    ``existing`` maps (connection, aws_tunnel) to the inside CIDR that tunnel has now; it is
    kept when inventory gives none and it is still valid and free (reruns change nothing).
    """
    if tunnels not in AWS_GCP_LAYOUTS or isinstance(tunnels, bool):
        raise _fail('tunnels', 'must be 1, 2 or 4 (got %r)' % (tunnels,))
    amazon_asn = validate_private_asn(amazon_asn, 'amazon_asn')
    gcp_asn = validate_private_asn(gcp_asn, 'gcp_asn')
    _require_distinct(gcp_asn, amazon_asn, 'gcp_asn', 'amazon_asn')
    redundancy_type, layout = AWS_GCP_LAYOUTS[tunnels]
    requested = _inventory_inside_cidrs(inside_cidrs, tunnels, 'tunnel')
    connection_count = len({connection for connection, _tunnel, _external, _ha in layout})
    used_by_position = {(connection, aws_tunnel): (position, external, ha)
                        for position, (connection, aws_tunnel, external, ha) in enumerate(layout)}
    existing = existing or {}
    positions = [(connection, aws_tunnel) for connection in range(connection_count) for aws_tunnel in (1, 2)]
    slots = []
    for connection, aws_tunnel in positions:
        used = used_by_position.get((connection, aws_tunnel))
        if used is not None:
            variable, explicit = 'inside_cidrs[%d]' % used[0], requested[used[0]]
        else:
            variable, explicit = 'inside_cidrs (unused tunnel %d of connection %d)' % (aws_tunnel, connection), None
        preferred = (existing[(connection, aws_tunnel)],) if (connection, aws_tunnel) in existing else ()
        slots.append(_InsideCidrSlot(variable, explicit, preferred))
    _require_netaddr()
    pool_set, pool_label = _pool_set(pool, False)
    cidrs = _assign_inside_cidrs(slots, pool_set=pool_set, pool_label=pool_label, taken=taken, azure=False)
    plan_tunnels = []
    for (connection, aws_tunnel), cidr in zip(positions, cidrs):
        aws_ip, gcp_ip = tunnel_addresses(cidr)
        used = used_by_position.get((connection, aws_tunnel))
        plan_tunnels.append({
            'name_suffix': _tunnel_name_suffix(connection, aws_tunnel),
            'connection': connection,
            'aws_tunnel': aws_tunnel,
            'used': used is not None,
            'external_interface': used[1] if used else None,
            'ha_interface': used[2] if used else None,
            'inside_cidr': cidr,
            'aws_inside_ip': aws_ip,
            'gcp_inside_ip': gcp_ip,
            'gcp_router_ip_range': '%s/%d' % (gcp_ip, INSIDE_PREFIX_LENGTH),
            'amazon_asn': amazon_asn,
            'gcp_asn': gcp_asn,
        })
    return {
        'redundancy_type': redundancy_type,
        'tunnel_count': tunnels,
        'amazon_asn': amazon_asn,
        'gcp_asn': gcp_asn,
        'customer_gateways': [{'index': index, 'ha_interface': index, 'bgp_asn': gcp_asn} for index in range(connection_count)],
        'connections': [
            {'index': connection, 'customer_gateway': connection,
             'tunnels_used': sorted(aws_tunnel for conn, aws_tunnel, _external, _ha in layout if conn == connection)}
            for connection in range(connection_count)
        ],
        'tunnels': plan_tunnels,
    }


# --------------------------------------------------------------------------------------
# AWS <-> Azure active-active
# --------------------------------------------------------------------------------------

# Microsoft's documented AWS mapping (connection -> Azure instance i, AWS tunnel t): inside CIDR.
AZURE_DOCUMENTED_INSIDE_CIDRS = {
    (0, 1): '169.254.21.0/30',
    (0, 2): '169.254.22.0/30',
    (1, 1): '169.254.21.4/30',
    (1, 2): '169.254.22.4/30',
}
AZURE_MODES = ('static', 'bgp')
# mode -> AWS tunnels used per connection. Static routing reaches tunnel 1 of each
# connection (seed 004); BGP uses all four.
_AZURE_TUNNELS_USED = {'static': (1,), 'bgp': (1, 2)}


def plan_aws_azure(*, mode: str, amazon_asn: int, azure_asn: int = AZURE_DEFAULT_ASN, inside_cidrs=None, taken=(),
                   existing=None) -> dict:
    """The tunnels of an AWS <-> Azure active-active link.

    Customer gateway i is the public IP of Azure gateway instance i; one AWS connection each.
    ``static``: tunnel 1 of each connection (2 tunnels), no BGP. ``bgp``: all 4 tunnels with
    Azure custom APIPA BGP addresses. By default every AWS tunnel (used or not, in both modes)
    gets Microsoft's documented inside CIDR, so a later switch to BGP keeps the tunnels;
    ``inside_cidrs`` (one entry per used tunnel, CIDR or None) overrides, ``existing`` is as in
    :func:`plan_aws_gcp`, and a documented CIDR clashing with ``taken`` is replaced by the
    lowest free /30 of the APIPA range.
    """
    if mode not in AZURE_MODES:
        raise _fail('mode', 'must be static or bgp (got %r)' % (mode,))
    amazon_asn = validate_private_asn(amazon_asn, 'amazon_asn')
    azure_asn = validate_azure_asn(azure_asn, 'azure_asn')
    _require_distinct(azure_asn, amazon_asn, 'azure_asn', 'amazon_asn')
    bgp = mode == 'bgp'
    tunnels_used = _AZURE_TUNNELS_USED[mode]
    positions = [(connection, aws_tunnel) for connection in (0, 1) for aws_tunnel in (1, 2)]
    used_positions = [position for position in positions if position[1] in tunnels_used]
    requested = _inventory_inside_cidrs(inside_cidrs, len(used_positions), 'used tunnel')
    existing = existing or {}
    slots = []
    for position in positions:
        if position in used_positions:
            index = used_positions.index(position)
            variable, explicit = 'inside_cidrs[%d]' % index, requested[index]
        else:
            variable, explicit = 'inside_cidrs (unused tunnel %d of connection %d)' % (position[1], position[0]), None
        preferred = tuple(cidr for cidr in (existing.get(position), AZURE_DOCUMENTED_INSIDE_CIDRS[position]) if cidr)
        slots.append(_InsideCidrSlot(variable, explicit, preferred))
    _require_netaddr()
    # Fallback allocations come from the APIPA range in both modes, so a static link can turn BGP
    # without moving its tunnels.
    pool_set, pool_label = _pool_set(None, True)
    cidrs = _assign_inside_cidrs(slots, pool_set=pool_set, pool_label=pool_label, taken=taken, azure=bgp)
    plan_tunnels = []
    apipa_by_instance = {0: [], 1: []}
    for (connection, aws_tunnel), cidr in zip(positions, cidrs):
        aws_ip, customer_ip = tunnel_addresses(cidr)
        used = (connection, aws_tunnel) in used_positions
        azure_apipa_ip = customer_ip if bgp else None
        if used and bgp:
            apipa_by_instance[connection].append(customer_ip)
        plan_tunnels.append({
            'name_suffix': _tunnel_name_suffix(connection, aws_tunnel),
            'connection': connection,
            'aws_tunnel': aws_tunnel,
            'azure_instance': connection,
            'used': used,
            'inside_cidr': cidr,
            'aws_inside_ip': aws_ip,
            'azure_apipa_ip': azure_apipa_ip,
            'amazon_asn': amazon_asn,
            'azure_asn': azure_asn,
        })
    return {
        'mode': mode,
        'amazon_asn': amazon_asn,
        'azure_asn': azure_asn,
        'customer_gateways': [{'index': instance, 'azure_instance': instance, 'bgp_asn': azure_asn} for instance in (0, 1)],
        'connections': [
            {'index': connection, 'customer_gateway': connection, 'static_routes_only': not bgp, 'tunnels_used': list(tunnels_used)}
            for connection in (0, 1)
        ],
        'tunnels': plan_tunnels,
        'azure_gateway_apipa': apipa_by_instance,
    }

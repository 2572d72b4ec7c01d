# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to multicloud.vpn: not a public API, may change without notice.
"""The GCP half of an AWS <-> GCP HA VPN link: desired state, diff, ordered operations.

Data flows one way: module parameters -> :func:`link_spec` (validated :class:`LinkSpec`) ->
:class:`CurrentState` (Compute documents as camelCase API dicts, read by :class:`GcpLinkApi`) ->
:func:`plan_present` / :func:`plan_absent` (a :class:`LinkPlan`: :class:`Step` objects with
dependencies, the objects replaced, warnings) -> :meth:`GcpLinkApi.execute` (waves of
operations started together, then waited for) -> :func:`link_view` (the module result).
Everything above :class:`GcpLinkApi` is pure: no SDK, no I/O.

Names. Every object the link creates is named from the link name ``<name>``:
``<name>-c<connection>-t<aws tunnel>`` (tunnels), the same plus ``-if`` / ``-peer`` (Cloud
Router interfaces and BGP peers), ``<name>-aws-<8 hex>`` (external VPN gateway; the suffix is a
digest of its redundancy type and interfaces, so a different AWS side gets a new name), and by
default ``<name>-gw`` (HA VPN gateway) and ``<name>-router``. The link owns exactly the objects
whose names match those patterns; router interfaces and peers it does not own are never
dropped. Objects it creates carry ``multicloud.vpn link=<name>`` in their description; only
those are deleted by ``state=absent`` (gateway, router, network).

What GCP cannot update is replaced, in an order that strands nothing: a tunnel's gateway
interfaces, peer gateway, router, IKE version, cipher suite and shared secret are immutable, so
its router interface and BGP peer are removed, the tunnel deleted and re-created, and the
interface and peer added back; an external VPN gateway's interfaces are immutable, so a new
gateway is created under a new name, the tunnels moved to it, and the old one deleted. The HA
VPN gateway is never deleted or re-created by ``state=present``.

Shared secrets. GCP returns only ``sharedSecretHash``, a salted hash whose salt it keeps. To
notice a rotated pre-shared key without storing it, the tunnel description records
``psk-fingerprint=pbkdf2-sha256:<16 hex>``: PBKDF2-HMAC-SHA256 of the key, salted with the
tunnel's path (project/region/name), 50,000 iterations, truncated to 64 bits. It cannot be
reversed; a weak key could be guessed from it as from GCP's own hash, so use long random keys.
"""
from __future__ import annotations

import copy
import hashlib
import hmac
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ansible_collections.multicloud.vpn.plugins.module_utils._gcp import GcpError
from ansible_collections.multicloud.vpn.plugins.module_utils._ipsec import ProfileError, gcp_tunnel_crypto, resolve_profile
from ansible_collections.multicloud.vpn.plugins.module_utils._plan import (
    AWS_GCP_LAYOUTS,
    PlanError,
    plan_aws_gcp,
    validate_inside_cidr,
    validate_private_asn,
)
from ansible_collections.multicloud.vpn.plugins.module_utils._psk import validate_psk

try:
    from netaddr import AddrFormatError, IPAddress, IPNetwork
except ImportError:  # pragma: no cover - _plan reports the missing library
    AddrFormatError = ValueError

try:
    from google.cloud import compute_v1
except ImportError:  # pragma: no cover - the module reports the missing library through _gcp
    compute_v1 = None

OWNER_MARK = "multicloud.vpn"
NAME_PATTERN = re.compile(r"^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$")
REGION_PATTERN = re.compile(r"^[a-z]+(?:-[a-z]+)*[0-9]+$")
# "<name>-aws-xxxxxxxx" and "<name>-c0-t1-peer" are the longest derived names (GCP: 63).
MAX_LINK_NAME_LENGTH = 50
STATES = ("present", "absent", "gathered")
AWS_TUNNEL_NUMBERS = {"t1": 1, "t2": 2}
ADVERTISE_MODES = ("DEFAULT", "CUSTOM")
ADVERTISED_GROUPS = ("ALL_SUBNETS",)
NETWORK_ROUTING_MODE = "GLOBAL"
PSK_FINGERPRINT_SCHEME = "pbkdf2-sha256"
PSK_FINGERPRINT_ITERATIONS = 50000
PSK_FINGERPRINT_HEX_LENGTH = 16
MASK = "********"
# Output-only router fields: never sent back in routers.update.
ROUTER_OUTPUT_ONLY = ("kind", "id", "creationTimestamp", "selfLink", "region", "selfLinkWithId")
KIND_LABELS = {"network": "network", "vpn_gateway": "HA VPN gateway", "external_vpn_gateway": "external VPN gateway",
               "router": "Cloud Router", "vpn_tunnel": "VPN tunnel"}


class VpnLinkError(ValueError):
    """A module parameter or the current state makes the link impossible. Raised before any write."""


# --------------------------------------------------------------------------------------
# Names, links, descriptions
# --------------------------------------------------------------------------------------

def tunnel_name(link: str, connection: int, aws_tunnel: int) -> str:
    return "%s-c%d-t%d" % (link, connection, aws_tunnel)


def router_interface_name(tunnel: str) -> str:
    return tunnel + "-if"


def bgp_peer_name(tunnel: str) -> str:
    return tunnel + "-peer"


def external_gateway_name(link: str, redundancy_type: str, interfaces: list) -> str:
    """``<link>-aws-<8 hex>``: the same AWS side always gives the same name, another side a new one."""
    text = redundancy_type + ";" + ";".join("%d=%s" % (item["id"], item["ipAddress"]) for item in sorted(interfaces, key=lambda i: i["id"]))
    return "%s-aws-%s" % (link, hashlib.sha256(text.encode()).hexdigest()[:8])


@dataclass(frozen=True)
class OwnedNames:
    """Regular expressions for the names a link owns."""

    tunnel: Any
    interface: Any
    peer: Any
    external_gateway: Any

    @classmethod
    def of(cls, link: str) -> "OwnedNames":
        base = re.escape(link) + r"-c[01]-t[12]"
        return cls(tunnel=re.compile("^%s$" % base), interface=re.compile("^%s-if$" % base), peer=re.compile("^%s-peer$" % base),
                   external_gateway=re.compile("^%s-aws-[0-9a-f]{8}$" % re.escape(link)))


def external_gateway_filter(link: str) -> str:
    """Compute list filter (RE2, full match) for the link's external VPN gateways (link names hold only [a-z0-9-])."""
    return 'name eq "%s-aws-[0-9a-f]{8}"' % link


def resource_link(project: str, collection: str, name: str, region: str | None = None) -> str:
    scope = "regions/%s" % region if region else "global"
    return "projects/%s/%s/%s/%s" % (project, scope, collection, name)


def relative_link(link: str | None) -> str | None:
    """'https://…/compute/v1/projects/p/regions/r/x/n' -> 'projects/p/regions/r/x/n' (links compare equal across hosts)."""
    if not link:
        return link
    index = link.find("projects/")
    return link[index:] if index >= 0 else link


def name_of(link: str | None) -> str | None:
    return link.rstrip("/").rsplit("/", 1)[-1] if link else None


def owner_description(link: str, **extra: str) -> str:
    return " ".join([OWNER_MARK, "link=%s" % link] + ["%s=%s" % item for item in extra.items()])


def created_by_link(document: dict | None, link: str) -> bool:
    """Whether the object's description says this link created it."""
    description = (document or {}).get("description") or ""
    tokens = description.split()
    return bool(tokens) and tokens[0] == OWNER_MARK and "link=%s" % link in tokens[1:]


def description_value(document: dict | None, key: str) -> str | None:
    for token in ((document or {}).get("description") or "").split():
        if token.startswith(key + "="):
            return token[len(key) + 1:]
    return None


def psk_fingerprint(pre_shared_key: str, project: str, region: str, tunnel: str) -> str:
    """Non-reversible fingerprint of a PSK for one tunnel (see the module docstring)."""
    salt = ("multicloud.vpn/gcp-tunnel-psk/v1:" + resource_link(project, "vpnTunnels", tunnel, region)).encode()
    digest = hashlib.pbkdf2_hmac("sha256", pre_shared_key.encode(), salt, PSK_FINGERPRINT_ITERATIONS)
    return "%s:%s" % (PSK_FINGERPRINT_SCHEME, digest.hex()[:PSK_FINGERPRINT_HEX_LENGTH])


def compact(value: Any) -> Any:
    """Drop None, empty lists and empty dicts (recursively): the SDK prints unset repeated fields as []."""
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            item = compact(item)
            if item is None or item == [] or item == {}:
                continue
            result[key] = item
        return result
    if isinstance(value, list):
        return [compact(item) for item in value]
    return value


# --------------------------------------------------------------------------------------
# Validated module parameters
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TunnelSpec:
    """One GCP tunnel toward one AWS tunnel (MISSION.md's table row) with its addresses."""

    index: int  # position in aws_tunnels (for messages)
    name: str
    connection: int
    aws_tunnel: int
    ha_interface: int
    external_interface: int
    outside_ip: str
    inside_cidr: str
    amazon_asn: int
    pre_shared_key: str = field(repr=False)

    @property
    def interface_name(self) -> str:
        return router_interface_name(self.name)

    @property
    def peer_name(self) -> str:
        return bgp_peer_name(self.name)


@dataclass(frozen=True)
class LinkSpec:
    project: str | None
    region: str
    name: str
    state: str
    network: str | None
    create_network: bool
    gateway_name: str
    router_name: str
    router_asn: int | None
    router_create: bool
    advertisement: dict | None  # camelCase bgp advertisement fields, None = leave as is
    redundancy: int | None
    tunnels: tuple = ()
    crypto: dict | None = None  # {"ikeVersion", ["cipherSuite"]}

    @property
    def owned(self) -> OwnedNames:
        return OwnedNames.of(self.name)

    @property
    def redundancy_type(self) -> str | None:
        return AWS_GCP_LAYOUTS[self.redundancy][0] if self.tunnels else None

    def link(self, collection: str, name: str) -> str:
        regional = collection in ("vpnGateways", "vpnTunnels", "routers")
        return resource_link(self.project, collection, name, self.region if regional else None)


def _fail(option: str, detail: str) -> VpnLinkError:
    return VpnLinkError("%s: %s" % (option, detail))


def _check_name(value: Any, option: str, max_length: int = 63) -> str:
    if not isinstance(value, str) or not NAME_PATTERN.match(value) or len(value) > max_length:
        raise _fail(option, "%r is not a valid GCP resource name (lowercase letters, digits and '-', starting with a letter, "
                            "not ending with '-', at most %d characters)" % (value, max_length))
    return value


def link_spec(params: dict, project: str | None = None) -> LinkSpec:
    """Validate the module parameters (no I/O). Raises VpnLinkError naming the option."""
    try:
        return _link_spec(params, project)
    except PlanError as error:  # _plan / _psk name the variable first, as we do
        raise VpnLinkError(str(error)) from None


def _link_spec(params: dict, project: str | None) -> LinkSpec:
    name = _check_name(params.get("name"), "name", MAX_LINK_NAME_LENGTH)
    state = params.get("state") or "present"
    if state not in STATES:
        raise _fail("state", "must be one of %s" % ", ".join(STATES))
    region = params.get("region")
    if not isinstance(region, str) or not REGION_PATTERN.match(region):
        raise _fail("region", "%r is not a GCP region name such as us-central1" % (region,))
    network = params.get("network")
    if network is not None:
        _check_name(network, "network")
    elif state == "present":
        raise _fail("network", "required with state=present")
    gateway_name = _check_name(params.get("ha_vpn_gateway") or name + "-gw", "ha_vpn_gateway")
    router = params.get("router") or {}
    router_name = _check_name(router.get("name") or name + "-router", "router.name")
    router_asn = validate_private_asn(router["asn"], "router.asn") if router.get("asn") is not None else None
    redundancy = params.get("redundancy")
    if redundancy is not None and (isinstance(redundancy, bool) or redundancy not in AWS_GCP_LAYOUTS):
        raise _fail("redundancy", "must be 1, 2 or 4 (got %r)" % (redundancy,))
    tunnels: tuple = ()
    crypto = None
    aws_tunnels = params.get("aws_tunnels") or []
    if state == "present" and aws_tunnels:
        if redundancy is None:
            redundancy = len(aws_tunnels)
            if redundancy not in AWS_GCP_LAYOUTS:
                raise _fail("aws_tunnels", "must hold 1, 2 or 4 tunnels (got %d)" % redundancy)
        elif len(aws_tunnels) != redundancy:
            raise _fail("aws_tunnels", "redundancy %d needs %d AWS tunnels, got %d" % (redundancy, redundancy, len(aws_tunnels)))
        tunnels = _tunnel_specs(name, redundancy, aws_tunnels)
        if router_asn is not None:
            check_asns_differ(tunnels, router_asn, "router.asn")
        crypto = _tunnel_crypto(params.get("ipsec_profile"))
    return LinkSpec(project=project, region=region, name=name, state=state, network=network,
                    create_network=bool(params.get("create_network")), gateway_name=gateway_name, router_name=router_name,
                    router_asn=router_asn, router_create=router.get("create") is not False,
                    advertisement=_advertisement(router), redundancy=redundancy, tunnels=tunnels, crypto=crypto)


def _advertisement(router: dict) -> dict | None:
    mode, groups, ranges = router.get("advertise_mode"), router.get("advertised_groups"), router.get("advertised_ip_ranges")
    if mode is None and groups is None and ranges is None:
        return None
    mode = "CUSTOM" if mode is None else str(mode).upper()
    if mode not in ADVERTISE_MODES:
        raise _fail("router.advertise_mode", "must be DEFAULT or CUSTOM (got %r)" % (router.get("advertise_mode"),))
    if mode == "DEFAULT":
        if groups or ranges:
            raise _fail("router.advertised_ip_ranges" if ranges else "router.advertised_groups",
                        "only allowed with advertise_mode CUSTOM")
        return {"advertiseMode": "DEFAULT", "advertisedGroups": [], "advertisedIpRanges": []}
    groups = list(ADVERTISED_GROUPS) if groups is None else [str(group).upper() for group in groups]
    for group in groups:
        if group not in ADVERTISED_GROUPS:
            raise _fail("router.advertised_groups", "%r is not one of %s" % (group, ", ".join(ADVERTISED_GROUPS)))
    if len(set(groups)) != len(groups):
        raise _fail("router.advertised_groups", "repeats a group")
    normalized_ranges, seen = [], set()
    for index, item in enumerate(ranges or []):
        option = "router.advertised_ip_ranges[%d].range" % index
        raw = item.get("range") if isinstance(item, dict) else item
        try:
            network = IPNetwork(str(raw))
        except (AddrFormatError, ValueError, TypeError):
            raise _fail(option, "%r is not a CIDR such as 35.199.192.0/19" % (raw,)) from None
        if "/" not in str(raw):
            raise _fail(option, "%r has no prefix length (e.g. 35.199.192.0/19)" % (raw,))
        if network.ip != network.network:
            raise _fail(option, "%s is not the network address of its prefix (did you mean %s?)" % (raw, network.cidr))
        cidr = str(network.cidr)
        if cidr in seen:
            raise _fail(option, "%s is listed twice" % cidr)
        seen.add(cidr)
        entry = {"range": cidr}
        description = item.get("description") if isinstance(item, dict) else None
        if description:
            entry["description"] = str(description)
        normalized_ranges.append(entry)
    return {"advertiseMode": "CUSTOM", "advertisedGroups": groups, "advertisedIpRanges": normalized_ranges}


def _tunnel_specs(link: str, redundancy: int, aws_tunnels: list) -> tuple:
    _redundancy_type, layout = AWS_GCP_LAYOUTS[redundancy]
    slots = {(connection, aws_tunnel): (external, ha) for connection, aws_tunnel, external, ha in layout}
    order = [(connection, aws_tunnel) for connection, aws_tunnel, _external, _ha in layout]
    given = [(item.get("connection"), item.get("aws_tunnel")) for item in aws_tunnels]
    if all(connection is None and aws_tunnel is None for connection, aws_tunnel in given):
        positions = order
    elif all(connection is not None and aws_tunnel is not None for connection, aws_tunnel in given):
        positions = []
        for index, (connection, aws_tunnel) in enumerate(given):
            if connection not in (0, 1) or isinstance(connection, bool):
                raise _fail("aws_tunnels[%d].connection" % index, "must be 0 or 1 (got %r)" % (connection,))
            if aws_tunnel not in AWS_TUNNEL_NUMBERS:
                raise _fail("aws_tunnels[%d].aws_tunnel" % index, "must be t1 or t2 (got %r)" % (aws_tunnel,))
            position = (connection, AWS_TUNNEL_NUMBERS[aws_tunnel])
            if position not in slots:
                raise _fail("aws_tunnels[%d]" % index, "connection %d tunnel %s is not used with redundancy %d (it uses %s)"
                            % (connection, aws_tunnel, redundancy, ", ".join("connection %d tunnel t%d" % slot for slot in order)))
            if position in positions:
                raise _fail("aws_tunnels[%d]" % index, "connection %d tunnel %s is listed twice" % (connection, aws_tunnel))
            positions.append(position)
    else:
        raise _fail("aws_tunnels", "give connection and aws_tunnel for every tunnel, or for none (then the list follows "
                                   "MISSION.md's order: connection 0 t1, connection 0 t2 (4 tunnels), connection 1 t1, ...)")
    specs, outside_ips, inside_networks, asns = [], {}, [], set()
    for index, (item, (connection, aws_tunnel)) in enumerate(zip(aws_tunnels, positions)):
        option = "aws_tunnels[%d]" % index
        outside_ip = _ipv4_address(item.get("outside_ip"), option + ".outside_ip")
        if outside_ip in outside_ips:
            raise _fail(option + ".outside_ip", "%s is also the outside IP of aws_tunnels[%d]" % (outside_ip, outside_ips[outside_ip]))
        outside_ips[outside_ip] = index
        inside_cidr = validate_inside_cidr(item.get("inside_cidr"), option + ".inside_cidr")
        amazon_asn = validate_private_asn(item.get("amazon_asn"), option + ".amazon_asn")
        pre_shared_key = validate_psk(item.get("pre_shared_key"), option + ".pre_shared_key")
        network = IPNetwork(inside_cidr)
        for other_index, other in inside_networks:
            if network.first <= other.last and other.first <= network.last:
                raise _fail(option + ".inside_cidr", "%s overlaps aws_tunnels[%d].inside_cidr %s" % (inside_cidr, other_index, other))
        inside_networks.append((index, network))
        asns.add(amazon_asn)
        if len(asns) > 1:
            raise _fail(option + ".amazon_asn", "every AWS tunnel of a link ends on the same AWS gateway: one Amazon-side ASN "
                                                "(got %s)" % ", ".join(str(asn) for asn in sorted(asns)))
        external, ha = slots[(connection, aws_tunnel)]
        specs.append(TunnelSpec(index=index, name=tunnel_name(link, connection, aws_tunnel), connection=connection, aws_tunnel=aws_tunnel,
                                ha_interface=ha, external_interface=external, outside_ip=outside_ip, inside_cidr=inside_cidr,
                                amazon_asn=amazon_asn, pre_shared_key=pre_shared_key))
    return tuple(sorted(specs, key=lambda spec: spec.external_interface))


def _ipv4_address(value: Any, option: str) -> str:
    try:
        address = IPAddress(str(value))
    except (AddrFormatError, ValueError, TypeError):
        raise _fail(option, "%r is not an IPv4 address" % (value,)) from None
    if address.version != 4 or value is None:
        raise _fail(option, "%r is not an IPv4 address" % (value,))
    return str(address)


def _tunnel_crypto(profile: Any) -> dict:
    try:
        return gcp_tunnel_crypto(resolve_profile(profile))
    except ProfileError as error:
        message = str(error)
        raise VpnLinkError("ipsec_profile" + message[len("profile"):] if message.startswith("profile") else "ipsec_profile: " + message) from None


def check_asns_differ(tunnels: tuple, router_asn: int, router_option: str) -> None:
    for tunnel in tunnels:
        if tunnel.amazon_asn == router_asn:
            raise _fail("aws_tunnels[%d].amazon_asn" % tunnel.index, "must differ from %s (both are %d): eBGP needs two autonomous systems"
                        % (router_option, router_asn))


# --------------------------------------------------------------------------------------
# Current state, steps, plan
# --------------------------------------------------------------------------------------

@dataclass
class CurrentState:
    """What exists, as Compute API documents (camelCase dicts, empty fields dropped)."""

    network: dict | None = None
    gateway: dict | None = None
    router: dict | None = None
    external_gateways: list = field(default_factory=list)  # the link's (name pattern)
    tunnels: list = field(default_factory=list)  # every tunnel of the region
    router_status: dict | None = None  # getRouterStatus "result"
    network_read: bool = True  # False: not read, because the gateway and router in it prove that it exists


@dataclass
class Step:
    """One Compute mutation. ``body`` is the camelCase request resource (None for delete)."""

    key: str
    kind: str  # network | vpn_gateway | external_vpn_gateway | router | vpn_tunnel
    verb: str  # insert | delete | patch | update
    name: str
    body: dict | None = None
    after: tuple = ()
    summary: str = ""
    secret: str | None = field(default=None, repr=False)
    leave_if_in_use: bool = False


@dataclass
class LinkPlan:
    steps: list = field(default_factory=list)
    replaced: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    def add(self, step: Step) -> Step:
        self.steps.append(step)
        return step


def waves(steps: list) -> list:
    """Steps grouped so that each wave only depends on earlier waves (order kept inside a wave)."""
    keys = {step.key for step in steps}
    done: set = set()
    remaining = list(steps)
    result = []
    while remaining:
        wave = [step for step in remaining if all(dependency in done or dependency not in keys for dependency in step.after)]
        if not wave:
            raise VpnLinkError("internal error: circular step dependencies: %s" % ", ".join(step.key for step in remaining))
        result.append(wave)
        done.update(step.key for step in wave)
        remaining = [step for step in remaining if step.key not in done]
    return result


def ordered_steps(steps: list) -> list:
    return [step for wave in waves(steps) for step in wave]


def desired_tunnel_body(spec: LinkSpec, tunnel: TunnelSpec, external_gateway: str) -> dict:
    fingerprint = psk_fingerprint(tunnel.pre_shared_key, spec.project, spec.region, tunnel.name)
    body = {
        "name": tunnel.name,
        "description": owner_description(spec.name, **{"psk-fingerprint": fingerprint}),
        "vpnGateway": spec.link("vpnGateways", spec.gateway_name),
        "vpnGatewayInterface": tunnel.ha_interface,
        "peerExternalGateway": spec.link("externalVpnGateways", external_gateway),
        "peerExternalGatewayInterface": tunnel.external_interface,
        "router": spec.link("routers", spec.router_name),
        "sharedSecret": tunnel.pre_shared_key,
    }
    body.update(copy.deepcopy(spec.crypto))
    return body


def _normalized_suite(suite: dict | None) -> dict:
    return {phase: {role: sorted(values) for role, values in (roles or {}).items() if values}
            for phase, roles in (suite or {}).items() if roles}


def tunnel_differences(desired: dict, current: dict) -> list:
    """Why an existing tunnel must be replaced (GCP cannot update any of these); [] when it matches."""
    reasons = []
    if relative_link(current.get("vpnGateway")) != desired["vpnGateway"]:
        reasons.append("HA VPN gateway %s -> %s" % (name_of(current.get("vpnGateway")), name_of(desired["vpnGateway"])))
    if current.get("vpnGatewayInterface", 0) != desired["vpnGatewayInterface"]:
        reasons.append("HA interface %s -> %d" % (current.get("vpnGatewayInterface", 0), desired["vpnGatewayInterface"]))
    if relative_link(current.get("peerExternalGateway")) != desired["peerExternalGateway"]:
        reasons.append("external VPN gateway %s -> %s" % (name_of(current.get("peerExternalGateway")), name_of(desired["peerExternalGateway"])))
    if current.get("peerExternalGatewayInterface", 0) != desired["peerExternalGatewayInterface"]:
        reasons.append("external interface %s -> %d" % (current.get("peerExternalGatewayInterface", 0), desired["peerExternalGatewayInterface"]))
    if relative_link(current.get("router")) != desired["router"]:
        reasons.append("router %s -> %s" % (name_of(current.get("router")), name_of(desired["router"])))
    if current.get("ikeVersion", 2) != desired["ikeVersion"]:
        reasons.append("IKE version %s -> %d" % (current.get("ikeVersion", 2), desired["ikeVersion"]))
    # An IKEv1 tunnel is sent without a cipher suite; whatever GCP reports for it is not ours to compare.
    if "cipherSuite" in desired and _normalized_suite(current.get("cipherSuite")) != _normalized_suite(desired["cipherSuite"]):
        reasons.append("cipher suite")
    have = description_value(current, "psk-fingerprint")
    want = description_value(desired, "psk-fingerprint")
    if have is None:
        reasons.append("pre-shared key (no fingerprint recorded: set by another tool)")
    elif not hmac.compare_digest(have, want):
        reasons.append("pre-shared key")
    return reasons


def _router_interfaces_for(spec: LinkSpec) -> list:
    interfaces = []
    for tunnel in spec.tunnels:
        _aws_ip, gcp_ip = _inside_addresses(tunnel.inside_cidr)
        interfaces.append({"name": tunnel.interface_name, "ipRange": "%s/30" % gcp_ip, "linkedVpnTunnel": spec.link("vpnTunnels", tunnel.name)})
    return interfaces


def _router_peers_for(spec: LinkSpec) -> list:
    peers = []
    for tunnel in spec.tunnels:
        aws_ip, gcp_ip = _inside_addresses(tunnel.inside_cidr)
        peers.append({"name": tunnel.peer_name, "interfaceName": tunnel.interface_name, "ipAddress": gcp_ip, "peerIpAddress": aws_ip,
                      "peerAsn": tunnel.amazon_asn})
    return peers


def _inside_addresses(inside_cidr: str) -> tuple:
    network = IPNetwork(inside_cidr)
    return str(network[1]), str(network[2])


def _interface_key(interface: dict) -> tuple:
    return (interface.get("ipRange"), relative_link(interface.get("linkedVpnTunnel")))


def _peer_key(peer: dict) -> tuple:
    return (peer.get("interfaceName"), peer.get("ipAddress"), peer.get("peerIpAddress"), peer.get("peerAsn"))


def _merge_owned(current: list, desired: list, owned: Any) -> list:
    """Current entries not owned kept (in order); owned ones replaced by the desired (keeping extra
    fields the user set on them), dropped when not desired; new desired ones appended."""
    wanted = {item["name"]: item for item in desired}
    merged, placed = [], set()
    for item in current:
        if not owned.match(item.get("name", "")):
            merged.append(item)
        elif item["name"] in wanted:
            updated = dict(item)
            updated.update(wanted[item["name"]])
            merged.append(updated)
            placed.add(item["name"])
    merged.extend(item for item in desired if item["name"] not in placed)
    return merged


def router_change(router: dict, *, interfaces: list | None = None, peers: list | None = None, bgp: dict | None = None) -> tuple:
    """(verb, body) to bring ``router`` to the given lists / bgp fields.

    PATCH replaces lists wholesale but the SDK never sends an empty list, so a list that becomes
    empty (or a bgp list cleared) needs routers.update (PUT) with the whole router; everything
    else is a PATCH of the changed top-level fields only.
    """
    patch: dict = {}
    if interfaces is not None:
        patch["interfaces"] = interfaces
    if peers is not None:
        patch["bgpPeers"] = peers
    if bgp is not None:
        patch["bgp"] = bgp
    clears = [key for key in ("interfaces", "bgpPeers") if key in patch and not patch[key] and router.get(key)]
    clears += ["bgp." + key for key in ("advertisedGroups", "advertisedIpRanges")
               if bgp is not None and key in bgp and not bgp[key] and (router.get("bgp") or {}).get(key)]
    if not clears:
        if bgp is not None:
            patch["bgp"] = {key: value for key, value in bgp.items() if value != []}  # [] here means "already empty"
        return "patch", patch
    body = {key: copy.deepcopy(value) for key, value in router.items() if key not in ROUTER_OUTPUT_ONLY}
    if interfaces is not None:
        body["interfaces"] = interfaces
    if peers is not None:
        body["bgpPeers"] = peers
    if bgp is not None:
        body["bgp"] = dict(body.get("bgp") or {}, **bgp)
    return "update", compact(body)


def _bgp_changes(spec: LinkSpec, router: dict | None, router_asn: int) -> dict:
    """The bgp fields to change on an existing router ({} = none)."""
    current = (router or {}).get("bgp") or {}
    changes: dict = {}
    if current.get("asn") != router_asn:
        changes["asn"] = router_asn
    wanted = spec.advertisement
    if wanted is not None:
        if current.get("advertiseMode", "DEFAULT") != wanted["advertiseMode"] \
                or sorted(current.get("advertisedGroups", [])) != sorted(wanted["advertisedGroups"]) \
                or _ranges_key(current.get("advertisedIpRanges", [])) != _ranges_key(wanted["advertisedIpRanges"]):
            changes.update(copy.deepcopy(wanted))
    return changes


def _ranges_key(ranges: list) -> list:
    return sorted((item.get("range"), item.get("description") or "") for item in ranges)


def _tunnel_summary(spec: LinkSpec, tunnel: TunnelSpec, external_gateway: str) -> str:
    return ("vpn_tunnel %s: HA interface %d -> %s interface %d (AWS connection %d tunnel t%d, %s)"
            % (tunnel.name, tunnel.ha_interface, external_gateway, tunnel.external_interface, tunnel.connection, tunnel.aws_tunnel,
               tunnel.outside_ip))


def _existing_router_asn(spec: LinkSpec, router: dict | None) -> int | None:
    if router is None:
        return spec.router_asn
    current = ((router.get("bgp") or {}).get("asn"))
    return spec.router_asn if spec.router_asn is not None else current


def plan_present(spec: LinkSpec, current: CurrentState) -> LinkPlan:
    """Everything state=present must do, as steps with dependencies. Raises VpnLinkError before any write."""
    plan = LinkPlan()
    network_link = spec.link("networks", spec.network)
    tag = owner_description(spec.name)
    network_insert = gateway_insert = router_insert = None
    # -- network, HA VPN gateway, Cloud Router -------------------------------------------------------------
    if current.network is None and current.network_read:
        if not spec.create_network:
            raise _fail("network", "network %s does not exist in project %s (set create_network: true to create it)"
                        % (spec.network, spec.project))
        network_insert = plan.add(Step("network.insert", "network", "insert", spec.network, summary="create network %s" % spec.network,
                                       body={"name": spec.network, "description": tag, "autoCreateSubnetworks": False,
                                             "routingConfig": {"routingMode": NETWORK_ROUTING_MODE}}))
    after_network = (network_insert.key,) if network_insert else ()
    if current.gateway is None:
        gateway_insert = plan.add(Step("vpn_gateway.insert", "vpn_gateway", "insert", spec.gateway_name, after=after_network,
                                       summary="create vpn_gateway %s (HA VPN gateway in network %s)" % (spec.gateway_name, spec.network),
                                       body={"name": spec.gateway_name, "description": tag, "network": network_link}))
    elif relative_link(current.gateway.get("network")) != network_link:
        raise _fail("ha_vpn_gateway", "HA VPN gateway %s exists in network %s, not %s; it is never re-created (its IP addresses "
                                      "would change): choose another ha_vpn_gateway name or network"
                    % (spec.gateway_name, name_of(current.gateway.get("network")), spec.network))
    router = current.router
    router_owned = created_by_link(router, spec.name)
    if router is None:
        if not spec.router_create:
            raise _fail("router.create", "Cloud Router %s does not exist in %s and router.create is false" % (spec.router_name, spec.region))
        if spec.router_asn is None:
            raise _fail("router.asn", "required to create Cloud Router %s" % spec.router_name)
        bgp = {"asn": spec.router_asn}
        if spec.advertisement is not None:
            bgp.update(compact(copy.deepcopy(spec.advertisement)))
        router_insert = plan.add(Step("router.insert", "router", "insert", spec.router_name, after=after_network,
                                      summary="create router %s (ASN %d)" % (spec.router_name, spec.router_asn),
                                      body=compact({"name": spec.router_name, "description": tag, "network": network_link, "bgp": bgp})))
        router_asn = spec.router_asn
    else:
        if relative_link(router.get("network")) != network_link:
            raise _fail("router.name", "Cloud Router %s is in network %s, not %s" % (spec.router_name, name_of(router.get("network")), spec.network))
        current_asn = (router.get("bgp") or {}).get("asn")
        if spec.router_asn is not None and current_asn is not None and current_asn != spec.router_asn and not router_owned:
            raise _fail("router.asn", "Cloud Router %s has ASN %d and was not created by this link; its ASN is left alone (the AWS "
                                      "customer gateways must use %d, or give router.asn: %d)" % (spec.router_name, current_asn, current_asn, current_asn))
        router_asn = _existing_router_asn(spec, router)
        if router_asn is None and (spec.tunnels or spec.advertisement is not None):
            raise _fail("router.asn", "Cloud Router %s has no BGP ASN yet: give router.asn" % spec.router_name)
    if spec.tunnels:
        check_asns_differ(spec.tunnels, router_asn, "the ASN of Cloud Router %s" % spec.router_name)
        try:
            plan_aws_gcp(tunnels=spec.redundancy, amazon_asn=spec.tunnels[0].amazon_asn, gcp_asn=router_asn,
                         inside_cidrs=[tunnel.inside_cidr for tunnel in spec.tunnels])
        except PlanError as error:
            raise VpnLinkError("aws_tunnels: %s" % error) from None
    bgp_changes = _bgp_changes(spec, router, router_asn) if router is not None else {}
    if not spec.tunnels:
        # Phase 1 (no AWS side yet): gateway, router, network only; tunnels and peers are left as they are.
        if bgp_changes:
            verb, body = router_change(router, bgp=bgp_changes)
            plan.add(Step("router.attach", "router", verb, spec.router_name, body=body, summary=_router_summary(verb, spec, bgp_changes)))
        return plan
    _plan_tunnels(spec, current, plan, router, bgp_changes,
                  creations=tuple(step.key for step in (gateway_insert, router_insert) if step))
    return plan


def _router_summary(verb: str, spec: LinkSpec, bgp_changes: dict, detail: str = "") -> str:
    parts = [detail] if detail else []
    if "asn" in bgp_changes:
        parts.append("ASN %d" % bgp_changes["asn"])
    if "advertiseMode" in bgp_changes:
        ranges = ", ".join(item["range"] for item in bgp_changes.get("advertisedIpRanges", []))
        parts.append("advertise %s%s" % (bgp_changes["advertiseMode"], " (%s)" % ranges if ranges else ""))
    return "%s router %s: %s" % ("update" if verb == "update" else "patch", spec.router_name, "; ".join(parts))


def _plan_tunnels(spec: LinkSpec, current: CurrentState, plan: LinkPlan, router: dict | None, bgp_changes: dict, creations: tuple) -> None:
    owned = spec.owned
    # -- external VPN gateway ------------------------------------------------------------------------------
    interfaces = [{"id": tunnel.external_interface, "ipAddress": tunnel.outside_ip} for tunnel in spec.tunnels]
    external_name = external_gateway_name(spec.name, spec.redundancy_type, interfaces)
    existing_external = {item["name"]: item for item in current.external_gateways if owned.external_gateway.match(item.get("name", ""))}
    external_insert = None
    if external_name in existing_external:
        found = existing_external[external_name]
        have = sorted((item.get("id", 0), item.get("ipAddress")) for item in found.get("interfaces", []))
        if found.get("redundancyType") != spec.redundancy_type or have != sorted((item["id"], item["ipAddress"]) for item in interfaces):
            raise VpnLinkError("external VPN gateway %s exists with other interfaces than this link needs; delete it (it is "
                               "named like this link's gateways) or rename the link" % external_name)
    else:
        external_insert = plan.add(Step("external_vpn_gateway.insert", "external_vpn_gateway", "insert", external_name,
                                        summary="create external_vpn_gateway %s (%s: %s)" % (
                                            external_name, spec.redundancy_type,
                                            ", ".join("%d=%s" % (item["id"], item["ipAddress"]) for item in interfaces)),
                                        body={"name": external_name, "description": owner_description(spec.name),
                                              "redundancyType": spec.redundancy_type, "interfaces": interfaces}))
    # -- tunnels ----------------------------------------------------------------------------------------------
    current_tunnels = {item["name"]: item for item in current.tunnels}
    owned_tunnels = {name: item for name, item in current_tunnels.items() if owned.tunnel.match(name)}
    router_link = spec.link("routers", spec.router_name)
    removed_tunnels = []  # names deleted (replaced or not desired)
    tunnel_inserts = []
    for tunnel in spec.tunnels:
        body = desired_tunnel_body(spec, tunnel, external_name)
        existing = current_tunnels.get(tunnel.name)
        if existing is not None:
            reasons = tunnel_differences(body, existing)
            if not reasons:
                continue
            removed_tunnels.append(tunnel.name)
            plan.replaced.append({"kind": "vpn_tunnel", "name": tunnel.name, "new_name": tunnel.name, "reasons": reasons})
        tunnel_inserts.append(Step("vpn_tunnel.insert:" + tunnel.name, "vpn_tunnel", "insert", tunnel.name, body=body,
                                   secret=tunnel.pre_shared_key,
                                   summary=("re-create " if existing is not None else "create ") + _tunnel_summary(spec, tunnel, external_name)))
    desired_names = {tunnel.name for tunnel in spec.tunnels}
    removed_tunnels += sorted(name for name in owned_tunnels if name not in desired_names)
    for name in removed_tunnels:
        if relative_link(current_tunnels[name].get("router")) != router_link:
            raise VpnLinkError("VPN tunnel %s is attached to Cloud Router %s, not %s: changing the router of an existing link is not "
                               "supported (remove the link with state=absent and the old router.name first)"
                               % (name, name_of(current_tunnels[name].get("router")), spec.router_name))
    # -- router interfaces and BGP peers ------------------------------------------------------------------------
    removed_links = {spec.link("vpnTunnels", name) for name in removed_tunnels}
    current_interfaces = list((router or {}).get("interfaces", []))
    current_peers = list((router or {}).get("bgpPeers", []))
    desired_interfaces = _router_interfaces_for(spec)
    for interface in current_interfaces:
        linked = relative_link(interface.get("linkedVpnTunnel"))
        if linked in removed_links and not owned.interface.match(interface.get("name", "")):
            raise VpnLinkError("Cloud Router %s interface %s (not managed by this link) is linked to VPN tunnel %s, which must be "
                               "deleted; unlink it first" % (spec.router_name, interface.get("name"), name_of(linked)))
        if interface.get("ipRange") and not owned.interface.match(interface.get("name", "")):
            theirs = IPNetwork(interface["ipRange"])
            for tunnel in spec.tunnels:
                ours = IPNetwork(tunnel.inside_cidr)
                if ours.first <= theirs.last and theirs.first <= ours.last:
                    raise _fail("aws_tunnels[%d].inside_cidr" % tunnel.index,
                                "%s overlaps interface %s (%s) of Cloud Router %s, not managed by this link"
                                % (tunnel.inside_cidr, interface.get("name"), interface["ipRange"], spec.router_name))
    detach_step = None
    router_now = router
    if removed_tunnels and router is not None:
        gone_interfaces = {item["name"] for item in current_interfaces
                           if owned.interface.match(item.get("name", "")) and relative_link(item.get("linkedVpnTunnel")) in removed_links}
        gone_interfaces |= {router_interface_name(name) for name in removed_tunnels} & {item["name"] for item in current_interfaces}
        kept_interfaces = [item for item in current_interfaces if item["name"] not in gone_interfaces]
        gone_peers = {bgp_peer_name(name) for name in removed_tunnels}
        for item in current_peers:
            if item.get("interfaceName") in gone_interfaces and not owned.peer.match(item.get("name", "")):
                raise VpnLinkError("Cloud Router %s BGP peer %s (not managed by this link) uses interface %s, which must be removed "
                                   "with its tunnel; remove the peer first" % (spec.router_name, item.get("name"), item.get("interfaceName")))
        kept_peers = [item for item in current_peers
                      if not (owned.peer.match(item.get("name", "")) and (item.get("interfaceName") in gone_interfaces or item["name"] in gone_peers))]
        if len(kept_interfaces) != len(current_interfaces) or len(kept_peers) != len(current_peers):
            verb, body = router_change(router, interfaces=kept_interfaces, peers=kept_peers)
            detach_step = plan.add(Step("router.detach", "router", verb, spec.router_name, body=body,
                                        summary="%s router %s: remove interfaces and BGP peers of %s (before their tunnels go)"
                                        % ("update" if verb == "update" else "patch", spec.router_name, ", ".join(removed_tunnels))))
            router_now = dict(router, interfaces=kept_interfaces, bgpPeers=kept_peers)
    delete_after = (detach_step.key,) if detach_step else ()
    deletes = []
    for name in removed_tunnels:
        replaced = name in desired_names
        deletes.append(plan.add(Step("vpn_tunnel.delete:" + name, "vpn_tunnel", "delete", name, after=delete_after,
                                     summary="delete vpn_tunnel %s%s" % (name, " (to re-create it)" if replaced else ""))))
    delete_keys = tuple(step.key for step in deletes)
    insert_after = delete_keys + creations + ((external_insert.key,) if external_insert else ())
    for step in tunnel_inserts:
        step.after = insert_after
        plan.add(step)
    # -- stale external gateways: after the tunnels moved off them ------------------------------------------------
    moved_off = delete_keys + tuple(step.key for step in tunnel_inserts)
    for name in sorted(existing_external):
        if name == external_name:
            continue
        plan.add(Step("external_vpn_gateway.delete:" + name, "external_vpn_gateway", "delete", name, after=moved_off, leave_if_in_use=True,
                      summary="delete external_vpn_gateway %s (replaced by %s)" % (name, external_name)))
        if external_insert is not None:
            plan.replaced.append({"kind": "external_vpn_gateway", "name": name, "new_name": external_name,
                                  "reasons": ["interfaces or redundancy type (GCP cannot update them)"]})
    # -- attach: the final router lists and bgp fields ------------------------------------------------------------
    base = router_now if router_now is not None else {}
    final_interfaces = _merge_owned(list(base.get("interfaces", [])), desired_interfaces, owned.interface)
    desired_peers = _router_peers_for(spec)
    # peers removed by the detach step come back with the extra fields the user had set on them
    previous_peers = {item["name"]: item for item in current_peers}
    desired_peers = [dict(previous_peers.get(item["name"], {}), **item) for item in desired_peers]
    final_peers = _merge_owned(list(base.get("bgpPeers", [])), desired_peers, owned.peer)
    interfaces_changed = [_interface_key(item) for item in final_interfaces] != [_interface_key(item) for item in base.get("interfaces", [])] \
        or [item["name"] for item in final_interfaces] != [item.get("name") for item in base.get("interfaces", [])]
    peers_changed = [(item["name"],) + _peer_key(item) for item in final_peers] != \
        [(item.get("name"),) + _peer_key(item) for item in base.get("bgpPeers", [])]
    if interfaces_changed or peers_changed or bgp_changes:
        verb, body = router_change(base, interfaces=final_interfaces if interfaces_changed or peers_changed else None,
                                   peers=final_peers if interfaces_changed or peers_changed else None, bgp=bgp_changes or None)
        detail = "interfaces and BGP peers of %s" % ", ".join(tunnel.name for tunnel in spec.tunnels) if interfaces_changed or peers_changed else ""
        plan.add(Step("router.attach", "router", verb, spec.router_name, body=body,
                      after=tuple(step.key for step in tunnel_inserts) + creations + delete_after,
                      summary=_router_summary(verb, spec, bgp_changes, detail)))


def plan_absent(spec: LinkSpec, current: CurrentState) -> LinkPlan:
    """Remove what the link created, in dependency order: router interfaces/peers, tunnels,
    external gateways, HA gateway and router (if created by the link), network (if created by
    the link and create_network is true)."""
    plan = LinkPlan()
    owned = spec.owned
    router = current.router
    owned_tunnels = [item for item in current.tunnels if owned.tunnel.match(item.get("name", ""))]
    owned_links = {relative_link(item.get("selfLink")) or spec.link("vpnTunnels", item["name"]) for item in owned_tunnels}
    detach = None
    router_left: dict | None = router
    if router is not None:
        interfaces = list(router.get("interfaces", []))
        peers = list(router.get("bgpPeers", []))
        for interface in interfaces:
            if relative_link(interface.get("linkedVpnTunnel")) in owned_links and not owned.interface.match(interface.get("name", "")):
                raise VpnLinkError("Cloud Router %s interface %s (not managed by this link) is linked to VPN tunnel %s of this link; "
                                   "unlink it first" % (spec.router_name, interface.get("name"), name_of(interface.get("linkedVpnTunnel"))))
        kept_interfaces = [item for item in interfaces if not owned.interface.match(item.get("name", ""))]
        kept_names = {item["name"] for item in kept_interfaces}
        kept_peers = [item for item in peers if not owned.peer.match(item.get("name", "")) and item.get("interfaceName") in kept_names]
        dangling = [item["name"] for item in peers if not owned.peer.match(item.get("name", "")) and item.get("interfaceName") not in kept_names]
        if dangling:
            raise VpnLinkError("Cloud Router %s BGP peer(s) %s (not managed by this link) use interfaces of this link; remove them first"
                               % (spec.router_name, ", ".join(dangling)))
        if len(kept_interfaces) != len(interfaces) or len(kept_peers) != len(peers):
            verb, body = router_change(router, interfaces=kept_interfaces, peers=kept_peers)
            detach = plan.add(Step("router.detach", "router", verb, spec.router_name, body=body,
                                   summary="%s router %s: remove this link's interfaces and BGP peers"
                                   % ("update" if verb == "update" else "patch", spec.router_name)))
            router_left = dict(router, interfaces=kept_interfaces, bgpPeers=kept_peers)
    deletes = [plan.add(Step("vpn_tunnel.delete:" + item["name"], "vpn_tunnel", "delete", item["name"],
                             after=(detach.key,) if detach else (), summary="delete vpn_tunnel %s" % item["name"]))
               for item in sorted(owned_tunnels, key=lambda item: item["name"])]
    after_tunnels = tuple(step.key for step in deletes)
    for item in sorted(current.external_gateways, key=lambda item: item["name"]):
        if owned.external_gateway.match(item.get("name", "")):
            plan.add(Step("external_vpn_gateway.delete:" + item["name"], "external_vpn_gateway", "delete", item["name"], after=after_tunnels,
                          leave_if_in_use=True, summary="delete external_vpn_gateway %s" % item["name"]))
    remaining_tunnels = [item for item in current.tunnels if not owned.tunnel.match(item.get("name", ""))]
    gateway_deleted = router_deleted = False
    gateway = current.gateway
    if gateway is not None:
        users = [item["name"] for item in remaining_tunnels if relative_link(item.get("vpnGateway")) == relative_link(gateway.get("selfLink"))]
        if not created_by_link(gateway, spec.name):
            plan.warnings.append("HA VPN gateway %s was not created by this link: left in place" % spec.gateway_name)
        elif users:
            plan.warnings.append("HA VPN gateway %s is still used by tunnel(s) %s: left in place" % (spec.gateway_name, ", ".join(users)))
        else:
            plan.add(Step("vpn_gateway.delete", "vpn_gateway", "delete", spec.gateway_name, after=after_tunnels,
                          summary="delete vpn_gateway %s" % spec.gateway_name))
            gateway_deleted = True
    if router is not None:
        users = [item["name"] for item in remaining_tunnels if relative_link(item.get("router")) == relative_link(router.get("selfLink"))]
        leftovers = [item["name"] for item in (router_left or {}).get("interfaces", [])]
        if not created_by_link(router, spec.name):
            pass  # a router the link only used: its other interfaces and peers are untouched
        elif users or leftovers:
            plan.warnings.append("Cloud Router %s is still used (%s): left in place"
                                 % (spec.router_name, ", ".join(["tunnel " + name for name in users] + ["interface " + name for name in leftovers])))
        else:
            plan.add(Step("router.delete", "router", "delete", spec.router_name, after=after_tunnels + ((detach.key,) if detach else ()),
                          summary="delete router %s" % spec.router_name))
            router_deleted = True
    network = current.network
    if spec.create_network and network is not None:
        gateway_stays = gateway is not None and not gateway_deleted
        router_stays = router is not None and not router_deleted
        if not created_by_link(network, spec.name):
            plan.warnings.append("network %s was not created by this link: left in place" % spec.network)
        elif gateway_stays or router_stays:
            plan.warnings.append("network %s still holds the HA VPN gateway or router of this link: left in place" % spec.network)
        else:
            plan.add(Step("network.delete", "network", "delete", spec.network, leave_if_in_use=True,
                          after=tuple(step.key for step in plan.steps if step.kind in ("vpn_gateway", "router")),
                          summary="delete network %s" % spec.network))
    return plan


# --------------------------------------------------------------------------------------
# Views: diff (configuration, secrets masked) and result (configuration + status)
# --------------------------------------------------------------------------------------

_COLLECTION_OF_KIND = {"network": "networks", "vpn_gateway": "vpnGateways", "external_vpn_gateway": "externalVpnGateways",
                       "router": "routers", "vpn_tunnel": "vpnTunnels"}


def simulate(spec: LinkSpec, current: CurrentState, steps: list) -> CurrentState:
    """The state after ``steps`` (for the diff's ``after``): inserts added, deletes removed, router PATCH merged / PUT replaced."""
    state = copy.deepcopy(current)
    for step in ordered_steps(steps):
        link = spec.link(_COLLECTION_OF_KIND[step.kind], step.name)
        if step.kind == "network":
            state.network = None if step.verb == "delete" else dict(step.body, selfLink=link)
        elif step.kind == "vpn_gateway":
            state.gateway = None if step.verb == "delete" else dict(step.body, selfLink=link)
        elif step.kind == "external_vpn_gateway":
            state.external_gateways = [item for item in state.external_gateways if item["name"] != step.name]
            if step.verb == "insert":
                state.external_gateways.append(dict(step.body, selfLink=link))
        elif step.kind == "vpn_tunnel":
            state.tunnels = [item for item in state.tunnels if item["name"] != step.name]
            if step.verb == "insert":
                document = {key: value for key, value in step.body.items() if key != "sharedSecret"}
                state.tunnels.append(dict(document, selfLink=link))
        elif step.kind == "router":
            if step.verb == "delete":
                state.router = None
            elif step.verb == "insert":
                state.router = dict(step.body, selfLink=link)
            elif step.verb == "update":
                state.router = dict(step.body, selfLink=link)
            else:
                merged = copy.deepcopy(state.router or {})
                for key, value in step.body.items():
                    merged[key] = dict(merged.get(key) or {}, **value) if key == "bgp" else copy.deepcopy(value)
                state.router = merged
    return state


def _interfaces_view(gateway_interfaces: list, key: str) -> list:
    return [{"id": item.get("id", 0), "ip_address": item.get(key)} for item in sorted(gateway_interfaces, key=lambda item: item.get("id", 0))]


def config_view(spec: LinkSpec, state: CurrentState) -> dict:
    """The link's configuration (what the diff compares); PSKs only as '********' plus a short fingerprint."""
    owned = spec.owned
    router = state.router
    bgp = (router or {}).get("bgp") or {}
    return {
        "network": {"name": name_of(state.network.get("selfLink")) or state.network.get("name")} if state.network else None,
        "ha_vpn_gateway": {"name": state.gateway.get("name"), "network": name_of(state.gateway.get("network"))} if state.gateway else None,
        "router": None if router is None else {
            "name": router.get("name"), "network": name_of(router.get("network")), "asn": bgp.get("asn"),
            "advertise_mode": bgp.get("advertiseMode", "DEFAULT"), "advertised_groups": list(bgp.get("advertisedGroups", [])),
            "advertised_ip_ranges": [dict(item) for item in bgp.get("advertisedIpRanges", [])],
            "interfaces": [{"name": item.get("name"), "ip_range": item.get("ipRange"), "linked_vpn_tunnel": name_of(item.get("linkedVpnTunnel"))}
                           for item in router.get("interfaces", []) if owned.interface.match(item.get("name", ""))],
            "bgp_peers": [{"name": item.get("name"), "interface_name": item.get("interfaceName"), "ip_address": item.get("ipAddress"),
                           "peer_ip_address": item.get("peerIpAddress"), "peer_asn": item.get("peerAsn")}
                          for item in router.get("bgpPeers", []) if owned.peer.match(item.get("name", ""))],
        },
        "external_vpn_gateways": [{"name": item.get("name"), "redundancy_type": item.get("redundancyType"),
                                   "interfaces": _interfaces_view(item.get("interfaces", []), "ipAddress")}
                                  for item in sorted(state.external_gateways, key=lambda item: item.get("name", ""))],
        "tunnels": [_tunnel_config_view(item) for item in sorted(state.tunnels, key=lambda item: item.get("name", ""))
                    if owned.tunnel.match(item.get("name", ""))],
    }


def _tunnel_config_view(tunnel: dict) -> dict:
    fingerprint = description_value(tunnel, "psk-fingerprint")
    return {
        "name": tunnel.get("name"), "ha_vpn_gateway": name_of(tunnel.get("vpnGateway")), "ha_interface": tunnel.get("vpnGatewayInterface", 0),
        "external_vpn_gateway": name_of(tunnel.get("peerExternalGateway")),
        "external_interface": tunnel.get("peerExternalGatewayInterface", 0), "router": name_of(tunnel.get("router")),
        "ike_version": tunnel.get("ikeVersion", 2), "cipher_suite": copy.deepcopy(tunnel.get("cipherSuite")),
        "shared_secret": MASK, "shared_secret_fingerprint": fingerprint.split(":", 1)[-1][:8] if fingerprint else None,
    }


def link_view(spec: LinkSpec, state: CurrentState) -> dict:
    """The module result (without changed/diff/actions): objects with their status, snake_case."""
    owned = spec.owned
    externals = {relative_link(item.get("selfLink")) or spec.link("externalVpnGateways", item["name"]): item for item in state.external_gateways}
    router = state.router or {}
    interfaces_by_tunnel = {relative_link(item.get("linkedVpnTunnel")): item for item in router.get("interfaces", []) if item.get("linkedVpnTunnel")}
    peers_by_interface = {item.get("interfaceName"): item for item in router.get("bgpPeers", [])}
    status_by_peer = {item.get("name"): item for item in (state.router_status or {}).get("bgpPeerStatus", [])}
    tunnels = []
    for tunnel in sorted(state.tunnels, key=lambda item: item.get("name", "")):
        match = owned.tunnel.match(tunnel.get("name", ""))
        if not match:
            continue
        suffix = tunnel["name"][len(spec.name) + 1:]  # "c0-t1"
        link = relative_link(tunnel.get("selfLink")) or spec.link("vpnTunnels", tunnel["name"])
        external = externals.get(relative_link(tunnel.get("peerExternalGateway")))
        external_interface = tunnel.get("peerExternalGatewayInterface", 0)
        peer_ip = next((item.get("ipAddress") for item in (external or {}).get("interfaces", []) if item.get("id", 0) == external_interface), None)
        interface = interfaces_by_tunnel.get(link)
        peer = peers_by_interface.get(interface.get("name")) if interface else None
        bgp_peer = None
        if peer is not None:
            status = status_by_peer.get(peer.get("name"), {})
            bgp_peer = {
                "name": peer.get("name"), "interface_name": peer.get("interfaceName"), "ip_address": peer.get("ipAddress"),
                "peer_ip_address": peer.get("peerIpAddress"), "peer_asn": peer.get("peerAsn"),
                "status": status.get("status"), "state": status.get("state"), "num_learned_routes": status.get("numLearnedRoutes"),
                "uptime_seconds": int(status["uptimeSeconds"]) if str(status.get("uptimeSeconds", "")).isdigit() else None,
            }
        inside_cidr = str(IPNetwork(interface["ipRange"]).cidr) if interface and interface.get("ipRange") else None
        tunnels.append({
            "name": tunnel["name"], "self_link": tunnel.get("selfLink"),
            "connection": int(suffix[1]), "aws_tunnel": "t" + suffix[-1],
            "ha_vpn_gateway": name_of(tunnel.get("vpnGateway")), "ha_interface": tunnel.get("vpnGatewayInterface", 0),
            "external_vpn_gateway": name_of(tunnel.get("peerExternalGateway")), "external_interface": external_interface,
            "peer_ip": peer_ip, "inside_cidr": inside_cidr, "ike_version": tunnel.get("ikeVersion", 2),
            "status": tunnel.get("status"), "detailed_status": tunnel.get("detailedStatus"),
            "router_interface": interface.get("name") if interface else None, "bgp_peer": bgp_peer,
        })
    used_externals = [relative_link(item.get("peerExternalGateway")) for item in state.tunnels if owned.tunnel.match(item.get("name", ""))]
    external_view = None
    for candidate in used_externals + sorted(externals):
        if candidate in externals:
            item = externals[candidate]
            external_view = {"name": item.get("name"), "self_link": item.get("selfLink"), "redundancy_type": item.get("redundancyType"),
                             "interfaces": _interfaces_view(item.get("interfaces", []), "ipAddress")}
            break
    gateway = state.gateway
    bgp = router.get("bgp") or {}
    network_link = (gateway or {}).get("network") or router.get("network") or (state.network or {}).get("selfLink")
    return {
        "network": {"name": name_of(network_link), "self_link": network_link,
                    "created_by_link": created_by_link(state.network, spec.name) if state.network else None} if network_link else None,
        "ha_vpn_gateway": None if gateway is None else {
            "name": gateway.get("name"), "self_link": gateway.get("selfLink"), "network": name_of(gateway.get("network")),
            "interfaces": _interfaces_view(gateway.get("vpnInterfaces", []), "ipAddress"),
            "created_by_link": created_by_link(gateway, spec.name)},
        "external_vpn_gateway": external_view,
        "router": None if state.router is None else {
            "name": router.get("name"), "self_link": router.get("selfLink"), "network": name_of(router.get("network")),
            "asn": bgp.get("asn"), "advertise_mode": bgp.get("advertiseMode", "DEFAULT"),
            "advertised_groups": list(bgp.get("advertisedGroups", [])),
            "advertised_ip_ranges": [{"range": item.get("range"), "description": item.get("description", "")}
                                     for item in bgp.get("advertisedIpRanges", [])],
            "created_by_link": created_by_link(router, spec.name)},
        "tunnels": tunnels,
    }


# --------------------------------------------------------------------------------------
# I/O through the adapter (_gcp.ComputeClients)
# --------------------------------------------------------------------------------------

_MESSAGE_TYPES = {"network": "Network", "vpn_gateway": "VpnGateway", "external_vpn_gateway": "ExternalVpnGateway",
                  "router": "Router", "vpn_tunnel": "VpnTunnel"}
_CLIENTS = {"network": "networks", "vpn_gateway": "vpn_gateways", "external_vpn_gateway": "external_vpn_gateways",
            "router": "routers", "vpn_tunnel": "vpn_tunnels"}
_FIELDS = {"network": "network", "vpn_gateway": "vpn_gateway", "external_vpn_gateway": "external_vpn_gateway",
           "router": "router", "vpn_tunnel": "vpn_tunnel"}
_REGIONAL = ("vpn_gateway", "router", "vpn_tunnel")


def api_document(message: Any) -> dict | None:
    """An SDK message -> the camelCase API document, empty fields dropped."""
    if message is None:
        return None
    return compact(type(message).to_dict(message, preserving_proto_field_name=False, use_integers_for_enums=False))


class LinkExecutionError(GcpError):
    """A Compute call failed while applying the plan; ``done`` lists what was completed before."""

    def __init__(self, message: str, done: list) -> None:
        super().__init__(message)
        self.done = list(done)


class GcpLinkApi:
    """Reads and changes the link's objects through the adapter's ComputeClients."""

    def __init__(self, clients: Any, spec: LinkSpec, *, wait_timeout: float = 600.0, progress: Callable | None = None) -> None:
        self.clients = clients
        self.spec = spec
        self.wait_timeout = wait_timeout
        self.progress = progress
        self.warnings: list = []

    def _scope(self, kind: str) -> dict:
        request = {"project": self.spec.project}
        if kind in _REGIONAL:
            request["region"] = self.spec.region
        return request

    def _get(self, kind: str, name: str) -> dict | None:
        client = getattr(self.clients, _CLIENTS[kind])
        request = dict(self._scope(kind), **{_FIELDS[kind]: name})
        return api_document(self.clients.read("get %s %s" % (kind, name), client.get, request, missing_ok=True))

    def _list(self, kind: str, filter_expression: str | None = None) -> list:
        client = getattr(self.clients, _CLIENTS[kind])
        request = self._scope(kind)
        if filter_expression:
            request["filter"] = filter_expression
        pager = self.clients.read("list %ss" % kind, client.list, request)
        try:
            return [api_document(item) for item in pager]
        except Exception as error:  # pylint: disable=broad-except
            raise GcpError.from_exception(error, "list %ss" % kind, self.clients.secrets) from None

    def read_current(self) -> CurrentState:
        """gateway, router, (network only when needed), the link's external gateways, the region's tunnels."""
        spec = self.spec
        state = CurrentState()
        state.gateway = self._get("vpn_gateway", spec.gateway_name)
        state.router = self._get("router", spec.router_name)
        network_link = spec.link("networks", spec.network) if spec.network else None
        proven = (state.gateway is not None and relative_link(state.gateway.get("network")) == network_link
                  and state.router is not None and relative_link(state.router.get("network")) == network_link)
        needs_network = spec.network is not None and (spec.state == "present" and not proven or spec.state == "absent" and spec.create_network)
        if needs_network:
            state.network = self._get("network", spec.network)
        state.network_read = needs_network
        state.external_gateways = self._list("external_vpn_gateway", external_gateway_filter(spec.name))
        state.tunnels = self._list("vpn_tunnel")
        return state

    def refresh(self, state: CurrentState, steps: list) -> CurrentState:
        """Re-read what the steps touched; the network is taken from the steps (nothing in it is computed by GCP).

        Tunnel status depends on the router's interfaces and peers, so tunnels are re-read after router changes too.
        """
        kinds = {step.kind for step in steps}
        state = simulate(self.spec, state, [step for step in steps if step.kind == "network"])
        if "vpn_gateway" in kinds:
            state.gateway = self._get("vpn_gateway", self.spec.gateway_name)
        if "router" in kinds:
            state.router = self._get("router", self.spec.router_name)
        if "external_vpn_gateway" in kinds:
            state.external_gateways = self._list("external_vpn_gateway", external_gateway_filter(self.spec.name))
        owned = self.spec.owned
        if "vpn_tunnel" in kinds or "router" in kinds and any(owned.tunnel.match(item.get("name", "")) for item in state.tunnels):
            state.tunnels = self._list("vpn_tunnel")
        return state

    def read_router_status(self, state: CurrentState) -> CurrentState:
        """getRouterStatus, only when the router has BGP peers of this link (their status goes into the result)."""
        owned = self.spec.owned
        if state.router is None or not any(owned.peer.match(item.get("name", "")) for item in state.router.get("bgpPeers", [])):
            return state
        request = dict(self._scope("router"), router=self.spec.router_name)
        response = self.clients.read("get status of router %s" % self.spec.router_name, self.clients.routers.get_router_status, request,
                                     missing_ok=True)
        state.router_status = (api_document(response) or {}).get("result") if response is not None else None
        return state

    def _start(self, step: Step) -> Any:
        client = getattr(self.clients, _CLIENTS[step.kind])
        request = self._scope(step.kind)
        if step.verb == "insert":
            request[_FIELDS[step.kind] + "_resource"] = self._message(step)
        else:
            request[_FIELDS[step.kind]] = step.name
            if step.verb in ("patch", "update"):
                request["router_resource"] = self._message(step)
        return self.clients.mutate(step.summary, getattr(client, step.verb), request, secrets=[step.secret] if step.secret else [])

    @staticmethod
    def _message(step: Step) -> Any:
        import json  # pylint: disable=import-outside-toplevel

        message_type = getattr(compute_v1, _MESSAGE_TYPES[step.kind])
        return message_type.from_json(json.dumps(step.body))

    def execute(self, steps: list) -> list:
        """Run the steps wave by wave: start every step of a wave, then wait for all of them."""
        deadline = time.monotonic() + self.wait_timeout
        done: list = []
        for wave in waves(steps):
            started, failure = [], None
            for step in wave:
                try:
                    started.append((step, self._start(step)))
                except GcpError as error:
                    if self._tolerated(step, error):
                        continue
                    failure = failure or error
                    break
            for step, operation in started:
                try:
                    self.clients.wait(operation, timeout=max(1.0, deadline - time.monotonic()), progress=self.progress, action=step.summary)
                    done.append(step.summary)
                except GcpError as error:
                    if not self._tolerated(step, error):
                        failure = failure or error
            if failure is not None:
                raise LinkExecutionError(str(failure), done)
        return done

    def _tolerated(self, step: Step, error: GcpError) -> bool:
        if step.verb == "delete" and error.status_code == 404:
            return True  # already gone
        if step.leave_if_in_use and step.verb == "delete" and (error.reason == "resourceInUseByAnotherResource" or "already being used" in error.message):
            self.warnings.append("%s %s is still in use: left in place (%s)" % (KIND_LABELS[step.kind], step.name, error.message))
            return True
        return False


def run_link(api: GcpLinkApi, spec: LinkSpec, *, check_mode: bool, want_diff: bool) -> tuple:
    """Read, plan, apply (unless check mode), and describe the link -> (result, warnings).

    Raises VpnLinkError (before any write) or GcpError / LinkExecutionError."""
    current = api.read_current()
    if spec.state == "present":
        plan = plan_present(spec, current)
    elif spec.state == "absent":
        plan = plan_absent(spec, current)
    else:
        plan = LinkPlan()
    steps = ordered_steps(plan.steps)
    result: dict = {"changed": bool(steps), "actions": [step.summary for step in steps], "replaced": plan.replaced}
    if want_diff and spec.state != "gathered":
        result["diff"] = {"before": config_view(spec, current), "after": config_view(spec, simulate(spec, current, steps))}
    final = current
    if steps and not check_mode:
        api.execute(steps)
        final = api.refresh(current, steps)
    final = api.read_router_status(final)
    result.update(link_view(spec, final))
    return result, plan.warnings + api.warnings

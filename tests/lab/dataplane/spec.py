"""The neutral description of a lab fabric: validation, defaults, names (pure, no I/O).

See README.md in this directory for the schema. Every endpoint carries only the parameters of
its own side (what one cloud object says); nothing here copies a value from the peer, so a
mismatch between the two sides reaches strongSwan/FRR and fails there, as it would in a cloud.
"""
from __future__ import annotations

import copy
import ipaddress
import re

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,19}$")
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")
ENDPOINT_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")   # names swanctl sections: no dots (a dot splits a section name)
PROPOSAL_PATTERN = re.compile(r"^[a-z0-9_]+(-[a-z0-9_]+)*$")

SITE_DEFAULTS = {
    "router_id": None,      # default: first host of the site's first network
    "networks": [],
    "probes": [],
    "max_paths": 1,         # 1 = one best path (AWS VGW); >1 = ECMP over tunnels (GCP Cloud Router, TGW ECMP)
}

ENDPOINT_DEFAULTS = {
    "ike_version": 2,
    "ike_proposals": ["aes256-sha256-modp2048"],
    "esp_proposals": ["aes256-sha256-modp2048"],   # a DH group in an ESP proposal = PFS group
    "ike_lifetime": 28800,
    "esp_lifetime": 3600,
    "rekey_margin": 270,
    "rekey_fuzz": 100,
    "replay_window": None,
    "dpd_interval": 10,
    "dpd_timeout": 30,
    "dpd_action": "restart",
    "start": "initiate",
    "local_id": None,       # default: outside_ip
    "remote_id": None,      # default: remote_ip
    "bgp_hold": 30,
    "bgp_keepalive": 10,
    "routing": "bgp",       # bgp | static (no BGP on the tunnel: routes to static_routes via its VTI)
    "static_routes": [],    # static only: the peer's networks, routed into this tunnel (first tunnel up wins)
    "generation": None,     # an opaque marker of the cloud object (e.g. AWS tunnel revision): a change re-negotiates
    "inside_ip": None,      # required for bgp; static without one gets a fabric-internal link address
    "bgp_peer_ip": None,    # required for bgp
    "bgp_peer_asn": None,   # required for bgp
}

ENDPOINT_REQUIRED = ("id", "site", "outside_ip", "remote_ip", "psk")
BGP_REQUIRED = ("inside_ip", "bgp_peer_ip", "bgp_peer_asn")
DPD_ACTIONS = ("clear", "none", "restart")
START_ACTIONS = ("initiate", "wait")
ROUTING_MODES = ("bgp", "static")
IKE_VERSIONS = (0, 1, 2)    # 0 = either: initiates IKEv2, answers IKEv1 and IKEv2 (an AWS tunnel with both versions allowed)

# Endpoint fields grouped by what a change of them means for a running fabric.
IPSEC_FIELDS = ("psk", "ike_version", "ike_proposals", "esp_proposals", "ike_lifetime", "esp_lifetime", "rekey_margin",
                "rekey_fuzz", "replay_window", "dpd_interval", "dpd_timeout", "dpd_action", "start", "local_id", "remote_id",
                "remote_ip", "generation")
BGP_FIELDS = ("bgp_peer_ip", "bgp_peer_asn", "bgp_hold", "bgp_keepalive")
WIRING_FIELDS = ("site", "outside_ip", "inside_ip", "routing")
STATIC_FIELDS = ("static_routes",)


class SpecError(ValueError):
    """The description is invalid; the message names the offending field."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise SpecError(message)


def _ipv4(value, where: str) -> str:
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError as exc:
        raise SpecError("%s: %r is not an IPv4 address" % (where, value)) from exc


def _ipv4_interface(value, where: str) -> ipaddress.IPv4Interface:
    try:
        iface = ipaddress.IPv4Interface(str(value))
    except ValueError as exc:
        raise SpecError("%s: %r is not an IPv4 address/prefix" % (where, value)) from exc
    _require("/" in str(value), "%s: %r needs a prefix length" % (where, value))
    return iface


def _ipv4_network(value, where: str) -> str:
    try:
        return str(ipaddress.IPv4Network(str(value), strict=True))
    except ValueError as exc:
        raise SpecError("%s: %r is not an IPv4 network" % (where, value)) from exc


def _positive_int(value, where: str, minimum: int = 1, maximum: int | None = None) -> int:
    _require(isinstance(value, int) and not isinstance(value, bool), "%s: %r is not an integer" % (where, value))
    _require(value >= minimum, "%s: %d is below %d" % (where, value, minimum))
    _require(maximum is None or value <= maximum, "%s: %d is above %s" % (where, value, maximum))
    return value


def _proposals(value, where: str) -> list:
    if isinstance(value, str):
        value = [value]
    _require(isinstance(value, list) and value, "%s: needs a non-empty list of strongSwan proposals" % where)
    for proposal in value:
        _require(isinstance(proposal, str) and PROPOSAL_PATTERN.match(proposal) is not None,
                 "%s: %r is not a strongSwan proposal (e.g. aes256-sha256-modp2048)" % (where, proposal))
    return list(value)


def normalize(description: dict) -> dict:
    """Validate a description and return a deep copy with all defaults filled in."""
    _require(isinstance(description, dict), "the description must be a mapping")
    spec = copy.deepcopy(description)
    unknown = set(spec) - {"name", "sites", "endpoints", "nat", "comment"}
    _require(not unknown, "unknown top-level keys: %s" % ", ".join(sorted(unknown)))
    name = spec.get("name")
    _require(isinstance(name, str) and NAME_PATTERN.match(name) is not None,
             "name: %r must match %s (it prefixes namespace names)" % (name, NAME_PATTERN.pattern))
    sites = spec.get("sites")
    _require(isinstance(sites, list) and sites, "sites: needs a non-empty list")
    endpoints = spec.get("endpoints", [])
    _require(isinstance(endpoints, list), "endpoints: needs a list")

    site_ids: set = set()
    probe_names: set = set()
    normalized_sites = []
    for index, raw_site in enumerate(sites):
        where = "sites[%d]" % index
        _require(isinstance(raw_site, dict), "%s: must be a mapping" % where)
        unknown = set(raw_site) - set(SITE_DEFAULTS) - {"id", "asn"}
        _require(not unknown, "%s: unknown keys %s" % (where, ", ".join(sorted(unknown))))
        site = dict(SITE_DEFAULTS, **raw_site)
        site["probes"] = [dict(probe) for probe in site["probes"]]
        site_id = site.get("id")
        _require(isinstance(site_id, str) and ID_PATTERN.match(site_id) is not None, "%s.id: %r is not a valid id" % (where, site_id))
        _require(site_id not in site_ids, "%s.id: duplicate site id %r" % (where, site_id))
        site_ids.add(site_id)
        where = "sites[%s]" % site_id
        site["asn"] = _positive_int(site.get("asn"), where + ".asn", 1, 4294967294)
        _require(isinstance(site["networks"], list), "%s.networks: needs a list of networks (may be empty)" % where)
        site["networks"] = [_ipv4_network(net, where + ".networks") for net in site["networks"]]
        site["max_paths"] = _positive_int(site["max_paths"], where + ".max_paths", 1, 64)
        if site["router_id"] is None:
            # first host of the first network; a site that announces nothing gets a distinct placeholder id
            site["router_id"] = (str(next(ipaddress.IPv4Network(site["networks"][0]).hosts())) if site["networks"]
                                 else "10.255.255.%d" % (index + 1))
        site["router_id"] = _ipv4(site["router_id"], where + ".router_id")
        for probe_index, probe in enumerate(site["probes"]):
            pwhere = "%s.probes[%d]" % (where, probe_index)
            unknown = set(probe) - {"name", "address"}
            _require(not unknown, "%s: unknown keys %s" % (pwhere, ", ".join(sorted(unknown))))
            pname = probe.get("name")
            _require(isinstance(pname, str) and ID_PATTERN.match(pname) is not None, "%s.name: %r is not a valid name" % (pwhere, pname))
            _require(pname not in probe_names, "%s.name: duplicate probe name %r" % (pwhere, pname))
            probe_names.add(pname)
            address = _ipv4_interface(probe.get("address"), pwhere + ".address")
            _require(address.network.prefixlen < 31, "%s.address: %s leaves no room for a gateway" % (pwhere, address))
            _require(any(address.ip in ipaddress.IPv4Network(net) for net in site["networks"]),
                     "%s.address: %s is outside the site's networks %s" % (pwhere, address.ip, site["networks"]))
            probe["address"] = str(address)
        normalized_sites.append(site)

    endpoint_ids: set = set()
    address_pairs: dict = {}
    inside_by_site: dict = {}
    bgp_peers_by_site: dict = {}
    normalized_endpoints = []
    for index, raw_endpoint in enumerate(endpoints):
        where = "endpoints[%d]" % index
        _require(isinstance(raw_endpoint, dict), "%s: must be a mapping" % where)
        unknown = set(raw_endpoint) - set(ENDPOINT_DEFAULTS) - set(ENDPOINT_REQUIRED)
        _require(not unknown, "%s: unknown keys %s" % (where, ", ".join(sorted(unknown))))
        for key in ENDPOINT_REQUIRED:
            _require(raw_endpoint.get(key) is not None, "%s.%s: required" % (where, key))
        endpoint = dict(ENDPOINT_DEFAULTS, **raw_endpoint)
        endpoint_id = endpoint["id"]
        _require(isinstance(endpoint_id, str) and ENDPOINT_ID_PATTERN.match(endpoint_id) is not None,
                 "%s.id: %r is not a valid endpoint id (%s)" % (where, endpoint_id, ENDPOINT_ID_PATTERN.pattern))
        _require(endpoint_id not in endpoint_ids, "%s.id: duplicate endpoint id %r" % (where, endpoint_id))
        endpoint_ids.add(endpoint_id)
        where = "endpoints[%s]" % endpoint_id
        _require(endpoint["routing"] in ROUTING_MODES, "%s.routing: one of %s" % (where, ", ".join(ROUTING_MODES)))
        bgp = endpoint["routing"] == "bgp"
        if bgp:
            for key in BGP_REQUIRED:
                _require(endpoint.get(key) is not None, "%s.%s: required (routing bgp)" % (where, key))
            _require(not endpoint["static_routes"], "%s.static_routes: only for routing static" % where)
        else:
            _require(endpoint["bgp_peer_ip"] is None and endpoint["bgp_peer_asn"] is None,
                     "%s: bgp_peer_ip/bgp_peer_asn are only for routing bgp" % where)
        _require(isinstance(endpoint["static_routes"], list), "%s.static_routes: needs a list of networks" % where)
        endpoint["static_routes"] = sorted({_ipv4_network(net, where + ".static_routes") for net in endpoint["static_routes"]})
        _require(endpoint["generation"] is None or isinstance(endpoint["generation"], (int, str)),
                 "%s.generation: needs an integer or a string" % where)
        _require(endpoint["site"] in site_ids, "%s.site: unknown site %r" % (where, endpoint["site"]))
        endpoint["outside_ip"] = _ipv4(endpoint["outside_ip"], where + ".outside_ip")
        endpoint["remote_ip"] = _ipv4(endpoint["remote_ip"], where + ".remote_ip")
        pair = (endpoint["outside_ip"], endpoint["remote_ip"])
        _require(pair not in address_pairs, "%s: outside_ip %s -> remote_ip %s is already used by endpoint %s"
                 % (where, pair[0], pair[1], address_pairs.get(pair)))
        address_pairs[pair] = endpoint_id
        _require(isinstance(endpoint["psk"], str) and endpoint["psk"], "%s.psk: needs a non-empty string" % where)
        _require(endpoint["ike_version"] in IKE_VERSIONS, "%s.ike_version: must be 1, 2 or 0 (either)" % where)
        endpoint["ike_proposals"] = _proposals(endpoint["ike_proposals"], where + ".ike_proposals")
        endpoint["esp_proposals"] = _proposals(endpoint["esp_proposals"], where + ".esp_proposals")
        for key in ("ike_lifetime", "esp_lifetime", "dpd_interval", "dpd_timeout", "bgp_hold"):
            endpoint[key] = _positive_int(endpoint[key], "%s.%s" % (where, key))
        endpoint["rekey_margin"] = _positive_int(endpoint["rekey_margin"], where + ".rekey_margin", 0)
        endpoint["rekey_fuzz"] = _positive_int(endpoint["rekey_fuzz"], where + ".rekey_fuzz", 0, 100)
        endpoint["bgp_keepalive"] = _positive_int(endpoint["bgp_keepalive"], where + ".bgp_keepalive", 0)
        if endpoint["replay_window"] is not None:
            endpoint["replay_window"] = _positive_int(endpoint["replay_window"], where + ".replay_window", 0)
        _require(endpoint["dpd_action"] in DPD_ACTIONS, "%s.dpd_action: one of %s" % (where, ", ".join(DPD_ACTIONS)))
        _require(endpoint["start"] in START_ACTIONS, "%s.start: one of %s" % (where, ", ".join(START_ACTIONS)))
        for key in ("local_id", "remote_id"):
            _require(endpoint[key] is None or (isinstance(endpoint[key], str) and endpoint[key].strip() and '"' not in endpoint[key]),
                     "%s.%s: needs an identity string" % (where, key))
        if endpoint["inside_ip"] is not None:
            inside = _ipv4_interface(endpoint["inside_ip"], where + ".inside_ip")
            _require(inside.network.prefixlen <= 30 or inside.network.prefixlen == 32,
                     "%s.inside_ip: %s needs a /30 or larger (or a /32 with a host route to the BGP peer)" % (where, inside))
            _require(inside.network.prefixlen == 32 or inside.ip not in (inside.network.network_address, inside.network.broadcast_address),
                     "%s.inside_ip: %s is not a host address of its network" % (where, inside))
            endpoint["inside_ip"] = str(inside)
            for other_id, other_network in inside_by_site.get(endpoint["site"], []):
                _require(not inside.network.overlaps(other_network),
                         "%s.inside_ip: %s overlaps endpoint %s's inside network %s on the same site router"
                         % (where, inside.network, other_id, other_network))
            inside_by_site.setdefault(endpoint["site"], []).append((endpoint_id, inside.network))
        if bgp:
            endpoint["bgp_peer_ip"] = _ipv4(endpoint["bgp_peer_ip"], where + ".bgp_peer_ip")
            peer = ipaddress.IPv4Address(endpoint["bgp_peer_ip"])
            if inside.network.prefixlen == 32:
                # an Azure-style BGP address: a host address with a host route to the peer through the tunnel
                _require(peer != inside.ip, "%s.bgp_peer_ip: %s is inside_ip itself" % (where, peer))
            else:
                _require(peer in inside.network and peer != inside.ip,
                         "%s.bgp_peer_ip: %s must be another host of inside_ip's network %s" % (where, peer, inside.network))
            endpoint["bgp_peer_asn"] = _positive_int(endpoint["bgp_peer_asn"], where + ".bgp_peer_asn", 1, 4294967294)
            # one FRR neighbour per peer address and router (two Azure instances may name the same peer)
            other_id = bgp_peers_by_site.setdefault(endpoint["site"], {}).setdefault(endpoint["bgp_peer_ip"], endpoint_id)
            _require(other_id == endpoint_id, "%s.bgp_peer_ip: %s is already the BGP peer of endpoint %s on the same site router"
                     % (where, endpoint["bgp_peer_ip"], other_id))
        normalized_endpoints.append(endpoint)

    spec["sites"] = normalized_sites
    spec["endpoints"] = normalized_endpoints
    spec["nat"] = _normalize_nat(spec.get("nat"))
    _require(len(spec["endpoints"]) <= 200, "endpoints: at most 200 per fabric")
    return spec


def _normalize_nat(entries) -> list:
    """1:1 NAT in the internet namespace: [{"public_ip", "private_ip"}], sorted by public address.

    An EC2 Elastic IP in front of an instance: the far side talks to public_ip, the namespace holding
    private_ip sees its own address; packets from private_ip leave as public_ip.
    """
    _require(entries is None or isinstance(entries, list), "nat: needs a list of {public_ip, private_ip}")
    result, publics, privates = [], set(), set()
    for index, entry in enumerate(entries or []):
        where = "nat[%d]" % index
        _require(isinstance(entry, dict) and set(entry) == {"public_ip", "private_ip"}, "%s: needs exactly public_ip and private_ip" % where)
        public, private = _ipv4(entry["public_ip"], where + ".public_ip"), _ipv4(entry["private_ip"], where + ".private_ip")
        _require(public != private, "%s: public_ip and private_ip are the same address %s" % (where, public))
        _require(public not in publics and public not in privates, "%s.public_ip: %s is already mapped" % (where, public))
        _require(private not in privates and private not in publics, "%s.private_ip: %s is already mapped" % (where, private))
        publics.add(public)
        privates.add(private)
        result.append({"public_ip": public, "private_ip": private})
    return sorted(result, key=lambda item: ipaddress.IPv4Address(item["public_ip"]))


def public_address(spec: dict, address: str) -> str:
    """The address the internet sees for an endpoint's outside address (its NAT public address, else itself)."""
    for entry in spec.get("nat") or []:
        if entry["private_ip"] == address:
            return entry["public_ip"]
    return address


def site_by_id(spec: dict) -> dict:
    return {site["id"]: site for site in spec["sites"]}


def endpoint_by_id(spec: dict) -> dict:
    return {endpoint["id"]: endpoint for endpoint in spec["endpoints"]}


def links(spec: dict) -> dict:
    """Pair endpoints by address only: B is A's peer when B.outside_ip == A.remote_ip and B.remote_ip == A.outside_ip.

    Behind 1:1 NAT (``nat``) an outside address is seen by the far side as its public address.
    Returns {endpoint_id: peer_endpoint_id or None}. Nothing else is used to pair, so a wrong
    outside address leaves an endpoint without a peer.
    """
    seen = {ep["id"]: public_address(spec, ep["outside_ip"]) for ep in spec["endpoints"]}
    by_pair = {(seen[ep["id"]], ep["remote_ip"]): ep["id"] for ep in spec["endpoints"]}
    return {ep["id"]: by_pair.get((ep["remote_ip"], seen[ep["id"]])) for ep in spec["endpoints"]}


def expected_prefixes(spec: dict) -> dict:
    """{endpoint_id: sorted networks the endpoint's BGP neighbour should announce}, from the paired peer's site.

    Static endpoints learn nothing: [] (their routes are configured, see static_routes).
    """
    sites = site_by_id(spec)
    endpoints = endpoint_by_id(spec)
    result = {}
    for endpoint_id, peer_id in links(spec).items():
        bgp = endpoints[endpoint_id]["routing"] == "bgp"
        result[endpoint_id] = sorted(sites[endpoints[peer_id]["site"]]["networks"]) if peer_id and bgp else []
    return result


def shared_outside_ips(spec: dict) -> dict:
    """{outside_ip: [endpoint ids]} for addresses held by more than one endpoint namespace."""
    holders: dict = {}
    for endpoint in spec["endpoints"]:
        holders.setdefault(endpoint["outside_ip"], []).append(endpoint["id"])
    return {address: ids for address, ids in holders.items() if len(ids) > 1}


class Names:
    """Namespace, interface and table names of one fabric. Interface names are short and only unique per namespace."""

    INET_TO_ENDPOINT = "x%d"        # in the internet namespace, one per endpoint index
    ENDPOINT_OUTSIDE = "out"        # in an endpoint namespace, towards the internet
    ENDPOINT_VTI = "vti"            # in an endpoint namespace, towards the site router (plays the VTI)
    ROUTER_TO_ENDPOINT = "t%d"      # in a router namespace, one per endpoint index
    ROUTER_TO_PROBE = "p%d"         # in a router namespace, one per probe index
    PROBE_IFACE = "eth0"
    TUNNEL_TABLE = 220              # endpoint: traffic from the router goes only into ipsec0
    ROUTER_TABLE = 101              # endpoint: traffic out of ipsec0 goes only to the router
    CHARON_TABLE = 221              # endpoint: kernel-libipsec's own routes (0/0 via ipsec0 + exclude route to the peer)
    INET_GATEWAY = "100.64.0.1"     # the internet namespace's address on every endpoint link

    def __init__(self, name: str):
        self.name = name

    @property
    def inet(self) -> str:
        return "%s-inet" % self.name

    def router(self, site_id: str) -> str:
        return "%s-r-%s" % (self.name, site_id)

    def endpoint(self, endpoint_id: str) -> str:
        return "%s-e-%s" % (self.name, endpoint_id)

    def probe(self, probe_name: str) -> str:
        return "%s-p-%s" % (self.name, probe_name)

    @staticmethod
    def fabric_of_namespace(namespace: str) -> str:
        return namespace.split("-", 1)[0]

# GCP Compute stand-in: per-resource rules (what a request may contain, what GET returns).
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""Request checks for networks, externalVpnGateways, vpnGateways, vpnTunnels and routers.

Each ``check_<kind>`` takes the parsed request document and a :class:`Lookup` onto the current
state, raises :class:`errors.ApiError` for anything Compute refuses, and returns the resource's
input fields normalized the way GET shows them (references as full self links, defaults
filled in). Checks are run when the request arrives (-> immediate 4xx) and again when its
operation executes (-> error inside the operation, e.g. a referenced gateway deleted meanwhile).
"""
from __future__ import annotations

import ipaddress
from typing import Protocol

from . import errors, schema

LINK_LOCAL = ipaddress.ip_network("169.254.0.0/16")
ROUTER_ASN_RANGES = ((64512, 65534), (4200000000, 4294967294), (16550, 16550))
REDUNDANCY_INTERFACES = {"SINGLE_IP_INTERNALLY_REDUNDANT": [0], "TWO_IPS_REDUNDANCY": [0, 1], "FOUR_IPS_REDUNDANCY": [0, 1, 2, 3]}
HA_INTERFACES = (0, 1)

# JSON field names per kind: accepted on input / output only (ignored on input, as Compute does).
SUPPORTED = {
    "networks": {"name", "description", "autoCreateSubnetworks", "routingConfig", "mtu", "networkFirewallPolicyEnforcementOrder"},
    "externalVpnGateways": {"name", "description", "labels", "redundancyType", "interfaces"},
    "vpnGateways": {"name", "description", "labels", "network", "stackType", "gatewayIpVersion", "vpnInterfaces"},
    "vpnTunnels": {"name", "description", "labels", "vpnGateway", "vpnGatewayInterface", "peerExternalGateway",
                   "peerExternalGatewayInterface", "peerGcpGateway", "router", "sharedSecret", "ikeVersion", "cipherSuite",
                   "localTrafficSelector", "remoteTrafficSelector", "peerIp", "targetVpnGateway"},
    "routers": {"name", "description", "network", "bgp", "interfaces", "bgpPeers", "encryptedInterconnectRouter"},
}
OUTPUT_ONLY = {
    "networks": {"id", "kind", "selfLink", "selfLinkWithId", "creationTimestamp", "subnetworks", "peerings", "gatewayIPv4"},
    "externalVpnGateways": {"id", "kind", "selfLink", "creationTimestamp", "labelFingerprint"},
    "vpnGateways": {"id", "kind", "selfLink", "creationTimestamp", "labelFingerprint", "region"},
    "vpnTunnels": {"id", "kind", "selfLink", "creationTimestamp", "labelFingerprint", "region", "status", "detailedStatus",
                   "sharedSecretHash"},
    "routers": {"id", "kind", "selfLink", "creationTimestamp", "region"},
}
KIND = {"networks": "compute#network", "externalVpnGateways": "compute#externalVpnGateway", "vpnGateways": "compute#vpnGateway",
        "vpnTunnels": "compute#vpnTunnel", "routers": "compute#router"}
# how GCP names a resource type in "The <type> resource '...' is already being used by '...'"
IN_USE_NAME = {"networks": "network", "externalVpnGateways": "external_vpn_gateway", "vpnGateways": "vpn_gateway",
               "vpnTunnels": "vpn_tunnel", "routers": "router"}


class Lookup(Protocol):
    """The view of the current state the checks need (implemented by the controller)."""

    def find(self, kind: str, project: str, region: str | None, name: str) -> dict | None: ...

    def all(self, kind: str) -> list: ...


def _reference(lookup: Lookup, value: object, field: str, project: str, kind: str, region: str | None) -> tuple[str, dict]:
    """Resolve a reference that must exist -> (self link, document)."""
    ref_project, ref_region, name = schema.parse_reference(value, field, project, kind)
    if (ref_region is None) != (region is None):
        raise errors.invalid_value(field, value, "The URL is malformed.")
    if region is not None and ref_region != region:
        raise errors.invalid_value(field, value, "The referenced resource must be in region '%s'." % region)
    document = lookup.find(kind, ref_project, ref_region, name)
    if document is None:
        raise errors.not_found(schema.relative(ref_project, kind, name, ref_region))
    return document["selfLink"], document


def _network_link(lookup: Lookup, document: dict, project: str) -> str:
    if "network" not in document:
        raise errors.required("resource.network")
    return _reference(lookup, document["network"], "resource.network", project, "networks", None)[0]


def _integer(value: object, field: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise errors.invalid_value(field, value, "Must be between %d and %d." % (low, high))
    return value


def _advertisements(owner: dict, field: str) -> dict:
    """advertiseMode / advertisedGroups / advertisedIpRanges of a router's bgp or of a BGP peer."""
    mode = owner.get("advertiseMode", "DEFAULT")
    groups = owner.get("advertisedGroups", [])
    ranges = owner.get("advertisedIpRanges", [])
    if mode != "CUSTOM" and (groups or ranges):
        raise errors.invalid_value(field + ".advertiseMode", mode,
                                   "advertisedGroups and advertisedIpRanges can only be set when advertiseMode is CUSTOM.")
    seen = set()
    normalized_ranges = []
    for index, item in enumerate(ranges):
        location = "%s.advertisedIpRanges[%d]" % (field, index)
        unknown = set(item) - {"range", "description"}
        if unknown:
            raise errors.unsupported("%s.%s" % (location, sorted(unknown)[0]))
        try:
            network = ipaddress.ip_network(item.get("range", ""), strict=True)
        except ValueError:
            raise errors.invalid_value(location + ".range", item.get("range"), "Must be a valid CIDR range.") from None
        if network in seen:
            raise errors.invalid_value(location + ".range", item["range"], "Duplicate advertised IP range.")
        seen.add(network)
        normalized_ranges.append(dict(item, range=str(network)))
    if len(set(groups)) != len(groups):
        raise errors.invalid_value(field + ".advertisedGroups", groups, "Duplicate advertised group.")
    result = {"advertiseMode": mode}
    if groups:
        result["advertisedGroups"] = list(groups)
    if normalized_ranges:
        result["advertisedIpRanges"] = normalized_ranges
    return result


def _common(document: dict, kind: str) -> dict:
    normalized = {"name": schema.check_name(document.get("name"))}
    if "description" in document:
        normalized["description"] = document["description"]
    if kind in ("externalVpnGateways", "vpnGateways", "vpnTunnels"):
        normalized["labels"] = schema.check_labels(document.get("labels", {}))
    return normalized


def check_network(lookup: Lookup, project: str, region: None, document: dict, self_key: tuple) -> dict:
    normalized = _common(document, "networks")
    if "autoCreateSubnetworks" not in document:
        raise errors.invalid_value("resource.autoCreateSubnetworks", "", "Must be set to create a VPC network "
                                   "(legacy networks are not supported).")
    normalized["autoCreateSubnetworks"] = document["autoCreateSubnetworks"]
    routing = dict(document.get("routingConfig", {}))
    unknown = set(routing) - {"routingMode"}
    if unknown:
        raise errors.unsupported("resource.routingConfig.%s" % sorted(unknown)[0])
    normalized["routingConfig"] = {"routingMode": routing.get("routingMode", "REGIONAL")}
    normalized["mtu"] = _integer(document.get("mtu", 1460), "resource.mtu", 1300, 8896)
    normalized["networkFirewallPolicyEnforcementOrder"] = document.get("networkFirewallPolicyEnforcementOrder",
                                                                       "AFTER_CLASSIC_FIREWALL")
    return normalized


def check_external_vpn_gateway(lookup: Lookup, project: str, region: None, document: dict, self_key: tuple) -> dict:
    normalized = _common(document, "externalVpnGateways")
    redundancy = document.get("redundancyType")
    if not redundancy:
        raise errors.required("resource.redundancyType")
    interfaces = []
    for index, interface in enumerate(document.get("interfaces", [])):
        location = "resource.interfaces[%d]" % index
        if "ipv6Address" in interface:
            raise errors.unsupported(location + ".ipv6Address")
        try:
            address = ipaddress.IPv4Address(interface.get("ipAddress", ""))
        except ValueError:
            raise errors.invalid_value(location + ".ipAddress", interface.get("ipAddress", ""),
                                       "Must be a valid IPv4 address.") from None
        interfaces.append({"id": interface.get("id", 0), "ipAddress": str(address)})
    expected = REDUNDANCY_INTERFACES[redundancy]
    ids = sorted(interface["id"] for interface in interfaces)
    if ids != expected:
        raise errors.invalid_value("resource.interfaces", ids, "Redundancy type %s requires exactly the interface ids %s."
                                   % (redundancy, expected))
    addresses = [interface["ipAddress"] for interface in interfaces]
    if len(set(addresses)) != len(addresses):
        raise errors.invalid_value("resource.interfaces", addresses, "Interface IP addresses must be distinct.")
    normalized["redundancyType"] = redundancy
    normalized["interfaces"] = sorted(interfaces, key=lambda item: item["id"])
    return normalized


def check_vpn_gateway(lookup: Lookup, project: str, region: str, document: dict, self_key: tuple) -> dict:
    normalized = _common(document, "vpnGateways")
    normalized["network"] = _network_link(lookup, document, project)
    stack = document.get("stackType", "IPV4_ONLY")
    if stack != "IPV4_ONLY":
        raise errors.invalid_value("resource.stackType", stack, "Only IPV4_ONLY is supported by the lab stand-in.")
    version = document.get("gatewayIpVersion", "IPV4")
    if version != "IPV4":
        raise errors.invalid_value("resource.gatewayIpVersion", version, "Only IPV4 is supported by the lab stand-in.")
    for index, interface in enumerate(document.get("vpnInterfaces", [])):
        location = "resource.vpnInterfaces[%d]" % index
        if interface.get("id", 0) not in HA_INTERFACES:
            raise errors.invalid_value(location + ".id", interface.get("id", 0), "An HA VPN gateway has interfaces 0 and 1.")
        if "interconnectAttachment" in interface or "ipv6Address" in interface:
            raise errors.unsupported(location + ".interconnectAttachment")
    normalized["stackType"] = stack
    normalized["gatewayIpVersion"] = version
    return normalized


def check_vpn_tunnel(lookup: Lookup, project: str, region: str, document: dict, self_key: tuple) -> dict:
    normalized = _common(document, "vpnTunnels")
    if "targetVpnGateway" in document:
        raise errors.invalid_value("resource.targetVpnGateway", document["targetVpnGateway"],
                                   "Classic VPN is not supported by the lab stand-in; use an HA VPN gateway (vpnGateway).")
    if "peerIp" in document:
        raise errors.invalid_value("resource.peerIp", document["peerIp"], "Cannot specify peer IP for HA VPN tunnel "
                                   "creation, please specify peerExternalGateway or peerGcpGateway instead.")
    if "vpnGateway" not in document:
        raise errors.required("resource.vpnGateway")
    normalized["vpnGateway"], gateway = _reference(lookup, document["vpnGateway"], "resource.vpnGateway", project,
                                                   "vpnGateways", region)
    if "vpnGatewayInterface" not in document:
        raise errors.required("resource.vpnGatewayInterface")
    local_interface = document["vpnGatewayInterface"]
    if local_interface not in [item["id"] for item in gateway["vpnInterfaces"]]:
        raise errors.invalid_value("resource.vpnGatewayInterface", local_interface,
                                   "The VPN gateway has no interface with this id.")
    normalized["vpnGatewayInterface"] = local_interface
    if ("peerExternalGateway" in document) == ("peerGcpGateway" in document):
        raise errors.invalid_value("resource.peerExternalGateway", document.get("peerExternalGateway", ""),
                                   "Exactly one of peerExternalGateway and peerGcpGateway must be specified.")
    if "peerExternalGateway" in document:
        normalized["peerExternalGateway"], peer = _reference(lookup, document["peerExternalGateway"],
                                                             "resource.peerExternalGateway", project, "externalVpnGateways", None)
        if "peerExternalGatewayInterface" not in document:
            raise errors.required("resource.peerExternalGatewayInterface")
        peer_interface = document["peerExternalGatewayInterface"]
        if peer_interface not in [item["id"] for item in peer["interfaces"]]:
            raise errors.invalid_value("resource.peerExternalGatewayInterface", peer_interface,
                                       "The external VPN gateway (%s) has no interface with this id." % peer["redundancyType"])
        normalized["peerExternalGatewayInterface"] = peer_interface
        peer_field, peer_link = "peerExternalGateway", normalized["peerExternalGateway"]
    else:
        ref_project, ref_region, name = schema.parse_reference(document["peerGcpGateway"], "resource.peerGcpGateway",
                                                               project, "vpnGateways")
        peer = lookup.find("vpnGateways", ref_project, ref_region, name)
        if peer is None:
            raise errors.not_found(schema.relative(ref_project, "vpnGateways", name, ref_region))
        if peer["selfLink"] == normalized["vpnGateway"]:
            raise errors.invalid_value("resource.peerGcpGateway", document["peerGcpGateway"],
                                       "The peer gateway must differ from the tunnel's own gateway.")
        normalized["peerGcpGateway"] = peer["selfLink"]
        peer_interface = local_interface
        peer_field, peer_link = "peerGcpGateway", peer["selfLink"]
    for other in lookup.all("vpnTunnels"):
        if other["_key"] == self_key:
            continue
        if (other.get("vpnGateway"), other.get("vpnGatewayInterface"), other.get(peer_field),
                other.get("peerExternalGatewayInterface", other.get("vpnGatewayInterface"))) == (
                normalized["vpnGateway"], local_interface, peer_link, peer_interface):
            raise errors.invalid_value("resource.peerExternalGatewayInterface", peer_interface,
                                       "A tunnel with same peer external VPN gateway interface already exists for VPN "
                                       "gateway interface %d: '%s'." % (local_interface, other["selfLink"]))
    if "router" not in document:
        raise errors.required("resource.router")
    normalized["router"], router = _reference(lookup, document["router"], "resource.router", project, "routers", region)
    if router["network"] != gateway["network"]:
        raise errors.invalid_value("resource.router", document["router"],
                                   "The router and the VPN gateway must be in the same network.")
    secret = document.get("sharedSecret")
    if not secret:
        raise errors.required("resource.sharedSecret")
    if len(secret) > 255 or not secret.isprintable():
        # never echo the value
        raise errors.invalid_value("resource.sharedSecret", "<redacted>", "Must be 1-255 printable characters.")
    normalized["sharedSecret"] = secret
    ike_version = document.get("ikeVersion", 2)
    if ike_version not in (1, 2):
        raise errors.invalid_value("resource.ikeVersion", ike_version, "Acceptable IKE versions are 1 or 2.")
    normalized["ikeVersion"] = ike_version
    if document.get("cipherSuite"):
        normalized["cipherSuite"] = schema.check_cipher_suite(document["cipherSuite"])
    for selector in ("localTrafficSelector", "remoteTrafficSelector"):
        if document.get(selector, ["0.0.0.0/0"]) != ["0.0.0.0/0"]:
            raise errors.invalid_value("resource." + selector, ",".join(document[selector]),
                                       "HA VPN tunnels use dynamic routing; traffic selectors must be 0.0.0.0/0.")
        normalized[selector] = ["0.0.0.0/0"]
    return normalized


def _interface_address(ip_range: str, field: str) -> ipaddress.IPv4Interface:
    try:
        interface = ipaddress.IPv4Interface(ip_range)
    except ValueError:
        raise errors.invalid_value(field, ip_range, "Must be an IPv4 address with prefix length, e.g. 169.254.0.1/30.") from None
    network = interface.network
    if network.prefixlen != 30 or not network.subnet_of(LINK_LOCAL):
        raise errors.invalid_value(field, ip_range, "The IP range of a VPN tunnel interface must be a /30 in 169.254.0.0/16.")
    if interface.ip in (network.network_address, network.broadcast_address):
        raise errors.invalid_value(field, ip_range, "The address must be a usable host address of the /30.")
    return interface


def check_router(lookup: Lookup, project: str, region: str, document: dict, self_key: tuple) -> dict:
    normalized = _common(document, "routers")
    normalized["network"] = _network_link(lookup, document, project)
    if document.get("encryptedInterconnectRouter"):
        raise errors.unsupported("resource.encryptedInterconnectRouter")
    own_link = schema.link(project, "routers", normalized["name"], region)
    bgp = document.get("bgp")
    if bgp is not None:
        unknown = set(bgp) - {"asn", "advertiseMode", "advertisedGroups", "advertisedIpRanges", "keepaliveInterval"}
        if unknown:
            raise errors.unsupported("resource.bgp.%s" % sorted(unknown)[0])
        if "asn" not in bgp:
            raise errors.required("resource.bgp.asn")
        if not any(low <= bgp["asn"] <= high for low, high in ROUTER_ASN_RANGES):
            raise errors.invalid_value("resource.bgp.asn", bgp["asn"], "The ASN must be a private ASN: 64512-65534 or "
                                       "4200000000-4294967294.")
        normalized["bgp"] = {"asn": bgp["asn"], **_advertisements(bgp, "resource.bgp"),
                             "keepaliveInterval": _integer(bgp.get("keepaliveInterval", 20), "resource.bgp.keepaliveInterval", 20, 60)}
    interfaces: dict[str, dict] = {}
    addresses: dict[str, ipaddress.IPv4Interface] = {}
    linked: dict[str, str] = {}
    for index, interface in enumerate(document.get("interfaces", [])):
        location = "resource.interfaces[%d]" % index
        unknown = set(interface) - {"name", "ipRange", "linkedVpnTunnel", "managementType", "ipVersion"}
        if unknown:
            raise errors.unsupported("%s.%s" % (location, sorted(unknown)[0]))
        name = schema.check_name(interface.get("name"), location + ".name")
        if name in interfaces:
            raise errors.invalid_value(location + ".name", name, "Duplicate interface name.")
        if interface.get("ipVersion", "IPV4") != "IPV4":
            raise errors.invalid_value(location + ".ipVersion", interface["ipVersion"], "Only IPV4 is supported by the lab stand-in.")
        entry = {"name": name}
        if "ipRange" in interface:
            address = _interface_address(interface["ipRange"], location + ".ipRange")
            for other_name, other in addresses.items():
                if address.network.overlaps(other.network):
                    raise errors.invalid_value(location + ".ipRange", interface["ipRange"],
                                               "The IP range overlaps with the IP range of interface '%s'." % other_name)
            addresses[name] = address
            entry["ipRange"] = str(address)
        if "linkedVpnTunnel" in interface:
            tunnel_link, tunnel = _reference(lookup, interface["linkedVpnTunnel"], location + ".linkedVpnTunnel", project,
                                             "vpnTunnels", region)
            if tunnel.get("router") != own_link:
                raise errors.invalid_value(location + ".linkedVpnTunnel", interface["linkedVpnTunnel"],
                                           "The VPN tunnel is not associated with router '%s'." % normalized["name"])
            if tunnel_link in linked:
                raise errors.invalid_value(location + ".linkedVpnTunnel", interface["linkedVpnTunnel"],
                                           "The VPN tunnel is already linked to interface '%s'." % linked[tunnel_link])
            linked[tunnel_link] = name
            entry["linkedVpnTunnel"] = tunnel_link
        entry["managementType"] = "MANAGED_BY_USER"
        interfaces[name] = entry
    if interfaces:
        normalized["interfaces"] = list(interfaces.values())
    peers: dict[str, dict] = {}
    peer_of_interface: dict[str, str] = {}
    for index, peer in enumerate(document.get("bgpPeers", [])):
        location = "resource.bgpPeers[%d]" % index
        unknown = set(peer) - {"name", "interfaceName", "ipAddress", "peerIpAddress", "peerAsn", "advertisedRoutePriority",
                               "advertiseMode", "advertisedGroups", "advertisedIpRanges", "enable", "managementType",
                               "enableIpv4"}
        if unknown:
            raise errors.unsupported("%s.%s" % (location, sorted(unknown)[0]))
        name = schema.check_name(peer.get("name"), location + ".name")
        if name in peers:
            raise errors.invalid_value(location + ".name", name, "Duplicate BGP peer name.")
        if bgp is None:
            raise errors.invalid_value(location, name, "BGP peers require the router's bgp.asn to be set.")
        interface_name = peer.get("interfaceName")
        if not interface_name:
            raise errors.required(location + ".interfaceName")
        if interface_name not in interfaces:
            raise errors.invalid_value(location + ".interfaceName", interface_name,
                                       "BGP peer \"%s\" refers to interface \"%s\", which does not exist." % (name, interface_name))
        if interface_name in peer_of_interface:
            raise errors.invalid_value(location + ".interfaceName", interface_name, "Interface \"%s\" already has BGP peer \"%s\"."
                                       % (interface_name, peer_of_interface[interface_name]))
        peer_of_interface[interface_name] = name
        entry = {"name": name, "interfaceName": interface_name}
        if "peerIpAddress" in peer and "ipAddress" not in peer:
            raise errors.invalid_value(location, name, "In BGP Peer \"%s\", peer IP address %s is specified, but IP address "
                                       "is not specified." % (name, peer["peerIpAddress"]))
        if "ipAddress" in peer:
            own = addresses.get(interface_name)
            if own is None:
                raise errors.invalid_value(location + ".ipAddress", peer["ipAddress"],
                                           "Interface \"%s\" has no IP range." % interface_name)
            if peer["ipAddress"] != str(own.ip):
                raise errors.invalid_value(location + ".ipAddress", peer["ipAddress"],
                                           "Must be the IP address of interface \"%s\" (%s)." % (interface_name, own.ip))
            entry["ipAddress"] = peer["ipAddress"]
            try:
                peer_ip = ipaddress.IPv4Address(peer.get("peerIpAddress", ""))
            except ValueError:
                raise errors.invalid_value(location + ".peerIpAddress", peer.get("peerIpAddress", ""),
                                           "Must be a valid IPv4 address.") from None
            if peer_ip not in own.network or peer_ip in (own.ip, own.network.network_address, own.network.broadcast_address):
                raise errors.invalid_value(location + ".peerIpAddress", str(peer_ip), "Must be the other usable address of "
                                           "the interface's range %s." % own.network)
            entry["peerIpAddress"] = str(peer_ip)
        if "peerAsn" not in peer:
            raise errors.required(location + ".peerAsn")
        entry["peerAsn"] = _integer(peer["peerAsn"], location + ".peerAsn", 1, 4294967294)
        if entry["peerAsn"] == bgp["asn"]:
            raise errors.invalid_value(location + ".peerAsn", peer["peerAsn"], "The peer ASN must differ from the router's ASN.")
        if "advertisedRoutePriority" in peer:
            entry["advertisedRoutePriority"] = _integer(peer["advertisedRoutePriority"], location + ".advertisedRoutePriority",
                                                        0, 65535)
        entry.update(_advertisements(peer, location))
        if peer.get("enableIpv4") is False:
            raise errors.unsupported(location + ".enableIpv4")
        entry["enable"] = peer.get("enable", "TRUE")
        entry["managementType"] = "MANAGED_BY_USER"
        peers[name] = entry
    if peers:
        normalized["bgpPeers"] = list(peers.values())
    return normalized


CHECKS = {"networks": check_network, "externalVpnGateways": check_external_vpn_gateway, "vpnGateways": check_vpn_gateway,
          "vpnTunnels": check_vpn_tunnel, "routers": check_router}

# who may refer to a resource of each kind: (kind of the user, function document -> referenced links)
USERS = {
    "networks": [("vpnGateways", lambda doc: [doc.get("network")]), ("routers", lambda doc: [doc.get("network")])],
    "vpnGateways": [("vpnTunnels", lambda doc: [doc.get("vpnGateway"), doc.get("peerGcpGateway")])],
    "externalVpnGateways": [("vpnTunnels", lambda doc: [doc.get("peerExternalGateway")])],
    "routers": [("vpnTunnels", lambda doc: [doc.get("router")])],
    "vpnTunnels": [("routers", lambda doc: [item.get("linkedVpnTunnel") for item in doc.get("interfaces", [])])],
}

"""A VyOS configuration (vpn ipsec + interfaces vti + protocols bgp) -> the lab's neutral data-plane fragment (pure).

What VyOS itself would hand to strongSwan and FRR is reproduced from the configuration alone:
vyos-1x's swanctl template (``proposals = <encryption>-<hash>[-<prf>]-<dh>`` per ike-group
proposal, ``esp_proposals = <encryption>-<hash>[-<pfs group>]`` per esp-group proposal, a
proposal without both encryption and hash dropped, ``pfs enable`` = the first IKE proposal's
group, ``rekey_time`` = ike lifetime, ``life_time`` = esp lifetime, ``local id`` = local-id,
``connection-type initiate`` = start) and its bgpd template (``no bgp default ipv4-unicast``:
a neighbour without ``address-family ipv4-unicast`` exchanges no IPv4 routes; neighbour timers
only when both keepalive and holdtime are set).

Where VyOS would silently do something useless (drop a proposal, leave a neighbour without
routes, keep a group nobody uses) the lab raises instead: it exists to catch the renderer's
mistakes. The VyOS -> strongSwan names below are the lab's own table, on purpose independent of
plugins/module_utils/_ipsec.py and _vyos.py.
"""
from __future__ import annotations

import ipaddress
import re

from .commands import MASK, Command, VyosInterpError, parse_commands
from .grammar import CURRENT, LEGACY, build_tree

# VyOS encryption -> strongSwan token. VyOS counts the GCM/CCM ICV in bits, strongSwan in bytes.
STRONGSWAN_ENCRYPTION = {
    "aes128": "aes128", "aes192": "aes192", "aes256": "aes256",
    "aes128ctr": "aes128ctr", "aes192ctr": "aes192ctr", "aes256ctr": "aes256ctr",
    "aes128gcm64": "aes128gcm8", "aes192gcm64": "aes192gcm8", "aes256gcm64": "aes256gcm8",
    "aes128gcm96": "aes128gcm12", "aes192gcm96": "aes192gcm12", "aes256gcm96": "aes256gcm12",
    "aes128gcm128": "aes128gcm16", "aes192gcm128": "aes192gcm16", "aes256gcm128": "aes256gcm16",
    "aes128ccm64": "aes128ccm8", "aes192ccm64": "aes192ccm8", "aes256ccm64": "aes256ccm8",
    "aes128ccm96": "aes128ccm12", "aes192ccm96": "aes192ccm12", "aes256ccm96": "aes256ccm12",
    "aes128ccm128": "aes128ccm16", "aes192ccm128": "aes192ccm16", "aes256ccm128": "aes256ccm16",
    "3des": "3des",
    "chacha20poly1305": "chacha20poly1305",
}
STRONGSWAN_INTEGRITY = {
    "md5": "md5", "md5_128": "md5_128", "sha1": "sha1", "sha1_160": "sha1_160", "sha256": "sha256",
    "sha256_96": "sha256_96", "sha384": "sha384", "sha512": "sha512", "aesxcbc": "aesxcbc", "aescmac": "aescmac",
}
STRONGSWAN_PRF = {
    "prfmd5": "prfmd5", "prfsha1": "prfsha1", "prfsha256": "prfsha256", "prfsha384": "prfsha384",
    "prfsha512": "prfsha512", "prfaesxcbc": "prfaesxcbc", "prfaescmac": "prfaescmac",
}
STRONGSWAN_DH_GROUP = {
    1: "modp768", 2: "modp1024", 5: "modp1536", 14: "modp2048", 15: "modp3072", 16: "modp4096", 17: "modp6144",
    18: "modp8192", 19: "ecp256", 20: "ecp384", 21: "ecp521", 22: "modp1024s160", 23: "modp2048s224",
    24: "modp2048s256", 25: "ecp192", 26: "ecp224", 27: "ecp224bp", 28: "ecp256bp", 29: "ecp384bp",
    30: "ecp512bp", 31: "curve25519", 32: "curve448",
}

# VyOS defaults (interface-definitions defaultValue) and FRR's ('frr defaults traditional').
IKE_LIFETIME_DEFAULT = 28800
ESP_LIFETIME_DEFAULT = 3600
IKE_DH_GROUP_DEFAULT = 2
ESP_PFS_DEFAULT = "enable"
DPD_INTERVAL_DEFAULT = 30
DPD_TIMEOUT_DEFAULT = 120
VTI_MTU_DEFAULT = 1500
BGP_KEEPALIVE_DEFAULT = 60
BGP_HOLD_DEFAULT = 180
SITE_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,29}$")


def interpret(source) -> dict:
    """Interpret VyOS ``set`` commands (text, a list of strings, or parsed :class:`Command`).

    Returns the router as the lab sees it: ``{syntax, asn, router_id, networks, ipsec_interfaces,
    route_autoinstall, tunnels: [...]}``, one tunnel per site-to-site peer with everything the
    data plane needs (the PSK included: do not log the result). Raises :class:`VyosInterpError`
    naming the line for anything not understood, undefined, unused or not runnable in the lab.
    """
    commands = list(source) if _is_parsed(source) else parse_commands(source)
    if not commands:
        raise VyosInterpError("no 'set' commands")
    tree = build_tree(commands)
    root = tree.root
    peers = root.names("vpn", "ipsec", "site-to-site", "peer")
    if not peers:
        raise VyosInterpError("no 'vpn ipsec site-to-site peer': there is no tunnel to bring up")
    context = _Context(tree)
    tunnels = [context.tunnel(name, branch) for name, branch in peers.items()]
    context.check_everything_used()
    _check_inside_networks(tunnels)
    bgp = _bgp(tree, tunnels)
    for tunnel in tunnels:
        del tunnel["peer_command"]  # only for error messages; the result stays plain data
    return {
        "syntax": tree.syntax,
        "asn": bgp["asn"],
        "router_id": bgp["router_id"],
        "networks": bgp["networks"],
        "ipsec_interfaces": root.value("vpn", "ipsec", "interface", default=None)
        or root.value("vpn", "ipsec", "ipsec-interfaces", "interface", default=[]),
        "route_autoinstall": root.get("vpn", "ipsec", "options", "disable-route-autoinstall") is None,
        "tunnels": tunnels,
    }


def vyos_site(commands, *, site_id: str, public_ip: str | None = None) -> dict:
    """The lab fragment for a "VyOS" router configured by ``commands``.

    Returns ``{"site": {id, asn, networks[, router_id]}, "endpoints": [...], "nat": None |
    {"public_ip", "private_ip"}, "syntax": "current" | "legacy"}``. Endpoints follow the neutral
    description (tests/lab/dataplane/README.md): id ``<site_id>-<vti>``, outside_ip = the
    configured local-address, local_id = authentication local-id / id when set, remote_ip = the
    peer, proposals in strongSwan syntax, inside_ip = the bound VTI's address, BGP over that VTI.

    ``public_ip``: the address the far side knows this router by. When it differs from the
    local-address the router sits behind 1:1 NAT and ``nat`` says so: the lab must put a 1:1 NAT
    public_ip <-> private_ip in front of the endpoints (the description has no NAT of its own).
    Nothing here compensates a wrong identity: a missing local-id behind NAT fails in strongSwan.
    """
    if not isinstance(site_id, str) or not SITE_ID_PATTERN.match(site_id):
        raise VyosInterpError("site_id %r must match %s (endpoint ids are <site_id>-<vti>)" % (site_id, SITE_ID_PATTERN.pattern))
    router = interpret(commands)
    site = {"id": site_id, "asn": router["asn"], "networks": list(router["networks"])}
    if router["router_id"] is not None:
        site["router_id"] = router["router_id"]
    endpoints = []
    for tunnel in router["tunnels"]:
        endpoints.append({
            "id": "%s-%s" % (site_id, tunnel["vti"]),
            "site": site_id,
            "outside_ip": tunnel["outside_ip"],
            "remote_ip": tunnel["remote_ip"],
            "psk": tunnel["psk"],
            "ike_version": tunnel["ike_version"],
            "ike_proposals": list(tunnel["ike_proposals"]),
            "esp_proposals": list(tunnel["esp_proposals"]),
            "ike_lifetime": tunnel["ike_lifetime"],
            "esp_lifetime": tunnel["esp_lifetime"],
            "dpd_interval": tunnel["dpd_interval"],
            "dpd_timeout": tunnel["dpd_timeout"],
            "dpd_action": tunnel["dpd_action"],
            "start": tunnel["start"],
            "local_id": tunnel["local_id"],
            "remote_id": tunnel["remote_id"],
            "inside_ip": tunnel["inside_ip"],
            "bgp_peer_ip": tunnel["bgp_peer_ip"],
            "bgp_peer_asn": tunnel["bgp_peer_asn"],
            "bgp_hold": tunnel["bgp_hold"],
            "bgp_keepalive": tunnel["bgp_keepalive"],
        })
    return {"site": site, "endpoints": endpoints, "nat": _nat(router["tunnels"], public_ip), "syntax": router["syntax"]}


# ---------------------------------------------------------------------------------- helpers
def _is_parsed(source) -> bool:
    return isinstance(source, (list, tuple)) and bool(source) and all(isinstance(item, Command) for item in source)


def _nat(tunnels, public_ip):
    if public_ip is None:
        return None
    try:
        public = str(ipaddress.IPv4Address(str(public_ip)))
    except ValueError:
        raise VyosInterpError("public_ip %r is not an IPv4 address" % (public_ip,)) from None
    outside = sorted({tunnel["outside_ip"] for tunnel in tunnels})
    if outside == [public]:
        return None
    if len(outside) != 1:
        raise VyosInterpError("public_ip %s would need a 1:1 NAT, but the peers use several local-address values (%s)"
                              % (public, ", ".join(outside)))
    return {"public_ip": public, "private_ip": outside[0]}


def _fail(message, where):
    """An error at ``where``: a Branch or Setting (its first command), or a Command."""
    command = where if isinstance(where, Command) or where is None else where.command
    return VyosInterpError(message, command=command)


def _identity(value):
    """IKE identities compare by value: an address however written, otherwise the exact string."""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return value


def _lookup(table, setting, what):
    try:
        return table[setting.value]
    except KeyError:
        raise _fail("%s %r is valid VyOS but the lab has no strongSwan mapping for it" % (what, setting.value), setting) from None


class _Context:
    """Group translations and the bookkeeping of which definitions the peers use."""

    def __init__(self, tree):
        self.tree = tree
        root = tree.root
        self.ike_groups = root.names("vpn", "ipsec", "ike-group")
        self.esp_groups = root.names("vpn", "ipsec", "esp-group")
        self.psks = root.names("vpn", "ipsec", "authentication", "psk")
        self.vtis = root.names("interfaces", "vti")
        self.used = {"ike-group": set(), "esp-group": set(), "psk": set(), "vti": {}}

    # -- one peer
    def tunnel(self, name, peer) -> dict:
        where = "peer %s" % name
        mode = peer.get("authentication", "mode")
        if mode is None:
            raise _fail("%s: no 'authentication mode' (the lab runs pre-shared-secret peers)" % where, peer)
        if mode.value != "pre-shared-secret":
            raise _fail("%s: authentication mode %r is not run by the lab (pre-shared-secret only)" % (where, mode.value), mode)
        outside_ip = self._local_address(where, peer)
        remote_ip = self._remote_address(name, where, peer)
        ike = self._ike_group(where, peer)
        esp = self._esp_group(where, peer, ike)
        vti_name, vti = self._vti(where, peer)
        local_id = peer.value("authentication", "local-id") if self.tree.syntax == CURRENT else peer.value("authentication", "id")
        remote_id = peer.value("authentication", "remote-id")
        psk = self._psk(where, peer, local_id or outside_ip, remote_id, remote_ip)
        if psk == MASK:
            raise _fail("%s: the pre-shared key is masked (%s): give the commands with their secrets" % (where, MASK), peer)
        connection_type = peer.value("connection-type", default="initiate")
        return {
            "peer": name,
            "description": peer.value("description"),
            "vti": vti_name,
            "mtu": vti.value("mtu", default=VTI_MTU_DEFAULT),
            "adjust_mss": vti.value("ip", "adjust-mss"),
            "inside_ip": self._vti_address(vti_name, vti),
            "outside_ip": outside_ip,
            "remote_ip": remote_ip,
            "psk": psk,
            "local_id": local_id,
            "remote_id": remote_id,
            "start": "initiate" if connection_type == "initiate" else "wait",
            "ike_group": ike["name"],
            "esp_group": esp["name"],
            "ike_version": ike["version"],
            "ike_proposals": ike["proposals"],
            "ike_lifetime": ike["lifetime"],
            "dpd_action": ike["dpd_action"],
            "dpd_interval": ike["dpd_interval"],
            "dpd_timeout": ike["dpd_timeout"],
            "esp_proposals": esp["proposals"],
            "esp_lifetime": esp["lifetime"],
            "peer_command": peer.command,
        }

    def _local_address(self, where, peer):
        setting = peer.get("local-address")
        if setting is None:
            raise _fail("%s: no local-address (the lab binds each tunnel end to one address)" % where, peer)
        address = setting.value
        if address == "any" or ipaddress.ip_address(address).version != 4:
            raise _fail("%s: local-address %s: the lab needs an IPv4 address" % (where, address), setting)
        return address

    def _remote_address(self, name, where, peer):
        setting = peer.get("remote-address")
        if setting is not None:
            addresses = setting.value
            if len(addresses) != 1:
                raise _fail("%s: %d remote-address values; the lab runs one peer address per tunnel" % (where, len(addresses)), setting)
            address = addresses[0]
            if address == "any" or ipaddress.ip_address(address).version != 4:
                raise _fail("%s: remote-address %s: the lab needs an IPv4 address" % (where, address), setting)
            return address
        if self.tree.syntax == CURRENT:
            raise _fail("%s: no remote-address (VyOS 1.4+ names peers; the address is remote-address)" % where, peer)
        try:
            return str(ipaddress.IPv4Address(name))
        except ValueError:
            raise _fail("%s: a VyOS <= 1.3 peer is named by its IPv4 address (or give remote-address on 1.4+)" % where, peer) from None

    def _ike_group(self, where, peer):
        setting = peer.get("ike-group")
        if setting is None:
            raise _fail("%s: no ike-group" % where, peer)
        name = setting.value
        if name not in self.ike_groups:
            raise _fail("%s: ike-group %r is not defined (no 'vpn ipsec ike-group %s ...')" % (where, name, name), setting)
        self.used["ike-group"].add(name)
        return _translate_ike_group(name, self.ike_groups[name], self.tree.syntax)

    def _esp_group(self, where, peer, ike):
        setting = peer.get("vti", "esp-group") or peer.get("default-esp-group")
        if setting is None:
            raise _fail("%s: no 'vti esp-group' (nor default-esp-group)" % where, peer)
        name = setting.value
        if name not in self.esp_groups:
            raise _fail("%s: esp-group %r is not defined (no 'vpn ipsec esp-group %s ...')" % (where, name, name), setting)
        self.used["esp-group"].add(name)
        return _translate_esp_group(name, self.esp_groups[name], ike)

    def _vti(self, where, peer):
        setting = peer.get("vti", "bind")
        if setting is None:
            raise _fail("%s: no 'vti bind': the lab runs route-based (VTI) tunnels only" % where, peer)
        name = setting.value
        if name not in self.vtis:
            raise _fail("%s: vti bind %r, but there is no 'interfaces vti %s'" % (where, name, name), setting)
        if name in self.used["vti"]:
            other_peer, other_command = self.used["vti"][name]
            raise _fail("%s: %s is already bound to peer %s (line %d)" % (where, name, other_peer, other_command.number), setting)
        self.used["vti"][name] = (where.split(" ", 1)[1], setting.command)
        return name, self.vtis[name]

    @staticmethod
    def _vti_address(name, vti):
        setting = vti.get("address")
        if setting is None:
            raise _fail("interfaces vti %s has no address (the tunnel's inside address)" % name, vti)
        addresses = setting.value
        if len(addresses) != 1 or ":" in addresses[0]:
            raise _fail("interfaces vti %s: the lab needs exactly one IPv4 address (got %s)" % (name, ", ".join(addresses)), setting)
        return addresses[0]

    def _psk(self, where, peer, local_identity, remote_id, remote_ip):
        if self.tree.syntax != CURRENT:
            setting = peer.get("authentication", "pre-shared-secret")
            if setting is None:
                raise _fail("%s: authentication mode pre-shared-secret but no 'authentication pre-shared-secret'" % where, peer)
            return setting.value
        # strongSwan picks the shared key whose ids best match (local identity, remote identity).
        mine = _identity(local_identity)
        theirs = _identity(remote_id if remote_id not in (None, "%any") else remote_ip)
        scored = []
        for name, entry in self.psks.items():
            ids, secret = entry.get("id"), entry.get("secret")
            if ids is None or secret is None:
                raise _fail("authentication psk %s needs both id and secret" % name, entry)
            identities = {_identity(value) for value in ids.value}
            score = (mine in identities) + (theirs in identities)
            if score:
                scored.append((score, name, secret.value))
        if not scored:
            raise _fail("%s: no 'vpn ipsec authentication psk' lists its identities (local %s, remote %s): strongSwan finds no key"
                        % (where, mine, theirs), peer)
        best = max(score for score, _name, _secret in scored)
        chosen = [(name, secret) for score, name, secret in scored if score == best]
        if len({secret for _name, secret in chosen}) > 1:
            raise _fail("%s: authentication psk %s match its identities equally well with different secrets"
                        % (where, " and ".join(name for name, _secret in chosen)), peer)
        self.used["psk"].update(name for name, _secret in chosen)
        return chosen[0][1]

    def check_everything_used(self) -> None:
        for kind, definitions in (("ike-group", self.ike_groups), ("esp-group", self.esp_groups), ("psk", self.psks)):
            for name, branch in definitions.items():
                if name not in self.used[kind]:
                    prefix = "vpn ipsec authentication psk" if kind == "psk" else "vpn ipsec %s" % kind
                    raise _fail("%s %s is defined but no peer uses it (a name that does not match?)" % (prefix, name), branch)
        for name, branch in self.vtis.items():
            if name not in self.used["vti"]:
                raise _fail("interfaces vti %s is bound to no peer" % name, branch)


def _translate_ike_group(name, group, syntax) -> dict:
    where = "ike-group %s" % name
    mode = group.get("mode")
    if mode is not None and mode.value == "aggressive":
        raise _fail("%s: IKEv1 aggressive mode is not run by the lab" % where, mode)
    proposals, first_group = [], None
    numbered = group.names("proposal")
    if not numbered:
        raise _fail("%s has no proposal" % where, group)
    for number, proposal in numbered.items():
        encryption, integrity = _encryption_and_hash(where, number, proposal)
        parts = [_lookup(STRONGSWAN_ENCRYPTION, encryption, "encryption"), _lookup(STRONGSWAN_INTEGRITY, integrity, "hash")]
        if proposal.get("prf") is not None:
            parts.append(_lookup(STRONGSWAN_PRF, proposal.get("prf"), "prf"))
        dh_setting = proposal.get("dh-group")
        dh_group = int(dh_setting.value) if dh_setting is not None else IKE_DH_GROUP_DEFAULT
        parts.append(STRONGSWAN_DH_GROUP[dh_group])
        first_group = dh_group if first_group is None else first_group
        proposals.append("-".join(parts))
    dpd = group.get("dead-peer-detection")
    if dpd is None:
        dpd_action, interval, timeout = "none", DPD_INTERVAL_DEFAULT, DPD_TIMEOUT_DEFAULT
    else:
        action = dpd.get("action")
        if action is None:
            raise _fail("%s: dead-peer-detection without an action" % where, dpd)
        if action.value == "hold":
            raise _fail("%s: dead-peer-detection action 'hold' (trap) is not run by the lab (clear or restart)" % where, action)
        dpd_action = action.value
        interval = dpd.value("interval", default=DPD_INTERVAL_DEFAULT)
        timeout = dpd.value("timeout", default=DPD_TIMEOUT_DEFAULT)
    # Without key-exchange VyOS 1.4+ renders version 0 (initiates IKEv2); VyOS <= 1.3 defaulted to ikev1.
    default_version = "ikev1" if syntax == LEGACY else "ikev2"
    return {
        "name": name,
        "version": 1 if group.value("key-exchange", default=default_version) == "ikev1" else 2,
        "proposals": proposals,
        "first_dh_group": first_group,
        "lifetime": group.value("lifetime", default=IKE_LIFETIME_DEFAULT),
        "dpd_action": dpd_action,
        "dpd_interval": interval,
        "dpd_timeout": timeout,
    }


def _translate_esp_group(name, group, ike) -> dict:
    where = "esp-group %s" % name
    compression = group.get("compression")
    if compression is not None and compression.value != "disable":
        raise _fail("%s: compression (IPComp) is not run by the lab" % where, compression)
    mode = group.get("mode")
    if mode is not None and mode.value != "tunnel":
        raise _fail("%s: mode %s; a VTI carries tunnel-mode SAs" % (where, mode.value), mode)
    pfs = group.value("pfs", default=ESP_PFS_DEFAULT)
    if pfs == "disable":
        pfs_group = None
    elif pfs == "enable":
        pfs_group = ike["first_dh_group"]  # vyos-1x get_first_ike_dh_group
    else:
        pfs_group = int(pfs[len("dh-group"):])
    numbered = group.names("proposal")
    if not numbered:
        raise _fail("%s has no proposal" % where, group)
    proposals = []
    for number, proposal in numbered.items():
        encryption, integrity = _encryption_and_hash(where, number, proposal)
        parts = [_lookup(STRONGSWAN_ENCRYPTION, encryption, "encryption"), _lookup(STRONGSWAN_INTEGRITY, integrity, "hash")]
        if pfs_group is not None:
            parts.append(STRONGSWAN_DH_GROUP[pfs_group])
        proposals.append("-".join(parts))
    return {"name": name, "proposals": proposals, "lifetime": group.value("lifetime", default=ESP_LIFETIME_DEFAULT)}


def _encryption_and_hash(where, number, proposal):
    encryption, integrity = proposal.get("encryption"), proposal.get("hash")
    if encryption is None or integrity is None:
        missing = "encryption" if encryption is None else "hash"
        raise _fail("%s proposal %s has no %s: VyOS would silently drop this proposal" % (where, number, missing), proposal)
    return encryption, integrity


def _check_inside_networks(tunnels) -> None:
    seen = []
    for tunnel in tunnels:
        network = ipaddress.IPv4Interface(tunnel["inside_ip"]).network
        for other, other_network in seen:
            if network.overlaps(other_network):
                raise _fail("%s's address %s overlaps %s's %s" % (tunnel["vti"], tunnel["inside_ip"], other["vti"], other["inside_ip"]),
                            tunnel["peer_command"])
        seen.append((tunnel, network))


def _bgp(tree, tunnels) -> dict:
    bgp = tree.root.get("protocols", "bgp")
    if bgp is None:
        raise VyosInterpError("no 'protocols bgp': the lab's tunnels carry BGP (a static-routing connection does not run here)")
    instances = {word: branch for word, branch in bgp.children.items() if word.isdigit()}
    if instances:
        if len(instances) > 1:
            raise _fail("more than one 'protocols bgp <asn>' instance (%s)" % ", ".join(instances), list(instances.values())[1])
        asn_word, instance = next(iter(instances.items()))
        asn = int(asn_word)
    else:
        instance = bgp
        system_as = bgp.get("system-as")
        if system_as is None:
            raise _fail("'protocols bgp' has no system-as", bgp)
        asn = system_as.value
    default_timers = _timers(instance.get("timers"), (BGP_KEEPALIVE_DEFAULT, BGP_HOLD_DEFAULT))
    neighbors = instance.names("neighbor")
    claimed = {}
    for tunnel in tunnels:
        inside = ipaddress.IPv4Interface(tunnel["inside_ip"])
        over = [address for address in neighbors if ipaddress.IPv4Address(address) in inside.network and ipaddress.IPv4Address(address) != inside.ip]
        if len(over) != 1:
            found = "no BGP neighbor" if not over else "%d BGP neighbors (%s)" % (len(over), ", ".join(over))
            message = "%s (%s, peer %s): %s in %s; the lab runs one per tunnel" % (
                tunnel["vti"], tunnel["inside_ip"], tunnel["peer"], found, inside.network)
            raise _fail(message, tunnel["peer_command"])
        address = over[0]
        neighbor = neighbors[address]
        claimed[address] = tunnel
        remote_as = neighbor.get("remote-as")
        if remote_as is None:
            raise _fail("neighbor %s has no remote-as" % address, neighbor)
        if not isinstance(remote_as.value, int):
            raise _fail("neighbor %s: remote-as %s; the lab needs the peer's AS number" % (address, remote_as.value), remote_as)
        if neighbor.get("address-family", "ipv4-unicast") is None:
            raise _fail("neighbor %s has no 'address-family ipv4-unicast': VyOS sets 'no bgp default ipv4-unicast', so it would "
                        "exchange no IPv4 routes" % address, neighbor)
        keepalive, hold = _timers(neighbor.get("timers"), default_timers)
        if hold == 0:
            raise _fail("neighbor %s: hold time 0 (no keepalives) is not run by the lab" % address, neighbor)
        tunnel.update(bgp_peer_ip=address, bgp_peer_asn=remote_as.value, bgp_hold=hold, bgp_keepalive=keepalive)
    for address, neighbor in neighbors.items():
        if address not in claimed:
            raise _fail("neighbor %s is reachable over no tunnel's VTI" % address, neighbor)
    return {
        "asn": asn,
        "router_id": instance.value("parameters", "router-id"),
        "networks": list(instance.names("address-family", "ipv4-unicast", "network")),
    }


def _timers(branch, default):
    """(keepalive, hold): VyOS renders 'timers <keepalive> <holdtime>' only when both are set."""
    if branch is None or branch.get("keepalive") is None or branch.get("holdtime") is None:
        return default
    return branch.value("keepalive"), branch.value("holdtime")

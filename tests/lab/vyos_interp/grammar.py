"""The VyOS configuration subtrees the lab understands, and the tree the ``set`` commands build (pure).

Only ``vpn ipsec`` (site-to-site with VTIs), ``interfaces vti`` and ``protocols bgp`` are known,
in both syntaxes the collection renders: ``current`` (VyOS 1.4 sagitta / 1.5 circinus) and
``legacy`` (VyOS <= 1.3, the shape of AWS's "Vyatta" download). A path or value outside this
grammar is an error naming the line. Elements that exist in one syntax only mark the command;
one configuration mixing both is an error (a router runs one VyOS version).

Sources: vyos-1x interface-definitions (vpn-ipsec.xml.in, include/vpn-ipsec-encryption.xml.i,
include/vpn-ipsec-hash.xml.i, the BGP and VTI definitions) and vyos-documentation (1.3 and 1.4
site2site_ipsec, bgp).
"""
from __future__ import annotations

import ipaddress
import re

from .commands import VyosInterpError

CURRENT = "current"
LEGACY = "legacy"
SYNTAX_NAMES = {CURRENT: "VyOS 1.4+ (current)", LEGACY: "VyOS <= 1.3 (legacy)"}

# Values VyOS's CLI accepts (interface-definitions). Which of them the lab can run is decided
# in translate.py, with its own strongSwan table.
VYOS_ENCRYPTIONS = (
    "null", "aes128", "aes192", "aes256", "aes128ctr", "aes192ctr", "aes256ctr",
    "aes128ccm64", "aes192ccm64", "aes256ccm64", "aes128ccm96", "aes192ccm96", "aes256ccm96",
    "aes128ccm128", "aes192ccm128", "aes256ccm128", "aes128gcm64", "aes192gcm64", "aes256gcm64",
    "aes128gcm96", "aes192gcm96", "aes256gcm96", "aes128gcm128", "aes192gcm128", "aes256gcm128",
    "aes128gmac", "aes192gmac", "aes256gmac", "3des", "blowfish128", "blowfish192", "blowfish256",
    "camellia128", "camellia192", "camellia256", "camellia128ctr", "camellia192ctr", "camellia256ctr",
    "camellia128ccm64", "camellia192ccm64", "camellia256ccm64", "camellia128ccm96", "camellia192ccm96",
    "camellia256ccm96", "camellia128ccm128", "camellia192ccm128", "camellia256ccm128", "serpent128",
    "serpent192", "serpent256", "twofish128", "twofish192", "twofish256", "cast128", "chacha20poly1305",
)
VYOS_HASHES = ("md5", "md5_128", "sha1", "sha1_160", "sha256", "sha256_96", "sha384", "sha512", "aesxcbc", "aescmac",
               "aes128gmac", "aes192gmac", "aes256gmac")
VYOS_PRFS = ("prfmd5", "prfsha1", "prfsha256", "prfsha384", "prfsha512", "prfaesxcbc", "prfaescmac")
VYOS_DH_GROUPS = (1, 2, 5) + tuple(range(14, 33))


# ---------------------------------------------------------------------------------- value checks
def _ipv4(value: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise ValueError("%r is not an IPv4 address" % value) from None


def _address(value: str) -> str:
    """An IPv4 or IPv6 address, or 'any' (what VyOS accepts for local-address / remote-address)."""
    if value == "any":
        return value
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError("%r is not an IP address or 'any'" % value) from None


def _ipv4_host_prefix(value: str) -> str:
    if "/" not in value:
        raise ValueError("%r needs a prefix length (address/prefix)" % value)
    try:
        interface = ipaddress.IPv4Interface(value)
    except ValueError:
        try:
            ipaddress.IPv6Interface(value)
        except ValueError:
            raise ValueError("%r is not an address/prefix" % value) from None
        return value
    network = interface.network
    if network.prefixlen < 31 and interface.ip in (network.network_address, network.broadcast_address):
        raise ValueError("%s is not a host address of %s" % (interface.ip, network))
    return str(interface)


def _ipv4_network(value: str) -> str:
    try:
        return str(ipaddress.IPv4Network(value, strict=True))
    except ValueError as error:
        raise ValueError("%r is not an IPv4 network (%s)" % (value, error)) from None


def _integer(low: int, high: int):
    def check(value: str) -> int:
        if not re.fullmatch(r"[0-9]+", value):
            raise ValueError("%r is not a number" % value)
        number = int(value)
        if not low <= number <= high:
            raise ValueError("%d is outside %d-%d" % (number, low, high))
        return number
    return check


def _choice(*allowed):
    texts = tuple(str(item) for item in allowed)

    def check(value: str) -> str:
        if value not in texts:
            raise ValueError("%r is not one of: %s" % (value, " ".join(texts)))
        return value
    return check


def _pattern(regex: str, what: str):
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError("%r is not %s" % (value, what))
        return value
    return check


def _text(value: str) -> str:
    if not value:
        raise ValueError("an empty value")
    return value


def _holdtime(value: str) -> int:
    number = _integer(0, 65535)(value)
    if 0 < number < 3:
        raise ValueError("hold time %d: 0 or 3-65535" % number)
    return number


def _remote_as(value: str):
    if value in ("external", "internal"):
        return value
    return _integer(1, 4294967294)(value)


def _mss(value: str):
    if value == "clamp-mss-to-pmtu":
        return value
    return _integer(536, 65535)(value)


_GROUP_NAME = _pattern(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", "a group name")
_PSK_NAME = _pattern(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", "a PSK entry name")
_INTERFACE = _pattern(r"[A-Za-z][A-Za-z0-9._-]{0,14}", "an interface name")
_VTI_NAME = _pattern(r"vti[0-9]+", "a VTI interface name (vtiN)")
_PEER_NAME = _pattern(r"[-_a-zA-Z0-9|@.]+", "a peer name")
_ASN = _integer(1, 4294967294)


def _peer_name_syntax(name: str):
    """1.4+ peer names cannot hold dots (regex [-_a-zA-Z0-9|@]+): a dotted address names a <= 1.3 peer."""
    return LEGACY if "." in name else None


# ---------------------------------------------------------------------------------- grammar
class Leaf:
    """A setting with one value (``multi``: a list of values)."""

    def __init__(self, check, *, syntax=None, multi=False):
        self.check, self.syntax, self.multi = check, syntax, multi


class Flag:
    """A valueless setting (``options disable-route-autoinstall``)."""

    def __init__(self, *, syntax=None):
        self.syntax = syntax


class FlagOrLeaf:
    """Valueless in one syntax, valued in the other (esp-group ``compression``)."""

    def __init__(self, check, *, flag_syntax, leaf_syntax):
        self.check, self.flag_syntax, self.leaf_syntax = check, flag_syntax, leaf_syntax
        self.syntax = None


class Node:
    """Named children; ``wildcard`` (a :class:`Tag`) takes any other word (legacy ``protocols bgp <asn>``).

    ``child_syntax`` marks every direct named child (the current ``protocols bgp neighbor`` level).
    """

    def __init__(self, children, *, syntax=None, wildcard=None, child_syntax=None):
        self.children, self.syntax, self.wildcard, self.child_syntax = children, syntax, wildcard, child_syntax


class Tag:
    """A keyword followed by a name (``ike-group <name>``), then the children of ``node``."""

    def __init__(self, check, node, *, syntax=None, name_syntax=None, what="name"):
        self.check, self.node, self.syntax, self.name_syntax, self.what = check, node, syntax, name_syntax, what


_PROPOSAL_NUMBER = _integer(1, 65535)
_IKE_GROUP = Node({
    "dead-peer-detection": Node({
        "action": Leaf(_choice("hold", "clear", "restart")),
        "interval": Leaf(_integer(2, 86400)),
        "timeout": Leaf(_integer(2, 86400)),
    }),
    "key-exchange": Leaf(_choice("ikev1", "ikev2")),
    "lifetime": Leaf(_integer(30, 86400)),
    "mode": Leaf(_choice("main", "aggressive")),
    "proposal": Tag(_PROPOSAL_NUMBER, Node({
        "dh-group": Leaf(_choice(*VYOS_DH_GROUPS)),
        "encryption": Leaf(_choice(*VYOS_ENCRYPTIONS)),
        "hash": Leaf(_choice(*VYOS_HASHES)),
        "prf": Leaf(_choice(*VYOS_PRFS), syntax=CURRENT),
    }), what="proposal number"),
})
_ESP_GROUP = Node({
    "compression": FlagOrLeaf(_choice("enable", "disable"), flag_syntax=CURRENT, leaf_syntax=LEGACY),
    "lifetime": Leaf(_integer(30, 86400)),
    "mode": Leaf(_choice("tunnel", "transport")),
    "pfs": Leaf(_choice("enable", "disable", *("dh-group%d" % group for group in VYOS_DH_GROUPS))),
    "proposal": Tag(_PROPOSAL_NUMBER, Node({
        "encryption": Leaf(_choice(*VYOS_ENCRYPTIONS)),
        "hash": Leaf(_choice(*VYOS_HASHES)),
    }), what="proposal number"),
})
_PEER = Node({
    "authentication": Node({
        "id": Leaf(_text, syntax=LEGACY),
        "local-id": Leaf(_text, syntax=CURRENT),
        "mode": Leaf(_choice("pre-shared-secret", "rsa", "x509")),
        "pre-shared-secret": Leaf(_text, syntax=LEGACY),
        "remote-id": Leaf(_text),
    }),
    "connection-type": Leaf(_choice("initiate", "respond", "none")),
    "default-esp-group": Leaf(_GROUP_NAME, syntax=CURRENT),
    "description": Leaf(_text),
    "ike-group": Leaf(_GROUP_NAME),
    "local-address": Leaf(_address),
    "remote-address": Leaf(_address, syntax=CURRENT, multi=True),
    "vti": Node({
        "bind": Leaf(_VTI_NAME),
        "esp-group": Leaf(_GROUP_NAME),
    }),
})
_IPSEC = Node({
    "authentication": Node({
        "psk": Tag(_PSK_NAME, Node({
            "id": Leaf(_text, multi=True),
            "secret": Leaf(_text),
        })),
    }, syntax=CURRENT),
    "esp-group": Tag(_GROUP_NAME, _ESP_GROUP),
    "ike-group": Tag(_GROUP_NAME, _IKE_GROUP),
    "interface": Leaf(_INTERFACE, syntax=CURRENT, multi=True),
    "ipsec-interfaces": Node({"interface": Leaf(_INTERFACE, multi=True)}, syntax=LEGACY),
    "options": Node({"disable-route-autoinstall": Flag()}),
    "site-to-site": Node({"peer": Tag(_PEER_NAME, _PEER, name_syntax=_peer_name_syntax, what="peer name")}),
})
_VTI = Node({
    "address": Leaf(_ipv4_host_prefix, multi=True),
    "description": Leaf(_text),
    "ip": Node({"adjust-mss": Leaf(_mss)}, syntax=CURRENT),
    "mtu": Leaf(_integer(68, 16000)),
})
_TIMERS = Node({"holdtime": Leaf(_holdtime), "keepalive": Leaf(_integer(0, 65535))})
_NEIGHBOR = Node({
    "address-family": Node({"ipv4-unicast": Node({"soft-reconfiguration": Node({"inbound": Flag()})})}),
    "description": Leaf(_text),
    "remote-as": Leaf(_remote_as),
    "timers": _TIMERS,
})
_BGP_INSTANCE = {
    "address-family": Node({"ipv4-unicast": Node({"network": Tag(_ipv4_network, Node({}), what="network")})}),
    "neighbor": Tag(_ipv4, _NEIGHBOR, what="neighbor address"),
    "parameters": Node({"router-id": Leaf(_ipv4)}),
    "timers": _TIMERS,
}
_BGP = Node(dict(_BGP_INSTANCE, **{"system-as": Leaf(_ASN)}), child_syntax=CURRENT,
            wildcard=Tag(_ASN, Node(dict(_BGP_INSTANCE)), syntax=LEGACY, what="AS number"))
ROOT = Node({
    "interfaces": Node({"vti": Tag(_VTI_NAME, _VTI, what="VTI name")}),
    "protocols": Node({"bgp": _BGP}),
    "vpn": Node({"ipsec": _IPSEC}),
})


# ---------------------------------------------------------------------------------- the tree
class Branch:
    """A node of the configuration: ``children`` maps a word (keyword or tag name) to a Branch or a Setting."""

    def __init__(self, command):
        self.command = command          # the first command that created it
        self.children = {}

    def get(self, *path):
        """The Branch/Setting at ``path`` below this one, or None."""
        item = self
        for word in path:
            if not isinstance(item, Branch) or word not in item.children:
                return None
            item = item.children[word]
        return item

    def value(self, *path, default=None):
        setting = self.get(*path)
        return default if setting is None else setting.value

    def names(self, *path) -> dict:
        """The tag entries at ``path`` (``{name: Branch}``), in the order VyOS keeps them (natural sort)."""
        branch = self.get(*path)
        if branch is None:
            return {}
        return dict(sorted(branch.children.items(), key=lambda item: _natural_key(item[0])))


class Setting:
    """The value(s) of a leaf, each with the command that set it."""

    def __init__(self, multi):
        self.multi = multi
        self.values = []
        self.commands = []

    @property
    def value(self):
        if self.multi:
            return list(self.values)
        return self.values[0]

    @property
    def command(self):
        return self.commands[0]


def _natural_key(text: str):
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"([0-9]+)", text) if part]


class ConfigTree:
    """The configuration the commands build, and the syntax they are written in."""

    def __init__(self):
        self.root = Branch(None)
        self.syntax = None
        self.syntax_command = None

    def mark(self, syntax, command) -> None:
        if syntax is None:
            return
        if self.syntax is None:
            self.syntax, self.syntax_command = syntax, command
        elif syntax != self.syntax:
            raise VyosInterpError("this is %s syntax, but line %d is %s syntax: one router runs one VyOS version"
                                  % (SYNTAX_NAMES[syntax], self.syntax_command.number, SYNTAX_NAMES[self.syntax]), command=command)

    def apply(self, command) -> None:
        words = command.words[1:]
        spec, branch, position = ROOT, self.root, 0
        path = []
        while True:
            if isinstance(spec, Node):
                if position == len(words):
                    return
                word = words[position]
                if word in spec.children:
                    self.mark(spec.child_syntax, command)
                    spec = spec.children[word]
                    self.mark(spec.syntax, command)
                    path.append(word)
                    position += 1
                    if isinstance(spec, (Leaf, Flag, FlagOrLeaf)):
                        self._set_value(spec, branch, word, words[position:], path, command)
                        return
                    branch = _child_branch(branch, word, command)
                elif spec.wildcard is not None:
                    spec = spec.wildcard
                    self.mark(spec.syntax, command)
                    branch, position = self._tag_name(spec, branch, words, position, path, command)
                    spec = spec.node
                else:
                    known = sorted(spec.children) + (["<%s>" % spec.wildcard.what] if spec.wildcard else [])
                    raise VyosInterpError("%r is not understood after '%s' (the lab knows: %s)"
                                          % (word, " ".join(path) or "set", ", ".join(known)), command=command)
            else:  # a Tag: the next word is its name
                if position == len(words):
                    raise VyosInterpError("'%s' needs a %s" % (" ".join(path), spec.what), command=command)
                branch, position = self._tag_name(spec, branch, words, position, path, command)
                spec = spec.node

    def _tag_name(self, spec, branch, words, position, path, command):
        name = words[position]
        try:
            spec.check(name)
        except ValueError as error:
            raise VyosInterpError("'%s': %s" % (" ".join(path) or "set", error), command=command) from None
        if spec.name_syntax is not None:
            self.mark(spec.name_syntax(name), command)
        path.append(name)
        return _child_branch(branch, name, command), position + 1

    def _set_value(self, spec, parent, name, rest, path, command) -> None:
        where = " ".join(path)
        if isinstance(spec, FlagOrLeaf):
            self.mark(spec.leaf_syntax if rest else spec.flag_syntax, command)
            spec = Leaf(spec.check) if rest else Flag()
        if isinstance(spec, Flag):
            if rest:
                raise VyosInterpError("'%s' takes no value (got %s)" % (where, " ".join(repr(word) for word in rest)), command=command)
            _store(parent, name, True, False, command)
            return
        if not rest:
            raise VyosInterpError("'%s' needs a value" % where, command=command)
        if len(rest) > 1:
            raise VyosInterpError("'%s' takes one value (got %s)" % (where, " ".join(repr(word) for word in rest)), command=command)
        try:
            value = spec.check(rest[0])
        except ValueError as error:
            raise VyosInterpError("'%s': %s" % (where, _masked_error(name, error)), command=command) from None
        _store(parent, name, value, spec.multi, command)


def _masked_error(name, error):
    return "an invalid value" if name in ("secret", "pre-shared-secret") else error


def _child_branch(branch, word, command):
    child = branch.children.get(word)
    if child is None:
        child = branch.children[word] = Branch(command)
    return child


def _store(parent, name, value, multi, command) -> None:
    setting = parent.children.get(name)
    if setting is None:
        setting = parent.children[name] = Setting(multi)
    if value in setting.values:
        return
    if setting.values and not multi:
        raise VyosInterpError("'%s' was already set to %r on line %d: a second, different value is refused"
                              % (name, _shown(name, setting.values[0]), setting.commands[0].number), command=command)
    setting.values.append(value)
    setting.commands.append(command)


def _shown(name, value):
    return "********" if name in ("secret", "pre-shared-secret") else value


def build_tree(commands) -> ConfigTree:
    """Apply every command in order; the first one outside the grammar raises :class:`VyosInterpError`."""
    tree = ConfigTree()
    for command in commands:
        tree.apply(command)
    return tree

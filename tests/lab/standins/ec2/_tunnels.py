# EC2 stand-in: Site-to-Site VPN tunnel options (defaults, validation, addresses, pre-shared keys).
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""The value rules of AWS Site-to-Site VPN tunnel options (see /work/shared/FACTS.md, AWS section).

Options are stored under the names DescribeVpnConnections uses (``TunnelOption`` shape); requests
spell three of them differently (``DPDTimeoutSeconds``, ``DPDTimeoutAction``, ``IKEVersions``).
Only options given by the caller are returned by the API, as AWS does; :func:`effective_options`
fills in AWS's defaults for the data plane.
"""
from __future__ import annotations

import ipaddress
import random
import re
import string

from ._wire import AwsApiError

REQUEST_TO_RESPONSE_NAMES = {"DPDTimeoutSeconds": "DpdTimeoutSeconds", "DPDTimeoutAction": "DpdTimeoutAction",
                             "IKEVersions": "IkeVersions"}
ENCRYPTION_ALGORITHMS = ("AES128", "AES256", "AES128-GCM-16", "AES256-GCM-16")
INTEGRITY_ALGORITHMS = ("SHA1", "SHA2-256", "SHA2-384", "SHA2-512")
PHASE1_DH_GROUPS = (2, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24)
PHASE2_DH_GROUPS = (2, 5, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24)
IKE_VERSIONS = ("ikev1", "ikev2")
LIST_VALUES = {
    "Phase1EncryptionAlgorithms": ENCRYPTION_ALGORITHMS, "Phase2EncryptionAlgorithms": ENCRYPTION_ALGORITHMS,
    "Phase1IntegrityAlgorithms": INTEGRITY_ALGORITHMS, "Phase2IntegrityAlgorithms": INTEGRITY_ALGORITHMS,
    "Phase1DHGroupNumbers": PHASE1_DH_GROUPS, "Phase2DHGroupNumbers": PHASE2_DH_GROUPS, "IkeVersions": IKE_VERSIONS,
}
DEFAULT_OPTIONS = {
    "Phase1EncryptionAlgorithms": list(ENCRYPTION_ALGORITHMS), "Phase2EncryptionAlgorithms": list(ENCRYPTION_ALGORITHMS),
    "Phase1IntegrityAlgorithms": list(INTEGRITY_ALGORITHMS), "Phase2IntegrityAlgorithms": list(INTEGRITY_ALGORITHMS),
    "Phase1DHGroupNumbers": list(PHASE1_DH_GROUPS), "Phase2DHGroupNumbers": list(PHASE2_DH_GROUPS),
    "IkeVersions": list(IKE_VERSIONS),
    "Phase1LifetimeSeconds": 28800, "Phase2LifetimeSeconds": 3600, "RekeyMarginTimeSeconds": 270,
    "RekeyFuzzPercentage": 100, "ReplayWindowSize": 1024, "DpdTimeoutSeconds": 40, "DpdTimeoutAction": "clear",
    "StartupAction": "add", "EnableTunnelLifecycleControl": False,
    "LogOptions": {"CloudWatchLogOptions": {"LogEnabled": False}},
}
CHOICES = {"DpdTimeoutAction": ("clear", "none", "restart"), "StartupAction": ("add", "start")}
LOG_OUTPUT_FORMATS = ("json", "text")

INSIDE_RANGE = ipaddress.IPv4Network("169.254.0.0/16")
RESERVED_INSIDE_CIDRS = frozenset(ipaddress.IPv4Network(cidr) for cidr in (
    "169.254.0.0/30", "169.254.1.0/30", "169.254.2.0/30", "169.254.3.0/30", "169.254.4.0/30", "169.254.5.0/30",
    "169.254.169.252/30"))
INSIDE_IPV6_RANGE = ipaddress.IPv6Network("fd00::/8")
PRE_SHARED_KEY_PATTERN = re.compile(r"^[A-Za-z0-9._]{8,64}$")
PRE_SHARED_KEY_ALPHABET = string.ascii_letters + string.digits + "._"


def invalid(message: str) -> AwsApiError:
    return AwsApiError("InvalidParameterValue", message)


def options_from_request(specification: dict | None) -> dict:
    """A VpnTunnelOptionsSpecification / ModifyVpnTunnelOptionsSpecification (as moto parsed it) ->
    options under TunnelOption names, lists as plain values. Address and key stay in the result."""
    options: dict = {}
    for name, value in (specification or {}).items():
        name = REQUEST_TO_RESPONSE_NAMES.get(name, name)
        if name in LIST_VALUES or name in ("Phase1AdditionalKeyExchanges", "Phase2AdditionalKeyExchanges"):
            value = [item.get("Value") if isinstance(item, dict) else item for item in (value or [])]
            if name in ("Phase1DHGroupNumbers", "Phase2DHGroupNumbers"):
                value = [int(item) for item in value]
        options[name] = value
    return options


def validate_options(options: dict, current: dict | None = None) -> None:
    """Check option values as AWS does; ``current`` are the options in force (for cross-field rules)."""
    for name, allowed in LIST_VALUES.items():
        if name in options:
            values = options[name]
            if not values:
                raise invalid("%s must contain at least one value" % name)
            for value in values:
                if value not in allowed:
                    raise invalid("Invalid value %s for %s. Valid values: %s" % (value, name, ", ".join(str(a) for a in allowed)))
    for name, allowed in CHOICES.items():
        if name in options and options[name] not in allowed:
            raise invalid("Invalid value %s for %s. Valid values: %s" % (options[name], name, " | ".join(allowed)))
    ranges = {"Phase1LifetimeSeconds": (900, 28800), "Phase2LifetimeSeconds": (900, 3600), "RekeyFuzzPercentage": (0, 100),
              "ReplayWindowSize": (64, 2048), "DpdTimeoutSeconds": (30, None)}
    for name, (low, high) in ranges.items():
        if name in options:
            value = int(options[name])
            if value < low or (high is not None and value > high):
                bounds = "at least %d" % low if high is None else "between %d and %d" % (low, high)
                raise invalid("%s must be %s, got %d" % (name, bounds, value))
    merged = effective_options({**(current or {}), **options})
    if merged["Phase2LifetimeSeconds"] >= merged["Phase1LifetimeSeconds"]:
        raise invalid("Phase2LifetimeSeconds (%d) must be less than Phase1LifetimeSeconds (%d)"
                      % (merged["Phase2LifetimeSeconds"], merged["Phase1LifetimeSeconds"]))
    if "RekeyMarginTimeSeconds" in options or "Phase2LifetimeSeconds" in options:
        margin, half = merged["RekeyMarginTimeSeconds"], merged["Phase2LifetimeSeconds"] // 2
        if margin < 60 or margin > half:
            raise invalid("RekeyMarginTimeSeconds must be between 60 and half of Phase2LifetimeSeconds (%d), got %d" % (half, margin))
    if "LogOptions" in options:
        _validate_log_options(options["LogOptions"] or {})
    if options.get("PreSharedKey") is not None:
        validate_pre_shared_key(options["PreSharedKey"])
    if options.get("TunnelInsideCidr") is not None:
        validate_inside_cidr(options["TunnelInsideCidr"])
    if options.get("TunnelInsideIpv6Cidr") is not None:
        validate_inside_ipv6_cidr(options["TunnelInsideIpv6Cidr"])


def _validate_log_options(log_options: dict) -> None:
    cloudwatch = log_options.get("CloudWatchLogOptions") or {}
    for prefix in ("", "Bgp"):
        output_format = cloudwatch.get(prefix + "LogOutputFormat")
        if output_format is not None and output_format not in LOG_OUTPUT_FORMATS:
            raise invalid("Invalid value %s for %sLogOutputFormat. Valid values: json | text" % (output_format, prefix))
        arn = cloudwatch.get(prefix + "LogGroupArn")
        if arn is not None and not arn.startswith("arn:aws:logs:"):
            raise invalid("Invalid CloudWatch log group ARN %s" % arn)
        if cloudwatch.get(prefix + "LogEnabled") and not arn:
            raise invalid("%sLogGroupArn is required when %sLogEnabled is true" % (prefix, prefix))


def effective_options(options: dict) -> dict:
    """Options in force: what was given, AWS's defaults for the rest (without address and key)."""
    merged = {name: (list(value) if isinstance(value, list) else value) for name, value in DEFAULT_OPTIONS.items()}
    for name, value in options.items():
        if name in ("TunnelInsideCidr", "TunnelInsideIpv6Cidr", "PreSharedKey"):
            continue
        merged[name] = value
    return merged


def validate_pre_shared_key(key: str) -> None:
    if not PRE_SHARED_KEY_PATTERN.match(key or "") or key.startswith("0"):
        raise invalid("Invalid pre-shared key: it must be 8-64 characters of letters, numbers, periods (.) and "
                      "underscores (_), and must not start with zero (0)")


def validate_inside_cidr(cidr: str) -> ipaddress.IPv4Network:
    try:
        network = ipaddress.IPv4Network(cidr)
    except ValueError:
        raise invalid("Invalid tunnel inside CIDR %s: a /30 network in 169.254.0.0/16 is required" % cidr) from None
    if network.prefixlen != 30 or not network.subnet_of(INSIDE_RANGE):
        raise invalid("Invalid tunnel inside CIDR %s: a /30 network in 169.254.0.0/16 is required" % cidr)
    if network in RESERVED_INSIDE_CIDRS:
        raise invalid("The tunnel inside CIDR %s is reserved and cannot be used" % cidr)
    return network


def validate_inside_ipv6_cidr(cidr: str) -> ipaddress.IPv6Network:
    try:
        network = ipaddress.IPv6Network(cidr)
    except ValueError:
        raise invalid("Invalid tunnel inside IPv6 CIDR %s: a /126 network in fd00::/8 is required" % cidr) from None
    if network.prefixlen != 126 or not network.subnet_of(INSIDE_IPV6_RANGE):
        raise invalid("Invalid tunnel inside IPv6 CIDR %s: a /126 network in fd00::/8 is required" % cidr)
    return network


def random_pre_shared_key(rng: random.Random) -> str:
    """32 characters of AWS's PSK alphabet, never starting with 0 (AWS generates keys like this)."""
    first = rng.choice(string.ascii_letters)
    return first + "".join(rng.choice(PRE_SHARED_KEY_ALPHABET) for dummy in range(31))


def random_inside_cidr(rng: random.Random, taken: set[str]) -> str:
    """A free, non-reserved /30 from 169.254.0.0/16 (16384 candidates)."""
    for dummy in range(1000):
        network = ipaddress.IPv4Network((int(INSIDE_RANGE.network_address) + 4 * rng.randrange(16384), 30))
        if network not in RESERVED_INSIDE_CIDRS and str(network) not in taken:
            return str(network)
    raise AwsApiError("VpnConnectionLimitExceeded", "No free tunnel inside CIDR is left on this gateway")


def random_inside_ipv6_cidr(rng: random.Random, taken: set[str]) -> str:
    for dummy in range(1000):
        network = ipaddress.IPv6Network((int(INSIDE_IPV6_RANGE.network_address) + (rng.getrandbits(118) << 2), 126))
        if str(network) not in taken:
            return str(network)
    raise AwsApiError("VpnConnectionLimitExceeded", "No free tunnel inside IPv6 CIDR is left on this gateway")


def inside_addresses(inside_cidr: str) -> tuple[str, str]:
    """(AWS side, customer side): AWS takes the first host of the /30, the customer gateway the second."""
    hosts = list(ipaddress.ip_network(inside_cidr).hosts())
    return str(hosts[0]), str(hosts[1])


class OutsideAddressPool:
    """Tunnel outside IPs for AWS, drawn from 203.0.113.0/24 (TEST-NET-3, RFC 5737).

    The GCP stand-in uses 198.51.100.0/25, so every outside IP in the lab says which cloud it
    belongs to. An address stays with its tunnel for the connection's life and is only reused
    after the deleted connection is no longer visible.
    """

    NETWORK = ipaddress.IPv4Network("203.0.113.0/24")

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._in_use: set[str] = set()

    def allocate(self) -> str:
        free = [str(host) for host in self.NETWORK.hosts() if str(host) not in self._in_use]
        if not free:
            raise AwsApiError("VpnConnectionLimitExceeded", "The stand-in ran out of tunnel outside addresses (203.0.113.0/24)")
        address = self._rng.choice(free)
        self._in_use.add(address)
        return address

    def release(self, address: str) -> None:
        self._in_use.discard(address)

    def clear(self) -> None:
        self._in_use.clear()

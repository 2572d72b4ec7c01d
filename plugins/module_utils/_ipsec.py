# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal to multicloud.vpn: not a public API, may change without notice.
#
# One IKE/IPsec profile, written in AWS's vocabulary (the side with the richest
# surface), and its rendering into what every other party calls the same thing:
# AWS ModifyVpnTunnelOptions, the GCP vpnTunnels cipherSuite, the Azure connection
# ipsecPolicies, VyOS ike-group/esp-group, strongSwan proposal strings.
# Pure: standard library only, no I/O. Every vendor mapping is a table.

from __future__ import annotations

import dataclasses
import itertools

from dataclasses import dataclass


class ProfileError(ValueError):
    """A profile value is invalid, or a target cannot express it.

    The message starts with the field (``profile.<field>``) so the user finds the variable.
    """

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


def _fail(field: str, detail: str) -> ProfileError:
    return ProfileError('profile.%s: %s' % (field, detail), field=field)


# --------------------------------------------------------------------------------------
# AWS vocabulary (ModifyVpnTunnelOptions reference, botocore 1.44 service model)
# --------------------------------------------------------------------------------------

AWS_IKE_VERSIONS = ('ikev1', 'ikev2')
AWS_ENCRYPTIONS = ('AES128', 'AES256', 'AES128-GCM-16', 'AES256-GCM-16')
AWS_GCM_ENCRYPTIONS = ('AES128-GCM-16', 'AES256-GCM-16')
AWS_INTEGRITIES = ('SHA1', 'SHA2-256', 'SHA2-384', 'SHA2-512')
# The API reference (botocore 1.44) also lists 35 for phase 1 and 35-37 for phase 2
# (post-quantum ML-KEM groups, newer than FACTS.md). They are accepted as AWS values but no
# other target here renders them. AWS's *default* sets are the classic ones below.
AWS_PHASE1_DH_GROUPS = (2, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 35)
AWS_PHASE2_DH_GROUPS = (2, 5, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 35, 36, 37)
AWS_DEFAULT_PHASE1_DH_GROUPS = (2, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24)
AWS_DEFAULT_PHASE2_DH_GROUPS = (2, 5, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24)
AWS_DPD_ACTIONS = ('clear', 'none', 'restart')
AWS_STARTUP_ACTIONS = ('add', 'start')

PHASE1_LIFETIME_RANGE = (900, 28800)
PHASE2_LIFETIME_RANGE = (900, 3600)
REKEY_FUZZ_RANGE = (0, 100)
REPLAY_WINDOW_RANGE = (64, 2048)
REKEY_MARGIN_MINIMUM = 60
DPD_TIMEOUT_MINIMUM = 30

_LIST_FIELDS = ('ike_versions', 'phase1_encryption', 'phase1_integrity', 'phase1_dh_groups',
                'phase2_encryption', 'phase2_integrity', 'phase2_dh_groups')
_ALLOWED_VALUES = {
    'ike_versions': AWS_IKE_VERSIONS,
    'phase1_encryption': AWS_ENCRYPTIONS,
    'phase1_integrity': AWS_INTEGRITIES,
    'phase1_dh_groups': AWS_PHASE1_DH_GROUPS,
    'phase2_encryption': AWS_ENCRYPTIONS,
    'phase2_integrity': AWS_INTEGRITIES,
    'phase2_dh_groups': AWS_PHASE2_DH_GROUPS,
}
_CHOICE_FIELDS = {'dpd_action': AWS_DPD_ACTIONS, 'startup_action': AWS_STARTUP_ACTIONS}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _describe_allowed(values) -> str:
    return ', '.join(str(value) for value in values)


@dataclass(frozen=True)
class IpsecProfile:
    """The IKE/IPsec parameters of one tunnel, as sets of values AWS permits.

    Lists hold every permitted value (AWS semantics); a target that takes one value per
    role refuses a list of several. Constructing a profile validates it.
    """

    ike_versions: tuple[str, ...]
    phase1_encryption: tuple[str, ...]
    phase1_integrity: tuple[str, ...]
    phase1_dh_groups: tuple[int, ...]
    phase2_encryption: tuple[str, ...]
    phase2_integrity: tuple[str, ...]
    phase2_dh_groups: tuple[int, ...]
    phase1_lifetime: int = 28800
    phase2_lifetime: int = 3600
    rekey_margin: int = 270
    rekey_fuzz: int = 100
    replay_window: int = 1024
    # AWS's documented default is 40 s (ModifyVpnTunnelOptions reference, DPDTimeoutSeconds);
    # matching it means an untouched tunnel needs no (outage-causing) modification.
    dpd_timeout: int = 40
    dpd_action: str = 'clear'
    startup_action: str = 'add'

    def __post_init__(self):
        _validate_profile(self)


def _validate_profile(profile: IpsecProfile) -> None:
    for field in _LIST_FIELDS:
        values = getattr(profile, field)
        if not isinstance(values, tuple):
            raise _fail(field, 'must be a tuple of values (got %s)' % type(values).__name__)
        if not values:
            raise _fail(field, 'must hold at least one value')
        allowed = _ALLOWED_VALUES[field]
        for value in values:
            if value not in allowed or (field.endswith('dh_groups') and not _is_int(value)):
                raise _fail(field, '%r is not an AWS value (allowed: %s)' % (value, _describe_allowed(allowed)))
        if len(set(values)) != len(values):
            raise _fail(field, 'repeats a value (got %s)' % _describe_allowed(values))
    for field in ('phase1_lifetime', 'phase2_lifetime', 'rekey_margin', 'rekey_fuzz', 'replay_window', 'dpd_timeout'):
        if not _is_int(getattr(profile, field)):
            raise _fail(field, 'must be an integer (got %r)' % (getattr(profile, field),))
    _check_range('phase1_lifetime', profile.phase1_lifetime, PHASE1_LIFETIME_RANGE)
    _check_range('phase2_lifetime', profile.phase2_lifetime, PHASE2_LIFETIME_RANGE)
    if profile.phase2_lifetime >= profile.phase1_lifetime:
        raise _fail('phase2_lifetime', 'must be less than phase1_lifetime (%d >= %d)' % (profile.phase2_lifetime, profile.phase1_lifetime))
    _check_range('rekey_margin', profile.rekey_margin, (REKEY_MARGIN_MINIMUM, profile.phase2_lifetime // 2))
    _check_range('rekey_fuzz', profile.rekey_fuzz, REKEY_FUZZ_RANGE)
    _check_range('replay_window', profile.replay_window, REPLAY_WINDOW_RANGE)
    if profile.dpd_timeout < DPD_TIMEOUT_MINIMUM:
        raise _fail('dpd_timeout', 'must be at least %d seconds (got %d)' % (DPD_TIMEOUT_MINIMUM, profile.dpd_timeout))
    for field, allowed in _CHOICE_FIELDS.items():
        if getattr(profile, field) not in allowed:
            raise _fail(field, '%r is not one of %s' % (getattr(profile, field), _describe_allowed(allowed)))


def _check_range(field: str, value: int, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise _fail(field, 'must be between %d and %d (got %d)' % (low, high, value))


# --------------------------------------------------------------------------------------
# Named profiles
# --------------------------------------------------------------------------------------

PROFILES = {
    # One proposal per role that Cloud VPN supports, IKEv2: Google's AWS interop tutorial
    # asks for IKEv2 and a single cipher set per tunnel, because AWS's full default proposal
    # list makes the SA payload fragment and Cloud VPN drops it; AES-CBC-256,
    # HMAC-SHA2-256-128 / PRF-HMAC-SHA2-256 and MODP 2048 (group 14) are in Cloud VPN's
    # supported cipher tables for both phases.
    #   https://cloud.google.com/network-connectivity/docs/vpn/tutorials/create-ha-vpn-connections-google-cloud-aws
    #   https://cloud.google.com/network-connectivity/docs/vpn/concepts/supported-ike-ciphers
    # Azure expresses the same set (AES256 / SHA256 / DHGroup14 / PFS2048), so it is also
    # the default of the AWS <-> Azure link.
    'gcp_safe': IpsecProfile(
        ike_versions=('ikev2',),
        phase1_encryption=('AES256',),
        phase1_integrity=('SHA2-256',),
        phase1_dh_groups=(14,),
        phase2_encryption=('AES256',),
        phase2_integrity=('SHA2-256',),
        phase2_dh_groups=(14,),
    ),
    # AEAD variant every target here expresses: AES-256-GCM, PRF SHA2-384, ECP 384 (group 20).
    'modern_gcm': IpsecProfile(
        ike_versions=('ikev2',),
        phase1_encryption=('AES256-GCM-16',),
        phase1_integrity=('SHA2-384',),
        phase1_dh_groups=(20,),
        phase2_encryption=('AES256-GCM-16',),
        phase2_integrity=('SHA2-384',),
        phase2_dh_groups=(20,),
    ),
    # Seed 000 ran the AWS <-> GCP link with IKEv1; kept selectable, one proposal per role.
    'ikev1_compat': IpsecProfile(
        ike_versions=('ikev1',),
        phase1_encryption=('AES256',),
        phase1_integrity=('SHA2-256',),
        phase1_dh_groups=(14,),
        phase2_encryption=('AES256',),
        phase2_integrity=('SHA2-256',),
        phase2_dh_groups=(14,),
    ),
    # Exactly what an AWS tunnel permits when no option is set.
    'aws_default': IpsecProfile(
        ike_versions=AWS_IKE_VERSIONS,
        phase1_encryption=AWS_ENCRYPTIONS,
        phase1_integrity=AWS_INTEGRITIES,
        phase1_dh_groups=AWS_DEFAULT_PHASE1_DH_GROUPS,
        phase2_encryption=AWS_ENCRYPTIONS,
        phase2_integrity=AWS_INTEGRITIES,
        phase2_dh_groups=AWS_DEFAULT_PHASE2_DH_GROUPS,
    ),
}
DEFAULT_PROFILE_NAME = 'gcp_safe'

PROFILE_FIELDS = tuple(field.name for field in dataclasses.fields(IpsecProfile))


def _normalise_token(field: str, value):
    if field.endswith('dh_groups'):
        if isinstance(value, str) and value.strip().isdigit():
            return int(value.strip())
        return value
    if not isinstance(value, str):
        return value
    if field == 'ike_versions':
        return value.strip().lower()
    return value.strip().upper()


def _normalise_field(field: str, value):
    if field in _LIST_FIELDS:
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        normalised = []
        for item in items:
            token = _normalise_token(field, item)
            if token not in normalised:
                normalised.append(token)
        return tuple(normalised)
    if field in _CHOICE_FIELDS and isinstance(value, str):
        return value.strip().lower()
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


def resolve_profile(spec=None) -> IpsecProfile:
    """Turn an inventory value into a validated profile.

    ``spec`` is None (the default profile), a profile name, an :class:`IpsecProfile`, or a dict
    ``{'name': <base profile, optional>, <field>: <override>, ...}``. Keys holding None are
    ignored (unset module sub-options). Raises :class:`ProfileError` naming the field.
    """
    if spec is None:
        return PROFILES[DEFAULT_PROFILE_NAME]
    if isinstance(spec, IpsecProfile):
        return spec
    if isinstance(spec, str):
        return _named_profile(spec)
    if not isinstance(spec, dict):
        raise ProfileError('profile: must be a profile name or a dict (got %s)' % type(spec).__name__, field=None)
    base_name = spec.get('name')
    base = _named_profile(base_name) if base_name is not None else PROFILES[DEFAULT_PROFILE_NAME]
    overrides = {}
    for key, value in spec.items():
        if key == 'name' or value is None:
            continue
        if key not in PROFILE_FIELDS:
            raise _fail(str(key), 'unknown field (known: %s)' % ', '.join(PROFILE_FIELDS))
        overrides[key] = _normalise_field(key, value)
    return dataclasses.replace(base, **overrides)


def _named_profile(name) -> IpsecProfile:
    if not isinstance(name, str) or name not in PROFILES:
        raise ProfileError('profile.name: unknown profile %r (known: %s)' % (name, ', '.join(sorted(PROFILES))), field='name')
    return PROFILES[name]


def profile_differences(desired: IpsecProfile, current: IpsecProfile) -> tuple[str, ...]:
    """Names of the fields that differ; value lists compare as sets (AWS ignores their order)."""
    changed = []
    for field in PROFILE_FIELDS:
        want, have = getattr(desired, field), getattr(current, field)
        if field in _LIST_FIELDS:
            want, have = set(want), set(have)
        if want != have:
            changed.append(field)
    return tuple(changed)


def customer_ike_version(profile: IpsecProfile) -> str:
    """The IKE version a customer-side device (VyOS, strongSwan) initiates with.

    AWS permits a set; the device must pick one: IKEv2 whenever the set allows it.
    """
    return 'ikev2' if 'ikev2' in profile.ike_versions else 'ikev1'


# --------------------------------------------------------------------------------------
# AWS
# --------------------------------------------------------------------------------------

# profile field -> ModifyVpnTunnelOptions TunnelOptions field (snake_case)
_AWS_OPTION_OF_FIELD = {
    'ike_versions': 'ike_versions',
    'phase1_encryption': 'phase1_encryption_algorithms',
    'phase1_integrity': 'phase1_integrity_algorithms',
    'phase1_dh_groups': 'phase1_dh_group_numbers',
    'phase2_encryption': 'phase2_encryption_algorithms',
    'phase2_integrity': 'phase2_integrity_algorithms',
    'phase2_dh_groups': 'phase2_dh_group_numbers',
    'phase1_lifetime': 'phase1_lifetime_seconds',
    'phase2_lifetime': 'phase2_lifetime_seconds',
    'rekey_margin': 'rekey_margin_time_seconds',
    'rekey_fuzz': 'rekey_fuzz_percentage',
    'replay_window': 'replay_window_size',
    'dpd_timeout': 'dpd_timeout_seconds',
    'dpd_action': 'dpd_timeout_action',
    'startup_action': 'startup_action',
}

# snake_case TunnelOptions key -> (botocore request key, is a [{'Value': ...}] list)
AWS_TUNNEL_OPTION_API_KEYS = {
    'tunnel_inside_cidr': ('TunnelInsideCidr', False),
    'tunnel_inside_ipv6_cidr': ('TunnelInsideIpv6Cidr', False),
    'pre_shared_key': ('PreSharedKey', False),
    'ike_versions': ('IKEVersions', True),
    'phase1_encryption_algorithms': ('Phase1EncryptionAlgorithms', True),
    'phase1_integrity_algorithms': ('Phase1IntegrityAlgorithms', True),
    'phase1_dh_group_numbers': ('Phase1DHGroupNumbers', True),
    'phase2_encryption_algorithms': ('Phase2EncryptionAlgorithms', True),
    'phase2_integrity_algorithms': ('Phase2IntegrityAlgorithms', True),
    'phase2_dh_group_numbers': ('Phase2DHGroupNumbers', True),
    'phase1_lifetime_seconds': ('Phase1LifetimeSeconds', False),
    'phase2_lifetime_seconds': ('Phase2LifetimeSeconds', False),
    'rekey_margin_time_seconds': ('RekeyMarginTimeSeconds', False),
    'rekey_fuzz_percentage': ('RekeyFuzzPercentage', False),
    'replay_window_size': ('ReplayWindowSize', False),
    'dpd_timeout_seconds': ('DPDTimeoutSeconds', False),
    'dpd_timeout_action': ('DPDTimeoutAction', False),
    'startup_action': ('StartupAction', False),
    'enable_tunnel_lifecycle_control': ('EnableTunnelLifecycleControl', False),
    'log_options': ('LogOptions', False),
}
_AWS_CLOUDWATCH_LOG_KEYS = {
    'log_enabled': 'LogEnabled',
    'log_group_arn': 'LogGroupArn',
    'log_output_format': 'LogOutputFormat',
    'bgp_log_enabled': 'BgpLogEnabled',
    'bgp_log_group_arn': 'BgpLogGroupArn',
    'bgp_log_output_format': 'BgpLogOutputFormat',
}

# profile field -> keys of a DescribeVpnConnections Options.TunnelOptions[i] entry. The
# describe shape spells some names differently from the modify shape (IkeVersions,
# DpdTimeoutSeconds, DpdTimeoutAction); both spellings are read.
_AWS_DESCRIBE_KEYS_OF_FIELD = {
    'ike_versions': ('IkeVersions', 'IKEVersions'),
    'phase1_encryption': ('Phase1EncryptionAlgorithms',),
    'phase1_integrity': ('Phase1IntegrityAlgorithms',),
    'phase1_dh_groups': ('Phase1DHGroupNumbers',),
    'phase2_encryption': ('Phase2EncryptionAlgorithms',),
    'phase2_integrity': ('Phase2IntegrityAlgorithms',),
    'phase2_dh_groups': ('Phase2DHGroupNumbers',),
    'phase1_lifetime': ('Phase1LifetimeSeconds',),
    'phase2_lifetime': ('Phase2LifetimeSeconds',),
    'rekey_margin': ('RekeyMarginTimeSeconds',),
    'rekey_fuzz': ('RekeyFuzzPercentage',),
    'replay_window': ('ReplayWindowSize',),
    'dpd_timeout': ('DpdTimeoutSeconds', 'DPDTimeoutSeconds'),
    'dpd_action': ('DpdTimeoutAction', 'DPDTimeoutAction'),
    'startup_action': ('StartupAction',),
}


def aws_tunnel_options(profile: IpsecProfile) -> dict:
    """The profile as snake_case ModifyVpnTunnelOptions TunnelOptions (plain value lists)."""
    options = {}
    for field, option in _AWS_OPTION_OF_FIELD.items():
        value = getattr(profile, field)
        options[option] = list(value) if field in _LIST_FIELDS else value
    return options


def aws_tunnel_options_api(options: dict) -> dict:
    """snake_case TunnelOptions (possibly partial) -> the botocore request shape.

    Keys holding None are left out: botocore must never see an unset option.
    """
    request = {}
    for key, value in options.items():
        if value is None:
            continue
        if key not in AWS_TUNNEL_OPTION_API_KEYS:
            raise ProfileError('tunnel_options.%s: unknown tunnel option' % key, field=key)
        api_key, is_value_list = AWS_TUNNEL_OPTION_API_KEYS[key]
        if is_value_list:
            request[api_key] = [{'Value': item} for item in value]
        elif key == 'log_options':
            request[api_key] = _aws_log_options_api(value)
        else:
            request[api_key] = value
    return request


def _aws_log_options_api(log_options: dict) -> dict:
    request = {}
    cloudwatch = log_options.get('cloudwatch_log_options')
    if cloudwatch is not None:
        request['CloudWatchLogOptions'] = {}
        for key, value in cloudwatch.items():
            if value is None:
                continue
            if key not in _AWS_CLOUDWATCH_LOG_KEYS:
                raise ProfileError('tunnel_options.log_options.cloudwatch_log_options.%s: unknown option' % key, field=key)
            request['CloudWatchLogOptions'][_AWS_CLOUDWATCH_LOG_KEYS[key]] = value
    return request


def profile_from_aws_tunnel(tunnel_option: dict) -> IpsecProfile:
    """The profile a described AWS tunnel runs (Options.TunnelOptions[i], botocore shape).

    Missing or empty values mean AWS's defaults, which is how AWS reports an untouched tunnel.
    """
    defaults = PROFILES['aws_default']
    values = {}
    for field, keys in _AWS_DESCRIBE_KEYS_OF_FIELD.items():
        raw = None
        for key in keys:
            if tunnel_option.get(key) not in (None, []):
                raw = tunnel_option[key]
                break
        if raw is None:
            values[field] = getattr(defaults, field)
        elif field in _LIST_FIELDS:
            values[field] = _normalise_field(field, [item['Value'] if isinstance(item, dict) else item for item in raw])
        else:
            values[field] = _normalise_field(field, raw)
    return IpsecProfile(**values)


# --------------------------------------------------------------------------------------
# GCP (Compute v1 vpnTunnels: ikeVersion, cipherSuite)
# --------------------------------------------------------------------------------------

GCP_ENCRYPTION = {
    'AES128': 'AES-CBC-128',
    'AES256': 'AES-CBC-256',
    'AES128-GCM-16': 'AES-GCM-16-128',
    'AES256-GCM-16': 'AES-GCM-16-256',
}
GCP_INTEGRITY = {
    'SHA1': 'HMAC-SHA1-96',
    'SHA2-256': 'HMAC-SHA2-256-128',
    'SHA2-384': 'HMAC-SHA2-384-192',
    'SHA2-512': 'HMAC-SHA2-512-256',
}
GCP_PRF = {
    'SHA1': 'PRF-HMAC-SHA1',
    'SHA2-256': 'PRF-HMAC-SHA2-256',
    'SHA2-384': 'PRF-HMAC-SHA2-384',
    'SHA2-512': 'PRF-HMAC-SHA2-512',
}
# Cloud VPN's DH groups; group 22 (MODP_1024_160) was dropped, see
# https://cloud.google.com/network-connectivity/docs/vpn/deprecations/cipher-changes
GCP_DH_GROUP = {group: 'Group-%d' % group for group in (2, 5, 14, 15, 16, 17, 18, 19, 20, 21, 23, 24)}
GCP_IKE_VERSION = {'ikev1': 1, 'ikev2': 2}

# Fields that must hold one value toward GCP (one proposal per AWS tunnel).
_SINGLE_VALUE_FIELDS = ('phase1_encryption', 'phase1_integrity', 'phase1_dh_groups',
                        'phase2_encryption', 'phase2_integrity', 'phase2_dh_groups')


def _require_single(profile: IpsecProfile, fields, reason: str) -> None:
    for field in fields:
        values = getattr(profile, field)
        if len(values) != 1:
            raise _fail(field, '%s (got %s)' % (reason, _describe_allowed(values)))


def _lookup(table: dict, field: str, value, target: str):
    if value not in table:
        raise _fail(field, '%s has no equivalent of %r (it supports: %s)' % (target, value, _describe_allowed(table)))
    return table[value]


def gcp_ike_version(profile: IpsecProfile) -> int:
    """GCP's ikeVersion (1 or 2); a GCP tunnel takes exactly one version."""
    if len(profile.ike_versions) != 1:
        raise _fail('ike_versions', 'a GCP tunnel takes exactly one IKE version (got %s)' % _describe_allowed(profile.ike_versions))
    return GCP_IKE_VERSION[profile.ike_versions[0]]


def _gcp_fields_to_check(profile: IpsecProfile) -> tuple[str, ...]:
    fields = list(_SINGLE_VALUE_FIELDS)
    if set(profile.phase2_encryption) <= set(AWS_GCM_ENCRYPTIONS):
        fields.remove('phase2_integrity')  # AEAD in ESP: no integrity transform
    return tuple(fields)


def gcp_cipher_suite(profile: IpsecProfile) -> dict:
    """The vpnTunnels ``cipherSuite`` for this profile (IKEv2 tunnels only).

    Toward AWS, Cloud VPN must see a single proposal (Google's AWS interop guidance), so every
    role must hold exactly one value. With AES-GCM there is no integrity transform: phase 1
    keeps the PRF, phase 2 sends no integrity. The suite is rendered for IKEv2 only; an IKEv1
    tunnel goes without one (see :func:`gcp_tunnel_crypto`).
    """
    version = gcp_ike_version(profile)
    if version != 2:
        raise _fail('ike_versions', 'a GCP cipherSuite is only rendered for IKEv2 tunnels (got ikev1); use gcp_tunnel_crypto()')
    _require_single(profile, _gcp_fields_to_check(profile), 'GCP needs exactly one value per role toward AWS, or the AWS SA payload fragments')
    phase1_encryption = profile.phase1_encryption[0]
    phase1_integrity = profile.phase1_integrity[0]
    phase1 = {'encryption': [_lookup(GCP_ENCRYPTION, 'phase1_encryption', phase1_encryption, 'GCP')]}
    if phase1_encryption not in AWS_GCM_ENCRYPTIONS:
        phase1['integrity'] = [_lookup(GCP_INTEGRITY, 'phase1_integrity', phase1_integrity, 'GCP')]
    phase1['prf'] = [_lookup(GCP_PRF, 'phase1_integrity', phase1_integrity, 'GCP')]
    phase1['dh'] = [_lookup(GCP_DH_GROUP, 'phase1_dh_groups', profile.phase1_dh_groups[0], 'GCP')]
    phase2_encryption = profile.phase2_encryption[0]
    phase2 = {'encryption': [_lookup(GCP_ENCRYPTION, 'phase2_encryption', phase2_encryption, 'GCP')]}
    if phase2_encryption not in AWS_GCM_ENCRYPTIONS:
        phase2['integrity'] = [_lookup(GCP_INTEGRITY, 'phase2_integrity', profile.phase2_integrity[0], 'GCP')]
    phase2['pfs'] = [_lookup(GCP_DH_GROUP, 'phase2_dh_groups', profile.phase2_dh_groups[0], 'GCP')]
    return {'phase1': phase1, 'phase2': phase2}


def gcp_tunnel_crypto(profile: IpsecProfile) -> dict:
    """The crypto fields of a GCP vpnTunnels body: ``ikeVersion`` and, for IKEv2, ``cipherSuite``.

    For IKEv1 no cipherSuite is sent (Cloud VPN negotiates from its IKEv1 table), but the
    profile must still be one proposal GCP can accept: one value per role, no AES-GCM, known DH groups.
    """
    version = gcp_ike_version(profile)
    if version == 2:
        return {'ikeVersion': 2, 'cipherSuite': gcp_cipher_suite(profile)}
    _require_single(profile, _SINGLE_VALUE_FIELDS, 'GCP needs exactly one value per role toward AWS, or the AWS SA payload fragments')
    for field in ('phase1_encryption', 'phase2_encryption'):
        if getattr(profile, field)[0] in AWS_GCM_ENCRYPTIONS:
            raise _fail(field, 'AES-GCM needs IKEv2 on GCP (got %s with ikev1)' % getattr(profile, field)[0])
    _lookup(GCP_DH_GROUP, 'phase1_dh_groups', profile.phase1_dh_groups[0], 'GCP')
    _lookup(GCP_DH_GROUP, 'phase2_dh_groups', profile.phase2_dh_groups[0], 'GCP')
    return {'ikeVersion': 1}


# --------------------------------------------------------------------------------------
# Azure (virtual network gateway connection ipsecPolicies[], ARM REST camelCase)
# --------------------------------------------------------------------------------------

AZURE_ENCRYPTION = {
    'AES128': 'AES128',
    'AES256': 'AES256',
    'AES128-GCM-16': 'GCMAES128',
    'AES256-GCM-16': 'GCMAES256',
}
AZURE_IKE_INTEGRITY = {'SHA1': 'SHA1', 'SHA2-256': 'SHA256', 'SHA2-384': 'SHA384'}
# ipsecIntegrity has no SHA384/SHA512 (ARM IpsecPolicy reference); with GCMAES encryption it
# must name the same GCMAES algorithm (Microsoft's IPsec/IKE policy article).
AZURE_IPSEC_INTEGRITY = {'SHA1': 'SHA1', 'SHA2-256': 'SHA256'}
# Microsoft's DH group table: group 14 is DHGroup14 (alias DHGroup2048) for IKE and PFS2048
# (alias PFS14) for PFS; 19/20 are ECP256/ECP384; 24 is DHGroup24/PFS24.
AZURE_DH_GROUP = {2: 'DHGroup2', 14: 'DHGroup14', 19: 'ECP256', 20: 'ECP384', 24: 'DHGroup24'}
AZURE_PFS_GROUP = {2: 'PFS2', 14: 'PFS2048', 19: 'ECP256', 20: 'ECP384', 24: 'PFS24'}
AZURE_POLICY_ALIASES = {
    'dhGroup': {'DHGroup2048': 'DHGroup14'},
    'pfsGroup': {'PFS14': 'PFS2048'},
}
# Azure's own default for the phase 2 SA volume limit (AWS has no such limit).
AZURE_SA_DATA_SIZE_KILOBYTES = 102400000


def azure_ipsec_policy(profile: IpsecProfile) -> dict:
    """One Azure ipsecPolicies[] entry (ARM REST camelCase) for an IKEv2 connection.

    ``ike*``/``dhGroup`` are phase 1, ``ipsec*``/``pfsGroup`` phase 2. Azure takes one value per
    field. Azure's IKE SA lifetime is fixed (28800 s) and not part of the policy.
    """
    if 'ikev2' not in profile.ike_versions:
        raise _fail('ike_versions', 'Azure connections here use IKEv2 (got %s)' % _describe_allowed(profile.ike_versions))
    fields = list(_SINGLE_VALUE_FIELDS)
    phase2_is_gcm = set(profile.phase2_encryption) <= set(AWS_GCM_ENCRYPTIONS)
    if phase2_is_gcm:
        fields.remove('phase2_integrity')
    _require_single(profile, fields, 'Azure cannot express more than one value')
    ipsec_encryption = _lookup(AZURE_ENCRYPTION, 'phase2_encryption', profile.phase2_encryption[0], 'Azure')
    if phase2_is_gcm:
        ipsec_integrity = ipsec_encryption
    else:
        ipsec_integrity = _lookup(AZURE_IPSEC_INTEGRITY, 'phase2_integrity', profile.phase2_integrity[0], 'Azure')
    return {
        'saLifeTimeSeconds': profile.phase2_lifetime,
        'saDataSizeKilobytes': AZURE_SA_DATA_SIZE_KILOBYTES,
        'ipsecEncryption': ipsec_encryption,
        'ipsecIntegrity': ipsec_integrity,
        'ikeEncryption': _lookup(AZURE_ENCRYPTION, 'phase1_encryption', profile.phase1_encryption[0], 'Azure'),
        'ikeIntegrity': _lookup(AZURE_IKE_INTEGRITY, 'phase1_integrity', profile.phase1_integrity[0], 'Azure'),
        'dhGroup': _lookup(AZURE_DH_GROUP, 'phase1_dh_groups', profile.phase1_dh_groups[0], 'Azure'),
        'pfsGroup': _lookup(AZURE_PFS_GROUP, 'phase2_dh_groups', profile.phase2_dh_groups[0], 'Azure'),
    }


def normalise_azure_ipsec_policy(policy: dict) -> dict:
    """An Azure policy with aliases folded (DHGroup2048 -> DHGroup14, PFS14 -> PFS2048), for comparing."""
    normalised = dict(policy)
    for key, aliases in AZURE_POLICY_ALIASES.items():
        if normalised.get(key) in aliases:
            normalised[key] = aliases[normalised[key]]
    return normalised


# --------------------------------------------------------------------------------------
# VyOS (1.4+ ike-group / esp-group vocabulary)
# --------------------------------------------------------------------------------------

VYOS_ENCRYPTION = {
    'AES128': 'aes128',
    'AES256': 'aes256',
    'AES128-GCM-16': 'aes128gcm128',
    'AES256-GCM-16': 'aes256gcm128',
}
VYOS_HASH = {'SHA1': 'sha1', 'SHA2-256': 'sha256', 'SHA2-384': 'sha384', 'SHA2-512': 'sha512'}
VYOS_PRF = {'SHA1': 'prfsha1', 'SHA2-256': 'prfsha256', 'SHA2-384': 'prfsha384', 'SHA2-512': 'prfsha512'}
VYOS_DH_GROUPS = (2, 5, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24)
# The customer side keeps its tunnel up: AWS's own VyOS download uses DPD restart, interval 15.
VYOS_DPD_ACTION = 'restart'
VYOS_DPD_INTERVAL = 15


def vyos_pfs_name(group: int) -> str:
    """The esp-group ``pfs`` value naming one DH group (``dh-group14``)."""
    if group not in VYOS_DH_GROUPS:
        raise _fail('phase2_dh_groups', 'VyOS has no equivalent of DH group %r (it supports: %s)' % (group, _describe_allowed(VYOS_DH_GROUPS)))
    return 'dh-group%d' % group


def _check_groups(profile: IpsecProfile, field: str, supported, target: str) -> None:
    for group in getattr(profile, field):
        if group not in supported:
            raise _fail(field, '%s has no equivalent of DH group %r (it supports: %s)' % (target, group, _describe_allowed(supported)))


def vyos_ike_esp(profile: IpsecProfile) -> dict:
    """ike-group and esp-group settings in VyOS vocabulary (one proposal per combination)."""
    _check_groups(profile, 'phase1_dh_groups', VYOS_DH_GROUPS, 'VyOS')
    _check_groups(profile, 'phase2_dh_groups', VYOS_DH_GROUPS, 'VyOS')
    ike_proposals = []
    for encryption, integrity, group in itertools.product(profile.phase1_encryption, profile.phase1_integrity, profile.phase1_dh_groups):
        proposal = {'encryption': VYOS_ENCRYPTION[encryption], 'hash': VYOS_HASH[integrity], 'dh_group': group}
        if encryption in AWS_GCM_ENCRYPTIONS:
            proposal['prf'] = VYOS_PRF[integrity]
        ike_proposals.append(proposal)
    esp_proposals = [
        {'encryption': VYOS_ENCRYPTION[encryption], 'hash': VYOS_HASH[integrity]}
        for encryption, integrity in itertools.product(profile.phase2_encryption, profile.phase2_integrity)
    ]
    return {
        'ike': {
            'key_exchange': customer_ike_version(profile),
            'lifetime': profile.phase1_lifetime,
            'proposals': ike_proposals,
            'dpd': {'action': VYOS_DPD_ACTION, 'interval': VYOS_DPD_INTERVAL, 'timeout': profile.dpd_timeout},
        },
        'esp': {
            'lifetime': profile.phase2_lifetime,
            'mode': 'tunnel',
            'pfs': _vyos_pfs(profile),
            'proposals': esp_proposals,
        },
    }


def _vyos_pfs(profile: IpsecProfile) -> str:
    groups = profile.phase2_dh_groups
    if len(groups) == 1:
        return vyos_pfs_name(groups[0])
    # 'enable' reuses the group IKE negotiated: right only if AWS accepts each of those for PFS.
    if set(profile.phase1_dh_groups) <= set(groups):
        return 'enable'
    raise _fail('phase2_dh_groups', 'VyOS takes one PFS group, or the IKE group when every phase 1 group is allowed (got %s)'
                % _describe_allowed(groups))


# --------------------------------------------------------------------------------------
# strongSwan (proposal strings, swanctl.conf / ipsec.conf)
# --------------------------------------------------------------------------------------

STRONGSWAN_ENCRYPTION = {
    'AES128': 'aes128',
    'AES256': 'aes256',
    'AES128-GCM-16': 'aes128gcm16',
    'AES256-GCM-16': 'aes256gcm16',
}
STRONGSWAN_INTEGRITY = {'SHA1': 'sha1', 'SHA2-256': 'sha256', 'SHA2-384': 'sha384', 'SHA2-512': 'sha512'}
STRONGSWAN_PRF = {'SHA1': 'prfsha1', 'SHA2-256': 'prfsha256', 'SHA2-384': 'prfsha384', 'SHA2-512': 'prfsha512'}
STRONGSWAN_DH_GROUP = {
    2: 'modp1024',
    5: 'modp1536',
    14: 'modp2048',
    15: 'modp3072',
    16: 'modp4096',
    17: 'modp6144',
    18: 'modp8192',
    19: 'ecp256',
    20: 'ecp384',
    21: 'ecp521',
    22: 'modp1024s160',
    23: 'modp2048s224',
    24: 'modp2048s256',
}


def strongswan_proposals(profile: IpsecProfile) -> tuple[str, str]:
    """(IKE proposals, ESP proposals) as strongSwan strings.

    Several values of one role go into one proposal; AEAD and classic ciphers never share a
    proposal, so a profile mixing them yields two, comma-separated. AEAD in IKE takes a PRF.
    """
    phase1_groups = [_lookup(STRONGSWAN_DH_GROUP, 'phase1_dh_groups', group, 'strongSwan') for group in profile.phase1_dh_groups]
    phase2_groups = [_lookup(STRONGSWAN_DH_GROUP, 'phase2_dh_groups', group, 'strongSwan') for group in profile.phase2_dh_groups]
    ike, esp = [], []
    classic_ike, aead_ike = _split_aead(profile.phase1_encryption)
    if classic_ike:
        ike.append(_join(classic_ike, STRONGSWAN_ENCRYPTION, profile.phase1_integrity, STRONGSWAN_INTEGRITY, phase1_groups))
    if aead_ike:
        ike.append(_join(aead_ike, STRONGSWAN_ENCRYPTION, profile.phase1_integrity, STRONGSWAN_PRF, phase1_groups))
    classic_esp, aead_esp = _split_aead(profile.phase2_encryption)
    if classic_esp:
        esp.append(_join(classic_esp, STRONGSWAN_ENCRYPTION, profile.phase2_integrity, STRONGSWAN_INTEGRITY, phase2_groups))
    if aead_esp:
        esp.append(_join(aead_esp, STRONGSWAN_ENCRYPTION, (), STRONGSWAN_INTEGRITY, phase2_groups))
    return ','.join(ike), ','.join(esp)


def _split_aead(encryptions) -> tuple[list, list]:
    classic = [value for value in encryptions if value not in AWS_GCM_ENCRYPTIONS]
    aead = [value for value in encryptions if value in AWS_GCM_ENCRYPTIONS]
    return classic, aead


def _join(encryptions, encryption_names: dict, hashes, hash_names: dict, groups) -> str:
    tokens = [encryption_names[value] for value in encryptions] + [hash_names[value] for value in hashes] + list(groups)
    return '-'.join(tokens)

# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal to multicloud.vpn: not a public API, may change without notice.
#
# The per-tunnel reconciler of AWS Site-to-Site VPN connections, shared by the modules
# aws_vpn_tunnel_options and aws_vpn_connection (one piece of code for both):
# - tunnel options: validation (naming the option), profile + explicit values, what
#   DescribeVpnConnections says is in force, comparison (lists as sets, the PSK without
#   printing it), ModifyVpnTunnelOptions requests, one tunnel at a time;
# - connections of a link: customer gateway / connection matching, t1/t2 identity kept in
#   tags, creation options, static routes;
# - masking of pre-shared keys in every view.
# Pure: no SDK, no I/O. Effects (modify, wait) are passed in as callables.

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ansible_collections.multicloud.vpn.plugins.module_utils._ipsec import (
    AWS_DPD_ACTIONS,
    AWS_ENCRYPTIONS,
    AWS_IKE_VERSIONS,
    AWS_INTEGRITIES,
    AWS_PHASE1_DH_GROUPS,
    AWS_PHASE2_DH_GROUPS,
    AWS_STARTUP_ACTIONS,
    DPD_TIMEOUT_MINIMUM,
    PHASE1_LIFETIME_RANGE,
    PHASE2_LIFETIME_RANGE,
    REKEY_FUZZ_RANGE,
    REKEY_MARGIN_MINIMUM,
    REPLAY_WINDOW_RANGE,
    ProfileError,
    aws_tunnel_options,
    aws_tunnel_options_api,
    profile_from_aws_tunnel,
    resolve_profile,
)
from ansible_collections.multicloud.vpn.plugins.module_utils._plan import PlanError, validate_inside_cidr
from ansible_collections.multicloud.vpn.plugins.module_utils._psk import validate_psk

try:
    from netaddr import AddrFormatError, IPNetwork
    HAS_NETADDR = True
except ImportError:  # pragma: no cover - exercised by sanity import tests only
    HAS_NETADDR = False

MASK = '********'
CHANGED_SECRET = '******** (changed)'

# ----------------------------------------------------------------------------------------
# Tunnel options: names, argument spec, validation
# ----------------------------------------------------------------------------------------

LIST_OPTIONS = {
    'ike_versions': AWS_IKE_VERSIONS,
    'phase1_encryption_algorithms': AWS_ENCRYPTIONS,
    'phase1_integrity_algorithms': AWS_INTEGRITIES,
    'phase1_dh_group_numbers': AWS_PHASE1_DH_GROUPS,
    'phase2_encryption_algorithms': AWS_ENCRYPTIONS,
    'phase2_integrity_algorithms': AWS_INTEGRITIES,
    'phase2_dh_group_numbers': AWS_PHASE2_DH_GROUPS,
}
# option -> (minimum, maximum or None); the rekey margin's maximum is half the phase 2 lifetime.
INTEGER_OPTIONS = {
    'phase1_lifetime_seconds': PHASE1_LIFETIME_RANGE,
    'phase2_lifetime_seconds': PHASE2_LIFETIME_RANGE,
    'rekey_margin_time_seconds': (REKEY_MARGIN_MINIMUM, None),
    'rekey_fuzz_percentage': REKEY_FUZZ_RANGE,
    'replay_window_size': REPLAY_WINDOW_RANGE,
    'dpd_timeout_seconds': (DPD_TIMEOUT_MINIMUM, None),
}
CHOICE_OPTIONS = {'dpd_timeout_action': AWS_DPD_ACTIONS, 'startup_action': AWS_STARTUP_ACTIONS}
BOOLEAN_OPTIONS = ('enable_tunnel_lifecycle_control',)
ADDRESS_OPTIONS = ('tunnel_inside_cidr', 'tunnel_inside_ipv6_cidr')
SECRET_OPTIONS = ('pre_shared_key',)
LOG_OPTIONS = 'log_options'
LOG_OUTPUT_FORMATS = ('json', 'text')
CLOUDWATCH_OPTIONS = ('log_enabled', 'log_group_arn', 'log_output_format', 'bgp_log_enabled', 'bgp_log_group_arn', 'bgp_log_output_format')
# What AWS reports for CloudWatch options nobody set (ModifyVpnTunnelOptions reference: logging off, json).
CLOUDWATCH_DEFAULTS = {'log_enabled': False, 'log_output_format': 'json', 'bgp_log_enabled': False, 'bgp_log_output_format': 'json'}
_CLOUDWATCH_DESCRIBE_KEYS = {
    'log_enabled': 'LogEnabled', 'log_group_arn': 'LogGroupArn', 'log_output_format': 'LogOutputFormat',
    'bgp_log_enabled': 'BgpLogEnabled', 'bgp_log_group_arn': 'BgpLogGroupArn', 'bgp_log_output_format': 'BgpLogOutputFormat',
}

# Every option this reconciler compares and sets, in the order results show them.
TUNNEL_OPTION_NAMES = (('tunnel_inside_cidr', 'tunnel_inside_ipv6_cidr', 'pre_shared_key') + tuple(LIST_OPTIONS)
                       + tuple(INTEGER_OPTIONS) + tuple(CHOICE_OPTIONS) + (LOG_OPTIONS,) + BOOLEAN_OPTIONS)
# Options only a VPN connection to a transit gateway has (IPv6 inside addresses need TunnelInsideIpVersion ipv6).
TRANSIT_GATEWAY_ONLY_OPTIONS = ('tunnel_inside_ipv6_cidr',)

# Connections not worth comparing against: gone or on their way out.
DEAD_STATES = ('deleting', 'deleted')
LIVE_GATEWAY_STATES = ('pending', 'available')


class TunnelOptionsError(ValueError):
    """A tunnel option (or a connection setting) is invalid. The message starts with the option's path."""

    def __init__(self, message: str, *, option: str | None = None):
        super().__init__(message)
        self.option = option


def _fail(path: str, detail: str) -> TunnelOptionsError:
    return TunnelOptionsError('%s: %s' % (path, detail), option=path)


def tunnel_option_argument_spec() -> dict:
    """The ModifyVpnTunnelOptions fields as Ansible sub-options (snake_case), without the tunnel key or the PSK."""
    cloudwatch = dict(
        log_enabled=dict(type='bool'),
        log_group_arn=dict(type='str'),
        log_output_format=dict(type='str', choices=list(LOG_OUTPUT_FORMATS)),
        bgp_log_enabled=dict(type='bool'),
        bgp_log_group_arn=dict(type='str'),
        bgp_log_output_format=dict(type='str', choices=list(LOG_OUTPUT_FORMATS)),
    )
    spec: dict = {}
    for name, allowed in LIST_OPTIONS.items():
        spec[name] = dict(type='list', elements='int' if name.endswith('dh_group_numbers') else 'str', choices=list(allowed))
    for name in INTEGER_OPTIONS:
        spec[name] = dict(type='int', no_log=False) if 'rekey' in name else dict(type='int')  # "rekey" is not a key
    for name, allowed in CHOICE_OPTIONS.items():
        spec[name] = dict(type='str', choices=list(allowed))
    spec[LOG_OPTIONS] = dict(type='dict', options=dict(cloudwatch=dict(type='dict', aliases=['cloudwatch_log_options'], options=cloudwatch)))
    spec['enable_tunnel_lifecycle_control'] = dict(type='bool')
    return spec


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _as_int(value: Any, path: str) -> int:
    if _is_int(value):
        return value
    if isinstance(value, str) and value.strip().lstrip('-').isdigit():
        return int(value.strip())
    raise _fail(path, 'must be an integer (got %r)' % (value,))


def _as_bool(value: Any, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ('true', 'yes', 'on', '1', 'false', 'no', 'off', '0'):
        return value.strip().lower() in ('true', 'yes', 'on', '1')
    raise _fail(path, 'must be a boolean (got %r)' % (value,))


def _describe_range(low: int, high: int | None) -> str:
    return '%d-%d' % (low, high) if high is not None else 'at least %d' % low


def _check_range(value: int, low: int, high: int | None, path: str, note: str = '') -> None:
    if value < low or (high is not None and value > high):
        raise _fail(path, '%d is outside %s%s' % (value, _describe_range(low, high), note))


def _normalise_list(name: str, value: Any, path: str) -> list:
    items = value if isinstance(value, (list, tuple)) else [value]
    if not items:
        raise _fail(path, 'must hold at least one value')
    allowed = LIST_OPTIONS[name]
    normalised: list = []
    for item in items:
        if name.endswith('dh_group_numbers'):
            token: Any = _as_int(item, path)
        elif name == 'ike_versions':
            token = str(item).strip().lower()
        else:
            token = str(item).strip().upper()
        if token not in allowed:
            raise _fail(path, '%r is not an AWS value (allowed: %s)' % (item, ', '.join(str(value) for value in allowed)))
        if token not in normalised:
            normalised.append(token)
    return normalised


def _normalise_cloudwatch(value: Any, path: str) -> dict:
    if not isinstance(value, dict):
        raise _fail(path, 'must be a dict')
    normalised = {}
    for key, item in value.items():
        if item is None:
            continue
        item_path = '%s.%s' % (path, key)
        if key not in CLOUDWATCH_OPTIONS:
            raise _fail(item_path, 'unknown option (known: %s)' % ', '.join(CLOUDWATCH_OPTIONS))
        if key.endswith('_enabled'):
            normalised[key] = _as_bool(item, item_path)
        elif key.endswith('_output_format'):
            if str(item).lower() not in LOG_OUTPUT_FORMATS:
                raise _fail(item_path, '%r is not one of %s' % (item, ', '.join(LOG_OUTPUT_FORMATS)))
            normalised[key] = str(item).lower()
        else:
            if not isinstance(item, str) or not item.startswith('arn:'):
                raise _fail(item_path, '%r is not a CloudWatch Logs log group ARN (arn:aws:logs:...)' % (item,))
            normalised[key] = item
    for prefix in ('', 'bgp_'):
        if normalised.get(prefix + 'log_enabled') and not normalised.get(prefix + 'log_group_arn'):
            raise _fail('%s.%slog_group_arn' % (path, prefix), 'required when %slog_enabled is true' % prefix)
    return normalised


def _normalise_log_options(value: Any, path: str) -> dict:
    if not isinstance(value, dict):
        raise _fail(path, 'must be a dict with a cloudwatch key')
    normalised = {}
    for key, item in value.items():
        if item is None:
            continue
        if key not in ('cloudwatch', 'cloudwatch_log_options'):
            raise _fail('%s.%s' % (path, key), 'unknown option (known: cloudwatch)')
        normalised['cloudwatch'] = _normalise_cloudwatch(item, '%s.%s' % (path, key))
    return normalised


def validate_inside_ipv6_cidr(cidr: Any, path: str) -> str:
    """A tunnel inside IPv6 CIDR: a /126 from fd00::/8 (transit gateway connections only)."""
    if not HAS_NETADDR:  # pragma: no cover
        raise _fail(path, 'the netaddr Python library is required')
    try:
        network = IPNetwork(str(cidr).strip())
    except (AddrFormatError, ValueError, TypeError):
        raise _fail(path, '%r is not an IPv6 CIDR such as fd00:0:0:200::/126' % (cidr,)) from None
    if network.version != 6 or network.prefixlen != 126 or network not in IPNetwork('fd00::/8'):
        raise _fail(path, '%s must be a /126 from fd00::/8' % cidr)
    if network.ip != network.network:
        raise _fail(path, '%s is not the network address of its /126 (did you mean %s?)' % (cidr, network.cidr))
    return str(network.cidr)


def validate_tunnel_options(options: dict | None, path: str, *, allow_secret: bool = True, allow_addresses: bool = True) -> dict:
    """Check and normalise one set of desired tunnel options (snake_case; None means unset, left out).

    ``path`` names where they came from (``tunnels[1]``); every error starts with ``<path>.<option>``.
    Checks each documented range, and the cross-field rules between values given together.
    """
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise _fail(path, 'must be a dict of tunnel options')
    normalised: dict = {}
    for name, value in options.items():
        if value is None:
            continue
        option_path = '%s.%s' % (path, name)
        if name in LIST_OPTIONS:
            normalised[name] = _normalise_list(name, value, option_path)
        elif name in INTEGER_OPTIONS:
            number = _as_int(value, option_path)
            low, high = INTEGER_OPTIONS[name]
            _check_range(number, low, high, option_path)
            normalised[name] = number
        elif name in CHOICE_OPTIONS:
            choice = str(value).strip().lower()
            if choice not in CHOICE_OPTIONS[name]:
                raise _fail(option_path, '%r is not one of %s' % (value, ', '.join(CHOICE_OPTIONS[name])))
            normalised[name] = choice
        elif name in BOOLEAN_OPTIONS:
            normalised[name] = _as_bool(value, option_path)
        elif name == LOG_OPTIONS:
            normalised[name] = _normalise_log_options(value, option_path)
        elif name in SECRET_OPTIONS:
            if not allow_secret:
                raise _fail(option_path, 'give the pre-shared key as the tunnel\'s pre_shared_key option (it is kept out of logs there)')
            try:
                normalised[name] = validate_psk(value, option_path)
            except PlanError as error:
                raise TunnelOptionsError(str(error), option=option_path) from None
        elif name in ADDRESS_OPTIONS:
            if not allow_addresses:
                raise _fail(option_path, 'set the tunnel\'s inside CIDR with the tunnel\'s inside_cidr option')
            if name == 'tunnel_inside_cidr':
                try:
                    normalised[name] = validate_inside_cidr(value, option_path)
                except PlanError as error:
                    raise TunnelOptionsError(str(error), option=option_path) from None
            else:
                normalised[name] = validate_inside_ipv6_cidr(value, option_path)
        else:
            raise _fail(option_path, 'unknown tunnel option (known: %s)' % ', '.join(TUNNEL_OPTION_NAMES))
    check_lifetimes(normalised, path)
    return normalised


def check_lifetimes(options: dict, path: str, *, in_force: dict | None = None) -> None:
    """Cross-field rules: phase 2 lifetime below phase 1's, rekey margin at most half the phase 2 lifetime.

    ``in_force`` are the values the tunnel runs now (complete); with them the rules are checked on
    what the tunnel will run after the change, and only when ``options`` touches one of the fields.
    """
    touched = {'phase1_lifetime_seconds', 'phase2_lifetime_seconds', 'rekey_margin_time_seconds'} & set(options)
    if not touched:
        return
    merged = dict(in_force or {})
    merged.update(options)
    phase1, phase2 = merged.get('phase1_lifetime_seconds'), merged.get('phase2_lifetime_seconds')
    margin = merged.get('rekey_margin_time_seconds')
    if phase1 is not None and phase2 is not None and phase2 >= phase1:
        name = 'phase2_lifetime_seconds' if 'phase2_lifetime_seconds' in options else 'phase1_lifetime_seconds'
        raise _fail('%s.%s' % (path, name), 'phase2_lifetime_seconds (%d) must be less than phase1_lifetime_seconds (%d)' % (phase2, phase1))
    if margin is not None and phase2 is not None and margin > phase2 // 2:
        name = 'rekey_margin_time_seconds' if 'rekey_margin_time_seconds' in options else 'phase2_lifetime_seconds'
        raise _fail('%s.%s' % (path, name), 'rekey_margin_time_seconds %d is outside %d-%d (at most half of phase2_lifetime_seconds %d)'
                    % (margin, REKEY_MARGIN_MINIMUM, phase2 // 2, phase2))


def profile_tunnel_options(ipsec_profile: Any, path: str = 'ipsec_profile') -> dict:
    """A named or dict IKE/IPsec profile (_ipsec.resolve_profile) as snake_case tunnel options; {} for None."""
    if ipsec_profile is None:
        return {}
    try:
        profile = resolve_profile(ipsec_profile)
    except ProfileError as error:
        message = str(error)
        if message.startswith('profile'):
            message = path + message[len('profile'):]
        raise TunnelOptionsError(message, option=path) from None
    return validate_tunnel_options(aws_tunnel_options(profile), path)


def merge_tunnel_options(*layers: dict | None) -> dict:
    """Later layers win, option by option (log_options.cloudwatch merged key by key)."""
    merged: dict = {}
    for layer in layers:
        for name, value in (layer or {}).items():
            if name == LOG_OPTIONS and LOG_OPTIONS in merged:
                cloudwatch = dict(merged[LOG_OPTIONS].get('cloudwatch', {}))
                cloudwatch.update(value.get('cloudwatch', {}))
                merged[LOG_OPTIONS] = {'cloudwatch': cloudwatch}
            else:
                merged[name] = value
    return merged


# ----------------------------------------------------------------------------------------
# What DescribeVpnConnections says, and the comparison
# ----------------------------------------------------------------------------------------

def described_tunnel_options(tunnel_option: dict) -> dict:
    """Options in force on one described tunnel (Options.TunnelOptions[i]), complete, snake_case.

    Unset values are AWS's defaults (how AWS reports an untouched tunnel). ``pre_shared_key`` is None
    when AWS does not return it (keys stored in Secrets Manager).
    """
    try:
        options = aws_tunnel_options(profile_from_aws_tunnel(tunnel_option))
    except ProfileError as error:
        raise TunnelOptionsError('tunnel %s: AWS reports options this module cannot read (%s)'
                                 % (tunnel_option.get('OutsideIpAddress'), error)) from None
    options['tunnel_inside_cidr'] = tunnel_option.get('TunnelInsideCidr')
    options['tunnel_inside_ipv6_cidr'] = tunnel_option.get('TunnelInsideIpv6Cidr')
    options['pre_shared_key'] = tunnel_option.get('PreSharedKey')
    cloudwatch = dict(CLOUDWATCH_DEFAULTS)
    described = ((tunnel_option.get('LogOptions') or {}).get('CloudWatchLogOptions') or {})
    for name, key in _CLOUDWATCH_DESCRIBE_KEYS.items():
        if described.get(key) is not None:
            cloudwatch[name] = described[key]
    options[LOG_OPTIONS] = {'cloudwatch': cloudwatch}
    options['enable_tunnel_lifecycle_control'] = bool(tunnel_option.get('EnableTunnelLifecycleControl', False))
    return {name: options[name] for name in TUNNEL_OPTION_NAMES}


def _same(name: str, want: Any, have: Any) -> bool:
    if name in LIST_OPTIONS:
        return set(want) == set(have or ())
    if name == LOG_OPTIONS:
        current = (have or {}).get('cloudwatch', {})
        return all(current.get(key, CLOUDWATCH_DEFAULTS.get(key)) == value for key, value in want.get('cloudwatch', {}).items())
    return want == have


def option_differences(desired: dict, current: dict) -> tuple[list, list]:
    """(options that differ, options that cannot be compared) between desired and described options.

    Lists compare as sets (AWS ignores their order); log options compare only the keys given; the
    pre-shared key compares equal or not, and is never part of any message. A key AWS does not
    return (Secrets Manager storage) cannot be compared.
    """
    differing, uncomparable = [], []
    for name in TUNNEL_OPTION_NAMES:
        if name not in desired:
            continue
        if name in SECRET_OPTIONS and current.get(name) is None:
            uncomparable.append(name)
        elif not _same(name, desired[name], current.get(name)):
            differing.append(name)
    return differing, uncomparable


def modification_options(desired: dict, current: dict, names: list) -> dict:
    """The snake_case TunnelOptions of one ModifyVpnTunnelOptions call for the options ``names``.

    Log options are sent whole (current values with the desired ones on top), so a change of the
    format alone keeps logging where it is.
    """
    request = {}
    for name in names:
        if name == LOG_OPTIONS:
            cloudwatch = dict((current.get(LOG_OPTIONS) or {}).get('cloudwatch', {}))
            cloudwatch.update(desired[LOG_OPTIONS].get('cloudwatch', {}))
            request[LOG_OPTIONS] = {'cloudwatch': cloudwatch}
        else:
            request[name] = desired[name]
    return request


def tunnel_options_request(options: dict) -> dict:
    """snake_case tunnel options -> botocore's TunnelOptions shape (_ipsec.aws_tunnel_options_api)."""
    options = dict(options)
    if LOG_OPTIONS in options:
        options[LOG_OPTIONS] = {'cloudwatch_log_options': options[LOG_OPTIONS].get('cloudwatch', {})}
    return aws_tunnel_options_api(options)


def masked(options: dict, changed: tuple | list = ()) -> dict:
    """A view of tunnel options safe to show: the pre-shared key as ******** (with '(changed)' when it changes)."""
    view = {}
    for name, value in options.items():
        if name in SECRET_OPTIONS:
            if value is None:
                view[name] = None
            else:
                view[name] = CHANGED_SECRET if name in changed else MASK
        else:
            view[name] = value
    return view


def secrets_of_connection(connection: dict) -> list:
    """Every pre-shared key a described connection carries (to register as no_log values)."""
    return [tunnel['PreSharedKey'] for tunnel in tunnel_options_of(connection) if tunnel.get('PreSharedKey')]


# ----------------------------------------------------------------------------------------
# One connection: plan the per-tunnel modifications, then run them one at a time
# ----------------------------------------------------------------------------------------

def tunnel_options_of(connection: dict) -> list:
    return list((connection.get('Options') or {}).get('TunnelOptions') or [])


def telemetry_by_outside_ip(connection: dict) -> dict:
    """VgwTelemetry keyed by outside IP (never paired with TunnelOptions by position)."""
    return {entry.get('OutsideIpAddress'): entry for entry in connection.get('VgwTelemetry') or []}


def outside_ips(connection: dict) -> list:
    return [tunnel.get('OutsideIpAddress') for tunnel in tunnel_options_of(connection)]


def is_transit_gateway_connection(connection: dict) -> bool:
    return bool(connection.get('TransitGatewayId'))


def inside_ip_version(connection: dict) -> str:
    return (connection.get('Options') or {}).get('TunnelInsideIpVersion') or 'ipv4'


@dataclass
class TunnelDesire:
    """What one tunnel should run: options (normalised) and where they came from (for messages)."""

    outside_ip: str
    options: dict
    path: str


@dataclass
class TunnelChange:
    """One ModifyVpnTunnelOptions call: the tunnel, the option names, the request (secrets inside)."""

    outside_ip: str
    changed_options: list
    options: dict                        # snake_case options to send
    pre_shared_key_storage: str | None = None

    def api_parameters(self, vpn_connection_id: str, skip_tunnel_replacement: bool = False) -> dict:
        parameters: dict = {'VpnConnectionId': vpn_connection_id, 'VpnTunnelOutsideIpAddress': self.outside_ip,
                            'TunnelOptions': tunnel_options_request(self.options)}
        if self.pre_shared_key_storage:
            parameters['PreSharedKeyStorage'] = self.pre_shared_key_storage
        if skip_tunnel_replacement:
            parameters['SkipTunnelReplacement'] = True
        return parameters


@dataclass
class TunnelView:
    """One tunnel as results show it: options before and after (masked), telemetry."""

    outside_ip: str
    before: dict
    after: dict
    changed_options: list
    uncomparable_options: list
    status: str | None = None
    status_message: str | None = None
    accepted_route_count: int | None = None

    def result(self) -> dict:
        return {'outside_ip': self.outside_ip, 'changed': bool(self.changed_options), 'changed_options': list(self.changed_options),
                'options': masked(self.after, self.changed_options), 'status': self.status,
                'status_message': self.status_message, 'accepted_route_count': self.accepted_route_count}


@dataclass
class TunnelPlan:
    """Everything to do on one connection's tunnels, in the order to do it."""

    vpn_connection_id: str
    changes: list = field(default_factory=list)        # [TunnelChange], the order of execution
    views: list = field(default_factory=list)          # [TunnelView], in the connection's tunnel order
    warnings: list = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def diff(self) -> dict:
        """before/after of the tunnels in scope, keyed by outside IP, pre-shared keys masked."""
        in_scope = [view for view in self.views if view.before is not None]
        return {'before': {view.outside_ip: masked(view.before) for view in in_scope},
                'after': {view.outside_ip: masked(view.after, view.changed_options) for view in in_scope}}


def plan_tunnel_changes(connection: dict, desires: list, *, pre_shared_key_storage: str | None = None,
                        storage_path: str = 'pre_shared_key_storage') -> TunnelPlan:
    """Compare desired options (``desires``: [TunnelDesire], keyed by outside IP) with a described connection.

    Raises TunnelOptionsError, before anything is written, for an outside IP the connection does not
    have, a transit-gateway-only option on a virtual private gateway connection, an inside CIDR of the
    wrong IP version, two tunnels with one inside CIDR, or a cross-field rule the change would break.
    Changes are ordered so that a tunnel that is DOWN is replaced before one that is UP.
    """
    vpn_connection_id = connection.get('VpnConnectionId', '')
    described = {tunnel.get('OutsideIpAddress'): tunnel for tunnel in tunnel_options_of(connection)}
    telemetry = telemetry_by_outside_ip(connection)
    by_ip: dict = {}
    for desire in desires:
        if desire.outside_ip not in described:
            raise _fail('%s.outside_ip' % desire.path, '%s is not a tunnel of %s (its tunnels: %s)'
                        % (desire.outside_ip, vpn_connection_id, ', '.join(ip for ip in described if ip) or 'none'))
        if desire.outside_ip in by_ip:
            raise _fail('%s.outside_ip' % desire.path, '%s is given twice (also in %s)' % (desire.outside_ip, by_ip[desire.outside_ip].path))
        _check_connection_kind(connection, desire)
        by_ip[desire.outside_ip] = desire
    _check_distinct_inside_cidrs(described, by_ip)
    plan = TunnelPlan(vpn_connection_id)
    current_storage = 'SecretsManager' if connection.get('PreSharedKeyArn') else 'Standard'
    for outside_ip, tunnel_option in described.items():
        state = telemetry.get(outside_ip) or {}
        current = described_tunnel_options(tunnel_option)
        desire = by_ip.get(outside_ip)
        view = TunnelView(outside_ip, None, current, [], [], state.get('Status'), state.get('StatusMessage'), state.get('AcceptedRouteCount'))
        if desire is not None:
            check_lifetimes(desire.options, desire.path, in_force=current)
            differing, uncomparable = option_differences(desire.options, current)
            if uncomparable:
                plan.warnings.append('%s (%s): the pre-shared key is stored in AWS Secrets Manager and cannot be compared; it was left as it is'
                                     % (desire.path, outside_ip))
            after = dict(current)
            after.update(modification_options(desire.options, current, differing))
            view.before, view.after, view.changed_options, view.uncomparable_options = current, after, differing, uncomparable
            if differing:
                plan.changes.append(TunnelChange(outside_ip, differing, modification_options(desire.options, current, differing)))
        plan.views.append(view)
    if pre_shared_key_storage and pre_shared_key_storage != current_storage:
        _plan_storage_change(plan, by_ip, pre_shared_key_storage, storage_path)
    order = {view.outside_ip: (view.status == 'UP', index) for index, view in enumerate(plan.views)}
    plan.changes.sort(key=lambda change: order[change.outside_ip])
    return plan


def _plan_storage_change(plan: TunnelPlan, by_ip: dict, storage: str, path: str) -> None:
    """PreSharedKeyStorage travels with a ModifyVpnTunnelOptions call: the first one, or one setting a given key again."""
    if not plan.changes:
        keyed = [desire for desire in by_ip.values() if desire.options.get('pre_shared_key')]
        if not keyed:
            raise _fail(path, 'moving the pre-shared keys to %s takes a tunnel modification; give the tunnels\' pre_shared_key' % storage)
        desire = keyed[0]
        plan.changes.append(TunnelChange(desire.outside_ip, ['pre_shared_key_storage'], {'pre_shared_key': desire.options['pre_shared_key']}))
        for view in plan.views:
            if view.outside_ip == desire.outside_ip:
                view.changed_options = ['pre_shared_key_storage']
    plan.changes[0].pre_shared_key_storage = storage


def _check_connection_kind(connection: dict, desire: TunnelDesire) -> None:
    vpn_connection_id = connection.get('VpnConnectionId', '')
    ipv6 = inside_ip_version(connection) == 'ipv6'
    if not is_transit_gateway_connection(connection):
        for name in TRANSIT_GATEWAY_ONLY_OPTIONS:
            if name in desire.options:
                raise _fail('%s.%s' % (desire.path, name), 'only VPN connections to a transit gateway take this option; %s is attached to '
                            'virtual private gateway %s' % (vpn_connection_id, connection.get('VpnGatewayId') or '(none)'))
    if 'tunnel_inside_ipv6_cidr' in desire.options and not ipv6:
        raise _fail('%s.tunnel_inside_ipv6_cidr' % desire.path, '%s carries IPv4 inside its tunnels (TunnelInsideIpVersion ipv4)' % vpn_connection_id)
    if 'tunnel_inside_cidr' in desire.options and ipv6:
        raise _fail('%s.tunnel_inside_cidr' % desire.path, '%s carries IPv6 inside its tunnels (TunnelInsideIpVersion ipv6): use '
                    'tunnel_inside_ipv6_cidr' % vpn_connection_id)


def _check_distinct_inside_cidrs(described: dict, by_ip: dict) -> None:
    for name, describe_key in (('tunnel_inside_cidr', 'TunnelInsideCidr'), ('tunnel_inside_ipv6_cidr', 'TunnelInsideIpv6Cidr')):
        final = {ip: by_ip[ip].options[name] if ip in by_ip and name in by_ip[ip].options else tunnel.get(describe_key)
                 for ip, tunnel in described.items()}
        for outside_ip, desire in by_ip.items():
            value = desire.options.get(name)
            clash = [other for other, cidr in final.items() if value is not None and other != outside_ip and cidr == value]
            if clash:
                raise _fail('%s.%s' % (desire.path, name), '%s would also be the inside CIDR of tunnel %s of this connection' % (value, clash[0]))


class Backoff:
    """Sleeps between polls: short at first (a stand-in answers in a fraction of a second), growing to
    ``maximum`` (AWS takes minutes). Pass as ``sleeper`` to _aws.poll_until."""

    def __init__(self, first: float = 0.25, factor: float = 2.0, maximum: float = 15.0, sleep: Callable[[float], None] = time.sleep) -> None:
        self.current = first
        self.factor = factor
        self.maximum = maximum
        self.sleep = sleep

    def __call__(self, _suggested: float) -> None:
        self.sleep(self.current)
        self.current = min(self.current * self.factor, self.maximum)


ModifyCall = Callable[[TunnelChange], Any]
WaitCall = Callable[[], dict]


def apply_tunnel_changes(plan: TunnelPlan, *, connection_state: str, modify: ModifyCall, wait_available: WaitCall) -> dict | None:
    """Run the plan one tunnel at a time: (wait until available), modify, wait until available, next.

    A modification replaces the tunnel's endpoint and puts the connection in ``modifying``; waiting for
    ``available`` before the next one means both tunnels are never replaced at once. Returns the
    connection as last described (None when there was nothing to do).
    """
    connection = None
    if plan.changes and connection_state != 'available':
        connection = wait_available()
    for change in plan.changes:
        modify(change)
        connection = wait_available()
    return connection


# ----------------------------------------------------------------------------------------
# Connections of a link (aws_vpn_connection)
# ----------------------------------------------------------------------------------------

LINK_TAG = 'mcvpn:link'
TUNNEL_TAG_PREFIX = 'mcvpn:'
TUNNEL_NAMES = ('t1', 't2')
CUSTOMER_GATEWAY_TYPE = 'ipsec.1'
DEFAULT_STATIC_CUSTOMER_GATEWAY_ASN = 65000
BGP_ASN_MAXIMUM = 2147483647  # larger ASNs go in BgpAsnExtended


def tags_dict(tags: list | None) -> dict:
    return {tag.get('Key'): tag.get('Value') for tag in tags or []}


def tag_list(tags: dict) -> list:
    return [{'Key': key, 'Value': value} for key, value in tags.items()]


def link_tags(name: str, role: str, index: int, extra: dict | None = None) -> dict:
    """Tags of one object of a link: Name (<name>-<role><n>), the ownership tag, and the user's tags."""
    tags = dict(extra or {})
    tags['Name'] = '%s-%s%d' % (name, role, index + 1)
    tags[LINK_TAG] = name
    return tags


def customer_gateway_asn(customer_gateway: dict) -> int | None:
    value = customer_gateway.get('BgpAsnExtended') or customer_gateway.get('BgpAsn')
    return int(value) if value not in (None, '') else None


def customer_gateway_parameters(ip: str, asn: int, device_name: str, tags: dict) -> dict:
    parameters = {'Type': CUSTOMER_GATEWAY_TYPE, 'IpAddress': ip, 'DeviceName': device_name,
                  'TagSpecifications': [{'ResourceType': 'customer-gateway', 'Tags': tag_list(tags)}]}
    if asn > BGP_ASN_MAXIMUM:
        parameters['BgpAsnExtended'] = asn
    else:
        parameters['BgpAsn'] = asn
    return parameters


def find_customer_gateway(customer_gateways: list, ip: str, asn: int, device_name: str, link_name: str) -> dict | None:
    """The live customer gateway with this IP, ASN and DeviceName (what CreateCustomerGateway would return); ours first."""
    matches = [gateway for gateway in customer_gateways
               if gateway.get('State') in LIVE_GATEWAY_STATES and gateway.get('Type', CUSTOMER_GATEWAY_TYPE) == CUSTOMER_GATEWAY_TYPE
               and gateway.get('IpAddress') == ip and customer_gateway_asn(gateway) == asn and gateway.get('DeviceName') == device_name]
    matches.sort(key=lambda gateway: tags_dict(gateway.get('Tags')).get(LINK_TAG) != link_name)
    return matches[0] if matches else None


def is_owned(resource: dict, link_name: str) -> bool:
    return tags_dict(resource.get('Tags')).get(LINK_TAG) == link_name


def live(resources: list) -> list:
    return [resource for resource in resources if resource.get('State') not in DEAD_STATES]


def connection_gateway_id(connection: dict) -> str | None:
    return connection.get('VpnGatewayId') or connection.get('TransitGatewayId')


def tunnel_mapping(connection: dict, requested_inside_cidrs: list) -> tuple[dict, bool]:
    """({'t1': outside ip, 't2': outside ip}, whether the mcvpn:t1/t2 tags must be written).

    t1/t2 are the tunnels created with TunnelOptions[0]/[1]. The mapping recorded in the tags wins (so a
    drifted inside CIDR cannot confuse it); without tags, the tunnel holding the inside CIDR first asked
    for; failing that, the order of TunnelOptions.
    """
    ips = [ip for ip in outside_ips(connection) if ip]
    tags = tags_dict(connection.get('Tags'))
    recorded = {name: tags.get(TUNNEL_TAG_PREFIX + name) for name in TUNNEL_NAMES}
    if all(recorded[name] in ips for name in TUNNEL_NAMES) and recorded['t1'] != recorded['t2']:
        return recorded, False
    by_cidr = {tunnel.get('TunnelInsideCidr') or tunnel.get('TunnelInsideIpv6Cidr'): tunnel.get('OutsideIpAddress')
               for tunnel in tunnel_options_of(connection)}
    mapping: dict = {}
    for name, cidr in zip(TUNNEL_NAMES, requested_inside_cidrs):
        if cidr in by_cidr and by_cidr[cidr] not in mapping.values():
            mapping[name] = by_cidr[cidr]
    rest = [ip for ip in ips if ip not in mapping.values()]
    for name in TUNNEL_NAMES:
        if name not in mapping and rest:
            mapping[name] = rest.pop(0)
    return mapping, True


def mapping_tags(mapping: dict) -> list:
    return [{'Key': TUNNEL_TAG_PREFIX + name, 'Value': mapping[name]} for name in TUNNEL_NAMES if name in mapping]


def creation_options(static_routes_only: bool, tunnels_options: list, ipv6_inside: bool = False) -> dict:
    """CreateVpnConnection Options: routing, and every tunnel's options (inside CIDR, PSK, profile) at creation."""
    options: dict = {'StaticRoutesOnly': bool(static_routes_only),
                     'TunnelOptions': [tunnel_options_request(tunnel) for tunnel in tunnels_options]}
    if ipv6_inside:
        options['TunnelInsideIpVersion'] = 'ipv6'
    return options


def static_route_changes(desired: list | None, connection: dict) -> tuple[list, list]:
    """(routes to create, routes to delete): desired None leaves the routes alone."""
    if desired is None:
        return [], []
    present = [route.get('DestinationCidrBlock') for route in connection.get('Routes') or []
               if route.get('State') not in DEAD_STATES]
    return [cidr for cidr in desired if cidr not in present], [cidr for cidr in present if cidr not in desired]


def normalise_cidr(cidr: Any, path: str) -> str:
    """An IPv4 or IPv6 prefix such as 10.20.0.0/16, in canonical form."""
    if not HAS_NETADDR:  # pragma: no cover
        raise _fail(path, 'the netaddr Python library is required')
    try:
        network = IPNetwork(str(cidr).strip())
    except (AddrFormatError, ValueError, TypeError):
        raise _fail(path, '%r is not a CIDR such as 10.20.0.0/16' % (cidr,)) from None
    if '/' not in str(cidr) or network.ip != network.network:
        raise _fail(path, '%s is not a network prefix (did you mean %s?)' % (cidr, network.cidr))
    return str(network.cidr)


def tunnel_summary(name: str | None, outside_ip: str | None, tunnel_option: dict | None, telemetry: dict | None) -> dict:
    """One tunnel of aws_vpn_connection's result (without its key)."""
    tunnel_option = tunnel_option or {}
    telemetry = telemetry or {}
    inside_cidr = tunnel_option.get('TunnelInsideCidr') or tunnel_option.get('TunnelInsideIpv6Cidr')
    aws_inside = customer_inside = None
    if inside_cidr and HAS_NETADDR:
        network = IPNetwork(inside_cidr)
        aws_inside, customer_inside = str(network[1]), str(network[2])
    return {'tunnel': name, 'outside_ip': outside_ip, 'inside_cidr': inside_cidr, 'aws_inside_ip': aws_inside,
            'customer_inside_ip': customer_inside, 'status': telemetry.get('Status'), 'status_message': telemetry.get('StatusMessage'),
            'accepted_route_count': telemetry.get('AcceptedRouteCount')}


@dataclass
class DesiredConnection:
    """One connection of a link, validated: its customer gateway and both tunnels' desired options (t1, t2)."""

    index: int
    path: str
    customer_gateway_ip: str
    customer_gateway_asn: int
    static_routes_only: bool
    static_routes: list | None
    tunnels: list                       # [options of t1, options of t2], snake_case, inside CIDR and PSK included
    inside_cidrs: list                  # [t1, t2] as asked for
    ipv6_inside: bool = False

    def tunnel_desires(self, mapping: dict) -> list:
        return [TunnelDesire(mapping[name], self.tunnels[position], '%s.tunnels[%d]' % (self.path, position))
                for position, name in enumerate(TUNNEL_NAMES) if mapping.get(name)]


ASN_RANGE = (1, 4294967294)


def validate_link(connections: list, *, profile: Any = None, tunnel_options: dict | None = None,
                  transit_gateway: bool = False) -> list:
    """Validate the connections of a link (aws_vpn_connection's ``connections``) -> [DesiredConnection].

    Every tunnel's desired options: the profile, then the module-level ``tunnel_options``, then the tunnel's
    own ``tunnel_options``, then its inside CIDR and (if given) pre-shared key. Errors name the option
    (``connections[1].tunnels[0].inside_cidr: ...``).
    """
    if not HAS_NETADDR:  # pragma: no cover
        raise _fail('connections', 'the netaddr Python library is required')
    base = merge_tunnel_options(profile_tunnel_options(profile),
                                validate_tunnel_options(tunnel_options, 'tunnel_options', allow_secret=False, allow_addresses=False))
    aws_defaults = described_tunnel_options({})
    desired, seen_ips, seen_cidrs = [], {}, {}
    for index, connection in enumerate(connections):
        path = 'connections[%d]' % index
        ip = _ipv4(connection.get('customer_gateway_ip'), path + '.customer_gateway_ip')
        if ip in seen_ips:
            raise _fail(path + '.customer_gateway_ip', '%s is also the customer gateway of %s (one connection per customer gateway)'
                        % (ip, seen_ips[ip]))
        seen_ips[ip] = path
        static = bool(connection.get('static_routes_only'))
        asn = connection.get('customer_gateway_asn')
        if asn is None:
            if not static:
                raise _fail(path + '.customer_gateway_asn', 'required for dynamic (BGP) routing')
            asn = DEFAULT_STATIC_CUSTOMER_GATEWAY_ASN
        asn = _as_int(asn, path + '.customer_gateway_asn')
        _check_range(asn, ASN_RANGE[0], ASN_RANGE[1], path + '.customer_gateway_asn')
        routes = connection.get('static_routes')
        if routes is not None:
            if not static:
                raise _fail(path + '.static_routes', 'static routes need static_routes_only: true (BGP connections learn their routes)')
            routes = [normalise_cidr(route, '%s.static_routes[%d]' % (path, position)) for position, route in enumerate(routes)]
        tunnels = connection.get('tunnels') or []
        if len(tunnels) != 2:
            raise _fail(path + '.tunnels', 'a VPN connection has exactly 2 tunnels: give 2 entries, t1 then t2 (got %d)' % len(tunnels))
        tunnel_options_list, inside_cidrs, versions = [], [], set()
        for position, tunnel in enumerate(tunnels):
            tunnel_path = '%s.tunnels[%d]' % (path, position)
            own = validate_tunnel_options(tunnel.get('tunnel_options'), tunnel_path + '.tunnel_options', allow_secret=False,
                                          allow_addresses=False)
            cidr = tunnel.get('inside_cidr')
            if cidr is None:
                raise _fail(tunnel_path + '.inside_cidr', 'required (the plan decides every inside CIDR, AWS must not pick one)')
            if ':' in str(cidr):
                identity = {'tunnel_inside_ipv6_cidr': validate_inside_ipv6_cidr(cidr, tunnel_path + '.inside_cidr')}
                versions.add('ipv6')
            else:
                try:
                    identity = {'tunnel_inside_cidr': validate_inside_cidr(cidr, tunnel_path + '.inside_cidr')}
                except PlanError as error:
                    raise TunnelOptionsError(str(error), option=tunnel_path + '.inside_cidr') from None
                versions.add('ipv4')
            cidr = next(iter(identity.values()))
            if cidr in seen_cidrs:
                raise _fail(tunnel_path + '.inside_cidr', '%s is also %s.inside_cidr (inside CIDRs are unique on a gateway)' % (cidr, seen_cidrs[cidr]))
            seen_cidrs[cidr] = tunnel_path
            if tunnel.get('pre_shared_key') is not None:
                try:
                    identity['pre_shared_key'] = validate_psk(tunnel['pre_shared_key'], tunnel_path + '.pre_shared_key')
                except PlanError as error:
                    raise TunnelOptionsError(str(error), option=tunnel_path + '.pre_shared_key') from None
            options = merge_tunnel_options(base, own, identity)
            check_lifetimes(options, tunnel_path, in_force=aws_defaults)
            tunnel_options_list.append(options)
            inside_cidrs.append(cidr)
        if len(versions) > 1:
            raise _fail(path + '.tunnels', 'both tunnels need inside CIDRs of one IP version')
        ipv6 = versions == {'ipv6'}
        if ipv6 and not transit_gateway:
            raise _fail(path + '.tunnels[0].inside_cidr', 'IPv6 inside CIDRs need a transit gateway (transit_gateway_id)')
        desired.append(DesiredConnection(index, path, ip, asn, static, routes, tunnel_options_list, inside_cidrs, ipv6))
    return desired


def _ipv4(value: Any, path: str) -> str:
    if value is None:
        raise _fail(path, 'required')
    try:
        address = IPNetwork(str(value).strip())
    except (AddrFormatError, ValueError, TypeError):
        raise _fail(path, '%r is not an IPv4 address' % (value,)) from None
    if address.version != 4 or address.prefixlen != 32 or '/' in str(value):
        raise _fail(path, '%r is not an IPv4 address' % (value,))
    return str(address.ip)

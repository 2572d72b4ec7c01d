# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal to multicloud.vpn: not a public API, may change without notice.
#
# The Azure half of an AWS <-> Azure active-active link (module azure_active_active_link).
# Data flows one way: module parameters -> LinkSpec (validated, planned by _plan) -> desired
# ARM bodies (wire format, camelCase with ``properties``) -> comparison with what exists ->
# a list of Change objects in dependency order -> applied through the _azure adapter -> result.
# Everything above the "SDK side" line is pure (no SDK, no I/O); below it, every SDK call goes
# through _azure.azure_call / get_or_none / wait_poller.

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from ansible_collections.multicloud.vpn.plugins.module_utils._azure import MASK, AzureError, azure_call, get_or_none, wait_poller
from ansible_collections.multicloud.vpn.plugins.module_utils._ipsec import (
    ProfileError, azure_ipsec_policy, normalise_azure_ipsec_policy, resolve_profile)
from ansible_collections.multicloud.vpn.plugins.module_utils._plan import (
    AZURE_DEFAULT_ASN, PlanError, plan_aws_azure, validate_inside_cidr, validate_private_asn)
from ansible_collections.multicloud.vpn.plugins.module_utils._psk import validate_psk

try:
    from netaddr import AddrFormatError, IPAddress, IPNetwork
    HAS_NETADDR = True
except ImportError:  # pragma: no cover - exercised by sanity import tests only
    HAS_NETADDR = False

# Tags written at creation only (never forced onto an existing resource): what this link owns.
LINK_TAG = 'mcvpn-link'
TUNNEL_TAG = 'mcvpn-tunnel'
CREATED_SUBNET_TAG = 'mcvpn-created-subnet'
GATEWAY_SUBNET = 'GatewaySubnet'
DEFAULT_IP_CONFIGURATION_NAMES = ('instance-0', 'instance-1')
NAMESPACE = 'Microsoft.Network'
DEFAULT_GATEWAY_SKU = 'VpnGw1AZ'
DEFAULT_AMAZON_ASN = 64512
# Microsoft's gateway SKU table: the generations each route-based VPN SKU exists in.
GATEWAY_SKU_GENERATIONS = {
    'VpnGw1': ('Generation1',), 'VpnGw2': ('Generation1', 'Generation2'), 'VpnGw3': ('Generation1', 'Generation2'),
    'VpnGw4': ('Generation2',), 'VpnGw5': ('Generation2',),
    'VpnGw1AZ': ('Generation1',), 'VpnGw2AZ': ('Generation1', 'Generation2'), 'VpnGw3AZ': ('Generation1', 'Generation2'),
    'VpnGw4AZ': ('Generation2',), 'VpnGw5AZ': ('Generation2',),
}
AWS_TUNNELS = {'t1': 1, 't2': 2}
TERMINAL_STATES = ('Succeeded', 'Failed')
# Azure resource names: 1-80 characters, word characters, '.', '-', '_'; ends with a word character or '_'.
RESOURCE_NAME = re.compile(r'^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$')
LONGEST_SUFFIX = '-conn-c0-t1'
CHANGED_SECRET = MASK + ' (changed)'


class LinkError(ValueError):
    """An option value cannot make the link, or Azure holds something it cannot change.

    The message is one line and starts with the option name; it never contains a secret.
    """

    def __init__(self, option: str, detail: str):
        super().__init__('%s: %s' % (option, detail))
        self.option = option


# ==========================================================================================
# Pure side: options -> LinkSpec
# ==========================================================================================

@dataclass(frozen=True)
class VirtualNetworkSpec:
    name: str
    address_prefixes: tuple = ()
    gateway_subnet_prefix: str | None = None


@dataclass(frozen=True)
class GatewaySpec:
    name: str
    sku: str
    generation: str
    asn: int


@dataclass(frozen=True)
class TunnelSpec:
    """One AWS tunnel the link uses, and the Azure objects made for it."""

    suffix: str  # 'c0-t1'
    connection: int
    aws_tunnel: int
    azure_instance: int
    outside_ip: str
    inside_cidr: str
    aws_inside_ip: str
    azure_apipa_ip: str | None
    amazon_asn: int
    option_index: int
    pre_shared_key: str = field(repr=False, default='')


@dataclass(frozen=True)
class LinkSpec:
    name: str
    resource_group: str
    location: str | None
    state: str
    mode: str
    wait: bool
    wait_timeout: int
    virtual_network: VirtualNetworkSpec | None
    gateway: GatewaySpec
    amazon_asn: int
    tunnels: tuple  # of TunnelSpec, only those given in aws_tunnels
    manage_tunnels: bool  # aws_tunnels given: connections of this link not listed are removed
    gateway_apipa: dict  # instance -> [custom APIPA addresses] (bgp mode)
    aws_prefixes: tuple
    ipsec_policy: dict | None

    @property
    def bgp(self) -> bool:
        return self.mode == 'bgp'


def _require_netaddr() -> None:
    if not HAS_NETADDR:
        raise LinkError('netaddr', 'the netaddr Python library is required')


def _cidr(value, option: str) -> str:
    """A strict IPv4 CIDR (network address) -> normalised text."""
    _require_netaddr()
    if not isinstance(value, str) or '/' not in value:
        raise LinkError(option, '%r is not an IPv4 CIDR such as 10.1.0.0/16' % (value,))
    try:
        network = IPNetwork(value.strip())
    except (AddrFormatError, ValueError, TypeError):
        raise LinkError(option, '%r is not an IPv4 CIDR such as 10.1.0.0/16' % (value,)) from None
    if network.version != 4:
        raise LinkError(option, '%s is not an IPv4 CIDR' % value)
    if network.ip != network.network:
        raise LinkError(option, '%s has host bits set (Azure refuses it; did you mean %s?)' % (value, network.cidr))
    return str(network.cidr)


def _ipv4(value, option: str) -> str:
    _require_netaddr()
    try:
        address = IPAddress(str(value).strip())
    except (AddrFormatError, ValueError, TypeError):
        raise LinkError(option, '%r is not an IPv4 address' % (value,)) from None
    if address.version != 4 or '/' in str(value):
        raise LinkError(option, '%r is not an IPv4 address' % (value,))
    return str(address)


def _resource_name(value, option: str) -> str:
    if not isinstance(value, str) or not RESOURCE_NAME.match(value):
        raise LinkError(option, '%r is not a valid Azure resource name (1-80 letters, digits, ".", "-", "_"; starting with a '
                                'letter or digit, ending with a letter, digit or "_")' % (value,))
    return value


def _virtual_network_spec(value) -> VirtualNetworkSpec | None:
    if not value:
        return None
    name = _resource_name(value.get('name'), 'virtual_network.name')
    prefixes = tuple(_cidr(prefix, 'virtual_network.address_prefixes[%d]' % index)
                     for index, prefix in enumerate(value.get('address_prefixes') or []))
    subnet_prefix = value.get('gateway_subnet_prefix')
    if subnet_prefix is not None:
        subnet_prefix = _cidr(subnet_prefix, 'virtual_network.gateway_subnet_prefix')
        if IPNetwork(subnet_prefix).prefixlen > 27:
            raise LinkError('virtual_network.gateway_subnet_prefix', '%s is too small: the GatewaySubnet must be a /27 or larger' % subnet_prefix)
        if prefixes and not any(IPNetwork(subnet_prefix) in IPNetwork(prefix) for prefix in prefixes):
            raise LinkError('virtual_network.gateway_subnet_prefix', '%s is not inside virtual_network.address_prefixes (%s)'
                            % (subnet_prefix, ', '.join(prefixes)))
    return VirtualNetworkSpec(name=name, address_prefixes=prefixes, gateway_subnet_prefix=subnet_prefix)


def _gateway_spec(value, link_name: str) -> GatewaySpec:
    value = value or {}
    name = _resource_name(value.get('name') or '%s-gw' % link_name, 'gateway.name')
    sku = value.get('sku') or DEFAULT_GATEWAY_SKU
    if sku not in GATEWAY_SKU_GENERATIONS:
        raise LinkError('gateway.sku', '%r is not a route-based VPN gateway SKU that can be active-active (one of %s)'
                        % (sku, ', '.join(GATEWAY_SKU_GENERATIONS)))
    generations = GATEWAY_SKU_GENERATIONS[sku]
    generation = value.get('generation')
    if generation is None:
        generation = 'Generation2' if 'Generation2' in generations else generations[0]
    elif generation not in generations:
        raise LinkError('gateway.generation', 'SKU %s exists only in %s, not %s (Generation2 starts at VpnGw2/VpnGw2AZ)'
                        % (sku, ' and '.join(generations), generation))
    asn = value.get('asn')
    return GatewaySpec(name=name, sku=sku, generation=generation, asn=AZURE_DEFAULT_ASN if asn is None else asn)


def _profile_error(error: ProfileError) -> LinkError:
    text = str(error)
    if text.startswith('profile'):
        text = text[len('profile'):]
    option, _sep, detail = ('ipsec_profile' + text).partition(': ')
    return LinkError(option, detail)


def _tunnel_entries(raw_tunnels, mode: str, default_amazon_asn: int) -> list:
    """Validated aws_tunnels entries (without the plan): dicts with option_index."""
    entries = []
    seen_positions = {}
    seen_outside = {}
    tunnels_used = (1,) if mode == 'static' else (1, 2)
    for index, raw in enumerate(raw_tunnels or []):
        prefix = 'aws_tunnels[%d]' % index
        if not isinstance(raw, dict):
            raise LinkError(prefix, 'must be a dict')
        connection = raw.get('connection')
        if connection not in (0, 1) or isinstance(connection, bool):
            raise LinkError(prefix + '.connection', 'must be 0 or 1 (the AWS connection, = the Azure gateway instance), got %r' % (connection,))
        aws_tunnel = raw.get('aws_tunnel')
        if aws_tunnel not in AWS_TUNNELS:
            raise LinkError(prefix + '.aws_tunnel', "must be 't1' or 't2', got %r" % (aws_tunnel,))
        tunnel_number = AWS_TUNNELS[aws_tunnel]
        if tunnel_number not in tunnels_used:
            raise LinkError(prefix + '.aws_tunnel', 'static mode uses tunnel t1 of each AWS connection only (seed 004: static routing '
                                                    'cannot mesh); use mode: bgp for t2')
        position = (connection, tunnel_number)
        if position in seen_positions:
            raise LinkError(prefix, 'connection %d tunnel %s is already aws_tunnels[%d]' % (connection, aws_tunnel, seen_positions[position]))
        seen_positions[position] = index
        outside_ip = _ipv4(raw.get('outside_ip'), prefix + '.outside_ip')
        if outside_ip in seen_outside:
            raise LinkError(prefix + '.outside_ip', '%s is already the outside IP of aws_tunnels[%d]' % (outside_ip, seen_outside[outside_ip]))
        seen_outside[outside_ip] = index
        psk = raw.get('pre_shared_key')
        if psk is None:
            raise LinkError(prefix + '.pre_shared_key', 'required (the PSK of this AWS tunnel)')
        try:
            validate_psk(psk, prefix + '.pre_shared_key')
        except PlanError as error:
            raise LinkError(prefix + '.pre_shared_key', str(error).split(': ', 1)[-1]) from None
        inside_cidr = raw.get('inside_cidr')
        if inside_cidr is not None:
            try:
                inside_cidr = validate_inside_cidr(inside_cidr, prefix + '.inside_cidr', azure=mode == 'bgp')
            except PlanError as error:
                raise LinkError(prefix + '.inside_cidr', str(error).split(': ', 1)[-1]) from None
        amazon_asn = raw.get('amazon_asn')
        if amazon_asn is None:
            amazon_asn = default_amazon_asn
        try:
            amazon_asn = validate_private_asn(amazon_asn, prefix + '.amazon_asn')
        except PlanError as error:
            raise LinkError(prefix + '.amazon_asn', str(error).split(': ', 1)[-1]) from None
        entries.append({'option_index': index, 'position': position, 'outside_ip': outside_ip, 'pre_shared_key': psk,
                        'inside_cidr': inside_cidr, 'amazon_asn': amazon_asn})
    asns = {entry['amazon_asn'] for entry in entries}
    if len(asns) > 1:
        first = entries[0]
        other = next(entry for entry in entries if entry['amazon_asn'] != first['amazon_asn'])
        raise LinkError('aws_tunnels[%d].amazon_asn' % other['option_index'], '%d differs from aws_tunnels[%d].amazon_asn %d: all AWS '
                        'connections of one link end on one virtual private gateway, which has one ASN'
                        % (other['amazon_asn'], first['option_index'], first['amazon_asn']))
    return entries


def build_link_spec(params: dict) -> LinkSpec:
    """Module parameters -> LinkSpec, or LinkError naming the option. Validates everything before any API call."""
    name = params.get('name')
    if not isinstance(name, str) or not name:
        raise LinkError('name', 'required')
    if len(name) + len(LONGEST_SUFFIX) > 80 or not RESOURCE_NAME.match(name + LONGEST_SUFFIX):
        raise LinkError('name', '%r cannot prefix Azure resource names such as %s%s (letters, digits, ".", "-", "_"; at most %d '
                                'characters)' % (name, name, LONGEST_SUFFIX, 80 - len(LONGEST_SUFFIX)))
    resource_group = params.get('resource_group')
    if not isinstance(resource_group, str) or not resource_group.strip():
        raise LinkError('resource_group', 'required')
    state = params.get('state') or 'present'
    mode = params.get('mode') or 'static'
    if mode not in ('static', 'bgp'):
        raise LinkError('mode', 'must be static or bgp, got %r' % (mode,))
    wait_timeout = params.get('wait_timeout')
    wait_timeout = 3600 if wait_timeout is None else wait_timeout
    if not isinstance(wait_timeout, int) or wait_timeout < 0:
        raise LinkError('wait_timeout', 'must be a non-negative number of seconds, got %r' % (wait_timeout,))
    gateway = _gateway_spec(params.get('gateway'), name)
    default_amazon_asn = params.get('amazon_asn')
    default_amazon_asn = DEFAULT_AMAZON_ASN if default_amazon_asn is None else default_amazon_asn
    entries = _tunnel_entries(params.get('aws_tunnels'), mode, default_amazon_asn) if state == 'present' else []
    amazon_asn = entries[0]['amazon_asn'] if entries else default_amazon_asn
    plan = _plan(mode, amazon_asn, gateway.asn, entries)
    planned = {(tunnel['connection'], tunnel['aws_tunnel']): tunnel for tunnel in plan['tunnels']}
    tunnels = []
    for entry in entries:
        planned_tunnel = planned[entry['position']]
        tunnels.append(TunnelSpec(
            suffix=planned_tunnel['name_suffix'], connection=planned_tunnel['connection'], aws_tunnel=planned_tunnel['aws_tunnel'],
            azure_instance=planned_tunnel['azure_instance'], outside_ip=entry['outside_ip'], inside_cidr=planned_tunnel['inside_cidr'],
            aws_inside_ip=planned_tunnel['aws_inside_ip'], azure_apipa_ip=planned_tunnel['azure_apipa_ip'], amazon_asn=entry['amazon_asn'],
            option_index=entry['option_index'], pre_shared_key=entry['pre_shared_key']))
    aws_prefixes = tuple(_cidr(prefix, 'aws_prefixes[%d]' % index) for index, prefix in enumerate(params.get('aws_prefixes') or []))
    if state == 'present' and mode == 'static' and tunnels and not aws_prefixes:
        raise LinkError('aws_prefixes', 'required in static mode: the local network gateways carry the AWS VPC prefixes')
    ipsec_policy = None
    if state == 'present':
        try:
            ipsec_policy = azure_ipsec_policy(resolve_profile(params.get('ipsec_profile')))
        except ProfileError as error:
            raise _profile_error(error) from None
    return LinkSpec(name=name, resource_group=resource_group, location=params.get('location'), state=state, mode=mode,
                    wait=params.get('wait', True) is not False, wait_timeout=wait_timeout,
                    virtual_network=_virtual_network_spec(params.get('virtual_network')), gateway=gateway, amazon_asn=amazon_asn,
                    tunnels=tuple(tunnels), manage_tunnels=bool(tunnels), gateway_apipa=plan['azure_gateway_apipa'],
                    aws_prefixes=aws_prefixes, ipsec_policy=ipsec_policy)


def _plan(mode: str, amazon_asn: int, azure_asn, entries: list) -> dict:
    """_plan.plan_aws_azure with the inside CIDRs of aws_tunnels; its errors renamed to our options."""
    used_positions = [(connection, tunnel) for connection in (0, 1) for tunnel in ((1,) if mode == 'static' else (1, 2))]
    by_position = {entry['position']: entry for entry in entries}
    requested = [by_position[position]['inside_cidr'] if position in by_position else None for position in used_positions]
    try:
        return plan_aws_azure(mode=mode, amazon_asn=amazon_asn, azure_asn=azure_asn, inside_cidrs=requested)
    except PlanError as error:
        variable = error.variable or ''
        match = re.match(r'^inside_cidrs\[(\d+)\]$', variable)
        detail = str(error).split(': ', 1)[-1]
        if match and used_positions[int(match.group(1))] in by_position:
            index = by_position[used_positions[int(match.group(1))]]['option_index']
            raise LinkError('aws_tunnels[%d].inside_cidr' % index, detail) from None
        if variable == 'azure_asn':
            raise LinkError('gateway.asn', detail.replace('amazon_asn', 'the Amazon-side ASN')) from None
        if variable == 'amazon_asn':
            raise LinkError('amazon_asn', detail) from None
        raise LinkError(variable or 'aws_tunnels', detail) from None


# ==========================================================================================
# Pure side: names, ids and desired ARM bodies (wire format)
# ==========================================================================================

def public_ip_name(link: str, index: int) -> str:
    return '%s-pip-%d' % (link, index)


def local_network_gateway_name(link: str, suffix: str) -> str:
    return '%s-lng-%s' % (link, suffix)


def connection_name(link: str, suffix: str) -> str:
    return '%s-conn-%s' % (link, suffix)


def arm_id(subscription_id: str, resource_group: str, kind: str, name: str) -> str:
    return '/subscriptions/%s/resourceGroups/%s/providers/%s/%s/%s' % (subscription_id, resource_group, NAMESPACE, kind, name)


def last_segment(resource_id) -> str:
    return (resource_id or '').rstrip('/').rsplit('/', 1)[-1]


def properties(resource) -> dict:
    return (resource or {}).get('properties') or {}


def provisioning_state(resource) -> str | None:
    return properties(resource).get('provisioningState')


def in_progress(resource) -> bool:
    """True while Azure is still creating, updating or deleting the resource."""
    state = provisioning_state(resource)
    return resource is not None and state is not None and state not in TERMINAL_STATES


def owned_by(resource, link: str) -> bool:
    return ((resource or {}).get('tags') or {}).get(LINK_TAG) == link


def _key(name: str) -> str:
    return name.lower()


@dataclass
class CurrentLink:
    """What exists in the resource group (wire-format dicts as the SDK returns them), names folded to lower case."""

    public_ips: dict = field(default_factory=dict)
    gateway: dict | None = None
    local_network_gateways: dict = field(default_factory=dict)
    connections: dict = field(default_factory=dict)
    shared_keys: dict = field(default_factory=dict, repr=False)
    virtual_network: dict | None = None
    virtual_network_read: bool = False
    bgp_peers: list | None = None


@dataclass
class DesiredLink:
    """The ARM bodies the link needs; connections' shared keys apart (never in a diff)."""

    location: str
    gateway_id: str
    public_ips: dict = field(default_factory=dict)  # name -> body
    virtual_network: dict | None = None  # body, only when it must be created
    gateway_subnet: dict | None = None  # body, only when it must be created
    gateway: dict | None = None
    local_network_gateways: dict = field(default_factory=dict)  # name -> body
    connections: dict = field(default_factory=dict)  # name -> body without sharedKey
    shared_keys: dict = field(default_factory=dict, repr=False)  # name -> PSK
    tunnels: dict = field(default_factory=dict)  # connection name -> TunnelSpec


def _location(spec: LinkSpec, current: CurrentLink) -> str:
    for candidate in (spec.location, (current.gateway or {}).get('location'), (current.virtual_network or {}).get('location')):
        if candidate:
            return candidate
    raise LinkError('location', 'required: neither the gateway nor virtual network %s exists yet to take it from'
                    % (spec.virtual_network.name if spec.virtual_network else '(virtual_network not given)'))


def _gateway_subnet_of(gateway) -> str | None:
    configs = properties(gateway).get('ipConfigurations') or []
    return ((configs[0].get('properties') or {}).get('subnet') or {}).get('id') if configs else None


def _subnet_named(virtual_network, name: str):
    for subnet in properties(virtual_network).get('subnets') or []:
        if (subnet.get('name') or '').lower() == name.lower():
            return subnet
    return None


def _virtual_network_plan(spec: LinkSpec, subscription_id: str, current: CurrentLink, location: str, desired: DesiredLink) -> str:
    """The GatewaySubnet id; fills desired.virtual_network / gateway_subnet when they must be created."""
    vnet_spec = spec.virtual_network
    if current.gateway is not None:
        subnet_id = _gateway_subnet_of(current.gateway)
        vnet_of_gateway = subnet_id.split('/virtualNetworks/')[1].split('/')[0] if subnet_id and '/virtualNetworks/' in subnet_id else None
        if vnet_spec is not None and vnet_of_gateway and vnet_of_gateway.lower() != vnet_spec.name.lower():
            raise LinkError('virtual_network.name', 'gateway %s already sits in virtual network %s, not %s; a gateway cannot move'
                            % (spec.gateway.name, vnet_of_gateway, vnet_spec.name))
        if subnet_id:
            return subnet_id
    if vnet_spec is None:
        raise LinkError('virtual_network', 'required to create gateway %s (name, and address_prefixes / gateway_subnet_prefix for what '
                                           'is missing)' % spec.gateway.name)
    vnet_id = arm_id(subscription_id, spec.resource_group, 'virtualNetworks', vnet_spec.name)
    subnet_id = vnet_id + '/subnets/' + GATEWAY_SUBNET
    if current.virtual_network is None:
        if not vnet_spec.address_prefixes:
            raise LinkError('virtual_network.address_prefixes', 'virtual network %s does not exist in resource group %s; give its '
                            'address_prefixes (and gateway_subnet_prefix) to create it' % (vnet_spec.name, spec.resource_group))
        if vnet_spec.gateway_subnet_prefix is None:
            raise LinkError('virtual_network.gateway_subnet_prefix', 'required to create virtual network %s with its GatewaySubnet'
                            % vnet_spec.name)
        desired.virtual_network = {
            'location': location, 'tags': {LINK_TAG: spec.name},
            'properties': {'addressSpace': {'addressPrefixes': list(vnet_spec.address_prefixes)},
                           'subnets': [{'name': GATEWAY_SUBNET, 'properties': {'addressPrefix': vnet_spec.gateway_subnet_prefix}}]}}
        return subnet_id
    subnet = _subnet_named(current.virtual_network, GATEWAY_SUBNET)
    if subnet is None:
        if vnet_spec.gateway_subnet_prefix is None:
            raise LinkError('virtual_network.gateway_subnet_prefix', 'virtual network %s has no GatewaySubnet; give the prefix (a /27 '
                            'or larger inside %s) to create it' % (vnet_spec.name, ', '.join(
                                properties(current.virtual_network).get('addressSpace', {}).get('addressPrefixes') or [])))
        desired.gateway_subnet = {'properties': {'addressPrefix': vnet_spec.gateway_subnet_prefix}}
        return subnet_id
    return subnet.get('id') or subnet_id


def _public_ip_body(location: str, tags: dict) -> dict:
    return {'location': location, 'tags': tags, 'sku': {'name': 'Standard', 'tier': 'Regional'},
            'properties': {'publicIPAllocationMethod': 'Static', 'publicIPAddressVersion': 'IPv4'}}


def _merged_tags(current, tags: dict) -> dict:
    """Ownership tags go on at creation only; an existing resource keeps exactly its tags."""
    return dict(current.get('tags') or {}) if current is not None else dict(tags)


def desired_link(spec: LinkSpec, subscription_id: str, current: CurrentLink) -> DesiredLink:
    """The bodies for state=present. Raises LinkError for what Azure cannot do (before any write)."""
    location = _location(spec, current)
    gateway_id = arm_id(subscription_id, spec.resource_group, 'virtualNetworkGateways', spec.gateway.name)
    desired = DesiredLink(location=location, gateway_id=gateway_id)
    subnet_id = _virtual_network_plan(spec, subscription_id, current, location, desired)
    gateway_tags = {LINK_TAG: spec.name}
    if desired.gateway_subnet is not None:
        gateway_tags[CREATED_SUBNET_TAG] = GATEWAY_SUBNET
    current_configs = properties(current.gateway).get('ipConfigurations') or []
    ip_configurations = []
    peerings = []
    for index in (0, 1):
        existing = current_configs[index] if index < len(current_configs) else None
        if existing is not None:
            config_name = existing.get('name') or DEFAULT_IP_CONFIGURATION_NAMES[index]
            public_ip_id = ((existing.get('properties') or {}).get('publicIPAddress') or {}).get('id')
        else:
            config_name, public_ip_id = DEFAULT_IP_CONFIGURATION_NAMES[index], None
        if not public_ip_id:
            public_ip_id = arm_id(subscription_id, spec.resource_group, 'publicIPAddresses', public_ip_name(spec.name, index))
        if last_segment(public_ip_id).lower() == public_ip_name(spec.name, index).lower():
            name = public_ip_name(spec.name, index)
            desired.public_ips[name] = _public_ip_body(location, _merged_tags(current.public_ips.get(_key(name)), gateway_tags))
        ip_configurations.append({'name': config_name, 'properties': {
            'privateIPAllocationMethod': 'Dynamic', 'subnet': {'id': subnet_id}, 'publicIPAddress': {'id': public_ip_id}}})
        if spec.bgp:
            peerings.append({'ipconfigurationId': '%s/ipConfigurations/%s' % (gateway_id, config_name),
                             'customBgpIpAddresses': list(spec.gateway_apipa.get(index) or [])})
    bgp_settings = {'asn': spec.gateway.asn}
    if peerings:
        bgp_settings['bgpPeeringAddresses'] = peerings
    desired.gateway = {
        'location': location, 'tags': _merged_tags(current.gateway, gateway_tags),
        'properties': {'gatewayType': 'Vpn', 'vpnType': 'RouteBased', 'sku': {'name': spec.gateway.sku, 'tier': spec.gateway.sku},
                       'vpnGatewayGeneration': spec.gateway.generation, 'activeActive': True, 'enableBgp': spec.bgp,
                       'ipConfigurations': ip_configurations, 'bgpSettings': bgp_settings}}
    config_ids = ['%s/ipConfigurations/%s' % (gateway_id, config['name']) for config in ip_configurations]
    for tunnel in spec.tunnels:
        lng_name = local_network_gateway_name(spec.name, tunnel.suffix)
        conn_name = connection_name(spec.name, tunnel.suffix)
        tags = {LINK_TAG: spec.name, TUNNEL_TAG: tunnel.suffix}
        lng_properties = {'gatewayIpAddress': tunnel.outside_ip,
                          'localNetworkAddressSpace': {'addressPrefixes': [] if spec.bgp else list(spec.aws_prefixes)}}
        if spec.bgp:
            lng_properties['bgpSettings'] = {'asn': tunnel.amazon_asn, 'bgpPeeringAddress': tunnel.aws_inside_ip}
        desired.local_network_gateways[lng_name] = {
            'location': location, 'tags': _merged_tags(current.local_network_gateways.get(_key(lng_name)), tags), 'properties': lng_properties}
        conn_properties = {
            'connectionType': 'IPsec', 'connectionProtocol': 'IKEv2',
            'virtualNetworkGateway1': {'id': gateway_id},
            'localNetworkGateway2': {'id': arm_id(subscription_id, spec.resource_group, 'localNetworkGateways', lng_name)},
            'enableBgp': spec.bgp, 'usePolicyBasedTrafficSelectors': False,
            'ipsecPolicies': [dict(spec.ipsec_policy)] if spec.ipsec_policy else []}
        if spec.bgp:
            conn_properties['gatewayCustomBgpIpAddresses'] = _connection_custom_bgp(spec, tunnel, config_ids)
        desired.connections[conn_name] = {
            'location': location, 'tags': _merged_tags(current.connections.get(_key(conn_name)), tags), 'properties': conn_properties}
        desired.shared_keys[conn_name] = tunnel.pre_shared_key
        desired.tunnels[conn_name] = tunnel
    return desired


def _connection_custom_bgp(spec: LinkSpec, tunnel: TunnelSpec, config_ids: list) -> list:
    """gatewayCustomBgpIpAddresses of one connection: one entry per gateway instance.

    The instance the AWS connection ends on (its customer gateway) uses the planned APIPA address
    of this tunnel; Azure needs an address for the other instance too: that instance's APIPA
    address of the same AWS tunnel slot (Microsoft's AWS article pairs 169.254.21.2 with 169.254.21.6).
    """
    entries = []
    for instance, config_id in enumerate(config_ids):
        addresses = spec.gateway_apipa.get(instance) or []
        if instance == tunnel.azure_instance:
            address = tunnel.azure_apipa_ip
        else:
            slot = tunnel.aws_tunnel - 1
            address = addresses[slot] if slot < len(addresses) else (addresses[0] if addresses else None)
        if address:
            entries.append({'ipConfigurationId': config_id, 'customBgpIpAddress': address})
    return entries


# ==========================================================================================
# Pure side: summaries (what is compared and shown in the diff) and changes
# ==========================================================================================

POLICY_KEYS = ('saLifeTimeSeconds', 'saDataSizeKilobytes', 'ipsecEncryption', 'ipsecIntegrity', 'ikeEncryption', 'ikeIntegrity', 'dhGroup', 'pfsGroup')


def public_ip_summary(public_ip) -> dict:
    return {'sku': ((public_ip or {}).get('sku') or {}).get('name'),
            'allocation_method': properties(public_ip).get('publicIPAllocationMethod')}


def gateway_summary(gateway) -> dict:
    props = properties(gateway)
    bgp = props.get('bgpSettings') or {}
    custom = {}
    for peering in bgp.get('bgpPeeringAddresses') or []:
        addresses = sorted(peering.get('customBgpIpAddresses') or [])
        if addresses:
            custom[last_segment(peering.get('ipconfigurationId'))] = addresses
    configurations = []
    for config in props.get('ipConfigurations') or []:
        config_properties = config.get('properties') or {}
        subnet_id = (config_properties.get('subnet') or {}).get('id') or ''
        configurations.append({'name': config.get('name'),
                               'subnet': '/'.join(subnet_id.split('/')[-3::2]) if subnet_id else None,
                               'public_ip': last_segment((config_properties.get('publicIPAddress') or {}).get('id'))})
    return {'gateway_type': props.get('gatewayType'), 'vpn_type': props.get('vpnType'), 'sku': (props.get('sku') or {}).get('name'),
            'generation': props.get('vpnGatewayGeneration'), 'active_active': bool(props.get('activeActive')),
            'enable_bgp': bool(props.get('enableBgp')), 'asn': bgp.get('asn'), 'ip_configurations': configurations,
            'custom_bgp_ips': custom}


def local_network_gateway_summary(local_gateway) -> dict:
    props = properties(local_gateway)
    bgp = props.get('bgpSettings')
    return {'gateway_ip_address': props.get('gatewayIpAddress'),
            'address_prefixes': sorted((props.get('localNetworkAddressSpace') or {}).get('addressPrefixes') or []),
            'bgp': {'asn': bgp.get('asn'), 'peering_address': bgp.get('bgpPeeringAddress')} if bgp else None}


def connection_summary(connection) -> dict:
    props = properties(connection)
    policies = [{key: normalise_azure_ipsec_policy(policy).get(key) for key in POLICY_KEYS} for policy in props.get('ipsecPolicies') or []]
    custom = {last_segment(entry.get('ipConfigurationId')): entry.get('customBgpIpAddress')
              for entry in props.get('gatewayCustomBgpIpAddresses') or []}
    return {'connection_type': props.get('connectionType'), 'connection_protocol': props.get('connectionProtocol') or 'IKEv2',
            'virtual_network_gateway': last_segment((props.get('virtualNetworkGateway1') or {}).get('id')),
            'local_network_gateway': last_segment((props.get('localNetworkGateway2') or {}).get('id')),
            'enable_bgp': bool(props.get('enableBgp')), 'use_policy_based_traffic_selectors': bool(props.get('usePolicyBasedTrafficSelectors')),
            'ipsec_policies': policies, 'custom_bgp_ips': custom}


SUMMARIES = {
    'public_ip': public_ip_summary,
    'gateway': gateway_summary,
    'local_network_gateway': local_network_gateway_summary,
    'connection': connection_summary,
}
# Fields Azure cannot change in place: a difference means replace (connections) or an error.
IMMUTABLE_FIELDS = {
    'public_ip': ('sku',),
    'gateway': ('gateway_type', 'vpn_type', 'generation'),
    'connection': ('connection_type', 'virtual_network_gateway', 'local_network_gateway'),
}


def _fold(value):
    """ARM compares names, ids and enum values case-insensitively."""
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, list):
        return [_fold(item) for item in value]
    if isinstance(value, dict):
        return {_fold(key): _fold(item) for key, item in value.items()}
    return value


def differing_fields(kind: str, desired_body, current_body) -> tuple:
    want, have = SUMMARIES[kind](desired_body), SUMMARIES[kind](current_body)
    return tuple(key for key in want if _fold(want[key]) != _fold(have.get(key)))


@dataclass
class Change:
    """One write: create/update (PUT), set_shared_key, delete."""

    action: str
    kind: str  # public_ip | virtual_network | subnet | gateway | local_network_gateway | connection
    name: str
    body: dict | None = field(default=None, repr=False)
    fields: tuple = ()
    reason: str = ''

    def describe(self) -> str:
        action = 'set shared key of' if self.action == 'set_shared_key' else self.action
        text = '%s %s %s' % (action, self.kind, self.name)
        if self.fields:
            text += ' (%s)' % ', '.join(self.fields)
        if self.reason:
            text += ': %s' % self.reason
        return text


@dataclass
class LinkPlan:
    changes: list = field(default_factory=list)
    pending: list = field(default_factory=list)


def _put_change(kind: str, name: str, body: dict, current) -> Change | None:
    if current is None:
        return Change('create', kind, name, body)
    fields = differing_fields(kind, body, current)
    if provisioning_state(current) == 'Failed':
        return Change('update', kind, name, body, fields, reason='provisioningState is Failed')
    return Change('update', kind, name, body, fields) if fields else None


def _gateway_custom_ips(gateway_body) -> set:
    return {(last_segment(peering.get('ipconfigurationId')).lower(), address)
            for peering in (properties(gateway_body).get('bgpSettings') or {}).get('bgpPeeringAddresses') or []
            for address in peering.get('customBgpIpAddresses') or []}


def _connection_custom_ips(connection) -> set:
    return {(last_segment(entry.get('ipConfigurationId')).lower(), entry.get('customBgpIpAddress'))
            for entry in properties(connection).get('gatewayCustomBgpIpAddresses') or []}


def plan_present(spec: LinkSpec, desired: DesiredLink, current: CurrentLink) -> LinkPlan:
    """Changes in dependency order for state=present. Never a gateway write while the gateway is busy."""
    plan = LinkPlan()
    changes = plan.changes
    for name, body in desired.public_ips.items():
        existing = current.public_ips.get(_key(name))
        change = _put_change('public_ip', name, body, existing)
        if change and 'sku' in change.fields:
            raise LinkError('name', 'public IP %s exists with SKU %s; Azure cannot change a public IP SKU and the active-active gateway '
                            'needs Standard: delete it first' % (name, public_ip_summary(existing)['sku']))
        if change:
            changes.append(change)
    vnet_name = spec.virtual_network.name if spec.virtual_network else ''
    if desired.virtual_network is not None:
        changes.append(Change('create', 'virtual_network', vnet_name, desired.virtual_network))
    if desired.gateway_subnet is not None:
        changes.append(Change('create', 'subnet', '%s/%s' % (vnet_name, GATEWAY_SUBNET), desired.gateway_subnet))
    gateway_busy = in_progress(current.gateway)
    gateway_change = None
    if gateway_busy:
        plan.pending.append('gateway %s is %s: its changes and the connections wait for it (wait: true waits, up to wait_timeout)'
                            % (spec.gateway.name, provisioning_state(current.gateway)))
    else:
        gateway_change = _put_change('gateway', spec.gateway.name, desired.gateway, current.gateway)
        if gateway_change and current.gateway is not None:
            summary_now = gateway_summary(current.gateway)
            for field_name in IMMUTABLE_FIELDS['gateway']:
                if field_name in gateway_change.fields and summary_now.get(field_name):
                    option = 'gateway.generation' if field_name == 'generation' else 'gateway'
                    raise LinkError(option, 'gateway %s has %s %s; Azure cannot change it to %s (delete the gateway to rebuild it)'
                                    % (spec.gateway.name, field_name, summary_now[field_name], gateway_summary(desired.gateway)[field_name]))
    # Connections first checked, so that deletions (stale, replaced, blocking a gateway update) come before the gateway write.
    connection_deletes, connection_writes = [], []
    desired_gateway_ips = _gateway_custom_ips(desired.gateway)
    for name, body in desired.connections.items():
        existing = current.connections.get(_key(name))
        key = desired.shared_keys[name]
        if existing is None:
            connection_writes.append(Change('create', 'connection', name, _with_shared_key(body, key)))
            continue
        fields = differing_fields('connection', body, existing)
        blocking = bool(_connection_custom_ips(existing) - desired_gateway_ips) and gateway_change is not None
        immutable = [field_name for field_name in IMMUTABLE_FIELDS['connection'] if field_name in fields]
        if immutable or blocking:
            reason = ('Azure cannot change %s' % ', '.join(immutable)) if immutable else 'its custom BGP addresses leave the gateway'
            connection_deletes.append(Change('delete', 'connection', name, reason='replaced: ' + reason))
            connection_writes.append(Change('create', 'connection', name, _with_shared_key(body, key), reason='replaced'))
            continue
        key_changed = current.shared_keys.get(_key(name)) != key
        if fields or provisioning_state(existing) == 'Failed':
            connection_writes.append(Change('update', 'connection', name, _with_shared_key(body, key),
                                            fields + (('shared_key',) if key_changed else ())))
        elif key_changed:
            connection_writes.append(Change('set_shared_key', 'connection', name, {'value': key}))
    stale_lngs = []
    if spec.manage_tunnels:
        for key_name, existing in current.connections.items():
            if owned_by(existing, spec.name) and key_name not in {_key(name) for name in desired.connections}:
                connection_deletes.append(Change('delete', 'connection', existing.get('name') or key_name, reason='not in aws_tunnels'))
        for key_name, existing in current.local_network_gateways.items():
            if owned_by(existing, spec.name) and key_name not in {_key(name) for name in desired.local_network_gateways}:
                stale_lngs.append(Change('delete', 'local_network_gateway', existing.get('name') or key_name, reason='not in aws_tunnels'))
    connections_wait = gateway_busy or (gateway_change is not None and not spec.wait)
    if connections_wait and (connection_writes or connection_deletes):
        if not gateway_busy:
            plan.pending.append('connections of gateway %s: created or updated once the gateway is provisioned (run again with wait: true)'
                                % spec.gateway.name)
        connection_writes = []
    if not gateway_busy:
        changes.extend(connection_deletes)
    for name, body in desired.local_network_gateways.items():
        change = _put_change('local_network_gateway', name, body, current.local_network_gateways.get(_key(name)))
        if change:
            changes.append(change)
    if gateway_change:
        changes.append(gateway_change)
    changes.extend(connection_writes)
    if not gateway_busy:
        changes.extend(stale_lngs)
    return plan


def _with_shared_key(body: dict, key: str) -> dict:
    with_key = dict(body)
    with_key['properties'] = dict(body['properties'], sharedKey=key)
    return with_key


def plan_absent(spec: LinkSpec, current: CurrentLink) -> LinkPlan:
    """Deletions in dependency order: connections, local network gateways, gateway, public IPs, then the
    GatewaySubnet / virtual network only if this link created them (tags). What depends on a gateway that
    is not gone yet (wait: false, or Azure still busy with it) is left for a later run and reported as pending."""
    plan = LinkPlan()
    changes = plan.changes
    for existing in current.connections.values():
        if owned_by(existing, spec.name) and provisioning_state(existing) != 'Deleting':
            changes.append(Change('delete', 'connection', existing['name']))
    for existing in current.local_network_gateways.values():
        if owned_by(existing, spec.name) and provisioning_state(existing) != 'Deleting':
            changes.append(Change('delete', 'local_network_gateway', existing['name']))
    gateway = current.gateway
    gateway_stays = gateway is not None
    if gateway is not None and owned_by(gateway, spec.name):
        if in_progress(gateway):
            plan.pending.append('gateway %s is %s: it is deleted once that ends (wait: true waits)' % (gateway['name'], provisioning_state(gateway)))
        else:
            changes.append(Change('delete', 'gateway', gateway['name']))
            gateway_stays = not spec.wait
    if gateway_stays and owned_by(gateway, spec.name):
        plan.pending.append('public IPs and network of gateway %s: deleted once the gateway is gone (run again, or wait: true)' % gateway['name'])
        return plan
    for existing in current.public_ips.values():
        if owned_by(existing, spec.name) and provisioning_state(existing) != 'Deleting':
            changes.append(Change('delete', 'public_ip', existing['name']))
    vnet = current.virtual_network
    if vnet is not None and spec.virtual_network is not None:
        if owned_by(vnet, spec.name):
            changes.append(Change('delete', 'virtual_network', vnet['name'], reason='created by this link'))
        elif _created_gateway_subnet(spec, current) and _subnet_named(vnet, GATEWAY_SUBNET) is not None:
            changes.append(Change('delete', 'subnet', '%s/%s' % (vnet['name'], GATEWAY_SUBNET), reason='created by this link'))
    return plan


def _created_gateway_subnet(spec: LinkSpec, current: CurrentLink) -> bool:
    """The gateway or a public IP of this link records that the link created the GatewaySubnet."""
    candidates = [current.gateway] + list(current.public_ips.values())
    return any(owned_by(item, spec.name) and ((item or {}).get('tags') or {}).get(CREATED_SUBNET_TAG) for item in candidates)


# ==========================================================================================
# Pure side: diff and result
# ==========================================================================================

KIND_TITLES = {'public_ip': 'public_ips', 'virtual_network': 'virtual_network', 'subnet': 'gateway_subnet', 'gateway': 'gateway',
               'local_network_gateway': 'local_network_gateways', 'connection': 'connections'}


def _current_of(kind: str, name: str, current: CurrentLink):
    key = _key(name)
    if kind == 'public_ip':
        return current.public_ips.get(key)
    if kind == 'gateway':
        return current.gateway
    if kind == 'local_network_gateway':
        return current.local_network_gateways.get(key)
    if kind == 'connection':
        return current.connections.get(key)
    if kind == 'virtual_network':
        return current.virtual_network
    return None


def _summary_for_diff(kind: str, body) -> dict:
    if kind == 'virtual_network':
        return {'address_prefixes': (properties(body).get('addressSpace') or {}).get('addressPrefixes'),
                'subnets': [subnet.get('name') for subnet in properties(body).get('subnets') or []]}
    if kind == 'subnet':
        return {'address_prefix': properties(body).get('addressPrefix')}
    summary = SUMMARIES[kind](body)
    if kind == 'connection':
        summary['shared_key'] = MASK
    return summary


def link_diff(plan: LinkPlan, current: CurrentLink) -> dict:
    """before/after of every resource a change touches; shared keys masked."""
    before, after = {}, {}
    for change in plan.changes:
        title = KIND_TITLES[change.kind]
        single = change.kind in ('gateway', 'virtual_network', 'subnet')
        existing = _current_of(change.kind, change.name, current)
        if change.action == 'delete':
            if change.kind == 'subnet':
                before_value = {'address_prefix': properties(_subnet_named(current.virtual_network, GATEWAY_SUBNET)).get('addressPrefix')}
            else:
                before_value = _summary_for_diff(change.kind, existing)
            after_value = None
        elif change.action == 'set_shared_key':
            before_value = {'shared_key': MASK}
            after_value = {'shared_key': CHANGED_SECRET}
        else:
            before_value = _summary_for_diff(change.kind, existing) if existing is not None and change.reason != 'replaced' else None
            after_value = _summary_for_diff(change.kind, change.body)
            if change.kind == 'connection' and (existing is None or 'shared_key' in change.fields or change.reason == 'replaced'):
                after_value['shared_key'] = CHANGED_SECRET if existing is not None else MASK
        if single:
            if before_value is not None:
                before[title] = before_value
            if after_value is not None:
                after[title] = after_value
        else:
            if before_value is not None:
                before.setdefault(title, {})[change.name] = before_value
            if after_value is not None:
                after.setdefault(title, {})[change.name] = after_value
    return {'before': before, 'after': after}


def _public_ip_addresses(current: CurrentLink, gateway) -> list:
    """[ip of instance 0, ip of instance 1]: the addresses the AWS customer gateways need."""
    addresses = []
    configs = properties(gateway).get('ipConfigurations') or []
    peerings = (properties(gateway).get('bgpSettings') or {}).get('bgpPeeringAddresses') or []
    for index in (0, 1):
        address = None
        if index < len(configs):
            public_ip_id = ((configs[index].get('properties') or {}).get('publicIPAddress') or {}).get('id')
            address = properties(current.public_ips.get(_key(last_segment(public_ip_id)))).get('ipAddress')
        if address is None and index < len(peerings):
            address = (peerings[index].get('tunnelIpAddresses') or [None])[0]
        addresses.append(address)
    return addresses


def gateway_result(spec: LinkSpec, current: CurrentLink, subscription_id: str) -> dict:
    gateway = current.gateway
    if gateway is None:
        addresses = [properties(current.public_ips.get(_key(public_ip_name(spec.name, index)))).get('ipAddress') for index in (0, 1)]
        return {'name': spec.gateway.name, 'id': arm_id(subscription_id, spec.resource_group, 'virtualNetworkGateways', spec.gateway.name),
                'exists': False, 'provisioning_state': None, 'public_ips': addresses, 'bgp': None}
    props = properties(gateway)
    bgp = props.get('bgpSettings') or {}
    peering_addresses = [{'ip_configuration': last_segment(peering.get('ipconfigurationId')),
                          'default_ips': list(peering.get('defaultBgpIpAddresses') or []),
                          'custom_ips': list(peering.get('customBgpIpAddresses') or []),
                          'tunnel_ips': list(peering.get('tunnelIpAddresses') or [])}
                         for peering in bgp.get('bgpPeeringAddresses') or []]
    result = {'name': gateway.get('name'), 'id': gateway.get('id'), 'exists': True, 'provisioning_state': props.get('provisioningState'),
              'location': gateway.get('location'), 'sku': (props.get('sku') or {}).get('name'), 'generation': props.get('vpnGatewayGeneration'),
              'active_active': bool(props.get('activeActive')), 'enable_bgp': bool(props.get('enableBgp')),
              'public_ips': _public_ip_addresses(current, gateway),
              'bgp': {'asn': bgp.get('asn'), 'peering_addresses': peering_addresses}}
    if current.bgp_peers is not None:
        result['bgp']['peers'] = [{'local_address': peer.get('localAddress'), 'neighbor': peer.get('neighbor'), 'asn': peer.get('asn'),
                                   'state': peer.get('state'), 'routes_received': peer.get('routesReceived'),
                                   'connected_duration': peer.get('connectedDuration')} for peer in current.bgp_peers]
    return result


def _tunnel_of_suffix(suffix) -> tuple:
    match = re.match(r'^c([01])-t([12])$', suffix or '')
    return (int(match.group(1)), int(match.group(2))) if match else (None, None)


def connection_result(name: str, connection, local_gateway, tunnel: TunnelSpec | None) -> dict:
    props = properties(connection)
    lng_props = properties(local_gateway)
    lng_bgp = lng_props.get('bgpSettings') or {}
    suffix = tunnel.suffix if tunnel else ((connection or {}).get('tags') or {}).get(TUNNEL_TAG)
    aws_connection, aws_tunnel = (tunnel.connection, tunnel.aws_tunnel) if tunnel else _tunnel_of_suffix(suffix)
    custom = props.get('gatewayCustomBgpIpAddresses') or []
    apipa = tunnel.azure_apipa_ip if tunnel else None
    if apipa is None and aws_connection is not None and aws_connection < len(custom):
        apipa = custom[aws_connection].get('customBgpIpAddress')
    return {
        'name': name,
        'exists': connection is not None,
        'local_network_gateway': last_segment((props.get('localNetworkGateway2') or {}).get('id')) or (local_gateway or {}).get('name'),
        'aws_outside_ip': tunnel.outside_ip if tunnel else lng_props.get('gatewayIpAddress'),
        'aws_connection': aws_connection,
        'aws_tunnel': 't%d' % aws_tunnel if aws_tunnel else None,
        'azure_instance': aws_connection,
        'inside_cidr': tunnel.inside_cidr if tunnel else None,
        'aws_inside_ip': tunnel.aws_inside_ip if tunnel else lng_bgp.get('bgpPeeringAddress'),
        'azure_apipa_ip': apipa,
        'amazon_asn': (tunnel.amazon_asn if tunnel.azure_apipa_ip else None) if tunnel else lng_bgp.get('asn'),
        'enable_bgp': bool(props.get('enableBgp')),
        'provisioning_state': props.get('provisioningState'),
        'connection_status': props.get('connectionStatus'),
        'ingress_bytes': props.get('ingressBytesTransferred'),
        'egress_bytes': props.get('egressBytesTransferred'),
        'tunnels': [{'azure_public_ip': entry.get('tunnel'), 'connection_status': entry.get('connectionStatus')}
                    for entry in props.get('tunnelConnectionStatus') or []],
    }


def connections_result(spec: LinkSpec, current: CurrentLink, desired: DesiredLink | None) -> list:
    """Present: one entry per aws_tunnels entry; otherwise every connection this link owns."""
    results = []
    if desired is not None and spec.tunnels:
        for name, tunnel in sorted(desired.tunnels.items()):
            lng = current.local_network_gateways.get(_key(local_network_gateway_name(spec.name, tunnel.suffix)))
            results.append(connection_result(name, current.connections.get(_key(name)), lng, tunnel))
        return results
    for key_name, connection in sorted(current.connections.items()):
        if owned_by(connection, spec.name):
            lng = current.local_network_gateways.get(_key(last_segment(properties(connection).get('localNetworkGateway2', {}).get('id'))))
            results.append(connection_result(connection.get('name') or key_name, connection, lng, None))
    return results


# ==========================================================================================
# SDK side: reading, waiting and applying (every call through the _azure adapter)
# ==========================================================================================

LIST_ACTIONS = (
    ('public_ips', 'public_ip_addresses', 'list public IP addresses'),
    ('gateways', 'virtual_network_gateways', 'list virtual network gateways'),
    ('local_network_gateways', 'local_network_gateways', 'list local network gateways'),
    ('connections', 'virtual_network_gateway_connections', 'list connections'),
)
OPERATIONS_OF_KIND = {
    'public_ip': 'public_ip_addresses',
    'virtual_network': 'virtual_networks',
    'gateway': 'virtual_network_gateways',
    'local_network_gateway': 'local_network_gateways',
    'connection': 'virtual_network_gateway_connections',
}


def _as_dict(model):
    if model is None or isinstance(model, dict):
        return model
    return model.as_dict()


class LinkClient:
    """The link's SDK calls on one resource group, bounded by one deadline (wait_timeout)."""

    def __init__(self, client, spec: LinkSpec, *, poll_interval: float, clock=time.monotonic, sleep=time.sleep):
        self.client = client
        self.spec = spec
        self.resource_group = spec.resource_group
        self.poll_interval = poll_interval
        self.clock = clock
        self.sleep = sleep
        self.deadline = clock() + spec.wait_timeout

    def remaining(self) -> float:
        return max(0.0, self.deadline - self.clock())

    # -- reads ---------------------------------------------------------------------------
    def _list(self, attribute: str, action: str) -> list:
        operations = getattr(self.client, attribute)
        try:
            return [_as_dict(item) for item in azure_call(action, lambda: list(operations.list(self.resource_group)))]
        except AzureError as error:
            if error.code == 'ResourceGroupNotFound':
                raise LinkError('resource_group', 'resource group %s does not exist' % self.resource_group) from None
            raise

    def read(self, *, shared_key_names=(), read_virtual_network: bool | None = None) -> CurrentLink:
        """One list per resource type (4 reads), the VNet when needed, the shared keys of the named connections."""
        current = CurrentLink()
        lists = {key: self._list(attribute, action) for key, attribute, action in LIST_ACTIONS}
        current.public_ips = {_key(item['name']): item for item in lists['public_ips']}
        current.gateway = next((item for item in lists['gateways'] if _key(item['name']) == _key(self.spec.gateway.name)), None)
        current.local_network_gateways = {_key(item['name']): item for item in lists['local_network_gateways']}
        current.connections = {_key(item['name']): item for item in lists['connections']}
        if read_virtual_network is None:
            read_virtual_network = current.gateway is None
        if read_virtual_network and self.spec.virtual_network is not None:
            self.read_virtual_network(current)
        self.read_shared_keys(current, shared_key_names)
        return current

    def read_virtual_network(self, current: CurrentLink) -> None:
        name = self.spec.virtual_network.name
        current.virtual_network = _as_dict(get_or_none('get virtual network %s' % name, self.client.virtual_networks.get, self.resource_group, name))
        current.virtual_network_read = True

    def read_shared_keys(self, current: CurrentLink, names) -> None:
        for name in names:
            if _key(name) in current.connections and not in_progress(current.connections[_key(name)]):
                shared_key = azure_call('get shared key of connection %s' % name,
                                        self.client.virtual_network_gateway_connections.get_shared_key, self.resource_group, name)
                current.shared_keys[_key(name)] = _as_dict(shared_key).get('value')

    def read_bgp_peers(self, current: CurrentLink) -> None:
        """getBgpPeerStatus (an ARM POST action: the request log counts it as a write, it changes nothing)."""
        if current.gateway is None or in_progress(current.gateway) or not properties(current.gateway).get('enableBgp'):
            return
        poller = azure_call('get BGP peer status of gateway %s' % self.spec.gateway.name,
                            self.client.virtual_network_gateways.begin_get_bgp_peer_status, self.resource_group, self.spec.gateway.name)
        result = _as_dict(wait_poller(poller, max(self.remaining(), 60.0), action='get BGP peer status'))
        current.bgp_peers = list((result or {}).get('value') or [])

    def wait_for_gateway(self) -> dict | None:
        """Poll the gateway until Azure ends its current operation (never a second PUT meanwhile)."""
        name = self.spec.gateway.name
        while True:
            gateway = _as_dict(get_or_none('get gateway %s' % name, self.client.virtual_network_gateways.get, self.resource_group, name))
            if not in_progress(gateway):
                return gateway
            if self.remaining() <= 0:
                raise AzureError('waiting for gateway %s timed out after %d s (wait_timeout); provisioningState is still %s'
                                 % (name, self.spec.wait_timeout, provisioning_state(gateway)), code='Timeout')
            self.sleep(min(self.poll_interval, self.remaining()))

    # -- writes --------------------------------------------------------------------------
    def _begin(self, action: str, function, *args, secrets=(), **kwargs):
        """Start a write; on 409 AnotherOperationInProgress wait and try again until the deadline."""
        while True:
            try:
                return azure_call(action, function, *args, secrets=secrets, **kwargs)
            except AzureError as error:
                if error.code != 'AnotherOperationInProgress' or self.remaining() <= 0:
                    raise
                self.sleep(min(self.poll_interval, self.remaining()))

    def _start(self, change: Change):
        """Begin one change: (poller, action text). Pollers run in the background, so a batch overlaps."""
        action = change.describe()
        secrets = (change.body or {}).get('properties', {}).get('sharedKey'), (change.body or {}).get('value')
        resource_group = self.resource_group
        if change.kind == 'subnet':
            vnet_name, subnet_name = change.name.split('/', 1)
            if change.action == 'delete':
                return self._begin(action, self.client.subnets.begin_delete, resource_group, vnet_name, subnet_name), action
            return self._begin(action, self.client.subnets.begin_create_or_update, resource_group, vnet_name, subnet_name, change.body), action
        operations = getattr(self.client, OPERATIONS_OF_KIND[change.kind])
        if change.action == 'delete':
            return self._begin(action, operations.begin_delete, resource_group, change.name), action
        if change.action == 'set_shared_key':
            return self._begin(action, operations.begin_set_shared_key, resource_group, change.name, change.body, secrets=secrets), action
        if change.kind == 'gateway' and not self.spec.wait:
            return self._begin(action, operations.begin_create_or_update, resource_group, change.name, change.body, polling=False), action
        return self._begin(action, operations.begin_create_or_update, resource_group, change.name, change.body, secrets=secrets), action

    def apply(self, plan: LinkPlan, current: CurrentLink) -> list:
        """Run the changes in order; consecutive changes of one kind and action overlap. Returns what was done."""
        done = []
        batch = []
        for change in plan.changes:
            if batch and (batch[0].kind, batch[0].action == 'delete') != (change.kind, change.action == 'delete'):
                self._run_batch(batch, current, done)
                batch = []
            batch.append(change)
        if batch:
            self._run_batch(batch, current, done)
        return done

    def _run_batch(self, batch: list, current: CurrentLink, done: list) -> None:
        started = [(change,) + self._start(change) for change in batch]
        for change, poller, action in started:
            if change.kind == 'gateway' and change.action != 'delete' and not self.spec.wait:
                result = _as_dict(poller.result())  # polling=False: the answer to the PUT (provisioningState Updating)
            elif change.kind == 'gateway' and change.action == 'delete' and not self.spec.wait:
                result = None
                current.gateway = dict(current.gateway or {}, properties=dict(properties(current.gateway), provisioningState='Deleting'))
                done.append(change.describe())
                continue
            else:
                secrets = ((change.body or {}).get('properties', {}).get('sharedKey'), (change.body or {}).get('value'))
                result = _as_dict(wait_poller(poller, self.remaining(), action=action, secrets=secrets))
            self._record(change, result, current)
            done.append(change.describe())

    def _record(self, change: Change, result, current: CurrentLink) -> None:
        key = _key(change.name)
        if change.kind == 'subnet' or change.action == 'set_shared_key':
            if change.action == 'set_shared_key':
                current.shared_keys[key] = change.body['value']
            return
        if change.kind == 'virtual_network':
            current.virtual_network = None if change.action == 'delete' else result
            return
        if change.kind == 'gateway':
            current.gateway = None if change.action == 'delete' else result
            return
        table = {'public_ip': current.public_ips, 'local_network_gateway': current.local_network_gateways,
                 'connection': current.connections}[change.kind]
        if change.action == 'delete':
            table.pop(key, None)
        else:
            table[key] = result


def run_link(client, spec: LinkSpec, *, subscription_id: str, check_mode: bool, poll_interval: float,
             want_diff: bool = False, clock=time.monotonic, sleep=time.sleep) -> dict:
    """Read, plan, apply (unless check_mode) and return the module result; it never holds a secret."""
    link_client = LinkClient(client, spec, poll_interval=poll_interval, clock=clock, sleep=sleep)
    shared_key_names = [connection_name(spec.name, tunnel.suffix) for tunnel in spec.tunnels] if spec.state == 'present' else []
    current = link_client.read(shared_key_names=shared_key_names,
                               read_virtual_network={'present': None, 'absent': spec.virtual_network is not None}.get(spec.state, False))
    if spec.state == 'gathered':
        link_client.read_bgp_peers(current)
        return _result(spec, current, None, LinkPlan(), [], subscription_id, changed=False)
    if spec.wait and not check_mode and in_progress(current.gateway):
        current.gateway = link_client.wait_for_gateway()
        if current.gateway is None and spec.state == 'present' and not current.virtual_network_read and spec.virtual_network is not None:
            link_client.read_virtual_network(current)
    if spec.state == 'absent':
        desired = None
        plan = plan_absent(spec, current)
    else:
        desired = desired_link(spec, subscription_id, current)
        plan = plan_present(spec, desired, current)
    diff = link_diff(plan, current) if want_diff else None
    done = []
    if not check_mode:
        done = link_client.apply(plan, current)
    result = _result(spec, current, desired, plan, done, subscription_id, changed=bool(plan.changes))
    if diff is not None:
        result['diff'] = diff
    return result


def _result(spec: LinkSpec, current: CurrentLink, desired: DesiredLink | None, plan: LinkPlan, done: list, subscription_id: str, *,
            changed: bool) -> dict:
    return {
        'changed': changed,
        'operations': [change.describe() for change in plan.changes],
        'performed': done,
        'pending': list(plan.pending),
        'mode': spec.mode,
        'gateway': gateway_result(spec, current, subscription_id),
        'connections': connections_result(spec, current, desired),
    }

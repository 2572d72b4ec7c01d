# EC2 stand-in: moto's EC2 backend extended for Site-to-Site VPN.
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""moto's EC2 models and backend, subclassed where they fall short for Site-to-Site VPN.

What moto 5.2.5 lacks and this module adds:
- VPN connections: Options (StaticRoutesOnly, TunnelOptions per tunnel with OutsideIpAddress, inside
  CIDR, PSK and every ModifyVpnTunnelOptions field), VgwTelemetry, Routes, a per-connection
  CustomerGatewayConfiguration, states over time (pending -> available, modifying, deleting ->
  deleted), deleted connections visible for a while;
- ModifyVpnTunnelOptions, Create/DeleteVpnConnectionRoute, Enable/DisableVgwRoutePropagation;
- customer gateways: idempotent create (type + IP + ASN + DeviceName), DeviceName, refused delete
  while a connection uses one;
- VPN gateways: default Amazon-side ASN 64512, states over time, one VPC per gateway and one
  gateway per VPC, refused delete while attached or in use.
Every timing comes from the stand-in's Delays (kinds listed in DELAY_DEFAULTS).
"""
from __future__ import annotations

import ipaddress
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from moto.ec2.exceptions import InvalidCustomerGatewayIdError, InvalidVpnConnectionIdError, InvalidVpnGatewayIdError
from moto.ec2.models import EC2Backend
from moto.ec2.models.customer_gateways import CustomerGateway
from moto.ec2.models.vpn_connections import VPNConnection
from moto.ec2.models.vpn_gateway import VPCGatewayAttachment, VpnGateway
from moto.ec2.utils import random_customer_gateway_id, random_vpn_connection_id, random_vpn_gateway_id

from .._common import Delays
from ._documents import ConnectionPlan, TunnelPlan, customer_gateway_configuration
from ._tunnels import (OutsideAddressPool, options_from_request, random_inside_cidr,
                       random_inside_ipv6_cidr, random_pre_shared_key, validate_inside_cidr, validate_options)
from ._wire import AwsApiError

DELAY_DEFAULTS = {
    "vpn_connection": 0.2,          # pending -> available, deleting -> deleted
    "vpn_modify": 0.2,              # modifying -> available after ModifyVpnTunnelOptions
    "vpn_gateway": 0.1,             # pending -> available, deleting -> deleted
    "vpn_gateway_attachment": 0.1,  # attaching -> attached, detaching -> detached
    "vpn_route": 0.1,               # static route pending -> available, deleting -> gone
    "deleted_retention": 120.0,     # how long deleted connections / gateways stay visible
}
DEFAULT_AMAZON_SIDE_ASN = 64512
DEFAULT_CUSTOMER_GATEWAY_ASN = 65000
TUNNEL_DOWN_MESSAGE = "IPSEC IS DOWN"
LIVE_STATES = ("pending", "available", "modifying")


def monotonic() -> float:
    return time.monotonic()


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


class Lifecycle:
    """A resource state over time: steps (at, state); the state is the last step whose time has come."""

    def __init__(self, *steps_from_now: tuple[float, str]) -> None:
        self._steps: list[tuple[float, str]] = []
        self.move(*steps_from_now)

    def move(self, *steps_from_now: tuple[float, str]) -> None:
        """Forget steps still to come and schedule new ones (delays relative to now)."""
        start = monotonic()
        self._steps = [step for step in self._steps if step[0] <= start]
        self._steps += [(start + delay, state) for delay, state in steps_from_now]

    @property
    def state(self) -> str:
        now = monotonic()
        current = self._steps[0][1]
        for at, state in self._steps:
            if at <= now:
                current = state
        return current

    def seconds_in(self, state: str) -> float:
        """How long the resource has been in ``state`` if that is where it is now, else -1."""
        now = monotonic()
        since = -1.0
        for at, step_state in self._steps:
            if at <= now:
                since = now - at if step_state == state else -1.0
        return since


class TimedState:
    """Mixin: ``state`` follows a Lifecycle; moto's own assignments (``x.state = "deleted"``) move it at once."""

    lifecycle: Lifecycle | None = None
    _state_before_lifecycle = "available"

    @property
    def state(self) -> str:  # type: ignore[override]
        return self.lifecycle.state if self.lifecycle else self._state_before_lifecycle

    @state.setter
    def state(self, value: str) -> None:
        if self.lifecycle is None:
            self._state_before_lifecycle = value
        else:
            self.lifecycle.move((0.0, value))


class LabCustomerGateway(CustomerGateway):
    def __init__(self, ec2_backend: Any, gateway_id: str, gateway_type: str, ip_address: str | None, bgp_asn: int,
                 tags: dict | None = None, device_name: str | None = None, certificate_arn: str | None = None,
                 bgp_asn_extended: int | None = None) -> None:
        super().__init__(ec2_backend, gateway_id, gateway_type, ip_address, str(bgp_asn), tags=tags)
        self.device_name = device_name
        self.certificate_arn = certificate_arn
        self.bgp_asn_extended = str(bgp_asn_extended) if bgp_asn_extended is not None else None
        self.deleted_at: float | None = None

    @property
    def asn(self) -> int:
        return int(self.bgp_asn_extended or self.bgp_asn)

    def get_filter_value(self, filter_name: str, method_name: str | None = None) -> Any:
        if filter_name == "customer-gateway-id":
            return self.id
        if filter_name == "device-name":
            return self.device_name
        return super().get_filter_value(filter_name, method_name)


class LabVpcAttachment(TimedState, VPCGatewayAttachment):
    def __init__(self, vpc_id: str, attach_delay: float) -> None:
        super().__init__(vpc_id, state="attaching")
        self.lifecycle = Lifecycle((0.0, "attaching"), (attach_delay, "attached"))


class LabVpnGateway(TimedState, VpnGateway):
    def __init__(self, ec2_backend: Any, gateway_id: str, gateway_type: str, amazon_side_asn: int,
                 availability_zone: str | None, tags: dict | None, create_delay: float) -> None:
        super().__init__(ec2_backend, gateway_id, gateway_type, amazon_side_asn, availability_zone, tags)
        self.lifecycle = Lifecycle((0.0, "pending"), (create_delay, "available"))

    @property
    def live_attachments(self) -> list[VPCGatewayAttachment]:
        return [attachment for attachment in self.attachments.values() if attachment.state in ("attaching", "attached")]


@dataclass
class Tunnel:
    """One tunnel of a VPN connection, keyed by its outside IP."""

    outside_ip: str
    inside_cidr: str | None
    inside_ipv6_cidr: str | None
    pre_shared_key: str
    options: dict                      # options the caller set, TunnelOption names, lists unwrapped
    status: str = "DOWN"
    status_message: str = TUNNEL_DOWN_MESSAGE
    accepted_route_count: int = 0
    last_status_change: datetime = field(default_factory=utcnow)
    revision: int = 1                  # +1 each time ModifyVpnTunnelOptions replaces the endpoint

    def set_down(self) -> None:
        if self.status != "DOWN":
            self.last_status_change = utcnow()
        self.status, self.status_message, self.accepted_route_count = "DOWN", TUNNEL_DOWN_MESSAGE, 0

    def as_tunnel_option(self, show_key: bool) -> dict:
        """The TunnelOption shape DescribeVpnConnections returns: set options only, plus address and key."""
        shown: dict = {"OutsideIpAddress": self.outside_ip}
        if self.inside_cidr:
            shown["TunnelInsideCidr"] = self.inside_cidr
        if self.inside_ipv6_cidr:
            shown["TunnelInsideIpv6Cidr"] = self.inside_ipv6_cidr
        if show_key:
            shown["PreSharedKey"] = self.pre_shared_key
        for name, value in self.options.items():
            shown[name] = [{"Value": item} for item in value] if isinstance(value, list) else value
        shown.setdefault("LogOptions", {"CloudWatchLogOptions": {"LogEnabled": False}})
        return shown


@dataclass
class StaticRoute:
    destination_cidr_block: str
    lifecycle: Lifecycle


class LabVpnConnection(TimedState, VPNConnection):
    """moto's VPNConnection with options, tunnels, telemetry, routes and a real configuration document."""

    class Meta:
        # moto's __init__ assigns self.options = None; the Options member is served from connection_options.
        serialization_aliases = {"Options": "connection_options"}

    def __init__(self, ec2_backend: Any, vpn_connection_id: str, connection_type: str, customer_gateway: LabCustomerGateway,
                 gateway: Any, tags: dict | None, connection_options: dict, tunnels: list[Tunnel],
                 pre_shared_key_storage: str, create_delay: float) -> None:
        is_transit = gateway is not None and not isinstance(gateway, VpnGateway)
        super().__init__(ec2_backend, vpn_connection_id, connection_type, customer_gateway.id,
                         vpn_gateway_id=None if is_transit or gateway is None else gateway.id,
                         transit_gateway_id=gateway.id if is_transit else None, tags=tags)
        self.customer_gateway = customer_gateway
        self.gateway = gateway
        self.level_options = connection_options
        self.tunnel_list = tunnels
        self.static_route_table: dict[str, StaticRoute] = {}
        self.bgp_routes: list[str] = []
        self.pre_shared_key_storage = pre_shared_key_storage
        self.lifecycle = Lifecycle((0.0, "pending"), (create_delay, "available"))

    # -- members DescribeVpnConnections serializes -------------------------------------------------
    category = "VPN"

    @property
    def gateway_association_state(self) -> str:
        return "associated" if self.gateway is not None else "not-associated"

    @property
    def static_routes_only(self) -> bool:
        return bool(self.level_options.get("StaticRoutesOnly"))

    @property
    def pre_shared_key_arn(self) -> str | None:
        if self.pre_shared_key_storage != "SecretsManager":
            return None
        return "arn:aws:secretsmanager:%s:%s:secret:vpn-psk-%s" % (self.ec2_backend.region_name, self.ec2_backend.account_id, self.id)

    @property
    def connection_options(self) -> dict:
        show_key = self.pre_shared_key_storage != "SecretsManager"
        return {**self.level_options, "TunnelOptions": [tunnel.as_tunnel_option(show_key) for tunnel in self.tunnel_list]}

    @property
    def vgw_telemetry(self) -> list[dict]:
        # Ordered by outside IP, not by tunnel: as on AWS, never pair telemetry with TunnelOptions by index.
        return [{"OutsideIpAddress": tunnel.outside_ip, "Status": tunnel.status, "StatusMessage": tunnel.status_message,
                 "LastStatusChange": tunnel.last_status_change, "AcceptedRouteCount": tunnel.accepted_route_count}
                for tunnel in sorted(self.tunnel_list, key=lambda tunnel: ipaddress.ip_address(tunnel.outside_ip))]

    @property
    def routes(self) -> list[dict]:
        return [{"DestinationCidrBlock": route.destination_cidr_block, "Source": "Static", "State": route.lifecycle.state}
                for route in self.static_route_table.values()]

    @property
    def customer_gateway_configuration(self) -> str | None:  # type: ignore[override]
        if self.state in ("deleting", "deleted"):
            return None
        return customer_gateway_configuration(self.plan())

    def plan(self) -> ConnectionPlan:
        gateway = self.gateway
        is_vgw = gateway is None or isinstance(gateway, VpnGateway)
        return ConnectionPlan(
            vpn_connection_id=self.id, connection_type=self.type, customer_gateway_id=self.customer_gateway.id,
            customer_gateway_ip=self.customer_gateway.ip_address or "", customer_gateway_asn=self.customer_gateway.asn,
            gateway_id=gateway.id if gateway is not None else "", gateway_element="vpn_gateway_id" if is_vgw else "transit_gateway_id",
            amazon_side_asn=int(getattr(gateway, "amazon_side_asn", None) or DEFAULT_AMAZON_SIDE_ASN)
            if is_vgw else int(gateway.options.get("AmazonSideAsn", DEFAULT_AMAZON_SIDE_ASN)),
            static_routes_only=self.static_routes_only,
            tunnels=[TunnelPlan(tunnel.outside_ip, tunnel.inside_cidr or tunnel.inside_ipv6_cidr or "", tunnel.pre_shared_key)
                     for tunnel in self.tunnel_list])

    def tunnel(self, outside_ip: str) -> Tunnel | None:
        return next((tunnel for tunnel in self.tunnel_list if tunnel.outside_ip == outside_ip), None)

    def get_filter_value(self, filter_name: str, method_name: str | None = None) -> Any:
        values = {
            "vpn-connection-id": self.id, "customer-gateway-id": self.customer_gateway_id, "state": self.state,
            "type": self.type, "vpn-gateway-id": self.vpn_gateway_id, "transit-gateway-id": self.transit_gateway_id,
            "option.static-routes-only": self.static_routes_only, "bgp-asn": str(self.customer_gateway.asn),
            "route.destination-cidr-block": [route["DestinationCidrBlock"] for route in self.routes],
            "customer-gateway-configuration": self.customer_gateway_configuration,
        }
        if filter_name in values:
            return values[filter_name]
        return super().get_filter_value(filter_name, method_name)


@dataclass
class LabSettings:
    """Per-app knobs shared by every account/region backend of one stand-in."""

    delays: Delays
    rng: random.Random
    outside_addresses: OutsideAddressPool

    def delay(self, kind: str) -> float:
        return self.delays.get(kind, DELAY_DEFAULTS[kind])


class LabEC2Backend(EC2Backend):
    """moto's EC2 backend with the Site-to-Site VPN behaviour AWS has. ``lab`` is set per app."""

    lab: LabSettings

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        # route table id -> VPN gateway ids propagating into it
        self.route_propagation: dict[str, list[str]] = {}

    # -- deleted objects stay visible for a while ----------------------------------------------------
    def purge_deleted(self) -> None:
        retention = self.lab.delay("deleted_retention")
        for connection_id, connection in list(self.vpn_connections.items()):
            if isinstance(connection, LabVpnConnection) and connection.lifecycle.seconds_in("deleted") > retention:
                for tunnel in connection.tunnel_list:
                    self.lab.outside_addresses.release(tunnel.outside_ip)
                del self.vpn_connections[connection_id]
        for gateway_id, gateway in list(self.vpn_gateways.items()):
            if isinstance(gateway, LabVpnGateway) and gateway.lifecycle.seconds_in("deleted") > retention:
                del self.vpn_gateways[gateway_id]
        now = monotonic()
        for gateway_id, customer_gateway in list(self.customer_gateways.items()):
            deleted_at = getattr(customer_gateway, "deleted_at", None)
            if deleted_at is not None and now - deleted_at > retention:
                del self.customer_gateways[gateway_id]
        for connection in self.vpn_connections.values():
            if isinstance(connection, LabVpnConnection):
                for destination, route in list(connection.static_route_table.items()):
                    if route.lifecycle.state == "deleted":
                        del connection.static_route_table[destination]

    # -- tags -------------------------------------------------------------------------------------------
    def describe_tags(self, filters: dict | None = None) -> list:  # type: ignore[override]
        """moto names an Elastic IP's resource type "vpc-elastic-ip"; AWS says "elastic-ip" (DescribeTags and its
        resource-type filter). amazon.aws.ec2_eip filters by "elastic-ip": without this it re-tags on every run."""
        if filters and "elastic-ip" in (filters.get("resource-type") or []):
            filters = dict(filters, **{"resource-type": list(filters["resource-type"]) + ["vpc-elastic-ip"]})
        results = super().describe_tags(filters)
        return [dict(result, resource_type="elastic-ip") if result.get("resource_type") == "vpc-elastic-ip" else result
                for result in results]

    # -- security group rules ---------------------------------------------------------------------------
    PORTED_PROTOCOLS = {"tcp", "udp", "icmp", "icmpv6", "6", "17", "1", "58", "-1", "all"}

    def _iterate_security_rules(self, ip_protocol: str, group_id: str, from_port: Any, to_port: Any,  # type: ignore[override]
                                *args: Any, **kwargs: Any) -> Any:
        """moto 5.2.5 fails (int(None)) on a rule for a protocol without ports, such as ESP (50), which AWS accepts
        and describes without FromPort/ToPort: build it with placeholder ports, then drop them."""
        portless = str(ip_protocol).lower() not in self.PORTED_PROTOCOLS and from_port is None and to_port is None
        for rule in super()._iterate_security_rules(ip_protocol, group_id, -1 if portless else from_port, -1 if portless else to_port,
                                                    *args, **kwargs):
            if portless:
                rule.from_port = rule.to_port = None
            yield rule

    # -- Elastic IPs ------------------------------------------------------------------------------------
    ELASTIC_IP_NETWORK = ipaddress.IPv4Network("198.18.0.0/16")

    def allocate_address(self, domain: str, address: str | None = None, tags: dict | None = None) -> Any:  # type: ignore[override]
        """moto draws Elastic IPs from 127.0.0.0/8, which no data plane routes between namespaces: the lab draws
        them from 198.18.0.0/16 (RFC 2544), apart from the AWS (203.0.113.0/24), GCP and Azure outside ranges."""
        if not address:
            in_use = {existing.public_ip for existing in self.addresses}
            while True:
                candidate = str(self.ELASTIC_IP_NETWORK[self.lab.rng.randrange(1, self.ELASTIC_IP_NETWORK.num_addresses - 1)])
                if candidate not in in_use:
                    address = candidate
                    break
        return super().allocate_address(domain, address=address, tags=tags)

    # -- customer gateways -----------------------------------------------------------------------------
    def create_customer_gateway(self, gateway_type: str, ip_address: str, bgp_asn: str,  # type: ignore[override]
                                tags: dict | None = None, device_name: str | None = None,
                                certificate_arn: str | None = None, bgp_asn_extended: int | None = None) -> LabCustomerGateway:
        self.purge_deleted()
        if ip_address is not None:
            try:
                ipaddress.IPv4Address(ip_address)
            except ValueError:
                raise AwsApiError("InvalidParameterValue", "Invalid value '%s' for IpAddress" % ip_address) from None
        elif certificate_arn is None:
            raise AwsApiError("MissingParameter", "The request must contain the parameter IpAddress or CertificateArn")
        if bgp_asn is not None and bgp_asn_extended is not None:
            raise AwsApiError("InvalidParameterCombination", "BgpAsn and BgpAsnExtended cannot both be specified")
        if bgp_asn_extended is not None and not 2147483648 <= int(bgp_asn_extended) <= 4294967295:
            raise AwsApiError("InvalidParameterValue", "BgpAsnExtended must be between 2147483648 and 4294967295")
        asn = DEFAULT_CUSTOMER_GATEWAY_ASN if bgp_asn is None and bgp_asn_extended is None else bgp_asn
        if asn is not None and not 1 <= int(asn) <= 2147483647:
            raise AwsApiError("InvalidParameterValue", "BgpAsn must be between 1 and 2147483647")
        for existing in self.customer_gateways.values():
            if (existing.state in ("pending", "available") and existing.type == gateway_type
                    and existing.ip_address == ip_address and getattr(existing, "device_name", None) == device_name
                    and getattr(existing, "certificate_arn", None) == certificate_arn
                    and existing.bgp_asn == (str(asn) if asn is not None else existing.bgp_asn)
                    and getattr(existing, "bgp_asn_extended", None) == (str(bgp_asn_extended) if bgp_asn_extended is not None else None)):
                return existing  # AWS: an identical request returns the existing customer gateway
        customer_gateway = LabCustomerGateway(self, random_customer_gateway_id(), gateway_type, ip_address,
                                              int(asn) if asn is not None else int(bgp_asn_extended), tags=tags,
                                              device_name=device_name, certificate_arn=certificate_arn,
                                              bgp_asn_extended=bgp_asn_extended)
        self.customer_gateways[customer_gateway.id] = customer_gateway
        return customer_gateway

    def describe_customer_gateways(self, filters: Any = None, customer_gateway_ids: list[str] | None = None) -> list:
        self.purge_deleted()
        for customer_gateway_id in customer_gateway_ids or []:
            if customer_gateway_id not in self.customer_gateways:
                raise InvalidCustomerGatewayIdError(customer_gateway_id)
        return super().describe_customer_gateways(filters, customer_gateway_ids)

    def delete_customer_gateway(self, customer_gateway_id: str) -> None:
        self.purge_deleted()
        customer_gateway = self.get_customer_gateway(customer_gateway_id)
        if customer_gateway.state == "deleted":
            return
        users = [connection.id for connection in self.vpn_connections.values()
                 if connection.customer_gateway_id == customer_gateway_id and connection.state not in ("deleted",)]
        if users:
            raise AwsApiError("IncorrectState", "The customer gateway %s is in use by VPN connection(s) %s"
                              % (customer_gateway_id, ", ".join(sorted(users))))
        customer_gateway.state = "deleted"
        customer_gateway.deleted_at = monotonic()

    # -- VPN gateways ------------------------------------------------------------------------------------
    def create_vpn_gateway(self, gateway_type: str = "ipsec.1", amazon_side_asn: Any = None,  # type: ignore[override]
                           availability_zone: str | None = None, tags: dict | None = None) -> LabVpnGateway:
        self.purge_deleted()
        asn = DEFAULT_AMAZON_SIDE_ASN if amazon_side_asn is None else int(amazon_side_asn)
        if not (64512 <= asn <= 65534 or 4200000000 <= asn <= 4294967294):
            raise AwsApiError("InvalidParameterValue", "Invalid value '%d' for AmazonSideAsn: a private ASN is required "
                                                       "(64512-65534 or 4200000000-4294967294)" % asn)
        gateway = LabVpnGateway(self, random_vpn_gateway_id(), gateway_type, asn, availability_zone, tags,
                                self.lab.delay("vpn_gateway"))
        self.vpn_gateways[gateway.id] = gateway
        return gateway

    def describe_vpn_gateways(self, filters: Any = None, vpn_gw_ids: list[str] | None = None) -> list:
        self.purge_deleted()
        for gateway_id in vpn_gw_ids or []:
            if gateway_id not in self.vpn_gateways:
                raise InvalidVpnGatewayIdError(gateway_id)
        return super().describe_vpn_gateways(filters, vpn_gw_ids)

    def attach_vpn_gateway(self, vpn_gateway_id: str, vpc_id: str) -> VPCGatewayAttachment:
        gateway = self.get_vpn_gateway(vpn_gateway_id)
        self.get_vpc(vpc_id)
        if gateway.state not in ("pending", "available"):
            raise AwsApiError("IncorrectState", "The VPN gateway %s is in state %s" % (vpn_gateway_id, gateway.state))
        live = gateway.live_attachments
        if any(attachment.vpc_id == vpc_id for attachment in live):
            raise AwsApiError("VpnGatewayAttachmentLimitExceeded", "%s is already attached to %s" % (vpn_gateway_id, vpc_id))
        if live:
            raise AwsApiError("VpnGatewayAttachmentLimitExceeded",
                              "%s is already attached to %s: a VPN gateway attaches to one VPC" % (vpn_gateway_id, live[0].vpc_id))
        for other in self.vpn_gateways.values():
            if other is not gateway and any(attachment.vpc_id == vpc_id for attachment in getattr(other, "live_attachments", [])):
                raise AwsApiError("InvalidParameterValue", "%s already has VPN gateway %s attached: a VPC takes one VPN gateway"
                                  % (vpc_id, other.id))
        attachment = LabVpcAttachment(vpc_id, self.lab.delay("vpn_gateway_attachment"))
        gateway.attachments[vpc_id] = attachment
        return attachment

    def detach_vpn_gateway(self, vpn_gateway_id: str, vpc_id: str) -> VPCGatewayAttachment:
        attachment = super().detach_vpn_gateway(vpn_gateway_id, vpc_id)
        if isinstance(attachment, LabVpcAttachment):
            attachment.lifecycle.move((0.0, "detaching"), (self.lab.delay("vpn_gateway_attachment"), "detached"))
        for route_table in self.route_tables.values():
            if route_table.vpc_id == vpc_id and vpn_gateway_id in self.route_propagation.get(route_table.id, []):
                self.route_propagation[route_table.id].remove(vpn_gateway_id)
        return attachment

    def delete_vpn_gateway(self, vpn_gateway_id: str) -> VpnGateway:
        gateway = self.get_vpn_gateway(vpn_gateway_id)
        if gateway.state in ("deleting", "deleted"):
            return gateway
        if getattr(gateway, "live_attachments", None):
            raise AwsApiError("IncorrectState", "The VPN gateway %s is attached to %s; detach it first"
                              % (vpn_gateway_id, gateway.live_attachments[0].vpc_id))
        users = [connection.id for connection in self.vpn_connections.values()
                 if connection.vpn_gateway_id == vpn_gateway_id and connection.state not in ("deleted",)]
        if users:
            raise AwsApiError("IncorrectState", "The VPN gateway %s is in use by VPN connection(s) %s" % (vpn_gateway_id, ", ".join(users)))
        gateway.lifecycle.move((0.0, "deleting"), (self.lab.delay("vpn_gateway"), "deleted"))
        return gateway

    # -- VPN connections -----------------------------------------------------------------------------------
    def create_vpn_connection(self, vpn_conn_type: str, customer_gateway_id: str,  # type: ignore[override]
                              vpn_gateway_id: str | None = None, transit_gateway_id: str | None = None,
                              tags: dict | None = None, options: dict | None = None,
                              pre_shared_key_storage: str | None = None) -> LabVpnConnection:
        self.purge_deleted()
        if vpn_conn_type != "ipsec.1":
            raise AwsApiError("InvalidParameterValue", "Value (%s) for parameter type is invalid. Valid value: ipsec.1" % vpn_conn_type)
        if vpn_gateway_id and transit_gateway_id:
            raise AwsApiError("InvalidParameterValue", "The request must not contain both parameter vpnGatewayId and transitGatewayId")
        customer_gateway = self.customer_gateways.get(customer_gateway_id)
        if customer_gateway is None or customer_gateway.state == "deleted":
            raise InvalidCustomerGatewayIdError(customer_gateway_id)
        if customer_gateway.type != vpn_conn_type:
            raise AwsApiError("InvalidParameterValue", "The customer gateway %s is of type %s" % (customer_gateway_id, customer_gateway.type))
        gateway: Any = None
        if vpn_gateway_id:
            gateway = self.get_vpn_gateway(vpn_gateway_id)
            if gateway.state not in ("pending", "available"):
                raise InvalidVpnGatewayIdError(vpn_gateway_id)
        elif transit_gateway_id:
            gateway = self.transit_gateways.get(transit_gateway_id)
            if gateway is None:
                raise AwsApiError("InvalidTransitGatewayID.NotFound", "Transit Gateway %s was deleted or does not exist." % transit_gateway_id)
        storage = pre_shared_key_storage or "Standard"
        if storage not in ("Standard", "SecretsManager"):
            raise AwsApiError("InvalidParameterValue", "Invalid value '%s' for PreSharedKeyStorage: Standard | SecretsManager" % storage)
        connection_options, tunnels = self._connection_options_and_tunnels(options or {}, gateway)
        connection = LabVpnConnection(self, random_vpn_connection_id(), vpn_conn_type, customer_gateway, gateway, tags,
                                      connection_options, tunnels, storage, self.lab.delay("vpn_connection"))
        self.vpn_connections[connection.id] = connection
        return connection

    def _connection_options_and_tunnels(self, options: dict, gateway: Any) -> tuple[dict, list[Tunnel]]:
        is_transit = gateway is not None and not isinstance(gateway, VpnGateway)
        inside_version = options.get("TunnelInsideIpVersion") or "ipv4"
        if inside_version == "ipv6" and not is_transit:
            raise AwsApiError("InvalidParameterValue", "TunnelInsideIpVersion ipv6 is only supported for VPN connections to a transit gateway")
        if options.get("EnableAcceleration") and not is_transit:
            raise AwsApiError("InvalidParameterCombination", "Acceleration is only supported for VPN connections to a transit gateway")
        for name in ("LocalIpv4NetworkCidr", "RemoteIpv4NetworkCidr", "LocalIpv6NetworkCidr", "RemoteIpv6NetworkCidr"):
            if options.get(name) is not None:
                try:
                    ipaddress.ip_network(options[name])
                except ValueError:
                    raise AwsApiError("InvalidParameterValue", "Invalid CIDR %s for %s" % (options[name], name)) from None
        level: dict = {"EnableAcceleration": bool(options.get("EnableAcceleration", False)),
                       "StaticRoutesOnly": bool(options.get("StaticRoutesOnly", False))}
        if inside_version == "ipv6":
            level["LocalIpv6NetworkCidr"] = options.get("LocalIpv6NetworkCidr") or "::/0"
            level["RemoteIpv6NetworkCidr"] = options.get("RemoteIpv6NetworkCidr") or "::/0"
        else:
            level["LocalIpv4NetworkCidr"] = options.get("LocalIpv4NetworkCidr") or "0.0.0.0/0"
            level["RemoteIpv4NetworkCidr"] = options.get("RemoteIpv4NetworkCidr") or "0.0.0.0/0"
        level["OutsideIpAddressType"] = options.get("OutsideIpAddressType") or "PublicIpv4"
        if options.get("TransportTransitGatewayAttachmentId"):
            level["TransportTransitGatewayAttachmentId"] = options["TransportTransitGatewayAttachmentId"]
        level["TunnelInsideIpVersion"] = inside_version
        level["TunnelBandwidth"] = options.get("TunnelBandwidth") or "standard"

        specifications = list(options.get("TunnelOptions") or [])
        if len(specifications) > 2:
            raise AwsApiError("InvalidParameterValue", "A VPN connection has two tunnels: at most 2 TunnelOptions may be given, got %d"
                              % len(specifications))
        specifications += [{}] * (2 - len(specifications))
        tunnel_options = [options_from_request(specification) for specification in specifications]
        for tunnel_option in tunnel_options:
            validate_options(tunnel_option)
            if tunnel_option.get("TunnelInsideCidr") and inside_version == "ipv6":
                raise AwsApiError("InvalidParameterValue", "TunnelInsideCidr cannot be used with TunnelInsideIpVersion ipv6")
            if tunnel_option.get("TunnelInsideIpv6Cidr") and inside_version != "ipv6":
                raise AwsApiError("InvalidParameterValue", "TunnelInsideIpv6Cidr requires TunnelInsideIpVersion ipv6")
        given = [tunnel_option.get("TunnelInsideCidr") or tunnel_option.get("TunnelInsideIpv6Cidr") for tunnel_option in tunnel_options]
        if given[0] and given[0] == given[1]:
            raise AwsApiError("InvalidParameterValue", "The two tunnels of a VPN connection need different inside CIDRs (%s)" % given[0])
        taken = self.inside_cidrs_in_use(gateway)
        for cidr in given:
            if cidr and cidr in taken:
                raise AwsApiError("InvalidParameterValue", "The tunnel inside CIDR %s is already used by another VPN connection on %s"
                                  % (cidr, gateway.id))
        tunnels = []
        for tunnel_option in tunnel_options:
            inside_cidr = inside_ipv6_cidr = None
            if inside_version == "ipv6":
                inside_ipv6_cidr = tunnel_option.pop("TunnelInsideIpv6Cidr", None) or random_inside_ipv6_cidr(self.lab.rng, taken | set(filter(None, given)))
                taken.add(inside_ipv6_cidr)
            else:
                inside_cidr = tunnel_option.pop("TunnelInsideCidr", None) or random_inside_cidr(self.lab.rng, taken | set(filter(None, given)))
                taken.add(inside_cidr)
            pre_shared_key = tunnel_option.pop("PreSharedKey", None) or random_pre_shared_key(self.lab.rng)
            tunnels.append(Tunnel(self.lab.outside_addresses.allocate(), inside_cidr, inside_ipv6_cidr, pre_shared_key, tunnel_option))
        return level, tunnels

    def inside_cidrs_in_use(self, gateway: Any, except_tunnel: Tunnel | None = None) -> set[str]:
        """Inside CIDRs of the live connections of one gateway (they must be unique per gateway)."""
        if gateway is None:
            return set()
        taken = set()
        for connection in self.vpn_connections.values():
            if isinstance(connection, LabVpnConnection) and connection.gateway is gateway and connection.state != "deleted":
                for tunnel in connection.tunnel_list:
                    if tunnel is not except_tunnel:
                        taken.update(filter(None, (tunnel.inside_cidr, tunnel.inside_ipv6_cidr)))
        return taken

    def describe_vpn_connections(self, vpn_connection_ids: list[str] | None = None, filters: Any = None) -> list:
        self.purge_deleted()
        return super().describe_vpn_connections(vpn_connection_ids=vpn_connection_ids, filters=filters)

    def get_vpn_connection(self, vpn_connection_id: str) -> LabVpnConnection:
        self.purge_deleted()
        connection = self.vpn_connections.get(vpn_connection_id)
        if connection is None:
            raise InvalidVpnConnectionIdError(vpn_connection_id)
        return connection

    def delete_vpn_connection(self, vpn_connection_id: str) -> LabVpnConnection:
        connection = self.get_vpn_connection(vpn_connection_id)
        if connection.state in ("deleting", "deleted"):
            return connection
        connection.lifecycle.move((0.0, "deleting"), (self.lab.delay("vpn_connection"), "deleted"))
        for tunnel in connection.tunnel_list:
            tunnel.set_down()
        return connection

    def modify_vpn_tunnel_options(self, vpn_connection_id: str, outside_ip: str, specification: dict,
                                  skip_tunnel_replacement: bool = False, pre_shared_key_storage: str | None = None) -> LabVpnConnection:
        connection = self.get_vpn_connection(vpn_connection_id)
        tunnel = connection.tunnel(outside_ip)
        if tunnel is None:
            raise AwsApiError("InvalidParameterValue", "The VPN tunnel outside IP address %s does not belong to VPN connection %s"
                              % (outside_ip, vpn_connection_id))
        if connection.state != "available":
            raise AwsApiError("IncorrectState", "The VPN connection %s is in state %s: it can be modified only when available"
                              % (vpn_connection_id, connection.state))
        changes = options_from_request(specification)
        if not changes:
            raise AwsApiError("MissingParameter", "The request must contain at least one tunnel option to modify")
        current = {**tunnel.options}
        validate_options(changes, current)
        if changes.get("TunnelInsideCidr"):
            if connection.level_options.get("TunnelInsideIpVersion") == "ipv6":
                raise AwsApiError("InvalidParameterValue", "TunnelInsideCidr cannot be used with TunnelInsideIpVersion ipv6")
            validate_inside_cidr(changes["TunnelInsideCidr"])
            if changes["TunnelInsideCidr"] in self.inside_cidrs_in_use(connection.gateway, except_tunnel=tunnel):
                raise AwsApiError("InvalidParameterValue", "The tunnel inside CIDR %s is already used by another tunnel on %s"
                                  % (changes["TunnelInsideCidr"], connection.gateway.id if connection.gateway else "this connection"))
            tunnel.inside_cidr = changes.pop("TunnelInsideCidr")
        if changes.get("TunnelInsideIpv6Cidr"):
            if connection.level_options.get("TunnelInsideIpVersion") != "ipv6":
                raise AwsApiError("InvalidParameterValue", "TunnelInsideIpv6Cidr requires TunnelInsideIpVersion ipv6")
            tunnel.inside_ipv6_cidr = changes.pop("TunnelInsideIpv6Cidr")
        if changes.get("PreSharedKey"):
            tunnel.pre_shared_key = changes.pop("PreSharedKey")
        changes.pop("TunnelInsideCidr", None)
        changes.pop("TunnelInsideIpv6Cidr", None)
        changes.pop("PreSharedKey", None)
        tunnel.options.update(changes)
        if pre_shared_key_storage:
            connection.pre_shared_key_storage = pre_shared_key_storage
        connection.lifecycle.move((0.0, "modifying"), (self.lab.delay("vpn_modify"), "available"))
        if not skip_tunnel_replacement:
            tunnel.revision += 1
            tunnel.set_down()
        return connection

    # -- static routes -------------------------------------------------------------------------------------------
    def create_vpn_connection_route(self, vpn_connection_id: str, destination_cidr_block: str) -> None:
        connection = self.get_vpn_connection(vpn_connection_id)
        try:
            destination = str(ipaddress.ip_network(destination_cidr_block))
        except ValueError:
            raise AwsApiError("InvalidParameterValue", "Invalid value '%s' for DestinationCidrBlock" % destination_cidr_block) from None
        if connection.state not in ("pending", "available", "modifying"):
            raise AwsApiError("IncorrectState", "The VPN connection %s is in state %s" % (vpn_connection_id, connection.state))
        if not connection.static_routes_only:
            raise AwsApiError("InvalidParameterValue", "VPN connection %s uses dynamic routing (BGP): static routes need "
                                                       "StaticRoutesOnly" % vpn_connection_id)
        existing = connection.static_route_table.get(destination)
        if existing is not None and existing.lifecycle.state in ("pending", "available"):
            raise AwsApiError("RouteAlreadyExists", "The route %s already exists on VPN connection %s" % (destination, vpn_connection_id))
        connection.static_route_table[destination] = StaticRoute(
            destination, Lifecycle((0.0, "pending"), (self.lab.delay("vpn_route"), "available")))

    def delete_vpn_connection_route(self, vpn_connection_id: str, destination_cidr_block: str) -> None:
        connection = self.get_vpn_connection(vpn_connection_id)
        route = connection.static_route_table.get(destination_cidr_block)
        if route is None or route.lifecycle.state in ("deleting", "deleted"):
            raise AwsApiError("InvalidRoute.NotFound", "No route with destination %s on VPN connection %s"
                              % (destination_cidr_block, vpn_connection_id))
        route.lifecycle.move((0.0, "deleting"), (self.lab.delay("vpn_route"), "deleted"))

    # -- route propagation ------------------------------------------------------------------------------------------
    def enable_vgw_route_propagation(self, route_table_id: str, gateway_id: str) -> None:
        route_table = self.get_route_table(route_table_id)
        gateway = self.get_vpn_gateway(gateway_id)
        if route_table.vpc_id not in [attachment.vpc_id for attachment in getattr(gateway, "live_attachments", [])]:
            raise AwsApiError("Gateway.NotAttached", "resource %s is not attached to network %s" % (gateway_id, route_table.vpc_id))
        propagating = self.route_propagation.setdefault(route_table_id, [])
        if gateway_id not in propagating:
            propagating.append(gateway_id)

    def disable_vgw_route_propagation(self, route_table_id: str, gateway_id: str) -> None:
        self.get_route_table(route_table_id)
        self.get_vpn_gateway(gateway_id)
        propagating = self.route_propagation.get(route_table_id, [])
        if gateway_id in propagating:
            propagating.remove(gateway_id)

    def propagated_routes(self, route_table_id: str) -> list[dict]:
        """Routes a VPN gateway propagates into a route table: the static routes of its connections and the
        prefixes learned over BGP (reported by the data plane), active while a tunnel is up."""
        routes = []
        for gateway_id in self.route_propagation.get(route_table_id, []):
            for connection in self.vpn_connections.values():
                if not isinstance(connection, LabVpnConnection) or connection.vpn_gateway_id != gateway_id:
                    continue
                if connection.state not in ("available", "modifying"):
                    continue
                tunnel_up = any(tunnel.status == "UP" for tunnel in connection.tunnel_list)
                prefixes = [route.destination_cidr_block for route in connection.static_route_table.values()
                            if route.lifecycle.state == "available"]
                prefixes += connection.bgp_routes if tunnel_up else []
                for prefix in prefixes:
                    routes.append({"DestinationCidrBlock": prefix, "GatewayId": gateway_id, "Origin": "EnableVgwRoutePropagation",
                                   "State": "active" if tunnel_up else "blackhole"})
        return routes

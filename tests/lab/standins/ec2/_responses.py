# EC2 stand-in: moto's EC2 response class extended for Site-to-Site VPN.
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""The EC2 query API: moto's EC2Response, plus the VPN actions moto lacks, request validation against
botocore's model, and AWS-format errors for everything that goes wrong (never an HTML 500)."""
from __future__ import annotations

import sys
import threading
import traceback
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult, EmptyResult
from moto.ec2.responses import EC2Response
from moto.ec2.utils import add_tag_specification

from ._documents import DEVICE_TYPES, vyatta_sample_configuration
from ._wire import AwsApiError, QueryRequestValidator

_validator: QueryRequestValidator | None = None
_validator_lock = threading.Lock()


def request_validator() -> QueryRequestValidator:
    global _validator
    with _validator_lock:
        if _validator is None:
            _validator = QueryRequestValidator()
        return _validator


class RouteTableView:
    """A moto RouteTable as DescribeRouteTables shows it: plus PropagatingVgws and the propagated routes."""

    def __init__(self, route_table: Any, propagating_gateway_ids: list[str], propagated_routes: list[dict]) -> None:
        self._route_table = route_table
        self.propagating_vgws = [{"GatewayId": gateway_id} for gateway_id in propagating_gateway_ids]
        self.routes = list(route_table.routes) + propagated_routes

    def __getattr__(self, name: str) -> Any:
        return getattr(self._route_table, name)


class LabEC2Response(EC2Response):
    """moto's EC2Response bound to one stand-in's backends (``lab_backends``), serialized by ``lab_lock``."""

    lab_backends: Any
    lab_lock: Any

    @property
    def ec2_backend(self) -> Any:  # type: ignore[override]
        return self.lab_backends[self.current_account][self.region]

    @staticmethod
    def caller_identity() -> tuple:
        """STS GetCallerIdentity (AWS_ENDPOINT_URL_STS = this stand-in): amazon.aws.ec2_security_group asks for the
        account before anything else. Always moto's default account (the stand-in derives no other from "lab")."""
        body = ('<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
                '<Arn>arn:aws:iam::%s:user/lab</Arn><UserId>AIDALABLABLABLABLAB</UserId><Account>%s</Account>'
                '</GetCallerIdentityResult><ResponseMetadata><RequestId>lab</RequestId></ResponseMetadata>'
                '</GetCallerIdentityResponse>' % (DEFAULT_ACCOUNT_ID, DEFAULT_ACCOUNT_ID))
        return 200, {"Content-Type": "text/xml"}, body

    @classmethod
    def dispatch(cls, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        request = args[0]
        action = request.values.get("Action", "")
        if action == "GetCallerIdentity":
            return cls.caller_identity()
        try:
            with cls.lab_lock:
                request_validator().validate(dict(request.values.items()))
                return cls()._dispatch(*args, **kwargs)
        except AwsApiError as error:
            return error.render()
        except NotImplementedError:
            return AwsApiError("NotImplemented", "The EC2 stand-in (moto) does not implement %s" % action, 501).render()
        except Exception:
            traceback.print_exc(file=sys.stderr)
            return AwsApiError("InternalError", "An internal error has occurred", 500).render()

    # -- customer gateways -------------------------------------------------------------------------------
    def create_customer_gateway(self) -> ActionResult:
        self.error_on_dryrun()
        customer_gateway = self.ec2_backend.create_customer_gateway(
            self._get_param("Type"), ip_address=self._get_param("IpAddress") or self._get_param("PublicIp"),
            bgp_asn=self._get_param("BgpAsn"), tags=self._parse_tag_specification().get("customer-gateway", {}),
            device_name=self._get_param("DeviceName"), certificate_arn=self._get_param("CertificateArn"),
            bgp_asn_extended=self._get_param("BgpAsnExtended"))
        return ActionResult({"CustomerGateway": customer_gateway})

    # -- VPN connections -------------------------------------------------------------------------------------
    def create_vpn_connection(self) -> ActionResult:
        self.error_on_dryrun()
        transit_gateway_id = self._get_param("TransitGatewayId")
        connection = self.ec2_backend.create_vpn_connection(
            self._get_param("Type"), self._get_param("CustomerGatewayId"), vpn_gateway_id=self._get_param("VpnGatewayId"),
            transit_gateway_id=transit_gateway_id, tags=add_tag_specification(self._get_param("TagSpecifications", [])),
            options=self._get_param("Options") or {}, pre_shared_key_storage=self._get_param("PreSharedKeyStorage"))
        if connection.transit_gateway_id:
            self.ec2_backend.create_transit_gateway_vpn_attachment(vpn_id=connection.id, transit_gateway_id=transit_gateway_id)
        return ActionResult({"VpnConnection": connection})

    def modify_vpn_tunnel_options(self) -> ActionResult:
        self.error_on_dryrun()
        connection = self.ec2_backend.modify_vpn_tunnel_options(
            self._get_param("VpnConnectionId"), self._get_param("VpnTunnelOutsideIpAddress"), self._get_param("TunnelOptions") or {},
            skip_tunnel_replacement=bool(self._get_param("SkipTunnelReplacement")),
            pre_shared_key_storage=self._get_param("PreSharedKeyStorage"))
        return ActionResult({"VpnConnection": connection})

    def create_vpn_connection_route(self) -> ActionResult:
        self.ec2_backend.create_vpn_connection_route(self._get_param("VpnConnectionId"), self._get_param("DestinationCidrBlock"))
        return EmptyResult()

    def delete_vpn_connection_route(self) -> ActionResult:
        self.ec2_backend.delete_vpn_connection_route(self._get_param("VpnConnectionId"), self._get_param("DestinationCidrBlock"))
        return EmptyResult()

    def get_vpn_connection_device_types(self) -> ActionResult:
        self.error_on_dryrun()
        return ActionResult({"VpnConnectionDeviceTypes": [dict(device_type) for device_type in DEVICE_TYPES]})

    def get_vpn_connection_device_sample_configuration(self) -> ActionResult:
        self.error_on_dryrun()
        connection = self.ec2_backend.get_vpn_connection(self._get_param("VpnConnectionId"))
        device_type_id = self._get_param("VpnConnectionDeviceTypeId")
        if device_type_id not in [device_type["VpnConnectionDeviceTypeId"] for device_type in DEVICE_TYPES]:
            raise AwsApiError("InvalidParameterValue", "Invalid VpnConnectionDeviceTypeId %s (see GetVpnConnectionDeviceTypes)" % device_type_id)
        ike_version = self._get_param("InternetKeyExchangeVersion") or "ikev1"
        if ike_version not in ("ikev1", "ikev2"):
            raise AwsApiError("InvalidParameterValue", "Invalid InternetKeyExchangeVersion %s: ikev1 | ikev2" % ike_version)
        return ActionResult({"VpnConnectionDeviceSampleConfiguration": vyatta_sample_configuration(connection.plan(), ike_version)})

    # -- route propagation ------------------------------------------------------------------------------------
    def enable_vgw_route_propagation(self) -> ActionResult:
        self.error_on_dryrun()
        self.ec2_backend.enable_vgw_route_propagation(self._get_param("RouteTableId"), self._get_param("GatewayId"))
        return EmptyResult()

    def disable_vgw_route_propagation(self) -> ActionResult:
        self.error_on_dryrun()
        self.ec2_backend.disable_vgw_route_propagation(self._get_param("RouteTableId"), self._get_param("GatewayId"))
        return EmptyResult()

    def describe_route_tables(self) -> ActionResult:
        backend = self.ec2_backend
        route_tables = backend.describe_route_tables(self._get_param("RouteTableIds", []), self._filters_from_querystring())
        return ActionResult({"RouteTables": [
            RouteTableView(route_table, backend.route_propagation.get(route_table.id, []), backend.propagated_routes(route_table.id))
            for route_table in route_tables]})

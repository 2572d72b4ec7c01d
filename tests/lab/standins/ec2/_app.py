# EC2 stand-in: the application (moto's werkzeug app, extended) and its lab controller.
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""build_app(), the controller behind /_lab/{reset,state,status}, and main()."""
from __future__ import annotations

import ipaddress
import random
import threading
from typing import Any

from moto.core.base_backend import BackendDict
from moto.core.utils import convert_to_flask_response
from moto.moto_server.werkzeug_app import create_backend_app

from .._common import LabMiddleware, knobs_from_config, run_standin
from ._backend import DELAY_DEFAULTS, TUNNEL_DOWN_MESSAGE, LabEC2Backend, LabSettings, LabVpnConnection, utcnow
from ._responses import LabEC2Response, request_validator
from ._tunnels import OutsideAddressPool, effective_options, inside_addresses
from ._wire import classify, render_fault

STATUS_KEYS = {"status", "status_message", "accepted_route_count"}


class Ec2Controller:
    """reset / dump_state / apply_status for one EC2 stand-in (all accounts and regions)."""

    def __init__(self, backends: BackendDict, settings: LabSettings, lock: Any) -> None:
        self.backends = backends
        self.settings = settings
        self.lock = lock

    def reset(self) -> None:
        with self.lock:
            self.backends.clear()
            self.settings.outside_addresses.clear()

    def _backends(self) -> list[tuple[str, str, LabEC2Backend]]:
        found = list(self.backends.iter_backends())
        for _account_id, _region, backend in found:
            backend.purge_deleted()
        return found

    def dump_state(self) -> dict:
        with self.lock:
            state: dict = {"cloud": "aws", "outside_ip_range": str(OutsideAddressPool.NETWORK), "vpn_connections": {},
                           "customer_gateways": {}, "vpn_gateways": {}, "vpcs": {}, "addresses": {}}
            for account_id, region, backend in self._backends():
                where = {"account_id": account_id, "region": region}
                for connection in backend.vpn_connections.values():
                    if isinstance(connection, LabVpnConnection):
                        state["vpn_connections"][connection.id] = {**where, **_connection_state(connection)}
                for customer_gateway in backend.customer_gateways.values():
                    state["customer_gateways"][customer_gateway.id] = {
                        **where, "state": customer_gateway.state, "type": customer_gateway.type, "ip_address": customer_gateway.ip_address,
                        "bgp_asn": int(getattr(customer_gateway, "asn", customer_gateway.bgp_asn)),
                        "device_name": getattr(customer_gateway, "device_name", None)}
                for gateway in backend.vpn_gateways.values():
                    state["vpn_gateways"][gateway.id] = {
                        **where, "state": gateway.state, "amazon_side_asn": int(gateway.amazon_side_asn or 64512),
                        "attachments": [{"vpc_id": attachment.vpc_id, "state": attachment.state} for attachment in gateway.attachments.values()]}
                for address in backend.addresses:
                    instance = getattr(address, "instance", None)
                    state["addresses"][address.public_ip] = {
                        **where, "allocation_id": address.allocation_id, "association_id": address.association_id,
                        "instance_id": instance.id if instance is not None else None,
                        "network_interface_id": address.eni.id if address.eni is not None else None,
                        "private_ip": address.private_ip_address}
                for vpc in backend.vpcs.values():
                    if vpc.is_default:
                        continue
                    cidr_blocks = [association["cidr_block"] for association in vpc.cidr_block_association_set
                                   if association.get("cidr_block") and association.get("cidr_block_state", {}).get("state") == "associated"]
                    state["vpcs"][vpc.id] = {**where, "cidr_blocks": cidr_blocks, "route_tables": {
                        route_table.id: {"propagating_vgws": list(backend.route_propagation.get(route_table.id, [])),
                                         "propagated_routes": [route["DestinationCidrBlock"] for route in backend.propagated_routes(route_table.id)
                                                               if route["State"] == "active"]}
                        for route_table in backend.route_tables.values() if route_table.vpc_id == vpc.id}}
            return state

    def apply_status(self, status: dict) -> None:
        """Validate the whole document first, then apply it (a bad document changes nothing)."""
        with self.lock:
            unknown = set(status) - {"vpn_connections"}
            if unknown:
                raise ValueError("status: unknown keys %s (expected vpn_connections)" % sorted(unknown))
            connections = {connection.id: connection for _a, _r, backend in self._backends()
                           for connection in backend.vpn_connections.values() if isinstance(connection, LabVpnConnection)}
            updates = []
            for connection_id, update in (status.get("vpn_connections") or {}).items():
                connection = connections.get(connection_id)
                if connection is None:
                    raise ValueError("status: unknown VPN connection %s" % connection_id)
                if set(update) - {"tunnels", "bgp_routes"}:
                    raise ValueError("status: %s: unknown keys %s" % (connection_id, sorted(set(update) - {"tunnels", "bgp_routes"})))
                for outside_ip, tunnel_status in (update.get("tunnels") or {}).items():
                    tunnel = connection.tunnel(outside_ip)
                    if tunnel is None:
                        raise ValueError("status: %s has no tunnel with outside IP %s" % (connection_id, outside_ip))
                    _check_tunnel_status(connection_id, outside_ip, tunnel_status)
                    updates.append((connection, tunnel, tunnel_status))
                if "bgp_routes" in update:
                    for prefix in update["bgp_routes"]:
                        ipaddress.ip_network(prefix)
            for connection, tunnel, tunnel_status in updates:
                new_status = tunnel_status.get("status", tunnel.status)
                if new_status != tunnel.status:
                    tunnel.last_status_change = utcnow()
                tunnel.status = new_status
                if "accepted_route_count" in tunnel_status:
                    tunnel.accepted_route_count = int(tunnel_status["accepted_route_count"])
                elif new_status == "DOWN":
                    tunnel.accepted_route_count = 0
                if "status_message" in tunnel_status:
                    tunnel.status_message = tunnel_status["status_message"]
                elif "status" in tunnel_status:
                    tunnel.status_message = _default_status_message(connection, tunnel.status, tunnel.accepted_route_count)
            for connection_id, update in (status.get("vpn_connections") or {}).items():
                if "bgp_routes" in update:
                    connections[connection_id].bgp_routes = [str(ipaddress.ip_network(prefix)) for prefix in update["bgp_routes"]]


def _check_tunnel_status(connection_id: str, outside_ip: str, tunnel_status: dict) -> None:
    where = "status: %s tunnel %s" % (connection_id, outside_ip)
    if set(tunnel_status) - STATUS_KEYS:
        raise ValueError("%s: unknown keys %s" % (where, sorted(set(tunnel_status) - STATUS_KEYS)))
    if "status" in tunnel_status and tunnel_status["status"] not in ("UP", "DOWN"):
        raise ValueError("%s: status must be UP or DOWN" % where)
    if "accepted_route_count" in tunnel_status:
        count = tunnel_status["accepted_route_count"]
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ValueError("%s: accepted_route_count must be a non-negative integer" % where)
    if "status_message" in tunnel_status and not isinstance(tunnel_status["status_message"], str):
        raise ValueError("%s: status_message must be a string" % where)


def _default_status_message(connection: LabVpnConnection, status: str, accepted_route_count: int) -> str:
    if status == "DOWN":
        return TUNNEL_DOWN_MESSAGE
    return "" if connection.static_routes_only else "%d BGP ROUTES" % accepted_route_count


def _connection_state(connection: LabVpnConnection) -> dict:
    plan = connection.plan()
    tunnels = []
    for tunnel in connection.tunnel_list:
        aws_inside, customer_inside = inside_addresses(tunnel.inside_cidr or tunnel.inside_ipv6_cidr)
        tunnels.append({
            "outside_ip": tunnel.outside_ip, "inside_cidr": tunnel.inside_cidr, "aws_inside_ip": aws_inside,
            "customer_inside_ip": customer_inside, "inside_ipv6_cidr": tunnel.inside_ipv6_cidr,
            "pre_shared_key": tunnel.pre_shared_key, "revision": tunnel.revision,
            "options": effective_options(tunnel.options), "options_set": sorted(tunnel.options),
            "status": tunnel.status, "status_message": tunnel.status_message, "accepted_route_count": tunnel.accepted_route_count,
            "last_status_change": tunnel.last_status_change.isoformat()})
    return {
        "state": connection.state, "type": connection.type, "customer_gateway_id": connection.customer_gateway_id,
        "vpn_gateway_id": connection.vpn_gateway_id, "transit_gateway_id": connection.transit_gateway_id,
        "customer_gateway_ip": plan.customer_gateway_ip, "customer_gateway_asn": plan.customer_gateway_asn,
        "amazon_side_asn": plan.amazon_side_asn, "static_routes_only": connection.static_routes_only,
        "connection_options": dict(connection.level_options),
        "routes": [{"destination_cidr_block": route["DestinationCidrBlock"], "state": route["State"]} for route in connection.routes],
        "bgp_routes": list(connection.bgp_routes), "tunnels": tunnels}


def build_app(config: dict | None = None) -> LabMiddleware:
    """The EC2 stand-in as a WSGI app: moto's own EC2 server app, every request routed to LabEC2Response.

    config: {"faults": {...}, "delays": {...}, "seed": int}; delay kinds and defaults: DELAY_DEFAULTS.
    """
    config = config or {}
    delays, faults = knobs_from_config(config, DELAY_DEFAULTS)
    rng = random.Random(config.get("seed"))
    settings = LabSettings(delays=delays, rng=rng, outside_addresses=OutsideAddressPool(rng))
    lock = threading.RLock()
    backend_class = type("LabEC2Backend", (LabEC2Backend,), {"lab": settings})
    backends: BackendDict = BackendDict(backend_class, "ec2")
    response_class = type("LabEC2Response", (LabEC2Response,), {"lab_backends": backends, "lab_lock": lock})
    request_validator()  # load botocore's EC2 model now, not on the first request
    flask_app = create_backend_app("ec2")
    for endpoint in list(flask_app.view_functions):
        flask_app.view_functions[endpoint] = convert_to_flask_response(response_class.dispatch)
    controller = Ec2Controller(backends, settings, lock)
    return LabMiddleware(flask_app, cloud="aws", classify=classify, render_fault=render_fault, controller=controller,
                         faults=faults, delays=delays)


def main(argv: list[str] | None = None) -> int:
    return run_standin("ec2", "EC2 (Site-to-Site VPN) stand-in on moto", build_app, argv)

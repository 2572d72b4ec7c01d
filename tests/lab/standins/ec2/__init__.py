# EC2 (Site-to-Site VPN subset) stand-in: moto's EC2 server, extended where it falls short.
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""EC2 stand-in for the lab: moto 5.2.5's own werkzeug app, run in-process, with its EC2 models and
response class subclassed for Site-to-Site VPN (see _backend.py for what moto lacks).

Run:  PYTHONPATH=tests/lab python -m standins.ec2 --host 127.0.0.1 --port N [--config FILE]
Use:  boto3.client("ec2", endpoint_url="http://127.0.0.1:N", region_name=..., aws_access_key_id=..., ...)
      (or AWS_ENDPOINT_URL_EC2); any region and credentials; moto derives the account from the key.

Config / POST /_lab/config: {"faults": {"rate", "seed", "kinds", "lost_response_delay"},
  "delays": {kind: seconds}, "seed": N (outside IPs, inside CIDRs, PSKs)}.
Delay kinds (defaults): vpn_connection 0.2, vpn_modify 0.2, vpn_gateway 0.1, vpn_gateway_attachment 0.1,
  vpn_route 0.1, deleted_retention 120 (how long deleted connections/gateways stay visible).

Tunnel outside IPs come from 203.0.113.0/24 (TEST-NET-3), one per tunnel, stable for the connection's
life (the GCP stand-in uses 198.51.100.0/25).

GET /_lab/state (dump_state) -- secrets included:
  {"cloud": "aws", "outside_ip_range": "203.0.113.0/24",
   "vpn_connections": {"vpn-..": {"account_id", "region", "state", "type", "customer_gateway_id",
       "vpn_gateway_id", "transit_gateway_id", "customer_gateway_ip", "customer_gateway_asn",
       "amazon_side_asn", "static_routes_only", "connection_options": {VpnConnectionOptions names},
       "routes": [{"destination_cidr_block", "state"}], "bgp_routes": [prefix, ...],
       "tunnels": [{"outside_ip", "inside_cidr", "aws_inside_ip" (.1), "customer_inside_ip" (.2),
                    "inside_ipv6_cidr", "pre_shared_key", "revision" (+1 per endpoint replacement),
                    "options": {TunnelOption names -> values in force, lists unwrapped, AWS defaults filled},
                    "options_set": [names the caller set], "status", "status_message",
                    "accepted_route_count", "last_status_change"}]}},        # tunnels in tunnel order
   "customer_gateways": {"cgw-..": {"account_id", "region", "state", "type", "ip_address", "bgp_asn", "device_name"}},
   "vpn_gateways": {"vgw-..": {"account_id", "region", "state", "amazon_side_asn", "attachments": [{"vpc_id", "state"}]}},
   "vpcs": {"vpc-..": {"account_id", "region", "cidr_blocks": [...],
            "route_tables": {"rtb-..": {"propagating_vgws": [...], "propagated_routes": [active prefixes]}}}},
   "addresses": {"<Elastic IP>": {"account_id", "region", "allocation_id", "association_id", "instance_id",
                                   "network_interface_id", "private_ip"}}}   # from 198.18.0.0/16; private_ip when associated
  (default VPCs are left out.)

POST /_lab/status (apply_status) -- written by the data plane; validated whole, then applied:
  {"vpn_connections": {"vpn-..": {
       "tunnels": {"<outside ip>": {"status": "UP"|"DOWN", "status_message": str, "accepted_route_count": int}},
       "bgp_routes": ["10.20.0.0/16", ...]}}}
  Every key is optional. A status without a message gets AWS's: DOWN -> "IPSEC IS DOWN", UP -> "N BGP ROUTES"
  (dynamic) or "" (static). LastStatusChange moves when the status changes. bgp_routes (prefixes learned
  from the customer gateway) appear, with the static routes, in route tables the VPN gateway propagates
  into while a tunnel is UP. ModifyVpnTunnelOptions puts the modified tunnel back DOWN.
"""
from __future__ import annotations

from ._app import Ec2Controller, build_app, main
from ._backend import DELAY_DEFAULTS
from ._wire import classify, render_fault

__all__ = ["DELAY_DEFAULTS", "Ec2Controller", "build_app", "classify", "main", "render_fault"]

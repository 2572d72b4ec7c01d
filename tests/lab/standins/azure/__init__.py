# Azure Network (VPN subset) stand-in for the multicloud.vpn lab.
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""A small ARM server for the paths azure-mgmt-network 33.x uses, faithful enough for its real client.

Run: ``PYTHONPATH=tests/lab python -m standins.azure --host 127.0.0.1 --port N [--config FILE]``.
In process: ``build_app(config)`` -> LabMiddleware (see standins._common for /_lab/ routes).

Resources: resource groups (``/subscriptions/{sub}/resourcegroups/{rg}``: PUT, GET, HEAD, DELETE; or
seeded with config ``resource_groups``), virtualNetworks (+ subnets), publicIPAddresses,
virtualNetworkGateways (+ getBgpPeerStatus, connections), localNetworkGateways, connections
(+ sharedkey GET/PUT, sharedkey/reset POST). Bodies are validated against the SDK's models
(``_wire``), then against the service's rules (``_network``); long-running operations and routes in
``_arm``; error codes in ``_errors``. The connection GET does not return ``sharedKey`` (read it with
GET .../sharedkey); Azure's spec example shows it in GET, but code must not rely on it.

Config (JSON file or dict)::

    {"delays": {"virtualNetworkGateways": 0.3, "connections": 0.1, "virtualNetworks": 0,
                "publicIPAddresses": 0, "localNetworkGateways": 0, "retry_after": 1},
     "faults": {"rate": 0.0, "seed": 0, "kinds": ["server_error", "throttle", "lost_response"]},
     "resource_groups": [{"subscription_id": "<guid>", "name": "rg", "location": "eastus"}]}

Seeded resource groups come back after reset(); everything else is forgotten.

dump_state() (GET /_lab/state), secrets included::

    {"resource_groups": [{"subscription_id", "name", "location"}],
     "virtual_networks": [{id, subscription_id, resource_group, name, location, provisioning_state,
                           "address_prefixes": [cidr], "subnets": [{"name", "address_prefix"}]}],
     "public_ip_addresses": [{... common ..., "ip_address", "sku", "in_use_by": ipconfig id | None}],
     "virtual_network_gateways": [{... common ..., "sku", "generation", "active_active", "enable_bgp", "asn",
                                   "warnings": [str],
                                   "instances": [{"ip_configuration_id", "name", "public_ip", "default_bgp_ip",
                                                  "custom_bgp_ips": [ip]}],
                                   "bgp_peers": [getBgpPeerStatus entries, wire names]}],
     "local_network_gateways": [{... common ..., "gateway_ip_address", "fqdn", "address_prefixes",
                                 "bgp": {"asn", "peering_address"} | None}],
     "connections": [{... common ..., "virtual_network_gateway_id", "local_network_gateway_id", "shared_key",
                      "connection_protocol", "connection_mode", "dpd_timeout_seconds", "enable_bgp",
                      "use_policy_based_traffic_selectors", "ipsec_policies": [wire-format policy],
                      "gateway_custom_bgp_ip_addresses": [{"ipConfigurationId", "customBgpIpAddress"}],
                      "connection_status", "ingress_bytes", "egress_bytes",
                      "tunnels": [{"ip_configuration_id", "azure_public_ip", "azure_bgp_ip", "azure_asn",
                                   "peer_ip", "peer_bgp_ip", "peer_asn"}]}]}

``tunnels`` has one entry per gateway instance (two when active-active): the data plane builds one
IPsec tunnel and, with enable_bgp, one BGP session (azure_bgp_ip/azure_asn <-> peer_bgp_ip/peer_asn)
from each.

apply_status() (POST /_lab/status); keys are "<resource group>/<name>" or full resource ids::

    {"connections": {"rg/conn": {"connection_status": "Connected",      # optional; else from tunnels
                                 "ingress_bytes": 0, "egress_bytes": 0,  # optional; else sum of tunnels
                                 "tunnels": [{"azure_public_ip": ip, "connection_status": "Connected",
                                              "ingress_bytes": 0, "egress_bytes": 0,
                                              "last_connection_established_utc_time": "..."}]}},
     "virtual_network_gateways": {"rg/gw": {"bgp_peers": [{"neighbor": ip, "local_address": ip (optional),
                                                            "asn": n, "state": "Connected", "routes_received": n,
                                                            "messages_sent": n, "messages_received": n,
                                                            "connected_duration": "hh:mm:ss"}]}}}

Until status arrives a connection reads connectionStatus "Unknown" while provisioning, then
"Connecting", its tunnels "NotConnected", and every configured BGP peer "Connecting".
"""
from __future__ import annotations

from standins._common import LabMiddleware, knobs_from_config, run_standin

from ._arm import ArmApplication, classify, render_fault
from ._network import DEFAULT_DELAYS, AzureNetworkController

__all__ = ["build_app", "main", "classify", "render_fault", "AzureNetworkController"]


def build_app(config: dict | None = None) -> LabMiddleware:
    """The stand-in as an in-process WSGI app wrapped in the lab middleware."""
    config = config or {}
    delays, faults = knobs_from_config(config, DEFAULT_DELAYS)
    controller = AzureNetworkController(delays, resource_groups=config.get("resource_groups", []))
    return LabMiddleware(ArmApplication(controller, delays), cloud="azure", classify=classify, render_fault=render_fault,
                         controller=controller, faults=faults, delays=delays)


def main(argv: list | None = None) -> int:
    return run_standin("azure", "Azure Network (VPN subset) stand-in", build_app, argv)

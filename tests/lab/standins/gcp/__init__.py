# GCP Compute (VPN subset) stand-in for the multicloud.vpn lab.
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""A local Compute Engine API (VPN subset) that google-cloud-compute's REST transport talks to.

Run:  PYTHONPATH=tests/lab python -m standins.gcp --host 127.0.0.1 --port 8482 [--config FILE]
Use:  compute_v1.<X>Client(credentials=AnonymousCredentials(),
                             client_options={"api_endpoint": "http://127.0.0.1:8482"})
      (or the collection's adapter with api_endpoint / GCP_COMPUTE_ENDPOINT set).

API (under /compute/v1/projects/{project}/; any project id, regions from schema.REGIONS)
  global/networks                     list insert get delete
  global/externalVpnGateways          list insert get delete setLabels
  regions/{r}/vpnGateways             list insert get delete setLabels getStatus (+ aggregated/vpnGateways)
  regions/{r}/vpnTunnels              list insert get delete (no update: GCP has none) (+ aggregated)
  regions/{r}/routers                 list insert get delete patch update getRouterStatus (+ aggregated)
  regions/{r}/operations, global/operations   list get delete wait
Other Compute methods answer 501 in Google's format; unknown paths 404. Request bodies are parsed
with compute_v1's protobuf types (unknown names / wrong types -> 400 "Invalid JSON payload
received. Unknown name ..."), enum-valued strings are checked against compute_v1's enums, unknown
query parameters are refused like Google's front end does. Fields that Compute has but the
stand-in does not model (NAT, MD5 keys, IPv6, interconnect) are refused with a 400 that says so.
Behaviour: see controller.py (operations, status) and resources.py (validation rules).

Knobs (config file or POST /_lab/config): {"faults": {"rate", "seed", "kinds", ...},
  "delays": {"default", "networks", "externalVpnGateways", "vpnGateways", "vpnTunnels", "routers",
             "operations.wait"}}  -- seconds; "operations.wait" bounds how long operations.wait blocks.

dump_state() (GET /_lab/state) -- everything, secrets included:
  {"schema": "multicloud.vpn/gcp-standin-state/v1",
   "projects": {"<project>": {"networks": {"<name>": <GET document>},
                              "externalVpnGateways": {"<name>": <GET document>},
                              "vpnGateways": {"<region>/<name>": <GET document>},
                              "vpnTunnels": {"<region>/<name>": <GET document> + "sharedSecret"},
                              "routers": {"<region>/<name>": <GET document>}}},
   "tunnels": [   # one per VPN tunnel: what the data plane needs, in one place
      {"project", "region", "name", "id", "self_link",
       "local_gateway": "<HA gateway name>", "local_interface": 0|1, "local_ip": "198.51.100.x",
       "peer_gateway": {"kind": "externalVpnGateway", "name", "redundancy_type"}
                       | {"kind": "vpnGateway", "name", "region"},
       "peer_interface": int, "peer_ip": "...",
       "ike_version": 1|2, "shared_secret": "...", "cipher_suite": {"phase1": {...}, "phase2": {...}} | None,
       "status": "...", "detailed_status": "...", "router": "<router name>", "router_asn": int | None,
       "bgp": None | {"interface", "ip_range": "169.254.x.y/30", "ip_address", "peer_name", "peer_ip_address",
                      "peer_asn", "advertise_mode", "advertised_groups": [...], "advertised_ip_ranges": [...],
                      "advertised_route_priority": int | None, "enable": bool, "status", "state"}}],
   "operations": [<Operation document> + "project"]}
  "bgp" is set when the tunnel's router has an interface linked to the tunnel and a BGP peer with
  a peerIpAddress on that interface; advertise_* are the peer's when its advertiseMode is CUSTOM,
  else the router's.

apply_status(status) (POST /_lab/status) -- written by the data plane:
  {"project": "<optional; needed only if the same region/name exists in several projects>",
   "ignore_missing": false,   # true: skip tunnels/routers/peers that no longer exist instead of 400
   "vpn_tunnels": {"<region>/<name>": {"status": "ESTABLISHED", "detailed_status": "Tunnel is up and running."}
                                      | null},            # null or {} -> back to the default status
   "routers": {"<region>/<name>": {"bgp_peers": {"<peer name>": {
        "status": "UP"|"DOWN"|"UNKNOWN", "state": "Established"|"Idle"|"Connect"|"Active"|"OpenSent"|"OpenConfirm",
        "num_learned_routes": 1, "learned_prefixes": ["10.0.0.0/16"], "uptime_seconds": 12} | null}}}}
  status must be one of VpnTunnel.Status; "detailed_status" defaults to Google's text for it; "state"
  defaults to Established for UP and Idle otherwise and must be Established exactly when UP;
  num_learned_routes defaults to len(learned_prefixes). Learned prefixes appear in getRouterStatus
  as bestRoutes (nextHopIp = the peer's address, nextHopVpnTunnel = the linked tunnel).
  A tunnel report is dropped when the tunnel is deleted; a BGP report when the peer's interface,
  addresses, ASN or enable change. Until reported: tunnels WAITING_FOR_FULL_CONFIG (no BGP peer
  linked) or FIRST_HANDSHAKE; BGP peers DOWN / Idle with no routes.
"""
from __future__ import annotations

from .._common import LabMiddleware, knobs_from_config, run_standin
from . import errors
from .api import ComputeApi, classify
from .controller import DEFAULT_DELAYS, GcpCompute

__all__ = ["DEFAULT_DELAYS", "GcpCompute", "build_app", "classify", "main"]


def build_app(config: dict | None = None) -> LabMiddleware:
    """The stand-in as a WSGI app wrapped in the lab middleware; ``app.controller`` is the GcpCompute."""
    config = config or {}
    delays, faults = knobs_from_config(config, DEFAULT_DELAYS)
    controller = GcpCompute(delays, seed=int(config.get("seed", 0)))
    return LabMiddleware(ComputeApi(controller), cloud="gcp", classify=classify, render_fault=errors.render_fault,
                         controller=controller, faults=faults, delays=delays)


def main(argv: list | None = None) -> int:
    return run_standin("gcp", "GCP Compute (VPN subset) stand-in", build_app, argv)

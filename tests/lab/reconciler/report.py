# Lab reconciler: the fabric's health -> status documents for the stand-ins' POST /_lab/status (pure).
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""What each cloud would report about its tunnels, computed from the data plane's status.

* EC2: VgwTelemetry per outside IP: UP only when the CHILD_SA is installed and (static routing, or BGP
  Established); DOWN with "IPSEC IS UP" when IPsec is up but BGP is not; AcceptedRouteCount = prefixes
  received over BGP; the connection's bgp_routes = prefixes learned over the UP tunnels.
  BGP sessions count as down while their tunnel is down (FRR would wait for the hold time).
* GCP: vpnTunnels status ESTABLISHED (CHILD_SA installed), AUTHORIZATION_ERROR (authentication failed),
  NEGOTIATION_FAILURE (no proposal chosen), NO_INCOMING_PACKETS (nothing answers), else FIRST_HANDSHAKE;
  a tunnel without a BGP session keeps the stand-in's WAITING_FOR_FULL_CONFIG. Router BGP peers UP only
  when Established, with the learned prefixes.
* Azure: per connection and gateway instance Connected (CHILD_SA installed) or NotConnected; the gateway's
  BGP peers Connected when Established, else Connecting, with routes received.
* VyOS routers (no cloud API): what `show vpn ipsec sa` and `show ip bgp summary` would say on the router,
  per peer: IPsec up (CHILD_SA installed), IKE state, BGP state and prefixes received (vyos_reports).
Tunnels whose endpoint is missing (left out, or the fabric is down) are reported down.
"""
from __future__ import annotations

import re

FRR_STATES = ("Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established")


def _bgp_state(entry: dict | None) -> str:
    """The BGP state a cloud shows: FRR's, except that a session whose tunnel is down is down (FRR would keep it
    Established until its hold time runs out; the clouds drop it with the tunnel)."""
    state = ((entry or {}).get("bgp") or {}).get("state") or "Idle"
    first = state.split()[0]
    first = first if first in FRR_STATES else "Idle"
    if first == "Established" and not (entry or {}).get("child_installed"):
        return "Idle"
    return first


def _uptime_seconds(text) -> int | None:
    match = re.match(r"^(\d+):(\d\d):(\d\d)$", str(text or ""))
    return int(match.group(1)) * 3600 + int(match.group(2)) * 60 + int(match.group(3)) if match else None


def _entry(status: dict | None, endpoint_id: str | None, binding: dict | None) -> dict | None:
    if not status or not endpoint_id or not binding or not binding.get("accepted"):
        return None
    return status["endpoints"].get(endpoint_id)


def tunnel_up(entry: dict | None, static: bool) -> bool:
    return bool(entry) and entry["child_installed"] and (static or _bgp_state(entry) == "Established")


def aws_report(translation: dict, status: dict | None) -> dict:
    by_tunnel = {(b["vpn_connection_id"], b["outside_ip"]): (endpoint_id, b)
                 for endpoint_id, b in translation["bindings"].items() if b["cloud"] == "aws"}
    connections = {}
    for vpn_id, outside_ips in translation["objects"]["aws"].items():
        tunnels, learned, static = {}, set(), False
        for outside_ip in outside_ips:
            endpoint_id, binding = by_tunnel.get((vpn_id, outside_ip), (None, None))
            static = static or bool(binding and binding["static"])
            entry = _entry(status, endpoint_id, binding)
            up = tunnel_up(entry, bool(binding and binding["static"]))
            prefixes = entry["bgp"]["prefixes"] if up and not binding["static"] else []
            report = {"status": "UP" if up else "DOWN", "accepted_route_count": len(prefixes)}
            if not up and entry and entry["child_installed"]:
                report["status_message"] = "IPSEC IS UP"
            learned.update(prefixes)
            tunnels[outside_ip] = report
        connections[vpn_id] = {"tunnels": tunnels}
        if not static:
            connections[vpn_id]["bgp_routes"] = sorted(learned)
    return {"vpn_connections": connections}


def gcp_tunnel_status(entry: dict | None, binding: dict) -> dict | None:
    if not binding.get("bgp"):
        return None     # no BGP session configured: the stand-in's WAITING_FOR_FULL_CONFIG stands
    if not binding.get("accepted"):
        return {"status": "FAILED", "detailed_status": "lab: %s" % binding.get("reason")}
    if entry is None:
        return {"status": "NO_INCOMING_PACKETS"}
    if entry["child_installed"]:
        return {"status": "ESTABLISHED"}
    errors = set(entry.get("errors") or [])
    if "AUTHENTICATION_FAILED" in errors:
        return {"status": "AUTHORIZATION_ERROR"}
    if "NO_PROPOSAL_CHOSEN" in errors or "INVALID_KE_PAYLOAD" in errors or entry.get("ike_state") == "ESTABLISHED":
        return {"status": "NEGOTIATION_FAILURE"}
    if not entry.get("peer_endpoint") or errors & {"NO_IKE_CONFIG", "RETRANSMIT_GIVE_UP"}:
        return {"status": "NO_INCOMING_PACKETS"}
    return {"status": "FIRST_HANDSHAKE"}


def gcp_reports(translation: dict, status: dict | None) -> list:
    """One POST body per project (tunnel and router keys are "<region>/<name>" within a project)."""
    by_object = {}
    for endpoint_id, binding in translation["bindings"].items():
        if binding["cloud"] == "gcp":
            by_object["%s/%s" % (binding["project"], binding["tunnel"])] = endpoint_id
    documents: dict = {}
    for key, binding in translation["objects"]["gcp"].items():
        endpoint_id = by_object.get(key)
        if endpoint_id:
            binding = translation["bindings"].get(endpoint_id, binding)
        else:
            binding = dict(binding, accepted=False, reason="no endpoint")
        entry = _entry(status, endpoint_id, binding)
        document = documents.setdefault(binding["project"], {"project": binding["project"], "ignore_missing": True,
                                                             "vpn_tunnels": {}, "routers": {}})
        report = gcp_tunnel_status(entry, binding) if endpoint_id else None
        document["vpn_tunnels"][binding["tunnel"]] = report
        if binding.get("peer_name") and binding.get("bgp"):
            state = _bgp_state(entry) if entry else "Idle"
            up = state == "Established"
            prefixes = entry["bgp"]["prefixes"] if up else []
            peer = {"status": "UP" if up else "DOWN", "state": state, "learned_prefixes": prefixes,
                    "num_learned_routes": len(prefixes)}
            uptime = _uptime_seconds(((entry or {}).get("bgp") or {}).get("uptime")) if up else None
            if uptime is not None:
                peer["uptime_seconds"] = uptime
            document["routers"].setdefault(binding["router"], {"bgp_peers": {}})["bgp_peers"][binding["peer_name"]] = peer
    return list(documents.values())


def azure_report(translation: dict, status: dict | None) -> dict:
    by_tunnel = {(b["connection_id"], b["azure_public_ip"]): (endpoint_id, b)
                 for endpoint_id, b in translation["bindings"].items() if b["cloud"] == "azure"}
    connections = {}
    for connection_id, public_ips in translation["objects"]["azure"]["connections"].items():
        tunnels = []
        for public_ip in public_ips:
            endpoint_id, binding = by_tunnel.get((connection_id, public_ip), (None, None))
            entry = _entry(status, endpoint_id, binding)
            connected = bool(entry) and entry["child_installed"]
            children = (entry or {}).get("children") or []
            tunnels.append({"azure_public_ip": public_ip, "connection_status": "Connected" if connected else "NotConnected",
                            "ingress_bytes": sum(child["bytes_in"] for child in children),
                            "egress_bytes": sum(child["bytes_out"] for child in children)})
        connections[connection_id] = {"tunnels": tunnels}
    gateways: dict = {gateway_id: {"bgp_peers": []} for gateway_id in translation["objects"]["azure"]["gateways"]}
    for endpoint_id, binding in sorted(translation["bindings"].items()):
        if binding["cloud"] != "azure" or not binding.get("bgp") or binding["gateway_id"] not in gateways:
            continue
        entry = _entry(status, endpoint_id, binding)
        up = _bgp_state(entry) == "Established" if entry else False
        peer = dict(binding["bgp"], state="Connected" if up else "Connecting",
                    routes_received=len(entry["bgp"]["prefixes"]) if up else 0)
        gateways[binding["gateway_id"]]["bgp_peers"].append(peer)
    return {"connections": connections, "virtual_network_gateways": gateways}


def vyos_reports(translation: dict, status: dict | None) -> dict:
    """{router name: {"router", "nat", "peers": [{vti, remote_ip, accepted, ipsec, ike_state, bgp_neighbor, bgp_state,
    prefixes_received}]}}: the router's own view, for the playbook's check (no secrets)."""
    routers: dict = {}
    for name, endpoint_ids in translation["objects"].get("vyos", {}).items():
        peers = []
        nat = None
        for endpoint_id in endpoint_ids:
            binding = translation["bindings"].get(endpoint_id) or {}
            nat = nat or binding.get("nat")
            entry = _entry(status, endpoint_id, binding)
            state = _bgp_state(entry) if entry else "Idle"
            peers.append({"vti": binding.get("vti"), "remote_ip": binding.get("remote_ip"), "accepted": bool(binding.get("accepted")),
                          "reason": binding.get("reason"), "ipsec": "up" if entry and entry["child_installed"] else "down",
                          "ike_state": (entry or {}).get("ike_state"), "bgp_neighbor": binding.get("bgp_peer_ip"), "bgp_state": state,
                          "prefixes_received": list(entry["bgp"]["prefixes"]) if entry and state == "Established" else []})
        routers[name] = {"router": name, "nat": nat, "peers": peers}
    return routers


def build_reports(translation: dict, status: dict | None) -> dict:
    """{"aws": body, "gcp": [bodies], "azure": body} for POST /_lab/status (a cloud with no objects: empty)."""
    return {"aws": aws_report(translation, status), "gcp": gcp_reports(translation, status), "azure": azure_report(translation, status)}

# GCP Compute stand-in: in-memory state, operations and data-plane status.
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""The state behind the stand-in's API, its operations, and the lab controller protocol.

Operations
    Every mutation is checked when it arrives (invalid -> immediate 4xx, nothing queued) and
    returns an Operation. The operation is PENDING for the first fifth of its delay, then RUNNING,
    then DONE; the delay is ``Delays.get(<kind>)`` (kinds: networks, externalVpnGateways,
    vpnGateways, vpnTunnels, routers; setLabels uses "default"). The change is applied when the
    operation becomes DONE: an inserted resource is invisible (404) until then, a deleted one
    visible, a patched router shows its old form. At that moment the request is checked again;
    a conflict that arose meanwhile (a referenced gateway deleted, a tunnel added to a router
    being deleted) makes the operation DONE with ``error`` / ``httpErrorStatusCode`` and changes
    nothing. Operations advance lazily on every request (no background thread).
    ``operations.wait`` blocks until DONE or ``Delays.get("operations.wait")`` seconds
    (default 120, GCP's bound is ~2 minutes) and returns the operation as it is then.
    ``requestId`` makes a mutation idempotent: the same id returns the same operation.

Data-plane status (apply_status) and what reads report
    vpnTunnels.status/detailedStatus: the data plane's report if any; otherwise
    WAITING_FOR_FULL_CONFIG when no router interface with a BGP peer is linked to the tunnel,
    else FIRST_HANDSHAKE. routers.getRouterStatus: each BGP peer DOWN/Idle until reported.
    A report is dropped when its tunnel is deleted or its BGP peer's configuration changes.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import ipaddress
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from . import errors, resources, schema

COLLECTIONS = ("networks", "externalVpnGateways", "vpnGateways", "vpnTunnels", "routers")
GLOBAL_COLLECTIONS = ("networks", "externalVpnGateways")
DEFAULT_DELAYS = {"default": 0.05, "networks": 0.1, "externalVpnGateways": 0.05, "vpnGateways": 0.3, "vpnTunnels": 0.3,
                  "routers": 0.1, "operations.wait": 120.0}
PUBLIC_IP_POOL = ipaddress.ip_network("198.51.100.0/24")
TUNNEL_STATUS_TEXT = {
    "ESTABLISHED": "Tunnel is up and running.", "FIRST_HANDSHAKE": "Handshake with peer VPN gateway started.",
    "NO_INCOMING_PACKETS": "No incoming packets from peer.", "NEGOTIATION_FAILURE": "Negotiation failure.",
    "WAITING_FOR_FULL_CONFIG": "Waiting for full config.", "AUTHORIZATION_ERROR": "Authorization error.",
    "NETWORK_ERROR": "Network error.", "REJECTED": "Rejected by peer.", "STOPPED": "Tunnel is stopped.",
    "PROVISIONING": "Provisioning.", "ALLOCATING_RESOURCES": "Allocating resources.", "FAILED": "Tunnel failed.",
    "DEPROVISIONING": "Deprovisioning.",
}
BGP_STATES = ("Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established")
STATE_SCHEMA = "multicloud.vpn/gcp-standin-state/v1"
USER = "lab-user@multicloud-vpn.invalid"


def _timestamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class Operation:
    name: str
    id: str
    project: str
    region: str | None
    operation_type: str
    target_link: str
    target_id: str
    created: float  # wall clock
    created_mono: float  # monotonic, same instant
    start_at: float  # monotonic
    due: float  # monotonic
    apply: Callable[[], None] = field(repr=False)
    request_id: str | None = None
    done: bool = False
    ended: float | None = None
    error: errors.ApiError | None = None

    def status(self, now: float) -> str:
        if self.done:
            return "DONE"
        return "PENDING" if now < self.start_at else "RUNNING"

    def document(self, now: float) -> dict:
        status = self.status(now)
        scope = "regions/%s" % self.region if self.region else "global"
        document = {
            "kind": "compute#operation", "id": self.id, "name": self.name, "operationType": self.operation_type,
            "targetLink": self.target_link, "targetId": self.target_id, "status": status, "user": USER,
            "insertTime": _timestamp(self.created),
            "selfLink": schema.SELF_LINK_BASE + "projects/%s/%s/operations/%s" % (self.project, scope, self.name),
        }
        if self.region:
            document["region"] = schema.region_link(self.project, self.region)
        if status == "PENDING":
            document["progress"] = 0
        else:
            document["startTime"] = _timestamp(self.created + (self.start_at - self.created_mono))
            if status == "RUNNING":
                span = max(self.due - self.start_at, 1e-9)
                document["progress"] = min(99, int(100 * (now - self.start_at) / span))
            else:
                document["progress"] = 100
                document["endTime"] = _timestamp(self.ended or time.time())
                if self.error is not None:
                    document.update(self.error.operation_error())
        return document


class GcpCompute:
    """State and behaviour of the Compute VPN subset; implements the lab controller protocol."""

    def __init__(self, delays, seed: int = 0) -> None:
        self.delays = delays
        self.seed = seed
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self.reset()

    # -- lab controller protocol -----------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self._rng = random.Random(self.seed)
            self._store: dict[str, dict[tuple, dict]] = {kind: {} for kind in COLLECTIONS}
            self._secrets: dict[str, dict] = {}  # tunnel id -> {"sharedSecret", "salt"}
            self._pending_inserts: dict[tuple, tuple[str, dict]] = {}  # (kind, key) -> (operation name, document)
            self._pending_deletes: dict[tuple, str] = {}
            self._operations: dict[tuple, Operation] = {}  # (project, region, name)
            self._request_ids: dict[tuple, Operation] = {}  # (project, requestId)
            self._next_public_ip = 1
            self._tunnel_reports: dict[str, dict] = {}  # tunnel id -> {"status", "detailedStatus"}
            self._bgp_reports: dict[tuple, dict] = {}  # (router id, peer name) -> report
            self._changed.notify_all()

    def dump_state(self) -> dict:
        """Everything, secrets included. Schema: see the package docstring (standins.gcp)."""
        with self._lock:
            self._advance()
            now = time.monotonic()
            projects: dict[str, dict] = {}
            for kind in COLLECTIONS:
                for key, document in sorted(self._store[kind].items()):
                    project, region, name = key
                    shown = self._shown(kind, key, document)
                    if kind == "vpnTunnels":
                        shown["sharedSecret"] = self._secrets[document["id"]]["sharedSecret"]
                    bucket = projects.setdefault(project, {collection: {} for collection in COLLECTIONS})[kind]
                    bucket[name if region is None else "%s/%s" % (region, name)] = shown
            return {
                "schema": STATE_SCHEMA,
                "projects": projects,
                "tunnels": [self._data_plane_view(key, document) for key, document in sorted(self._store["vpnTunnels"].items())],
                "operations": [dict(op.document(now), project=op.project) for op in self._operations.values()],
            }

    def apply_status(self, status: dict) -> None:
        """Data-plane status. Schema: see the package docstring (standins.gcp)."""
        if not isinstance(status, dict):
            raise ValueError("status must be an object")
        unknown = set(status) - {"project", "vpn_tunnels", "routers", "ignore_missing"}
        if unknown:
            raise ValueError("status: unknown keys %s" % sorted(unknown))
        ignore_missing = bool(status.get("ignore_missing", False))
        with self._lock:
            self._advance()
            tunnel_updates = {}
            for ref, report in (status.get("vpn_tunnels") or {}).items():
                key = self._status_key("vpnTunnels", ref, status.get("project"), ignore_missing)
                if key is not None:
                    tunnel_updates[self._store["vpnTunnels"][key]["id"]] = self._tunnel_report(ref, report)
            bgp_updates = {}
            for ref, router_report in (status.get("routers") or {}).items():
                key = self._status_key("routers", ref, status.get("project"), ignore_missing)
                if key is None:
                    continue
                router = self._store["routers"][key]
                if not isinstance(router_report, dict) or set(router_report) - {"bgp_peers"}:
                    raise ValueError("routers.%s: expected {\"bgp_peers\": {...}}" % ref)
                peers = {peer["name"]: peer for peer in router.get("bgpPeers", [])}
                for peer_name, report in (router_report.get("bgp_peers") or {}).items():
                    if peer_name not in peers:
                        if ignore_missing:
                            continue
                        raise ValueError("routers.%s: no BGP peer %r" % (ref, peer_name))
                    previous = self._bgp_reports.get((router["id"], peer_name))
                    bgp_updates[(router["id"], peer_name)] = self._bgp_report(ref, peer_name, report, peers[peer_name], previous)
            for tunnel_id, report in tunnel_updates.items():
                if report is None:
                    self._tunnel_reports.pop(tunnel_id, None)
                else:
                    self._tunnel_reports[tunnel_id] = report
            for peer_key, report in bgp_updates.items():
                if report is None:
                    self._bgp_reports.pop(peer_key, None)
                else:
                    self._bgp_reports[peer_key] = report

    def _status_key(self, kind: str, ref: str, project: str | None, ignore_missing: bool) -> tuple | None:
        region, slash, name = ref.partition("/")
        if not slash or not name:
            raise ValueError("%s: expected '<region>/<name>', got %r" % (kind, ref))
        keys = [key for key in self._store[kind] if key[1:] == (region, name) and project in (None, key[0])]
        if len(keys) > 1:
            raise ValueError("%s %s exists in several projects: give \"project\"" % (kind, ref))
        if not keys:
            if ignore_missing:
                return None
            raise ValueError("no %s %s" % (kind, ref))
        return keys[0]

    @staticmethod
    def _tunnel_report(ref: str, report: dict | None) -> dict | None:
        if report is None or report == {}:
            return None
        unknown = set(report) - {"status", "detailed_status"}
        if unknown:
            raise ValueError("vpn_tunnels.%s: unknown keys %s" % (ref, sorted(unknown)))
        status = report.get("status")
        if status not in TUNNEL_STATUS_TEXT:
            raise ValueError("vpn_tunnels.%s.status must be one of %s" % (ref, sorted(TUNNEL_STATUS_TEXT)))
        return {"status": status, "detailedStatus": report.get("detailed_status") or TUNNEL_STATUS_TEXT[status]}

    @staticmethod
    def _bgp_report(ref: str, peer_name: str, report: dict | None, peer: dict, previous: dict | None) -> dict | None:
        if report is None or report == {}:
            return None
        where = "routers.%s.bgp_peers.%s" % (ref, peer_name)
        unknown = set(report) - {"status", "state", "num_learned_routes", "learned_prefixes", "uptime_seconds"}
        if unknown:
            raise ValueError("%s: unknown keys %s" % (where, sorted(unknown)))
        status = report.get("status")
        if status not in ("UP", "DOWN", "UNKNOWN"):
            raise ValueError("%s.status must be UP, DOWN or UNKNOWN" % where)
        state = report.get("state", "Established" if status == "UP" else "Idle")
        if state not in BGP_STATES or (status == "UP") != (state == "Established"):
            raise ValueError("%s.state %r does not fit status %s (states: %s)" % (where, state, status, ", ".join(BGP_STATES)))
        prefixes = []
        for prefix in report.get("learned_prefixes", []):
            prefixes.append(str(ipaddress.ip_network(prefix, strict=True)))
        learned = report.get("num_learned_routes", len(prefixes))
        if not isinstance(learned, int) or learned < 0 or (prefixes and learned != len(prefixes)):
            raise ValueError("%s.num_learned_routes must be a count matching learned_prefixes" % where)
        if status != "UP":
            up_since = None
        elif "uptime_seconds" in report:
            up_since = time.time() - float(report["uptime_seconds"])
        elif previous and previous.get("up_since"):
            up_since = previous["up_since"]
        else:
            up_since = time.time()
        return {"status": status, "state": state, "numLearnedRoutes": learned, "learnedPrefixes": prefixes,
                "up_since": up_since, "config": _peer_signature(peer)}

    # -- lookups used by the resource checks --------------------------------------------------
    def find(self, kind: str, project: str, region: str | None, name: str) -> dict | None:
        return self._store[kind].get((project, region, name))

    def all(self, kind: str) -> list:
        documents = [dict(document, _key=key) for key, document in self._store[kind].items()]
        documents += [dict(document, _key=key) for (pending_kind, key), (_op, document) in self._pending_inserts.items()
                      if pending_kind == kind]
        return documents

    # -- API: reads -----------------------------------------------------------------------------
    def get(self, kind: str, project: str, region: str | None, name: str) -> dict:
        with self._lock:
            self._advance()
            key = self._key(kind, project, region, name)
            return self._shown(kind, key, self._existing(kind, key))

    def list(self, kind: str, project: str, region: str | None, query: dict) -> dict:
        with self._lock:
            self._advance()
            self._check_region(project, region)
            items = [self._shown(kind, key, document) for key, document in self._store[kind].items()
                     if key[0] == project and key[1] == region]
            page, token = _page(_ordered(_filtered(items, query.get("filter")), query.get("orderBy")), query)
            scope = "regions/%s" % region if region else "global"
            result = {"kind": resources.KIND[kind] + "List", "id": "projects/%s/%s/%s" % (project, scope, kind),
                      "items": page, "selfLink": schema.SELF_LINK_BASE + "projects/%s/%s/%s" % (project, scope, kind)}
            if token:
                result["nextPageToken"] = token
            return result

    def aggregated_list(self, kind: str, project: str, query: dict) -> dict:
        with self._lock:
            self._advance()
            scoped: dict[str, list] = {}
            for key, document in sorted(self._store[kind].items()):
                if key[0] == project:
                    scoped.setdefault("regions/%s" % key[1], []).append(self._shown(kind, key, document))
            items = {}
            for scope, documents in scoped.items():
                documents = _filtered(documents, query.get("filter"))
                if documents:
                    items[scope] = {kind: documents}
            return {"kind": resources.KIND[kind] + "AggregatedList", "id": "projects/%s/aggregated/%s" % (project, kind),
                    "items": items, "selfLink": schema.SELF_LINK_BASE + "projects/%s/aggregated/%s" % (project, kind)}

    def router_status(self, project: str, region: str, name: str) -> dict:
        with self._lock:
            self._advance()
            router = self._existing("routers", self._key("routers", project, region, name))
            interfaces = {item["name"]: item for item in router.get("interfaces", [])}
            peers, best_routes = [], []
            for peer in router.get("bgpPeers", []):
                report = self._current_bgp_report(router, peer)
                interface = interfaces.get(peer["interfaceName"], {})
                entry = {"name": peer["name"], "status": report["status"], "state": report["state"],
                         "numLearnedRoutes": report["numLearnedRoutes"], "enableIpv4": True, "md5AuthEnabled": False}
                for source, target in (("ipAddress", "ipAddress"), ("peerIpAddress", "peerIpAddress")):
                    if source in peer:
                        entry[target] = peer[source]
                if "linkedVpnTunnel" in interface:
                    entry["linkedVpnTunnel"] = interface["linkedVpnTunnel"]
                if report["status"] == "UP":
                    seconds = int(time.time() - report["up_since"])
                    entry["uptimeSeconds"] = str(seconds)
                    entry["uptime"] = "%d hours, %d minutes, %d seconds" % (seconds // 3600, seconds % 3600 // 60, seconds % 60)
                    entry["advertisedRoutes"] = self._advertised_routes(router, peer)
                    for prefix in report["learnedPrefixes"]:
                        route = {"kind": "compute#route", "network": router["network"], "destRange": prefix, "priority": 100,
                                 "nextHopIp": peer.get("peerIpAddress", ""), "routeType": "BGP",
                                 "asPaths": [{"pathSegmentType": "AS_SEQUENCE", "asLists": [peer["peerAsn"]]}]}
                        if "linkedVpnTunnel" in interface:
                            route["nextHopVpnTunnel"] = interface["linkedVpnTunnel"]
                        best_routes.append(route)
                peers.append(entry)
            result = {"network": router["network"], "bestRoutes": best_routes, "bestRoutesForRouter": copy.deepcopy(best_routes),
                      "bgpPeerStatus": peers}
            return {"kind": "compute#routerStatusResponse", "result": result}

    def vpn_gateway_status(self, project: str, region: str, name: str) -> dict:
        with self._lock:
            self._advance()
            gateway = self._existing("vpnGateways", self._key("vpnGateways", project, region, name))
            connections: dict[str, dict] = {}
            for tunnel in self._store["vpnTunnels"].values():
                if tunnel["vpnGateway"] != gateway["selfLink"]:
                    continue
                peer_field = "peerExternalGateway" if "peerExternalGateway" in tunnel else "peerGcpGateway"
                peer_interface = tunnel.get("peerExternalGatewayInterface", tunnel["vpnGatewayInterface"])
                connection = connections.setdefault(tunnel[peer_field], {peer_field: tunnel[peer_field], "tunnels": []})
                connection["tunnels"].append({"localGatewayInterface": tunnel["vpnGatewayInterface"],
                                              "peerGatewayInterface": peer_interface, "tunnelUrl": tunnel["selfLink"]})
            for connection in connections.values():
                local = {item["localGatewayInterface"] for item in connection["tunnels"]}
                remote = {item["peerGatewayInterface"] for item in connection["tunnels"]}
                peer_ids = set(resources.HA_INTERFACES)
                if "peerExternalGateway" in connection:
                    peer = self._by_link("externalVpnGateways", connection["peerExternalGateway"])
                    peer_ids = {item["id"] for item in peer["interfaces"]} if peer else remote
                if local >= set(resources.HA_INTERFACES) and remote >= peer_ids:
                    connection["state"] = {"state": "CONNECTION_REDUNDANCY_MET"}
                else:
                    connection["state"] = {"state": "CONNECTION_REDUNDANCY_NOT_MET", "unsatisfiedReason": "INCOMPLETE_TUNNELS_COVERAGE"}
            return {"result": {"vpnConnections": list(connections.values())}}

    # -- API: mutations ---------------------------------------------------------------------------
    def insert(self, kind: str, project: str, region: str | None, document: dict, request_id: str | None) -> dict:
        with self._lock:
            replay = self._start_mutation(project, region, request_id)
            if replay is not None:
                return replay
            document = schema.only_fields(document, resources.SUPPORTED[kind], resources.OUTPUT_ONLY[kind])
            name = schema.check_name(document.get("name"))
            key = (project, region, name)
            if key in self._store[kind] or (kind, key) in self._pending_inserts:
                raise errors.already_exists(schema.relative(project, kind, name, region))
            normalized = resources.CHECKS[kind](self, project, region, document, key)
            final = self._new_resource(kind, key, normalized)
            secret = final.pop("sharedSecret", None)
            if secret is not None:
                self._secrets[final["id"]] = {"sharedSecret": secret, "salt": "%016x" % self._rng.getrandbits(64)}
                final["sharedSecretHash"] = self._secret_hash(final["id"])

            def apply() -> None:
                self._pending_inserts.pop((kind, key), None)
                try:
                    resources.CHECKS[kind](self, project, region, normalized, key)
                except errors.ApiError:
                    self._secrets.pop(final["id"], None)
                    raise
                self._store[kind][key] = final

            operation = self._operation(kind, project, region, "insert", final["selfLink"], final["id"], apply, request_id)
            self._pending_inserts[(kind, key)] = (operation.name, dict(final))
            return self._answer(operation)

    def delete(self, kind: str, project: str, region: str | None, name: str, request_id: str | None) -> dict:
        with self._lock:
            replay = self._start_mutation(project, region, request_id)
            if replay is not None:
                return replay
            key = (project, region, name)
            document = self._existing(kind, key)
            if (kind, key) in self._pending_deletes:
                raise errors.not_ready(schema.relative(project, kind, name, region))
            self._refuse_if_used(kind, key, document)

            def apply() -> None:
                self._pending_deletes.pop((kind, key), None)
                current = self._store[kind].get(key)
                if current is None or current["id"] != document["id"]:
                    raise errors.not_found(schema.relative(project, kind, name, region))
                self._refuse_if_used(kind, key, current, include_pending=False)
                del self._store[kind][key]
                self._forget(kind, current)

            operation = self._operation(kind, project, region, "delete", document["selfLink"], document["id"], apply, request_id)
            self._pending_deletes[(kind, key)] = operation.name
            return self._answer(operation)

    def set_labels(self, kind: str, project: str, region: str | None, name: str, request: dict, request_id: str | None) -> dict:
        with self._lock:
            replay = self._start_mutation(project, region, request_id)
            if replay is not None:
                return replay
            key = (project, region, name)
            document = self._existing(kind, key)
            labels = schema.check_labels(request.get("labels", {}), "labels")
            if request.get("labelFingerprint") != document["labelFingerprint"]:
                raise errors.fingerprint_mismatch()
            expected = document["labelFingerprint"]

            def apply() -> None:
                current = self._existing(kind, key)
                if current["labelFingerprint"] != expected:
                    raise errors.fingerprint_mismatch()
                current["labels"] = labels
                current["labelFingerprint"] = schema.label_fingerprint(labels)

            operation = self._operation("default", project, region, "setLabels", document["selfLink"], document["id"], apply,
                                        request_id)
            return self._answer(operation)

    def change_router(self, method: str, project: str, region: str, name: str, body: dict, request_id: str | None) -> dict:
        """routers.patch (merge: nested objects merged, lists replaced wholesale) or routers.update (replace)."""
        with self._lock:
            replay = self._start_mutation(project, region, request_id)
            if replay is not None:
                return replay
            key = (project, region, name)
            self._existing("routers", key)
            body = schema.only_fields(body, resources.SUPPORTED["routers"], resources.OUTPUT_ONLY["routers"])

            def desired() -> tuple[dict, dict]:
                current = self._existing("routers", key)
                editable = {field_name: value for field_name, value in current.items()
                            if field_name in resources.SUPPORTED["routers"]}
                wanted = _merge_patch(editable, body) if method == "patch" else dict(body)
                for immutable in ("name", "network"):
                    if immutable in wanted and wanted[immutable] != current[immutable] and not (
                            immutable == "network" and _same_link(wanted["network"], current["network"])):
                        raise errors.invalid_value("resource.%s" % immutable, wanted[immutable], "Field cannot be changed.")
                wanted.setdefault("name", current["name"])
                wanted.setdefault("network", current["network"])
                return current, resources.check_router(self, project, region, wanted, key)

            current, _normalized = desired()

            def apply() -> None:
                latest, normalized = desired()
                updated = {field_name: value for field_name, value in latest.items()
                           if field_name in resources.OUTPUT_ONLY["routers"]}
                updated.update(normalized)
                self._store["routers"][key] = _ordered_router(updated)
                self._drop_stale_bgp_reports(updated)

            operation = self._operation("routers", project, region, method, current["selfLink"], current["id"], apply, request_id)
            return self._answer(operation)

    # -- API: operations ------------------------------------------------------------------------
    def get_operation(self, project: str, region: str | None, name: str) -> dict:
        with self._lock:
            self._advance()
            return self._find_operation(project, region, name).document(time.monotonic())

    def wait_operation(self, project: str, region: str | None, name: str) -> dict:
        deadline = time.monotonic() + self.delays.get("operations.wait", DEFAULT_DELAYS["operations.wait"])
        with self._changed:
            while True:
                self._advance()
                operation = self._find_operation(project, region, name)
                now = time.monotonic()
                if operation.done or now >= deadline:
                    return operation.document(now)
                self._changed.wait(timeout=max(0.005, min(operation.due, deadline) - now))

    def list_operations(self, project: str, region: str | None, query: dict) -> dict:
        with self._lock:
            self._advance()
            self._check_region(project, region)
            now = time.monotonic()
            items = [op.document(now) for op in self._operations.values() if op.project == project and op.region == region]
            page, token = _page(_ordered(_filtered(items, query.get("filter")), query.get("orderBy") or "insertTime"), query)
            result = {"kind": "compute#operationList", "items": page}
            if token:
                result["nextPageToken"] = token
            return result

    def delete_operation(self, project: str, region: str | None, name: str) -> dict:
        with self._lock:
            operation = self._find_operation(project, region, name)
            if not operation.done:
                raise errors.not_ready("projects/%s/operations/%s" % (project, name))
            del self._operations[(project, region, name)]
            return {}

    # -- internals ----------------------------------------------------------------------------------
    def _start_mutation(self, project: str, region: str | None, request_id: str | None) -> dict | None:
        """Common start of every mutation: run due operations, check the scope, replay a known requestId."""
        self._advance()
        self._check_region(project, region)
        return self._replay(project, request_id)

    def _existing(self, kind: str, key: tuple) -> dict:
        document = self._store[kind].get(key)
        if document is None:
            raise errors.not_found(schema.relative(key[0], kind, key[2], key[1]))
        return document

    def _key(self, kind: str, project: str, region: str | None, name: str) -> tuple:
        self._check_region(project, region)
        return (project, region, name)

    @staticmethod
    def _check_region(project: str, region: str | None) -> None:
        if not schema.PROJECT_PATTERN.match(project):
            raise errors.invalid_value("project", project, "Must be a match of regex '[a-z](?:[-a-z0-9]{4,28}[a-z0-9])'")
        if region is not None and region not in schema.REGIONS:
            raise errors.not_found("projects/%s/regions/%s" % (project, region))

    def _replay(self, project: str, request_id: str | None) -> dict | None:
        if request_id is None:
            return None
        try:
            parsed = uuid.UUID(request_id)
        except ValueError:
            parsed = None
        if parsed is None or parsed.int == 0:
            raise errors.invalid_value("requestId", request_id, "The request ID must be a valid UUID other than the zero UUID.")
        operation = self._request_ids.get((project, request_id))
        return None if operation is None else operation.document(time.monotonic())

    def _new_id(self) -> str:
        return str(self._rng.randrange(10 ** 18, 10 ** 19))

    def _new_resource(self, kind: str, key: tuple, normalized: dict) -> dict:
        project, region, name = key
        document = {"kind": resources.KIND[kind], "id": self._new_id(), "creationTimestamp": _timestamp(time.time())}
        document.update(normalized)
        document["selfLink"] = schema.link(project, kind, name, region)
        if region is not None:
            document["region"] = schema.region_link(project, region)
        if "labels" in document:
            document["labelFingerprint"] = schema.label_fingerprint(document["labels"])
        if kind == "networks":
            document["selfLinkWithId"] = schema.link(project, kind, document["id"])
        if kind == "vpnGateways":
            document["vpnInterfaces"] = [{"id": interface, "ipAddress": self._allocate_public_ip()}
                                         for interface in resources.HA_INTERFACES]
        if kind == "routers":
            document = _ordered_router(document)
        return document

    def _allocate_public_ip(self) -> str:
        if self._next_public_ip >= PUBLIC_IP_POOL.num_addresses - 1:
            raise errors.ApiError(403, "quotaExceeded", "Quota 'EXTERNAL_VPN_GATEWAY_IPS' exceeded: the lab pool %s is used up "
                                  "(reset the stand-in)." % PUBLIC_IP_POOL)
        address = PUBLIC_IP_POOL[self._next_public_ip]
        self._next_public_ip += 1
        return str(address)

    def _secret_hash(self, tunnel_id: str) -> str:
        secret = self._secrets[tunnel_id]
        digest = hashlib.sha256((secret["salt"] + secret["sharedSecret"]).encode()).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:27]

    def _shown(self, kind: str, key: tuple, document: dict) -> dict:
        shown = copy.deepcopy(document)
        if kind == "vpnTunnels":
            shown["status"], shown["detailedStatus"] = self._tunnel_status(key, document)
        if "labels" in shown and not shown["labels"]:
            del shown["labels"]
        return shown

    def _tunnel_status(self, key: tuple, tunnel: dict) -> tuple[str, str]:
        report = self._tunnel_reports.get(tunnel["id"])
        if report:
            return report["status"], report["detailedStatus"]
        if self._bgp_for_tunnel(tunnel) is None:
            return "WAITING_FOR_FULL_CONFIG", TUNNEL_STATUS_TEXT["WAITING_FOR_FULL_CONFIG"]
        return "FIRST_HANDSHAKE", TUNNEL_STATUS_TEXT["FIRST_HANDSHAKE"]

    def _bgp_for_tunnel(self, tunnel: dict) -> tuple[dict, dict, dict] | None:
        """(router, interface, peer) that carry BGP for this tunnel, if the router is fully configured."""
        router = self._by_link("routers", tunnel["router"])
        if router is None:
            return None
        for interface in router.get("interfaces", []):
            if interface.get("linkedVpnTunnel") == tunnel["selfLink"]:
                for peer in router.get("bgpPeers", []):
                    if peer["interfaceName"] == interface["name"] and "peerIpAddress" in peer:
                        return router, interface, peer
        return None

    def _current_bgp_report(self, router: dict, peer: dict) -> dict:
        report = self._bgp_reports.get((router["id"], peer["name"]))
        if report and report["config"] == _peer_signature(peer):
            return report
        return {"status": "DOWN", "state": "Idle", "numLearnedRoutes": 0, "learnedPrefixes": [], "up_since": None}

    def _advertised_routes(self, router: dict, peer: dict) -> list:
        if peer.get("advertiseMode") == "CUSTOM":
            ranges = peer.get("advertisedIpRanges", [])
        elif router.get("bgp", {}).get("advertiseMode") == "CUSTOM":
            ranges = router["bgp"].get("advertisedIpRanges", [])
        else:
            ranges = []  # DEFAULT: the network's subnets; the stand-in models no subnets
        return [{"kind": "compute#route", "destRange": item["range"], "nextHopIp": peer.get("ipAddress", ""),
                 "priority": peer.get("advertisedRoutePriority", 100), "routeType": "BGP"} for item in ranges]

    def _drop_stale_bgp_reports(self, router: dict) -> None:
        signatures = {peer["name"]: _peer_signature(peer) for peer in router.get("bgpPeers", [])}
        for router_id, peer_name in list(self._bgp_reports):
            if router_id == router["id"] and self._bgp_reports[(router_id, peer_name)]["config"] != signatures.get(peer_name):
                del self._bgp_reports[(router_id, peer_name)]

    def _forget(self, kind: str, document: dict) -> None:
        if kind == "vpnTunnels":
            self._secrets.pop(document["id"], None)
            self._tunnel_reports.pop(document["id"], None)
        if kind == "routers":
            for peer_key in [peer_key for peer_key in self._bgp_reports if peer_key[0] == document["id"]]:
                del self._bgp_reports[peer_key]

    def _by_link(self, kind: str, link: str) -> dict | None:
        for document in self._store[kind].values():
            if document["selfLink"] == link:
                return document
        return None

    def _refuse_if_used(self, kind: str, key: tuple, document: dict, include_pending: bool = True) -> None:
        """400 resourceInUseByAnotherResource if anything refers to the resource.

        When the request arrives, creations still in flight count as users; when the deletion
        executes, only what exists then does (an insert due later fails on its own).
        """
        for user_kind, references in resources.USERS[kind]:
            users = self.all(user_kind) if include_pending else [dict(doc, _key=user_key) for user_key, doc in self._store[user_kind].items()]
            for user in users:
                if document["selfLink"] in references(user):
                    project, region, name = key
                    raise errors.in_use(resources.IN_USE_NAME[kind], schema.relative(project, kind, name, region),
                                        schema.relative(user["_key"][0], user_kind, user["_key"][2], user["_key"][1]))

    def _operation(self, kind: str, project: str, region: str | None, operation_type: str, target_link: str, target_id: str,
                   apply: Callable[[], None], request_id: str | None) -> Operation:
        delay = self.delays.get(kind, self.delays.get("default", DEFAULT_DELAYS["default"]))
        now = time.monotonic()
        created = time.time()
        random_parts = (self._rng.getrandbits(52), self._rng.getrandbits(32), self._rng.getrandbits(32))
        name = "operation-%d-%013x-%08x-%08x" % ((int(created * 1000),) + random_parts)
        operation = Operation(name=name, id=self._new_id(), project=project, region=region, operation_type=operation_type,
                              target_link=target_link, target_id=target_id, created=created, created_mono=now,
                              start_at=now + delay / 5,
                              due=now + delay, apply=apply, request_id=request_id)
        self._operations[(project, region, name)] = operation
        if request_id is not None:
            self._request_ids[(project, request_id)] = operation
        return operation

    def _answer(self, operation: Operation) -> dict:
        self._advance()
        return operation.document(time.monotonic())

    def _advance(self) -> None:
        """Execute every operation whose time has come, in the order they become due."""
        now = time.monotonic()
        due = sorted((op for op in self._operations.values() if not op.done and op.due <= now), key=lambda op: (op.due, op.created))
        for operation in due:
            try:
                operation.apply()
            except errors.ApiError as error:
                operation.error = error
            finally:
                self._pending_inserts = {pending: value for pending, value in self._pending_inserts.items()
                                         if value[0] != operation.name}
                self._pending_deletes = {pending: value for pending, value in self._pending_deletes.items()
                                         if value != operation.name}
            operation.done = True
            operation.ended = time.time()
        if due:
            self._changed.notify_all()

    def _find_operation(self, project: str, region: str | None, name: str) -> Operation:
        self._check_region(project, region)
        operation = self._operations.get((project, region, name))
        if operation is None:
            scope = "regions/%s" % region if region else "global"
            raise errors.not_found("projects/%s/%s/operations/%s" % (project, scope, name))
        return operation

    def _data_plane_view(self, key: tuple, tunnel: dict) -> dict:
        project, region, name = key
        gateway = self._by_link("vpnGateways", tunnel["vpnGateway"])
        local_ip = next(item["ipAddress"] for item in gateway["vpnInterfaces"] if item["id"] == tunnel["vpnGatewayInterface"])
        if "peerExternalGateway" in tunnel:
            peer = self._by_link("externalVpnGateways", tunnel["peerExternalGateway"])
            peer_interface = tunnel["peerExternalGatewayInterface"]
            peer_ip = next(item["ipAddress"] for item in peer["interfaces"] if item["id"] == peer_interface)
            peer_gateway = {"kind": "externalVpnGateway", "name": peer["name"], "redundancy_type": peer["redundancyType"]}
        else:
            peer = self._by_link("vpnGateways", tunnel["peerGcpGateway"])
            peer_interface = tunnel["vpnGatewayInterface"]
            peer_ip = next(item["ipAddress"] for item in peer["vpnInterfaces"] if item["id"] == peer_interface)
            peer_gateway = {"kind": "vpnGateway", "name": peer["name"], "region": peer["region"].rsplit("/", 1)[1]}
        status, detailed = self._tunnel_status(key, tunnel)
        router = self._by_link("routers", tunnel["router"])
        view = {
            "project": project, "region": region, "name": name, "id": tunnel["id"], "self_link": tunnel["selfLink"],
            "local_gateway": gateway["name"], "local_interface": tunnel["vpnGatewayInterface"], "local_ip": local_ip,
            "peer_gateway": peer_gateway, "peer_interface": peer_interface, "peer_ip": peer_ip,
            "ike_version": tunnel["ikeVersion"], "shared_secret": self._secrets[tunnel["id"]]["sharedSecret"],
            "cipher_suite": copy.deepcopy(tunnel.get("cipherSuite")), "status": status, "detailed_status": detailed,
            "router": router["name"], "router_asn": router.get("bgp", {}).get("asn"), "bgp": None,
        }
        carried = self._bgp_for_tunnel(tunnel)
        if carried is not None:
            _router, interface, peer_config = carried
            report = self._current_bgp_report(router, peer_config)
            advertise = peer_config if peer_config.get("advertiseMode") == "CUSTOM" else router["bgp"]
            view["bgp"] = {
                "interface": interface["name"], "ip_range": interface.get("ipRange"), "ip_address": peer_config.get("ipAddress"),
                "peer_name": peer_config["name"], "peer_ip_address": peer_config["peerIpAddress"], "peer_asn": peer_config["peerAsn"],
                "advertise_mode": advertise.get("advertiseMode", "DEFAULT"),
                "advertised_groups": list(advertise.get("advertisedGroups", [])),
                "advertised_ip_ranges": [item["range"] for item in advertise.get("advertisedIpRanges", [])],
                "advertised_route_priority": peer_config.get("advertisedRoutePriority"), "enable": peer_config["enable"] == "TRUE",
                "status": report["status"], "state": report["state"],
            }
        return view


def _peer_signature(peer: dict) -> tuple:
    return (peer.get("interfaceName"), peer.get("ipAddress"), peer.get("peerIpAddress"), peer.get("peerAsn"), peer.get("enable"))


def _same_link(left: str, right: str) -> bool:
    return left.split("/compute/v1/")[-1].split("projects/")[-1] == right.split("/compute/v1/")[-1].split("projects/")[-1]


def _merge_patch(current: dict, patch: dict) -> dict:
    """Compute's PATCH: fields present replace; nested objects merge; lists are replaced wholesale."""
    merged = copy.deepcopy(current)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge_patch(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


ROUTER_ORDER = ("kind", "id", "creationTimestamp", "name", "description", "region", "network", "interfaces", "bgpPeers", "bgp",
                "selfLink")


def _ordered_router(document: dict) -> dict:
    ordered = {key: document[key] for key in ROUTER_ORDER if key in document}
    ordered.update({key: value for key, value in document.items() if key not in ordered})
    return ordered


_FILTER_TERM = re.compile(r"""\s*\(?\s*(?P<field>[A-Za-z][\w.]*)\s*(?P<op>!=|=|:|\beq\b|\bne\b)\s*"""
                          r"""(?P<value>"(?:[^"\\]|\\.)*"|'[^']*'|[^\s()]+)\s*\)?\s*(?:AND\s+)?""", re.IGNORECASE)


def _field_value(document: dict, dotted: str) -> str | None:
    value: object = document
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _filtered(items: list, expression: str | None) -> list:
    """The subset of Compute's list filter the lab supports: `field = "v"`, `!=`, `eq regex`, `ne regex`, AND."""
    if not expression:
        return items
    terms, position = [], 0
    while position < len(expression):
        match = _FILTER_TERM.match(expression, position)
        if not match or match.end() == position:
            raise errors.invalid_value("filter", expression, "Invalid list filter expression.")
        terms.append(match)
        position = match.end()
    kept = []
    for item in items:
        keep = True
        for term in terms:
            actual = _field_value(item, term.group("field"))
            value = term.group("value")
            if value[:1] in "\"'":
                value = value[1:-1]
            op = term.group("op").lower()
            if op in ("=", ":"):
                keep = actual == value
            elif op == "!=":
                keep = actual != value
            else:
                matched = actual is not None and re.fullmatch(value, actual) is not None
                keep = matched if op == "eq" else not matched
            if not keep:
                break
        if keep:
            kept.append(item)
    return kept


def _ordered(items: list, order_by: str | None) -> list:
    if not order_by:
        return sorted(items, key=lambda item: item.get("name", ""))
    parts = order_by.split()
    if len(parts) > 2 or parts[0] not in ("name", "creationTimestamp", "insertTime") or (len(parts) == 2 and parts[1] not in ("asc", "desc")):
        raise errors.invalid_value("orderBy", order_by, "Sorting is supported by name or creationTimestamp (asc|desc).")
    return sorted(items, key=lambda item: item.get(parts[0], ""), reverse=len(parts) == 2 and parts[1] == "desc")


def _page(items: list, query: dict) -> tuple[list, str | None]:
    try:
        size = int(query.get("maxResults", 500))
    except ValueError:
        raise errors.invalid_value("maxResults", query.get("maxResults"), "Must be an integer.") from None
    if not 0 <= size <= 500:
        raise errors.invalid_value("maxResults", size, "Must be between 0 and 500.")
    size = size or 500
    start = 0
    if query.get("pageToken"):
        try:
            start = int(base64.urlsafe_b64decode(query["pageToken"].encode()).decode())
        except ValueError:
            raise errors.invalid_value("pageToken", query["pageToken"], "Invalid page token.") from None
    page = items[start:start + size]
    token = base64.urlsafe_b64encode(str(start + size).encode()).decode() if start + size < len(items) else None
    return page, token

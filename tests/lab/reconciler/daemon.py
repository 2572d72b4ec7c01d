# Lab reconciler: the follow loop (stand-ins -> fabric -> status back to the stand-ins).
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""Follow the stand-ins: every ~1 s read each /_lab/state, translate, apply the fabric on change, write status.

* A cloud whose stand-in does not answer (connection refused) contributes nothing; a slow answer keeps the
  last good state for a while (a busy machine must not tear the fabric down).
* The description changes -> fabric.apply(); no endpoint left -> the fabric is destroyed; a failed build or
  apply destroys the fabric and builds it again from scratch on a later cycle (after a pause).
* Status goes back every cycle (POST /_lab/status); a stand-in restart or reset simply shows up as new state.
* The log (a file) names objects and changes, never a pre-shared key.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request

from .report import build_reports, vyos_reports
from .translate import translate

try:  # tests/lab as a package, or tests/lab on sys.path
    from ..dataplane import Fabric, FabricError, SpecError, cleanup_stale
    from ..dataplane.system import CommandError
    from ..dataplane.vici import ViciError
except ImportError:  # pragma: no cover - depends on how the lab is imported
    from dataplane import Fabric, FabricError, SpecError, cleanup_stale  # type: ignore[no-redef]
    from dataplane.system import CommandError  # type: ignore[no-redef]
    from dataplane.vici import ViciError  # type: ignore[no-redef]

CLOUDS = ("aws", "gcp", "azure")
STALE_STATE_SECONDS = 10.0     # a stand-in that answers slowly keeps its last good state this long
RETRY_AFTER_FAILURE = 5.0      # seconds before the same description is tried again after a failed build/apply
INITIATE_RETRY = 5.0           # an initiating cloud gateway tries again this often while it has no IKE SA
LOG = logging.getLogger("mcvpn.reconciler")


def http_json(url: str, body: dict | None = None, timeout: float = 5.0) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback stand-ins only
        return json.loads(response.read() or b"{}")


def _summary(description: dict | None) -> dict:
    """Endpoint id -> a digest of its settings (for change logs without values, PSKs above all)."""
    if not description:
        return {}
    return {ep["id"]: hash(json.dumps(ep, sort_keys=True)) for ep in description["endpoints"]}


class Reconciler:  # pylint: disable=too-many-instance-attributes
    """One reconciler for one fabric. urls: {"aws"|"gcp"|"azure": "http://127.0.0.1:PORT"} (missing = not running)."""

    def __init__(self, urls: dict, topology: dict | None, fabric_name: str, root: str | None = None, interval: float = 1.0,
                 status_path: str | None = None, vyos_dir: str | None = None):
        self.urls = {cloud: url for cloud, url in urls.items() if url}
        self.vyos_dir = vyos_dir                 # <name>.commands files (VyOS routers), <name>.status.json written back
        self.topology = topology
        self.fabric_name = fabric_name
        self.root = root
        self.interval = interval
        self.status_path = status_path
        self.fabric: Fabric | None = None
        self.applied: str | None = None          # JSON of the description the fabric runs
        self.failed: tuple = (None, 0.0)         # (description JSON, monotonic time) of the last failed build/apply
        self.last_states: dict = {}              # cloud -> (state, monotonic time)
        self.notes: list = []
        self.cycle = 0
        self.last: dict = {}
        self.stopping = threading.Event()
        self._report_errors: dict = {}
        self._initiated: dict = {}               # endpoint id -> monotonic time of our last retry
        self._without_sa: dict = {}              # endpoint id -> since when an initiating endpoint has had no IKE SA

    # ---------------------------------------------------------------------------------- reading
    def fetch(self) -> dict:
        states = {}
        now = time.monotonic()
        for cloud in CLOUDS:
            url = self.urls.get(cloud)
            if not url:
                states[cloud] = None
                continue
            try:
                states[cloud] = http_json(url + "/_lab/state")
                self.last_states[cloud] = (states[cloud], now)
            except urllib.error.URLError as exc:
                refused = isinstance(exc.reason, ConnectionRefusedError)
                previous, when = self.last_states.get(cloud, (None, 0.0))
                states[cloud] = None if refused or now - when > STALE_STATE_SECONDS else previous
                self._once("fetch-" + cloud, "%s stand-in: %s" % (cloud, "not running" if refused else exc.reason))
            except (OSError, ValueError) as exc:
                previous, when = self.last_states.get(cloud, (None, 0.0))
                states[cloud] = previous if now - when <= STALE_STATE_SECONDS else None
                self._once("fetch-" + cloud, "%s stand-in: %s" % (cloud, exc))
            else:
                self._report_errors.pop("fetch-" + cloud, None)
        states["vyos"] = self.read_vyos_configs()
        return states

    def read_vyos_configs(self) -> dict | None:
        """{name: text} of every <vyos_dir>/<name>.commands (written by vyos_from_aws_config, mode 0600: PSKs)."""
        if not self.vyos_dir or not os.path.isdir(self.vyos_dir):
            return None
        configs = {}
        for entry in sorted(os.listdir(self.vyos_dir)):
            if entry.endswith(".commands") and not entry.startswith("."):
                try:
                    with open(os.path.join(self.vyos_dir, entry), encoding="utf-8") as handle:
                        configs[entry[:-len(".commands")]] = handle.read()
                except OSError as exc:
                    self._once("vyos-" + entry, "vyos %s: %s" % (entry, exc))
        return configs

    def write_vyos_status(self, translation: dict, status: dict | None) -> None:
        """<vyos_dir>/<name>.status.json per router: its IPsec and BGP view; stale files of removed routers go."""
        if not self.vyos_dir or not os.path.isdir(self.vyos_dir):
            return
        reports = vyos_reports(translation, status)
        for name, report in reports.items():
            path = os.path.join(self.vyos_dir, name + ".status.json")
            tmp = path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump(dict(report, time=time.time()), handle, indent=1, sort_keys=True)
            os.replace(tmp, path)
        for entry in os.listdir(self.vyos_dir):
            if entry.endswith(".status.json") and entry[:-len(".status.json")] not in reports:
                try:
                    os.unlink(os.path.join(self.vyos_dir, entry))
                except OSError:
                    pass

    def _once(self, key: str, message: str) -> None:
        """Log a recurring problem once until it changes."""
        if self._report_errors.get(key) != message:
            self._report_errors[key] = message
            LOG.warning(message)

    # ---------------------------------------------------------------------------------- fabric
    def converge(self, description: dict | None) -> None:
        wanted = json.dumps(description, sort_keys=True) if description else None
        if wanted == self.applied and (self.fabric is not None or wanted is None):
            return
        if wanted is not None and self.failed[0] == wanted and time.monotonic() - self.failed[1] < RETRY_AFTER_FAILURE:
            return
        if wanted is None:
            if self.fabric is not None:
                LOG.info("no tunnel left in the stand-ins: destroying fabric %s", self.fabric_name)
                self.fabric.destroy()
                self.fabric = None
            self.applied = None
            return
        before = _summary(json.loads(self.applied)) if self.applied else {}
        after = _summary(description)
        started = time.monotonic()
        try:
            if self.fabric is None:
                cleanup_stale(self.fabric_name, self.root, exact=True)   # a crashed predecessor's leftovers (owner gone)
                LOG.info("building fabric %s: %d sites, %d endpoints", self.fabric_name, len(description["sites"]), len(after))
                self.fabric = Fabric.create(description, root=self.root)
                changes = {"endpoints_added": sorted(after)}
            else:
                changes = self.fabric.apply(description)
        except (FabricError, SpecError, CommandError, TimeoutError, OSError, ValueError, KeyError) as exc:
            LOG.error("fabric %s: build/apply failed (%s: %s); rebuilding from scratch later", self.fabric_name, type(exc).__name__, exc)
            self.failed = (wanted, time.monotonic())
            if self.fabric is not None:
                self.fabric.destroy()
            self.fabric = None
            self.applied = None
            return
        self.applied = wanted
        changed = sorted(eid for eid in after if eid in before and before[eid] != after[eid])
        LOG.info("fabric %s applied in %.2fs: %s; endpoints changed: %s", self.fabric_name, time.monotonic() - started,
                 {kind: ids for kind, ids in changes.items() if ids} or "no structural change", ", ".join(changed) or "-")

    def retry_initiators(self, status: dict) -> None:
        """Cloud gateways that initiate keep trying; charon gives up after an error notify (NO_PROPOSAL_CHOSEN,
        AUTHENTICATION_FAILED). So an initiating endpoint without any IKE SA is initiated again every few seconds:
        a repair on the other side (which may be a waiting AWS tunnel) then comes up as it would in the clouds."""
        now = time.monotonic()
        starts = {ep["id"]: ep["start"] for ep in self.fabric.spec["endpoints"]}
        for endpoint_id, entry in status["endpoints"].items():
            if starts.get(endpoint_id) != "initiate" or entry.get("ike_state") or not entry.get("charon_running"):
                self._without_sa.pop(endpoint_id, None)
                continue
            since = self._without_sa.setdefault(endpoint_id, now)
            if now - since < INITIATE_RETRY or now - self._initiated.get(endpoint_id, 0.0) < INITIATE_RETRY:
                continue
            self._initiated[endpoint_id] = now
            try:
                self.fabric.initiate(endpoint_id)
            except (ViciError, OSError, ValueError) as exc:
                self._once("initiate-" + endpoint_id, "initiate %s failed: %s" % (endpoint_id, exc))

    # ---------------------------------------------------------------------------------- status
    def write_status(self, translation: dict, status: dict | None) -> None:
        reports = build_reports(translation, status)
        if self.urls.get("aws") and reports["aws"]["vpn_connections"]:
            self._post("aws", reports["aws"], split="vpn_connections")
        if self.urls.get("gcp"):
            for document in reports["gcp"]:
                self._post("gcp", document)
        azure = reports["azure"]
        if self.urls.get("azure") and (azure["connections"] or azure["virtual_network_gateways"]):
            self._post("azure", azure, split="connections")

    def _post(self, cloud: str, body: dict, split: str | None = None) -> None:
        try:
            http_json(self.urls[cloud] + "/_lab/status", body)
            self._report_errors.pop("status-" + cloud, None)
        except urllib.error.HTTPError as exc:
            if exc.code == 400 and split:
                # an object vanished between our read and this write: the stand-in refuses the whole document,
                # so send it object by object and let the missing ones fail alone
                for key, value in body.get(split, {}).items():
                    single = {name: ({key: value} if name == split else {}) for name in body}
                    try:
                        http_json(self.urls[cloud] + "/_lab/status", single)
                    except (urllib.error.URLError, OSError, ValueError):
                        pass
                others = {name: value for name, value in body.items() if name != split}
                if any(others.values()):
                    try:
                        http_json(self.urls[cloud] + "/_lab/status", others)
                    except (urllib.error.URLError, OSError, ValueError):
                        pass
                return
            self._once("status-" + cloud, "%s status write refused: %s" % (cloud, exc))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            self._once("status-" + cloud, "%s status write failed: %s" % (cloud, exc))

    # ---------------------------------------------------------------------------------- loop
    def step(self) -> dict:
        """One cycle: read, translate, converge, write status. Returns a summary (no secrets)."""
        started = time.monotonic()
        states = self.fetch()
        translation = translate(states, self.topology, self.fabric_name)
        if translation["notes"] != self.notes:
            for note in translation["notes"]:
                if note not in self.notes:
                    LOG.warning("translation: %s", note)
            self.notes = translation["notes"]
        self.converge(translation["description"])
        status = None
        if self.fabric is not None:
            try:
                status = self.fabric.status()
            except (CommandError, OSError, ValueError, KeyError) as exc:
                self._once("status", "fabric status failed: %s" % exc)
        if status is not None:
            self.retry_initiators(status)
        self.write_status(translation, status)
        self.write_vyos_status(translation, status)
        self.cycle += 1
        self.last = {
            "pid": os.getpid(), "fabric": self.fabric_name, "cycle": self.cycle, "time": time.time(),
            "cycle_seconds": round(time.monotonic() - started, 3), "clouds": {cloud: states[cloud] is not None for cloud in CLOUDS},
            "fabric_running": self.fabric is not None, "all_healthy": bool(status and status["all_healthy"]),
            "endpoints": {eid: {"site": ep["site"], "healthy": ep["healthy"], "problems": ep["problems"]}
                          for eid, ep in (status or {}).get("endpoints", {}).items()},
            "left_out": {eid: b.get("reason") for eid, b in translation["bindings"].items() if not b.get("accepted")},
            "probes": sorted(probe["name"] for site in (translation["description"] or {}).get("sites", []) for probe in site.get("probes", [])),
            "notes": translation["notes"],
        }
        if self.status_path:
            tmp = self.status_path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump(self.last, handle, indent=1, sort_keys=True)
            os.replace(tmp, self.status_path)
        return self.last

    def run(self) -> None:
        LOG.info("reconciler for fabric %s following %s every %.1fs", self.fabric_name, ", ".join(sorted(self.urls)) or "nothing",
                 self.interval)
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                self.step()
            except Exception:  # pylint: disable=broad-except  # the daemon must survive anything one cycle meets
                LOG.exception("cycle %d failed", self.cycle)
            self.stopping.wait(max(0.05, self.interval - (time.monotonic() - started)))
        self.shutdown()

    def shutdown(self) -> None:
        if self.fabric is not None:
            LOG.info("destroying fabric %s", self.fabric_name)
            self.fabric.destroy()
            self.fabric = None
        self.applied = None

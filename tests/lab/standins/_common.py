# Lab stand-ins: what the three cloud API stand-ins share.
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""Request log, seeded fault injection, provisioning delays and the /_lab control API.

Every stand-in is a WSGI application wrapped in :class:`LabMiddleware`. The middleware
- answers the lab's own control routes under ``/_lab/`` (never logged, never faulted);
- classifies each API request into ``(operation, is_write)`` with the stand-in's classifier;
- injects seeded faults (5xx, throttling, answers lost after the write happened);
- records one request-log entry per API request (benchmarks and tests read the counts).

Control routes (JSON):
  GET  /_lab/health          {"cloud": ..., "ok": true}
  GET  /_lab/requests        {"entries": [...], "summary": {...}}
  POST /_lab/requests/clear  clears the log
  POST /_lab/reset           controller.reset() and clears the log
  GET  /_lab/state           controller.dump_state(): full internal state, secrets included
                             (the data plane reads PSKs from here: GCP never returns them)
  POST /_lab/status          controller.apply_status(body): the data plane writes tunnel/BGP status
  GET|POST /_lab/config      read / update {"faults": {...}, "delays": {...}}
"""
from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol

FAULT_KINDS = ("server_error", "throttle", "lost_response")


class LabController(Protocol):
    def reset(self) -> None: ...

    def dump_state(self) -> dict: ...

    def apply_status(self, status: dict) -> None: ...


@dataclass
class FaultPlan:
    """Seeded fault injection: the same seed and request sequence give the same faults."""

    rate: float = 0.0
    seed: int = 0
    kinds: tuple = FAULT_KINDS
    lost_response_delay: float = 0.0
    _rng: random.Random = field(default_factory=random.Random, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.reseed(self.seed)

    def reseed(self, seed: int) -> None:
        self.seed = seed
        self._rng = random.Random(seed)

    def configure(self, settings: dict) -> None:
        with self._lock:
            if "rate" in settings:
                rate = float(settings["rate"])
                if not 0.0 <= rate <= 1.0:
                    raise ValueError("faults.rate must be between 0 and 1")
                self.rate = rate
            if "kinds" in settings:
                unknown = set(settings["kinds"]) - set(FAULT_KINDS)
                if unknown:
                    raise ValueError("faults.kinds: unknown %s" % sorted(unknown))
                self.kinds = tuple(settings["kinds"])
            if "lost_response_delay" in settings:
                self.lost_response_delay = float(settings["lost_response_delay"])
            if "seed" in settings:
                self.reseed(int(settings["seed"]))

    def draw(self) -> str | None:
        with self._lock:
            if self.rate <= 0 or not self.kinds:
                return None
            if self._rng.random() >= self.rate:
                return None
            return self._rng.choice(self.kinds)

    def as_dict(self) -> dict:
        return {"rate": self.rate, "seed": self.seed, "kinds": list(self.kinds),
                "lost_response_delay": self.lost_response_delay}


class Delays:
    """Provisioning delays in seconds per resource kind (e.g. "virtualNetworkGateways")."""

    def __init__(self, defaults: dict | None = None) -> None:
        self._values: dict[str, float] = dict(defaults or {})

    def configure(self, settings: dict) -> None:
        for kind, seconds in settings.items():
            seconds = float(seconds)
            if seconds < 0:
                raise ValueError("delays.%s must not be negative" % kind)
            self._values[kind] = seconds

    def get(self, kind: str, default: float = 0.0) -> float:
        return self._values.get(kind, default)

    def as_dict(self) -> dict:
        return dict(self._values)


class RequestLog:
    """Thread-safe log of API requests: one entry per request, in arrival order."""

    def __init__(self) -> None:
        self._entries: list[dict] = []
        self._lock = threading.Lock()

    def add(self, entry: dict) -> None:
        with self._lock:
            entry["seq"] = len(self._entries) + 1
            self._entries.append(entry)

    def clear(self) -> None:
        with self._lock:
            self._entries = []

    def entries(self) -> list[dict]:
        with self._lock:
            return [dict(entry) for entry in self._entries]

    def summary(self) -> dict:
        return summarize(self.entries())


def summarize(entries: Iterable[dict]) -> dict:
    """Counts per operation, and reads / writes / faults in total."""
    by_operation: dict[str, int] = {}
    totals = {"requests": 0, "reads": 0, "writes": 0, "faults": 0}
    for entry in entries:
        totals["requests"] += 1
        totals["writes" if entry.get("write") else "reads"] += 1
        if entry.get("fault"):
            totals["faults"] += 1
        by_operation[entry["operation"]] = by_operation.get(entry["operation"], 0) + 1
    totals["by_operation"] = dict(sorted(by_operation.items()))
    return totals


Classifier = Callable[[dict], "tuple[str, bool]"]
FaultRenderer = Callable[[str, dict], "tuple[str, list, bytes]"]


class LabMiddleware:
    """WSGI wrapper: lab control routes, request log and fault injection for one stand-in."""

    def __init__(self, app: Callable, *, cloud: str, classify: Classifier, render_fault: FaultRenderer,
                 controller: LabController, faults: FaultPlan | None = None, delays: Delays | None = None) -> None:
        self.app = app
        self.cloud = cloud
        self.classify = classify
        self.render_fault = render_fault
        self.controller = controller
        self.faults = faults or FaultPlan()
        self.delays = delays or Delays()
        self.log = RequestLog()

    # -- WSGI -------------------------------------------------------------------------
    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_lab/"):
            return self._control(environ, start_response, path[len("/_lab/"):])
        _read_body(environ)  # cached in environ: the classifier may read the body (EC2 form posts)
        operation, is_write = self.classify(environ)
        entry: dict[str, Any] = {"cloud": self.cloud, "operation": operation, "write": is_write,
                                 "method": environ.get("REQUEST_METHOD"), "path": path, "time": time.time()}
        fault = self.faults.draw()
        if fault in ("server_error", "throttle"):
            status, headers, payload = self.render_fault(fault, environ)
            entry.update(status=int(status.split()[0]), fault=fault)
            self.log.add(entry)
            start_response(status, headers)
            return [payload]
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list, exc_info: Any = None) -> Callable:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        payload = b"".join(self.app(environ, capture))
        entry["status"] = int(captured["status"].split()[0])
        if fault == "lost_response":
            # The write (if any) happened; the client never hears about it.
            time.sleep(self.faults.lost_response_delay)
            status, headers, payload = self.render_fault(fault, environ)
            entry["fault"] = fault
            self.log.add(entry)
            start_response(status, headers)
            return [payload]
        self.log.add(entry)
        start_response(captured["status"], captured["headers"])
        return [payload]

    # -- control API ------------------------------------------------------------------
    def _control(self, environ: dict, start_response: Callable, route: str) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            body = json.loads(_read_body(environ) or b"{}")
            result = self._route(method, route, body)
        except KeyError:
            return _json(start_response, "404 Not Found", {"error": "no lab route %s %s" % (method, route)})
        except (ValueError, TypeError) as error:
            return _json(start_response, "400 Bad Request", {"error": str(error)})
        return _json(start_response, "200 OK", result)

    def _route(self, method: str, route: str, body: dict) -> dict:
        if route == "health":
            return {"cloud": self.cloud, "ok": True}
        if route == "requests" and method == "GET":
            entries = self.log.entries()
            return {"entries": entries, "summary": summarize(entries)}
        if route == "requests/clear" and method == "POST":
            self.log.clear()
            return {"ok": True}
        if route == "reset" and method == "POST":
            self.controller.reset()
            self.log.clear()
            return {"ok": True}
        if route == "state" and method == "GET":
            return self.controller.dump_state()
        if route == "status" and method == "POST":
            self.controller.apply_status(body)
            return {"ok": True}
        if route == "config":
            if method == "POST":
                self.faults.configure(body.get("faults", {}))
                self.delays.configure(body.get("delays", {}))
            return {"faults": self.faults.as_dict(), "delays": self.delays.as_dict()}
        raise KeyError(route)


def _read_body(environ: dict) -> bytes:
    """Read the request body once and put it back so the wrapped app can read it again."""
    cached = environ.get("mcvpn.body")
    if cached is not None:
        return cached
    import io

    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["mcvpn.body"] = body
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _json(start_response: Callable, status: str, document: Any) -> list:
    payload = json.dumps(document, default=str).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


def knobs_from_config(config: dict, default_delays: dict) -> "tuple[Delays, FaultPlan]":
    """The provisioning delays and fault plan a stand-in config asks for."""
    delays = Delays(default_delays)
    delays.configure(config.get("delays", {}))
    faults = FaultPlan()
    faults.configure(config.get("faults", {}))
    return delays, faults


def run_standin(name: str, description: str, build_app: Callable, argv: list | None = None) -> int:
    """`python -m standins.<name> --host H --port P [--config FILE]`: serve until SIGTERM.

    Threaded (long-running operations must not block reads); says it is listening only once
    the socket is bound. Prints nothing secret.
    """
    import argparse
    import logging
    import signal
    import sys

    from werkzeug.serving import make_server

    parser = argparse.ArgumentParser(prog="python -m standins.%s" % name, description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--config", help="JSON file: {\"faults\": {...}, \"delays\": {...}, ...}")
    options = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    started = time.monotonic()
    app = build_app(load_config(options.config))
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    server = make_server(options.host, options.port, app, threaded=True)
    print("%s stand-in listening on http://%s:%d (built in %.2f s)" % (name, options.host, server.server_port,
                                                                       time.monotonic() - started), flush=True)
    server.serve_forever()
    return 0


def load_config(path: str | None) -> dict:
    """Stand-in config file: {"faults": {...}, "delays": {...}}; missing file -> defaults."""
    if not path:
        return {}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)

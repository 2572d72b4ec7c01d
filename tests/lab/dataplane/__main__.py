"""Command line for the lab data plane (lab test code, runs as root).

    python -m tests.lab.dataplane example NAME > spec.json     # the 4-tunnel AWS<->GCP description
    python -m tests.lab.dataplane up spec.json [--wait 60]     # build; exit 0 once every link is healthy
    python -m tests.lab.dataplane status NAME [--json]
    python -m tests.lab.dataplane apply spec.json [--wait 60]  # reconcile a running fabric
    python -m tests.lab.dataplane ping NAME FROM_PROBE TO      # TO: address or probe name
    python -m tests.lab.dataplane rekey|terminate|initiate NAME ENDPOINT
    python -m tests.lab.dataplane down NAME
    python -m tests.lab.dataplane cleanup PREFIX [--force]     # fabrics of crashed runs (--force: also detached ones)

State lives under --root (default $MCVPN_LAB_ROOT or /run/mcvpn-lab), one directory per fabric.
"""
from __future__ import annotations

import argparse
import json
import sys

from . import DEFAULT_ROOT, Fabric, FabricError, SpecError, cleanup_stale, prerequisites_missing
from .examples import aws_gcp_four_tunnels


def _load(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _print_status(status: dict) -> None:
    print("fabric %s: %s" % (status["name"], "all links healthy" if status["all_healthy"] else "NOT healthy"))
    print("%-14s %-5s %-31s %-12s %-6s %-12s %s" % ("endpoint", "site", "outside -> remote", "IKE", "CHILD", "BGP", "prefixes / problems"))
    for endpoint_id, ep in sorted(status["endpoints"].items()):
        detail = ", ".join(ep["bgp"]["prefixes"]) if ep["healthy"] else "; ".join(ep["problems"] + ep["errors"])
        print("%-14s %-5s %-31s %-12s %-6s %-12s %s" % (
            endpoint_id, ep["site"], "%s -> %s" % (ep["outside_ip"], ep["remote_ip"]), ep["ike_state"] or "-",
            "yes" if ep["child_installed"] else "no", ep["bgp"]["state"] or "-", detail))


def _wait(fabric: Fabric, seconds: float) -> int:
    if seconds <= 0:
        _print_status(fabric.status())
        return 0
    ok, status = fabric.wait_healthy(seconds)
    _print_status(status)
    return 0 if ok else 1


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.lab.dataplane", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--root", default=DEFAULT_ROOT, help="state directory root (default %(default)s)")
    commands = parser.add_subparsers(dest="command", required=True)
    example = commands.add_parser("example", help="print the 4-tunnel AWS<->GCP example description")
    example.add_argument("name")
    for name in ("up", "apply"):
        command = commands.add_parser(name, help="%s a fabric from a JSON description" % ("build" if name == "up" else "reconcile"))
        command.add_argument("spec")
        command.add_argument("--wait", type=float, default=60.0, help="seconds to wait for all links (0: do not wait)")
    status = commands.add_parser("status", help="IKE/CHILD/BGP state per endpoint")
    status.add_argument("name")
    status.add_argument("--json", action="store_true")
    ping = commands.add_parser("ping", help="ping from a probe")
    ping.add_argument("name")
    ping.add_argument("from_probe")
    ping.add_argument("to")
    ping.add_argument("--count", type=int, default=3)
    for name in ("rekey", "terminate", "initiate"):
        command = commands.add_parser(name, help="%s one endpoint's SA" % name)
        command.add_argument("name")
        command.add_argument("endpoint")
    down = commands.add_parser("down", help="end the fabric's processes and delete its namespaces")
    down.add_argument("name")
    cleanup = commands.add_parser("cleanup", help="remove fabrics of crashed runs by name prefix")
    cleanup.add_argument("prefix")
    cleanup.add_argument("--force", action="store_true", help="also remove live and detached fabrics")
    args = parser.parse_args(argv)

    if args.command == "example":
        print(json.dumps(aws_gcp_four_tunnels(args.name), indent=2))
        return 0
    missing = prerequisites_missing()
    if missing:
        print("cannot run: %s" % missing, file=sys.stderr)
        return 2
    try:
        if args.command == "up":
            return _wait(Fabric.create(_load(args.spec), root=args.root, detached=True), args.wait)
        if args.command == "apply":
            description = _load(args.spec)
            fabric = Fabric.attach(description.get("name", ""), args.root)
            print(json.dumps({kind: ids for kind, ids in fabric.apply(description).items() if ids}))
            return _wait(fabric, args.wait)
        if args.command == "cleanup":
            print("removed: %s" % (", ".join(cleanup_stale(args.prefix, args.root, force=args.force)) or "-"))
            return 0
        fabric = Fabric.attach(args.name, args.root)
        if args.command == "status":
            current = fabric.status()
            if args.json:
                print(json.dumps(current, indent=1, sort_keys=True))
            else:
                _print_status(current)
            return 0 if current["all_healthy"] else 1
        if args.command == "ping":
            ok, details = fabric.ping(args.from_probe, args.to, count=args.count)
            print(json.dumps(details))
            return 0 if ok else 1
        if args.command == "rekey":
            result = fabric.rekey(args.endpoint)
            print(json.dumps(result))
            return 0 if result["ok"] else 1
        if args.command in ("terminate", "initiate"):
            print(json.dumps(getattr(fabric, args.command)(args.endpoint)))
            return 0
        if args.command == "down":
            fabric.destroy()
            return 0
    except (FabricError, SpecError, TimeoutError) as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark of the lab data plane: build time, memory, failover outage (needs root, charon, FRR).

    cd /work/main && /tmp/venvtest/v/bin/python tests/lab/bench_dataplane.py [--dead-path]

Prints: seconds from nothing to all 4 tunnels up (IKE + CHILD_SA + BGP with prefixes) and pinging
both ways; the RSS sum of the fabric's processes; the failover outage after a graceful close of the
tunnel carrying traffic (and, with --dead-path, after silently cutting its path) next to the BGP hold time.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

try:
    from .dataplane import Fabric, cleanup_stale, prerequisites_missing, system
    from .dataplane.examples import aws_gcp_four_tunnels
except ImportError:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from dataplane import Fabric, cleanup_stale, prerequisites_missing, system
    from dataplane.examples import aws_gcp_four_tunnels


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--dead-path", action="store_true", help="also measure failover on a dead path (DPD; ~20 s)")
    parser.add_argument("--name", default="mcvdpbench%d" % (os.getpid() % 10000))
    args = parser.parse_args()
    missing = prerequisites_missing()
    if missing:
        print("cannot run: %s" % missing)
        return 2
    cleanup_stale("mcvdpbench")
    description = aws_gcp_four_tunnels(args.name)
    hold = description["endpoints"][0]["bgp_hold"]
    started = time.monotonic()
    fabric = Fabric.create(description)
    try:
        built = time.monotonic() - started
        ok, _status = fabric.wait_healthy(60)
        healthy = time.monotonic() - started
        pings = [fabric.ping("gcp-probe", "aws-probe", count=1, wait=1), fabric.ping("aws-probe", "gcp-probe", count=1, wait=1)]
        pinging = time.monotonic() - started
        if not ok or not all(result for result, _details in pings):
            print("fabric did not come up: %s" % fabric.status())
            return 1
        by_role: dict = {}
        for key, record in fabric.processes().items():
            role = key.split("/")[0]
            by_role.setdefault(role, [0, 0])
            by_role[role][0] += 1
            by_role[role][1] += system.process_rss_kib(record["pid"])
        rss = fabric.rss_kib()
        print("tunnels                         : 4 (2 AWS connections x 2, GCP HA 2 interfaces x 2), BGP on each")
        print("namespaces + daemons started    : %.2f s" % built)
        print("all tunnels up (SA+BGP+prefixes): %.2f s" % healthy)
        print("... and pinging both ways       : %.2f s" % pinging)
        print("RSS of the fabric's processes   : %.1f MB (%d processes)" % (rss / 1024.0, len(fabric.processes())))
        for role, (count, kib) in sorted(by_role.items()):
            print("    %-6s x%d                   : %.1f MB" % (role, count, kib / 1024.0))
        victim = fabric.carrying_endpoints("gcp-probe", "aws-probe")[0]
        graceful = fabric.measure_outage("gcp-probe", "aws-probe", lambda: fabric.terminate(victim))
        print("failover, graceful close (%s)  : outage %.2f s, %s replies lost (BGP hold time %d s)"
              % (victim, graceful["outage_seconds"], graceful["lost_replies"], hold))
        fabric.initiate(victim)
        fabric.wait_healthy(30)
        if args.dead_path:
            victim = fabric.carrying_endpoints("aws-probe", "gcp-probe")[0]
            dead = fabric.measure_outage("aws-probe", "gcp-probe", lambda: fabric.set_path(victim, False), max_wait=90)
            print("failover, dead path (%s)    : outage %.2f s, %s replies lost (BGP hold time %d s; DPD %d s + retransmits)"
                  % (victim, dead["outage_seconds"], dead["lost_replies"], hold, fabric.spec["endpoints"][0]["dpd_interval"]))
            fabric.set_path(victim, True)
    finally:
        fabric.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())

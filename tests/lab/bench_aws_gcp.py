"""Benchmark: playbooks/aws_gcp_ha.yml with 4 tunnels against the lab (real data plane).

Prints the wall time of the first converge and of the no-op rerun, and the cloud API calls of
each (reads and writes per cloud, from the stand-ins' request logs). A figure, not a test: it
asserts only that the runs succeeded.

    sudo .venv/bin/python tests/lab/bench_aws_gcp.py [--tunnels 4]
"""
from __future__ import annotations

import argparse
import sys

from labtools import LabSession, data_plane_missing


def calls(summary: dict) -> str:
    return "  ".join("%s %3d (%d reads, %d writes)" % (cloud, counts["requests"], counts["reads"], counts["writes"])
                     for cloud, counts in summary.items() if counts["requests"])


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tunnels", type=int, default=4, choices=[1, 2, 4])
    args = parser.parse_args(argv)
    reason = data_plane_missing()
    if reason:
        print("skipped: %s" % reason)
        return 0
    extra = {"mcvpn_tunnels": args.tunnels}
    with LabSession("mcvbench", (18680, 18681, 18682), data_plane=True) as lab:
        rows = []
        for label, playbook in (("first converge", "playbooks/aws_gcp_ha.yml"), ("no-op rerun", "playbooks/aws_gcp_ha.yml"),
                                ("teardown", "playbooks/aws_gcp_ha_teardown.yml")):
            lab.clear_requests()
            run = lab.playbook(playbook, extra_vars=extra)
            if run.returncode != 0:
                print(run.output[-4000:])
                return 1
            rows.append((label, run.seconds, run.changed(), lab.requests()))
    print("aws_gcp_ha.yml, %d tunnels, lab with real data plane" % args.tunnels)
    for label, seconds, changed, summary in rows:
        total = sum(counts["requests"] for counts in summary.values())
        print("  %-15s %6.1f s  changed=%-3d API calls %3d: %s" % (label, seconds, changed, total, calls(summary)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

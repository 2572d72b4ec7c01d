"""Overlap benchmark of playbooks/aws_azure_ha.yml (issue 9): a slow Azure gateway, AWS work done meanwhile.

    cd /work/main && PYTHONPATH=/work/ac:tests/lab /tmp/venvtest/v/bin/python tests/lab/bench_aws_azure.py [--gateway-delay 20]

Starts the stand-ins (labctl start, own ports and state directory), sets simulated provisioning
delays (Azure gateway, Azure connections, AWS VGW, attachment, VPN connections), converges the BGP
link (4 tunnels) and prints the playbook's wall time next to the sum and the maximum of the
simulated delays it went through (counted from the request logs: each write of a delayed kind),
with the timeline of the phases from the JSON callback. A reference converge with every one of
those delays at 0 (``--no-reference`` skips it) shows what the delays cost on top of Ansible's own
time. Without the data plane the playbook ends at link_check (tunnels DOWN), which is expected.
A script that prints figures, not a test.
"""
from __future__ import annotations

import argparse
import datetime
import os
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_playbook_aws_azure as lab_test  # noqa: E402  pylint: disable=wrong-import-position

# EC2 write actions -> the stand-in's delay kind that the action waits for (tests/lab/standins/ec2/_backend.py).
EC2_DELAY_OF_ACTION = {"CreateVpnGateway": "vpn_gateway", "AttachVpnGateway": "vpn_gateway_attachment",
                       "CreateVpnConnection": "vpn_connection", "ModifyVpnTunnelOptions": "vpn_modify",
                       "CreateVpnConnectionRoute": "vpn_route"}
# Timeline phases: (task name prefix, task file path suffix) -> label; the first match wins.
PHASE1 = "Azure phase 1 (gateway started)"
PHASES = [
    ("multicloud.vpn.azure_vpn : Validating arguments against arg spec 'gateway'", "", PHASE1),
    ("multicloud.vpn.azure_vpn : ", "roles/azure_vpn/tasks/gateway.yml", PHASE1),
    ("multicloud.vpn.azure_vpn : ", "", "Azure main (wait for gateway, LNGs, connections)"),
    ("multicloud.vpn.link_plan : ", "", "plan and validate"),
    ("Validate the variables", "", "plan and validate"),
    ("multicloud.vpn.aws_vpn : ", "", "AWS side (while Azure builds)"),
    ("multicloud.vpn.link_check : ", "", "link_check (no data plane: DOWN)"),
    ("multicloud.vpn.probe_ping : ", "", "ping"),
]


def phase_of(task: dict) -> str:
    path = (task.get("path") or "").rsplit(":", 1)[0]
    return next((label for prefix, file_suffix, label in PHASES if task["name"].startswith(prefix) and path.endswith(file_suffix)),
                task["name"])


def simulated_delays(lab: lab_test.Lab, azure_delays: dict, ec2_delays: dict) -> list:
    """(what, seconds) for each write of the converge that waited for a simulated provisioning delay."""
    delays = []
    for entry in lab.control("ec2", "requests")["entries"]:
        kind = EC2_DELAY_OF_ACTION.get(entry["operation"])
        if entry["write"] and kind and ec2_delays.get(kind):
            delays.append(("EC2 %s" % entry["operation"], ec2_delays[kind]))
    for entry in lab.control("azure", "requests")["entries"]:
        parts = entry["operation"].split("/")
        if entry["write"] and len(parts) > 2 and parts[-1] in ("write", "delete") and azure_delays.get(parts[1]):
            delays.append(("Azure %s" % "/".join(parts[1:]), azure_delays[parts[1]]))
    return delays


def _when(stamp: str) -> float:
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def timeline(document: dict) -> list:
    """[(label, start, end)] of consecutive phases, seconds from the first task."""
    spans: list = []
    origin = None
    for play in document["plays"]:
        for task in play["tasks"]:
            start, end = _when(task["task"]["duration"]["start"]), _when(task["task"]["duration"]["end"])
            origin = start if origin is None else origin
            label = phase_of(task["task"])
            if spans and spans[-1][0] == label:
                spans[-1][2] = end - origin
            else:
                spans.append([label, start - origin, end - origin])
    return spans


def slowest_tasks(document: dict, count: int = 6) -> list:
    """[(seconds, task name)] of the longest tasks."""
    durations = [(_when(task["task"]["duration"]["end"]) - _when(task["task"]["duration"]["start"]), task["task"]["name"])
                 for play in document["plays"] for task in play["tasks"]]
    return sorted(durations, reverse=True)[:count]


def gateway_overlap(lab: lab_test.Lab, document: dict, gateway_delay: float) -> dict:
    """When the gateway PUT was sent, when it was provisioned (+ its delay), when the Azure main task started and
    when it sent its first local network gateway or connection write: seconds from the first task."""
    origin = _when(document["plays"][0]["tasks"][0]["task"]["duration"]["start"])
    writes = [entry for entry in lab.control("azure", "requests")["entries"] if entry["write"]]
    gateway_put = next((entry["time"] for entry in writes if entry["operation"].endswith("virtualNetworkGateways/write")), None)
    first_link_write = next((entry["time"] for entry in writes if "localNetworkGateways/write" in entry["operation"]
                             or "connections/write" in entry["operation"]), None)
    main_start = next((_when(task["task"]["duration"]["start"]) for play in document["plays"] for task in play["tasks"]
                       if task["task"]["name"].startswith("multicloud.vpn.azure_vpn : Azure local network gateways")), None)
    return {"gateway_put": gateway_put and gateway_put - origin,
            "gateway_ready": gateway_put and gateway_put - origin + gateway_delay,
            "azure_main_start": main_start and main_start - origin,
            "first_link_write": first_link_write and first_link_write - origin}


def converge(lab: lab_test.Lab, workdir: pathlib.Path, azure_delays: dict, ec2_delays: dict) -> dict:
    lab.control("azure", "config", {"delays": azure_delays})
    lab.control("ec2", "config", {"delays": ec2_delays})
    lab.clear_logs()
    started = time.monotonic()
    rc, document, _output = lab_test.run_playbook(lab, workdir, lab_test.PLAYBOOK, "bgp")
    wall = time.monotonic() - started
    delays = simulated_delays(lab, azure_delays, ec2_delays)
    report = lab_test.result_of(document, lab_test.REPORT_TASK).get("msg", [])
    overlap = gateway_overlap(lab, document, azure_delays.get("virtualNetworkGateways", 0))
    summaries = {cloud: lab.control(cloud, "requests")["summary"] for cloud in ("ec2", "azure")}
    lab.control("azure", "config", {"delays": {kind: 0 for kind in azure_delays}})   # a fast teardown
    lab.control("ec2", "config", {"delays": {kind: 0 for kind in ec2_delays}})
    teardown_rc, _document, _output = lab_test.run_playbook(lab, workdir, lab_test.TEARDOWN, "bgp")
    return {"rc": rc, "wall": wall, "delays": delays, "timeline": timeline(document), "tunnels": len(report), "overlap": overlap,
            "slowest": slowest_tasks(document),
            "requests": summaries, "teardown_rc": teardown_rc}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--gateway-delay", type=float, default=20.0, help="Azure virtualNetworkGateways provisioning, s (default 20)")
    parser.add_argument("--connection-delay", type=float, default=1.0, help="Azure connections provisioning, s (default 1)")
    parser.add_argument("--aws-connection-delay", type=float, default=5.0, help="EC2 VPN connection pending -> available, s (default 5)")
    parser.add_argument("--aws-gateway-delay", type=float, default=2.0, help="EC2 VGW available and attached, s each (default 2)")
    parser.add_argument("--no-reference", action="store_true", help="skip the converge with these delays at 0")
    args = parser.parse_args()
    azure_delays = {"virtualNetworkGateways": args.gateway_delay, "connections": args.connection_delay}
    ec2_delays = {"vpn_gateway": args.aws_gateway_delay, "vpn_gateway_attachment": args.aws_gateway_delay,
                  "vpn_connection": args.aws_connection_delay}
    with tempfile.TemporaryDirectory(prefix="mcvpn-bench-azure-") as workdir:
        lab = lab_test.Lab(os.path.join(workdir, "lab"))
        try:
            lab.arm("PUT", "resourcegroups/%s?api-version=2021-04-01" % lab_test.RESOURCE_GROUP, {"location": lab_test.LOCATION})
            reference = None
            if not args.no_reference:
                reference = converge(lab, pathlib.Path(workdir), {kind: 0 for kind in azure_delays}, {kind: 0 for kind in ec2_delays})
            measured = converge(lab, pathlib.Path(workdir), azure_delays, ec2_delays)
        finally:
            lab.stop()
    delays = [seconds for _what, seconds in measured["delays"]]
    longest = max(measured["delays"], key=lambda item: item[1]) if delays else ("-", 0.0)
    print("playbooks/aws_azure_ha.yml, BGP, %d tunnels reported (no data plane: link_check ends the run, rc %d; teardown rc %d)"
          % (measured["tunnels"], measured["rc"], measured["teardown_rc"]))
    print("simulated delays set: Azure %s; EC2 %s" % (azure_delays, ec2_delays))
    print("wall time of the converge                     : %6.1f s" % measured["wall"])
    print("simulated provisioning delays, sum (serial)   : %6.1f s over %d delayed writes" % (sum(delays), len(delays)))
    print("simulated provisioning delays, max            : %6.1f s (%s)" % (longest[1], longest[0]))
    if reference is not None:
        print("same converge with these delays at 0          : %6.1f s -> the delays cost %.1f s of wall time (sum %.1f, max %.1f)"
              % (reference["wall"], measured["wall"] - reference["wall"], sum(delays), longest[1]))
    by_what: dict = {}
    for what, seconds in measured["delays"]:
        count, total = by_what.get(what, (0, 0.0))
        by_what[what] = (count + 1, total + seconds)
    for what, (count, total) in sorted(by_what.items()):
        print("    %-50s x%d  %6.1f s" % (what, count, total))
    print("timeline (s from the first task):")
    for label, start, end in measured["timeline"]:
        print("    %6.1f - %6.1f  %-50s %5.1f s" % (start, end, label, end - start))
    overlap = measured["overlap"]
    print("Azure gateway PUT at %.1f s, provisioned at %.1f s; Azure main task started at %.1f s, first LNG/connection write at %.1f s"
          % (overlap["gateway_put"], overlap["gateway_ready"], overlap["azure_main_start"], overlap["first_link_write"]))
    print("-> the Azure main task waited %.1f s for the gateway (task start to its first write: %.1f s); %.1f s of the gateway's"
          " %.1f s ran alongside the AWS work" % (
              max(0.0, overlap["gateway_ready"] - overlap["azure_main_start"]), overlap["first_link_write"] - overlap["azure_main_start"],
              min(overlap["gateway_ready"], overlap["azure_main_start"]) - overlap["gateway_put"], args.gateway_delay))
    print("slowest tasks:")
    for seconds, name in measured["slowest"]:
        print("    %5.1f s  %s" % (seconds, name))
    for cloud, summary in measured["requests"].items():
        print("API calls, %-5s: %d (%d reads, %d writes)" % (cloud, summary["requests"], summary["reads"], summary["writes"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Reliability of playbooks/aws_gcp_ha.yml on the lab's stand-ins (issue 10): faults, interruptions, drift.

The stand-ins run without the data plane (fast), so no tunnel ever comes UP: a run has *converged*
when its only failure is link_check's final "Every tunnel must be up" (every write before it done).
Runs use ``--limit localhost`` (an extra one-line inventory names localhost) so the probe play is
skipped, and ``mcvpn_check_retries=0`` so link_check polls once. The stand-ins' gateway delays are
set to 0 (amazon.aws waits 15 s between polls of an attachment otherwise); nothing else is changed.

- Faults: for each seed, the stand-ins start empty and fail 20 % of the API calls (5xx, throttling,
  and answers lost after the write happened). A run that fails is rerun only when an SDK gave up
  after its own retries (counted); any other failure fails the test. After convergence the stand-ins
  hold exactly the plan's objects: customer gateways, VPN connections, VGWs and VPCs in EC2; HA and
  external VPN gateways, tunnels, routers, router interfaces and BGP peers in GCP. Then one run with
  faults off reports changed=0 and writes nothing.
  The VPC and the VGW are created by amazon.aws (ec2_vpc_net, ec2_vpc_vgw), whose creates are
  retried blindly by botocore: a lost CreateVpc answer gives two VPCs, a lost AttachVpnGateway
  answer fails the task ("already attached"). Those are counted separately as known issues of the
  role (see the report); the collection's own objects are held to exactly the plan.
- Interruptions: for each seed, the stand-ins start empty, ansible-playbook's process group gets
  SIGKILL at a seeded time during the converge, and a rerun must converge to exactly the plan's
  objects (no duplicate, no orphan). At the end the teardown leaves nothing of ours.
- Drift (behind the collection's back, through boto3 and google-cloud-compute): a phase 1
  encryption of an AWS tunnel, the Cloud Router's custom advertisement, and the pre-shared key of
  an AWS tunnel. The next run reports changed and repairs each.
  Pre-shared keys, source of truth: when the inventory gives no keys (the lab inventory), the
  keys are generated once and kept by AWS, so AWS is the source of truth: a key changed on AWS
  is the link's key from then on, and the run carries it to GCP (a GCP tunnel's secret is
  immutable: the tunnel is re-created). When the inventory gives keys (mcvpn_pre_shared_keys),
  the inventory is the source of truth: AWS is set back to the inventory's key and GCP is left
  alone. Either way, after the repair every AWS tunnel and its GCP tunnel hold the same key.

Figures (faults injected and survived, reruns, interruptions and recoveries, drifts repaired) are
printed at the end of the module and written to tests/output/reliability_aws_gcp.json.
Environment: MCVPN_RELIABILITY_SEEDS (default 10) and MCVPN_RELIABILITY_KILLS (default 10).
"""
from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time

import pytest
from labtools import REPO, LabSession, PlaybookRun, live_objects

import labctl

PLAYBOOK = "playbooks/aws_gcp_ha.yml"
TEARDOWN = "playbooks/aws_gcp_ha_teardown.yml"
PORTS = (18980, 18981, 18982)
SEEDS = int(os.environ.get("MCVPN_RELIABILITY_SEEDS", "10"))
KILLS = int(os.environ.get("MCVPN_RELIABILITY_KILLS", "10"))
FAULT_RATE = 0.2
FAULT_KINDS = ["server_error", "throttle", "lost_response"]
MAX_RUNS = 4
RUN_TIMEOUT = 600
# What the plan of 4 tunnels (the lab inventory) builds.
PLAN = {"customer_gateways": 2, "vpn_connections": 2, "vpn_gateways": 1, "vpcs": 1,
        "networks": 1, "vpnGateways": 1, "externalVpnGateways": 1, "vpnTunnels": 4, "routers": 1,
        "router_interfaces": 4, "bgp_peers": 4}
# Created by amazon.aws modules in roles/aws_vpn, not by this collection's modules.
AMAZON_AWS_KINDS = ("vpcs", "vpn_gateways")
BASE_VARS = {"mcvpn_check_retries": 0, "mcvpn_check_delay": 1}
VPC_CIDR = "10.0.0.0/16"
ADVERTISED = [{"range": "35.199.192.0/19", "description": "Cloud DNS forwarding"}]
CONVERGED_TASK = "Every tunnel must be up"
# An SDK gave up after its own retries on a transient error: a rerun is allowed (and counted).
EXHAUSTED = re.compile(r"reached max retries: \d+\): (Gateway Timeout|An internal error|Request limit exceeded)"
                       r"|: (InternalError|RequestLimitExceeded|504): |Timeout of [0-9.]+s exceeded|: (429|500|503)\b")
# Known non-idempotent retries of amazon.aws (roles/aws_vpn): reported, rerun allowed, counted apart.
KNOWN_AMAZON_AWS = re.compile(r"VpnGatewayAttachmentLimitExceeded|Found multiple VPCs")

FIGURES: dict = {
    "faults": {"seeds": 0, "runs": 0, "faults_injected": {"ec2": 0, "gcp": 0}, "converged": 0,
               "reruns_sdk_retries_exhausted": 0, "reruns_known_amazon_aws_issue": 0, "duplicates_collection_objects": 0,
               "duplicates_amazon_aws_objects": {}, "clean_run_changed": None, "clean_run_writes": None},
    "interruptions": {"kills": 0, "killed_at_seconds": [], "recoveries": 0, "duplicates_or_orphans": 0,
                      "teardown_leftovers": None},
    "drift": {"injected": 0, "repaired": 0, "details": []},
}
FIGURES_FILE = os.path.join(REPO, "tests", "output", "reliability_aws_gcp.json")


@pytest.fixture(scope="module")
def lab():
    with LabSession("mcvrel", PORTS, data_plane=False) as session:
        handle, inventory = tempfile.mkstemp(prefix="localhost-", suffix=".yml", dir=session.state_dir)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write("all:\n  hosts:\n    localhost:\n      ansible_connection: local\n")
        session.local_inventory = inventory
        started = time.monotonic()
        yield session
        FIGURES["seconds"] = round(time.monotonic() - started, 1)
    report = json.dumps(FIGURES, indent=2, sort_keys=True)
    print("\nreliability of %s (faults at %d %%, %d seeds; %d interruptions):\n%s"
          % (PLAYBOOK, FAULT_RATE * 100, SEEDS, KILLS, report))
    os.makedirs(os.path.dirname(FIGURES_FILE), exist_ok=True)
    with open(FIGURES_FILE, "w", encoding="utf-8") as stream:
        stream.write(report + "\n")


# -- running the playbook ---------------------------------------------------------------------
def command(lab, playbook: str, extra_vars: dict | None) -> list:
    return [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "inventories/lab", "-i", lab.local_inventory,
            playbook, "--limit", "localhost", "-e", json.dumps(dict(BASE_VARS, **(extra_vars or {})))]


def start(lab, playbook: str, extra_vars: dict | None = None):
    """ansible-playbook in its own process group (killed as AWX kills a job), output to a file."""
    output = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
    process = subprocess.Popen(command(lab, playbook, extra_vars), cwd=REPO, env=lab.env(), stdin=subprocess.DEVNULL,
                               stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    return process, output, time.monotonic()


def finish(started) -> PlaybookRun:
    process, output, began = started
    try:
        returncode = process.wait(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        returncode = process.wait()
    output.seek(0)
    text = output.read()
    output.close()
    return PlaybookRun(returncode, text, time.monotonic() - began)


def run(lab, playbook: str = PLAYBOOK, extra_vars: dict | None = None) -> PlaybookRun:
    return finish(start(lab, playbook, extra_vars))


def failures(run_result: PlaybookRun) -> list:
    """[(task title, message)] of the failures that were not ignored."""
    found, task = [], ""
    lines = run_result.output.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("TASK ["):
            task = line[len("TASK ["):].split("]")[0]
        elif line.startswith(("fatal: [", "failed: [")) and not (index + 1 < len(lines) and lines[index + 1].startswith("...ignoring")):
            match = re.search(r'"msg": "((?:[^"\\]|\\.)*)"', line)
            found.append((task, match.group(1) if match else line[:500]))
    if run_result.returncode not in (0, 2) and not found:
        found.append(("ansible-playbook", run_result.output[-1500:]))
    return found


def converged(run_result: PlaybookRun) -> bool:
    problems = failures(run_result)
    return len(problems) == 1 and problems[0][0].endswith(CONVERGED_TASK) and run_result.recap.get("localhost", {}).get("failed") == 1


def converge(lab, figures: dict, extra_vars: dict | None = None) -> PlaybookRun:
    """Run until converged; reruns only after an SDK gave up (or a known amazon.aws issue), counted in figures."""
    for attempt in range(MAX_RUNS):
        result = run(lab, extra_vars=extra_vars)
        figures["runs"] = figures.get("runs", 0) + 1
        if converged(result):
            return result
        problems = failures(result)
        messages = " | ".join("%s: %s" % problem for problem in problems)
        if problems and all(KNOWN_AMAZON_AWS.search(message) for _task, message in problems):
            figures["reruns_known_amazon_aws_issue"] = figures.get("reruns_known_amazon_aws_issue", 0) + 1
            figures.setdefault("known_issue_messages", []).append(messages[:300])
        elif problems and all(EXHAUSTED.search(message) for _task, message in problems):
            figures["reruns_sdk_retries_exhausted"] = figures.get("reruns_sdk_retries_exhausted", 0) + 1
        else:
            pytest.fail("run %d did not converge and no SDK gave up after its retries: %s\n%s"
                        % (attempt + 1, messages[:3000], result.output[-4000:]))
    pytest.fail("no convergence after %d runs" % MAX_RUNS)


# -- the stand-ins ------------------------------------------------------------------------------
def reset(lab) -> None:
    for cloud in ("ec2", "gcp"):
        labctl.lab_request(lab.url(cloud), "reset", {})
        labctl.lab_request(lab.url(cloud), "config", {"faults": {"rate": 0}})
    labctl.lab_request(lab.url("ec2"), "config", {"delays": {"vpn_gateway": 0, "vpn_gateway_attachment": 0}})
    lab.clear_requests()


def set_faults(lab, seed: int, rate: float) -> None:
    for offset, cloud in enumerate(("ec2", "gcp")):
        labctl.lab_request(lab.url(cloud), "config", {"faults": {"rate": rate, "seed": seed * 101 + offset, "kinds": FAULT_KINDS}})


def inventory(lab) -> dict:
    """Counts of the link's objects in both stand-ins (live ones only), keyed like PLAN."""
    ec2 = lab.state("ec2")
    project = lab.state("gcp")["projects"].get("lab-project", {})
    counts = {kind: len(live_objects(ec2[kind])) for kind in ("customer_gateways", "vpn_connections", "vpn_gateways")}
    counts["vpcs"] = len([vpc for vpc in ec2["vpcs"].values() if VPC_CIDR in vpc["cidr_blocks"]])
    for kind in ("networks", "vpnGateways", "externalVpnGateways", "vpnTunnels", "routers"):
        counts[kind] = len(project.get(kind, {}))
    routers = list(project.get("routers", {}).values())
    counts["router_interfaces"] = sum(len(router.get("interfaces", [])) for router in routers)
    counts["bgp_peers"] = sum(len(router.get("bgpPeers", [])) for router in routers)
    return counts


def duplicates(counts: dict) -> dict:
    return {kind: counts[kind] - PLAN[kind] for kind in PLAN if counts[kind] != PLAN[kind]}


def faults_injected(lab) -> dict:
    return {cloud: summary["faults"] for cloud, summary in lab.requests().items() if cloud in ("ec2", "gcp")}


def psk_pairs(lab) -> list:
    """[(aws outside ip, AWS key == GCP key)] for every AWS tunnel (GCP tunnel found by its peer IP)."""
    gcp_keys = {tunnel["peer_ip"]: tunnel["shared_secret"] for tunnel in lab.state("gcp")["tunnels"]}
    return [(tunnel["outside_ip"], tunnel["pre_shared_key"] == gcp_keys.get(tunnel["outside_ip"]))
            for connection in live_objects(lab.state("ec2")["vpn_connections"]) for tunnel in connection["tunnels"]]


# -- 1. faults ----------------------------------------------------------------------------------
def test_faults_converge_without_duplicates(lab):
    figures = FIGURES["faults"]
    problems = []
    for seed in range(1, SEEDS + 1):
        reset(lab)
        set_faults(lab, seed, FAULT_RATE)
        converge(lab, figures)
        injected = faults_injected(lab)
        set_faults(lab, seed, 0)
        for cloud, count in injected.items():
            figures["faults_injected"][cloud] += count
        figures["seeds"] += 1
        figures["converged"] += 1
        extra = duplicates(inventory(lab))
        for kind, count in extra.items():
            if kind in AMAZON_AWS_KINDS:
                figures["duplicates_amazon_aws_objects"][kind] = figures["duplicates_amazon_aws_objects"].get(kind, 0) + count
            else:
                figures["duplicates_collection_objects"] += abs(count)
                problems.append((seed, kind, count))
    assert problems == [], "objects of the collection's modules not exactly as planned (seed, kind, extra): %s" % problems
    # The last seed's link, faults off: nothing to do (remove an amazon.aws duplicate VPC first, see the docstring).
    remove_duplicate_vpcs(lab)
    lab.clear_requests()
    clean = run(lab)
    assert converged(clean), failures(clean)
    figures["clean_run_changed"] = clean.changed()
    figures["clean_run_writes"] = {cloud: counts["writes"] for cloud, counts in lab.requests().items()}
    assert clean.changed() == 0, clean.output[-4000:]
    assert figures["clean_run_writes"] == {"ec2": 0, "gcp": 0, "azure": 0}


@pytest.mark.xfail(reason="roles/aws_vpn creates the VPC and the VGW with amazon.aws ec2_vpc_net / ec2_vpc_vgw, whose creates "
                          "botocore retries after a lost answer (CreateVpc, CreateVpnGateway have no client token)", strict=False)
def test_faults_no_duplicate_vpc_or_vgw():
    if FIGURES["faults"]["seeds"] == 0:
        pytest.skip("the faults test did not run")
    assert FIGURES["faults"]["duplicates_amazon_aws_objects"] == {}
    assert FIGURES["faults"]["reruns_known_amazon_aws_issue"] == 0


def remove_duplicate_vpcs(lab) -> None:
    """Delete VPCs of our CIDR that no VGW is attached to (what an operator would clean up by hand)."""
    ec2 = lab.state("ec2")
    attached = {attachment["vpc_id"] for gateway in live_objects(ec2["vpn_gateways"]) for attachment in gateway["attachments"]}
    client = ec2_client(lab)
    for vpc_id, vpc in ec2["vpcs"].items():
        if VPC_CIDR in vpc["cidr_blocks"] and vpc_id not in attached:
            client.delete_vpc(VpcId=vpc_id)


# -- 2. interruptions ---------------------------------------------------------------------------
def test_interruptions_rerun_converges_and_teardown_cleans(lab):
    figures = FIGURES["interruptions"]
    chooser = random.Random(2026)
    problems = []
    for trial in range(KILLS):
        reset(lab)
        delay = round(chooser.uniform(1.5, 22.0), 2)
        started = start(lab, PLAYBOOK)
        time.sleep(delay)
        process = started[0]
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        finish(started)
        figures["kills"] += 1
        figures["killed_at_seconds"].append(delay)
        after_kill = inventory(lab)
        over = {kind: count for kind, count in after_kill.items() if count > PLAN[kind]}
        converge(lab, figures)
        counts = inventory(lab)
        if duplicates(counts) or over:
            figures["duplicates_or_orphans"] += 1
            problems.append((trial, delay, duplicates(counts), over))
        else:
            figures["recoveries"] += 1
    assert problems == [], "after a kill (trial, seconds, extra after the rerun, extra right after the kill): %s" % problems
    teardown = run(lab, TEARDOWN)
    assert teardown.returncode == 0, failures(teardown)
    left = {kind: count for kind, count in inventory(lab).items() if count}
    figures["teardown_leftovers"] = left
    assert left == {}, left


# -- 3. drift ---------------------------------------------------------------------------------
def ec2_client(lab):
    import boto3

    return boto3.client("ec2", endpoint_url=lab.url("ec2"), region_name="us-east-1", aws_access_key_id=lab.environment["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=lab.environment["AWS_SECRET_ACCESS_KEY"])


def gcp_clients(lab):
    from ansible_collections.multicloud.vpn.plugins.module_utils._gcp import compute_clients

    return compute_clients({"api_endpoint": lab.url("gcp"), "project": "lab-project"})


def aws_tunnel(lab, index: int = 0) -> tuple:
    """(VPN connection id, tunnel ``index`` of it) of the link's first connection (by inside CIDR)."""
    connections = [(vpn_id, connection) for vpn_id, connection in lab.state("ec2")["vpn_connections"].items()
                   if connection["state"] not in ("deleting", "deleted")]
    vpn_id, connection = min(connections, key=lambda item: item[1]["tunnels"][0]["inside_cidr"])
    return vpn_id, connection["tunnels"][index]


def wait_available(client, vpn_id: str) -> None:
    for _poll in range(100):
        if client.describe_vpn_connections(VpnConnectionIds=[vpn_id])["VpnConnections"][0]["State"] == "available":
            return
        time.sleep(0.2)
    raise AssertionError("%s never available again" % vpn_id)


def drift_phase1_encryption(lab) -> tuple:
    client = ec2_client(lab)
    vpn_id, tunnel = aws_tunnel(lab)
    client.modify_vpn_tunnel_options(VpnConnectionId=vpn_id, VpnTunnelOutsideIpAddress=tunnel["outside_ip"],
                                     TunnelOptions={"Phase1EncryptionAlgorithms": [{"Value": "AES128"}]})
    wait_available(client, vpn_id)
    return vpn_id, tunnel["outside_ip"], tunnel["options"]["Phase1EncryptionAlgorithms"]


def drift_psk(lab, new_key: str) -> str:
    client = ec2_client(lab)
    vpn_id, tunnel = aws_tunnel(lab, 1)
    client.modify_vpn_tunnel_options(VpnConnectionId=vpn_id, VpnTunnelOutsideIpAddress=tunnel["outside_ip"],
                                     TunnelOptions={"PreSharedKey": new_key})
    wait_available(client, vpn_id)
    return tunnel["outside_ip"]


def drift_router_advertisement(lab) -> None:
    clients = gcp_clients(lab)
    router = clients.read("get router", clients.routers.get, {"project": "lab-project", "region": "us-central1", "router": "demo-router"})
    bgp = {"asn": router.bgp.asn, "advertise_mode": "CUSTOM", "advertised_groups": ["ALL_SUBNETS"],
           "advertised_ip_ranges": [{"range": "192.0.2.0/24", "description": "drift"}]}
    operation = clients.mutate("patch router", clients.routers.patch,
                               {"project": "lab-project", "region": "us-central1", "router": "demo-router", "router_resource": {"bgp": bgp}})
    clients.wait(operation)


def tunnel_options_of(lab, outside_ip: str) -> dict:
    return next(tunnel["options"] for connection in live_objects(lab.state("ec2")["vpn_connections"])
                for tunnel in connection["tunnels"] if tunnel["outside_ip"] == outside_ip)


def advertised_ranges(lab) -> list:
    router = lab.state("gcp")["projects"]["lab-project"]["routers"]["us-central1/demo-router"]
    return sorted((item["range"], item.get("description", "")) for item in router["bgp"].get("advertisedIpRanges", []))


def changed_tasks(run_result: PlaybookRun) -> list:
    tasks, task = [], ""
    for line in run_result.output.splitlines():
        if line.startswith("TASK ["):
            task = line[len("TASK ["):].split("]")[0]
        elif line.startswith("changed: [localhost]"):
            tasks.append(task)
    return tasks


def record_drift(name: str, repaired: bool, detail: str) -> None:
    FIGURES["drift"]["injected"] += 1
    FIGURES["drift"]["repaired"] += int(repaired)
    FIGURES["drift"]["details"].append({"drift": name, "repaired": repaired, "detail": detail})


def test_drift_is_reported_and_repaired(lab):
    extra = {"mcvpn_gcp_advertised_ip_ranges": ADVERTISED}
    reset(lab)
    assert converged(run(lab, extra_vars=extra))
    assert all(same for _ip, same in psk_pairs(lab))

    # AWS keeps the keys (the inventory gives none): drift all three, one run repairs them.
    vpn_id, encryption_ip, encryption = drift_phase1_encryption(lab)
    assert tunnel_options_of(lab, encryption_ip)["Phase1EncryptionAlgorithms"] == ["AES128"]
    drift_router_advertisement(lab)
    assert advertised_ranges(lab) == [("192.0.2.0/24", "drift")]
    rotated_ip = drift_psk(lab, "drifted_key_from_console_1")
    assert dict(psk_pairs(lab))[rotated_ip] is False
    repair = run(lab, extra_vars=extra)
    assert converged(repair), failures(repair)
    changed = changed_tasks(repair)
    aws_task = "multicloud.vpn.aws_vpn : Customer gateways and VPN connections, tunnel options as planned"
    gcp_task = "multicloud.vpn.gcp_ha_vpn : GCP external gateway, tunnels, router interfaces and BGP peers toward AWS"
    now = tunnel_options_of(lab, encryption_ip)["Phase1EncryptionAlgorithms"]
    record_drift("phase 1 encryption of AWS tunnel %s (%s)" % (encryption_ip, vpn_id), aws_task in changed and sorted(now) == sorted(encryption),
                 "AES128 -> %s" % now)
    record_drift("Cloud Router custom advertisement", gcp_task in changed and advertised_ranges(lab) == [(item["range"], item["description"])
                                                                                                         for item in ADVERTISED],
                 "192.0.2.0/24 -> %s" % advertised_ranges(lab))
    pairs = dict(psk_pairs(lab))
    aws_key = next(tunnel["pre_shared_key"] for connection in live_objects(lab.state("ec2")["vpn_connections"])
                   for tunnel in connection["tunnels"] if tunnel["outside_ip"] == rotated_ip)
    record_drift("pre-shared key of AWS tunnel %s, AWS the keeper" % rotated_ip,
                 gcp_task in changed and aws_key == "drifted_key_from_console_1" and all(pairs.values()),
                 "AWS's new key kept, GCP tunnel re-created with it; keys equal on all %d tunnels: %s" % (len(pairs), all(pairs.values())))
    assert "drifted_key_from_console_1" not in repair.output
    assert inventory(lab) == PLAN
    again = run(lab, extra_vars=extra)
    assert converged(again) and again.changed() == 0, changed_tasks(again)

    # The inventory gives the keys: it is the source of truth, AWS is set back, GCP stays.
    keys = {"mcvpn_pre_shared_keys": ["inventory_key_%d_abcdefgh" % index for index in range(4)]}
    assert converged(run(lab, extra_vars=dict(extra, **keys)))
    assert all(same for _ip, same in psk_pairs(lab))
    tunnels_before = {name: tunnel["id"] for name, tunnel in lab.state("gcp")["projects"]["lab-project"]["vpnTunnels"].items()}
    rotated_ip = drift_psk(lab, "drifted_key_from_console_2")
    repair = run(lab, extra_vars=dict(extra, **keys))
    assert converged(repair), failures(repair)
    changed = changed_tasks(repair)
    pairs = dict(psk_pairs(lab))
    tunnels_after = {name: tunnel["id"] for name, tunnel in lab.state("gcp")["projects"]["lab-project"]["vpnTunnels"].items()}
    record_drift("pre-shared key of AWS tunnel %s, inventory the keeper" % rotated_ip,
                 aws_task in changed and all(pairs.values()) and tunnels_after == tunnels_before,
                 "AWS set back to the inventory's key, GCP tunnels untouched: %s" % (tunnels_after == tunnels_before))
    assert "drifted_key_from_console_2" not in repair.output
    failed = [item for item in FIGURES["drift"]["details"] if not item["repaired"]]
    assert failed == [], failed

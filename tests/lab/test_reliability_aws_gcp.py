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
  That includes the VPC and the VGW, which multicloud.vpn.aws_vpn_gateway creates once even when an
  answer is lost (amazon.aws's ec2_vpc_net / ec2_vpc_vgw gave a second VPC or a failed "already attached").
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

import time

import pytest
from labtools import LabSession, live_objects
from reliability import (KILLS, SEEDS, Driver, changed_tasks, count_extra, failures, faults_injected, kill_times, local_inventory, ports,
                         set_faults, write_figures)

import labctl

# Stand-ins only, but run in the harness's data-plane stream: the stand-in stream holds the two longer suites.
LAB_STREAM = "dataplane"
PLAYBOOK = "playbooks/aws_gcp_ha.yml"
TEARDOWN = "playbooks/aws_gcp_ha_teardown.yml"
CLOUDS = ("ec2", "gcp")
FAULT_RATE = 0.2
# What the plan of 4 tunnels (the lab inventory) builds.
PLAN = {"customer_gateways": 2, "vpn_connections": 2, "vpn_gateways": 1, "vpcs": 1,
        "networks": 1, "vpnGateways": 1, "externalVpnGateways": 1, "vpnTunnels": 4, "routers": 1,
        "router_interfaces": 4, "bgp_peers": 4}
BASE_VARS = {"mcvpn_check_retries": 0, "mcvpn_check_delay": 1}
VPC_CIDR = "10.0.0.0/16"
ADVERTISED = [{"range": "35.199.192.0/19", "description": "Cloud DNS forwarding"}]
CONVERGED_TASK = "Every tunnel must be up"

FIGURES: dict = {
    "faults": {"seeds": 0, "runs": 0, "faults_injected": {"ec2": 0, "gcp": 0}, "converged": 0,
               "reruns_sdk_retries_exhausted": 0, "duplicates": {}, "clean_run_changed": None, "clean_run_writes": None},
    "interruptions": {"kills": 0, "killed_at_seconds": [], "recoveries": 0, "duplicates_or_orphans": 0,
                      "teardown_leftovers": None},
    "drift": {"injected": 0, "repaired": 0, "details": []},
}


@pytest.fixture(scope="module")
def lab():
    with LabSession("mcvrel", ports(18980, 18981, 18982), data_plane=False) as session:
        session.driver = Driver(session, PLAYBOOK, inventory=["inventories/lab", local_inventory(session.state_dir)],
                                base_vars=BASE_VARS, limit="localhost", converged_task=CONVERGED_TASK)
        started = time.monotonic()
        yield session
        FIGURES["seconds"] = round(time.monotonic() - started, 1)
    write_figures("aws_gcp", "reliability of %s (faults at %d %%, %d seeds; %d interruptions)" % (PLAYBOOK, FAULT_RATE * 100, SEEDS, KILLS),
                  FIGURES)


def run(lab, playbook: str = PLAYBOOK, extra_vars: dict | None = None):
    return lab.driver.run(playbook, extra_vars)


def converged(lab, run_result) -> bool:
    return lab.driver.converged(run_result)


# -- the stand-ins ------------------------------------------------------------------------------
def reset(lab) -> None:
    for cloud in ("ec2", "gcp"):
        labctl.lab_request(lab.url(cloud), "reset", {})
        labctl.lab_request(lab.url(cloud), "config", {"faults": {"rate": 0}})
    labctl.lab_request(lab.url("ec2"), "config", {"delays": {"vpn_gateway": 0, "vpn_gateway_attachment": 0}})
    lab.clear_requests()


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
        set_faults(lab, CLOUDS, seed, FAULT_RATE)
        lab.driver.converge(figures)
        injected = faults_injected(lab, CLOUDS)
        set_faults(lab, CLOUDS, seed, 0)
        for cloud, count in injected.items():
            figures["faults_injected"][cloud] += count
        figures["seeds"] += 1
        figures["converged"] += 1
        for kind, count in count_extra(inventory(lab), PLAN).items():
            figures["duplicates"][kind] = figures["duplicates"].get(kind, 0) + count
            problems.append((seed, kind, count))
    assert problems == [], "objects not exactly as planned (seed, kind, extra): %s" % problems
    # The last seed's link, faults off: nothing to do.
    lab.clear_requests()
    clean = run(lab)
    assert converged(lab, clean), failures(clean)
    figures["clean_run_changed"] = clean.changed()
    figures["clean_run_writes"] = {cloud: counts["writes"] for cloud, counts in lab.requests().items()}
    assert clean.changed() == 0, clean.output[-4000:]
    assert figures["clean_run_writes"] == {"ec2": 0, "gcp": 0, "azure": 0}


# -- 2. interruptions ---------------------------------------------------------------------------
def test_interruptions_rerun_converges_and_teardown_cleans(lab):
    figures = FIGURES["interruptions"]
    problems = []
    # A converge from empty takes ~22 s on idle stand-ins: one seeded kill in each tenth of that.
    for trial, delay in enumerate(kill_times(22.0)):
        reset(lab)
        lab.driver.kill_after(delay)
        figures["kills"] += 1
        figures["killed_at_seconds"].append(delay)
        after_kill = inventory(lab)
        over = {kind: count for kind, count in after_kill.items() if count > PLAN[kind]}
        lab.driver.converge(figures)
        counts = inventory(lab)
        if count_extra(counts, PLAN) or over:
            figures["duplicates_or_orphans"] += 1
            problems.append((trial, delay, count_extra(counts, PLAN), over))
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


def record_drift(name: str, repaired: bool, detail: str) -> None:
    FIGURES["drift"]["injected"] += 1
    FIGURES["drift"]["repaired"] += int(repaired)
    FIGURES["drift"]["details"].append({"drift": name, "repaired": repaired, "detail": detail})


def test_drift_is_reported_and_repaired(lab):
    extra = {"mcvpn_gcp_advertised_ip_ranges": ADVERTISED}
    reset(lab)
    assert converged(lab, run(lab, extra_vars=extra))
    assert all(same for _ip, same in psk_pairs(lab))

    # AWS keeps the keys (the inventory gives none): drift all three, one run repairs them.
    vpn_id, encryption_ip, encryption = drift_phase1_encryption(lab)
    assert tunnel_options_of(lab, encryption_ip)["Phase1EncryptionAlgorithms"] == ["AES128"]
    drift_router_advertisement(lab)
    assert advertised_ranges(lab) == [("192.0.2.0/24", "drift")]
    rotated_ip = drift_psk(lab, "drifted_key_from_console_1")
    assert dict(psk_pairs(lab))[rotated_ip] is False
    repair = run(lab, extra_vars=extra)
    assert converged(lab, repair), failures(repair)
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
    assert converged(lab, again) and again.changed() == 0, changed_tasks(again)

    # The inventory gives the keys: it is the source of truth, AWS is set back, GCP stays.
    keys = {"mcvpn_pre_shared_keys": ["inventory_key_%d_abcdefgh" % index for index in range(4)]}
    assert converged(lab, run(lab, extra_vars=dict(extra, **keys)))
    assert all(same for _ip, same in psk_pairs(lab))
    tunnels_before = {name: tunnel["id"] for name, tunnel in lab.state("gcp")["projects"]["lab-project"]["vpnTunnels"].items()}
    rotated_ip = drift_psk(lab, "drifted_key_from_console_2")
    repair = run(lab, extra_vars=dict(extra, **keys))
    assert converged(lab, repair), failures(repair)
    changed = changed_tasks(repair)
    pairs = dict(psk_pairs(lab))
    tunnels_after = {name: tunnel["id"] for name, tunnel in lab.state("gcp")["projects"]["lab-project"]["vpnTunnels"].items()}
    record_drift("pre-shared key of AWS tunnel %s, inventory the keeper" % rotated_ip,
                 aws_task in changed and all(pairs.values()) and tunnels_after == tunnels_before,
                 "AWS set back to the inventory's key, GCP tunnels untouched: %s" % (tunnels_after == tunnels_before))
    assert "drifted_key_from_console_2" not in repair.output
    failed = [item for item in FIGURES["drift"]["details"] if not item["repaired"]]
    assert failed == [], failed

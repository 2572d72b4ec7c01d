"""Reliability of playbooks/aws_interregion_vyos.yml on the lab's EC2 stand-in (issue 10): faults, interruptions, drift.

What runs: the stand-ins run without the data plane, and the runs are limited to the control node
(``--limit localhost``, an extra one-line inventory names it). Every write of the playbook is done there: the
AWS objects of both regions (through the EC2 stand-in) and the router's configuration, which the lab "pushes"
into a 0600 commands file (mcvpn_vyos_push=file, under $MCVPN_LAB_DIR = the session's state dir). The lab's
VyOS router is the data plane's reconciler reading that file: it does not exist here, nor do the probe hosts
of the ping play (skipped by the limit). So no tunnel comes UP and no router status file appears.
A run has *converged* when its only failure is the role's final "Both tunnels must be up with BGP
established" (AWS polled once: mcvpn_check_retries=0; the router status file read once, ignored): every
write before it is done. The EC2 stand-in's gateway delays are 0; nothing else is changed.

The plan (PLAN): region A (us-west-2) one VPC, one VGW attached to it, one customer gateway, one VPN
connection, the VPC's one route table propagating the VGW; region B (ap-northeast-1) one VPC, one internet
gateway, one subnet, two route tables (the VPC's main one and demo-b-rt with 0.0.0.0/0 -> the gateway and
region A's CIDR -> the instance), one security group besides the VPC's default with 3 ingress permissions
(IKE, NAT-T, ESP from the two tunnel outside IPs), one instance (not terminated), one Elastic IP on it;
and one commands file. Default VPCs and what hangs off them are left out; every other object of the
stand-in is counted, in both regions, wherever it is (an orphan counts).

- Faults: for each seed, the stand-ins start empty and EC2 (both regions, and STS) fails 20 % of the API
  calls (5xx, throttling, answers lost after the write happened). A run that fails is rerun only when an
  SDK gave up after its own retries (counted); any other failure fails the test. After convergence the
  stand-in holds exactly PLAN. Then one run with faults off reports changed=0 and writes nothing.
  roles/vyos_router/tasks/region_b.yml says how its amazon.aws creates survive a lost answer.
  Region A's VPC and VGW come from multicloud.vpn.aws_vpn_gateway, region B's route table (router.yml)
  the same way as region B's objects: no kind is exempt from the exact count.
- Interruptions: a full converge from empty is timed first; then for each trial the stand-ins start
  empty, ansible-playbook's process group gets SIGKILL at a seeded point of that time, and the next
  converge must leave exactly PLAN (no duplicate, no orphan). At the end the teardown leaves nothing.
- Drift (boto3 behind the collection's back): (1) the phase 1 encryption of an AWS tunnel; (2) route
  advertisement: region A's route table stops propagating the VGW (what carries the prefix the router
  announces over BGP, 10.20.0.0/16, into region A; the role owns that propagation), and region B loses its
  route to region A through the instance (the role owns demo-b-rt); (3) the pre-shared key of an AWS tunnel.
  The next run reports changed and repairs each.
  Pre-shared keys, source of truth: the role takes no keys from the inventory; AWS generates them and keeps
  them, and the router's commands are rendered from AWS's description of the connection on every run. So a
  key changed on AWS is the link's key from then on: the run writes it into the router's commands (the
  router gets the same key), and never puts the old key back on AWS.

Figures (faults injected and survived, reruns, interruptions and recoveries, drifts repaired) are printed
at the end of the module and written to tests/output/reliability_aws_vyos.json.
Environment: MCVPN_RELIABILITY_SEEDS (default 10) and MCVPN_RELIABILITY_KILLS (default 10).
Run: cd /work/main && PYTHONPATH=/work/ac:tests/lab /tmp/venvtest/v/bin/python -m pytest tests/lab/test_reliability_aws_vyos.py -q -s
"""
from __future__ import annotations

import os
import re
import time

import boto3
import pytest
from labtools import LabSession, live_objects
from reliability import KILLS, SEEDS, Driver, changed_tasks, failures, faults_injected, kill_times, local_inventory, ports, set_faults, write_figures

import labctl

PLAYBOOK = "playbooks/aws_interregion_vyos.yml"
TEARDOWN = "playbooks/aws_interregion_vyos_teardown.yml"
CLOUDS = ("ec2",)
FAULT_RATE = 0.2
REGION_A, REGION_B = "us-west-2", "ap-northeast-1"      # inventories/lab/group_vars/all/vyos.yml
CIDR_A, CIDR_B = "10.0.0.0/16", "10.20.0.0/16"
PLAN = {"a_vpcs": 1, "a_vpn_gateways": 1, "a_vgw_attachments": 1, "a_customer_gateways": 1, "a_vpn_connections": 1,
        "a_route_tables": 1, "a_route_propagations": 1,
        "b_vpcs": 1, "b_internet_gateways": 1, "b_subnets": 1, "b_route_tables": 2, "b_routes": 2, "b_security_groups": 1,
        "b_security_group_permissions": 3, "b_instances": 1, "b_addresses": 1, "b_addresses_on_instance": 1,
        "commands_files": 1}
BASE_VARS = {"mcvpn_check_retries": 0, "mcvpn_check_delay": 1}
CONVERGED_TASK = "Both tunnels must be up with BGP established"
AWS_TASK = "Customer gateway = the router's Elastic IP, one VPN connection (2 tunnels, BGP) with the inventory's profile"
PROPAGATION_TASK = "Region A routes region B's CIDR to the VGW (route propagation of the BGP routes)"
ROUTE_B_TASK = "Region B routes region A's CIDR to the VyOS instance (and the internet to its gateway)"
COMMANDS_TASK = "The router's configuration from the AWS connection (local-address = private IP, local id = the Elastic IP)"

FIGURES: dict = {
    "faults": {"seeds": 0, "runs": 0, "faults_injected": {"ec2": 0}, "converged": 0, "reruns_sdk_retries_exhausted": 0,
               "duplicates": {}, "clean_run_changed": None, "clean_run_writes": None},
    "interruptions": {"kills": 0, "measured_converge_seconds": None, "killed_at_seconds": [], "recoveries": 0, "runs": 0,
                      "duplicates_or_orphans": 0, "teardown_leftovers": None},
    "drift": {"injected": 0, "repaired": 0, "details": []},
}


@pytest.fixture(scope="module")
def lab():
    with LabSession("mcvrelvy", ports(19080, 19081, 19082), data_plane=False) as session:
        # The lab inventory puts the router's commands file under $MCVPN_LAB_DIR (tests/lab/demo's dir by default).
        session.environment["MCVPN_LAB_DIR"] = session.state_dir
        session.driver = Driver(session, PLAYBOOK, inventory=["inventories/lab", local_inventory(session.state_dir)],
                                base_vars=BASE_VARS, limit="localhost", converged_task=CONVERGED_TASK)
        started = time.monotonic()
        yield session
        FIGURES["seconds"] = round(time.monotonic() - started, 1)
    write_figures("aws_vyos", "reliability of %s (faults at %d %%, %d seeds; %d interruptions)" % (PLAYBOOK, FAULT_RATE * 100, SEEDS, KILLS),
                  FIGURES)


def run(lab, playbook: str = PLAYBOOK):
    return lab.driver.run(playbook)


def converged(lab, run_result) -> bool:
    return lab.driver.converged(run_result)


# -- the stand-in ---------------------------------------------------------------------------------
def reset(lab) -> None:
    for cloud in ("ec2", "gcp", "azure"):
        labctl.lab_request(lab.url(cloud), "reset", {})
    labctl.lab_request(lab.url("ec2"), "config", {"faults": {"rate": 0}, "delays": {"vpn_gateway": 0, "vpn_gateway_attachment": 0}})
    commands = commands_file(lab)
    if os.path.exists(commands):
        os.remove(commands)
    lab.clear_requests()


def commands_file(lab) -> str:
    return os.path.join(lab.state_dir, "vyos", "demo.commands")


def ec2(lab, region: str):
    env = lab.environment
    return boto3.client("ec2", endpoint_url=env["AWS_ENDPOINT_URL_EC2"], region_name=region,
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


def inventory(lab) -> dict:
    """Counts keyed like PLAN, of every object in both regions outside the default VPCs (faults must be off)."""
    state = lab.state("ec2")
    counts = {kind: 0 for kind in PLAN}
    for prefix, region in (("a", REGION_A), ("b", REGION_B)):
        client = ec2(lab, region)
        default_vpcs = {vpc["VpcId"] for vpc in client.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]}
        vpcs = {vpc_id: vpc for vpc_id, vpc in state["vpcs"].items() if vpc["region"] == region}
        counts[prefix + "_vpcs"] = len(vpcs)
        tables = [table for vpc in vpcs.values() for table in vpc["route_tables"].values()]
        counts[prefix + "_route_tables"] = len(tables)
        counts[prefix + "_route_propagations"] = sum(len(table["propagating_vgws"]) for table in tables)
        gateways = [gateway for gateway in live_objects(state["vpn_gateways"]) if gateway["region"] == region]
        counts[prefix + "_vpn_gateways"] = len(gateways)
        counts[prefix + "_vgw_attachments"] = sum(1 for gateway in gateways for attachment in gateway["attachments"]
                                                  if attachment["state"] in ("attaching", "attached"))
        counts[prefix + "_customer_gateways"] = len([item for item in live_objects(state["customer_gateways"]) if item["region"] == region])
        counts[prefix + "_vpn_connections"] = len([item for item in live_objects(state["vpn_connections"]) if item["region"] == region])
        counts[prefix + "_internet_gateways"] = len([gateway for gateway in client.describe_internet_gateways()["InternetGateways"]
                                                    if not {item["VpcId"] for item in gateway.get("Attachments", [])} & default_vpcs])
        counts[prefix + "_subnets"] = len([subnet for subnet in client.describe_subnets()["Subnets"] if subnet["VpcId"] not in default_vpcs])
        counts[prefix + "_routes"] = sum(1 for table in client.describe_route_tables()["RouteTables"] if table["VpcId"] not in default_vpcs
                                         for route in table["Routes"] if route.get("GatewayId") != "local")
        groups = [group for group in client.describe_security_groups()["SecurityGroups"]
                  if group["VpcId"] not in default_vpcs and group["GroupName"] != "default"]
        counts[prefix + "_security_groups"] = len(groups)
        counts[prefix + "_security_group_permissions"] = sum(len(group["IpPermissions"]) for group in groups)
        instances = [instance for reservation in client.describe_instances()["Reservations"] for instance in reservation["Instances"]
                     if instance["State"]["Name"] not in ("terminated", "shutting-down")]
        counts[prefix + "_instances"] = len(instances)
        addresses = [address for address in state["addresses"].values() if address["region"] == region]
        counts[prefix + "_addresses"] = len(addresses)
        counts[prefix + "_addresses_on_instance"] = len([address for address in addresses
                                                         if address["instance_id"] in {instance["InstanceId"] for instance in instances}])
    counts["commands_files"] = int(os.path.exists(commands_file(lab)))
    return {kind: count for kind, count in counts.items() if count or kind in PLAN}


def differences(counts: dict) -> dict:
    """{kind: found - planned} for every kind that differs from PLAN, kinds outside PLAN included (planned 0)."""
    return {kind: counts.get(kind, 0) - PLAN.get(kind, 0) for kind in sorted(set(counts) | set(PLAN)) if counts.get(kind, 0) != PLAN.get(kind, 0)}


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
        for kind, count in differences(inventory(lab)).items():
            figures["duplicates"][kind] = figures["duplicates"].get(kind, 0) + count
            problems.append((seed, kind, count))
    assert problems == [], "objects not exactly as planned (seed, kind, extra): %s" % problems
    # The last seed's link, faults off: nothing to do.
    lab.clear_requests()
    clean = run(lab)
    assert converged(lab, clean), failures(clean)
    figures["clean_run_changed"] = clean.changed()
    figures["clean_run_writes"] = {cloud: counts["writes"] for cloud, counts in lab.requests().items()}
    assert clean.changed() == 0, changed_tasks(clean)
    assert figures["clean_run_writes"] == {"ec2": 0, "gcp": 0, "azure": 0}


# -- 2. interruptions ---------------------------------------------------------------------------
def test_interruptions_rerun_converges_and_teardown_cleans(lab):
    figures = FIGURES["interruptions"]
    reset(lab)
    measured = run(lab)
    assert converged(lab, measured), failures(measured)
    figures["measured_converge_seconds"] = round(measured.seconds, 1)
    problems = []
    for trial, delay in enumerate(kill_times(measured.seconds)):
        reset(lab)
        lab.driver.kill_after(delay)
        figures["kills"] += 1
        figures["killed_at_seconds"].append(delay)
        after_kill = inventory(lab)
        over = {kind: count - PLAN[kind] for kind, count in after_kill.items() if count > PLAN.get(kind, 0)}
        lab.driver.converge(figures)
        extra = differences(inventory(lab))
        if extra or over:
            figures["duplicates_or_orphans"] += 1
            problems.append((trial, delay, extra, over))
        else:
            figures["recoveries"] += 1
    assert problems == [], "after a kill (trial, seconds, extra after the rerun, extra right after the kill): %s" % problems
    teardown = run(lab, TEARDOWN)
    assert teardown.returncode == 0, failures(teardown)
    left = {kind: count for kind, count in inventory(lab).items() if count}
    figures["teardown_leftovers"] = left
    assert left == {}, left


# -- 3. drift ---------------------------------------------------------------------------------
def connection_of(lab) -> tuple:
    (vpn_id, connection), = [(vpn_id, connection) for vpn_id, connection in lab.state("ec2")["vpn_connections"].items()
                             if connection["state"] not in ("deleting", "deleted")]
    return vpn_id, connection


def wait_available(client, vpn_id: str) -> None:
    for _poll in range(100):
        if client.describe_vpn_connections(VpnConnectionIds=[vpn_id])["VpnConnections"][0]["State"] == "available":
            return
        time.sleep(0.2)
    raise AssertionError("%s never available again" % vpn_id)


def modify_tunnel(lab, index: int, options: dict) -> dict:
    client = ec2(lab, REGION_A)
    vpn_id, connection = connection_of(lab)
    tunnel = connection["tunnels"][index]
    client.modify_vpn_tunnel_options(VpnConnectionId=vpn_id, VpnTunnelOutsideIpAddress=tunnel["outside_ip"], TunnelOptions=options)
    wait_available(client, vpn_id)
    return tunnel


def tunnel_of(lab, outside_ip: str) -> dict:
    return next(tunnel for tunnel in connection_of(lab)[1]["tunnels"] if tunnel["outside_ip"] == outside_ip)


def region_a_table(lab) -> tuple:
    (table_id, table), = [(table_id, table) for vpc in lab.state("ec2")["vpcs"].values() if vpc["region"] == REGION_A
                          for table_id, table in vpc["route_tables"].items()]
    return table_id, table


def route_to_region_a(lab) -> list:
    tables = ec2(lab, REGION_B).describe_route_tables(Filters=[{"Name": "tag:Name", "Values": ["demo-b-rt"]}])["RouteTables"]
    return [route.get("InstanceId") for table in tables for route in table["Routes"] if route.get("DestinationCidrBlock") == CIDR_A]


def router_key_lines(lab) -> list:
    with open(commands_file(lab), encoding="utf-8") as stream:
        return [line for line in stream.read().splitlines() if "pre-shared-secret '" in line or re.search(r"psk \S+ secret '", line)]


def record_drift(name: str, repaired: bool, detail: str) -> None:
    FIGURES["drift"]["injected"] += 1
    FIGURES["drift"]["repaired"] += int(repaired)
    FIGURES["drift"]["details"].append({"drift": name, "repaired": repaired, "detail": detail})


def test_drift_is_reported_and_repaired(lab):
    reset(lab)
    assert converged(lab, run(lab))
    vpn_id, connection = connection_of(lab)
    instance_route = route_to_region_a(lab)
    assert len(instance_route) == 1 and instance_route[0].startswith("i-")
    table_id, table = region_a_table(lab)
    vgw_id = connection["vpn_gateway_id"]
    assert table["propagating_vgws"] == [vgw_id]
    keys = [tunnel["pre_shared_key"] for tunnel in connection["tunnels"]]
    assert all(sum(key in line for line in router_key_lines(lab)) >= 1 for key in keys), "the router's commands lack AWS's keys"

    # (1) a tunnel option, (2) the VGW's propagation into region A and region B's route to the router, (3) a key.
    encryption = connection["tunnels"][0]["options"]["Phase1EncryptionAlgorithms"]
    encryption_ip = modify_tunnel(lab, 0, {"Phase1EncryptionAlgorithms": [{"Value": "AES128"}]})["outside_ip"]
    assert tunnel_of(lab, encryption_ip)["options"]["Phase1EncryptionAlgorithms"] == ["AES128"]
    ec2(lab, REGION_A).disable_vgw_route_propagation(RouteTableId=table_id, GatewayId=vgw_id)
    assert region_a_table(lab)[1]["propagating_vgws"] == []
    (b_table,) = ec2(lab, REGION_B).describe_route_tables(Filters=[{"Name": "tag:Name", "Values": ["demo-b-rt"]}])["RouteTables"]
    ec2(lab, REGION_B).delete_route(RouteTableId=b_table["RouteTableId"], DestinationCidrBlock=CIDR_A)
    assert route_to_region_a(lab) == []
    new_key = "drifted_key_from_console_1"
    rotated_ip = modify_tunnel(lab, 1, {"PreSharedKey": new_key})["outside_ip"]
    assert tunnel_of(lab, rotated_ip)["pre_shared_key"] == new_key
    assert not any(new_key in line for line in router_key_lines(lab))

    repair = run(lab)
    assert converged(lab, repair), failures(repair)
    changed = ["%s" % task.split(" : ", 1)[-1] for task in changed_tasks(repair)]
    now = tunnel_of(lab, encryption_ip)["options"]["Phase1EncryptionAlgorithms"]
    record_drift("phase 1 encryption of AWS tunnel %s (%s)" % (encryption_ip, vpn_id), AWS_TASK in changed and sorted(now) == sorted(encryption),
                 "AES128 -> %s" % now)
    propagating = region_a_table(lab)[1]["propagating_vgws"]
    record_drift("VGW route propagation into region A's route table %s (carries the router's BGP prefix)" % table_id,
                 PROPAGATION_TASK in changed and propagating == [vgw_id], "[] -> %s" % propagating)
    record_drift("region B's route to %s through the VyOS instance" % CIDR_A, ROUTE_B_TASK in changed and route_to_region_a(lab) == instance_route,
                 "deleted -> %s" % route_to_region_a(lab))
    aws_key = tunnel_of(lab, rotated_ip)["pre_shared_key"]
    router_has_it = sum(new_key in line for line in router_key_lines(lab)) >= 1
    record_drift("pre-shared key of AWS tunnel %s, AWS the keeper" % rotated_ip, COMMANDS_TASK in changed and aws_key == new_key and router_has_it,
                 "AWS's new key kept: %s; the router's commands carry it: %s" % (aws_key == new_key, router_has_it))
    assert new_key not in repair.output
    assert inventory(lab) == PLAN
    again = run(lab)
    assert converged(lab, again) and again.changed() == 0, changed_tasks(again)
    failed = [item for item in FIGURES["drift"]["details"] if not item["repaired"]]
    assert failed == [], (failed, changed)

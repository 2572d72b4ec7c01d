"""Reliability of playbooks/aws_azure_ha.yml on the lab's stand-ins (issue 10): faults, interruptions, drift.

    cd /work/main && PYTHONPATH=/work/ac:tests/lab /tmp/venvtest/v/bin/python -m pytest tests/lab/test_reliability_aws_azure.py -q -s

The link is the lab inventory's: BGP mode (mcvpn_azure_mode: bgp), the 4 AWS tunnels, one Azure
local network gateway and one connection per tunnel over custom APIPA addresses. The stand-ins
run without the data plane (fast), so no tunnel ever comes UP: a run has *converged* when its only
failure is link_check's final "Every tunnel must be up" (every write before it done). Runs use
``--limit localhost`` (an extra one-line inventory names localhost) so the probe play is skipped,
and ``mcvpn_check_retries=0`` so link_check polls once. The EC2 gateway delays are 0, and the Azure
stand-in sends no ``Retry-After`` on long-running operations (the module then polls every 0.5 s);
its provisioning delays (gateway 0.3 s, connections 0.1 s) stay. The resource group mcvpn-lab is
seeded by labctl (it comes back after every reset); bystanders (an EC2 VPC and customer gateway, an
Azure public IP) are seeded after each reset and must never be counted, changed or removed.

- Faults: for each seed, the stand-ins start empty and fail 20 % of the EC2 and Azure API calls
  (5xx, throttling, and answers lost after the write happened). A run that fails is rerun only when
  an SDK gave up after its own retries (botocore's standard mode, azure-core's RetryPolicy;
  counted); any other failure fails the test. After convergence the stand-ins hold exactly the
  plan's objects: VPC, VGW, 2 customer gateways and 2 VPN connections in EC2; the VNet and its
  GatewaySubnet, 2 public IPs, the gateway, 4 local network gateways and 4 connections in Azure;
  and they fit together (customer gateways on the Azure public IPs, each local network gateway on
  a live AWS tunnel, Azure and AWS keys equal). Then one run with faults off reports changed=0 and
  writes nothing (link_check's getBgpPeerStatus is an ARM POST that changes nothing: it is listed
  apart, not counted as a write).
- Interruptions: the time a converge takes is measured first and cut into KILLS equal slices; for
  each slice the stand-ins start empty, ansible-playbook's process group gets SIGKILL at a seeded
  time within that slice (the task running at the kill is recorded), and a rerun must converge to exactly the plan's
  objects, fitting together (no duplicate, no orphan). Azure objects have fixed names, EC2's are
  found by their tags and the Azure IPs, so what a killed run created is found again. At the end
  the teardown leaves nothing of ours, the bystanders and the resource group stay.
- Drift (behind the collection's back, through boto3 and azure-mgmt-network against the stand-ins):
  * phase 1 encryption of an AWS tunnel (AES128 instead of the profile's): the AWS task repairs it;
  * the routing of the Azure side. In BGP mode Azure learns the VPC's routes from the AWS tunnel
    whose address it peers with: each local network gateway's BGP settings (AWS inside address,
    Amazon ASN) say which neighbour that is, and its address space is what Azure routes into the
    tunnel statically (empty in BGP mode). Two drifts: a local network gateway's BGP peering
    address moved to another APIPA address (that tunnel's BGP session can never come up, Azure
    stops learning the VPC prefix over it), and an extra prefix 192.0.2.0/24 put in another local
    network gateway's address space (a static route Azure would advertise into the VNet and send
    over that one tunnel). The Azure task repairs both in place;
  * pre-shared keys. The lab inventory gives no keys, so AWS generated them and is their source of
    truth (see test_reliability_aws_gcp): an Azure connection's key changed on Azure is set back
    to its AWS tunnel's key; an AWS tunnel's key changed on AWS is the link's key from then on,
    and the Azure connection is given it (one sharedKey call each, no connection re-created).
  No key appears in any run's output.

Figures (faults injected and survived, reruns, interruptions and recoveries, drifts repaired) are
printed at the end of the module and written to tests/output/reliability_aws_azure.json.
Environment: MCVPN_RELIABILITY_SEEDS (default 10) and MCVPN_RELIABILITY_KILLS (default 10).
"""
from __future__ import annotations

import os
import time

import pytest
from labtools import REPO, LabSession, live_objects
from reliability import (FAULT_RATE, KILLS, SEEDS, Driver, changed_tasks, count_extra, failures, faults_injected, kill_times, local_inventory, ports,
                         set_faults, task_at_kill, write_figures)

import labctl

PLAYBOOK = "playbooks/aws_azure_ha.yml"
TEARDOWN = "playbooks/aws_azure_ha_teardown.yml"
CLOUDS = ("ec2", "azure")
LINK = "demo"
RESOURCE_GROUP = "mcvpn-lab"
LOCATION = "eastus"
VPC_CIDR = "10.0.0.0/16"
# What the plan of the lab inventory (BGP mode, 4 tunnels) builds.
PLAN = {"vpcs": 1, "vpn_gateways": 1, "customer_gateways": 2, "vpn_connections": 2,
        "virtual_networks": 1, "gateway_subnets": 1, "public_ip_addresses": 2, "virtual_network_gateways": 1,
        "local_network_gateways": 4, "connections": 4}
AZURE_KINDS = ("virtual_networks", "public_ip_addresses", "virtual_network_gateways", "local_network_gateways", "connections")
BASE_VARS = {"mcvpn_check_retries": 0, "mcvpn_check_delay": 1}
CONVERGED_TASK = "Every tunnel must be up"
AWS_TASK = "multicloud.vpn.aws_vpn : Customer gateways and VPN connections, tunnel options as planned"
AZURE_TASK = "multicloud.vpn.azure_vpn : Azure local network gateways and connections, one per AWS tunnel (after the gateway is provisioned)"
# An ARM POST that only reads (link_check's BGP peer status): the request log classes every POST as a write.
READ_ONLY_ACTIONS = ("Microsoft.Network/virtualNetworkGateways/getBgpPeerStatus/action",)
BYSTANDER_VPC_CIDR = "10.99.0.0/16"
BYSTANDER_CGW_IP = "198.51.100.99"
BYSTANDER_PIP = "bystander-pip"
DRIFT_PEERING_ADDRESS = "169.254.21.9"
DRIFT_PREFIX = "192.0.2.0/24"

FIGURES: dict = {
    "faults": {"seeds": 0, "runs": 0, "faults_injected": {"ec2": 0, "azure": 0}, "converged": 0,
               "reruns_sdk_retries_exhausted": 0, "duplicates": {}, "mismatches": 0, "clean_run_changed": None, "clean_run_writes": None,
               "clean_run_read_only_actions": None},
    "interruptions": {"kills": 0, "converge_seconds_measured": None, "killed_at_seconds": [], "killed_during": [], "recoveries": 0,
                      "duplicates_or_orphans": 0, "teardown_leftovers": None, "bystanders_intact": None},
    "drift": {"injected": 0, "repaired": 0, "details": []},
}


def test_plan_is_the_lab_inventorys():
    """PLAN above is what the lab inventory asks for: BGP mode (4 tunnels), link demo, VPC 10.0.0.0/16."""
    import yaml

    with open(os.path.join(REPO, "inventories", "lab", "group_vars", "all", "azure.yml"), encoding="utf-8") as stream:
        azure = yaml.safe_load(stream)
    with open(os.path.join(REPO, "inventories", "lab", "group_vars", "all", "link.yml"), encoding="utf-8") as stream:
        common = yaml.safe_load(stream)
    assert (azure["mcvpn_azure_mode"], azure["mcvpn_azure_resource_group"], common["mcvpn_link_name"], common["mcvpn_aws_vpc_cidr"]) == (
        "bgp", RESOURCE_GROUP, LINK, VPC_CIDR)


@pytest.fixture(scope="module")
def lab():
    with LabSession("mcvrelaz", ports(18990, 18991, 18992), data_plane=False) as session:
        session.driver = Driver(session, PLAYBOOK, inventory=["inventories/lab", local_inventory(session.state_dir)],
                                base_vars=BASE_VARS, limit="localhost", converged_task=CONVERGED_TASK)
        started = time.monotonic()
        yield session
        FIGURES["seconds"] = round(time.monotonic() - started, 1)
    write_figures("aws_azure", "reliability of %s (BGP, 4 tunnels; faults at %d %%, %d seeds; %d interruptions)"
                  % (PLAYBOOK, FAULT_RATE * 100, SEEDS, KILLS), FIGURES)


def run(lab, playbook: str = PLAYBOOK, extra_vars: dict | None = None):
    return lab.driver.run(playbook, extra_vars)


def converged(lab, run_result) -> bool:
    return lab.driver.converged(run_result)


# -- the stand-ins ------------------------------------------------------------------------------
def reset(lab) -> None:
    """Both stand-ins empty (the seeded resource group comes back), no faults, fast waits, bystanders seeded."""
    for cloud in CLOUDS:
        labctl.lab_request(lab.url(cloud), "reset", {})
        labctl.lab_request(lab.url(cloud), "config", {"faults": {"rate": 0}})
    labctl.lab_request(lab.url("ec2"), "config", {"delays": {"vpn_gateway": 0, "vpn_gateway_attachment": 0}})
    labctl.lab_request(lab.url("azure"), "config", {"delays": {"retry_after": 0}})
    client = ec2_client(lab)
    client.create_vpc(CidrBlock=BYSTANDER_VPC_CIDR)
    client.create_customer_gateway(Type="ipsec.1", PublicIp=BYSTANDER_CGW_IP, BgpAsn=65099)
    azure_client(lab).public_ip_addresses.begin_create_or_update(
        RESOURCE_GROUP, BYSTANDER_PIP, {"location": LOCATION, "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}}).result()
    lab.clear_requests()


def live_azure(items: list) -> list:
    return [item for item in items if item["provisioning_state"] != "Deleting"]


def inventory(lab) -> dict:
    """Counts of the link's objects in both stand-ins (live ones, bystanders left out), keyed like PLAN."""
    ec2 = lab.state("ec2")
    counts = {"vpcs": len([vpc for vpc in ec2["vpcs"].values() if VPC_CIDR in vpc["cidr_blocks"]]),
              "vpn_gateways": len(live_objects(ec2["vpn_gateways"])), "vpn_connections": len(live_objects(ec2["vpn_connections"])),
              "customer_gateways": len([item for item in live_objects(ec2["customer_gateways"]) if item["ip_address"] != BYSTANDER_CGW_IP])}
    azure = lab.state("azure")
    for kind in AZURE_KINDS:
        counts[kind] = len([item for item in live_azure(azure[kind]) if item["name"] != BYSTANDER_PIP])
    counts["gateway_subnets"] = sum(1 for vnet in live_azure(azure["virtual_networks"]) for subnet in vnet["subnets"]
                                    if subnet["name"] == "GatewaySubnet")
    return counts


def mismatches(lab) -> list:
    """How the two sides fail to fit together (empty when every object is where the other side expects it)."""
    ec2, azure = lab.state("ec2"), lab.state("azure")
    problems = []
    gateways = live_azure(azure["virtual_network_gateways"])
    azure_ips = sorted(instance["public_ip"] for gateway in gateways for instance in gateway["instances"])
    cgw_ips = sorted(item["ip_address"] for item in live_objects(ec2["customer_gateways"]) if item["ip_address"] != BYSTANDER_CGW_IP)
    if cgw_ips != azure_ips:
        problems.append("customer gateways on %s, Azure gateway IPs %s" % (cgw_ips, azure_ips))
    tunnels = {tunnel["outside_ip"]: tunnel for connection in live_objects(ec2["vpn_connections"]) for tunnel in connection["tunnels"]}
    lngs = {item["name"]: item for item in live_azure(azure["local_network_gateways"])}
    lng_ips = sorted(item["gateway_ip_address"] for item in lngs.values())
    if lng_ips != sorted(tunnels):
        problems.append("local network gateways on %s, AWS tunnels %s" % (lng_ips, sorted(tunnels)))
    for connection in live_azure(azure["connections"]):
        lng = lngs.get(connection["local_network_gateway_id"].rsplit("/", 1)[-1])
        tunnel = tunnels.get(lng["gateway_ip_address"]) if lng else None
        if tunnel is None:
            problems.append("connection %s has no live local network gateway / AWS tunnel" % connection["name"])
        elif connection["shared_key"] != tunnel["pre_shared_key"]:
            problems.append("connection %s: key differs from its AWS tunnel's" % connection["name"])
    return problems


def bystanders_intact(lab) -> bool:
    ec2, azure = lab.state("ec2"), lab.state("azure")
    return ([vpc["cidr_blocks"] for vpc in ec2["vpcs"].values() if BYSTANDER_VPC_CIDR in vpc["cidr_blocks"]] == [[BYSTANDER_VPC_CIDR]]
            and [item["state"] for item in ec2["customer_gateways"].values() if item["ip_address"] == BYSTANDER_CGW_IP] == ["available"]
            and [item["name"] for item in azure["public_ip_addresses"] if item["name"] == BYSTANDER_PIP] == [BYSTANDER_PIP]
            and [group["name"] for group in azure["resource_groups"]] == [RESOURCE_GROUP])


def writes(lab) -> tuple:
    """({cloud: [write operations]}, read-only ARM actions) since the last clear."""
    found, read_only = {}, 0
    for cloud in ("ec2", "gcp", "azure"):
        entries = labctl.lab_request(lab.url(cloud), "requests")["entries"]
        read_only += sum(1 for entry in entries if entry["write"] and entry["operation"] in READ_ONLY_ACTIONS)
        found[cloud] = [entry["operation"] for entry in entries if entry["write"] and entry["operation"] not in READ_ONLY_ACTIONS]
    return found, read_only


def keys_in_output(lab, run_result) -> list:
    """Every key of either side that shows in a run's output (none may)."""
    keys = {tunnel["pre_shared_key"] for connection in lab.state("ec2")["vpn_connections"].values() for tunnel in connection["tunnels"]}
    keys |= {connection["shared_key"] for connection in lab.state("azure")["connections"]}
    return ["%s..." % key[:3] for key in keys if key and key in run_result.output]


# -- 1. faults ----------------------------------------------------------------------------------
def test_faults_converge_without_duplicates(lab):
    figures = FIGURES["faults"]
    problems = []
    for seed in range(1, SEEDS + 1):
        reset(lab)
        set_faults(lab, CLOUDS, seed, FAULT_RATE)
        result = lab.driver.converge(figures)
        injected = faults_injected(lab, CLOUDS)
        set_faults(lab, CLOUDS, seed, 0)
        for cloud, count in injected.items():
            figures["faults_injected"][cloud] += count
        figures["seeds"] += 1
        figures["converged"] += 1
        for kind, count in count_extra(inventory(lab), PLAN).items():
            figures["duplicates"][kind] = figures["duplicates"].get(kind, 0) + count
            problems.append((seed, kind, count))
        unfit = mismatches(lab)
        figures["mismatches"] += len(unfit)
        problems += [(seed, "mismatch", item) for item in unfit]
        problems += [(seed, "key in output", item) for item in keys_in_output(lab, result)]
    assert problems == [], "objects not exactly as planned (seed, kind, extra): %s" % problems
    # The last seed's link, faults off: nothing to do.
    lab.clear_requests()
    clean = run(lab)
    assert converged(lab, clean), failures(clean)
    figures["clean_run_changed"] = clean.changed()
    figures["clean_run_writes"], figures["clean_run_read_only_actions"] = writes(lab)
    assert clean.changed() == 0, changed_tasks(clean)
    assert figures["clean_run_writes"] == {"ec2": [], "gcp": [], "azure": []}


# -- 2. interruptions ---------------------------------------------------------------------------
def test_interruptions_rerun_converges_and_teardown_cleans(lab):
    figures = FIGURES["interruptions"]
    reset(lab)
    measured = run(lab)
    assert converged(lab, measured), failures(measured)
    figures["converge_seconds_measured"] = round(measured.seconds, 1)
    problems = []
    for trial, delay in enumerate(kill_times(measured.seconds)):
        reset(lab)
        killed = lab.driver.kill_after(delay)
        figures["kills"] += 1
        figures["killed_at_seconds"].append(delay)
        figures["killed_during"].append(task_at_kill(killed))
        after_kill = inventory(lab)
        over = {kind: count for kind, count in after_kill.items() if count > PLAN[kind]}
        lab.driver.converge(figures)
        extra, unfit = count_extra(inventory(lab), PLAN), mismatches(lab)
        if extra or over or unfit:
            figures["duplicates_or_orphans"] += 1
            problems.append((trial, delay, task_at_kill(killed), extra, over, unfit))
        else:
            figures["recoveries"] += 1
    assert problems == [], "after a kill (trial, seconds, task, extra after the rerun, extra right after the kill, mismatches): %s" % problems
    teardown = run(lab, TEARDOWN)
    assert teardown.returncode == 0, failures(teardown)
    left = {kind: count for kind, count in inventory(lab).items() if count}
    figures["teardown_leftovers"] = left
    figures["bystanders_intact"] = bystanders_intact(lab)
    assert left == {}, left
    assert figures["bystanders_intact"], (lab.state("ec2"), lab.state("azure"))


# -- 3. drift ---------------------------------------------------------------------------------
def ec2_client(lab):
    import boto3

    return boto3.client("ec2", endpoint_url=lab.url("ec2"), region_name="us-east-1", aws_access_key_id=lab.environment["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=lab.environment["AWS_SECRET_ACCESS_KEY"])


def azure_client(lab):
    """azure-mgmt-network's NetworkManagementClient on the stand-in (the collection's adapter builds it, as for any user)."""
    from ansible_collections.multicloud.vpn.plugins.module_utils._azure import network_client

    return network_client({"base_url": lab.url("azure"), "subscription_id": lab.environment["AZURE_SUBSCRIPTION_ID"]})


def aws_tunnels(lab) -> dict:
    """{outside ip: (VPN connection id, tunnel)} of the link's live tunnels."""
    return {tunnel["outside_ip"]: (vpn_id, tunnel) for vpn_id, connection in lab.state("ec2")["vpn_connections"].items()
            if connection["state"] not in ("deleting", "deleted") for tunnel in connection["tunnels"]}


def azure_pairs(lab) -> dict:
    """{Azure connection name: (its local network gateway, the AWS tunnel at that gateway's address)}."""
    azure = lab.state("azure")
    lngs = {item["name"]: item for item in azure["local_network_gateways"]}
    tunnels = aws_tunnels(lab)
    pairs = {}
    for connection in azure["connections"]:
        lng = lngs[connection["local_network_gateway_id"].rsplit("/", 1)[-1]]
        pairs[connection["name"]] = (lng, tunnels[lng["gateway_ip_address"]][1])
    return pairs


def wait_available(client, vpn_id: str) -> None:
    for _poll in range(100):
        if client.describe_vpn_connections(VpnConnectionIds=[vpn_id])["VpnConnections"][0]["State"] == "available":
            return
        time.sleep(0.2)
    raise AssertionError("%s never available again" % vpn_id)


def modify_aws_tunnel(lab, outside_ip: str, options: dict) -> None:
    client = ec2_client(lab)
    vpn_id, _tunnel = aws_tunnels(lab)[outside_ip]
    client.modify_vpn_tunnel_options(VpnConnectionId=vpn_id, VpnTunnelOutsideIpAddress=outside_ip, TunnelOptions=options)
    wait_available(client, vpn_id)


def drift_local_network_gateway(lab, name: str, *, peering_address: str | None = None, prefixes: list | None = None) -> None:
    client = azure_client(lab)
    local_gateway = client.local_network_gateways.get(RESOURCE_GROUP, name)
    if peering_address is not None:
        local_gateway.bgp_settings.bgp_peering_address = peering_address
    if prefixes is not None:
        local_gateway.local_network_address_space.address_prefixes = prefixes
    client.local_network_gateways.begin_create_or_update(RESOURCE_GROUP, name, local_gateway).result()


def drift_azure_key(lab, connection: str, key: str) -> None:
    azure_client(lab).virtual_network_gateway_connections.begin_set_shared_key(RESOURCE_GROUP, connection, {"value": key}).result()


def record_drift(name: str, repaired: bool, detail: str) -> None:
    FIGURES["drift"]["injected"] += 1
    FIGURES["drift"]["repaired"] += int(repaired)
    FIGURES["drift"]["details"].append({"drift": name, "repaired": repaired, "detail": detail})


def test_drift_is_reported_and_repaired(lab):
    reset(lab)
    assert converged(lab, run(lab))
    assert mismatches(lab) == []
    pairs = azure_pairs(lab)
    names = sorted(pairs)                        # demo-conn-c0-t1, c0-t2, c1-t1, c1-t2
    encryption_ip = pairs[names[0]][1]["outside_ip"]
    planned_encryption = aws_tunnels(lab)[encryption_ip][1]["options"]["Phase1EncryptionAlgorithms"]
    peering_lng, planned_peering = pairs[names[1]][0]["name"], pairs[names[1]][0]["bgp"]
    prefix_lng = pairs[names[2]][0]["name"]
    azure_key_connection = names[3]
    aws_key_ip = pairs[names[1]][1]["outside_ip"]
    connection_ids = {item["name"]: item["id"] for item in lab.state("azure")["connections"]}

    # Behind the collection's back: one AWS tunnel option, two routing settings of Azure, one key on each side.
    modify_aws_tunnel(lab, encryption_ip, {"Phase1EncryptionAlgorithms": [{"Value": "AES128"}]})
    assert aws_tunnels(lab)[encryption_ip][1]["options"]["Phase1EncryptionAlgorithms"] == ["AES128"]
    drift_local_network_gateway(lab, peering_lng, peering_address=DRIFT_PEERING_ADDRESS)
    drift_local_network_gateway(lab, prefix_lng, prefixes=[DRIFT_PREFIX])
    lngs = {item["name"]: item for item in lab.state("azure")["local_network_gateways"]}
    assert lngs[peering_lng]["bgp"]["peering_address"] == DRIFT_PEERING_ADDRESS and lngs[prefix_lng]["address_prefixes"] == [DRIFT_PREFIX]
    drift_azure_key(lab, azure_key_connection, "drifted_azure_key_1")
    modify_aws_tunnel(lab, aws_key_ip, {"PreSharedKey": "drifted_aws_key_1"})
    assert len(mismatches(lab)) == 2

    lab.clear_requests()
    repair = run(lab)
    assert converged(lab, repair), failures(repair)
    changed = changed_tasks(repair)
    azure_writes = writes(lab)[0]["azure"]
    now_tunnels, now_pairs = aws_tunnels(lab), azure_pairs(lab)
    lngs = {item["name"]: item for item in lab.state("azure")["local_network_gateways"]}
    now_encryption = now_tunnels[encryption_ip][1]["options"]["Phase1EncryptionAlgorithms"]
    record_drift("phase 1 encryption of AWS tunnel %s" % encryption_ip,
                 AWS_TASK in changed and sorted(now_encryption) == sorted(planned_encryption), "AES128 -> %s" % now_encryption)
    record_drift("BGP peering address of local network gateway %s" % peering_lng,
                 AZURE_TASK in changed and lngs[peering_lng]["bgp"] == planned_peering,
                 "%s -> %s (the AWS tunnel's inside address)" % (DRIFT_PEERING_ADDRESS, lngs[peering_lng]["bgp"]["peering_address"]))
    record_drift("address space (static route) of local network gateway %s" % prefix_lng,
                 AZURE_TASK in changed and lngs[prefix_lng]["address_prefixes"] == [],
                 "[%s] -> %s (BGP mode: routes come from BGP only)" % (DRIFT_PREFIX, lngs[prefix_lng]["address_prefixes"]))
    lng, tunnel = now_pairs[azure_key_connection]
    record_drift("shared key of Azure connection %s, AWS the keeper" % azure_key_connection,
                 AZURE_TASK in changed and lab_key(lab, azure_key_connection) == tunnel["pre_shared_key"] != "drifted_azure_key_1",
                 "set back to the key of AWS tunnel %s" % lng["gateway_ip_address"])
    aws_key_connection = next(name for name, (_lng, tunnel) in now_pairs.items() if tunnel["outside_ip"] == aws_key_ip)
    record_drift("pre-shared key of AWS tunnel %s, AWS the keeper" % aws_key_ip,
                 AZURE_TASK in changed and now_tunnels[aws_key_ip][1]["pre_shared_key"] == "drifted_aws_key_1"
                 and lab_key(lab, aws_key_connection) == "drifted_aws_key_1",
                 "AWS's new key kept, Azure connection %s given it" % aws_key_connection)
    FIGURES["drift"]["repair_run_changed_tasks"] = changed
    FIGURES["drift"]["repair_run_azure_writes"] = azure_writes
    assert mismatches(lab) == []
    assert {item["name"]: item["id"] for item in lab.state("azure")["connections"]} == connection_ids, "a connection was re-created"
    assert "drifted_azure_key_1" not in repair.output and "drifted_aws_key_1" not in repair.output
    assert keys_in_output(lab, repair) == []
    assert inventory(lab) == PLAN
    again = run(lab)
    assert converged(lab, again) and again.changed() == 0, changed_tasks(again)
    failed = [item for item in FIGURES["drift"]["details"] if not item["repaired"]]
    assert failed == [], failed


def lab_key(lab, connection: str) -> str:
    return next(item["shared_key"] for item in lab.state("azure")["connections"] if item["name"] == connection)

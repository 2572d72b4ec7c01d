# Lab acceptance of playbooks/aws_azure_ha.yml and its teardown, static and BGP, through ansible-playbook.
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""The AWS <-> Azure product against the lab, as a user runs it: ``ansible-playbook -i inventories/lab``.

Per mode (static: 2 tunnels, BGP: 4): converge, a second run with changed=0, ``--check --diff`` on
the converged link with no write in any stand-in's request log, teardown leaving nothing of ours
(and the bystander resources seeded before the converge untouched). With the data plane, seed 004's
failover drill too: one Azure connection removed behind the playbook's back, pings still pass over
the other tunnel(s), and the next run puts the connection back.

Where the data plane can run (root, strongSwan, FRR: what tests/run installs) the lab starts with
``labctl up`` (stand-ins + the reconciler) and the converge must end with every tunnel UP from both
APIs and pings both ways. ``MCVPN_LAB_DATAPLANE=0`` (or no root) runs ``labctl start`` (stand-ins
only) instead: nothing brings a tunnel up,
so the converge must stop at link_check's last task with a report of 2 or 4 tunnels, each present
on both sides (AWS telemetry DOWN, Azure connection Connecting) and DOWN.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import boto3
import pytest

LAB_DIR = os.path.dirname(os.path.abspath(__file__))
COLLECTION_ROOT = os.path.dirname(os.path.dirname(LAB_DIR))
PLAYBOOK = os.path.join(COLLECTION_ROOT, "playbooks", "aws_azure_ha.yml")
TEARDOWN = os.path.join(COLLECTION_ROOT, "playbooks", "aws_azure_ha_teardown.yml")
INVENTORY = os.path.join(COLLECTION_ROOT, "inventories", "lab")
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")

sys.path.insert(0, LAB_DIR)
from labtools import data_plane_missing  # noqa: E402  pylint: disable=wrong-import-position

DATAPLANE = os.environ.get("MCVPN_LAB_DATAPLANE", "1") == "1" and data_plane_missing() is None
# The lab inventory (inventories/lab/group_vars/all/*.yml): what the playbook must build.
LINK = "demo"
RESOURCE_GROUP = "mcvpn-lab"
LOCATION = "eastus"
VNET_CIDR = "10.1.0.0/16"
VPC_CIDR = "10.0.0.0/16"
CHECK_ROLE = "multicloud.vpn.link_check : "
FINAL_CHECK_TASK = CHECK_ROLE + "Every tunnel must be up"
REPORT_TASK = CHECK_ROLE + "Report per tunnel"
TUNNELS = {"static": 2, "bgp": 4}
# Resources that are not the link's: the teardown must leave them alone.
BYSTANDER_VPC_CIDR = "10.99.0.0/16"
BYSTANDER_CGW_IP = "198.51.100.99"
BYSTANDER_PIP = "bystander-pip"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _call(url: str, method: str = "GET", body: dict | None = None, headers: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=dict({"Content-Type": "application/json"}, **(headers or {})))
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - loopback only
        return json.loads(answer.read() or b"{}")


class Lab:
    """The stand-ins started by labctl (start, or up with the data plane) in a private state directory."""

    def __init__(self, state_dir: str):
        self.state_dir = state_dir
        ports = {"ec2": _free_port(), "gcp": _free_port(), "azure": _free_port()}
        self.labctl(["up" if DATAPLANE else "start"] + ["--%s-port=%d" % item for item in ports.items()])
        with open(os.path.join(state_dir, "env.json"), encoding="utf-8") as handle:
            env = json.load(handle)
        self.environment = env["environment"]
        self.urls = {cloud: "http://127.0.0.1:%d" % port for cloud, port in env["ports"].items()}
        self.subscription = self.environment["AZURE_SUBSCRIPTION_ID"]

    def labctl(self, arguments: list) -> None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [LAB_DIR, os.environ.get("PYTHONPATH")])))
        subprocess.run([sys.executable, "-m", "labctl"] + arguments + ["--state-dir", self.state_dir], env=env, check=True,
                       capture_output=True, timeout=120)

    def stop(self) -> None:
        self.labctl(["down" if DATAPLANE else "stop"])

    def control(self, cloud: str, route: str, body: dict | None = None) -> dict:
        return _call(self.urls[cloud] + "/_lab/" + route, "GET" if body is None else "POST", body)

    def arm(self, method: str, path: str, body: dict | None = None) -> dict:
        """An ARM request as a client makes it (the stand-in accepts any bearer token)."""
        return _call("%s/subscriptions/%s/%s" % (self.urls["azure"], self.subscription, path), method, body,
                     {"Authorization": "Bearer lab"})

    def ec2(self):
        return boto3.client("ec2", endpoint_url=self.urls["ec2"], region_name="us-east-1", aws_access_key_id="lab",
                            aws_secret_access_key="lab-not-a-secret-key")

    def clear_logs(self) -> None:
        for cloud in self.urls:
            self.control(cloud, "requests/clear", {})

    def writes(self) -> dict:
        return {cloud: [entry["operation"] for entry in self.control(cloud, "requests")["entries"] if entry["write"]] for cloud in self.urls}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    state_dir = str(tmp_path_factory.mktemp("lab-aws-azure"))
    running = Lab(state_dir)
    try:
        # azure-mgmt-resource is not a dependency: the resource group must exist, the lab provides it.
        running.arm("PUT", "resourcegroups/%s?api-version=2021-04-01" % RESOURCE_GROUP, {"location": LOCATION})
        seed_bystanders(running)
        yield running
    finally:
        running.stop()


def seed_bystanders(lab: Lab) -> None:
    ec2 = lab.ec2()
    ec2.create_vpc(CidrBlock=BYSTANDER_VPC_CIDR)
    ec2.create_customer_gateway(Type="ipsec.1", PublicIp=BYSTANDER_CGW_IP, BgpAsn=65099)
    lab.arm("PUT", "resourceGroups/%s/providers/Microsoft.Network/publicIPAddresses/%s?api-version=2024-05-01" % (RESOURCE_GROUP, BYSTANDER_PIP),
            {"location": LOCATION, "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}})


def assert_bystanders_intact(lab: Lab) -> None:
    ec2_state = lab.control("ec2", "state")
    assert [vpc["cidr_blocks"] for vpc in ec2_state["vpcs"].values()] == [[BYSTANDER_VPC_CIDR]]
    assert [(gateway["ip_address"], gateway["state"]) for gateway in ec2_state["customer_gateways"].values()
            if gateway["ip_address"] == BYSTANDER_CGW_IP] == [(BYSTANDER_CGW_IP, "available")]
    azure_state = lab.control("azure", "state")
    assert [item["name"] for item in azure_state["public_ip_addresses"]] == [BYSTANDER_PIP]
    assert [group["name"] for group in azure_state["resource_groups"]] == [RESOURCE_GROUP]


def run_playbook(lab: Lab, tmp_path, playbook: str, mode: str, *extra_args: str) -> tuple:
    """ansible-playbook with the JSON callback -> (return code, document, raw stdout)."""
    collections = tmp_path / "collections" / "ansible_collections" / "multicloud"
    collections.mkdir(parents=True, exist_ok=True)
    if not (collections / "vpn").exists():
        (collections / "vpn").symlink_to(COLLECTION_ROOT)
    variables = {"mcvpn_azure_mode": mode}
    if not DATAPLANE:
        variables.update(mcvpn_check_retries=0, mcvpn_check_delay=0)   # nothing can come up: report at once
    env = dict(os.environ, **lab.environment)
    env.update(ANSIBLE_COLLECTIONS_PATH=str(tmp_path / "collections"), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1",
               ANSIBLE_RETRY_FILES_ENABLED="False", ANSIBLE_LOCALHOST_WARNING="False")
    command = [ANSIBLE_PLAYBOOK, "-i", INVENTORY, playbook, "-e", json.dumps(variables)] + list(extra_args)
    completed = subprocess.run(command, env=env, cwd=COLLECTION_ROOT, capture_output=True, text=True, timeout=1800, check=False)
    try:
        document = json.loads(completed.stdout)
    except ValueError:
        pytest.fail("ansible-playbook printed no JSON (rc %d): %s %s" % (completed.returncode, completed.stdout[-3000:], completed.stderr[-3000:]))
    return completed.returncode, document, completed.stdout


def tasks_of(document: dict) -> list:
    """(play index, task name, host, result) in execution order."""
    return [(index, task["task"]["name"], host, result) for index, play in enumerate(document["plays"])
            for task in play["tasks"] for host, result in task["hosts"].items()]


def before_link_check(document: dict) -> list:
    rows = [row for row in tasks_of(document) if row[0] == 0]
    first_check = next(index for index, row in enumerate(rows) if row[1].startswith(CHECK_ROLE))
    return rows[:first_check]


def result_of(document: dict, name: str, host: str = "localhost") -> dict:
    found = [result for _play, task, task_host, result in tasks_of(document) if task == name and task_host == host]
    assert len(found) == 1, "task %r ran %d times" % (name, len(found))
    return found[0]


def psks_of(lab: Lab) -> list:
    return [tunnel["pre_shared_key"] for connection in lab.control("ec2", "state")["vpn_connections"].values()
            if connection["state"] != "deleted" for tunnel in connection["tunnels"]]


def assert_converged(lab: Lab, rc: int, document: dict, output: str, mode: str) -> None:
    failed = [(task, result.get("msg")) for _play, task, _host, result in tasks_of(document) if result.get("failed") and not result.get("ignore_errors")
              and task != FINAL_CHECK_TASK and not task.startswith(CHECK_ROLE + "Wait until")]
    assert failed == [], failed
    for _play, task, host, result in before_link_check(document):
        assert not result.get("failed"), (task, host, result.get("msg"))
    report = result_of(document, REPORT_TASK)["msg"]
    assert len(report) == TUNNELS[mode], report
    ec2_tunnels = {tunnel["outside_ip"]: connection for connection in lab.control("ec2", "state")["vpn_connections"].values()
                   if connection["state"] != "deleted" for tunnel in connection["tunnels"]}
    for line in report:
        outside_ip = line.split()[1]
        assert outside_ip in ec2_tunnels, line                      # the tunnel exists in AWS ...
        assert "| AZURE no connection" not in line, line            # ... and has its Azure connection
        if DATAPLANE:
            assert line.endswith("-> UP") and "AWS UP" in line and "AZURE Connected" in line, line
        else:
            assert line.endswith("-> DOWN") and "AWS DOWN" in line and "AZURE Connecting" in line, line
    if DATAPLANE:
        assert rc == 0, report
        pings = [result for _play, task, _host, result in tasks_of(document) if task == "multicloud.vpn.probe_ping : Ping the probes of the other side"]
        assert len(pings) == 2 and all(item["rc"] == 0 for ping in pings for item in ping["results"]), pings
    else:
        assert rc == 2
        assert result_of(document, FINAL_CHECK_TASK)["failed"] is True
    for psk in psks_of(lab):
        assert psk not in output


def assert_link_built(lab: Lab, mode: str) -> None:
    azure = lab.control("azure", "state")
    [gateway] = azure["virtual_network_gateways"]
    assert (gateway["name"], gateway["active_active"], gateway["enable_bgp"], gateway["asn"], gateway["sku"]) == (
        LINK + "-gw", True, mode == "bgp", 65515, "VpnGw1AZ")
    assert [vnet["address_prefixes"] for vnet in azure["virtual_networks"]] == [[VNET_CIDR]]
    public_ips = sorted(item["ip_address"] for item in azure["public_ip_addresses"] if item["name"].startswith(LINK + "-pip-"))
    assert sorted(instance["public_ip"] for instance in gateway["instances"]) == public_ips and len(public_ips) == 2
    ec2 = [connection for connection in lab.control("ec2", "state")["vpn_connections"].values() if connection["state"] != "deleted"]
    assert sorted(connection["customer_gateway_ip"] for connection in ec2) == public_ips          # one CGW per Azure public IP
    assert {connection["static_routes_only"] for connection in ec2} == {mode == "static"}
    expected_routes = [VNET_CIDR] if mode == "static" else []
    assert [[route["destination_cidr_block"] for route in connection["routes"]] for connection in ec2] == [expected_routes] * 2
    used = [tunnel for connection in ec2 for tunnel in connection["tunnels"] if mode == "bgp" or tunnel is connection["tunnels"][0]]
    connections = {item["name"]: item for item in azure["connections"]}
    assert len(connections) == TUNNELS[mode]
    lngs = {item["gateway_ip_address"]: item for item in azure["local_network_gateways"]}
    for tunnel in used:   # each used AWS tunnel: an LNG at its outside IP and a connection with its PSK
        lng = lngs[tunnel["outside_ip"]]
        [connection] = [item for item in connections.values() if item["local_network_gateway_id"].endswith("/" + lng["name"])]
        assert connection["shared_key"] == tunnel["pre_shared_key"] and connection["connection_protocol"] == "IKEv2"
        if mode == "static":
            assert lng["address_prefixes"] == [VPC_CIDR] and lng["bgp"] is None
        else:
            assert lng["bgp"] == {"asn": 64512, "peering_address": tunnel["aws_inside_ip"]}
            custom = [entry["customBgpIpAddress"] for entry in connection["gateway_custom_bgp_ip_addresses"]]
            assert tunnel["customer_inside_ip"] in custom


def assert_nothing_of_ours(lab: Lab) -> None:
    ec2 = lab.control("ec2", "state")
    for kind in ("vpn_connections", "vpn_gateways"):
        assert {item["state"] for item in ec2[kind].values()} <= {"deleted"}, ec2[kind]
    assert [gateway["ip_address"] for gateway in ec2["customer_gateways"].values() if gateway["state"] != "deleted"] == [BYSTANDER_CGW_IP]
    azure = lab.control("azure", "state")
    for kind in ("virtual_networks", "virtual_network_gateways", "local_network_gateways", "connections"):
        assert azure[kind] == [], (kind, azure[kind])
    assert_bystanders_intact(lab)


def ping(source: str, address: str) -> bool:
    return subprocess.run(["ip", "netns", "exec", "lab-p-%s" % source, "ping", "-c", "3", "-W", "1", "-i", "0.3", address],
                          capture_output=True, check=False).returncode == 0


def failover_drill(lab: Lab, tmp_path, mode: str) -> None:
    """Seed 004's drill: remove one Azure connection, ping again; the next run puts it back."""
    [first] = sorted(item["name"] for item in lab.control("azure", "state")["connections"])[:1]
    lab.arm("DELETE", "resourceGroups/%s/providers/Microsoft.Network/connections/%s?api-version=2024-05-01" % (RESOURCE_GROUP, first))
    deadline = time.monotonic() + 60
    while first in [item["name"] for item in lab.control("azure", "state")["connections"]] and time.monotonic() < deadline:
        time.sleep(0.5)
    assert first not in [item["name"] for item in lab.control("azure", "state")["connections"]]
    time.sleep(3)   # the reconciler removes that tunnel from the fabric
    assert any(ping("aws-probe", "10.1.1.10") for attempt in range(20)), "no ping after one Azure connection was removed"
    assert any(ping("azure-probe", "10.0.1.10") for attempt in range(20))
    rc, document, output = run_playbook(lab, tmp_path, PLAYBOOK, mode)
    assert_converged(lab, rc, document, output, mode)
    assert first in [item["name"] for item in lab.control("azure", "state")["connections"]]
    assert [task for _play, task, _host, result in before_link_check(document) if result.get("changed")], "the removed connection was not put back"


@pytest.mark.parametrize("mode", ["static", "bgp"])
def test_converge_rerun_check_teardown(lab, tmp_path, mode):
    # converge
    rc, document, output = run_playbook(lab, tmp_path, PLAYBOOK, mode)
    assert_converged(lab, rc, document, output, mode)
    assert_link_built(lab, mode)
    assert any(result.get("changed") for _play, _task, _host, result in before_link_check(document))

    # second run: nothing changes before the connectivity check
    rc, document, output = run_playbook(lab, tmp_path, PLAYBOOK, mode)
    assert_converged(lab, rc, document, output, mode)
    changed = [task for _play, task, _host, result in before_link_check(document) if result.get("changed")]
    assert changed == [], changed

    # --check --diff on the converged link: no change reported, no write in any stand-in
    lab.clear_logs()
    rc, document, output = run_playbook(lab, tmp_path, PLAYBOOK, mode, "--check", "--diff")
    assert rc == 0, [(task, result.get("msg")) for _play, task, _host, result in tasks_of(document) if result.get("failed")]
    assert [task for _play, task, _host, result in tasks_of(document) if result.get("changed")] == []
    assert lab.writes() == {"ec2": [], "gcp": [], "azure": []}
    assert_link_built(lab, mode)

    if DATAPLANE:
        failover_drill(lab, tmp_path, mode)

    # teardown: nothing of ours left, the bystanders untouched
    psks = psks_of(lab)
    rc, document, output = run_playbook(lab, tmp_path, TEARDOWN, mode)
    assert rc == 0, [(task, result.get("msg")) for _play, task, _host, result in tasks_of(document) if result.get("failed")]
    assert_nothing_of_ours(lab)
    for psk in psks:
        assert psk not in output

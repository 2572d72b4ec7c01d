# Lab integration of multicloud.vpn.gcp_ha_vpn_link: ansible-playbook runs the module against the GCP Compute stand-in.
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""For 1, 2 and 4 tunnels: phase 1, check mode, create, idempotent rerun, PSK rotation, gathered, absent;
and redundancy 2 -> 4 without touching the HA VPN gateway. Every step is one ansible-playbook run of
playbooks/gcp_link_apply.yml; writes are counted in the stand-in's request log (GET /_lab/requests)
and the result is checked against the stand-in's full state (GET /_lab/state, secrets included)."""
from __future__ import annotations

import collections
import json
import logging
import os
import subprocess
import sys
import threading
import urllib.request

import pytest
from werkzeug.serving import make_server

from standins.gcp import build_app

PROJECT = "lab-project"
REGION = "us-central1"
LINK = "lab"
# small but non-zero: operations really are PENDING/RUNNING when the module waits for them
DELAYS = {"default": 0.0, "networks": 0.02, "externalVpnGateways": 0.02, "vpnGateways": 0.05, "vpnTunnels": 0.05, "routers": 0.02,
          "operations.wait": 10.0}
LAB_DIR = os.path.dirname(os.path.abspath(__file__))
PLAYBOOK = os.path.join(LAB_DIR, "playbooks", "gcp_link_apply.yml")
COLLECTION_ROOT = os.path.dirname(os.path.dirname(LAB_DIR))
ROWS = {1: [(0, "t1")], 2: [(0, "t1"), (1, "t1")], 4: [(0, "t1"), (0, "t2"), (1, "t1"), (1, "t2")]}
# MISSION.md scenario 1: redundancy -> (redundancy type, {(connection, aws tunnel): (external interface, HA interface)})
MISSION = {
    1: ("SINGLE_IP_INTERNALLY_REDUNDANT", {(0, "t1"): (0, 0)}),
    2: ("TWO_IPS_REDUNDANCY", {(0, "t1"): (0, 0), (1, "t1"): (1, 1)}),
    4: ("FOUR_IPS_REDUNDANCY", {(0, "t1"): (0, 0), (0, "t2"): (1, 0), (1, "t1"): (2, 1), (1, "t2"): (3, 1)}),
}
ROUTER = {"asn": 65000, "advertised_ip_ranges": [{"range": "35.199.192.0/19", "description": "Cloud DNS forwarding"}]}
BASE = {"network": "lab-vpc", "create_network": True, "router": ROUTER}

logging.getLogger("werkzeug").setLevel(logging.ERROR)


def aws_tunnels(count, version="A"):
    tunnels = []
    for connection, aws_tunnel in ROWS[count]:
        number = int(aws_tunnel[1])
        tunnels.append({"connection": connection, "aws_tunnel": aws_tunnel, "amazon_asn": 64512,
                        "outside_ip": "203.0.113.%d" % (10 + 10 * connection + number),
                        "inside_cidr": "169.254.%d.%d/30" % (10 + connection, 4 * (number - 1)),
                        "pre_shared_key": "Psk.%s_c%dt%d_%dtunnels_0123" % (version, connection, number, count)})
    return tunnels


class Lab:
    def __init__(self, url):
        self.url = url

    def control(self, route, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + "/_lab/" + route, data=data, method="GET" if body is None else "POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def state(self):
        return self.control("state")

    def project_state(self):
        return self.state()["projects"].get(PROJECT, {})


@pytest.fixture(scope="module")
def running_lab():
    server = make_server("127.0.0.1", 0, build_app({"delays": DELAYS}), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Lab("http://127.0.0.1:%d" % server.server_port)
    server.shutdown()
    thread.join(5)


@pytest.fixture
def lab(running_lab):
    running_lab.control("reset", {})
    running_lab.control("config", {"delays": DELAYS, "faults": {"rate": 0.0}})
    return running_lab


def _collections_path():
    configured = os.environ.get("ANSIBLE_COLLECTIONS_PATH", "")
    if os.path.basename(os.path.dirname(os.path.dirname(COLLECTION_ROOT))) == "ansible_collections":
        parent = os.path.dirname(os.path.dirname(os.path.dirname(COLLECTION_ROOT)))
        configured = parent + os.pathsep + configured if configured else parent
    return configured


def run_playbook(lab, tmp_path, variables, *, check=False, diff=True):
    """One ansible-playbook run -> (module result, raw stdout, request log of this run)."""
    lab.control("requests/clear", {})
    extra = {"gcp_endpoint": lab.url, "gcp_project": PROJECT, "gcp_region": REGION, "link_name": LINK}
    extra.update(variables)
    vars_file = tmp_path / "vars.json"
    vars_file.write_text(json.dumps(extra))
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_LOCALHOST_WARNING="False",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="False", ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_COLLECTIONS_PATH=_collections_path(), ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="False")
    for name in ("GCP_PROJECT", "GCE_PROJECT", "GOOGLE_CLOUD_PROJECT", "GCP_AUTH_KIND", "GOOGLE_APPLICATION_CREDENTIALS"):
        env.pop(name, None)
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", PLAYBOOK, "-e", "@%s" % vars_file]
    if check:
        command.append("--check")
    if diff:
        command.append("--diff")
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    try:
        document = json.loads(completed.stdout)
    except ValueError:
        pytest.fail("ansible-playbook did not print JSON (rc %d): %s %s" % (completed.returncode, completed.stdout[-2000:], completed.stderr[-2000:]))
    result = document["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert not result.get("failed"), result.get("msg")
    return result, completed.stdout, lab.control("requests")


def writes_of(log):
    return collections.Counter(entry["operation"] for entry in log["entries"] if entry["write"])


def assert_no_secret(output, *tunnel_lists):
    for tunnels in tunnel_lists:
        for tunnel in tunnels:
            assert tunnel["pre_shared_key"] not in output


def gateway_ips(result):
    return [(item["id"], item["ip_address"]) for item in result["ha_vpn_gateway"]["interfaces"]]


def check_link_in_state(lab, count, tunnels):
    """The stand-in's state (what the data plane will read) matches MISSION's table and the AWS side."""
    state = lab.state()
    redundancy_type, table = MISSION[count]
    views = {view["name"]: view for view in state["tunnels"]}
    assert sorted(views) == sorted("%s-c%d-%s" % (LINK, item["connection"], item["aws_tunnel"]) for item in tunnels)
    for item in tunnels:
        view = views["%s-c%d-%s" % (LINK, item["connection"], item["aws_tunnel"])]
        external_interface, ha_interface = table[(item["connection"], item["aws_tunnel"])]
        assert (view["local_gateway"], view["local_interface"]) == (LINK + "-gw", ha_interface)
        assert view["peer_gateway"]["redundancy_type"] == redundancy_type
        assert (view["peer_interface"], view["peer_ip"]) == (external_interface, item["outside_ip"])
        assert view["shared_secret"] == item["pre_shared_key"]
        assert view["ike_version"] == 2 and view["cipher_suite"]["phase1"]["encryption"] == ["AES-CBC-256"]
        network, last = item["inside_cidr"].rsplit(".", 1)
        first = int(last.split("/")[0])
        bgp = view["bgp"]
        assert (bgp["ip_range"], bgp["ip_address"], bgp["peer_ip_address"]) == (
            "%s.%d/30" % (network, first + 2), "%s.%d" % (network, first + 2), "%s.%d" % (network, first + 1))
        assert bgp["peer_asn"] == 64512 and view["router_asn"] == 65000
        assert bgp["advertise_mode"] == "CUSTOM" and bgp["advertised_ip_ranges"] == ["35.199.192.0/19"]
        assert bgp["advertised_groups"] == ["ALL_SUBNETS"]
    return state


@pytest.mark.parametrize("count", [1, 2, 4])
def test_link_phase1_check_create_rerun_rotate_gathered_absent(lab, tmp_path, count):
    tunnels = aws_tunnels(count)
    counts = {}

    # phase 1: network, HA VPN gateway, router; the two IPs the AWS customer gateways need
    result, output, log = run_playbook(lab, tmp_path, BASE)
    assert result["changed"] is True
    assert writes_of(log) == {"compute.networks.insert": 1, "compute.vpnGateways.insert": 1, "compute.routers.insert": 1}
    ips = gateway_ips(result)
    assert [interface for interface, _ip in ips] == [0, 1] and all(ip for _id, ip in ips)
    assert result["tunnels"] == [] and result["external_vpn_gateway"] is None and result["router"]["asn"] == 65000
    counts["phase1"] = log["summary"]["requests"]

    # check mode: exactly what would change, zero writes
    phase2 = dict(BASE, aws_tunnels=tunnels, redundancy=count)
    result, output, log = run_playbook(lab, tmp_path, phase2, check=True)
    assert result["changed"] is True and log["summary"]["writes"] == 0
    assert len(result["actions"]) == count + 2
    assert [action.split(" ", 2)[:2] for action in result["actions"]] == (
        [["create", "external_vpn_gateway"]] + [["create", "vpn_tunnel"]] * count + [["patch", "router"]])
    assert [tunnel["shared_secret"] for tunnel in result["diff"]["after"]["tunnels"]] == ["********"] * count
    assert result["diff"]["before"]["tunnels"] == [] and result["tunnels"] == []
    assert_no_secret(output, tunnels)
    assert lab.state()["tunnels"] == []

    # create
    result, output, log = run_playbook(lab, tmp_path, phase2)
    assert result["changed"] is True
    assert writes_of(log) == {"compute.externalVpnGateways.insert": 1, "compute.vpnTunnels.insert": count, "compute.routers.patch": 1}
    assert gateway_ips(result) == ips
    assert result["external_vpn_gateway"]["redundancy_type"] == MISSION[count][0]
    for tunnel in result["tunnels"]:
        external_interface, ha_interface = MISSION[count][1][(tunnel["connection"], tunnel["aws_tunnel"])]
        assert (tunnel["ha_interface"], tunnel["external_interface"]) == (ha_interface, external_interface)
        # what the API reports before any data plane: handshaking, BGP down
        assert (tunnel["status"], tunnel["bgp_peer"]["status"], tunnel["bgp_peer"]["state"]) == ("FIRST_HANDSHAKE", "DOWN", "Idle")
    assert_no_secret(output, tunnels)
    created = check_link_in_state(lab, count, tunnels)
    counts["create"] = log["summary"]["requests"]

    # idempotent rerun: no change, no write
    result, output, log = run_playbook(lab, tmp_path, phase2)
    assert result["changed"] is False and result["actions"] == [] and log["summary"]["writes"] == 0
    counts["rerun"] = log["summary"]["requests"]

    # PSK rotation of the last tunnel: only that tunnel is replaced
    rotated = aws_tunnels(count)
    rotated[-1] = aws_tunnels(count, version="B")[-1]
    rotated_name = "%s-c%d-%s" % (LINK, rotated[-1]["connection"], rotated[-1]["aws_tunnel"])
    result, output, log = run_playbook(lab, tmp_path, dict(phase2, aws_tunnels=rotated))
    assert result["changed"] is True
    assert result["replaced"] == [{"kind": "vpn_tunnel", "name": rotated_name, "new_name": rotated_name, "reasons": ["pre-shared key"]}]
    writes = writes_of(log)
    router_writes = writes.pop("compute.routers.patch", 0) + writes.pop("compute.routers.update", 0)
    assert writes == {"compute.vpnTunnels.delete": 1, "compute.vpnTunnels.insert": 1} and router_writes == 2
    assert [entry["path"].rsplit("/", 1)[-1] for entry in log["entries"] if entry["operation"] == "compute.vpnTunnels.delete"] == [rotated_name]
    assert_no_secret(output, tunnels, rotated)
    after = check_link_in_state(lab, count, rotated)
    before_ids = {view["name"]: view["id"] for view in created["tunnels"]}
    after_ids = {view["name"]: view["id"] for view in after["tunnels"]}
    assert {name for name in before_ids if before_ids[name] != after_ids[name]} == {rotated_name}
    assert gateway_ips(result) == ips

    if count == 4:  # gathered and a second absent once: each playbook run costs seconds here
        check_gathered_reports_the_api(lab, tmp_path, result["tunnels"][0]["name"], counts)

    # absent: nothing of ours left (the network too: create_network=true and the link created it)
    result, output, log = run_playbook(lab, tmp_path, dict(BASE, link_state="absent"))
    assert result["changed"] is True
    assert lab.state()["projects"] == {}
    if count == 4:
        result, output, log = run_playbook(lab, tmp_path, dict(BASE, link_state="absent"))
        assert result["changed"] is False and log["summary"]["writes"] == 0
    print("gcp_ha_vpn_link %d tunnel(s), requests per run: %s" % (count, counts))


def check_gathered_reports_the_api(lab, tmp_path, first, counts):
    """gathered: read-only, reports what the API says (here after the data plane reported one tunnel up)."""
    lab.control("status", {"vpn_tunnels": {"%s/%s" % (REGION, first): {"status": "ESTABLISHED"}},
                           "routers": {"%s/%s-router" % (REGION, LINK): {"bgp_peers": {first + "-peer": {
                               "status": "UP", "learned_prefixes": ["10.10.0.0/16"], "uptime_seconds": 30}}}}})
    result, _output, log = run_playbook(lab, tmp_path, {"link_state": "gathered"})
    assert result["changed"] is False and log["summary"]["writes"] == 0 and "diff" not in result
    up = result["tunnels"][0]
    assert (up["status"], up["detailed_status"]) == ("ESTABLISHED", "Tunnel is up and running.")
    assert (up["bgp_peer"]["status"], up["bgp_peer"]["state"], up["bgp_peer"]["num_learned_routes"]) == ("UP", "Established", 1)
    assert up["bgp_peer"]["uptime_seconds"] >= 30
    assert all(tunnel["status"] == "FIRST_HANDSHAKE" for tunnel in result["tunnels"][1:])
    counts["gathered"] = log["summary"]["requests"]


def test_redundancy_two_to_four_keeps_the_ha_gateway(lab, tmp_path):
    two = aws_tunnels(2)
    four = aws_tunnels(4)
    # two tunnels, everything created in one run
    result, _output, log = run_playbook(lab, tmp_path, dict(BASE, aws_tunnels=two))
    assert result["changed"] is True and len(result["tunnels"]) == 2
    ips = gateway_ips(result)
    gateway_before = lab.project_state()["vpnGateways"]["%s/%s-gw" % (REGION, LINK)]
    old_external = result["external_vpn_gateway"]["name"]

    result, output, log = run_playbook(lab, tmp_path, dict(BASE, aws_tunnels=four))
    assert result["changed"] is True
    assert not [entry for entry in log["entries"] if entry["write"] and "vpnGateways" in entry["operation"]]
    assert gateway_ips(result) == ips
    assert lab.project_state()["vpnGateways"]["%s/%s-gw" % (REGION, LINK)] == gateway_before
    assert result["external_vpn_gateway"]["redundancy_type"] == "FOUR_IPS_REDUNDANCY" and result["external_vpn_gateway"]["name"] != old_external
    assert sorted((entry["kind"], entry["name"]) for entry in result["replaced"]) == [
        ("external_vpn_gateway", old_external), ("vpn_tunnel", LINK + "-c0-t1"), ("vpn_tunnel", LINK + "-c1-t1")]
    writes = writes_of(log)
    assert writes["compute.externalVpnGateways.insert"] == 1 and writes["compute.externalVpnGateways.delete"] == 1
    assert writes["compute.vpnTunnels.delete"] == 2 and writes["compute.vpnTunnels.insert"] == 4
    # the new external gateway exists before any tunnel uses it; the old one goes after the tunnels left it
    order = [entry["operation"] for entry in log["entries"] if entry["write"]]
    assert order.index("compute.externalVpnGateways.insert") < order.index("compute.vpnTunnels.insert")
    assert order.index("compute.externalVpnGateways.delete") > max(index for index, name in enumerate(order) if name == "compute.vpnTunnels.delete")
    assert list(lab.project_state()["externalVpnGateways"]) == [result["external_vpn_gateway"]["name"]]
    check_link_in_state(lab, 4, four)
    assert_no_secret(output, four)

    result, _output, log = run_playbook(lab, tmp_path, dict(BASE, aws_tunnels=four))
    assert result["changed"] is False and log["summary"]["writes"] == 0

    result, _output, log = run_playbook(lab, tmp_path, dict(BASE, link_state="absent"))
    assert result["changed"] is True and lab.state()["projects"] == {}

# Lab integration of multicloud.vpn.azure_active_active_link: ansible-playbook runs the module against the Azure stand-in.
# Internal to the multicloud.vpn test lab; not shipped in the collection.
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import urllib.request

import pytest
from werkzeug.serving import make_server

from ansible_collections.multicloud.vpn.plugins.module_utils._azure import network_client, wait_poller
from ansible_collections.multicloud.vpn.plugins.module_utils._ipsec import PROFILES, azure_ipsec_policy
from standins.azure import build_app

SUBSCRIPTION = "00000000-0000-4000-8000-0000000000b7"
GROUP = "rg-link"
LOCATION = "eastus"
LINK = "lab"
NO_DELAYS = {"virtualNetworks": 0, "publicIPAddresses": 0, "virtualNetworkGateways": 0, "localNetworkGateways": 0, "connections": 0,
             "retry_after": 0}
LAB_DIR = os.path.dirname(os.path.abspath(__file__))
PLAYBOOK = os.path.join(LAB_DIR, "playbooks", "azure_link_apply.yml")
COLLECTION_ROOT = os.path.dirname(os.path.dirname(LAB_DIR))
AWS_PREFIXES = ["10.10.0.0/16"]
STATIC_TUNNELS = [
    {"connection": 0, "aws_tunnel": "t1", "outside_ip": "198.51.100.11", "pre_shared_key": "Static.key_c0t1_A"},
    {"connection": 1, "aws_tunnel": "t1", "outside_ip": "198.51.100.21", "pre_shared_key": "Static.key_c1t1_A"},
]
BGP_TUNNELS = [
    {"connection": 0, "aws_tunnel": "t1", "outside_ip": "198.51.100.11", "pre_shared_key": "Bgp.key_c0t1_AAA", "inside_cidr": "169.254.21.0/30"},
    {"connection": 0, "aws_tunnel": "t2", "outside_ip": "198.51.100.12", "pre_shared_key": "Bgp.key_c0t2_AAA", "inside_cidr": "169.254.22.0/30"},
    {"connection": 1, "aws_tunnel": "t1", "outside_ip": "198.51.100.21", "pre_shared_key": "Bgp.key_c1t1_AAA", "inside_cidr": "169.254.21.4/30"},
    {"connection": 1, "aws_tunnel": "t2", "outside_ip": "198.51.100.22", "pre_shared_key": "Bgp.key_c1t2_AAA", "inside_cidr": "169.254.22.4/30"},
]
# FACTS.md, Microsoft's AWS BGP mapping: (AWS connection = Azure instance, AWS tunnel) -> (Azure APIPA, AWS peer).
MICROSOFT_MAPPING = {
    "c0-t1": ("169.254.21.2", "169.254.21.1"),
    "c0-t2": ("169.254.22.2", "169.254.22.1"),
    "c1-t1": ("169.254.21.6", "169.254.21.5"),
    "c1-t2": ("169.254.22.6", "169.254.22.5"),
}

logging.getLogger("werkzeug").setLevel(logging.ERROR)


class Lab:
    def __init__(self, app, url):
        self.app = app
        self.url = url

    def control(self, route, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + "/_lab/" + route, data=data, method="GET" if body is None else "POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def state(self):
        return self.control("state")

    def requests(self):
        return self.control("requests")


@pytest.fixture(scope="module")
def running_lab():
    app = build_app({"delays": NO_DELAYS, "resource_groups": [{"subscription_id": SUBSCRIPTION, "name": GROUP, "location": LOCATION}]})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Lab(app, "http://127.0.0.1:%d" % server.server_port)
    server.shutdown()


@pytest.fixture
def lab(running_lab):
    running_lab.control("reset", {})
    running_lab.control("config", {"delays": NO_DELAYS})
    return running_lab


def _collections_path():
    configured = os.environ.get("ANSIBLE_COLLECTIONS_PATH", "")
    # the collection itself: <root>/../../.. is the directory holding ansible_collections/multicloud/vpn
    parent = os.path.dirname(os.path.dirname(os.path.dirname(COLLECTION_ROOT)))
    if os.path.basename(os.path.dirname(os.path.dirname(COLLECTION_ROOT))) == "ansible_collections":
        configured = parent + os.pathsep + configured if configured else parent
    return configured


def run_playbook(lab, tmp_path, variables, *, check=False, diff=True):
    """ansible-playbook with the JSON callback -> (module result of the one task, raw stdout, request log of this run)."""
    lab.control("requests/clear", {})
    extra = {"azure_base_url": lab.url, "azure_subscription_id": SUBSCRIPTION, "link_name": LINK, "resource_group": GROUP}
    extra.update(variables)
    vars_file = tmp_path / "vars.json"
    vars_file.write_text(json.dumps(extra))
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_LOCALHOST_WARNING="False",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="False", ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_COLLECTIONS_PATH=_collections_path(), ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="False")
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
    return result, completed.stdout, lab.requests()


def writes_of(log):
    return [entry["operation"] for entry in log["entries"] if entry["write"]]


def ours(state, kind):
    return [item for item in state[kind] if item["name"].startswith(LINK + "-")]


def assert_no_secret(output, tunnels):
    for tunnel in tunnels:
        assert tunnel["pre_shared_key"] not in output


def make_vnet(lab, subnets):
    client = network_client({"base_url": lab.url, "subscription_id": SUBSCRIPTION}, environ={})
    body = {"location": LOCATION, "properties": {"addressSpace": {"addressPrefixes": ["10.20.0.0/16"]},
                                                 "subnets": [{"name": name, "properties": {"addressPrefix": prefix}} for name, prefix in subnets]}}
    wait_poller(client.virtual_networks.begin_create_or_update(GROUP, "vnet-hub", body), 30)


# -- static mode (seed 004): VNet created by the module -------------------------------------------
STATIC_VARS = {"link_mode": "static", "location": LOCATION, "aws_prefixes": AWS_PREFIXES, "aws_tunnels": STATIC_TUNNELS,
               "virtual_network": {"name": "vnet-link", "address_prefixes": ["10.30.0.0/16"], "gateway_subnet_prefix": "10.30.255.0/27"}}


def test_static_link_check_create_rerun_rotate_absent(lab, tmp_path):
    # check mode: exactly what would change, no write
    result, output, log = run_playbook(lab, tmp_path, STATIC_VARS, check=True)
    assert result["changed"] is True and not result.get("failed"), result.get("msg")
    assert writes_of(log) == []
    assert result["operations"] == [
        "create public_ip lab-pip-0", "create public_ip lab-pip-1", "create virtual_network vnet-link",
        "create local_network_gateway lab-lng-c0-t1", "create local_network_gateway lab-lng-c1-t1", "create gateway lab-gw",
        "create connection lab-conn-c0-t1", "create connection lab-conn-c1-t1"]
    assert result["diff"]["after"]["connections"]["lab-conn-c0-t1"]["shared_key"] == "********"
    assert result["gateway"]["exists"] is False and result["performed"] == []
    assert_no_secret(output, STATIC_TUNNELS)

    # create
    result, output, log = run_playbook(lab, tmp_path, STATIC_VARS)
    assert result["changed"] is True and not result.get("failed"), result.get("msg")
    assert_no_secret(output, STATIC_TUNNELS)
    create_requests = log["summary"]["requests"]
    state = lab.state()
    [gateway] = state["virtual_network_gateways"]
    assert (gateway["name"], gateway["sku"], gateway["active_active"], gateway["enable_bgp"], gateway["asn"]) == ("lab-gw", "VpnGw1AZ", True, False, 65515)
    assert [instance["custom_bgp_ips"] for instance in gateway["instances"]] == [[], []]
    public_ips = {item["name"]: item for item in state["public_ip_addresses"]}
    assert sorted(public_ips) == ["lab-pip-0", "lab-pip-1"] and {item["sku"] for item in public_ips.values()} == {"Standard"}
    assert [instance["public_ip"] for instance in gateway["instances"]] == result["gateway"]["public_ips"]
    assert result["gateway"]["public_ips"] == [public_ips["lab-pip-0"]["ip_address"], public_ips["lab-pip-1"]["ip_address"]]
    [vnet] = state["virtual_networks"]
    assert vnet["subnets"] == [{"name": "GatewaySubnet", "address_prefix": "10.30.255.0/27"}]
    lngs = {item["name"]: item for item in state["local_network_gateways"]}
    assert {name: (item["gateway_ip_address"], item["address_prefixes"], item["bgp"]) for name, item in lngs.items()} == {
        "lab-lng-c0-t1": ("198.51.100.11", AWS_PREFIXES, None), "lab-lng-c1-t1": ("198.51.100.21", AWS_PREFIXES, None)}
    connections = {item["name"]: item for item in state["connections"]}
    expected_policy = azure_ipsec_policy(PROFILES["gcp_safe"])
    for tunnel in STATIC_TUNNELS:
        connection = connections["lab-conn-c%d-t1" % tunnel["connection"]]
        assert connection["shared_key"] == tunnel["pre_shared_key"]
        assert (connection["connection_protocol"], connection["enable_bgp"], connection["ipsec_policies"]) == ("IKEv2", False, [expected_policy])
        assert connection["local_network_gateway_id"].endswith("/lab-lng-c%d-t1" % tunnel["connection"])
    assert [(item["name"], item["connection_status"], item["aws_outside_ip"]) for item in result["connections"]] == [
        ("lab-conn-c0-t1", "Connecting", "198.51.100.11"), ("lab-conn-c1-t1", "Connecting", "198.51.100.21")]

    # idempotent rerun: nothing changes, nothing is written, 4 lists + 2 shared key reads
    result, _output, log = run_playbook(lab, tmp_path, STATIC_VARS)
    assert result["changed"] is False and result["operations"] == [], result["operations"]
    assert writes_of(log) == [] and log["summary"]["requests"] == 6, log["summary"]
    assert create_requests > log["summary"]["requests"]

    # PSK rotation of one tunnel: only the shared key call
    rotated = [dict(tunnel) for tunnel in STATIC_TUNNELS]
    rotated[1]["pre_shared_key"] = "Static.key_c1t1_B"
    result, output, log = run_playbook(lab, tmp_path, dict(STATIC_VARS, aws_tunnels=rotated))
    assert result["changed"] is True and result["operations"] == ["set shared key of connection lab-conn-c1-t1"]
    assert writes_of(log) == ["Microsoft.Network/connections/sharedKey/write"]
    assert result["diff"]["after"]["connections"]["lab-conn-c1-t1"] == {"shared_key": "******** (changed)"}
    assert_no_secret(output, rotated)
    assert {item["name"]: item["shared_key"] for item in lab.state()["connections"]} == {
        "lab-conn-c0-t1": "Static.key_c0t1_A", "lab-conn-c1-t1": "Static.key_c1t1_B"}

    # absent, check mode first: nothing written
    absent = dict(STATIC_VARS, link_state="absent")
    result, _output, log = run_playbook(lab, tmp_path, absent, check=True)
    assert result["changed"] is True and writes_of(log) == []
    assert result["operations"][-1] == "delete virtual_network vnet-link: created by this link"

    result, _output, log = run_playbook(lab, tmp_path, absent)
    assert result["changed"] is True and not result.get("failed"), result.get("msg")
    state = lab.state()
    assert [(kind, state[kind]) for kind in ("virtual_networks", "public_ip_addresses", "virtual_network_gateways", "local_network_gateways",
                                             "connections") if state[kind]] == []
    result, _output, log = run_playbook(lab, tmp_path, absent)
    assert result["changed"] is False and writes_of(log) == []


# -- BGP mode: existing VNet without GatewaySubnet, phase 1 without waiting ---------------------------
BGP_VARS = {"link_mode": "bgp", "amazon_asn": 64512,
            "virtual_network": {"name": "vnet-hub", "gateway_subnet_prefix": "10.20.255.0/27"}}


def test_bgp_link_phase1_without_wait_then_four_tunnels(lab, tmp_path):
    make_vnet(lab, [("workload", "10.20.1.0/24")])
    lab.control("config", {"delays": {"virtualNetworkGateways": 8}})

    # phase 1: start the gateway, get the public IPs, do not wait
    result, _output, log = run_playbook(lab, tmp_path, dict(BGP_VARS, link_wait=False))
    assert result["changed"] is True and not result.get("failed"), result.get("msg")
    assert result["gateway"]["provisioning_state"] == "Updating" and None not in result["gateway"]["public_ips"]
    assert writes_of(log).count("Microsoft.Network/virtualNetworkGateways/write") == 1
    assert "Microsoft.Network/virtualNetworks/subnets/write" in writes_of(log)

    # phase 1 again while Azure is still building it: no second creation
    result, _output, log = run_playbook(lab, tmp_path, dict(BGP_VARS, link_wait=False))
    assert result["changed"] is False and writes_of(log) == []
    assert result["pending"] and "Updating" in result["pending"][0]

    # check mode with the tunnels: nothing written, the gateway is not waited for
    full = dict(BGP_VARS, aws_tunnels=BGP_TUNNELS)
    result, output, log = run_playbook(lab, tmp_path, full, check=True)
    assert writes_of(log) == [] and result["changed"] is True
    expected = ["create local_network_gateway lab-lng-c%s" % suffix for suffix in ("0-t1", "0-t2", "1-t1", "1-t2")]
    if result["gateway"]["provisioning_state"] == "Updating":  # connections wait for the gateway
        assert result["operations"] == expected and "Updating" in result["pending"][0]
    else:  # the machine was slow: the gateway is done already
        assert result["operations"] == expected + ["create connection lab-conn-c%s" % suffix for suffix in ("0-t1", "0-t2", "1-t1", "1-t2")]
    assert_no_secret(output, BGP_TUNNELS)

    # wait for the gateway, then the four local network gateways and connections; no gateway write
    result, output, log = run_playbook(lab, tmp_path, full)
    assert result["changed"] is True and not result.get("failed"), result.get("msg")
    assert "Microsoft.Network/virtualNetworkGateways/write" not in writes_of(log)
    assert result["gateway"]["provisioning_state"] == "Succeeded" and result["pending"] == []
    assert_no_secret(output, BGP_TUNNELS)
    create_requests = log["summary"]["requests"]
    state = lab.state()
    [gateway] = state["virtual_network_gateways"]
    assert (gateway["enable_bgp"], gateway["asn"], gateway["generation"]) == (True, 65515, "Generation1")
    assert [instance["custom_bgp_ips"] for instance in gateway["instances"]] == [["169.254.21.2", "169.254.22.2"], ["169.254.21.6", "169.254.22.6"]]
    instance_ids = [instance["ip_configuration_id"] for instance in gateway["instances"]]
    lngs = {item["name"]: item for item in state["local_network_gateways"]}
    connections = {item["name"]: item for item in state["connections"]}
    for tunnel in BGP_TUNNELS:
        suffix = "c%d-%s" % (tunnel["connection"], tunnel["aws_tunnel"])
        azure_apipa, aws_peer = MICROSOFT_MAPPING[suffix]
        lng = lngs["lab-lng-" + suffix]
        assert (lng["gateway_ip_address"], lng["bgp"], lng["address_prefixes"]) == (tunnel["outside_ip"], {"asn": 64512, "peering_address": aws_peer}, [])
        connection = connections["lab-conn-" + suffix]
        assert connection["enable_bgp"] is True and connection["shared_key"] == tunnel["pre_shared_key"]
        chosen = {entry["ipConfigurationId"]: entry["customBgpIpAddress"] for entry in connection["gateway_custom_bgp_ip_addresses"]}
        assert chosen[instance_ids[tunnel["connection"]]] == azure_apipa
        # the tunnel from the instance that is this AWS connection's customer gateway peers APIPA <-> AWS inside address
        [own] = [item for item in connection["tunnels"] if item["ip_configuration_id"] == instance_ids[tunnel["connection"]]]
        assert (own["azure_bgp_ip"], own["peer_bgp_ip"], own["peer_ip"], own["azure_public_ip"]) == (
            azure_apipa, aws_peer, tunnel["outside_ip"], result["gateway"]["public_ips"][tunnel["connection"]])
    assert {(item["aws_tunnel"], item["azure_apipa_ip"], item["aws_inside_ip"]) for item in result["connections"]} == {
        (suffix[-2:], apipa, peer) for suffix, (apipa, peer) in MICROSOFT_MAPPING.items()}

    # idempotent rerun: 4 lists + 4 shared key reads, no write
    result, _output, log = run_playbook(lab, tmp_path, full)
    assert result["changed"] is False and result["operations"] == [], result["operations"]
    assert writes_of(log) == [] and log["summary"]["requests"] == 8, log["summary"]
    assert create_requests > log["summary"]["requests"]

    # PSK rotation of one tunnel
    rotated = [dict(tunnel) for tunnel in BGP_TUNNELS]
    rotated[1]["pre_shared_key"] = "Bgp.key_c0t2_BBB"
    result, output, log = run_playbook(lab, tmp_path, dict(full, aws_tunnels=rotated))
    assert result["operations"] == ["set shared key of connection lab-conn-c0-t2"]
    assert writes_of(log) == ["Microsoft.Network/connections/sharedKey/write"]
    assert_no_secret(output, rotated)

    # gathered: statuses as the data plane reports them; reads plus the getBgpPeerStatus action
    lab.control("status", {"connections": {"%s/lab-conn-c0-t1" % GROUP: {"tunnels": [
        {"azure_public_ip": result["gateway"]["public_ips"][0], "connection_status": "Connected"}]}},
        "virtual_network_gateways": {"%s/lab-gw" % GROUP: {"bgp_peers": [
            {"neighbor": "169.254.21.1", "local_address": "169.254.21.2", "asn": 64512, "state": "Connected", "routes_received": 1}]}}})
    result, _output, log = run_playbook(lab, tmp_path, dict(BGP_VARS, link_state="gathered"))
    assert result["changed"] is False
    assert writes_of(log) == ["Microsoft.Network/virtualNetworkGateways/getBgpPeerStatus/action"]
    statuses = {item["name"]: item["connection_status"] for item in result["connections"]}
    assert statuses == {"lab-conn-c0-t1": "Connected", "lab-conn-c0-t2": "Connecting", "lab-conn-c1-t1": "Connecting", "lab-conn-c1-t2": "Connecting"}
    peers = {(peer["local_address"], peer["neighbor"]): peer["state"] for peer in result["gateway"]["bgp"]["peers"]}
    assert peers[("169.254.21.2", "169.254.21.1")] == "Connected" and peers[("169.254.22.6", "169.254.22.5")] == "Connecting"

    # absent: check mode, then for real; the GatewaySubnet it created goes, the VNet and its workload subnet stay
    absent = dict(BGP_VARS, link_state="absent")
    result, _output, log = run_playbook(lab, tmp_path, absent, check=True)
    assert writes_of(log) == [] and result["operations"][-1] == "delete subnet vnet-hub/GatewaySubnet: created by this link"
    lab.control("config", {"delays": {"virtualNetworkGateways": 0}})
    result, _output, log = run_playbook(lab, tmp_path, absent)
    assert result["changed"] is True and not result.get("failed"), result.get("msg")
    state = lab.state()
    assert [kind for kind in ("public_ip_addresses", "virtual_network_gateways", "local_network_gateways", "connections") if state[kind]] == []
    assert [(vnet["name"], vnet["subnets"]) for vnet in state["virtual_networks"]] == [("vnet-hub", [{"name": "workload", "address_prefix": "10.20.1.0/24"}])]


def test_existing_gateway_subnet_and_foreign_resources_are_left_alone(lab, tmp_path):
    make_vnet(lab, [("GatewaySubnet", "10.20.255.0/27")])
    client = network_client({"base_url": lab.url, "subscription_id": SUBSCRIPTION}, environ={})
    foreign = {"location": LOCATION, "properties": {"gatewayIpAddress": "203.0.113.9", "localNetworkAddressSpace": {"addressPrefixes": []}}}
    wait_poller(client.local_network_gateways.begin_create_or_update(GROUP, "someone-else", foreign), 30)
    variables = dict(STATIC_VARS, virtual_network={"name": "vnet-hub"})
    result, _output, log = run_playbook(lab, tmp_path, variables)
    assert result["changed"] is True and "Microsoft.Network/virtualNetworks/subnets/write" not in writes_of(log)
    result, _output, log = run_playbook(lab, tmp_path, dict(variables, link_state="absent"))
    assert result["changed"] is True and not result.get("failed"), result.get("msg")
    state = lab.state()
    assert [item["name"] for item in state["local_network_gateways"]] == ["someone-else"]
    assert [(vnet["name"], [subnet["name"] for subnet in vnet["subnets"]]) for vnet in state["virtual_networks"]] == [("vnet-hub", ["GatewaySubnet"])]
    assert state["virtual_network_gateways"] == [] and state["public_ip_addresses"] == [] and state["connections"] == []


def test_wrong_value_fails_naming_the_option_before_any_call(lab, tmp_path):
    tunnels = [dict(STATIC_TUNNELS[0]), dict(STATIC_TUNNELS[1], aws_tunnel="t2")]
    result, output, log = run_playbook(lab, tmp_path, dict(STATIC_VARS, aws_tunnels=tunnels))
    assert result["failed"] is True and result["msg"].startswith("aws_tunnels[1].aws_tunnel: static mode uses tunnel t1"), result["msg"]
    assert log["entries"] == []
    assert_no_secret(output, tunnels)

# Acceptance of the lab reconciler: state put into the stand-ins through the SDKs becomes a real data plane.
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""One lab per module (labctl.up: stand-ins + reconciler daemon, own ports and fabric name), driven only through
boto3 / google-cloud-compute / azure-mgmt-network (the collection's adapters) and read back the same way;
the fabric is only attached to look at SAs, BGP, pings and to force a rekey.

Run: cd /work/main && PYTHONPATH=/work/ac:tests/lab /tmp/venvtest/v/bin/python -m pytest tests/lab/test_reconciler.py -q
(root; skipped otherwise).
"""
from __future__ import annotations

import json
import os
import socket
import time

import pytest

import labctl
from dataplane import Fabric, cleanup_stale, links, prerequisites_missing
from dataplane import system
from reconciler import scenarios
from reconciler.scenarios import aws_telemetry, azure_bgp_peers, azure_connection_status, gcp_bgp_status, gcp_tunnel_status, wait_for

PREFIX = "mcvrt"
MISSING = prerequisites_missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")
CLOUDS = ["ec2", "gcp", "azure"]


def _free_ports(count: int) -> list:
    sockets = [socket.socket() for dummy in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class Lab:
    def __init__(self, state_dir: str, ports: dict, fabric_name: str):
        self.state_dir = state_dir
        self.fabric_name = fabric_name
        self.urls = {"aws": labctl.url_of(ports["ec2"]), "gcp": labctl.url_of(ports["gcp"]), "azure": labctl.url_of(ports["azure"])}
        self.clouds = scenarios.Clouds(self.urls)

    def fabric(self) -> Fabric:
        return Fabric.attach(self.fabric_name)

    def namespaces(self) -> list:
        return [ns for ns in system.list_namespaces() if ns.startswith(self.fabric_name + "-")]

    def reconciler_status(self) -> dict:
        with open(os.path.join(self.state_dir, labctl.RECONCILER_STATUS), encoding="utf-8") as handle:
            return json.load(handle)

    def reset(self) -> None:
        """Forget every cloud object; the reconciler must then destroy the fabric (an empty description)."""
        self.clouds.reset()
        wait_for(lambda: not self.namespaces() and not self.reconciler_status()["fabric_running"], 30)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    cleanup_stale(PREFIX)   # fabrics of crashed runs (their owner process is gone)
    state_dir = str(tmp_path_factory.mktemp("lab"))
    ports = dict(zip(CLOUDS, _free_ports(3)))
    config = os.path.join(state_dir, "config.json")
    topology = os.path.join(state_dir, "topology.json")
    with open(config, "w", encoding="utf-8") as handle:
        json.dump(scenarios.FAST_CONFIG, handle)
    with open(topology, "w", encoding="utf-8") as handle:
        json.dump(scenarios.TOPOLOGY, handle)
    fabric_name = "%s%d" % (PREFIX, os.getpid() % 100000)
    labctl.up(state_dir, ports, config, CLOUDS, topology=topology, fabric=fabric_name)
    running = Lab(state_dir, ports, fabric_name)
    try:
        yield running
    finally:
        labctl.down(state_dir, CLOUDS)


def _ids(fabric: Fabric) -> dict:
    """{outside_ip: endpoint id} of the running fabric."""
    return {ep["outside_ip"] + ">" + ep["remote_ip"]: ep["id"] for ep in fabric.spec["endpoints"]}


def _endpoint(fabric: Fabric, outside_ip: str, remote_ip: str) -> str:
    return _ids(fabric)[outside_ip + ">" + remote_ip]


def _all_up(lab: Lab, link: dict, routes: int = 1):
    """Stand-ins say the link is up: telemetry UP with the routes, GCP tunnels ESTABLISHED, BGP peers UP with the routes."""
    telemetry = aws_telemetry(lab.clouds.ec2, link["vpn_ids"])
    tunnels = gcp_tunnel_status(lab.clouds.gcp, [t["gcp"] for t in link["tunnels"]])
    peers = gcp_bgp_status(lab.clouds.gcp)
    ok = (all(telemetry[t["aws_ip"]][0] == "UP" and telemetry[t["aws_ip"]][2] == routes for t in link["tunnels"])
          and all(status == "ESTABLISHED" for status in tunnels.values())
          and all(peers.get(t["peer"]) == ("UP", routes) for t in link["tunnels"]))
    return ok and (telemetry, tunnels, peers)


def _fabric_healthy(lab: Lab):
    status = lab.fabric().status()
    return status["all_healthy"] and status


def _tolerant(check):
    """While the reconciler is applying a change an endpoint can be missing for a moment: that is 'not yet'."""
    def wrapped():
        try:
            return check()
        except KeyError:
            return False
    return wrapped


def _held(check, seconds: float, timeout: float = 30.0):
    """check() becomes true and stays true for `seconds` (a failure, not a transient)."""
    check = _tolerant(check)
    wait_for(check, timeout)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        assert value, "the failure did not hold"
        time.sleep(0.5)
    return value


# ------------------------------------------------------------------------------------------------ AWS <-> GCP
@pytest.fixture(scope="module")
def gcp_link(lab):
    started = time.monotonic()
    link = scenarios.build_aws_gcp(lab.clouds)
    built = time.monotonic() - started
    (telemetry, _tunnels, _peers), seconds = wait_for(lambda: _all_up(lab, link), 60)
    print("\nAWS<->GCP 4 tunnels: SDK calls %.1fs; from SDK state to all UP in the stand-ins %.1fs" % (built, seconds))
    link["telemetry"] = telemetry
    return link


def test_aws_gcp_four_tunnels_up_bgp_ping_and_reported(lab, gcp_link):
    for tunnel in gcp_link["tunnels"]:
        assert gcp_link["telemetry"][tunnel["aws_ip"]] == ("UP", "1 BGP ROUTES", 1)
    status, _seconds = wait_for(lambda: _fabric_healthy(lab), 20)
    fabric = lab.fabric()
    pairs = links(fabric.spec)
    assert len(status["endpoints"]) == 8
    for tunnel in gcp_link["tunnels"]:
        gcp_id = _endpoint(fabric, tunnel["ha_ip"], tunnel["aws_ip"])
        aws_id = _endpoint(fabric, tunnel["aws_ip"], tunnel["ha_ip"])
        assert pairs[gcp_id] == aws_id
        for endpoint_id, prefixes in ((gcp_id, ["10.0.0.0/16"]), (aws_id, ["10.10.0.0/16"])):
            entry = status["endpoints"][endpoint_id]
            assert entry["child_installed"] and entry["bgp"]["state"] == "Established", entry
            assert entry["bgp"]["prefixes"] == prefixes
    # the AWS side waits (StartupAction add), GCP initiates; PSKs and inside addresses are each side's own
    by_id = {ep["id"]: ep for ep in fabric.spec["endpoints"]}
    assert all(ep["start"] == ("wait" if ep["site"].startswith("aws-") else "initiate") for ep in by_id.values())
    for direction in (("gcp-probe", "aws-probe"), ("aws-probe", "gcp-probe")):
        ok, details = fabric.ping(*direction)
        assert ok and details["received"] >= 2, details
    assert lab.namespaces() and "%s-p-aws-probe" % lab.fabric_name in lab.namespaces()


def _by_name(link: dict, name: str) -> dict:
    return next(t for t in link["tunnels"] if t["gcp"] == name)


def test_mutations_through_the_sdks_fail_their_tunnels_then_repair(lab, gcp_link):
    """Four mutations at once, one per tunnel, each detected as that tunnel's failure; then repaired."""
    gcp, ec2 = lab.clouds.gcp, lab.clouds.ec2
    t0, t1, t2, t3 = (_by_name(gcp_link, name) for name in ("t0", "t1", "t2", "t3"))
    interfaces, peers = scenarios.gcp_router_lists(gcp)
    # t0: GCP tunnel created with a different secret than AWS's
    scenarios.gcp_recreate_tunnel(gcp, "t0", secret="not_the_aws_secret_0123")
    # t1: swapped inside addresses (the router interface takes the AWS address), t2: wrong peer ASN
    swapped_interfaces = [dict(i, ip_range="169.254.11.1/30") if i["name"] == "if-t1" else i for i in interfaces]
    mutated_peers = []
    for peer in peers:
        if peer["name"] == "peer-t1":
            peer = dict(peer, ip_address="169.254.11.1", peer_ip_address="169.254.11.2")
        elif peer["name"] == "peer-t2":
            peer = dict(peer, peer_asn=64513)
        mutated_peers.append(peer)
    scenarios.gcp_patch_router(gcp, swapped_interfaces, mutated_peers)
    # t3: the AWS tunnel modified to proposals GCP's cipher suite does not have
    scenarios.aws_modify(ec2, t3["vpn_id"], t3["aws_ip"], {
        "Phase1EncryptionAlgorithms": [{"Value": "AES128"}], "Phase1IntegrityAlgorithms": [{"Value": "SHA1"}],
        "Phase1DHGroupNumbers": [{"Value": 2}]})

    def broken():
        telemetry = aws_telemetry(ec2, gcp_link["vpn_ids"])
        tunnels = gcp_tunnel_status(gcp, ["t0", "t1", "t2", "t3"])
        bgp = gcp_bgp_status(gcp)
        fabric = lab.fabric()
        status = fabric.status()
        ep = {name: status["endpoints"][_endpoint(fabric, t["ha_ip"], t["aws_ip"])] for name, t in
              (("t0", t0), ("t1", t1), ("t2", t2), ("t3", t3))}
        aws_t3 = status["endpoints"][_endpoint(fabric, t3["aws_ip"], t3["ha_ip"])]
        checks = {
            "t0 secret": (telemetry[t0["aws_ip"]][:2] == ("DOWN", "IPSEC IS DOWN") and tunnels["t0"] == "AUTHORIZATION_ERROR"
                          and not ep["t0"]["child_installed"] and "AUTHENTICATION_FAILED" in ep["t0"]["errors"]),
            "t1 swapped": (telemetry[t1["aws_ip"]][:2] == ("DOWN", "IPSEC IS UP") and tunnels["t1"] == "ESTABLISHED"
                           and bgp["peer-t1"][0] == "DOWN" and ep["t1"]["child_installed"] and ep["t1"]["bgp"]["state"] != "Established"),
            "t2 asn": (telemetry[t2["aws_ip"]][:2] == ("DOWN", "IPSEC IS UP") and bgp["peer-t2"][0] == "DOWN"
                       and ep["t2"]["child_installed"] and ep["t2"]["bgp"]["state"] != "Established"),
            "t3 proposals": (telemetry[t3["aws_ip"]][0] == "DOWN" and tunnels["t3"] == "NEGOTIATION_FAILURE"
                             and not ep["t3"]["child_installed"]
                             and "NO_PROPOSAL_CHOSEN" in ep["t3"]["errors"] + aws_t3["errors"]),
        }
        return all(checks.values()) and checks

    _held(broken, 5.0)
    ok, details = lab.fabric().ping("gcp-probe", "aws-probe", count=2)
    assert not ok, "no tunnel is healthy: the probes must not reach each other (%s)" % details

    # repair through the SDKs: back up, reported, pinging
    scenarios.gcp_recreate_tunnel(gcp, "t0", secret=next(psk for _ip, _cidr, psk in _aws_psks(ec2, t0)))
    scenarios.gcp_patch_router(gcp, interfaces, peers)
    scenarios.aws_modify(ec2, t3["vpn_id"], t3["aws_ip"], {
        "Phase1EncryptionAlgorithms": [{"Value": "AES256"}], "Phase1IntegrityAlgorithms": [{"Value": "SHA2-256"}],
        "Phase1DHGroupNumbers": [{"Value": 14}]})
    _value, seconds = wait_for(lambda: _all_up(lab, gcp_link), 60)
    print("\nrepaired: all UP again %.1fs after the last SDK call" % seconds)
    wait_for(lambda: _fabric_healthy(lab), 20)
    ok, details = lab.fabric().ping("aws-probe", "gcp-probe")
    assert ok, details


def _aws_psks(ec2, tunnel: dict) -> list:
    connection = ec2.describe_vpn_connections(VpnConnectionIds=[tunnel["vpn_id"]])["VpnConnections"][0]
    return [item for item in scenarios.aws_tunnels(connection) if item[0] == tunnel["aws_ip"]]


def test_wrong_ha_interface_and_pfs_only_mismatch(lab, gcp_link):
    gcp, ec2 = lab.clouds.gcp, lab.clouds.ec2
    t0, t2, t3 = (_by_name(gcp_link, name) for name in ("t0", "t2", "t3"))
    secret = _aws_psks(ec2, t0)[0][2]
    # t0 on HA interface 1 instead of 0 (its external peer interface unchanged)
    scenarios.gcp_recreate_tunnel(gcp, "t0", secret=secret, vpn_gateway_interface=1)
    # PFS group only: AWS phase 2 now takes DH group 15 only, GCP's suite says Group-14
    scenarios.aws_modify(ec2, t3["vpn_id"], t3["aws_ip"], {"Phase2DHGroupNumbers": [{"Value": 15}]})

    def wrong_interface():
        fabric = lab.fabric()
        telemetry = aws_telemetry(ec2, gcp_link["vpn_ids"])
        gcp_id = _endpoint(fabric, gcp_link["ha_ips"][1], t0["aws_ip"])     # the tunnel now speaks from interface 1
        status = fabric.status()
        return (links(fabric.spec)[gcp_id] is None and not status["endpoints"][gcp_id]["child_installed"]
                and telemetry[t0["aws_ip"]][0] == "DOWN" and gcp_tunnel_status(gcp, ["t0"])["t0"] != "ESTABLISHED")

    _held(wrong_interface, 3.0)
    # the PFS mismatch does not show until a rekey: the first CHILD_SA carries no key exchange
    wait_for(lambda: aws_telemetry(ec2, gcp_link["vpn_ids"])[t3["aws_ip"]][0] == "UP", 30)
    fabric = lab.fabric()
    control = fabric.rekey(_endpoint(fabric, t2["ha_ip"], t2["aws_ip"]))
    assert control["ok"], control
    failed = fabric.rekey(_endpoint(fabric, t3["ha_ip"], t3["aws_ip"]))
    assert not failed["ok"] and "NO_PROPOSAL_CHOSEN" in failed["errors"], failed

    scenarios.gcp_recreate_tunnel(gcp, "t0", secret=secret, vpn_gateway_interface=0)
    scenarios.aws_modify(ec2, t3["vpn_id"], t3["aws_ip"], {"Phase2DHGroupNumbers": [{"Value": 14}]})
    wait_for(lambda: _all_up(lab, gcp_link), 60)
    wait_for(lambda: _fabric_healthy(lab), 20)
    fabric = lab.fabric()
    repaired = fabric.rekey(_endpoint(fabric, t3["ha_ip"], t3["aws_ip"]))
    assert repaired["ok"], repaired
    ok, details = fabric.ping("gcp-probe", "aws-probe")
    assert ok, details


# ---------------------------------------------------------------------------------------------- AWS <-> Azure
# (AWS inside address, Azure custom APIPA address) of Microsoft's documented mapping
AZURE_BGP_PAIRS = [("169.254.21.1", "169.254.21.2"), ("169.254.22.1", "169.254.22.2"), ("169.254.21.5", "169.254.21.6"),
                   ("169.254.22.5", "169.254.22.6")]


def test_aws_azure_bgp_four_tunnels(lab):
    lab.reset()   # after the GCP link: forgetting every object must take that fabric down first
    started = time.monotonic()
    link = scenarios.build_aws_azure_bgp(lab.clouds)
    built = time.monotonic() - started
    client = lab.clouds.azure

    def up():
        telemetry = aws_telemetry(lab.clouds.ec2, link["vpn_ids"])
        connections = azure_connection_status(client, [t["azure"] for t in link["tunnels"]])
        peers = azure_bgp_peers(client)
        ok = (all(telemetry[t["aws_ip"]] == ("UP", "1 BGP ROUTES", 1) for t in link["tunnels"])
              and all(state == "Connected" for state in connections.values())
              and all(peers.get(pair) == "Connected" for pair in AZURE_BGP_PAIRS))
        return ok and (telemetry, connections, peers)

    _value, seconds = wait_for(up, 60)
    print("\nAWS<->Azure BGP 4 tunnels: SDK calls %.1fs; from SDK state to all UP in the stand-ins %.1fs" % (built, seconds))
    fabric = lab.fabric()
    status, _seconds = wait_for(_tolerant(lambda: _fabric_healthy_subset(lab.fabric())), 20)
    paired = [eid for eid, peer in links(fabric.spec).items() if peer]
    assert len(paired) == 8, paired      # 4 AWS tunnels, each with the Azure instance holding its customer gateway IP
    azure_eps = [ep for ep in fabric.spec["endpoints"] if ep["site"].startswith("az-") and ep["id"] in paired]
    assert sorted(ep["inside_ip"] for ep in azure_eps) == ["169.254.21.2/32", "169.254.21.6/32", "169.254.22.2/32", "169.254.22.6/32"]
    for endpoint_id in paired:
        assert status["endpoints"][endpoint_id]["bgp"]["state"] == "Established"
    for direction in (("azure-probe", "aws-probe"), ("aws-probe", "azure-probe")):
        ok, details = fabric.ping(*direction)
        assert ok, details


def _fabric_healthy_subset(fabric: Fabric):
    """Every paired endpoint healthy (an active-active Azure gateway also has tunnels without an AWS half)."""
    status = fabric.status()
    pairs = links(fabric.spec)
    return all(status["endpoints"][eid]["healthy"] for eid, peer in pairs.items() if peer) and status


def test_aws_azure_static_two_tunnels(lab):
    lab.reset()
    started = time.monotonic()
    link = scenarios.build_aws_azure_static(lab.clouds)
    built = time.monotonic() - started
    client = lab.clouds.azure
    first_tunnels = {t["aws_ip"] for t in link["tunnels"]}

    def up():
        telemetry = aws_telemetry(lab.clouds.ec2, link["vpn_ids"])
        connections = azure_connection_status(client, [t["azure"] for t in link["tunnels"]])
        ok = (all(telemetry[ip] == ("UP", "", 0) for ip in first_tunnels)
              and all(value[0] == "DOWN" for ip, value in telemetry.items() if ip not in first_tunnels)
              and all(state == "Connected" for state in connections.values()))
        return ok and telemetry

    _telemetry, seconds = wait_for(up, 60)
    print("\nAWS<->Azure static 2 tunnels: SDK calls %.1fs; all UP in the stand-ins %.1fs after the last SDK call"
          % (built, seconds))
    fabric = lab.fabric()
    wait_for(_tolerant(lambda: _fabric_healthy_subset(lab.fabric())), 20)
    fabric = lab.fabric()
    static = [ep for ep in fabric.spec["endpoints"] if ep["routing"] == "static"]
    assert len(static) == len(fabric.spec["endpoints"])
    assert {tuple(ep["static_routes"]) for ep in static} == {("10.1.0.0/16",), ("10.0.0.0/16",)}
    for direction in (("azure-probe", "aws-probe"), ("aws-probe", "azure-probe")):
        ok, details = fabric.ping(*direction)
        assert ok, details


def test_logs_and_status_files_hold_no_pre_shared_key(lab):
    states = {cloud: scenarios.lab_request(url, "state") for cloud, url in lab.urls.items()}
    keys = [tunnel["pre_shared_key"] for connection in states["aws"]["vpn_connections"].values() for tunnel in connection["tunnels"]]
    keys += ["lab_psk_c1t1_0123456789", "not_the_aws_secret_0123"]      # the GCP link's keys, from before the resets
    assert len(keys) >= 6
    for name in ("reconciler.log", "reconciler.out", labctl.RECONCILER_STATUS):
        with open(os.path.join(lab.state_dir, name), encoding="utf-8") as handle:
            text = handle.read()
        assert not [key for key in keys if key in text], name


def test_down_stops_everything_and_leaves_nothing(lab):
    fabric = lab.fabric()
    records = list(fabric.processes().values())
    assert records
    record = labctl.reconciler_record(lab.state_dir)
    result = labctl.down(lab.state_dir, CLOUDS)
    assert result["reconciler"] and sorted(result["stand_ins"]) == sorted(CLOUDS)
    assert not lab.namespaces()
    assert not any(system.alive(r) for r in records)
    assert not labctl.reconciler_alive(record)
    assert not os.path.exists(os.path.join(fabric.root, lab.fabric_name))

"""playbooks/aws_gcp_ha.yml against the lab with the real data plane, for 1, 2 and 4 tunnels.

For each redundancy: converge (every tunnel UP in AWS, ESTABLISHED with BGP UP in GCP, pings
both ways; at -vvv no pre-shared key in the output), a second run with changed=0 and no write, --check --diff with changed=0 and no
write, then the teardown leaves no object of ours in the stand-ins and no tunnel in the fabric.
"""
from __future__ import annotations

import time

import boto3
import pytest
from labtools import LabSession, data_plane_missing, live_objects

pytestmark = pytest.mark.skipif(data_plane_missing() is not None, reason=str(data_plane_missing()))

PLAYBOOK = "playbooks/aws_gcp_ha.yml"
TEARDOWN = "playbooks/aws_gcp_ha_teardown.yml"


@pytest.fixture(scope="module")
def lab():
    with LabSession("mcvpt", (18480, 18481, 18482), data_plane=True) as session:
        yield session


def assert_ok(run):
    assert run.returncode == 0, run.output[-6000:]


def ec2_client(lab):
    env = lab.environment
    return boto3.client("ec2", region_name=env["AWS_REGION"], endpoint_url=env["AWS_ENDPOINT_URL_EC2"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


def telemetry(ec2) -> dict:
    connections = ec2.describe_vpn_connections(Filters=[{"Name": "state", "Values": ["available", "modifying"]}])["VpnConnections"]
    return {item["OutsideIpAddress"]: item["Status"] for connection in connections for item in connection["VgwTelemetry"]}


def wait_for(predicate, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(1)
    return False


def drift_is_repaired_and_tunnels_come_back(lab, extra):
    """Behind the playbook's back: one tunnel widened to AWS's default proposals, another given a new
    PSK on AWS only (its GCP side keeps the old one: that tunnel goes DOWN in the data plane). The next
    run narrows the first back to the GCP-safe profile and, AWS keeping the keys, re-creates the GCP
    tunnel with the new one: every tunnel comes back UP with BGP, as both APIs report."""
    ec2 = ec2_client(lab)
    connections = sorted(live_objects(lab.state("ec2")["vpn_connections"]), key=lambda item: item["customer_gateway_ip"])
    widened = connections[0]["tunnels"][1]["outside_ip"]
    rekeyed = connections[1]["tunnels"][0]["outside_ip"]
    ids = {tunnel["outside_ip"]: connection_id for connection_id, connection in lab.state("ec2")["vpn_connections"].items()
           if connection["state"] == "available" for tunnel in connection["tunnels"]}
    ec2.modify_vpn_tunnel_options(VpnConnectionId=ids[widened], VpnTunnelOutsideIpAddress=widened, TunnelOptions={
        "Phase1EncryptionAlgorithms": [{"Value": value} for value in ("AES128", "AES256", "AES128-GCM-16", "AES256-GCM-16")],
        "Phase2EncryptionAlgorithms": [{"Value": value} for value in ("AES128", "AES256", "AES128-GCM-16", "AES256-GCM-16")]})
    assert wait_for(lambda: ec2.describe_vpn_connections(VpnConnectionIds=[ids[widened]])["VpnConnections"][0]["State"] == "available")
    ec2.modify_vpn_tunnel_options(VpnConnectionId=ids[rekeyed], VpnTunnelOutsideIpAddress=rekeyed,
                                  TunnelOptions={"PreSharedKey": "drifted.key_0123456789"})
    assert wait_for(lambda: telemetry(ec2).get(rekeyed) == "DOWN"), "a tunnel with a PSK only AWS knows stayed UP"
    repaired = lab.playbook(PLAYBOOK, extra_vars=extra)
    assert_ok(repaired)
    assert repaired.changed() > 0
    lines = [line for line in repaired.lines_after("Report per tunnel", 8) if "inside 169.254." in line]
    assert len(lines) == 4 and all(line.rstrip('",').endswith("-> UP") for line in lines), lines
    options = {tunnel["outside_ip"]: tunnel["options"] for connection in live_objects(lab.state("ec2")["vpn_connections"])
               for tunnel in connection["tunnels"]}
    assert options[widened]["Phase1EncryptionAlgorithms"] == ["AES256"], options[widened]
    assert "drifted.key_0123456789" not in repaired.output


@pytest.mark.parametrize("tunnels", [4, 2, 1])
def test_converge_rerun_check_teardown(lab, tunnels):
    extra = {"mcvpn_tunnels": tunnels}
    first = lab.playbook(PLAYBOOK, extra_vars=extra, verbosity=3)
    assert_ok(first)
    keys = [tunnel["pre_shared_key"] for connection in live_objects(lab.state("ec2")["vpn_connections"])
            for tunnel in connection["tunnels"]]
    assert keys and all(len(key) >= 8 for key in keys)
    assert [key for key in keys if key in first.output] == [], "a pre-shared key appears in the -vvv output"
    report = first.lines_after("Report per tunnel", 3 + tunnels)
    tunnel_lines = [line for line in report if "inside 169.254." in line]
    assert len(tunnel_lines) == tunnels, report
    assert all(line.rstrip('",').endswith("-> UP") for line in tunnel_lines), report
    assert first.output.count("Ping the probes of the other side") == 1
    assert "aws-probe -> gcp-probe: rtt" in first.output and "gcp-probe -> aws-probe: rtt" in first.output
    assert first.recap["aws-probe"]["failed"] == 0 and first.recap["gcp-probe"]["failed"] == 0

    lab.clear_requests()
    second = lab.playbook(PLAYBOOK, extra_vars=extra)
    assert_ok(second)
    assert second.changed() == 0, second.output[-4000:]
    assert {cloud: counts["writes"] for cloud, counts in lab.requests().items()} == {"ec2": 0, "gcp": 0, "azure": 0}

    lab.clear_requests()
    check = lab.playbook(PLAYBOOK, extra_vars=extra, check=True)
    assert_ok(check)
    assert check.changed() == 0, check.output[-4000:]
    assert {cloud: counts["writes"] for cloud, counts in lab.requests().items()} == {"ec2": 0, "gcp": 0, "azure": 0}

    if tunnels == 4:
        drift_is_repaired_and_tunnels_come_back(lab, extra)

    teardown = lab.playbook(TEARDOWN, extra_vars=extra)
    assert_ok(teardown)
    ec2 = lab.state("ec2")
    for kind in ("vpn_connections", "customer_gateways", "vpn_gateways"):
        assert live_objects(ec2[kind]) == [], kind
    assert [vpc_id for vpc_id, vpc in ec2["vpcs"].items() if "10.0.0.0/16" in vpc["cidr_blocks"]] == []
    project = lab.state("gcp")["projects"].get("lab-project", {})
    for kind in ("vpnTunnels", "externalVpnGateways", "vpnGateways", "routers", "networks"):
        assert not project.get(kind), (kind, list(project.get(kind, {})))
    assert "fabric: none" in lab.fabric_status()

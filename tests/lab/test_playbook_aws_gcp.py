"""playbooks/aws_gcp_ha.yml against the lab with the real data plane, for 1, 2 and 4 tunnels.

For each redundancy: converge (every tunnel UP in AWS, ESTABLISHED with BGP UP in GCP, pings
both ways; at -vvv no pre-shared key in the output), a second run with changed=0 and no write, --check --diff with changed=0 and no
write, then the teardown leaves no object of ours in the stand-ins and no tunnel in the fabric.
"""
from __future__ import annotations

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

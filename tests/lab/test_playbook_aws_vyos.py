"""playbooks/aws_interregion_vyos.yml against the lab with the real data plane (scenario 3, seed 003).

Converge: both AWS tunnels UP (telemetry), BGP Established on the "VyOS" router (the lab runs the generated
commands through its VyOS interpreter, behind a 1:1 NAT for the Elastic IP), pings between the two regions'
probes both ways; the instance, Elastic IP, security group and region B route are what the scenario needs.
Then a rerun with changed=0 and no write, --check --diff with changed=0 and no write; then the NAT fix is
shown to matter: the same connection rendered without it (no local-id; local-address = the Elastic IP) never
comes up; the teardown leaves nothing of ours in the stand-in and no tunnel in the fabric.

The fabric is always named "lab": do not run this while another lab test runs (ip netns list | grep '^lab-').
Run: cd /work/main && PYTHONPATH=/work/ac /tmp/venvtest/v/bin/python -m pytest tests/lab/test_playbook_aws_vyos.py -q
"""
from __future__ import annotations

import os
import time

import boto3
import pytest
from labtools import LabSession, data_plane_missing, live_objects

from ansible_collections.multicloud.vpn.plugins.module_utils._aws_config import parse_vpn_connection
from ansible_collections.multicloud.vpn.plugins.module_utils._vyos import render_vyos_commands

pytestmark = pytest.mark.skipif(data_plane_missing() is not None, reason=str(data_plane_missing()))

PLAYBOOK = "playbooks/aws_interregion_vyos.yml"
TEARDOWN = "playbooks/aws_interregion_vyos_teardown.yml"
REGION_A, REGION_B = "us-west-2", "ap-northeast-1"      # inventories/lab/group_vars/all/vyos.yml
CIDR_A, CIDR_B = "10.0.0.0/16", "10.20.0.0/16"
WRITES_NONE = {"ec2": 0, "gcp": 0, "azure": 0}


@pytest.fixture(scope="module")
def lab():
    with LabSession("mcvpv", (18580, 18581, 18582), data_plane=True) as session:
        # The lab inventory finds the commands file under $MCVPN_LAB_DIR (tests/lab/demo's state dir by default);
        # amazon.aws.ec2_security_group asks STS for the account: the EC2 stand-in answers GetCallerIdentity.
        saved = {name: os.environ.get(name) for name in ("MCVPN_LAB_DIR", "AWS_ENDPOINT_URL_STS")}
        os.environ["MCVPN_LAB_DIR"] = session.state_dir
        os.environ["AWS_ENDPOINT_URL_STS"] = session.environment["AWS_ENDPOINT_URL_EC2"]
        try:
            yield session
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def ec2(lab, region):
    env = lab.environment
    return boto3.client("ec2", endpoint_url=env["AWS_ENDPOINT_URL_EC2"], region_name=region,
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


def assert_ok(run):
    assert run.returncode == 0, run.output[-6000:]


def telemetry(client, vpn_id):
    connection = client.describe_vpn_connections(VpnConnectionIds=[vpn_id])["VpnConnections"][0]
    return [item["Status"] for item in sorted(connection.get("VgwTelemetry", []), key=lambda item: item["OutsideIpAddress"])]


def write_commands(path, commands):
    descriptor = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write("\n".join(commands) + "\n")
    os.replace(path + ".tmp", path)


def test_converge_rerun_check_nat_fix_teardown(lab):
    first = lab.playbook(PLAYBOOK)
    assert_ok(first)
    report = [line for line in first.lines_after("Report per tunnel", 5) if "inside 169.254.30." in line]
    assert len(report) == 2, first.output[-4000:]
    assert all("AWS UP" in line and "VyOS IPsec up, BGP Established (1 prefixes)" in line and line.rstrip('",').endswith("-> UP")
               for line in report), report
    assert "aws-probe -> vyos-probe: rtt" in first.output and "vyos-probe -> aws-probe: rtt" in first.output
    assert first.recap["aws-probe"]["failed"] == 0 and first.recap["vyos-probe"]["failed"] == 0

    # what the scenario asks of region B, read back from the stand-in
    region_b = ec2(lab, REGION_B)
    running = [{"Name": "tag:Name", "Values": ["demo-vyos"]}, {"Name": "instance-state-name", "Values": ["running"]}]
    instance = [i for r in region_b.describe_instances(Filters=running)["Reservations"] for i in r["Instances"]]
    assert len(instance) == 1
    instance = instance[0]
    assert instance["SourceDestCheck"] is False    # (moto keeps the instance attribute apart from its ENI's)
    address = region_b.describe_addresses(Filters=[{"Name": "instance-id", "Values": [instance["InstanceId"]]}])["Addresses"]
    assert len(address) == 1 and address[0]["PrivateIpAddress"] == instance["PrivateIpAddress"]
    eip, private_ip = address[0]["PublicIp"], instance["PrivateIpAddress"]
    region_a = ec2(lab, REGION_A)
    connection = region_a.describe_vpn_connections(Filters=[{"Name": "state", "Values": ["available"]}])["VpnConnections"]
    assert len(connection) == 1
    connection = connection[0]
    gateway = region_a.describe_customer_gateways(CustomerGatewayIds=[connection["CustomerGatewayId"]])["CustomerGateways"][0]
    assert (gateway["IpAddress"], gateway["BgpAsn"]) == (eip, "65010")
    outside = sorted("%s/32" % tunnel["OutsideIpAddress"] for tunnel in connection["Options"]["TunnelOptions"])
    group = region_b.describe_security_groups(GroupIds=[g["GroupId"] for g in instance["SecurityGroups"]])["SecurityGroups"][0]
    rules = sorted((p["IpProtocol"], p.get("FromPort"), tuple(sorted(r["CidrIp"] for r in p["IpRanges"]))) for p in group["IpPermissions"])
    assert rules == [("50", None, tuple(outside)), ("udp", 500, tuple(outside)), ("udp", 4500, tuple(outside))]
    routes = [route for table in region_b.describe_route_tables(Filters=[{"Name": "tag:Name", "Values": ["demo-b-rt"]}])["RouteTables"]
              for route in table["Routes"]]
    assert {"DestinationCidrBlock": CIDR_A, "InstanceId": instance["InstanceId"]}.items() <= next(
        route for route in routes if route.get("DestinationCidrBlock") == CIDR_A).items()
    commands_file = os.path.join(lab.state_dir, "vyos", "demo.commands")
    assert os.stat(commands_file).st_mode & 0o777 == 0o600
    fixed = open(commands_file, encoding="utf-8").read()
    assert "local-address '%s'" % private_ip in fixed and "local-id '%s'" % eip in fixed

    lab.clear_requests()
    second = lab.playbook(PLAYBOOK)
    assert_ok(second)
    assert second.changed() == 0, second.output[-4000:]
    assert {cloud: counts["writes"] for cloud, counts in lab.requests().items()} == WRITES_NONE

    lab.clear_requests()
    check = lab.playbook(PLAYBOOK, check=True)
    assert_ok(check)
    assert check.changed() == 0, check.output[-4000:]
    assert {cloud: counts["writes"] for cloud, counts in lab.requests().items()} == WRITES_NONE

    # The NAT fix matters: the same connection rendered as AWS's sample would have it never comes up.
    described = region_a.describe_vpn_connections(VpnConnectionIds=[connection["VpnConnectionId"]])["VpnConnections"][0]
    parsed = parse_vpn_connection(vpn_connection=described)
    variants = {
        # seed 003's hand edit: local-address = the private IP, but no local id (AWS's sample has none)
        "no local-id": [command for command in fixed.splitlines() if "local-id" not in command],
        # AWS's sample as downloaded: local-address = the Elastic IP
        "local-address = Elastic IP": render_vyos_commands(parsed, local_address=eip, public_address=eip, bgp_asn=65010, networks=[CIDR_B]),
    }
    assert len(variants["no local-id"]) == len(fixed.splitlines()) - 2
    for label, commands in variants.items():
        assert not any("local-id" in command for command in commands), label
        write_commands(commands_file, commands)
        deadline = time.monotonic() + 40
        while telemetry(region_a, connection["VpnConnectionId"]) != ["DOWN", "DOWN"]:
            assert time.monotonic() < deadline, "%s: the tunnels did not go down" % label
            time.sleep(1)
        for _second in range(20):        # the initiator retries every few seconds: it must never come up
            assert telemetry(region_a, connection["VpnConnectionId"]) == ["DOWN", "DOWN"], label
            time.sleep(1)
    write_commands(commands_file, fixed.splitlines())
    deadline = time.monotonic() + 60
    while telemetry(region_a, connection["VpnConnectionId"]) != ["UP", "UP"]:
        assert time.monotonic() < deadline, "the fixed commands did not bring the tunnels back"
        time.sleep(1)

    teardown = lab.playbook(TEARDOWN)
    assert_ok(teardown)
    ec2_state = lab.state("ec2")
    for kind in ("vpn_connections", "customer_gateways", "vpn_gateways"):
        assert live_objects(ec2_state[kind]) == [], kind
    assert [vpc_id for vpc_id, vpc in ec2_state["vpcs"].items() if {CIDR_A, CIDR_B} & set(vpc["cidr_blocks"])] == []
    assert ec2_state["addresses"] == {}
    assert [i for r in region_b.describe_instances()["Reservations"] for i in r["Instances"] if i["State"]["Name"] != "terminated"] == []
    assert [g for g in region_b.describe_security_groups()["SecurityGroups"] if g["GroupName"] != "default"] == []
    assert not os.path.exists(commands_file)
    deadline = time.monotonic() + 20
    while "fabric: none" not in lab.fabric_status():
        assert time.monotonic() < deadline, lab.fabric_status()
        time.sleep(1)

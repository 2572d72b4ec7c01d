# Contract tests of the EC2 (Site-to-Site VPN) stand-in, driven through boto3 only.
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""One test per behaviour issue 3 names for EC2. Clients come from the collection's adapter
(plugins/module_utils/_aws.py), so the adapter is exercised against the stand-in too."""
from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from xml.etree import ElementTree

import pytest
from werkzeug.serving import make_server

from ansible_collections.multicloud.vpn.plugins.module_utils._aws import (AwsError, call, ec2_client,
                                                                          wait_vpn_connection_available)
from standins.ec2 import build_app

TEST_DELAYS = {"vpn_connection": 0.05, "vpn_modify": 0.3, "vpn_gateway": 0.05, "vpn_gateway_attachment": 0.02, "vpn_route": 0.02}
RESERVED = ["169.254.0.0/30", "169.254.1.0/30", "169.254.2.0/30", "169.254.3.0/30", "169.254.4.0/30", "169.254.5.0/30",
            "169.254.169.252/30"]
PSK_PATTERN = re.compile(r"^[A-Za-z0-9._]{8,64}$")


@pytest.fixture(scope="module")
def server():
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = build_app({"delays": TEST_DELAYS, "seed": 7})
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % httpd.server_port
    httpd.shutdown()


def lab(base_url: str, method: str, route: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else (b"{}" if method == "POST" else None)
    request = urllib.request.Request(base_url + "/_lab/" + route, data=data, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def raw_post(base_url: str, form: dict) -> tuple[int, str]:
    request = urllib.request.Request(base_url + "/", data=urllib.parse.urlencode(form).encode(), method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def url(server):
    lab(server, "POST", "reset")
    lab(server, "POST", "config", {"faults": {"rate": 0.0}, "delays": TEST_DELAYS})
    return server


def make_client(base_url: str, region: str = "eu-west-1", max_attempts: int = 3):
    return ec2_client({"region": region, "access_key": "AKIAIOSFODNN7EXAMPLE", "secret_key": "lab-secret", "endpoint_url": base_url,
                       "aws_config": {"retries": {"mode": "standard", "total_max_attempts": max_attempts}}})


@pytest.fixture(scope="module")
def module_client(server):
    return make_client(server)  # building a client loads botocore's EC2 model: once per module


@pytest.fixture
def ec2(url, module_client):
    return module_client


def customer_gateway(ec2, ip: str = "192.0.2.10", asn: int = 65010, **extra) -> str:
    return ec2.create_customer_gateway(Type="ipsec.1", IpAddress=ip, BgpAsn=asn, **extra)["CustomerGateway"]["CustomerGatewayId"]


def vpn_gateway(ec2, **extra) -> dict:
    return ec2.create_vpn_gateway(Type="ipsec.1", **extra)["VpnGateway"]


def vpn_connection(ec2, cgw_id: str, vgw_id: str, options: dict | None = None, wait: bool = True) -> dict:
    created = ec2.create_vpn_connection(Type="ipsec.1", CustomerGatewayId=cgw_id, VpnGatewayId=vgw_id, Options=options or {})["VpnConnection"]
    if wait:
        return wait_vpn_connection_available(ec2, created["VpnConnectionId"], timeout=5, sleep=0.02)
    return created


@pytest.fixture
def connection(ec2):
    """A BGP connection: tunnel 1 with given options, tunnel 2 left to AWS's choices."""
    cgw_id = customer_gateway(ec2)
    vgw = vpn_gateway(ec2, AmazonSideAsn=64600)
    options = {"TunnelOptions": [{"TunnelInsideCidr": "169.254.10.0/30", "PreSharedKey": "tunnel_one.key",
                                  "Phase1EncryptionAlgorithms": [{"Value": "AES256"}], "IKEVersions": [{"Value": "ikev2"}],
                                  "DPDTimeoutSeconds": 45, "StartupAction": "start"}]}
    return vpn_connection(ec2, cgw_id, vgw["VpnGatewayId"], options)


def describe(ec2, vpn_id: str) -> dict:
    return ec2.describe_vpn_connections(VpnConnectionIds=[vpn_id])["VpnConnections"][0]


def tunnels_by_ip(connection: dict) -> dict:
    return {tunnel["OutsideIpAddress"]: tunnel for tunnel in connection["Options"]["TunnelOptions"]}


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def eventually(read, expected, timeout: float = 5.0):
    """Poll ``read()`` until it returns ``expected`` (the stand-in's delays are timers, the machine may be busy)."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if value == expected or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


# -- VPN connections: options, addresses, keys ------------------------------------------------------------------------

def test_create_honours_tunnel_options_and_returns_them_per_tunnel(connection):
    first, second = connection["Options"]["TunnelOptions"]
    assert first["TunnelInsideCidr"] == "169.254.10.0/30"
    assert first["PreSharedKey"] == "tunnel_one.key"
    assert first["Phase1EncryptionAlgorithms"] == [{"Value": "AES256"}]
    assert first["IkeVersions"] == [{"Value": "ikev2"}]
    assert first["DpdTimeoutSeconds"] == 45 and first["StartupAction"] == "start"
    assert "Phase1EncryptionAlgorithms" not in second  # unset options are not returned, as on AWS
    assert connection["Options"]["StaticRoutesOnly"] is False
    assert connection["Options"]["TunnelInsideIpVersion"] == "ipv4"
    assert connection["Category"] == "VPN"


def test_unset_tunnel_gets_a_random_free_inside_cidr_and_a_valid_psk(ec2):
    cgw_id, vgw_id = customer_gateway(ec2), vpn_gateway(ec2)["VpnGatewayId"]
    cidrs, keys = [], []
    for dummy in range(6):
        created = vpn_connection(ec2, cgw_id, vgw_id, wait=False)
        for tunnel in created["Options"]["TunnelOptions"]:
            network = ipaddress.ip_network(tunnel["TunnelInsideCidr"])
            assert network.prefixlen == 30 and network.subnet_of(ipaddress.ip_network("169.254.0.0/16"))
            assert tunnel["TunnelInsideCidr"] not in RESERVED
            assert PSK_PATTERN.match(tunnel["PreSharedKey"]) and not tunnel["PreSharedKey"].startswith("0")
            cidrs.append(tunnel["TunnelInsideCidr"])
            keys.append(tunnel["PreSharedKey"])
    assert len(set(cidrs)) == len(cidrs), "inside CIDRs must be unique per VPN gateway"
    assert len(set(keys)) == len(keys)


def test_outside_ips_are_distinct_documentation_addresses_stable_for_the_connections_life(ec2):
    cgw_id, vgw_id = customer_gateway(ec2), vpn_gateway(ec2)["VpnGatewayId"]
    first = vpn_connection(ec2, cgw_id, vgw_id)
    second = vpn_connection(ec2, customer_gateway(ec2, ip="192.0.2.11"), vgw_id)
    addresses = [ip for conn in (first, second) for ip in tunnels_by_ip(conn)]
    assert len(set(addresses)) == 4
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network("203.0.113.0/24") for ip in addresses)
    ip = first["Options"]["TunnelOptions"][0]["OutsideIpAddress"]
    ec2.modify_vpn_tunnel_options(VpnConnectionId=first["VpnConnectionId"], VpnTunnelOutsideIpAddress=ip,
                                  TunnelOptions={"Phase2LifetimeSeconds": 1800})
    again = wait_vpn_connection_available(ec2, first["VpnConnectionId"], timeout=5, sleep=0.05)
    assert set(tunnels_by_ip(again)) == set(tunnels_by_ip(first))
    assert {t["OutsideIpAddress"] for t in again["VgwTelemetry"]} == set(tunnels_by_ip(first))


def test_inside_cidr_used_on_the_same_gateway_is_refused(ec2):
    vgw_id = vpn_gateway(ec2)["VpnGatewayId"]
    options = {"TunnelOptions": [{"TunnelInsideCidr": "169.254.20.0/30"}]}
    vpn_connection(ec2, customer_gateway(ec2), vgw_id, options)
    with pytest.raises(ec2.exceptions.ClientError) as excinfo:
        vpn_connection(ec2, customer_gateway(ec2, ip="192.0.2.12"), vgw_id, options)
    assert error_code(excinfo) == "InvalidParameterValue"
    other_vgw = vpn_gateway(ec2)["VpnGatewayId"]
    vpn_connection(ec2, customer_gateway(ec2, ip="192.0.2.12"), other_vgw, options)  # another gateway: fine


@pytest.mark.parametrize("cidr", RESERVED + ["169.254.10.0/29", "169.254.10.1/30", "10.0.0.0/30", "not-a-cidr"])
def test_reserved_or_malformed_inside_cidr_is_refused(ec2, cidr):
    with pytest.raises(ec2.exceptions.ClientError) as excinfo:
        vpn_connection(ec2, customer_gateway(ec2), vpn_gateway(ec2)["VpnGatewayId"], {"TunnelOptions": [{"TunnelInsideCidr": cidr}]})
    assert error_code(excinfo) == "InvalidParameterValue"


@pytest.mark.parametrize("key", ["short", "0starts_with_zero", "has-dash-in-it", "x" * 65, "spaces are bad"])
def test_invalid_pre_shared_key_is_refused(ec2, key):
    with pytest.raises(ec2.exceptions.ClientError) as excinfo:
        vpn_connection(ec2, customer_gateway(ec2), vpn_gateway(ec2)["VpnGatewayId"], {"TunnelOptions": [{"PreSharedKey": key}]})
    assert error_code(excinfo) == "InvalidParameterValue"
    assert key not in str(excinfo.value)


def test_more_than_two_tunnel_specifications_are_refused(ec2):
    with pytest.raises(ec2.exceptions.ClientError) as excinfo:
        vpn_connection(ec2, customer_gateway(ec2), vpn_gateway(ec2)["VpnGatewayId"], {"TunnelOptions": [{"StartupAction": "add"}] * 3})
    assert error_code(excinfo) == "InvalidParameterValue"


def test_vgw_telemetry_reads_down_until_the_data_plane_reports(url, ec2, connection):
    vpn_id = connection["VpnConnectionId"]
    assert [(t["Status"], t["StatusMessage"], t["AcceptedRouteCount"]) for t in connection["VgwTelemetry"]] == [("DOWN", "IPSEC IS DOWN", 0)] * 2
    up_ip = connection["Options"]["TunnelOptions"][1]["OutsideIpAddress"]
    before = {t["OutsideIpAddress"]: t for t in connection["VgwTelemetry"]}
    time.sleep(1.1)  # LastStatusChange has a one-second resolution
    lab(url, "POST", "status", {"vpn_connections": {vpn_id: {"tunnels": {up_ip: {"status": "UP", "accepted_route_count": 2}}}}})
    telemetry = {t["OutsideIpAddress"]: t for t in describe(ec2, vpn_id)["VgwTelemetry"]}
    assert (telemetry[up_ip]["Status"], telemetry[up_ip]["StatusMessage"], telemetry[up_ip]["AcceptedRouteCount"]) == ("UP", "2 BGP ROUTES", 2)
    assert telemetry[up_ip]["LastStatusChange"] > before[up_ip]["LastStatusChange"]
    down_ip = next(ip for ip in telemetry if ip != up_ip)
    assert telemetry[down_ip]["Status"] == "DOWN" and telemetry[down_ip]["LastStatusChange"] == before[down_ip]["LastStatusChange"]


def test_apply_status_rejects_unknown_connections_tunnels_and_values(url, connection):
    vpn_id = connection["VpnConnectionId"]
    ip = connection["Options"]["TunnelOptions"][0]["OutsideIpAddress"]
    for body in ({"vpn_connections": {"vpn-0000000000000000": {"tunnels": {}}}},
                 {"vpn_connections": {vpn_id: {"tunnels": {"203.0.113.255": {"status": "UP"}}}}},
                 {"vpn_connections": {vpn_id: {"tunnels": {ip: {"status": "SIDEWAYS"}}}}},
                 {"vpn_connections": {vpn_id: {"tunnels": {ip: {"acepted_route_count": 1}}}}}):
        with pytest.raises(urllib.error.HTTPError) as excinfo:
            lab(url, "POST", "status", body)
        assert excinfo.value.code == 400


def test_customer_gateway_configuration_describes_this_connection(ec2, connection):
    document = ElementTree.fromstring(connection["CustomerGatewayConfiguration"].encode())
    assert document.get("id") == connection["VpnConnectionId"]
    assert document.findtext("customer_gateway_id") == connection["CustomerGatewayId"]
    assert document.findtext("vpn_gateway_id") == connection["VpnGatewayId"]
    assert document.find("vpn_connection_attributes") is None  # dynamic routing
    tunnels = document.findall("ipsec_tunnel")
    assert len(tunnels) == 2
    options = connection["Options"]["TunnelOptions"]
    for tunnel, option in zip(tunnels, options):
        network = ipaddress.ip_network(option["TunnelInsideCidr"])
        hosts = [str(host) for host in network.hosts()]
        assert tunnel.findtext("customer_gateway/tunnel_outside_address/ip_address") == "192.0.2.10"
        assert tunnel.findtext("customer_gateway/tunnel_inside_address/ip_address") == hosts[1]
        assert tunnel.findtext("customer_gateway/bgp/asn") == "65010"
        assert tunnel.findtext("vpn_gateway/tunnel_outside_address/ip_address") == option["OutsideIpAddress"]
        assert tunnel.findtext("vpn_gateway/tunnel_inside_address/ip_address") == hosts[0]
        assert tunnel.findtext("vpn_gateway/tunnel_inside_address/network_cidr") == "30"
        assert tunnel.findtext("vpn_gateway/bgp/asn") == "64600"
        assert tunnel.findtext("ike/pre_shared_key") == option["PreSharedKey"]
        # AWS's document shows the minimal defaults whatever the options are (tunnel 1 asked for AES256).
        assert (tunnel.findtext("ike/encryption_protocol"), tunnel.findtext("ike/perfect_forward_secrecy")) == ("aes-128-cbc", "group2")
        assert tunnel.findtext("ipsec/authentication_protocol") == "hmac-sha1-96"


def test_static_connection_document_says_no_bgp(ec2):
    created = vpn_connection(ec2, customer_gateway(ec2), vpn_gateway(ec2)["VpnGatewayId"], {"StaticRoutesOnly": True})
    document = ElementTree.fromstring(created["CustomerGatewayConfiguration"].encode())
    assert document.findtext("vpn_connection_attributes") == "NoBGPVPNConnection"
    assert document.find("ipsec_tunnel/customer_gateway/bgp") is None and document.find("ipsec_tunnel/vpn_gateway/bgp") is None
    assert created["Options"]["StaticRoutesOnly"] is True


# -- ModifyVpnTunnelOptions ------------------------------------------------------------------------------------------------

def test_modify_changes_only_the_tunnel_whose_outside_ip_was_given(ec2, connection):
    vpn_id = connection["VpnConnectionId"]
    before = tunnels_by_ip(connection)
    target = connection["Options"]["TunnelOptions"][1]["OutsideIpAddress"]
    result = ec2.modify_vpn_tunnel_options(VpnConnectionId=vpn_id, VpnTunnelOutsideIpAddress=target, TunnelOptions={
        "Phase1EncryptionAlgorithms": [{"Value": "AES256-GCM-16"}], "Phase2DHGroupNumbers": [{"Value": 20}],
        "TunnelInsideCidr": "169.254.77.0/30", "PreSharedKey": "second.tunnel_key"})["VpnConnection"]
    assert result["State"] == "modifying"
    after = tunnels_by_ip(wait_vpn_connection_available(ec2, vpn_id, timeout=5, sleep=0.05))
    other = next(ip for ip in before if ip != target)
    assert after[other] == before[other]
    assert after[target]["Phase1EncryptionAlgorithms"] == [{"Value": "AES256-GCM-16"}]
    assert after[target]["Phase2DHGroupNumbers"] == [{"Value": 20}]
    assert (after[target]["TunnelInsideCidr"], after[target]["PreSharedKey"]) == ("169.254.77.0/30", "second.tunnel_key")


def test_modify_with_an_outside_ip_of_another_connection_is_refused(ec2, connection):
    with pytest.raises(ec2.exceptions.ClientError) as excinfo:
        ec2.modify_vpn_tunnel_options(VpnConnectionId=connection["VpnConnectionId"], VpnTunnelOutsideIpAddress="203.0.113.254",
                                      TunnelOptions={"Phase2LifetimeSeconds": 1800})
    assert error_code(excinfo) == "InvalidParameterValue"


def test_modify_accepts_every_tunnel_option_field(ec2, connection):
    target = connection["Options"]["TunnelOptions"][0]["OutsideIpAddress"]
    every = {"TunnelInsideCidr": "169.254.99.4/30", "PreSharedKey": "All.Fields_Set", "Phase1LifetimeSeconds": 14400,
             "Phase2LifetimeSeconds": 1800, "RekeyMarginTimeSeconds": 600, "RekeyFuzzPercentage": 50, "ReplayWindowSize": 2048,
             "DPDTimeoutSeconds": 30, "DPDTimeoutAction": "restart", "Phase1EncryptionAlgorithms": [{"Value": "AES128"}],
             "Phase2EncryptionAlgorithms": [{"Value": "AES256"}], "Phase1IntegrityAlgorithms": [{"Value": "SHA2-256"}],
             "Phase2IntegrityAlgorithms": [{"Value": "SHA2-512"}], "Phase1DHGroupNumbers": [{"Value": 14}, {"Value": 24}],
             "Phase2DHGroupNumbers": [{"Value": 5}], "IKEVersions": [{"Value": "ikev1"}], "StartupAction": "add",
             "LogOptions": {"CloudWatchLogOptions": {"LogEnabled": True, "LogGroupArn": "arn:aws:logs:eu-west-1:123456789012:log-group:vpn",
                                                     "LogOutputFormat": "text"}},
             "EnableTunnelLifecycleControl": True}
    ec2.modify_vpn_tunnel_options(VpnConnectionId=connection["VpnConnectionId"], VpnTunnelOutsideIpAddress=target, TunnelOptions=every)
    shown = tunnels_by_ip(wait_vpn_connection_available(ec2, connection["VpnConnectionId"], timeout=5, sleep=0.05))[target]
    renamed = {"DPDTimeoutSeconds": "DpdTimeoutSeconds", "DPDTimeoutAction": "DpdTimeoutAction", "IKEVersions": "IkeVersions"}
    for name, value in every.items():
        assert shown[renamed.get(name, name)] == value, name


OUT_OF_RANGE = [
    {"Phase1LifetimeSeconds": 899}, {"Phase1LifetimeSeconds": 28801}, {"Phase2LifetimeSeconds": 899}, {"Phase2LifetimeSeconds": 3601},
    {"Phase1LifetimeSeconds": 1000, "Phase2LifetimeSeconds": 1000}, {"RekeyMarginTimeSeconds": 59}, {"RekeyMarginTimeSeconds": 1801},
    {"RekeyFuzzPercentage": 101}, {"RekeyFuzzPercentage": -1}, {"ReplayWindowSize": 63}, {"ReplayWindowSize": 2049},
    {"DPDTimeoutSeconds": 29}, {"DPDTimeoutAction": "explode"}, {"StartupAction": "stop"},
    {"Phase1EncryptionAlgorithms": [{"Value": "3DES"}]}, {"Phase2EncryptionAlgorithms": [{"Value": "AES192"}]},
    {"Phase1IntegrityAlgorithms": [{"Value": "MD5"}]}, {"Phase2IntegrityAlgorithms": [{"Value": "SHA2-224"}]},
    {"Phase1DHGroupNumbers": [{"Value": 5}]}, {"Phase1DHGroupNumbers": [{"Value": 1}]}, {"Phase2DHGroupNumbers": [{"Value": 13}]},
    {"IKEVersions": [{"Value": "ikev3"}]},
    {"LogOptions": {"CloudWatchLogOptions": {"LogEnabled": True, "LogGroupArn": "arn:aws:logs:x", "LogOutputFormat": "xml"}}},
    {"TunnelInsideCidr": "169.254.169.252/30"}, {"PreSharedKey": "0leading_zero"},
]


@pytest.mark.parametrize("options", OUT_OF_RANGE, ids=lambda options: "-".join("%s=%s" % item for item in options.items())[:60])
def test_modify_values_out_of_range_are_refused(ec2, connection, options):
    target = connection["Options"]["TunnelOptions"][0]["OutsideIpAddress"]
    with pytest.raises(ec2.exceptions.ClientError) as excinfo:
        ec2.modify_vpn_tunnel_options(VpnConnectionId=connection["VpnConnectionId"], VpnTunnelOutsideIpAddress=target, TunnelOptions=options)
    assert error_code(excinfo) == "InvalidParameterValue"
    assert describe(ec2, connection["VpnConnectionId"])["State"] == "available"


def test_connection_is_modifying_for_the_configured_time_and_refuses_a_second_modify(url, ec2, connection):
    lab(url, "POST", "config", {"delays": {"vpn_modify": 1.0}})
    vpn_id = connection["VpnConnectionId"]
    first, second = (tunnel["OutsideIpAddress"] for tunnel in connection["Options"]["TunnelOptions"])
    started = time.monotonic()
    ec2.modify_vpn_tunnel_options(VpnConnectionId=vpn_id, VpnTunnelOutsideIpAddress=first, TunnelOptions={"ReplayWindowSize": 512})
    with pytest.raises(ec2.exceptions.ClientError) as excinfo:
        ec2.modify_vpn_tunnel_options(VpnConnectionId=vpn_id, VpnTunnelOutsideIpAddress=second, TunnelOptions={"ReplayWindowSize": 512})
    assert error_code(excinfo) == "IncorrectState"
    states = []
    wait_vpn_connection_available(ec2, vpn_id, timeout=5, sleep=0.05, on_progress=lambda state, elapsed: states.append(state))
    assert states[0] == "modifying" and states[-1] == "available"
    assert time.monotonic() - started >= 1.0


def test_modify_replaces_the_tunnel_endpoint_so_it_reads_down_again(url, ec2, connection):
    vpn_id = connection["VpnConnectionId"]
    target = connection["Options"]["TunnelOptions"][0]["OutsideIpAddress"]
    lab(url, "POST", "status", {"vpn_connections": {vpn_id: {"tunnels": {target: {"status": "UP"}}}}})
    revision = next(t for t in lab(url, "GET", "state")["vpn_connections"][vpn_id]["tunnels"] if t["outside_ip"] == target)["revision"]
    ec2.modify_vpn_tunnel_options(VpnConnectionId=vpn_id, VpnTunnelOutsideIpAddress=target, TunnelOptions={"StartupAction": "add"})
    telemetry = {t["OutsideIpAddress"]: t for t in describe(ec2, vpn_id)["VgwTelemetry"]}
    assert telemetry[target]["Status"] == "DOWN"
    tunnel = next(t for t in lab(url, "GET", "state")["vpn_connections"][vpn_id]["tunnels"] if t["outside_ip"] == target)
    assert tunnel["revision"] == revision + 1


# -- lifecycle -------------------------------------------------------------------------------------------------------------

def test_vpn_connection_is_pending_for_the_configured_delay_then_available(url, ec2):
    lab(url, "POST", "config", {"delays": {"vpn_connection": 0.5}})
    started = time.monotonic()
    created = vpn_connection(ec2, customer_gateway(ec2), vpn_gateway(ec2)["VpnGatewayId"], wait=False)
    assert created["State"] == "pending"
    wait_vpn_connection_available(ec2, created["VpnConnectionId"], timeout=5, sleep=0.05)
    assert time.monotonic() - started >= 0.5


def test_deleted_connection_stays_visible_as_deleted(url, ec2, connection):
    lab(url, "POST", "config", {"delays": {"vpn_connection": 0.5}})
    vpn_id = connection["VpnConnectionId"]
    ec2.delete_vpn_connection(VpnConnectionId=vpn_id)
    assert describe(ec2, vpn_id)["State"] == "deleting"
    assert eventually(lambda: describe(ec2, vpn_id)["State"], "deleted") == "deleted"
    shown = describe(ec2, vpn_id)
    assert shown["State"] == "deleted"
    assert "CustomerGatewayConfiguration" not in shown
    live = ec2.describe_vpn_connections(Filters=[{"Name": "state", "Values": ["pending", "available"]}])["VpnConnections"]
    assert vpn_id not in [c["VpnConnectionId"] for c in live]


def test_deleted_connection_disappears_after_the_retention_time(url, ec2, connection):
    lab(url, "POST", "config", {"delays": {"deleted_retention": 0.1}})
    vpn_id = connection["VpnConnectionId"]
    ec2.delete_vpn_connection(VpnConnectionId=vpn_id)
    time.sleep(0.3)
    assert ec2.describe_vpn_connections()["VpnConnections"] == []
    with pytest.raises(ec2.exceptions.ClientError) as excinfo:
        describe(ec2, vpn_id)
    assert error_code(excinfo) == "InvalidVpnConnectionID.NotFound"


def test_vpn_gateway_has_the_default_amazon_asn_and_becomes_available(ec2):
    created = vpn_gateway(ec2)
    assert created["AmazonSideAsn"] == 64512 and created["State"] == "pending"
    state = eventually(lambda: ec2.describe_vpn_gateways(VpnGatewayIds=[created["VpnGatewayId"]])["VpnGateways"][0]["State"], "available")
    assert state == "available"
    with pytest.raises(ec2.exceptions.ClientError) as excinfo:
        vpn_gateway(ec2, AmazonSideAsn=7224)
    assert error_code(excinfo) == "InvalidParameterValue"


def test_a_vpc_takes_one_vpn_gateway_and_a_gateway_one_vpc(ec2):
    vpc_id = ec2.create_vpc(CidrBlock="10.10.0.0/16")["Vpc"]["VpcId"]
    other_vpc = ec2.create_vpc(CidrBlock="10.11.0.0/16")["Vpc"]["VpcId"]
    first, second = vpn_gateway(ec2)["VpnGatewayId"], vpn_gateway(ec2)["VpnGatewayId"]
    assert ec2.attach_vpn_gateway(VpnGatewayId=first, VpcId=vpc_id)["VpcAttachment"]["State"] == "attaching"
    for gateway, vpc in ((second, vpc_id), (first, other_vpc)):
        with pytest.raises(ec2.exceptions.ClientError):
            ec2.attach_vpn_gateway(VpnGatewayId=gateway, VpcId=vpc)
    attachments = eventually(lambda: ec2.describe_vpn_gateways(VpnGatewayIds=[first])["VpnGateways"][0]["VpcAttachments"],
                             [{"VpcId": vpc_id, "State": "attached"}])
    assert attachments == [{"VpcId": vpc_id, "State": "attached"}]
    with pytest.raises(ec2.exceptions.ClientError) as excinfo:
        ec2.delete_vpn_gateway(VpnGatewayId=first)
    assert error_code(excinfo) == "IncorrectState"


# -- customer gateways --------------------------------------------------------------------------------------------------------

def test_customer_gateway_in_use_cannot_be_deleted(ec2, connection):
    cgw_id = connection["CustomerGatewayId"]
    with pytest.raises(ec2.exceptions.ClientError) as excinfo:
        ec2.delete_customer_gateway(CustomerGatewayId=cgw_id)
    assert error_code(excinfo) == "IncorrectState"
    ec2.delete_vpn_connection(VpnConnectionId=connection["VpnConnectionId"])
    eventually(lambda: describe(ec2, connection["VpnConnectionId"])["State"], "deleted")
    ec2.delete_customer_gateway(CustomerGatewayId=cgw_id)
    assert ec2.describe_customer_gateways(CustomerGatewayIds=[cgw_id])["CustomerGateways"][0]["State"] == "deleted"


def test_customer_gateway_create_is_idempotent_unless_device_name_differs(ec2):
    first = ec2.create_customer_gateway(Type="ipsec.1", IpAddress="192.0.2.30", BgpAsn=65030)["CustomerGateway"]
    again = ec2.create_customer_gateway(Type="ipsec.1", IpAddress="192.0.2.30", BgpAsn=65030)["CustomerGateway"]
    named = ec2.create_customer_gateway(Type="ipsec.1", IpAddress="192.0.2.30", BgpAsn=65030, DeviceName="edge-2")["CustomerGateway"]
    other_asn = ec2.create_customer_gateway(Type="ipsec.1", IpAddress="192.0.2.30", BgpAsn=65031)["CustomerGateway"]
    assert again["CustomerGatewayId"] == first["CustomerGatewayId"]
    assert named["CustomerGatewayId"] != first["CustomerGatewayId"] and named["DeviceName"] == "edge-2"
    assert other_asn["CustomerGatewayId"] not in (first["CustomerGatewayId"], named["CustomerGatewayId"])
    assert len(ec2.describe_customer_gateways()["CustomerGateways"]) == 3


# -- routes ----------------------------------------------------------------------------------------------------------------------

def test_static_routes_are_created_and_deleted(url, ec2):
    lab(url, "POST", "config", {"delays": {"vpn_route": 0.4}})
    created = vpn_connection(ec2, customer_gateway(ec2), vpn_gateway(ec2)["VpnGatewayId"], {"StaticRoutesOnly": True})
    vpn_id = created["VpnConnectionId"]
    ec2.create_vpn_connection_route(VpnConnectionId=vpn_id, DestinationCidrBlock="10.50.0.0/16")
    assert describe(ec2, vpn_id)["Routes"] == [{"DestinationCidrBlock": "10.50.0.0/16", "Source": "Static", "State": "pending"}]
    assert eventually(lambda: describe(ec2, vpn_id)["Routes"][0]["State"], "available") == "available"
    found = ec2.describe_vpn_connections(Filters=[{"Name": "route.destination-cidr-block", "Values": ["10.50.0.0/16"]}])
    assert [c["VpnConnectionId"] for c in found["VpnConnections"]] == [vpn_id]
    with pytest.raises(ec2.exceptions.ClientError) as excinfo:
        ec2.create_vpn_connection_route(VpnConnectionId=vpn_id, DestinationCidrBlock="10.50.0.0/16")
    assert error_code(excinfo) == "RouteAlreadyExists"
    ec2.delete_vpn_connection_route(VpnConnectionId=vpn_id, DestinationCidrBlock="10.50.0.0/16")
    assert describe(ec2, vpn_id)["Routes"][0]["State"] == "deleting"
    assert eventually(lambda: describe(ec2, vpn_id).get("Routes", []), []) == []
    with pytest.raises(ec2.exceptions.ClientError) as excinfo:
        ec2.delete_vpn_connection_route(VpnConnectionId=vpn_id, DestinationCidrBlock="10.50.0.0/16")
    assert error_code(excinfo) == "InvalidRoute.NotFound"


def test_static_route_on_a_bgp_connection_is_refused(ec2, connection):
    with pytest.raises(ec2.exceptions.ClientError) as excinfo:
        ec2.create_vpn_connection_route(VpnConnectionId=connection["VpnConnectionId"], DestinationCidrBlock="10.50.0.0/16")
    assert error_code(excinfo) == "InvalidParameterValue"


def test_route_propagation_shows_in_describe_route_tables(url, ec2):
    vpc_id = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    route_table_id = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    vgw_id = vpn_gateway(ec2)["VpnGatewayId"]
    with pytest.raises(ec2.exceptions.ClientError) as excinfo:
        ec2.enable_vgw_route_propagation(RouteTableId=route_table_id, GatewayId=vgw_id)
    assert error_code(excinfo) == "Gateway.NotAttached"
    ec2.attach_vpn_gateway(VpnGatewayId=vgw_id, VpcId=vpc_id)
    ec2.enable_vgw_route_propagation(RouteTableId=route_table_id, GatewayId=vgw_id)
    table = ec2.describe_route_tables(RouteTableIds=[route_table_id])["RouteTables"][0]
    assert table["PropagatingVgws"] == [{"GatewayId": vgw_id}]

    created = vpn_connection(ec2, customer_gateway(ec2), vgw_id, {"StaticRoutesOnly": True})
    ec2.create_vpn_connection_route(VpnConnectionId=created["VpnConnectionId"], DestinationCidrBlock="192.168.50.0/24")
    eventually(lambda: describe(ec2, created["VpnConnectionId"])["Routes"][0]["State"], "available")
    ip = created["Options"]["TunnelOptions"][0]["OutsideIpAddress"]
    lab(url, "POST", "status", {"vpn_connections": {created["VpnConnectionId"]: {"tunnels": {ip: {"status": "UP"}}}}})
    routes = ec2.describe_route_tables(RouteTableIds=[route_table_id])["RouteTables"][0]["Routes"]
    assert {"DestinationCidrBlock": "192.168.50.0/24", "GatewayId": vgw_id, "Origin": "EnableVgwRoutePropagation",
            "State": "active"} in routes
    assert lab(url, "GET", "state")["vpcs"][vpc_id]["route_tables"][route_table_id]["propagated_routes"] == ["192.168.50.0/24"]

    ec2.disable_vgw_route_propagation(RouteTableId=route_table_id, GatewayId=vgw_id)
    table = ec2.describe_route_tables(RouteTableIds=[route_table_id])["RouteTables"][0]
    assert table["PropagatingVgws"] == []
    assert all(route.get("Origin") != "EnableVgwRoutePropagation" for route in table["Routes"])


def test_transit_gateway_vpn_attachment_can_be_associated_and_propagated(ec2):
    tgw_id = ec2.create_transit_gateway()["TransitGateway"]["TransitGatewayId"]
    route_table_id = ec2.create_transit_gateway_route_table(TransitGatewayId=tgw_id)["TransitGatewayRouteTable"]["TransitGatewayRouteTableId"]
    created = ec2.create_vpn_connection(Type="ipsec.1", CustomerGatewayId=customer_gateway(ec2), TransitGatewayId=tgw_id)["VpnConnection"]
    attachment = ec2.describe_transit_gateway_attachments(
        Filters=[{"Name": "resource-id", "Values": [created["VpnConnectionId"]]}])["TransitGatewayAttachments"][0]
    attachment_id = attachment["TransitGatewayAttachmentId"]
    ec2.associate_transit_gateway_route_table(TransitGatewayRouteTableId=route_table_id, TransitGatewayAttachmentId=attachment_id)
    ec2.enable_transit_gateway_route_table_propagation(TransitGatewayRouteTableId=route_table_id, TransitGatewayAttachmentId=attachment_id)
    associations = ec2.get_transit_gateway_route_table_associations(TransitGatewayRouteTableId=route_table_id)["Associations"]
    propagations = ec2.get_transit_gateway_route_table_propagations(TransitGatewayRouteTableId=route_table_id)
    assert [a["TransitGatewayAttachmentId"] for a in associations] == [attachment_id]
    assert [p["TransitGatewayAttachmentId"] for p in propagations["TransitGatewayRouteTablePropagations"]] == [attachment_id]
    document = ElementTree.fromstring(created["CustomerGatewayConfiguration"].encode())
    assert document.findtext("transit_gateway_id") == tgw_id


def test_ipv6_inside_addresses_need_a_transit_gateway(ec2):
    cgw_id = customer_gateway(ec2)
    with pytest.raises(ec2.exceptions.ClientError) as excinfo:
        vpn_connection(ec2, cgw_id, vpn_gateway(ec2)["VpnGatewayId"], {"TunnelInsideIpVersion": "ipv6"})
    assert error_code(excinfo) == "InvalidParameterValue"
    tgw_id = ec2.create_transit_gateway()["TransitGateway"]["TransitGatewayId"]
    created = ec2.create_vpn_connection(Type="ipsec.1", CustomerGatewayId=cgw_id, TransitGatewayId=tgw_id,
                                        Options={"TunnelInsideIpVersion": "ipv6"})["VpnConnection"]
    for tunnel in created["Options"]["TunnelOptions"]:
        network = ipaddress.ip_network(tunnel["TunnelInsideIpv6Cidr"])
        assert network.prefixlen == 126 and network.subnet_of(ipaddress.ip_network("fd00::/8"))
        assert "TunnelInsideCidr" not in tunnel


# -- device sample configurations ------------------------------------------------------------------------------------------------

def test_vyatta_sample_configuration_is_built_from_the_connection(ec2, connection):
    device_types = ec2.get_vpn_connection_device_types()["VpnConnectionDeviceTypes"]
    vyatta = next(d for d in device_types if d["Vendor"] == "Vyatta")
    sample = ec2.get_vpn_connection_device_sample_configuration(
        VpnConnectionId=connection["VpnConnectionId"], VpnConnectionDeviceTypeId=vyatta["VpnConnectionDeviceTypeId"],
        InternetKeyExchangeVersion="ikev2")["VpnConnectionDeviceSampleConfiguration"]
    for number, tunnel in enumerate(connection["Options"]["TunnelOptions"]):
        peer = "set vpn ipsec site-to-site peer %s" % tunnel["OutsideIpAddress"]
        aws_inside, customer_inside = (str(h) for h in ipaddress.ip_network(tunnel["TunnelInsideCidr"]).hosts())
        assert "%s authentication pre-shared-secret '%s'" % (peer, tunnel["PreSharedKey"]) in sample
        assert "%s local-address '192.0.2.10'" % peer in sample
        assert "set interfaces vti vti%d address '%s/30'" % (number, customer_inside) in sample
        assert "set protocols bgp 65010 neighbor %s remote-as '64600'" % aws_inside in sample
    assert "key-exchange 'ikev2'" in sample


# -- protocol: errors, validation, filters ---------------------------------------------------------------------------------------

def test_unimplemented_action_answers_in_aws_error_format(ec2, connection):
    with pytest.raises(ec2.exceptions.ClientError) as excinfo:
        ec2.modify_vpn_connection_options(VpnConnectionId=connection["VpnConnectionId"], LocalIpv4NetworkCidr="10.0.0.0/8")
    assert error_code(excinfo) == "NotImplemented"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


def test_unknown_action_answers_invalid_action(url):
    status, body = raw_post(url, {"Action": "CreateVpnTunnelToTheMoon", "Version": "2016-11-15"})
    assert status == 400 and "<Code>InvalidAction</Code>" in body and body.startswith("<?xml")


@pytest.mark.parametrize("form, code", [
    ({"Action": "CreateVpnGateway", "Type": "ipsec.1", "AmazonSideASN": "64512"}, "UnknownParameter"),
    ({"Action": "CreateVpnConnection", "Type": "ipsec.1", "CustomerGatewayId": "cgw-1", "Options.TunnelOption.1.TunnelInsideCidr": "x"},
     "UnknownParameter"),
    ({"Action": "CreateVpnConnection", "Type": "ipsec.1", "CustomerGatewayId": "cgw-1",
      "Options.TunnelOptions.1.Phase1LifetimeSeconds": "eight hours"}, "InvalidParameterValue"),
    ({"Action": "CreateVpnConnection", "Type": "ipsec.1", "CustomerGatewayId": "cgw-1", "Options.StaticRoutesOnly": "yes"},
     "InvalidParameterValue"),
    ({"Action": "CreateVpnConnection", "Type": "ipsec.1"}, "MissingParameter"),
    ({"Action": "ModifyVpnTunnelOptions", "VpnConnectionId": "vpn-1", "VpnTunnelOutsideIpAddress": "203.0.113.1"}, "MissingParameter"),
])
def test_misspelled_or_mistyped_parameters_are_rejected(url, form, code):
    status, body = raw_post(url, {**form, "Version": "2016-11-15"})
    assert status == 400 and "<Code>%s</Code>" % code in body


def test_enum_values_are_checked_server_side(ec2):
    with pytest.raises(ec2.exceptions.ClientError) as excinfo:
        ec2.create_vpn_gateway(Type="ipsec.2")
    assert error_code(excinfo) == "InvalidParameterValue"


def test_dry_run_answers_dry_run_operation(ec2, connection):
    target = connection["Options"]["TunnelOptions"][0]["OutsideIpAddress"]
    with pytest.raises(ec2.exceptions.ClientError) as excinfo:
        ec2.modify_vpn_tunnel_options(VpnConnectionId=connection["VpnConnectionId"], VpnTunnelOutsideIpAddress=target,
                                      TunnelOptions={"StartupAction": "add"}, DryRun=True)
    assert error_code(excinfo) == "DryRunOperation"
    assert describe(ec2, connection["VpnConnectionId"])["State"] == "available"


def test_describe_filters_by_state_routing_and_customer_gateway(ec2, connection):
    static = vpn_connection(ec2, customer_gateway(ec2, ip="192.0.2.40"), vpn_gateway(ec2)["VpnGatewayId"], {"StaticRoutesOnly": True})

    def ids(*filters):
        return {c["VpnConnectionId"] for c in ec2.describe_vpn_connections(Filters=list(filters))["VpnConnections"]}

    assert ids({"Name": "option.static-routes-only", "Values": ["true"]}) == {static["VpnConnectionId"]}
    assert ids({"Name": "customer-gateway-id", "Values": [connection["CustomerGatewayId"]]}) == {connection["VpnConnectionId"]}
    assert ids({"Name": "state", "Values": ["available"]}) == {connection["VpnConnectionId"], static["VpnConnectionId"]}
    assert ids({"Name": "bgp-asn", "Values": ["65010"]}) == {connection["VpnConnectionId"], static["VpnConnectionId"]}


def test_secrets_manager_storage_returns_an_arn_instead_of_the_key(url, ec2):
    created = ec2.create_vpn_connection(Type="ipsec.1", CustomerGatewayId=customer_gateway(ec2), VpnGatewayId=vpn_gateway(ec2)["VpnGatewayId"],
                                        PreSharedKeyStorage="SecretsManager")["VpnConnection"]
    assert created["PreSharedKeyArn"].startswith("arn:aws:secretsmanager:eu-west-1:")
    assert all("PreSharedKey" not in tunnel for tunnel in created["Options"]["TunnelOptions"])
    tunnels = lab(url, "GET", "state")["vpn_connections"][created["VpnConnectionId"]]["tunnels"]
    assert all(PSK_PATTERN.match(tunnel["pre_shared_key"]) for tunnel in tunnels)


# -- lab knobs: state dump, request log, faults, reset ------------------------------------------------------------------------------

def test_dump_state_gives_the_data_plane_keys_addresses_and_options_in_force(url, ec2, connection):
    state = lab(url, "GET", "state")
    vpn = state["vpn_connections"][connection["VpnConnectionId"]]
    assert (vpn["customer_gateway_ip"], vpn["customer_gateway_asn"], vpn["amazon_side_asn"]) == ("192.0.2.10", 65010, 64600)
    assert vpn["region"] == "eu-west-1" and vpn["state"] == "available"
    first, second = vpn["tunnels"]
    assert (first["inside_cidr"], first["aws_inside_ip"], first["customer_inside_ip"]) == ("169.254.10.0/30", "169.254.10.1", "169.254.10.2")
    assert first["pre_shared_key"] == "tunnel_one.key"
    assert first["options"]["Phase1EncryptionAlgorithms"] == ["AES256"]
    assert second["options"]["Phase1EncryptionAlgorithms"] == ["AES128", "AES256", "AES128-GCM-16", "AES256-GCM-16"]
    assert second["options"]["Phase1LifetimeSeconds"] == 28800 and second["options"]["DpdTimeoutSeconds"] == 40
    assert first["options_set"] == ["DpdTimeoutSeconds", "IkeVersions", "Phase1EncryptionAlgorithms", "StartupAction"]
    assert state["customer_gateways"][connection["CustomerGatewayId"]]["bgp_asn"] == 65010
    assert state["vpn_gateways"][connection["VpnGatewayId"]]["amazon_side_asn"] == 64600


def test_request_log_counts_calls_per_operation(url, ec2):
    lab(url, "POST", "requests/clear")
    cgw_id = customer_gateway(ec2)
    ec2.describe_customer_gateways(CustomerGatewayIds=[cgw_id])
    ec2.describe_customer_gateways()
    summary = lab(url, "GET", "requests")["summary"]
    assert summary["by_operation"] == {"CreateCustomerGateway": 1, "DescribeCustomerGateways": 2}
    assert (summary["requests"], summary["reads"], summary["writes"]) == (3, 2, 1)


@pytest.mark.parametrize("kind", ["server_error", "throttle", "lost_response"])
def test_injected_faults_are_retried_by_botocore(url, kind):
    client = make_client(url, max_attempts=10)
    lab(url, "POST", "requests/clear")
    lab(url, "POST", "config", {"faults": {"rate": 0.3, "seed": 3, "kinds": [kind]}})
    try:
        for dummy in range(5):
            client.describe_vpn_gateways()
    finally:
        lab(url, "POST", "config", {"faults": {"rate": 0.0}})
    summary = lab(url, "GET", "requests")["summary"]
    assert summary["faults"] > 0
    assert summary["requests"] == 5 + summary["faults"]


def test_throttling_beyond_the_retry_budget_surfaces_as_one_aws_error(url):
    client = make_client(url, max_attempts=2)
    lab(url, "POST", "config", {"faults": {"rate": 1.0, "seed": 1, "kinds": ["throttle"]}})
    try:
        with pytest.raises(AwsError) as excinfo:
            call(client, "describe_vpn_connections")
    finally:
        lab(url, "POST", "config", {"faults": {"rate": 0.0}})
    assert excinfo.value.code == "RequestLimitExceeded"
    assert str(excinfo.value).startswith("describe vpn connections: RequestLimitExceeded: ")


def test_reset_returns_to_an_empty_stand_in(url, ec2, connection):
    lab(url, "POST", "reset")
    assert lab(url, "GET", "requests")["entries"] == []
    assert ec2.describe_vpn_connections()["VpnConnections"] == []
    assert ec2.describe_customer_gateways()["CustomerGateways"] == []
    assert lab(url, "GET", "state")["vpn_connections"] == {}


def test_main_serves_until_sigterm(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "ec2.json"
    config.write_text(json.dumps({"delays": {"vpn_connection": 0.01}}))
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [os.path.dirname(__file__), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen([sys.executable, "-m", "standins.ec2", "--host", "127.0.0.1", "--port", str(port), "--config", str(config)],
                               env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = lab("http://127.0.0.1:%d" % port, "GET", "health")
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        assert health == {"cloud": "aws", "ok": True}
        assert lab("http://127.0.0.1:%d" % port, "GET", "config")["delays"]["vpn_connection"] == 0.01
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    assert process.returncode in (-signal.SIGTERM, 0)

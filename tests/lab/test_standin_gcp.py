# Contract tests of the GCP Compute (VPN subset) stand-in, driven through google-cloud-compute.
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""One test per behaviour issue 3 names for GCP, plus request log, faults, reset and the lab routes.

Clients are built by the collection's adapter (plugins/module_utils/_gcp.py) against an
in-process stand-in; raw HTTP is used only where the SDK cannot send the request at all
(a misspelled field, a method Compute does not have) and for the /_lab control routes.
"""
from __future__ import annotations

import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

import pytest
import requests
from google.api_core import exceptions as api_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import compute_v1
from werkzeug.serving import make_server

from ansible_collections.multicloud.vpn.plugins.module_utils import _gcp
from standins.gcp import build_app, classify

PROJECT = "lab-project"
REGION = "us-central1"
FAST_DELAYS = {"default": 0.0, "networks": 0.0, "externalVpnGateways": 0.0, "vpnGateways": 0.0, "vpnTunnels": 0.0,
               "routers": 0.0, "operations.wait": 5.0}
DOC_RANGE = ipaddress.ip_network("198.51.100.0/24")
PSK = "correct-horse-battery-staple-7"
GATEWAY_INSERT = {"project": PROJECT, "region": REGION, "vpn_gateway_resource": {"name": "ha", "network": "global/networks/vpc"}}


@pytest.fixture(scope="module")
def lab():
    app = build_app({"delays": FAST_DELAYS})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, "http://127.0.0.1:%d" % server.server_port
    server.shutdown()
    thread.join(5)


@pytest.fixture(autouse=True)
def clean(lab):
    app, url = lab
    requests.post(url + "/_lab/reset", timeout=5).raise_for_status()
    settings = {"faults": {"rate": 0.0, "seed": 0, "kinds": ["server_error", "throttle", "lost_response"]}, "delays": FAST_DELAYS}
    requests.post(url + "/_lab/config", json=settings, timeout=5).raise_for_status()
    yield


@pytest.fixture
def url(lab):
    return lab[1]


@pytest.fixture
def gcp(url):
    return _gcp.compute_clients({"project": PROJECT, "api_endpoint": url}, retry_timeout=20)


def configure(url, **sections):
    requests.post(url + "/_lab/config", json=sections, timeout=5).raise_for_status()


def lab_requests(url):
    return requests.get(url + "/_lab/requests", timeout=5).json()


# -- building blocks -------------------------------------------------------------------------
def make_network(gcp, name="vpc"):
    gcp.wait(gcp.mutate("network", gcp.networks.insert, {"project": PROJECT, "network_resource": {
        "name": name, "auto_create_subnetworks": False, "routing_config": {"routing_mode": "GLOBAL"}}}))
    return "global/networks/%s" % name


def make_ha_gateway(gcp, name="ha", network="global/networks/vpc"):
    gcp.wait(gcp.mutate("ha gateway", gcp.vpn_gateways.insert, {"project": PROJECT, "region": REGION, "vpn_gateway_resource": {
        "name": name, "network": network}}))
    return gcp.read("get", gcp.vpn_gateways.get, {"project": PROJECT, "region": REGION, "vpn_gateway": name})


def external_gateway_body(name, redundancy, ids):
    return {"name": name, "redundancy_type": redundancy,
            "interfaces": [{"id": interface, "ip_address": "203.0.113.%d" % (10 + interface)} for interface in ids]}


def make_external_gateway(gcp, name="aws", redundancy="FOUR_IPS_REDUNDANCY", ids=(0, 1, 2, 3)):
    gcp.wait(gcp.mutate("external gateway", gcp.external_vpn_gateways.insert, {
        "project": PROJECT, "external_vpn_gateway_resource": external_gateway_body(name, redundancy, ids)}))
    return gcp.read("get", gcp.external_vpn_gateways.get, {"project": PROJECT, "external_vpn_gateway": name})


def make_router(gcp, name="cr", asn=65010, **extra):
    resource = {"name": name, "network": "global/networks/vpc", "bgp": {"asn": asn}}
    resource.update(extra)
    gcp.wait(gcp.mutate("router", gcp.routers.insert, {"project": PROJECT, "region": REGION, "router_resource": resource}))
    return gcp.read("get", gcp.routers.get, {"project": PROJECT, "region": REGION, "router": name})


def tunnel_body(name="t0", interface=0, peer_interface=0, **extra):
    body = {"name": name, "vpn_gateway": "regions/%s/vpnGateways/ha" % REGION, "vpn_gateway_interface": interface,
            "peer_external_gateway": "global/externalVpnGateways/aws", "peer_external_gateway_interface": peer_interface,
            "router": "regions/%s/routers/cr" % REGION, "shared_secret": PSK, "ike_version": 2}
    body.update(extra)
    return body


def insert_tunnel(gcp, **body):
    return gcp.mutate("tunnel", gcp.vpn_tunnels.insert, {"project": PROJECT, "region": REGION,
                                                         "vpn_tunnel_resource": tunnel_body(**body)}, secrets=[PSK])


def make_tunnel(gcp, **body):
    gcp.wait(insert_tunnel(gcp, **body))
    return gcp.read("get", gcp.vpn_tunnels.get, {"project": PROJECT, "region": REGION, "vpn_tunnel": body.get("name", "t0")})


def make_site(gcp):
    """network, HA gateway, 4-IP external gateway, router: everything a tunnel needs."""
    make_network(gcp)
    gateway = make_ha_gateway(gcp)
    make_external_gateway(gcp)
    make_router(gcp)
    return gateway


def bgp_patch(tunnel_link, index=0):
    return {"interfaces": [{"name": "if-%d" % index, "ip_range": "169.254.1%d.1/30" % index, "linked_vpn_tunnel": tunnel_link}],
            "bgp_peers": [{"name": "peer-%d" % index, "interface_name": "if-%d" % index, "ip_address": "169.254.1%d.1" % index,
                           "peer_ip_address": "169.254.1%d.2" % index, "peer_asn": 64512}]}


def patch_router(gcp, resource, name="cr"):
    return gcp.wait(gcp.mutate("patch router", gcp.routers.patch, {"project": PROJECT, "region": REGION, "router": name,
                                                                   "router_resource": resource}))


def get_router(gcp, name="cr"):
    return gcp.read("get", gcp.routers.get, {"project": PROJECT, "region": REGION, "router": name})


def raw(url, method, path, body=None, params=None):
    return requests.request(method, url + "/compute/v1/projects/%s/%s" % (PROJECT, path), params=params,
                            data=None if body is None else json.dumps(body), headers={"Content-Type": "application/json"},
                            timeout=10)


# -- HA VPN gateways -------------------------------------------------------------------------
def test_ha_gateway_has_two_interfaces_with_stable_public_ips(gcp):
    gateway = make_site(gcp)
    addresses = {interface.id: interface.ip_address for interface in gateway.vpn_interfaces}
    assert sorted(addresses) == [0, 1]
    assert all(ipaddress.ip_address(address) in DOC_RANGE for address in addresses.values())
    assert len(set(addresses.values())) == 2
    make_tunnel(gcp)
    gcp.wait(gcp.mutate("labels", gcp.vpn_gateways.set_labels, {
        "project": PROJECT, "region": REGION, "resource": "ha",
        "region_set_labels_request_resource": {"labels": {"link": "aws"}, "label_fingerprint": gateway.label_fingerprint}}))
    again = gcp.read("get", gcp.vpn_gateways.get, {"project": PROJECT, "region": REGION, "vpn_gateway": "ha"})
    assert {interface.id: interface.ip_address for interface in again.vpn_interfaces} == addresses
    assert again.labels == {"link": "aws"}
    other = make_ha_gateway(gcp, "ha-2")
    assert not {interface.ip_address for interface in other.vpn_interfaces} & set(addresses.values())


def test_recreated_ha_gateway_gets_new_ips(gcp):
    make_network(gcp)
    first = {interface.ip_address for interface in make_ha_gateway(gcp).vpn_interfaces}
    gcp.wait(gcp.mutate("delete", gcp.vpn_gateways.delete, {"project": PROJECT, "region": REGION, "vpn_gateway": "ha"}))
    second = {interface.ip_address for interface in make_ha_gateway(gcp).vpn_interfaces}
    assert first.isdisjoint(second)


def test_ha_gateway_needs_an_existing_network(gcp):
    with pytest.raises(_gcp.GcpError) as failure:
        make_ha_gateway(gcp, network="global/networks/missing")
    assert failure.value.status_code == 404
    assert "projects/%s/global/networks/missing" % PROJECT in str(failure.value)


def test_vpn_gateway_status_reports_redundancy(gcp):
    make_site(gcp)
    status_request = {"project": PROJECT, "region": REGION, "vpn_gateway": "ha"}
    make_tunnel(gcp)
    connection = gcp.read("status", gcp.vpn_gateways.get_status, status_request).result.vpn_connections[0]
    assert connection.state.state == "CONNECTION_REDUNDANCY_NOT_MET"
    for index in (1, 2, 3):
        make_tunnel(gcp, name="t%d" % index, interface=index % 2, peer_interface=index)
    connection = gcp.read("status", gcp.vpn_gateways.get_status, status_request).result.vpn_connections[0]
    assert connection.state.state == "CONNECTION_REDUNDANCY_MET"
    assert len(connection.tunnels) == 4


# -- external VPN gateways ---------------------------------------------------------------------------
@pytest.mark.parametrize("redundancy, ids, accepted", [
    ("SINGLE_IP_INTERNALLY_REDUNDANT", (0,), True),
    ("SINGLE_IP_INTERNALLY_REDUNDANT", (1,), False),
    ("TWO_IPS_REDUNDANCY", (0, 1), True),
    ("TWO_IPS_REDUNDANCY", (0,), False),
    ("FOUR_IPS_REDUNDANCY", (0, 1, 2, 3), True),
    ("FOUR_IPS_REDUNDANCY", (0, 1), False),
    ("FOUR_IPS_REDUNDANCY", (0, 1, 2, 4), False),
])
def test_external_gateway_redundancy_type_must_match_interface_ids(gcp, redundancy, ids, accepted):
    if accepted:
        gateway = make_external_gateway(gcp, redundancy=redundancy, ids=ids)
        assert [interface.id for interface in gateway.interfaces] == list(ids)
        assert gateway.redundancy_type == redundancy
    else:
        with pytest.raises(_gcp.GcpError) as failure:
            make_external_gateway(gcp, redundancy=redundancy, ids=ids)
        assert failure.value.status_code == 400 and redundancy in str(failure.value)


def test_external_gateway_interfaces_cannot_be_modified(gcp, url):
    make_external_gateway(gcp, redundancy="TWO_IPS_REDUNDANCY", ids=(0, 1))
    # the SDK has no update or patch for external gateways, because Compute has none
    assert not hasattr(compute_v1.ExternalVpnGatewaysClient, "update")
    assert not hasattr(compute_v1.ExternalVpnGatewaysClient, "patch")
    changed = external_gateway_body("aws", "TWO_IPS_REDUNDANCY", (0, 1))
    changed["interfaces"][0]["ipAddress"] = "192.0.2.99"
    for method in ("PUT", "PATCH"):
        assert raw(url, method, "global/externalVpnGateways/aws", changed).status_code in (404, 405)
    with pytest.raises(_gcp.GcpError) as failure:
        make_external_gateway(gcp, redundancy="TWO_IPS_REDUNDANCY", ids=(0, 1))
    assert failure.value.status_code == 409 and failure.value.reason == "alreadyExists"
    gateway = gcp.read("get", gcp.external_vpn_gateways.get, {"project": PROJECT, "external_vpn_gateway": "aws"})
    gcp.wait(gcp.mutate("labels", gcp.external_vpn_gateways.set_labels, {
        "project": PROJECT, "resource": "aws",
        "global_set_labels_request_resource": {"labels": {"peer": "aws"}, "label_fingerprint": gateway.label_fingerprint}}))
    after = gcp.read("get", gcp.external_vpn_gateways.get, {"project": PROJECT, "external_vpn_gateway": "aws"})
    assert [interface.ip_address for interface in after.interfaces] == ["203.0.113.10", "203.0.113.11"]
    assert after.labels == {"peer": "aws"}


def test_set_labels_requires_the_current_fingerprint(gcp):
    make_external_gateway(gcp)
    with pytest.raises(_gcp.GcpError) as failure:
        gcp.mutate("labels", gcp.external_vpn_gateways.set_labels, {
            "project": PROJECT, "resource": "aws",
            "global_set_labels_request_resource": {"labels": {"a": "b"}, "label_fingerprint": "stale"}})
    assert failure.value.status_code == 412 and failure.value.reason == "conditionNotMet"


@pytest.mark.parametrize("kind", ["externalVpnGateways", "vpnGateways", "routers", "networks"])
def test_resource_in_use_by_a_tunnel_cannot_be_deleted(gcp, kind):
    make_site(gcp)
    make_tunnel(gcp)
    deletions = {
        "externalVpnGateways": (gcp.external_vpn_gateways.delete, {"project": PROJECT, "external_vpn_gateway": "aws"}),
        "vpnGateways": (gcp.vpn_gateways.delete, {"project": PROJECT, "region": REGION, "vpn_gateway": "ha"}),
        "routers": (gcp.routers.delete, {"project": PROJECT, "region": REGION, "router": "cr"}),
        "networks": (gcp.networks.delete, {"project": PROJECT, "network": "vpc"}),
    }
    method, request = deletions[kind]
    with pytest.raises(_gcp.GcpError) as failure:
        gcp.mutate("delete", method, request)
    assert failure.value.status_code == 400 and failure.value.reason == "resourceInUseByAnotherResource"
    assert "is already being used by 'projects/%s/" % PROJECT in str(failure.value)
    if kind != "networks":
        gcp.wait(gcp.mutate("delete tunnel", gcp.vpn_tunnels.delete, {"project": PROJECT, "region": REGION, "vpn_tunnel": "t0"}))
        gcp.wait(gcp.mutate("delete", method, request))


def test_tunnel_linked_to_a_router_interface_cannot_be_deleted(gcp):
    make_site(gcp)
    tunnel = make_tunnel(gcp)
    patch_router(gcp, bgp_patch(tunnel.self_link))
    with pytest.raises(_gcp.GcpError) as failure:
        gcp.mutate("delete tunnel", gcp.vpn_tunnels.delete, {"project": PROJECT, "region": REGION, "vpn_tunnel": "t0"})
    assert failure.value.reason == "resourceInUseByAnotherResource"


# -- VPN tunnels ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("body, field", [
    ({"interface": 2}, "vpnGatewayInterface"),
    ({"peer_interface": 4}, "peerExternalGatewayInterface"),
])
def test_tunnel_interface_ids_validated_against_both_gateways(gcp, body, field):
    make_site(gcp)
    with pytest.raises(_gcp.GcpError) as failure:
        insert_tunnel(gcp, **body)
    assert failure.value.status_code == 400 and "resource.%s" % field in str(failure.value)


def test_tunnel_peer_interface_must_exist_on_a_two_ip_external_gateway(gcp):
    make_site(gcp)
    make_external_gateway(gcp, name="azure", redundancy="TWO_IPS_REDUNDANCY", ids=(0, 1))
    with pytest.raises(_gcp.GcpError) as failure:
        insert_tunnel(gcp, peer_external_gateway="global/externalVpnGateways/azure", peer_interface=2)
    assert "TWO_IPS_REDUNDANCY" in str(failure.value)
    assert make_tunnel(gcp, peer_external_gateway="global/externalVpnGateways/azure", peer_interface=1).peer_external_gateway_interface == 1


def test_tunnel_pair_of_interfaces_is_unique(gcp):
    make_site(gcp)
    make_tunnel(gcp)
    with pytest.raises(_gcp.GcpError) as failure:
        insert_tunnel(gcp, name="t0-again")
    assert "A tunnel with same peer external VPN gateway interface already exists" in str(failure.value)


def test_tunnel_shared_secret_is_write_only(gcp, url):
    make_site(gcp)
    tunnel = make_tunnel(gcp)
    assert tunnel.shared_secret == "" and tunnel.shared_secret_hash
    listed = raw(url, "GET", "regions/%s/vpnTunnels" % REGION)
    single = raw(url, "GET", "regions/%s/vpnTunnels/t0" % REGION)
    for answer in (listed, single):
        assert PSK not in answer.text and "sharedSecretHash" in answer.text and '"sharedSecret"' not in answer.text
    state = requests.get(url + "/_lab/state", timeout=5).json()
    assert state["projects"][PROJECT]["vpnTunnels"]["%s/t0" % REGION]["sharedSecret"] == PSK
    assert state["tunnels"][0]["shared_secret"] == PSK


def test_tunnel_requires_router_and_rejects_peer_ip(gcp):
    make_site(gcp)
    body = tunnel_body()
    del body["router"]
    with pytest.raises(_gcp.GcpError, match="Required field 'resource.router' not specified"):
        gcp.mutate("tunnel", gcp.vpn_tunnels.insert, {"project": PROJECT, "region": REGION, "vpn_tunnel_resource": body})
    with pytest.raises(_gcp.GcpError, match="Cannot specify peer IP for HA VPN tunnel"):
        insert_tunnel(gcp, peer_ip="203.0.113.10")


def test_tunnel_cipher_suite_validated_and_returned(gcp):
    make_site(gcp)
    suite = {"phase1": {"encryption": ["AES-GCM-16-256"], "integrity": [], "prf": ["PRF-HMAC-SHA2-256"], "dh": ["Group-20"]},
             "phase2": {"encryption": ["AES-GCM-16-256"], "pfs": ["Group-20"]}}
    tunnel = make_tunnel(gcp, cipher_suite=suite)
    assert list(tunnel.cipher_suite.phase1.encryption) == ["AES-GCM-16-256"]
    assert list(tunnel.cipher_suite.phase2.pfs) == ["Group-20"]
    bad = {"phase1": {"encryption": ["AES-CBC-512"]}}
    with pytest.raises(_gcp.GcpError) as failure:
        insert_tunnel(gcp, name="t1", interface=1, peer_interface=1, cipher_suite=bad)
    assert failure.value.status_code == 400 and "resource.cipherSuite.phase1.encryption" in str(failure.value)


def test_vpn_tunnels_have_no_update(gcp, url):
    make_site(gcp)
    make_tunnel(gcp)
    assert not hasattr(compute_v1.VpnTunnelsClient, "update") and not hasattr(compute_v1.VpnTunnelsClient, "patch")
    answer = raw(url, "PATCH", "regions/%s/vpnTunnels/t0" % REGION, {"sharedSecret": "other"})
    assert answer.status_code in (404, 405) and answer.json()["error"]["code"] == answer.status_code


def test_tunnel_status_is_down_until_the_data_plane_reports(gcp, url):
    make_site(gcp)
    tunnel = make_tunnel(gcp)
    assert (tunnel.status, tunnel.detailed_status) == ("WAITING_FOR_FULL_CONFIG", "Waiting for full config.")
    patch_router(gcp, bgp_patch(tunnel.self_link))
    get = {"project": PROJECT, "region": REGION, "vpn_tunnel": "t0"}
    assert gcp.read("get", gcp.vpn_tunnels.get, get).status == "FIRST_HANDSHAKE"
    report = {"vpn_tunnels": {"%s/t0" % REGION: {"status": "ESTABLISHED"}}}
    requests.post(url + "/_lab/status", json=report, timeout=5).raise_for_status()
    tunnel = gcp.read("get", gcp.vpn_tunnels.get, get)
    assert (tunnel.status, tunnel.detailed_status) == ("ESTABLISHED", "Tunnel is up and running.")
    requests.post(url + "/_lab/status", json={"vpn_tunnels": {"%s/t0" % REGION: None}}, timeout=5).raise_for_status()
    assert gcp.read("get", gcp.vpn_tunnels.get, get).status == "FIRST_HANDSHAKE"


def test_status_report_for_unknown_resources_is_refused_unless_ignored(gcp, url):
    make_site(gcp)
    make_tunnel(gcp)
    unknown = {"vpn_tunnels": {"%s/nope" % REGION: {"status": "ESTABLISHED"}}}
    assert requests.post(url + "/_lab/status", json=unknown, timeout=5).status_code == 400
    assert requests.post(url + "/_lab/status", json=dict(unknown, ignore_missing=True), timeout=5).status_code == 200
    bad_value = {"vpn_tunnels": {"%s/t0" % REGION: {"status": "UP"}}}
    assert requests.post(url + "/_lab/status", json=bad_value, timeout=5).status_code == 400
    inconsistent = {"routers": {"%s/cr" % REGION: {"bgp_peers": {"peer-0": {"status": "UP", "state": "Idle"}}}}}
    assert requests.post(url + "/_lab/status", json=inconsistent, timeout=5).status_code == 400


# -- Cloud Routers --------------------------------------------------------------------------------------
def test_router_patch_replaces_lists_wholesale(gcp):
    make_site(gcp)
    first = make_tunnel(gcp)
    second = make_tunnel(gcp, name="t1", interface=1, peer_interface=1)
    both = bgp_patch(first.self_link, 0)
    extra = bgp_patch(second.self_link, 1)
    both["interfaces"] += extra["interfaces"]
    both["bgp_peers"] += extra["bgp_peers"]
    patch_router(gcp, both)
    assert [peer.name for peer in get_router(gcp).bgp_peers] == ["peer-0", "peer-1"]
    # a PATCH that names only the second peer and interface drops the first: lists are replaced, not merged
    patch_router(gcp, extra)
    router = get_router(gcp)
    assert [peer.name for peer in router.bgp_peers] == ["peer-1"]
    assert [interface.name for interface in router.interfaces] == ["if-1"]
    # nested objects are merged: changing the advertise mode keeps the ASN
    patch_router(gcp, {"bgp": {"advertise_mode": "CUSTOM", "advertised_ip_ranges": [{"range": "10.10.0.0/16"}]}})
    router = get_router(gcp)
    assert router.bgp.asn == 65010 and router.bgp.advertise_mode == "CUSTOM"
    assert [item.range_ for item in router.bgp.advertised_ip_ranges] == ["10.10.0.0/16"]
    assert [peer.name for peer in router.bgp_peers] == ["peer-1"]


def test_router_update_replaces_the_whole_router(gcp):
    make_site(gcp)
    tunnel = make_tunnel(gcp)
    patch_router(gcp, bgp_patch(tunnel.self_link))
    router = get_router(gcp)
    replacement = compute_v1.Router(name="cr", network=router.network, bgp=compute_v1.RouterBgp(asn=65010))
    update = {"project": PROJECT, "region": REGION, "router": "cr", "router_resource": replacement}
    gcp.wait(gcp.mutate("update", gcp.routers.update, update))
    router = get_router(gcp)
    assert not router.interfaces and not router.bgp_peers and router.bgp.asn == 65010


@pytest.mark.parametrize("resource, message", [
    ({"bgp": {"asn": 100}}, "resource.bgp.asn"),
    ({"interfaces": [{"name": "if-0", "ip_range": "169.254.10.1/29"}]}, "must be a /30 in 169.254.0.0/16"),
    ({"interfaces": [{"name": "if-0", "ip_range": "10.0.0.1/30"}]}, "must be a /30 in 169.254.0.0/16"),
    ({"interfaces": [{"name": "if-0", "ip_range": "169.254.10.0/30"}]}, "usable host address"),
    ({"interfaces": [{"name": "if-0", "ip_range": "169.254.10.1/30"}, {"name": "if-1", "ip_range": "169.254.10.2/30"}]},
     "overlaps"),
    ({"interfaces": [{"name": "if-0", "linked_vpn_tunnel": "regions/us-central1/vpnTunnels/missing"}]}, "was not found"),
    ({"interfaces": [{"name": "if-0", "ip_range": "169.254.10.1/30"}],
      "bgp_peers": [{"name": "p", "interface_name": "if-9", "ip_address": "169.254.10.1", "peer_ip_address": "169.254.10.2",
                     "peer_asn": 64512}]}, "does not exist"),
    ({"interfaces": [{"name": "if-0", "ip_range": "169.254.10.1/30"}],
      "bgp_peers": [{"name": "p", "interface_name": "if-0", "peer_ip_address": "169.254.10.2", "peer_asn": 64512}]},
     "peer IP address 169.254.10.2 is specified, but IP address is not specified"),
    ({"interfaces": [{"name": "if-0", "ip_range": "169.254.10.1/30"}],
      "bgp_peers": [{"name": "p", "interface_name": "if-0", "ip_address": "169.254.10.1", "peer_ip_address": "169.254.11.2",
                     "peer_asn": 64512}]}, "resource.bgpPeers[0].peerIpAddress"),
    ({"interfaces": [{"name": "if-0", "ip_range": "169.254.10.1/30"}],
      "bgp_peers": [{"name": "p", "interface_name": "if-0", "ip_address": "169.254.10.1", "peer_ip_address": "169.254.10.2",
                     "peer_asn": 65010}]}, "must differ from the router's ASN"),
    ({"bgp": {"advertise_mode": "DEFAULT", "advertised_ip_ranges": [{"range": "10.0.0.0/8"}]}}, "only be set when advertiseMode is CUSTOM"),
])
def test_router_configuration_is_validated(gcp, resource, message):
    make_network(gcp)
    make_router(gcp)
    with pytest.raises(_gcp.GcpError) as failure:
        gcp.mutate("patch router", gcp.routers.patch, {"project": PROJECT, "region": REGION, "router": "cr", "router_resource": resource})
    assert message in str(failure.value)
    assert failure.value.status_code in (400, 404)


def test_router_interface_must_link_a_tunnel_of_that_router(gcp):
    make_site(gcp)
    make_router(gcp, name="other")
    tunnel = make_tunnel(gcp)
    with pytest.raises(_gcp.GcpError, match="not associated with router 'other'"):
        gcp.mutate("patch", gcp.routers.patch, {"project": PROJECT, "region": REGION, "router": "other",
                                                "router_resource": bgp_patch(tunnel.self_link)})


def test_router_custom_advertisements_round_trip(gcp):
    make_site(gcp)
    tunnel = make_tunnel(gcp)
    resource = bgp_patch(tunnel.self_link)
    resource["bgp_peers"][0].update(advertise_mode="CUSTOM", advertised_groups=["ALL_SUBNETS"], advertised_route_priority=150,
                                    advertised_ip_ranges=[{"range": "10.20.0.0/16", "description": "app"}])
    patch_router(gcp, resource)
    peer = get_router(gcp).bgp_peers[0]
    assert (peer.advertise_mode, list(peer.advertised_groups), peer.advertised_route_priority) == ("CUSTOM", ["ALL_SUBNETS"], 150)
    assert [(item.range_, item.description) for item in peer.advertised_ip_ranges] == [("10.20.0.0/16", "app")]


def test_router_status_reports_bgp_peers_down_until_the_data_plane_reports(gcp, url):
    make_site(gcp)
    tunnel = make_tunnel(gcp)
    resource = bgp_patch(tunnel.self_link)
    resource["bgp_peers"][0].update(advertise_mode="CUSTOM", advertised_ip_ranges=[{"range": "10.20.0.0/16"}])
    patch_router(gcp, resource)
    request = {"project": PROJECT, "region": REGION, "router": "cr"}
    peer = gcp.read("status", gcp.routers.get_router_status, request).result.bgp_peer_status[0]
    assert (peer.name, peer.status, peer.state, peer.num_learned_routes) == ("peer-0", "DOWN", "Idle", 0)
    assert (peer.ip_address, peer.peer_ip_address, peer.linked_vpn_tunnel) == ("169.254.10.1", "169.254.10.2", tunnel.self_link)
    report = {"routers": {"%s/cr" % REGION: {"bgp_peers": {"peer-0": {
        "status": "UP", "num_learned_routes": 1, "learned_prefixes": ["172.31.0.0/16"], "uptime_seconds": 65}}}}}
    requests.post(url + "/_lab/status", json=report, timeout=5).raise_for_status()
    status = gcp.read("status", gcp.routers.get_router_status, request).result
    peer = status.bgp_peer_status[0]
    assert (peer.status, peer.state, peer.num_learned_routes) == ("UP", "Established", 1)
    assert int(peer.uptime_seconds) >= 65 and "minutes" in peer.uptime
    assert [route.dest_range for route in peer.advertised_routes] == ["10.20.0.0/16"]
    assert [(route.dest_range, route.next_hop_ip, route.next_hop_vpn_tunnel) for route in status.best_routes] == [
        ("172.31.0.0/16", "169.254.10.2", tunnel.self_link)]
    # changing the peer's addresses drops the report: a new session starts down
    changed = bgp_patch(tunnel.self_link)
    changed["bgp_peers"][0]["peer_asn"] = 64513
    patch_router(gcp, changed)
    assert gcp.read("status", gcp.routers.get_router_status, request).result.bgp_peer_status[0].status == "DOWN"


# -- operations ---------------------------------------------------------------------------------------------
def test_operations_go_pending_running_done_and_the_resource_appears_when_done(gcp, url):
    make_network(gcp)
    configure(url, delays={"vpnGateways": 1.0})
    operation = gcp.mutate("gateway", gcp.vpn_gateways.insert_unary, GATEWAY_INSERT)
    assert operation.status == compute_v1.Operation.Status.PENDING and operation.operation_type == "insert"
    assert operation.region.endswith("/regions/%s" % REGION) and operation.target_link.endswith("/vpnGateways/ha")
    get = {"project": PROJECT, "region": REGION, "vpn_gateway": "ha"}
    assert gcp.read("get", gcp.vpn_gateways.get, get, missing_ok=True) is None
    time.sleep(0.3)
    operations_get = {"project": PROJECT, "region": REGION, "operation": operation.name}
    assert gcp.read("op", gcp.region_operations.get, operations_get).status == compute_v1.Operation.Status.RUNNING
    seen = []
    done = _gcp.wait_operation(gcp, operation, timeout=10, progress=lambda current: seen.append(current.status))
    assert done.status == compute_v1.Operation.Status.DONE and done.progress == 100 and done.end_time
    assert seen and seen[-1] == compute_v1.Operation.Status.DONE
    assert gcp.read("get", gcp.vpn_gateways.get, get).name == "ha"


def test_operation_wait_returns_the_current_state_after_its_bound(gcp, url):
    make_network(gcp)
    configure(url, delays={"vpnGateways": 3.0, "operations.wait": 0.3})
    operation = gcp.mutate("gateway", gcp.vpn_gateways.insert_unary, GATEWAY_INSERT)
    started = time.monotonic()
    current = gcp.region_operations.wait(project=PROJECT, region=REGION, operation=operation.name)
    assert current.status != compute_v1.Operation.Status.DONE
    assert 0.25 <= time.monotonic() - started < 2.0
    with pytest.raises(_gcp.GcpError, match="not done after"):
        _gcp.wait_operation(gcp, operation, timeout=0.5)


def test_global_operations_are_polled_through_the_global_client(gcp, url):
    configure(url, delays={"networks": 0.3})
    operation = gcp.mutate("network", gcp.networks.insert, {"project": PROJECT, "network_resource": {
        "name": "vpc", "auto_create_subnetworks": True}})
    assert not operation.region
    operation.result(timeout=10)  # ExtendedOperation polls the injected operations client, i.e. the lab
    by_operation = lab_requests(url)["summary"]["by_operation"]
    assert by_operation.get("compute.globalOperations.get", 0) >= 1
    assert gcp.read("get", gcp.networks.get, {"project": PROJECT, "network": "vpc"}).auto_create_subnetworks is True


def test_conflict_found_at_execution_is_reported_in_the_operation(gcp, url):
    make_site(gcp)
    configure(url, delays={"vpnGateways": 0.2, "vpnTunnels": 0.6})
    deletion = gcp.mutate("delete gateway", gcp.vpn_gateways.delete_unary, {"project": PROJECT, "region": REGION, "vpn_gateway": "ha"})
    # the gateway still exists (its deletion is running), so the tunnel insert is accepted ...
    tunnel_insert = {"project": PROJECT, "region": REGION, "vpn_tunnel_resource": tunnel_body()}
    insertion = gcp.mutate("tunnel", gcp.vpn_tunnels.insert_unary, tunnel_insert, secrets=[PSK])
    _gcp.wait_operation(gcp, deletion, timeout=10)
    # ... and fails when it executes, inside the operation
    with pytest.raises(_gcp.GcpError) as failure:
        _gcp.wait_operation(gcp, insertion, timeout=10)
    assert failure.value.status_code == 404 and failure.value.reason == "RESOURCE_NOT_FOUND"
    assert PSK not in str(failure.value) and "\n" not in str(failure.value)
    done = gcp.read("op", gcp.region_operations.get, {"project": PROJECT, "region": REGION, "operation": insertion.name})
    assert done.status == compute_v1.Operation.Status.DONE and done.error.errors[0].code == "RESOURCE_NOT_FOUND"
    assert done.http_error_status_code == 404
    assert gcp.read("get", gcp.vpn_tunnels.get, {"project": PROJECT, "region": REGION, "vpn_tunnel": "t0"}, missing_ok=True) is None


def test_duplicate_insert_is_refused_while_the_first_is_pending(gcp, url):
    make_network(gcp)
    configure(url, delays={"vpnGateways": 1.0})
    gcp.mutate("gateway", gcp.vpn_gateways.insert_unary, GATEWAY_INSERT)
    with pytest.raises(_gcp.GcpError) as failure:
        gcp.mutate("gateway", gcp.vpn_gateways.insert_unary, GATEWAY_INSERT)
    assert failure.value.status_code == 409


def test_request_id_makes_a_mutation_idempotent(gcp, url):
    make_network(gcp)
    request = {"project": PROJECT, "region": REGION, "request_id": str(uuid.uuid4()),
               "vpn_gateway_resource": {"name": "ha", "network": "global/networks/vpc"}}
    configure(url, faults={"rate": 1.0, "kinds": ["lost_response"]})
    plain = compute_v1.VpnGatewaysClient(credentials=AnonymousCredentials(), client_options={"api_endpoint": url})
    with pytest.raises(api_exceptions.ServiceUnavailable):
        plain.insert_unary(request=request)  # executed, answer lost
    configure(url, faults={"rate": 0.0})
    first = plain.insert_unary(request=request)
    again = plain.insert_unary(request=request)
    assert first.name == again.name
    gateways = list(plain.list(project=PROJECT, region=REGION))
    assert [gateway.name for gateway in gateways] == ["ha"]
    bad = dict(request, request_id="not-a-uuid")
    with pytest.raises(api_exceptions.BadRequest):
        plain.insert_unary(request=bad)


# -- errors, validation, request log, faults, reset -------------------------------------------------------------
def test_errors_use_googles_format(gcp, url):
    missing = raw(url, "GET", "regions/%s/vpnTunnels/nope" % REGION)
    error = missing.json()["error"]
    assert missing.status_code == 404 and error["code"] == 404 and error["status"] == "NOT_FOUND"
    assert error["errors"][0] == {"message": "The resource 'projects/%s/regions/%s/vpnTunnels/nope' was not found" % (PROJECT, REGION),
                                  "domain": "global", "reason": "notFound"}
    with pytest.raises(api_exceptions.NotFound):
        gcp.vpn_tunnels.get(project=PROJECT, region=REGION, vpn_tunnel="nope")
    make_network(gcp)
    with pytest.raises(api_exceptions.Conflict):
        gcp.networks.insert(project=PROJECT, network_resource={"name": "vpc", "auto_create_subnetworks": False})
    with pytest.raises(api_exceptions.BadRequest) as bad:
        gcp.networks.insert(project=PROJECT, network_resource={"name": "Bad_Name", "auto_create_subnetworks": False})
    assert bad.value.errors[0]["reason"] == "invalid"
    with pytest.raises(api_exceptions.NotFound):
        gcp.vpn_gateways.list(project=PROJECT, region="us-nowhere1")
    assert raw(url, "POST", "global/networks/vpc/addPeering", {}).json()["error"]["code"] == 501


def test_misspelled_field_is_rejected(url):
    # the SDK itself refuses a field its model does not have ...
    with pytest.raises(ValueError, match="Unknown field for VpnTunnel: shared_secrett"):
        compute_v1.VpnTunnel(shared_secrett=PSK)
    # ... and so does the stand-in, for clients that send JSON, with Google's message
    answer = raw(url, "POST", "regions/%s/vpnTunnels" % REGION, {"name": "t0", "sharedSecrett": "x"})
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == "Invalid JSON payload received. Unknown name \"sharedSecrett\" at 'resource': Cannot find field."
    nested = raw(url, "POST", "regions/%s/vpnTunnels" % REGION, {"name": "t0", "cipherSuite": {"phase1": {"encryptio": []}}})
    assert "at 'resource.cipher_suite.phase1'" in nested.json()["error"]["message"]
    wrong_type = raw(url, "POST", "regions/%s/vpnTunnels" % REGION, {"name": "t0", "ikeVersion": "two"})
    assert wrong_type.status_code == 400 and "ikeVersion" in wrong_type.json()["error"]["message"]
    assert raw(url, "GET", "regions/%s/vpnTunnels" % REGION, params={"maxResult": "1"}).status_code == 400


def test_misspelled_enum_value_is_rejected(gcp):
    with pytest.raises(_gcp.GcpError, match="resource.redundancyType"):
        make_external_gateway(gcp, redundancy="TWO_IP_REDUNDANCY", ids=(0, 1))
    make_network(gcp)
    with pytest.raises(_gcp.GcpError, match="resource.bgp.advertiseMode"):
        make_router(gcp, bgp={"asn": 65010, "advertise_mode": "CUSTOMISED"})


def test_list_filters_and_pages(gcp):
    make_network(gcp)
    for name in ("ha-a", "ha-b", "ha-c"):
        make_ha_gateway(gcp, name)
    pager = gcp.vpn_gateways.list(request={"project": PROJECT, "region": REGION, "max_results": 2})
    assert [gateway.name for gateway in pager] == ["ha-a", "ha-b", "ha-c"]
    filtered = gcp.vpn_gateways.list(request={"project": PROJECT, "region": REGION, "filter": 'name = "ha-b"'})
    assert [gateway.name for gateway in filtered] == ["ha-b"]
    aggregated = gcp.vpn_gateways.aggregated_list(request={"project": PROJECT})
    assert {scope: len(listed.vpn_gateways) for scope, listed in aggregated} == {"regions/%s" % REGION: 3}


def test_request_log_counts_calls_per_operation(gcp, url):
    make_network(gcp)
    requests.post(url + "/_lab/requests/clear", timeout=5).raise_for_status()
    make_ha_gateway(gcp)
    gcp.read("list", gcp.vpn_gateways.list, {"project": PROJECT, "region": REGION})
    summary = lab_requests(url)["summary"]
    assert summary["by_operation"] == {"compute.vpnGateways.insert": 1, "compute.vpnGateways.get": 1,
                                       "compute.vpnGateways.list": 1}
    assert (summary["writes"], summary["reads"], summary["faults"]) == (1, 2, 0)


@pytest.mark.parametrize("environ, expected", [
    (("POST", "/compute/v1/projects/p/regions/us-east1/vpnTunnels"), ("compute.vpnTunnels.insert", True)),
    (("GET", "/compute/v1/projects/p/regions/us-east1/routers/r/getRouterStatus"), ("compute.routers.getRouterStatus", False)),
    (("PATCH", "/compute/v1/projects/p/regions/us-east1/routers/r"), ("compute.routers.patch", True)),
    (("POST", "/compute/v1/projects/p/regions/us-east1/operations/op-1/wait"), ("compute.regionOperations.wait", False)),
    (("POST", "/compute/v1/projects/p/global/externalVpnGateways/g/setLabels"), ("compute.externalVpnGateways.setLabels", True)),
    (("GET", "/compute/v1/projects/p/aggregated/vpnTunnels"), ("compute.vpnTunnels.aggregatedList", False)),
    (("DELETE", "/compute/v1/projects/p/global/networks/n"), ("compute.networks.delete", True)),
])
def test_classifier_names_operations_as_compute_does(environ, expected):
    method, path = environ
    assert classify({"REQUEST_METHOD": method, "PATH_INFO": path, "SERVER_NAME": "x", "SERVER_PORT": "80",
                     "wsgi.url_scheme": "http"}) == expected


def test_faults_are_retried_by_the_sdk_retry(gcp, url):
    gcp.retry = _gcp.api_retry(20, initial=0.01, maximum=0.05)  # the adapter's policy, with short sleeps for the test
    configure(url, faults={"rate": 0.4, "seed": 1, "kinds": ["throttle", "server_error", "lost_response"]})
    make_site(gcp)
    make_tunnel(gcp)
    for _attempt in range(20):
        gcp.read("list", gcp.vpn_tunnels.list, {"project": PROJECT, "region": REGION})
    entries = lab_requests(url)["entries"]
    faulted = {(entry["fault"], entry["write"]) for entry in entries if entry.get("fault")}
    assert {kind for kind, _write in faulted} == {"throttle", "server_error", "lost_response"}
    assert ("lost_response", True) in faulted  # a change executed, its answer lost, retried with the same requestId
    configure(url, faults={"rate": 0.0})
    assert len(gcp.read("list", gcp.vpn_tunnels.list, {"project": PROJECT, "region": REGION}).items) == 1
    assert len(gcp.read("list", gcp.vpn_gateways.list, {"project": PROJECT, "region": REGION}).items) == 1


def test_sdk_default_retry_covers_503_but_not_429(url):
    plain = compute_v1.NetworksClient(credentials=AnonymousCredentials(), client_options={"api_endpoint": url})
    configure(url, faults={"rate": 0.5, "seed": 3, "kinds": ["server_error"]})
    assert list(plain.list(project=PROJECT)) == []  # compute_v1's own default Retry handles 503 on reads
    configure(url, faults={"rate": 1.0, "kinds": ["throttle"]})
    with pytest.raises(api_exceptions.TooManyRequests) as throttled:
        plain.list(project=PROJECT)
    assert throttled.value.errors[0]["reason"] == "rateLimitExceeded"


def test_reset_empties_the_stand_in(gcp, url):
    make_site(gcp)
    requests.post(url + "/_lab/reset", timeout=5).raise_for_status()
    assert lab_requests(url)["entries"] == []
    assert list(gcp.networks.list(project=PROJECT)) == []
    state = requests.get(url + "/_lab/state", timeout=5).json()
    assert state["projects"] == {} and state["tunnels"] == [] and state["operations"] == []


def test_module_runs_as_a_server_until_sigterm(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "gcp.json"
    config.write_text(json.dumps({"delays": {"vpnGateways": 2.5}}))
    lab_dir = os.path.dirname(os.path.abspath(__file__))
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([lab_dir, os.environ.get("PYTHONPATH", "")]))
    process = subprocess.Popen([sys.executable, "-m", "standins.gcp", "--host", "127.0.0.1", "--port", str(port), "--config", str(config)],
                               env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _attempt in range(100):
            try:
                if requests.get("http://127.0.0.1:%d/_lab/health" % port, timeout=1).json()["cloud"] == "gcp":
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        delays = requests.get("http://127.0.0.1:%d/_lab/config" % port, timeout=2).json()["delays"]
        assert delays["vpnGateways"] == 2.5
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err.decode()[-500:]

# The lab reconciler without the data plane: vocabulary, translation, status reports (no root needed).
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""Cloud objects are put into in-process stand-ins through the SDKs (the collection's adapters); their
/_lab/state is translated into the neutral description; status documents computed from a synthetic fabric
status are posted back and read through the SDKs as a playbook would.

Run: cd /work/main && PYTHONPATH=/work/ac:tests/lab /tmp/venvtest/v/bin/python -m pytest tests/lab/test_reconciler_translate.py -q
"""
from __future__ import annotations

import copy
import logging
import os
import re
import socket
import threading

import pytest
from werkzeug.serving import make_server

from dataplane import SpecError, expected_prefixes, links, normalize
from reconciler import Reconciler, TopologyError, VocabularyError, build_reports, load_topology, probe_namespace, translate, validate_topology
from reconciler import scenarios, vocabulary
from reconciler.scenarios import aws_telemetry, azure_bgp_peers, azure_connection_status, gcp_bgp_status, gcp_tunnel_status
from standins.azure import build_app as azure_app
from standins.ec2 import build_app as ec2_app
from standins.gcp import build_app as gcp_app

LAB_DIR = os.path.dirname(os.path.abspath(__file__))
logging.getLogger("werkzeug").setLevel(logging.ERROR)


# ---------------------------------------------------------------------------------------------- vocabulary
AWS_DEFAULTS = {"Phase1EncryptionAlgorithms": ["AES128", "AES256", "AES128-GCM-16", "AES256-GCM-16"],
                "Phase2EncryptionAlgorithms": ["AES128", "AES256", "AES128-GCM-16", "AES256-GCM-16"],
                "Phase1IntegrityAlgorithms": ["SHA1", "SHA2-256", "SHA2-384", "SHA2-512"],
                "Phase2IntegrityAlgorithms": ["SHA1", "SHA2-256", "SHA2-384", "SHA2-512"],
                "Phase1DHGroupNumbers": [2, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24],
                "Phase2DHGroupNumbers": [2, 5, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24], "IkeVersions": ["ikev1", "ikev2"]}


def test_aws_names_map_to_strongswan():
    narrow = dict(AWS_DEFAULTS, Phase1EncryptionAlgorithms=["AES256"], Phase1IntegrityAlgorithms=["SHA2-256"], Phase1DHGroupNumbers=[14],
                  Phase2EncryptionAlgorithms=["AES256"], Phase2IntegrityAlgorithms=["SHA2-256"], Phase2DHGroupNumbers=[14],
                  IkeVersions=["ikev2"])
    assert vocabulary.aws_proposals(narrow, 2) == (["aes256-sha256-modp2048"], ["aes256-sha256-modp2048"])
    assert vocabulary.aws_ike_version(narrow) == 2 and vocabulary.aws_ike_version(AWS_DEFAULTS) == 0
    ike, esp = vocabulary.aws_proposals(AWS_DEFAULTS, 0)
    # AEAD in a proposal of its own, with the integrity algorithms as PRFs; every DH group AWS allows
    assert ike[0] == ("aes128gcm16-aes256gcm16-prfsha1-prfsha256-prfsha384-prfsha512-modp1024-modp2048-modp3072-modp4096-modp6144-"
                      "modp8192-ecp256-ecp384-ecp521-modp1024s160-modp2048s224-modp2048s256")
    assert ike[1].startswith("aes128-aes256-sha1-sha256-sha384-sha512-modp1024-")
    assert esp[0].startswith("aes128gcm16-aes256gcm16-modp1024-modp1536-modp2048") and "sha" not in esp[0]
    assert all("modp" in proposal for proposal in esp), "AWS phase 2 always uses PFS"
    gcm_only = dict(narrow, Phase1EncryptionAlgorithms=["AES256-GCM-16"], IkeVersions=["ikev1"])
    with pytest.raises(VocabularyError, match="IKEv1"):
        vocabulary.aws_proposals(gcm_only, 1)
    with pytest.raises(VocabularyError, match="Phase1EncryptionAlgorithms"):
        vocabulary.aws_proposals(dict(narrow, Phase1EncryptionAlgorithms=["AES192"]), 2)


def test_gcp_names_and_defaults_map_to_strongswan():
    ike, esp = vocabulary.gcp_proposals(scenarios.GCP_SUITE, 2)
    assert (ike, esp) == (["aes256-sha256-prfsha256-modp2048"], ["aes256-sha256-modp2048"])
    suite = {"phase1": {"encryption": ["AES-GCM-16-256"], "prf": ["PRF-HMAC-SHA2-384"], "dh": ["Group-20"]},
             "phase2": {"encryption": ["AES-GCM-16-128"], "pfs": ["Group-31"]}}
    ike, esp = vocabulary.gcp_proposals(suite, 2)
    assert ike[0] == "aes256gcm16-prfsha384-ecp384"
    assert esp[0] == "aes128gcm16-curve25519"
    # no cipher suite: everything Cloud VPN supports, PFS optional in phase 2
    ike, esp = vocabulary.gcp_proposals(None, 2)
    joined = "-".join(ike)
    for keyword in ("aes128gcm16", "aes256gcm8", "aes256", "3des", "sha512", "aesxcbc", "prfaescmac", "modp2048", "ecp521", "curve25519",
                    "modp1024"):
        assert keyword in joined.split("-"), keyword
    assert "modp1024s160" not in joined, "Google dropped DH group 22"
    assert "aes128gcm16-aes192gcm16-aes256gcm16-aes128gcm12-aes192gcm12-aes256gcm12-aes128gcm8-aes192gcm8-aes256gcm8" in esp
    assert any("modp" not in p and "ecp" not in p and "curve" not in p for p in esp), "no-PFS accepted by default"
    ike_v1, _esp = vocabulary.gcp_proposals(None, 1)
    assert not any("gcm" in proposal for proposal in ike_v1)
    with pytest.raises(VocabularyError, match="cipherSuite.phase1.dh"):
        vocabulary.gcp_proposals({"phase1": {"dh": ["Group-22"]}}, 2)


def test_azure_names_and_defaults_map_to_strongswan():
    ike, esp, lifetime = vocabulary.azure_proposals([])
    assert ike == vocabulary.AZURE_DEFAULT_IKE and all(p.endswith("-modp1024") for p in ike), "default main mode: DH group 2 only"
    assert esp[0] == "aes256gcm16" and len(esp) == 26 and lifetime is None
    policy = {"ikeEncryption": "AES256", "ikeIntegrity": "SHA256", "dhGroup": "DHGroup14", "ipsecEncryption": "AES256",
              "ipsecIntegrity": "SHA256", "pfsGroup": "PFS2048", "saLifeTimeSeconds": 3600}
    assert vocabulary.azure_proposals([policy]) == (["aes256-sha256-modp2048"], ["aes256-sha256-modp2048"], 3600)
    gcm = dict(policy, ikeEncryption="GCMAES256", ikeIntegrity="GCMAES256", dhGroup="ECP384", ipsecEncryption="GCMAES128",
               ipsecIntegrity="GCMAES128", pfsGroup="PFSMM")
    assert vocabulary.azure_proposals([gcm])[:2] == (["aes256gcm16-prfsha384-ecp384"], ["aes128gcm16-ecp384"])
    no_pfs = vocabulary.azure_proposals([dict(policy, pfsGroup="None", dhGroup="DHGroup24")])[:2]
    assert no_pfs == (["aes256-sha256-modp2048s256"], ["aes256-sha256"])
    with pytest.raises(VocabularyError, match="do not go together"):
        vocabulary.azure_proposals([dict(policy, ipsecEncryption="GCMAES256")])


def test_the_lab_keeps_its_own_tables():
    """If the collection maps a name wrongly, the lab must not share the bug: no import of its _ipsec module."""
    directory = os.path.join(LAB_DIR, "reconciler")
    for name in os.listdir(directory):
        if name.endswith(".py"):
            with open(os.path.join(directory, name), encoding="utf-8") as handle:
                assert not re.search(r"^\s*(from|import)\s.*_ipsec", handle.read(), re.M), name


# ---------------------------------------------------------------------------------------------- topology
def test_topology_file_schema_and_probe_namespaces(tmp_path):
    topology = load_topology(os.path.join(LAB_DIR, "topology.yml"))
    assert [probe["name"] for probe in topology["aws"]["probes"]] == ["aws-probe"]
    assert topology["gcp"]["subnets"] == {"vpc": ["10.10.0.0/16"]}
    assert probe_namespace("lab", "aws-probe") == "lab-p-aws-probe"
    path = tmp_path / "topology.json"
    path.write_text('{"gcp": {"subnets": ["10.20.0.0/16"], "probes": []}}')
    assert load_topology(str(path))["gcp"]["subnets"] == {"*": ["10.20.0.0/16"]}
    for document, message in (({"aws": {"probes": [{"name": "Bad Name", "address": "10.0.1.1/24"}]}}, "name"),
                              ({"aws": {"probes": [{"name": "a", "address": "10.0.1.1"}]}}, "prefix length"),
                              ({"aws": {"probes": [{"name": "a", "address": "10.0.1.1/24"}]},
                                "azure": {"probes": [{"name": "a", "address": "10.1.1.1/24"}]}}, "duplicate"),
                              ({"vyos": {}}, "unknown top-level"), ({"aws": {"probes": [], "subnets": []}}, "unknown keys")):
        with pytest.raises(TopologyError, match=message):
            validate_topology(document)


# ---------------------------------------------------------------------------------------------- data plane additions
def _static_description() -> dict:
    return {"name": "unit", "sites": [{"id": "a", "asn": 64512, "networks": ["10.0.0.0/16"]}, {"id": "b", "asn": 65515, "networks": []}],
            "endpoints": [
                {"id": "a1", "site": "a", "outside_ip": "203.0.113.1", "remote_ip": "192.0.2.1", "psk": "k" * 10, "routing": "static",
                 "static_routes": ["10.1.0.0/16"], "inside_ip": "169.254.30.1/30", "ike_version": 0},
                {"id": "b1", "site": "b", "outside_ip": "192.0.2.1", "remote_ip": "203.0.113.1", "psk": "k" * 10, "routing": "static",
                 "static_routes": ["10.0.0.0/16"]},
                {"id": "b2", "site": "b", "outside_ip": "192.0.2.2", "remote_ip": "203.0.113.9", "psk": "k" * 10,
                 "inside_ip": "169.254.21.2/32", "bgp_peer_ip": "169.254.21.1", "bgp_peer_asn": 64512}]}


def test_data_plane_static_endpoints_host_inside_addresses_and_either_ike_version():
    spec = normalize(_static_description())
    by_id = {ep["id"]: ep for ep in spec["endpoints"]}
    assert by_id["b1"]["inside_ip"] is None and by_id["b1"]["bgp_peer_ip"] is None
    assert by_id["a1"]["ike_version"] == 0
    assert spec["sites"][1]["router_id"] == "10.255.255.2", "a site that announces nothing still gets a router id"
    assert expected_prefixes(spec) == {"a1": [], "b1": [], "b2": []}
    assert links(spec) == {"a1": "b1", "b1": "a1", "b2": None}
    for mutate, message in ((lambda d: d["endpoints"][0].update(bgp_peer_asn=65000), "only for routing bgp"),
                            (lambda d: d["endpoints"][2].update(static_routes=["10.9.0.0/16"]), "only for routing static"),
                            (lambda d: d["endpoints"][2].pop("bgp_peer_ip"), "bgp_peer_ip: required"),
                            (lambda d: d["endpoints"][2].update(bgp_peer_ip="169.254.21.2"), "inside_ip itself"),
                            (lambda d: d["endpoints"][0].update(id="aws-203.0.113.1"), "valid endpoint id"),
                            (lambda d: d["endpoints"][0].update(ike_version=3), "ike_version"),
                            (lambda d: d["endpoints"].append(dict(d["endpoints"][2], id="b3", outside_ip="192.0.2.3",
                                                                  inside_ip="169.254.21.6/32")), "already the BGP peer")):
        description = _static_description()
        mutate(description)
        with pytest.raises(SpecError, match=message):
            normalize(description)


# ---------------------------------------------------------------------------------------------- in-process stand-ins
@pytest.fixture(scope="module")
def standins():
    servers, urls = [], {}
    for cloud, build in (("aws", ec2_app), ("gcp", gcp_app), ("azure", azure_app)):
        server = make_server("127.0.0.1", 0, build(copy.deepcopy(scenarios.FAST_CONFIG)), threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        urls[cloud] = "http://127.0.0.1:%d" % server.server_port
    clouds = scenarios.Clouds(urls)
    yield clouds
    for server in servers:
        server.shutdown()


@pytest.fixture
def clouds(standins):
    standins.reset()
    return standins


def _states(clouds) -> dict:
    return {cloud: scenarios.lab_request(url, "state") for cloud, url in clouds.urls.items()}


def _healthy_status(description: dict, overrides: dict | None = None) -> dict:
    """A fabric status as Fabric.status() reports it, every endpoint up with its peer's networks (then overrides)."""
    spec = normalize(description)
    expected = expected_prefixes(spec)
    pairs = links(spec)
    endpoints = {}
    for endpoint in spec["endpoints"]:
        endpoints[endpoint["id"]] = {
            "ike_state": "ESTABLISHED", "child_installed": True, "errors": [], "peer_endpoint": pairs[endpoint["id"]],
            "charon_running": True, "routing": endpoint["routing"], "children": [{"bytes_in": 10, "bytes_out": 20}],
            "bgp": {"peer": endpoint["bgp_peer_ip"], "state": "Established" if endpoint["routing"] == "bgp" else None,
                    "prefixes": expected[endpoint["id"]], "uptime": "00:01:05"}}
    for endpoint_id, fields in (overrides or {}).items():
        endpoints[endpoint_id].update(fields)
    return {"endpoints": endpoints, "all_healthy": not overrides}


def _post(clouds, reports: dict) -> None:
    scenarios.lab_request(clouds.urls["aws"], "status", reports["aws"])
    for document in reports["gcp"]:
        scenarios.lab_request(clouds.urls["gcp"], "status", document)
    scenarios.lab_request(clouds.urls["azure"], "status", reports["azure"])


def test_aws_gcp_objects_become_paired_endpoints_with_each_sides_own_parameters(clouds):
    link = scenarios.build_aws_gcp(clouds)
    translation = translate(_states(clouds), scenarios.TOPOLOGY, "unit")
    description = translation["description"]
    assert not translation["notes"]
    spec = normalize(description)
    pairs = links(spec)
    by_id = {ep["id"]: ep for ep in spec["endpoints"]}
    assert len(by_id) == 8
    for tunnel in link["tunnels"]:
        gcp = by_id["gcp-" + tunnel["gcp"]]
        aws = by_id["aws-" + tunnel["aws_ip"].replace(".", "-")]
        assert pairs[gcp["id"]] == aws["id"]
        assert (gcp["outside_ip"], gcp["remote_ip"]) == (tunnel["ha_ip"], tunnel["aws_ip"])
        assert aws["inside_ip"].endswith(".1/30") and gcp["inside_ip"].endswith(".2/30")
        assert (aws["bgp_peer_asn"], gcp["bgp_peer_asn"]) == (scenarios.GCP_ASN, scenarios.AWS_ASN)
        assert (aws["start"], gcp["start"]) == ("wait", "initiate")
        assert gcp["psk"] == aws["psk"] and gcp["ike_lifetime"] == 36000 and aws["ike_lifetime"] == 28800
    sites = {site["id"]: site for site in spec["sites"]}
    assert sites["aws-" + link["vgw"]]["networks"] == ["10.0.0.0/16"] and sites["aws-" + link["vgw"]]["max_paths"] == 1
    assert sites["gcp-cr"]["networks"] == ["10.10.0.0/16"] and sites["gcp-cr"]["max_paths"] == 8
    assert [p["name"] for p in sites["gcp-cr"]["probes"]] == ["gcp-probe"]
    assert expected_prefixes(spec)["gcp-t0"] == ["10.0.0.0/16"]


def test_a_half_without_its_peer_is_never_invented(clouds):
    link = scenarios.build_aws_gcp(clouds)
    scenarios.gcp_recreate_tunnel(clouds.gcp, "t0", secret="not_the_aws_secret_0123", vpn_gateway_interface=1)
    clouds.ec2.delete_vpn_connection(VpnConnectionId=link["vpn_ids"][1])
    spec = normalize(translate(_states(clouds), scenarios.TOPOLOGY, "unit")["description"])
    pairs = links(spec)
    by_id = {ep["id"]: ep for ep in spec["endpoints"]}
    assert len([eid for eid in by_id if eid.startswith("aws-")]) == 2, "the deleted connection's tunnels are gone"
    assert pairs["gcp-t2"] is None and pairs["gcp-t3"] is None, "GCP tunnels keep endpoints that never find a peer"
    assert by_id["gcp-t0"]["outside_ip"] == link["ha_ips"][1] and pairs["gcp-t0"] is None
    assert by_id["gcp-t0"]["psk"] == "not_the_aws_secret_0123", "each side's own secret, never copied"
    assert pairs["gcp-t1"] is not None


def test_gcp_custom_advertisements_are_the_sites_networks(clouds):
    scenarios.build_aws_gcp(clouds)
    states = _states(clouds)
    for tunnel in states["gcp"]["tunnels"]:
        tunnel["bgp"].update(advertise_mode="CUSTOM", advertised_groups=[], advertised_ip_ranges=["10.10.0.0/16", "35.199.192.0/19"])
    sites = {site["id"]: site for site in translate(states, scenarios.TOPOLOGY, "unit")["description"]["sites"]}
    assert sites["gcp-cr"]["networks"] == ["10.10.0.0/16", "35.199.192.0/19"]
    for tunnel in states["gcp"]["tunnels"]:
        tunnel["bgp"].update(advertised_ip_ranges=["35.199.192.0/19"])
    translation = translate(states, scenarios.TOPOLOGY, "unit")
    sites = {site["id"]: site for site in translation["description"]["sites"]}
    assert sites["gcp-cr"]["networks"] == ["35.199.192.0/19"] and "probes" not in sites["gcp-cr"]
    assert any("gcp-probe" in note for note in translation["notes"])


def test_reports_flow_back_through_the_sdks(clouds):
    link = scenarios.build_aws_gcp(clouds)
    translation = translate(_states(clouds), scenarios.TOPOLOGY, "unit")
    t0, t1, t3 = link["tunnels"][0], link["tunnels"][1], link["tunnels"][3]
    _post(clouds, build_reports(translation, _healthy_status(translation["description"])))
    telemetry = aws_telemetry(clouds.ec2, link["vpn_ids"])
    assert all(value == ("UP", "1 BGP ROUTES", 1) for value in telemetry.values()), telemetry
    assert set(gcp_tunnel_status(clouds.gcp, ["t0", "t1", "t2", "t3"]).values()) == {"ESTABLISHED"}
    assert set(gcp_bgp_status(clouds.gcp).values()) == {("UP", 1)}
    propagated = clouds.ec2.describe_vpn_connections(VpnConnectionIds=link["vpn_ids"][:1])["VpnConnections"][0]
    assert propagated["VgwTelemetry"][0]["Status"] == "UP"
    broken = _healthy_status(translation["description"], {
        "gcp-t0": {"ike_state": None, "child_installed": False, "errors": ["AUTHENTICATION_FAILED"], "bgp": {"state": "Active"}},
        "aws-" + t0["aws_ip"].replace(".", "-"): {"ike_state": None, "child_installed": False, "bgp": {"state": "Active"}},
        "aws-" + t1["aws_ip"].replace(".", "-"): {"bgp": {"state": "Connect", "prefixes": []}},
        "gcp-t1": {"bgp": {"state": "Connect", "prefixes": []}},
        "gcp-t3": {"ike_state": None, "child_installed": False, "errors": ["NO_PROPOSAL_CHOSEN"]},
        "aws-" + t3["aws_ip"].replace(".", "-"): {"ike_state": None, "child_installed": False}})
    _post(clouds, build_reports(translation, broken))
    telemetry = aws_telemetry(clouds.ec2, link["vpn_ids"])
    assert telemetry[t0["aws_ip"]] == ("DOWN", "IPSEC IS DOWN", 0)
    assert telemetry[t1["aws_ip"]] == ("DOWN", "IPSEC IS UP", 0)
    assert telemetry[t3["aws_ip"]][0] == "DOWN", "a BGP session over a dead tunnel is down, whatever FRR still says"
    status = gcp_tunnel_status(clouds.gcp, ["t0", "t1", "t2", "t3"])
    assert status == {"t0": "AUTHORIZATION_ERROR", "t1": "ESTABLISHED", "t2": "ESTABLISHED", "t3": "NEGOTIATION_FAILURE"}
    bgp = gcp_bgp_status(clouds.gcp)
    assert bgp["peer-t1"] == ("DOWN", 0) and bgp["peer-t3"] == ("DOWN", 0) and bgp["peer-t2"] == ("UP", 1)
    _post(clouds, build_reports(translation, None))    # no fabric at all: everything down
    assert {value[0] for value in aws_telemetry(clouds.ec2, link["vpn_ids"]).values()} == {"DOWN"}


def test_azure_bgp_objects_keep_the_paired_instances_and_report_back(clouds):
    link = scenarios.build_aws_azure_bgp(clouds)
    translation = translate(_states(clouds), scenarios.TOPOLOGY, "unit")
    spec = normalize(translation["description"])
    pairs = links(spec)
    azure = {ep["id"]: ep for ep in spec["endpoints"] if ep["site"].startswith("az-")}
    assert len(azure) == 4 and all(pairs[eid] for eid in azure)
    assert sorted(ep["inside_ip"] for ep in azure.values()) == ["169.254.21.2/32", "169.254.21.6/32", "169.254.22.2/32", "169.254.22.6/32"]
    left_out = [eid for eid, binding in translation["bindings"].items() if not binding["accepted"]]
    assert len(left_out) == 4, "the unpaired instance of each connection conflicts with a paired tunnel and is left out"
    assert all(re.search("overlaps|already the BGP peer", translation["bindings"][eid]["reason"]) for eid in left_out)
    sites = {site["id"]: site for site in spec["sites"]}
    assert sites["az-az-gw"]["networks"] == ["10.1.0.0/16"] and sites["az-az-gw"]["asn"] == scenarios.AZURE_ASN
    _post(clouds, build_reports(translation, _healthy_status(translation["description"])))
    assert set(azure_connection_status(clouds.azure, [t["azure"] for t in link["tunnels"]]).values()) == {"Connected"}
    peers = azure_bgp_peers(clouds.azure)
    assert sum(1 for state in peers.values() if state == "Connected") == 4 and len(peers) == 8
    assert all(value == ("UP", "1 BGP ROUTES", 1) for value in aws_telemetry(clouds.ec2, link["vpn_ids"]).values())


def test_static_routing_from_aws_routes_and_local_network_gateway_prefixes(clouds):
    link = scenarios.build_aws_azure_static(clouds)
    translation = translate(_states(clouds), scenarios.TOPOLOGY, "unit")
    spec = normalize(translation["description"])
    pairs = links(spec)
    assert all(ep["routing"] == "static" for ep in spec["endpoints"])
    aws = [ep for ep in spec["endpoints"] if ep["site"].startswith("aws-")]
    azure = [ep for ep in spec["endpoints"] if ep["site"].startswith("az-")]
    assert len(aws) == 4 and all(ep["static_routes"] == ["10.1.0.0/16"] and ep["inside_ip"] for ep in aws)
    assert len(azure) == 4 and all(ep["static_routes"] == ["10.0.0.0/16"] and ep["inside_ip"] is None for ep in azure)
    assert sorted(ep["id"] for ep in aws if pairs[ep["id"]]) == sorted("aws-" + t["aws_ip"].replace(".", "-") for t in link["tunnels"])
    assert all(ep["ike_proposals"] == vocabulary.AZURE_DEFAULT_IKE for ep in azure)
    _post(clouds, build_reports(translation, _healthy_status(translation["description"], {
        ep["id"]: {"child_installed": False, "ike_state": None} for ep in spec["endpoints"] if not pairs[ep["id"]]})))
    telemetry = aws_telemetry(clouds.ec2, link["vpn_ids"])
    assert {ip: value for ip, value in telemetry.items() if value[0] == "UP"} == {t["aws_ip"]: ("UP", "", 0) for t in link["tunnels"]}


def test_the_loop_survives_clouds_that_are_not_running(standins):
    standins.reset()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = "http://127.0.0.1:%d" % sock.getsockname()[1]
    reconciler = Reconciler({"aws": closed, "gcp": standins.urls["gcp"], "azure": None}, scenarios.TOPOLOGY, "unit")
    summary = reconciler.step()
    assert summary["clouds"] == {"aws": False, "gcp": True, "azure": False}
    assert not summary["fabric_running"] and reconciler.fabric is None

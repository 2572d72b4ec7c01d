"""The lab's VyOS command interpreter (pure: no root, no daemons).

The reviewed golden command files of plugins/module_utils/_vyos.py, both syntaxes, are read as a
VyOS router would read them and must give the exact data-plane fragment written out below; every
mistake class the lab exists to catch must be an error naming the line.

Run: cd /work/main && PYTHONPATH=/work/ac:tests/lab /tmp/venvtest/v/bin/python -m pytest tests/lab/test_vyos_interp.py -q
"""
from __future__ import annotations

import copy
import itertools
import os
import re

import pytest

try:  # tests/lab as a package or as a plain directory on sys.path
    from .dataplane import links, normalize
    from .vyos_interp import VyosInterpError, interpret, parse_commands, vyos_site
except ImportError:
    from dataplane import links, normalize
    from vyos_interp import VyosInterpError, interpret, parse_commands, vyos_site

from ansible_collections.multicloud.vpn.plugins.module_utils import _ipsec
from ansible_collections.multicloud.vpn.plugins.module_utils._aws_config import parse_vpn_connection
from ansible_collections.multicloud.vpn.plugins.module_utils._vyos import render_vyos_commands

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "unit", "plugins", "module_utils", "fixtures")
BATFISH_KEYS = ("QMP5tKPP5qk95Y1Eee9c_82.MofNUJQV", "tYrysT4iT0.CRwQnhiBbng.BahDc7YPq")
NETBRAIN_KEYS = ("xlk6lMNzd4CNRP8YUX4PlRLVL4pV1FWS", "KMA_6TXDeJzOJAnrn6gnMEtCO0jbE655")


def golden(name: str) -> str:
    with open(os.path.join(FIXTURES, "vyos_golden", name + ".txt"), encoding="utf-8") as handle:
        return handle.read()


def endpoint(**fields) -> dict:
    base = {"site": "vyos", "ike_version": 1, "ike_lifetime": 28800, "esp_lifetime": 3600, "dpd_interval": 10, "dpd_timeout": 30,
            "dpd_action": "restart", "start": "initiate", "bgp_hold": 30, "bgp_keepalive": 10}
    base.update(fields)
    return base


BATFISH_ENDPOINTS = [
    endpoint(id="vyos-vti0", outside_ip="192.168.1.10", remote_ip="52.27.166.152", psk=BATFISH_KEYS[0],
             ike_proposals=["aes128-sha512-modp1024"], esp_proposals=["aes128-sha512-modp4096"],
             local_id="147.75.69.27", remote_id="52.27.166.152", inside_ip="169.254.15.194/30",
             bgp_peer_ip="169.254.15.193", bgp_peer_asn=65401),
    endpoint(id="vyos-vti1", outside_ip="192.168.1.10", remote_ip="52.39.121.126", psk=BATFISH_KEYS[1],
             ike_proposals=["aes256-sha512-modp2048s224"], esp_proposals=["aes128gcm16-sha512-modp4096"],
             local_id="147.75.69.27", remote_id="52.39.121.126", inside_ip="169.254.13.238/30",
             bgp_peer_ip="169.254.13.237", bgp_peer_asn=65401),
]
NETBRAIN_ENDPOINTS = [
    endpoint(id="vyos-vti0", outside_ip="3.15.245.169", remote_ip="3.18.239.122", psk=NETBRAIN_KEYS[0],
             ike_proposals=["aes128-sha1-modp1024"], esp_proposals=["aes128-sha1-modp1024"],
             local_id=None, remote_id="3.18.239.122", inside_ip="169.254.225.10/30", bgp_peer_ip="169.254.225.9", bgp_peer_asn=64512),
    endpoint(id="vyos-vti1", outside_ip="3.15.245.169", remote_ip="52.15.217.142", psk=NETBRAIN_KEYS[1],
             ike_proposals=["aes128-sha1-modp1024"], esp_proposals=["aes128-sha1-modp1024"],
             local_id=None, remote_id="52.15.217.142", inside_ip="169.254.68.26/30", bgp_peer_ip="169.254.68.25", bgp_peer_asn=64512),
]


def legacy(endpoints):
    """The legacy files set no remote-id (VyOS <= 1.3 peers are keyed by address)."""
    return [dict(item, remote_id=None) for item in endpoints]


GOLDEN_CASES = [
    ("batfish_describe_nat_current", "147.75.69.27", "current", 65301, ["10.20.0.0/16"], BATFISH_ENDPOINTS),
    ("batfish_describe_nat_legacy", "147.75.69.27", "legacy", 65301, ["10.20.0.0/16"], legacy(BATFISH_ENDPOINTS)),
    ("netbrain_conn1_xml_no_nat_current", None, "current", 64513, ["10.30.0.0/16"], NETBRAIN_ENDPOINTS),
    ("netbrain_conn1_xml_no_nat_legacy", None, "legacy", 64513, ["10.30.0.0/16"], legacy(NETBRAIN_ENDPOINTS)),
]


@pytest.mark.parametrize("name, public_ip, syntax, asn, networks, endpoints", GOLDEN_CASES, ids=[case[0] for case in GOLDEN_CASES])
def test_golden_commands_give_the_exact_fragment(name, public_ip, syntax, asn, networks, endpoints):
    fragment = vyos_site(golden(name), site_id="vyos", public_ip=public_ip)
    assert fragment["syntax"] == syntax
    assert fragment["site"] == {"id": "vyos", "asn": asn, "networks": networks}
    assert fragment["endpoints"] == endpoints
    expected_nat = {"public_ip": "147.75.69.27", "private_ip": "192.168.1.10"} if public_ip else None
    assert fragment["nat"] == expected_nat


def test_the_module_commands_list_is_read_like_the_file():
    text = golden("netbrain_conn1_xml_no_nat_current")
    assert vyos_site(text.splitlines(), site_id="vyos") == vyos_site(text, site_id="vyos")


def test_interpret_keeps_the_vti_facts():
    router = interpret(golden("batfish_describe_nat_current"))
    assert [(tunnel["peer"], tunnel["vti"], tunnel["mtu"], tunnel["adjust_mss"]) for tunnel in router["tunnels"]] == [
        ("aws-52-27-166-152", "vti0", 1436, 1379), ("aws-52-39-121-126", "vti1", 1436, 1379)]
    assert router["ipsec_interfaces"] == ["eth0"] and router["route_autoinstall"] is False
    assert interpret(golden("batfish_describe_nat_legacy"))["ipsec_interfaces"] == ["eth0"]


def aws_side(vyos_endpoints, customer_ip):
    """What an AWS stand-in would describe for the same tunnels (only to check pairing and validity)."""
    result = []
    for index, item in enumerate(vyos_endpoints):
        inside = item["inside_ip"].split("/")[0]
        result.append({
            "id": "aws-t%d" % index, "site": "aws", "outside_ip": item["remote_ip"], "remote_ip": customer_ip, "psk": item["psk"],
            "ike_version": 1, "start": "wait", "inside_ip": "%s/30" % item["bgp_peer_ip"], "bgp_peer_ip": inside, "bgp_peer_asn": 64513,
        })
    return result


def test_fragment_is_a_valid_data_plane_description_and_pairs_with_the_aws_side():
    fragment = vyos_site(golden("netbrain_conn1_xml_no_nat_legacy"), site_id="vyos")
    site = dict(fragment["site"], probes=[{"name": "vyos-probe", "address": "10.30.1.10/24"}])
    description = {
        "name": "vyosinterp",
        "sites": [site, {"id": "aws", "asn": 64512, "networks": ["10.0.0.0/16"]}],
        "endpoints": fragment["endpoints"] + aws_side(fragment["endpoints"], "3.15.245.169"),
    }
    spec = normalize(description)
    assert links(spec) == {"vyos-vti0": "aws-t0", "vyos-vti1": "aws-t1", "aws-t0": "vyos-vti0", "aws-t1": "vyos-vti1"}


def test_behind_nat_the_description_alone_does_not_pair_the_tunnels():
    # outside_ip is the private address; AWS knows the public one: only a 1:1 NAT in the lab joins them.
    fragment = vyos_site(golden("batfish_describe_nat_current"), site_id="vyos", public_ip="147.75.69.27")
    description = {
        "name": "vyosnat",
        "sites": [fragment["site"], {"id": "aws", "asn": 65401, "networks": ["10.0.0.0/16"]}],
        "endpoints": fragment["endpoints"] + aws_side(fragment["endpoints"], "147.75.69.27"),
    }
    assert set(links(normalize(description)).values()) == {None}


# ---------------------------------------------------------------------------------- NAT fix
def test_nat_fix_local_id_is_public_and_outside_ip_is_private():
    for name in ("batfish_describe_nat_current", "batfish_describe_nat_legacy"):
        fragment = vyos_site(golden(name), site_id="vyos", public_ip="147.75.69.27")
        assert {(item["outside_ip"], item["local_id"]) for item in fragment["endpoints"]} == {("192.168.1.10", "147.75.69.27")}
        assert fragment["nat"] == {"public_ip": "147.75.69.27", "private_ip": "192.168.1.10"}


def test_no_nat_when_the_public_address_is_the_local_address():
    fragment = vyos_site(golden("netbrain_conn1_xml_no_nat_current"), site_id="vyos", public_ip="3.15.245.169")
    assert fragment["nat"] is None
    assert {item["local_id"] for item in fragment["endpoints"]} == {None}


def test_nat_without_local_id_is_left_to_fail_in_strongswan():
    lines = [line for line in golden("batfish_describe_nat_current").splitlines() if "authentication local-id" not in line]
    fragment = vyos_site(lines, site_id="vyos", public_ip="147.75.69.27")
    # The IKE identity falls back to the private address, which AWS does not expect: the data plane, not the
    # interpreter, must show the failure (AUTHENTICATION_FAILED), exactly as on a real network.
    assert {item["local_id"] for item in fragment["endpoints"]} == {None}
    assert fragment["nat"] == {"public_ip": "147.75.69.27", "private_ip": "192.168.1.10"}


def test_bad_public_ip_and_site_id():
    with pytest.raises(VyosInterpError, match="public_ip 'nope' is not an IPv4 address"):
        vyos_site(golden("netbrain_conn1_xml_no_nat_current"), site_id="vyos", public_ip="nope")
    with pytest.raises(VyosInterpError, match="site_id 'VyOS!'"):
        vyos_site(golden("netbrain_conn1_xml_no_nat_current"), site_id="VyOS!")


# ---------------------------------------------------------------------------------- errors name the line
def replaced(name, old, new):
    text = golden(name)
    assert old in text
    return text.replace(old, new)


def line_of(text, fragment):
    numbers = [number for number, line in enumerate(text.splitlines(), start=1) if fragment in line]
    assert numbers, fragment
    return numbers[0]


def error_of(source, **kwargs) -> VyosInterpError:
    with pytest.raises(VyosInterpError) as caught:
        vyos_site(source, site_id="vyos", **kwargs)
    return caught.value


@pytest.mark.parametrize("extra, message", [
    ("set vpn ipsec site-to-site peer aws-3-18-239-122 force-udp-encapsulation", "'force-udp-encapsulation' is not understood after"),
    ("set interfaces vti vti0 adress '169.254.225.10/30'", "'adress' is not understood after 'interfaces vti vti0'"),
    ("set system host-name 'vyos'", "'system' is not understood after 'set'"),
    ("delete vpn ipsec ike-group aws-vpn-xxxxxxxxxxxxxxxxx", "only 'set' commands are understood (got 'delete')"),
    ("commit", "only 'set' commands are understood (got 'commit')"),
    ("set vpn ipsec ike-group aws-vpn-xxxxxxxxxxxxxxxxx proposal 1 encryption 'aes512'", "'aes512' is not one of"),
    ("set vpn ipsec ike-group aws-vpn-xxxxxxxxxxxxxxxxx lifetime '10'", "10 is outside 30-86400"),
    ("set protocols bgp neighbor 169.254.225.9 remote-as", "needs a value"),
    ("set vpn ipsec options disable-route-autoinstall 'yes'", "takes no value"),
    ("set vpn ipsec site-to-site peer aws-3-18-239-122 description two words", "takes one value"),
    ('set interfaces vti vti0 description "x"', "only single quotes are understood"),
    ("set interfaces vti vti0 description 'x", "unterminated single quote"),
])
def test_a_command_not_understood_is_an_error_naming_its_line(extra, message):
    lines = golden("netbrain_conn1_xml_no_nat_current").splitlines()
    lines.insert(5, extra)
    error = error_of(lines)
    assert message in str(error)
    assert error.line_number == 6


def test_blank_lines_and_comments_are_not_commands():
    text = "# generated\n\n" + golden("netbrain_conn1_xml_no_nat_current")
    assert vyos_site(text, site_id="vyos")["endpoints"] == NETBRAIN_ENDPOINTS


def test_quoting_like_vyos():
    commands = parse_commands("set interfaces vti vti0 description 'AWS tunnel 1'\nset interfaces  vti 'vti'0 mtu '1436'")
    assert [command.words for command in commands] == [
        ("set", "interfaces", "vti", "vti0", "description", "AWS tunnel 1"),
        ("set", "interfaces", "vti", "vti0", "mtu", "1436"),
    ]


def test_mixing_the_two_syntaxes_is_an_error():
    text = golden("netbrain_conn1_xml_no_nat_current") + "set vpn ipsec ipsec-interfaces interface 'eth0'\n"
    error = error_of(text)
    assert "VyOS <= 1.3 (legacy) syntax, but line 1 is VyOS 1.4+ (current) syntax" in str(error)
    assert error.line_number == len(text.splitlines())
    legacy_text = replaced("netbrain_conn1_xml_no_nat_legacy", "set protocols bgp 64513 address-family", "set protocols bgp address-family")
    assert "VyOS 1.4+ (current) syntax" in str(error_of(legacy_text))


def test_peer_bound_to_a_missing_esp_group_is_an_error_at_the_binding():
    text = replaced("netbrain_conn1_xml_no_nat_current", "peer aws-52-15-217-142 vti esp-group 'aws-vpn-xxxxxxxxxxxxxxxxx'",
                    "peer aws-52-15-217-142 vti esp-group 'aws-other'")
    error = error_of(text)
    assert "esp-group 'aws-other' is not defined" in str(error)
    assert error.line_number == line_of(text, "vti esp-group 'aws-other'")


def test_groups_that_no_peer_uses_are_an_error():
    text = replaced("netbrain_conn1_xml_no_nat_current", "ike-group aws-vpn-xxxxxxxxxxxxxxxxx lifetime", "ike-group spare lifetime")
    error = error_of(text)
    assert "ike-group spare is defined but no peer uses it" in str(error)
    assert error.line_number == line_of(text, "ike-group spare")


def test_peer_referencing_a_missing_ike_group_is_an_error():
    text = replaced("netbrain_conn1_xml_no_nat_legacy", "peer 3.18.239.122 ike-group 'aws-vpn-xxxxxxxxxxxxxxxxx'", "peer 3.18.239.122 ike-group 'nope'")
    error = error_of(text)
    assert "ike-group 'nope' is not defined" in str(error)
    assert error.line_number == line_of(text, "ike-group 'nope'")


def test_vti_without_address_and_missing_vti():
    text = "\n".join(line for line in golden("netbrain_conn1_xml_no_nat_current").splitlines() if "vti1 address" not in line)
    error = error_of(text)
    assert "interfaces vti vti1 has no address" in str(error)
    assert error.line_number == line_of(text, "interfaces vti vti1")

    text = replaced("netbrain_conn1_xml_no_nat_current", "vti bind 'vti1'", "vti bind 'vti7'")
    error = error_of(text)
    assert "vti bind 'vti7', but there is no 'interfaces vti vti7'" in str(error)
    assert error.line_number == line_of(text, "vti bind 'vti7'")


def test_two_peers_on_one_vti_is_an_error():
    text = replaced("netbrain_conn1_xml_no_nat_current", "vti bind 'vti1'", "vti bind 'vti0'")
    assert "vti0 is already bound to peer aws-3-18-239-122" in str(error_of(text))


def test_psk_that_lists_neither_identity_is_an_error():
    text = golden("netbrain_conn1_xml_no_nat_current").replace("id '3.15.245.169'", "id '3.15.245.170'")
    text = text.replace("psk aws-52-15-217-142 id '52.15.217.142'", "psk aws-52-15-217-142 id '52.15.217.143'")
    error = error_of(text)
    assert "peer aws-52-15-217-142: no 'vpn ipsec authentication psk' lists its identities (local 3.15.245.169, remote 52.15.217.142)" in str(error)
    assert error.line_number == line_of(text, "peer aws-52-15-217-142")


def test_psk_matching_follows_strongswan_best_match():
    # Entry 2 names only a wrong remote: strongSwan would take entry 1 (it lists the shared local address),
    # i.e. tunnel 1's key on tunnel 2; the unused entry gives it away.
    text = replaced("netbrain_conn1_xml_no_nat_current", "psk aws-52-15-217-142 id '52.15.217.142'", "psk aws-52-15-217-142 id '52.15.217.143'")
    text = text.replace("psk aws-52-15-217-142 id '3.15.245.169'", "psk aws-52-15-217-142 id '3.15.245.170'")
    error = error_of(text)
    assert "vpn ipsec authentication psk aws-52-15-217-142 is defined but no peer uses it" in str(error)


def test_proposal_without_hash_is_an_error_not_a_silent_drop():
    text = "\n".join(line for line in golden("netbrain_conn1_xml_no_nat_current").splitlines()
                     if "esp-group aws-vpn-xxxxxxxxxxxxxxxxx proposal 1 hash" not in line)
    error = error_of(text)
    assert "proposal 1 has no hash: VyOS would silently drop this proposal" in str(error)


def test_neighbor_without_ipv4_unicast_would_exchange_no_routes():
    text = "\n".join(line for line in golden("netbrain_conn1_xml_no_nat_current").splitlines()
                     if "169.254.68.25 address-family" not in line)
    error = error_of(text)
    assert "neighbor 169.254.68.25 has no 'address-family ipv4-unicast'" in str(error)
    assert error.line_number == line_of(text, "neighbor 169.254.68.25")


def test_neighbor_over_no_tunnel_and_tunnel_without_neighbor():
    text = replaced("netbrain_conn1_xml_no_nat_current", "neighbor 169.254.68.25 ", "neighbor 169.254.69.25 ")
    error = error_of(text)
    assert "vti1 (169.254.68.26/30, peer aws-52-15-217-142): no BGP neighbor in 169.254.68.24/30" in str(error)


def test_a_second_different_value_is_refused_and_secrets_stay_out_of_errors():
    lines = golden("netbrain_conn1_xml_no_nat_current").splitlines()
    lines.append("set vpn ipsec authentication psk aws-3-18-239-122 secret 'another_secret_value'")
    error = error_of(lines)
    assert "'secret' was already set to '********' on line 22" in str(error)
    assert NETBRAIN_KEYS[0] not in str(error) and "another_secret_value" not in str(error)
    assert error.line.endswith("secret '********'")


def test_static_routing_has_no_bgp_to_run():
    text = "\n".join(line for line in golden("netbrain_conn1_xml_no_nat_current").splitlines() if "protocols bgp" not in line)
    assert "no 'protocols bgp'" in str(error_of(text))


# ---------------------------------------------------------------------------------- semantics
def small_config(**changes):
    """A hand-written current-syntax router: one peer, every setting explicit unless changed."""
    settings = {
        "ike": ["key-exchange 'ikev2'", "proposal 1 encryption 'aes256gcm128'", "proposal 1 hash 'sha384'", "proposal 1 prf 'prfsha384'",
                "proposal 1 dh-group '20'", "proposal 2 encryption 'aes128'", "proposal 2 hash 'sha256'", "proposal 2 dh-group '14'"],
        "esp": ["pfs 'enable'", "proposal 1 encryption 'aes256gcm128'", "proposal 1 hash 'sha384'"],
        "peer": ["authentication mode 'pre-shared-secret'", "authentication remote-id '198.51.100.1'", "ike-group 'IKE'",
                 "local-address '203.0.113.5'", "remote-address '198.51.100.1'", "vti bind 'vti3'", "vti esp-group 'ESP'",
                 "connection-type 'respond'"],
        "bgp": ["system-as '65010'", "address-family ipv4-unicast network '10.9.0.0/16'", "parameters router-id '10.9.0.1'",
                "neighbor 169.254.30.1 remote-as '64512'", "neighbor 169.254.30.1 address-family ipv4-unicast"],
    }
    settings.update(changes)
    lines = ["set vpn ipsec ike-group IKE %s" % item for item in settings["ike"]]
    lines += ["set vpn ipsec esp-group ESP %s" % item for item in settings["esp"]]
    lines += ["set vpn ipsec authentication psk p1 id '203.0.113.5'", "set vpn ipsec authentication psk p1 id '198.51.100.1'",
              "set vpn ipsec authentication psk p1 secret 'lab_secret_1'", "set interfaces vti vti3 address '169.254.30.2/30'"]
    lines += ["set vpn ipsec site-to-site peer edge %s" % item for item in settings["peer"]]
    lines += ["set protocols bgp %s" % item for item in settings["bgp"]]
    return lines


def test_explicit_router_defaults_and_pfs_enable():
    fragment = vyos_site(small_config(), site_id="edge")
    assert fragment["site"] == {"id": "edge", "asn": 65010, "networks": ["10.9.0.0/16"], "router_id": "10.9.0.1"}
    (item,) = fragment["endpoints"]
    assert item["ike_proposals"] == ["aes256gcm16-sha384-prfsha384-ecp384", "aes128-sha256-modp2048"]
    # pfs enable = the FIRST ike proposal's group (vyos-1x get_first_ike_dh_group)
    assert item["esp_proposals"] == ["aes256gcm16-sha384-ecp384"]
    assert (item["ike_version"], item["start"], item["dpd_action"]) == (2, "wait", "none")
    assert (item["ike_lifetime"], item["esp_lifetime"]) == (28800, 3600)
    # neighbour timers unset: FRR's defaults, as VyOS leaves them
    assert (item["bgp_keepalive"], item["bgp_hold"]) == (60, 180)
    assert item["id"] == "edge-vti3" and item["psk"] == "lab_secret_1"


def test_neighbor_timers_need_both_values_like_vyos():
    lines = small_config()
    lines.append("set protocols bgp neighbor 169.254.30.1 timers holdtime '30'")
    assert vyos_site(lines, site_id="edge")["endpoints"][0]["bgp_hold"] == 180
    lines.append("set protocols bgp neighbor 169.254.30.1 timers keepalive '10'")
    item = vyos_site(lines, site_id="edge")["endpoints"][0]
    assert (item["bgp_hold"], item["bgp_keepalive"]) == (30, 10)


@pytest.mark.parametrize("esp, expected", [
    (["pfs 'disable'", "proposal 1 encryption 'aes128'", "proposal 1 hash 'sha1'"], ["aes128-sha1"]),
    (["pfs 'dh-group19'", "proposal 1 encryption 'aes128'", "proposal 1 hash 'sha1'"], ["aes128-sha1-ecp256"]),
    (["proposal 1 encryption 'aes128'", "proposal 1 hash 'sha1'"], ["aes128-sha1-ecp384"]),  # pfs defaults to enable
])
def test_esp_pfs(esp, expected):
    assert vyos_site(small_config(esp=esp), site_id="edge")["endpoints"][0]["esp_proposals"] == expected


@pytest.mark.parametrize("change, message", [
    (dict(ike=["proposal 1 encryption 'blowfish128'", "proposal 1 hash 'sha1'"]), "encryption 'blowfish128' is valid VyOS but the lab has no"),
    (dict(ike=["mode 'aggressive'", "proposal 1 encryption 'aes128'", "proposal 1 hash 'sha1'"]), "aggressive mode is not run by the lab"),
    (dict(esp=["mode 'transport'", "proposal 1 encryption 'aes128'", "proposal 1 hash 'sha1'"]), "mode transport; a VTI carries"),
    (dict(esp=["compression", "proposal 1 encryption 'aes128'", "proposal 1 hash 'sha1'"]), "compression (IPComp) is not run"),
    (dict(ike=["dead-peer-detection action 'hold'", "proposal 1 encryption 'aes128'", "proposal 1 hash 'sha1'"]), "action 'hold' (trap)"),
])
def test_valid_vyos_the_lab_cannot_run_is_an_error(change, message):
    assert message in str(error_of(small_config(**change)))


def test_remote_id_any_matches_the_psk_by_address():
    lines = [line.replace("remote-id '198.51.100.1'", "remote-id '%any'") for line in small_config()]
    item = vyos_site(lines, site_id="edge")["endpoints"][0]
    assert item["remote_id"] == "%any" and item["psk"] == "lab_secret_1"


def test_the_lab_tables_are_its_own():
    package = os.path.join(HERE, "vyos_interp")
    for name in os.listdir(package):
        if name.endswith(".py"):
            with open(os.path.join(package, name), encoding="utf-8") as handle:
                imports = [line for line in handle if re.match(r"\s*(from|import)\s", line)]
            assert not [line for line in imports if re.search(r"module_utils|_ipsec|_vyos|ansible", line)], name


# ---------------------------------------------------------------------------------- renderer x interpreter
_INTEGRITY_TOKEN = re.compile(r"sha\d*(_\d+)?|md5(_128)?|aes(xcbc|cmac)")
_AEAD_TOKEN = re.compile(r".*(gcm|ccm)\d+|chacha20poly1305")


def _strongswan_view(proposal: str, protocol: str) -> frozenset:
    """A proposal as strongSwan keeps it (proposal.c check_proposal): an IKE proposal without a PRF takes the
    PRF of its integrity algorithm; integrity algorithms are then dropped next to an AEAD cipher."""
    tokens = proposal.split("-")
    if protocol == "ike" and not any(token.startswith("prf") for token in tokens):
        tokens += ["prf" + token for token in tokens if _INTEGRITY_TOKEN.fullmatch(token)]
    if any(_AEAD_TOKEN.fullmatch(token) for token in tokens):
        tokens = [token for token in tokens if not _INTEGRITY_TOKEN.fullmatch(token)]
    return frozenset(tokens)


def netbrain():
    with open(os.path.join(FIXTURES, "aws_cgw", "netbrain_vpn_conn1.xml"), encoding="utf-8") as handle:
        return parse_vpn_connection(handle.read())


COMBINATIONS = list(itertools.product(_ipsec.AWS_ENCRYPTIONS, _ipsec.AWS_INTEGRITIES, (2, 14, 20, 24), ("current", "legacy")))


@pytest.mark.parametrize("encryption, integrity, group, syntax", COMBINATIONS, ids=["-".join(map(str, case)) for case in COMBINATIONS])
def test_rendered_commands_negotiate_what_the_aws_side_offers(encryption, integrity, group, syntax):
    """One single-value AWS tunnel option set -> _vyos commands -> interpreter: strongSwan must see the AWS side's proposal."""
    connection = netbrain()
    for tunnel in connection["tunnels"]:
        for phase in ("ike", "ipsec"):
            tunnel[phase].update(encryption=[encryption], integrity=[integrity], dh_groups=[group])
        tunnel["ike"]["versions"] = ["ikev2"]
    commands = render_vyos_commands(connection, local_address="3.15.245.169", networks=["10.30.0.0/16"], syntax=syntax)
    fragment = vyos_site(commands, site_id="vyos")
    profile = _ipsec.IpsecProfile(ike_versions=("ikev2",), phase1_encryption=(encryption,), phase1_integrity=(integrity,),
                                  phase1_dh_groups=(group,), phase2_encryption=(encryption,), phase2_integrity=(integrity,),
                                  phase2_dh_groups=(group,))
    aws_ike, aws_esp = _ipsec.strongswan_proposals(profile)
    for item in fragment["endpoints"]:
        assert item["ike_version"] == 2
        assert [_strongswan_view(proposal, "ike") for proposal in item["ike_proposals"]] == [_strongswan_view(aws_ike, "ike")]
        assert [_strongswan_view(proposal, "esp") for proposal in item["esp_proposals"]] == [_strongswan_view(aws_esp, "esp")]


def test_interpreter_sees_a_renderer_mistake():
    """A renderer that names the ESP group wrongly on one peer must not get past the lab."""
    commands = render_vyos_commands(netbrain(), local_address="3.15.245.169", networks=["10.30.0.0/16"])
    broken = copy.deepcopy(commands)
    index = next(i for i, line in enumerate(broken) if "aws-52-15-217-142 vti esp-group" in line)
    broken[index] = broken[index].replace("'aws-vpn-xxxxxxxxxxxxxxxxx'", "'aws-52-15-217-142'")
    error = error_of(broken)
    assert error.line_number == index + 1 and "esp-group 'aws-52-15-217-142' is not defined" in str(error)


def test_a_router_that_announces_nothing_still_peers():
    lines = [line for line in small_config() if "address-family ipv4-unicast network" not in line]
    fragment = vyos_site(lines, site_id="edge")
    assert fragment["site"]["networks"] == [] and fragment["endpoints"][0]["bgp_peer_ip"] == "169.254.30.1"


@pytest.mark.parametrize("name", ["netbrain_conn1_xml_no_nat_current", "netbrain_conn1_xml_no_nat_legacy"])
def test_masked_commands_are_refused(name):
    text = golden(name)
    for key in NETBRAIN_KEYS:
        text = text.replace(key, "********")
    assert "the pre-shared key is masked" in str(error_of(text))

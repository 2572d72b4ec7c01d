# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Desired state, diff and operation order of gcp_ha_vpn_link (pure: no SDK calls, no server)."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest

from ansible_collections.multicloud.vpn.plugins.module_utils import _gcp_vpn as vpn
from ansible_collections.multicloud.vpn.plugins.module_utils._gcp_vpn import CurrentState, VpnLinkError

PROJECT = "lab-project"
REGION = "us-central1"
LINK = "lnk"
API = "https://www.googleapis.com/compute/v1/"
ROWS = {1: [(0, "t1")], 2: [(0, "t1"), (1, "t1")], 4: [(0, "t1"), (0, "t2"), (1, "t1"), (1, "t2")]}
# MISSION.md scenario 1: (connection, aws tunnel) -> (external interface, HA interface)
MISSION_TABLE = {
    1: {(0, "t1"): (0, 0)},
    2: {(0, "t1"): (0, 0), (1, "t1"): (1, 1)},
    4: {(0, "t1"): (0, 0), (0, "t2"): (1, 0), (1, "t1"): (2, 1), (1, "t2"): (3, 1)},
}
REDUNDANCY_TYPES = {1: "SINGLE_IP_INTERNALLY_REDUNDANT", 2: "TWO_IPS_REDUNDANCY", 4: "FOUR_IPS_REDUNDANCY"}


def psk(connection, aws_tunnel, version=""):
    return "Psk%s_%d_%s_abcdefgh" % (version, connection, aws_tunnel)


def aws_tunnels(count, rotate=None):
    tunnels = []
    for connection, aws_tunnel in ROWS[count]:
        number = int(aws_tunnel[1])
        tunnels.append({
            "connection": connection, "aws_tunnel": aws_tunnel,
            "outside_ip": "203.0.113.%d" % (10 + 10 * connection + number),
            "inside_cidr": "169.254.%d.%d/30" % (10 + connection, 4 * (number - 1)),
            "amazon_asn": 64512,
            "pre_shared_key": psk(connection, aws_tunnel, "v2" if rotate == (connection, aws_tunnel) else ""),
        })
    return tunnels


def params(count=None, **extra):
    values = {"name": LINK, "region": REGION, "network": "vpc", "router": {"asn": 65000}, "state": "present"}
    if count:
        values["aws_tunnels"] = aws_tunnels(count)
    values.update(extra)
    return values


def make_spec(count=None, **extra):
    return dataclasses.replace(vpn.link_spec(params(count, **extra)), project=PROJECT)


def base_state(**extra):
    """An existing network only."""
    state = CurrentState(network={"name": "vpc", "selfLink": API + "projects/%s/global/networks/vpc" % PROJECT})
    for key, value in extra.items():
        setattr(state, key, value)
    return state


def as_served(state):
    """What GET returns after the simulated writes: full URLs, server-filled fields, no secrets."""
    served = copy.deepcopy(state)

    def full(link):
        return API + link if link and not link.startswith("http") else link

    for document in [served.network, served.gateway, served.router] + served.external_gateways + served.tunnels:
        if not document:
            continue
        for key in ("selfLink", "network", "vpnGateway", "peerExternalGateway", "router"):
            if key in document:
                document[key] = full(document[key])
    if served.gateway is not None and "vpnInterfaces" not in served.gateway:
        served.gateway["vpnInterfaces"] = [{"id": 0, "ipAddress": "198.51.100.1"}, {"id": 1, "ipAddress": "198.51.100.2"}]
    if served.router is not None:
        for interface in served.router.get("interfaces", []):
            interface.setdefault("managementType", "MANAGED_BY_USER")
            if "linkedVpnTunnel" in interface:
                interface["linkedVpnTunnel"] = full(interface["linkedVpnTunnel"])
        for peer in served.router.get("bgpPeers", []):
            peer.setdefault("enable", "TRUE")
        served.router.setdefault("bgp", {}).setdefault("keepaliveInterval", 20)
    for tunnel in served.tunnels:
        tunnel.pop("sharedSecret", None)
        tunnel["sharedSecretHash"] = "opaque"
        tunnel.setdefault("status", "FIRST_HANDSHAKE")
    return served


def converge(spec, state=None):
    state = state if state is not None else base_state()
    plan = vpn.plan_present(spec, state)
    return as_served(vpn.simulate(spec, state, plan.steps)), plan


def by_key(plan):
    return {step.key: step for step in plan.steps}


def wave_of(plan):
    return {step.key: index for index, wave in enumerate(vpn.waves(plan.steps)) for step in wave}


def foreign_router_parts():
    interface = {"name": "onprem-if", "ipRange": "169.254.200.1/30", "managementType": "MANAGED_BY_USER"}
    peer = {"name": "onprem-peer", "interfaceName": "onprem-if", "ipAddress": "169.254.200.1", "peerIpAddress": "169.254.200.2",
            "peerAsn": 65100, "advertisedRoutePriority": 50}
    return interface, peer


# -- desired state: the MISSION table ------------------------------------------------------------------------
@pytest.mark.parametrize("count", [1, 2, 4])
def test_a_fresh_link_creates_the_mission_layout(count):
    spec = make_spec(count)
    state = base_state(gateway={"name": "lnk-gw", "network": API + "projects/%s/global/networks/vpc" % PROJECT,
                                "selfLink": API + spec.link("vpnGateways", "lnk-gw"), "description": "multicloud.vpn link=lnk"},
                       router={"name": "lnk-router", "network": API + "projects/%s/global/networks/vpc" % PROJECT,
                               "bgp": {"asn": 65000}, "selfLink": API + spec.link("routers", "lnk-router")})
    plan = vpn.plan_present(spec, state)
    steps = by_key(plan)
    assert not plan.replaced and not [step for step in plan.steps if step.verb == "delete"]
    external = [step for step in plan.steps if step.kind == "external_vpn_gateway"]
    assert len(external) == 1 and external[0].verb == "insert"
    assert external[0].body["redundancyType"] == REDUNDANCY_TYPES[count]
    expected_interfaces = {}
    for item in aws_tunnels(count):
        external_id, ha_interface = MISSION_TABLE[count][(item["connection"], item["aws_tunnel"])]
        expected_interfaces[external_id] = item["outside_ip"]
        name = "lnk-c%d-%s" % (item["connection"], item["aws_tunnel"])
        body = steps["vpn_tunnel.insert:" + name].body
        assert (body["vpnGatewayInterface"], body["peerExternalGatewayInterface"]) == (ha_interface, external_id)
        assert body["peerExternalGateway"] == spec.link("externalVpnGateways", external[0].name)
        assert body["ikeVersion"] == 2 and body["cipherSuite"]["phase1"]["encryption"] == ["AES-CBC-256"]
        assert body["sharedSecret"] == item["pre_shared_key"]
        assert item["pre_shared_key"] not in body["description"]
    assert {entry["id"]: entry["ipAddress"] for entry in external[0].body["interfaces"]} == expected_interfaces
    attach = steps["router.attach"]
    assert attach.verb == "patch"
    interfaces = {entry["name"]: entry for entry in attach.body["interfaces"]}
    peers = {entry["name"]: entry for entry in attach.body["bgpPeers"]}
    for item in aws_tunnels(count):
        name = "lnk-c%d-%s" % (item["connection"], item["aws_tunnel"])
        base = item["inside_cidr"].rsplit(".", 1)[0] + "."
        last = int(item["inside_cidr"].split(".")[3].split("/")[0])
        assert interfaces[name + "-if"]["ipRange"] == "%s%d/30" % (base, last + 2)  # customer (GCP) side = 2nd host
        assert interfaces[name + "-if"]["linkedVpnTunnel"] == spec.link("vpnTunnels", name)
        assert peers[name + "-peer"] == {"name": name + "-peer", "interfaceName": name + "-if", "ipAddress": "%s%d" % (base, last + 2),
                                         "peerIpAddress": "%s%d" % (base, last + 1), "peerAsn": 64512}
    waves = wave_of(plan)
    assert all(waves[key] > waves[external[0].key] for key in steps if key.startswith("vpn_tunnel.insert"))
    assert waves["router.attach"] > max(waves[key] for key in steps if key.startswith("vpn_tunnel.insert"))
    # every tunnel insert is in the same wave: they are started together
    assert len({waves[key] for key in steps if key.startswith("vpn_tunnel.insert")}) == 1


def test_from_nothing_the_network_comes_first_then_gateway_and_router_together():
    spec = make_spec(4, create_network=True)
    plan = vpn.plan_present(spec, CurrentState())
    waves = wave_of(plan)
    assert waves["network.insert"] == 0 and waves["external_vpn_gateway.insert"] == 0
    assert waves["vpn_gateway.insert"] == waves["router.insert"] == 1
    assert {waves[key] for key in waves if key.startswith("vpn_tunnel.insert")} == {2}
    assert waves["router.attach"] == 3
    assert by_key(plan)["router.insert"].body["bgp"] == {"asn": 65000}
    assert by_key(plan)["network.insert"].body["autoCreateSubnetworks"] is False


def test_a_missing_network_is_an_error_unless_create_network():
    with pytest.raises(VpnLinkError, match=r"^network: network vpc does not exist .*create_network"):
        vpn.plan_present(make_spec(2), CurrentState())


@pytest.mark.parametrize("count", [1, 2, 4])
def test_a_converged_link_plans_nothing(count):
    spec = make_spec(count, create_network=True, router={"asn": 65000, "advertised_ip_ranges": [{"range": "35.199.192.0/19"}]})
    state, _first = converge(spec, CurrentState())
    plan = vpn.plan_present(spec, state)
    assert plan.steps == [] and plan.replaced == []
    # phase 1 on a full link changes nothing either (the two-phase playbook reruns phase 1 first)
    assert vpn.plan_present(make_spec(None, router={"asn": 65000, "advertised_ip_ranges": [{"range": "35.199.192.0/19"}]}), state).steps == []


# -- partial existing state -------------------------------------------------------------------------------------
@pytest.mark.parametrize("count", [2, 4])
def test_a_missing_tunnel_is_created_alone(count):
    spec = make_spec(count)
    state, _plan = converge(spec)
    state.tunnels = [tunnel for tunnel in state.tunnels if tunnel["name"] != "lnk-c1-t1"]
    state.router["interfaces"] = [item for item in state.router["interfaces"] if item["name"] != "lnk-c1-t1-if"]
    state.router["bgpPeers"] = [item for item in state.router["bgpPeers"] if item["name"] != "lnk-c1-t1-peer"]
    plan = vpn.plan_present(spec, state)
    assert [(step.verb, step.name) for step in vpn.ordered_steps(plan.steps)] == [("insert", "lnk-c1-t1"), ("patch", "lnk-router")]
    assert [entry["name"] for entry in by_key(plan)["router.attach"].body["interfaces"]][-1] == "lnk-c1-t1-if"


def test_a_lost_router_interface_is_patched_back_without_touching_tunnels():
    spec = make_spec(4)
    state, _plan = converge(spec)
    state.router["interfaces"] = state.router["interfaces"][1:]
    state.router["bgpPeers"] = state.router["bgpPeers"][1:]
    plan = vpn.plan_present(spec, state)
    assert [(step.kind, step.verb) for step in plan.steps] == [("router", "patch")]
    assert len(plan.steps[0].body["interfaces"]) == 4 and len(plan.steps[0].body["bgpPeers"]) == 4


def test_a_changed_inside_cidr_updates_the_router_in_place():
    spec = make_spec(2)
    state, _plan = converge(spec)
    moved = aws_tunnels(2)
    moved[1]["inside_cidr"] = "169.254.99.0/30"
    plan = vpn.plan_present(make_spec(2, aws_tunnels=moved), state)
    assert [(step.kind, step.verb) for step in plan.steps] == [("router", "patch")]
    peer = {entry["name"]: entry for entry in plan.steps[0].body["bgpPeers"]}["lnk-c1-t1-peer"]
    assert (peer["ipAddress"], peer["peerIpAddress"]) == ("169.254.99.2", "169.254.99.1")
    assert peer["enable"] == "TRUE"  # fields the module does not manage are kept


def test_psk_rotation_replaces_only_that_tunnel_in_a_safe_order():
    spec = make_spec(4)
    state, _plan = converge(spec)
    rotated = make_spec(4, aws_tunnels=aws_tunnels(4, rotate=(1, "t2")))
    plan = vpn.plan_present(rotated, state)
    assert plan.replaced == [{"kind": "vpn_tunnel", "name": "lnk-c1-t2", "new_name": "lnk-c1-t2", "reasons": ["pre-shared key"]}]
    steps = by_key(plan)
    assert set(steps) == {"router.detach", "vpn_tunnel.delete:lnk-c1-t2", "vpn_tunnel.insert:lnk-c1-t2", "router.attach"}
    detach = steps["router.detach"]
    assert detach.verb == "patch"  # three interfaces remain: a PATCH with full lists removes the fourth
    assert [entry["name"] for entry in detach.body["interfaces"]] == ["lnk-c0-t1-if", "lnk-c0-t2-if", "lnk-c1-t1-if"]
    assert [entry["name"] for entry in detach.body["bgpPeers"]] == ["lnk-c0-t1-peer", "lnk-c0-t2-peer", "lnk-c1-t1-peer"]
    waves = wave_of(plan)
    assert waves["router.detach"] < waves["vpn_tunnel.delete:lnk-c1-t2"] < waves["vpn_tunnel.insert:lnk-c1-t2"] < waves["router.attach"]
    assert steps["vpn_tunnel.insert:lnk-c1-t2"].body["sharedSecret"] == psk(1, "t2", "v2")
    # the rotated key is never in what the module returns
    text = json.dumps([step.summary for step in plan.steps]) + json.dumps(vpn.config_view(rotated, vpn.simulate(rotated, state, plan.steps)))
    assert psk(1, "t2", "v2") not in text and psk(0, "t1") not in text


def test_redundancy_two_to_four_never_touches_the_ha_gateway():
    two = make_spec(2)
    state, _plan = converge(two)
    four = make_spec(4)
    plan = vpn.plan_present(four, state)
    steps = by_key(plan)
    assert not [step for step in plan.steps if step.kind == "vpn_gateway"]
    old_external = state.external_gateways[0]["name"]
    new_external = steps["external_vpn_gateway.insert"].name
    assert new_external != old_external and new_external.startswith("lnk-aws-")
    assert steps["external_vpn_gateway.insert"].body["redundancyType"] == "FOUR_IPS_REDUNDANCY"
    assert sorted(entry["name"] for entry in plan.replaced) == [old_external, "lnk-c0-t1", "lnk-c1-t1"]
    waves = wave_of(plan)
    # a new external gateway before the tunnels move, the old one deleted only after they moved
    assert waves["external_vpn_gateway.insert"] < waves["vpn_tunnel.insert:lnk-c0-t1"] < waves["external_vpn_gateway.delete:" + old_external]
    # all interfaces of the link are removed: the list becomes empty -> routers.update (PUT) with the whole router
    detach = steps["router.detach"]
    assert detach.verb == "update" and "interfaces" not in detach.body and detach.body["bgp"]["asn"] == 65000
    assert detach.body["name"] == "lnk-router" and "selfLink" not in detach.body
    assert {key for key in steps if key.startswith("vpn_tunnel.insert")} == {"vpn_tunnel.insert:lnk-c%s" % row for row in
                                                                             ("0-t1", "0-t2", "1-t1", "1-t2")}
    after, _again = converge(four, state)
    assert after.gateway == state.gateway
    assert vpn.plan_present(four, after).steps == []


def test_four_to_two_deletes_the_unused_tunnels():
    state, _plan = converge(make_spec(4))
    plan = vpn.plan_present(make_spec(2), state)
    deleted = sorted(step.name for step in plan.steps if step.kind == "vpn_tunnel" and step.verb == "delete")
    inserted = sorted(step.name for step in plan.steps if step.kind == "vpn_tunnel" and step.verb == "insert")
    assert deleted == ["lnk-c0-t1", "lnk-c0-t2", "lnk-c1-t1", "lnk-c1-t2"] and inserted == ["lnk-c0-t1", "lnk-c1-t1"]


def test_foreign_router_interfaces_and_peers_are_kept_everywhere():
    spec = make_spec(2)
    interface, peer = foreign_router_parts()
    state, _plan = converge(spec)
    state.router["interfaces"].insert(0, dict(interface))
    state.router["bgpPeers"].insert(0, dict(peer))
    plan = vpn.plan_present(make_spec(4), state)
    for step in plan.steps:
        if step.kind == "router":
            assert step.body["interfaces"][0] == interface and step.body["bgpPeers"][0] == peer
    assert by_key(plan)["router.detach"].verb == "patch"  # the foreign interface keeps the list non-empty
    absent = vpn.plan_absent(make_spec(None, state="absent"), vpn.simulate(spec, state, plan.steps))
    detach = by_key(absent)["router.detach"]
    assert detach.body["interfaces"] == [interface] and detach.body["bgpPeers"] == [peer]


def test_an_inside_cidr_overlapping_a_foreign_interface_fails_before_any_write():
    interface, _peer = foreign_router_parts()
    state, _plan = converge(make_spec(None))
    state.router["interfaces"] = [dict(interface, ipRange="169.254.11.5/30")]
    with pytest.raises(VpnLinkError, match=r"^aws_tunnels\[3\]\.inside_cidr: 169.254.11.4/30 overlaps interface onprem-if"):
        vpn.plan_present(make_spec(4), state)


def test_an_ha_gateway_in_another_network_is_never_recreated():
    state = base_state(gateway={"name": "lnk-gw", "network": API + "projects/%s/global/networks/other" % PROJECT})
    with pytest.raises(VpnLinkError, match=r"^ha_vpn_gateway: HA VPN gateway lnk-gw exists in network other.*never re-created"):
        vpn.plan_present(make_spec(2), state)


def test_an_existing_router_asn_is_changed_only_when_the_link_created_the_router():
    state, _plan = converge(make_spec(2))
    plan = vpn.plan_present(make_spec(2, router={"asn": 65001}), state)
    assert [(step.kind, step.verb, step.body) for step in plan.steps] == [("router", "patch", {"bgp": {"asn": 65001}})]
    state.router["description"] = "made by hand"
    with pytest.raises(VpnLinkError, match=r"^router.asn: Cloud Router lnk-router has ASN 65000 and was not created by this link"):
        vpn.plan_present(make_spec(2, router={"asn": 65001}), state)
    # without router.asn the existing ASN is used
    assert vpn.plan_present(make_spec(2, router={}), state).steps == []


def test_router_asn_equal_to_the_amazon_asn_is_refused():
    state, _plan = converge(make_spec(None, router={"asn": 64512}))
    with pytest.raises(VpnLinkError, match=r"^aws_tunnels\[0\]\.amazon_asn: must differ from the ASN of Cloud Router lnk-router"):
        vpn.plan_present(make_spec(2, router={}), state)


def test_custom_advertisements_are_patched_and_cleared_with_a_put():
    spec = make_spec(2)
    state, _plan = converge(spec)
    custom = {"asn": 65000, "advertised_ip_ranges": [{"range": "35.199.192.0/19", "description": "dns"}, {"range": "10.20.0.0/16"}]}
    plan = vpn.plan_present(make_spec(2, router=custom), state)
    assert [(step.verb, step.body) for step in plan.steps] == [("patch", {"bgp": {
        "advertiseMode": "CUSTOM", "advertisedGroups": ["ALL_SUBNETS"],
        "advertisedIpRanges": [{"range": "35.199.192.0/19", "description": "dns"}, {"range": "10.20.0.0/16"}]}})]
    custom_state = as_served(vpn.simulate(spec, state, plan.steps))
    assert vpn.plan_present(make_spec(2, router=dict(custom, advertised_ip_ranges=list(reversed(custom["advertised_ip_ranges"])))),
                            custom_state).steps == []
    back = vpn.plan_present(make_spec(2, router={"advertise_mode": "DEFAULT"}), custom_state)
    assert [step.verb for step in back.steps] == ["update"]
    assert back.steps[0].body["bgp"]["advertiseMode"] == "DEFAULT" and "advertisedIpRanges" not in back.steps[0].body["bgp"]
    assert len(back.steps[0].body["interfaces"]) == 2


def test_a_tunnel_made_by_another_tool_is_replaced_once():
    spec = make_spec(1)
    state, _plan = converge(spec)
    state.tunnels[0]["description"] = ""
    plan = vpn.plan_present(spec, state)
    assert plan.replaced[0]["reasons"] == ["pre-shared key (no fingerprint recorded: set by another tool)"]


@pytest.mark.parametrize("profile, reason", [("modern_gcm", "cipher suite"), ("ikev1_compat", "IKE version 2 -> 1")])
def test_crypto_changes_replace_the_tunnels(profile, reason):
    state, _plan = converge(make_spec(2))
    plan = vpn.plan_present(make_spec(2, ipsec_profile=profile), state)
    assert [entry["reasons"] for entry in plan.replaced] == [[reason], [reason]]
    converged, _again = converge(make_spec(2, ipsec_profile=profile), state)
    converged.tunnels[0]["cipherSuite"] = {"phase1": {"encryption": ["AES-CBC-128"]}}  # whatever GCP reports for IKEv1
    assert (vpn.plan_present(make_spec(2, ipsec_profile=profile), converged).steps == []) == (profile == "ikev1_compat")


def test_a_crash_between_steps_is_picked_up_by_the_next_run():
    spec = make_spec(4)
    start = base_state(gateway={"name": "lnk-gw", "network": API + "projects/%s/global/networks/vpc" % PROJECT,
                                "selfLink": API + spec.link("vpnGateways", "lnk-gw")},
                       router={"name": "lnk-router", "network": API + "projects/%s/global/networks/vpc" % PROJECT, "bgp": {"asn": 65000},
                               "selfLink": API + spec.link("routers", "lnk-router")})
    plan = vpn.plan_present(spec, start)
    first_waves = vpn.waves(plan.steps)
    partial = as_served(vpn.simulate(spec, start, first_waves[0] + first_waves[1][:2]))
    resumed = vpn.plan_present(spec, partial)
    assert sorted(step.name for step in resumed.steps if step.kind == "vpn_tunnel") == ["lnk-c1-t1", "lnk-c1-t2"]
    assert not [step for step in resumed.steps if step.verb == "delete"] and not resumed.replaced


# -- state=absent ---------------------------------------------------------------------------------------------
def test_absent_removes_in_dependency_order_and_only_what_the_link_created():
    spec = make_spec(4, create_network=True)
    state, _plan = converge(spec, CurrentState())
    plan = vpn.plan_absent(make_spec(None, state="absent", create_network=True), state)
    waves = wave_of(plan)
    assert waves["router.detach"] == 0 and by_key(plan)["router.detach"].verb == "update"
    assert {waves[key] for key in waves if key.startswith("vpn_tunnel.delete")} == {1}
    assert waves["vpn_gateway.delete"] == waves["router.delete"] == waves["external_vpn_gateway.delete:" + state.external_gateways[0]["name"]] == 2
    assert waves["network.delete"] == 3
    after = vpn.simulate(spec, state, plan.steps)
    assert after.tunnels == [] and after.external_gateways == [] and after.gateway is None and after.router is None and after.network is None
    # without create_network the network stays
    assert "network.delete" not in by_key(vpn.plan_absent(make_spec(None, state="absent"), state))


def test_absent_leaves_gateway_router_and_network_it_did_not_create():
    spec = make_spec(2)
    state, _plan = converge(spec)
    state.gateway["description"] = ""
    state.router["description"] = ""
    state.network["description"] = ""
    other = dict(state.tunnels[0], name="someone-else", description="")
    state.tunnels.append(other)
    plan = vpn.plan_absent(make_spec(None, state="absent", create_network=True), state)
    assert {step.kind for step in plan.steps} == {"router", "vpn_tunnel", "external_vpn_gateway"}
    assert not [step for step in plan.steps if step.kind == "router" and step.verb == "delete"]
    assert sorted(step.name for step in plan.steps if step.kind == "vpn_tunnel") == ["lnk-c0-t1", "lnk-c1-t1"]
    assert any("not created by this link" in warning for warning in plan.warnings)


def test_absent_of_nothing_does_nothing():
    assert vpn.plan_absent(make_spec(None, state="absent"), CurrentState()).steps == []


# -- building blocks ----------------------------------------------------------------------------------------------------
def test_router_change_patches_unless_a_list_becomes_empty():
    interface, peer = foreign_router_parts()
    router = {"name": "r", "network": "n", "id": "1", "kind": "compute#router", "selfLink": "x", "bgp": {"asn": 65000},
              "interfaces": [interface], "bgpPeers": [peer]}
    assert vpn.router_change(router, interfaces=[interface], peers=[peer]) == ("patch", {"interfaces": [interface], "bgpPeers": [peer]})
    verb, body = vpn.router_change(router, interfaces=[], peers=[])
    assert verb == "update" and body == {"name": "r", "network": "n", "bgp": {"asn": 65000}}
    verb, body = vpn.router_change(dict(router, bgp={"asn": 1, "advertisedIpRanges": [{"range": "10.0.0.0/8"}]}),
                                   bgp={"advertiseMode": "DEFAULT", "advertisedGroups": [], "advertisedIpRanges": []})
    assert verb == "update" and body["bgp"] == {"asn": 1, "advertiseMode": "DEFAULT"} and body["interfaces"] == [interface]


def test_waves_follow_dependencies_and_refuse_cycles():
    steps = [vpn.Step("c", "router", "patch", "r", after=("a", "b")), vpn.Step("a", "vpn_tunnel", "insert", "t"),
             vpn.Step("b", "vpn_tunnel", "insert", "u", after=("missing-ignored",))]
    assert [[step.key for step in wave] for wave in vpn.waves(steps)] == [["a", "b"], ["c"]]
    with pytest.raises(VpnLinkError, match="circular"):
        vpn.waves([vpn.Step("a", "router", "patch", "r", after=("b",)), vpn.Step("b", "router", "patch", "r", after=("a",))])


def test_psk_fingerprint_is_per_tunnel_and_not_the_key():
    key = "Zk4_secret.value_1234567890abcd"
    first = vpn.psk_fingerprint(key, PROJECT, REGION, "lnk-c0-t1")
    assert first == vpn.psk_fingerprint(key, PROJECT, REGION, "lnk-c0-t1")
    assert first.startswith("pbkdf2-sha256:") and len(first.split(":")[1]) == 16
    assert first != vpn.psk_fingerprint(key, PROJECT, REGION, "lnk-c0-t2")
    assert first != vpn.psk_fingerprint(key + "x", PROJECT, REGION, "lnk-c0-t1")
    assert key not in first


def test_owned_names_do_not_capture_a_longer_link():
    owned = vpn.OwnedNames.of("a")
    assert owned.tunnel.match("a-c0-t1") and not owned.tunnel.match("a-b-c0-t1") and not owned.tunnel.match("a-c2-t1")
    assert owned.external_gateway.match("a-aws-0123abcd") and not owned.external_gateway.match("a-b-aws-0123abcd")
    assert owned.interface.match("a-c1-t2-if") and owned.peer.match("a-c1-t2-peer")


def test_link_view_reports_tunnel_and_bgp_status_as_the_api_gives_them():
    spec = make_spec(2)
    state, _plan = converge(spec)
    state.tunnels[0].update(status="ESTABLISHED", detailedStatus="Tunnel is up and running.")
    state.router_status = {"bgpPeerStatus": [{"name": "lnk-c0-t1-peer", "status": "UP", "state": "Established", "numLearnedRoutes": 3,
                                              "uptimeSeconds": "65"}]}
    view = vpn.link_view(spec, state)
    first, second = view["tunnels"]
    assert (first["name"], first["connection"], first["aws_tunnel"], first["ha_interface"], first["external_interface"]) == ("lnk-c0-t1", 0, "t1", 0, 0)
    assert (first["status"], first["peer_ip"], first["inside_cidr"]) == ("ESTABLISHED", "203.0.113.11", "169.254.10.0/30")
    assert first["bgp_peer"] == {"name": "lnk-c0-t1-peer", "interface_name": "lnk-c0-t1-if", "ip_address": "169.254.10.2",
                                 "peer_ip_address": "169.254.10.1", "peer_asn": 64512, "status": "UP", "state": "Established",
                                 "num_learned_routes": 3, "uptime_seconds": 65}
    assert second["status"] == "FIRST_HANDSHAKE" and second["bgp_peer"]["status"] is None
    assert view["external_vpn_gateway"]["redundancy_type"] == "TWO_IPS_REDUNDANCY"
    assert view["ha_vpn_gateway"]["interfaces"] == [{"id": 0, "ip_address": "198.51.100.1"}, {"id": 1, "ip_address": "198.51.100.2"}]


# -- validation: every value checked before the first write, the option named ---------------------------------------------
def with_tunnel(index, **changes):
    tunnels = aws_tunnels(4)
    tunnels[index] = dict(tunnels[index], **changes)
    return tunnels


@pytest.mark.parametrize("extra, message", [
    ({"name": "Bad_Name"}, r"^name: 'Bad_Name' is not a valid GCP resource name"),
    ({"name": "x" * 51}, r"^name: "),
    ({"region": "central"}, r"^region: "),
    ({"network": None}, r"^network: required with state=present"),
    ({"router": {"asn": 100}}, r"^router.asn: 100 is not a private ASN"),
    ({"router": {"asn": 65000, "advertised_ip_ranges": [{"range": "10.0.0.1/8"}]}},
     r"^router.advertised_ip_ranges\[0\].range: 10.0.0.1/8 is not the network address .*10.0.0.0/8"),
    ({"router": {"asn": 65000, "advertise_mode": "DEFAULT", "advertised_ip_ranges": [{"range": "10.0.0.0/8"}]}},
     r"^router.advertised_ip_ranges: only allowed with advertise_mode CUSTOM"),
    ({"redundancy": 2}, r"^aws_tunnels: redundancy 2 needs 2 AWS tunnels, got 4"),
    ({"aws_tunnels": aws_tunnels(4)[:3]}, r"^aws_tunnels: must hold 1, 2 or 4 tunnels \(got 3\)"),
    ({"aws_tunnels": with_tunnel(1, outside_ip="203.0.113.11")}, r"^aws_tunnels\[1\].outside_ip: 203.0.113.11 is also the outside IP of aws_tunnels\[0\]"),
    ({"aws_tunnels": with_tunnel(2, outside_ip="not-an-ip")}, r"^aws_tunnels\[2\].outside_ip: "),
    ({"aws_tunnels": with_tunnel(3, inside_cidr="169.254.10.0/30")}, r"^aws_tunnels\[3\].inside_cidr: 169.254.10.0/30 overlaps aws_tunnels\[0\]"),
    ({"aws_tunnels": with_tunnel(0, inside_cidr="169.254.1.0/30")}, r"^aws_tunnels\[0\].inside_cidr: 169.254.1.0/30 is reserved by AWS"),
    ({"aws_tunnels": with_tunnel(0, pre_shared_key="0short")}, r"^aws_tunnels\[0\].pre_shared_key: must be 8 to 64"),
    ({"aws_tunnels": with_tunnel(1, amazon_asn=64513)}, r"^aws_tunnels\[1\].amazon_asn: every AWS tunnel of a link"),
    ({"aws_tunnels": [dict(item, amazon_asn=65000) for item in aws_tunnels(4)]}, r"^aws_tunnels\[0\].amazon_asn: must differ from router.asn"),
    ({"aws_tunnels": with_tunnel(1, connection=0, aws_tunnel="t1")}, r"^aws_tunnels\[1\]: connection 0 tunnel t1 is listed twice"),
    ({"aws_tunnels": with_tunnel(1, connection=None, aws_tunnel=None)}, r"^aws_tunnels: give connection and aws_tunnel for every tunnel"),
    ({"ipsec_profile": "aws_default"}, r"^ipsec_profile.ike_versions: a GCP tunnel takes exactly one IKE version"),
    ({"ipsec_profile": {"phase1_dh_groups": [14, 19]}}, r"^ipsec_profile.phase1_dh_groups: GCP needs exactly one value"),
])
def test_invalid_parameters_name_the_option(extra, message):
    with pytest.raises(VpnLinkError, match=message) as failure:
        vpn.link_spec(params(4, **extra))
    assert "Psk_" not in str(failure.value)


def test_redundancy_two_refuses_a_second_tunnel_of_a_connection():
    tunnels = aws_tunnels(2)
    tunnels[1] = dict(tunnels[1], connection=0, aws_tunnel="t2")
    with pytest.raises(VpnLinkError, match=r"^aws_tunnels\[1\]: connection 0 tunnel t2 is not used with redundancy 2"):
        vpn.link_spec(params(None, aws_tunnels=tunnels))


def test_without_connection_keys_the_list_follows_the_mission_order():
    tunnels = [{key: value for key, value in item.items() if key not in ("connection", "aws_tunnel")} for item in aws_tunnels(4)]
    spec = vpn.link_spec(params(None, aws_tunnels=tunnels))
    assert [(tunnel.name, tunnel.ha_interface, tunnel.external_interface) for tunnel in spec.tunnels] == [
        ("lnk-c0-t1", 0, 0), ("lnk-c0-t2", 0, 1), ("lnk-c1-t1", 1, 2), ("lnk-c1-t2", 1, 3)]


def test_phase_one_and_absent_ignore_tunnel_options():
    assert vpn.link_spec(params(None)).tunnels == ()
    assert vpn.link_spec(params(4, state="absent", network=None)).tunnels == ()

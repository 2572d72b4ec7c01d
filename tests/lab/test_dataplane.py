"""The lab's real data plane: strongSwan + FRR in network namespaces (needs root, charon and FRR).

One AWS-like <-> GCP-like fabric (4 tunnels, BGP on each) is built once per module and mutated
with Fabric.apply(); every mutation must make the checks (IPsec SA, CHILD_SA, BGP + prefixes,
ping) fail the link, and the baseline must come back afterwards.

Run: cd /work/main && sudo /tmp/venvtest/v/bin/python -m pytest tests/lab/test_dataplane.py -q
"""
from __future__ import annotations

import copy
import json
import os
import time

import pytest

try:  # tests/lab as a package (collection import path) or as a plain directory on sys.path (pytest rootdir mode)
    from .dataplane import Fabric, SpecError, cleanup_stale, expected_prefixes, links, normalize, prerequisites_missing
    from .dataplane import system
    from .dataplane.examples import aws_gcp_four_tunnels
except ImportError:
    from dataplane import Fabric, SpecError, cleanup_stale, expected_prefixes, links, normalize, prerequisites_missing
    from dataplane import system
    from dataplane.examples import aws_gcp_four_tunnels

PREFIX = "mcvdp"
MISSING = prerequisites_missing()
needs_dataplane = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")

AWS_OF_GCP = {"gcp-t0": "aws-c1-t1", "gcp-t1": "aws-c1-t2", "gcp-t2": "aws-c2-t1", "gcp-t3": "aws-c2-t2"}


# ---------------------------------------------------------------------------- pure: the description
def test_description_defaults_and_pairing():
    spec = normalize(aws_gcp_four_tunnels("mcvdpspec"))
    pairs = links(spec)
    assert {gcp: pairs[gcp] for gcp in AWS_OF_GCP} == AWS_OF_GCP
    assert expected_prefixes(spec)["gcp-t0"] == ["10.0.0.0/16"]
    assert expected_prefixes(spec)["aws-c2-t2"] == ["10.10.0.0/16"]
    gcp_t0 = next(ep for ep in spec["endpoints"] if ep["id"] == "gcp-t0")
    assert gcp_t0["dpd_interval"] == 10 and gcp_t0["rekey_margin"] == 270


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["endpoints"][0].pop("psk"), "psk: required"),
    (lambda d: d["endpoints"][0].update(bgp_peer_ip="169.254.99.2"), "bgp_peer_ip"),
    (lambda d: d["endpoints"][3].update(inside_ip=d["endpoints"][1]["inside_ip"], bgp_peer_ip=d["endpoints"][1]["bgp_peer_ip"]),
     "overlaps"),
    (lambda d: d["endpoints"][1].update(remote_ip=d["endpoints"][3]["remote_ip"]), "already used"),
    (lambda d: d["endpoints"][0].update(ike_proposals=["aes256 sha256"]), "strongSwan proposal"),
    (lambda d: d["endpoints"][0].update(start="add"), "start"),
    (lambda d: d.update(name="Bad-Name"), "name"),
    (lambda d: d["sites"][0]["probes"].append({"name": "x", "address": "192.168.1.1/24"}), "outside the site's networks"),
], ids=["psk", "bgp-peer", "inside-overlap", "address-pair", "proposal", "start", "name", "probe"])
def test_description_errors_name_the_field(mutate, message):
    description = aws_gcp_four_tunnels("mcvdpspec")
    mutate(description)
    with pytest.raises(SpecError, match=message):
        normalize(description)


def test_endpoints_pair_by_addresses_only():
    description = aws_gcp_four_tunnels("mcvdpspec")
    gcp_t0 = next(ep for ep in description["endpoints"] if ep["id"] == "gcp-t0")
    gcp_t0["outside_ip"] = "203.0.113.11"   # the wrong HA interface
    pairs = links(normalize(description))
    assert pairs["gcp-t0"] is None and pairs["aws-c1-t1"] is None
    assert pairs["gcp-t1"] == "aws-c1-t2"


# ---------------------------------------------------------------------------- the running fabric
@pytest.fixture(scope="module")
def baseline():
    return aws_gcp_four_tunnels("%s%d" % (PREFIX, os.getpid() % 100000))


@pytest.fixture(scope="module")
def fabric(baseline):
    if MISSING:
        pytest.skip(MISSING)
    cleanup_stale(PREFIX)   # leftovers of crashed runs only: fabrics whose owner process is gone
    started = time.monotonic()
    built = Fabric.create(baseline)
    ok, status = built.wait_healthy(60)
    built.state["seconds_to_healthy"] = round(time.monotonic() - started, 2)
    try:
        assert ok, json.dumps({eid: ep["problems"] for eid, ep in status["endpoints"].items() if ep["problems"]})
        yield built
    finally:
        built.destroy()


def _mutated(baseline: dict, changes: dict) -> dict:
    description = copy.deepcopy(baseline)
    by_id = {ep["id"]: ep for ep in description["endpoints"]}
    for endpoint_id, fields in changes.items():
        by_id[endpoint_id].update(fields)
    return description


def _restore(fabric, baseline):
    fabric.apply(baseline)
    ok, status = fabric.wait_healthy(45)
    assert ok, "baseline did not come back: %s" % {eid: ep["problems"] for eid, ep in status["endpoints"].items() if ep["problems"]}


def _link(status: dict, endpoint_id: str) -> dict:
    return next(link for link in status["links"] if endpoint_id in link["endpoints"])


def _hold(fabric, predicate, seconds: float, timeout: float = 20.0):
    """Wait until predicate(status) holds, then require it to keep holding for `seconds` (a real failure, not a transient)."""
    ok, status = fabric.wait(predicate, timeout)
    assert ok, "condition never reached"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = fabric.status()
        assert predicate(status), "condition did not hold"
        time.sleep(0.5)
    return status


@needs_dataplane
def test_four_tunnels_up_bgp_and_ping_both_ways(fabric):
    status = fabric.status()
    assert status["all_healthy"]
    assert len(status["links"]) == 4 and all(link["healthy"] for link in status["links"])
    for endpoint_id, endpoint in status["endpoints"].items():
        assert endpoint["ike_state"] == "ESTABLISHED", endpoint_id
        assert endpoint["child_installed"], endpoint_id
        assert endpoint["children"][0]["encap"], "kernel-libipsec sends ESP in UDP 4500"
        assert endpoint["bgp"]["state"] == "Established", endpoint_id
        assert endpoint["bgp"]["prefixes"] == endpoint["expected_prefixes"] != [], endpoint_id
    ok, details = fabric.ping("gcp-probe", "aws-probe")
    assert ok and details["loss_pct"] == 0, details
    ok, details = fabric.ping("aws-probe", "gcp-probe")
    assert ok and details["loss_pct"] == 0, details


@needs_dataplane
def test_shared_outside_addresses_are_held_by_several_namespaces(fabric):
    holders = {}
    for endpoint in fabric.spec["endpoints"]:
        out = system.run([system.IP, "-n", fabric.names.endpoint(endpoint["id"]), "-j", "addr", "show", "dev", "out"]).stdout
        for address in json.loads(out)[0]["addr_info"]:
            holders.setdefault(address["local"], []).append(endpoint["id"])
    assert sorted(holders["203.0.113.10"]) == ["gcp-t0", "gcp-t1"]
    assert sorted(holders["203.0.113.11"]) == ["gcp-t2", "gcp-t3"]
    rules = system.run([system.IP, "-n", fabric.names.inet, "rule", "show"]).stdout
    assert "from 198.51.100.11 to 203.0.113.10 lookup" in rules and "from 198.51.100.12 to 203.0.113.10 lookup" in rules
    # the two tunnels behind one address are distinct SAs in distinct charons
    status = fabric.status()
    assert status["endpoints"]["gcp-t0"]["children"][0]["spi_in"] != status["endpoints"]["gcp-t1"]["children"][0]["spi_in"]


def _ipsec_failed_with(code):
    def check(status, gcp_id):
        gcp, aws = status["endpoints"][gcp_id], status["endpoints"][AWS_OF_GCP[gcp_id]]
        return gcp["ike_state"] != "ESTABLISHED" and not gcp["child_installed"] and code in gcp["errors"] + aws["errors"]
    return check


def _child_failed(status, gcp_id):
    gcp = status["endpoints"][gcp_id]
    return gcp["ike_state"] == "ESTABLISHED" and not gcp["child_installed"] and "NO_PROPOSAL_CHOSEN" in gcp["errors"]


def _bgp_failed(status, gcp_id):
    gcp = status["endpoints"][gcp_id]
    return gcp["ike_state"] == "ESTABLISHED" and gcp["child_installed"] and gcp["bgp"]["state"] != "Established"


MUTATIONS = {
    "wrong-psk": ({"gcp-t0": {"psk": "not_the_aws_psk_123"}}, ["gcp-t0"], _ipsec_failed_with("AUTHENTICATION_FAILED"), 0),
    "swapped-inside": ({"gcp-t0": {"inside_ip": "169.254.11.2/30", "bgp_peer_ip": "169.254.11.1"},
                        "gcp-t1": {"inside_ip": "169.254.10.2/30", "bgp_peer_ip": "169.254.10.1"}},
                       ["gcp-t0", "gcp-t1"], _bgp_failed, 6),
    "wrong-peer-asn": ({"gcp-t2": {"bgp_peer_asn": 64513}}, ["gcp-t2"], _bgp_failed, 6),
    "disjoint-ike-proposals": ({"gcp-t3": {"ike_proposals": ["aes128-sha1-modp1024"]}}, ["gcp-t3"],
                               _ipsec_failed_with("NO_PROPOSAL_CHOSEN"), 0),
    "disjoint-esp-proposals": ({"gcp-t1": {"esp_proposals": ["aes128-sha1-modp2048"]}}, ["gcp-t1"], _child_failed, 0),
    "wrong-ha-interface": ({"gcp-t0": {"outside_ip": "203.0.113.11"}}, ["gcp-t0"], _ipsec_failed_with("NO_IKE_CONFIG"), 0),
}


@needs_dataplane
@pytest.mark.parametrize("case", list(MUTATIONS))
def test_mutation_fails_the_link(fabric, baseline, case):
    changes, broken, predicate, hold_seconds = MUTATIONS[case]
    fabric.apply(_mutated(baseline, changes))
    try:
        status = _hold(fabric, lambda st: all(predicate(st, gcp_id) for gcp_id in broken), hold_seconds)
        for gcp_id in broken:
            assert not status["endpoints"][gcp_id]["healthy"]
            assert not _link(status, gcp_id)["healthy"]
        intact = [gcp_id for gcp_id in AWS_OF_GCP if gcp_id not in broken]
        assert all(status["endpoints"][gcp_id]["healthy"] for gcp_id in intact)
        ok, details = fabric.ping("gcp-probe", "aws-probe")   # the other tunnels still carry traffic
        assert ok, details
    finally:
        _restore(fabric, baseline)


@needs_dataplane
def test_pfs_group_mismatch_shows_only_at_rekey(fabric, baseline):
    fabric.apply(_mutated(baseline, {"gcp-t3": {"esp_proposals": ["aes256-sha256-modp3072"]}}))
    try:
        ok, status = fabric.wait_healthy(30)
        assert ok, "IKEv2's first CHILD_SA carries no KE: the PFS mismatch must not show yet"
        assert status["endpoints"]["gcp-t3"]["child_installed"]
        control = fabric.rekey("gcp-t2")
        assert control["ok"], control
        failed = fabric.rekey("gcp-t3")
        assert not failed["ok"] and "NO_PROPOSAL_CHOSEN" in failed["errors"], failed
        failed_other_side = fabric.rekey("aws-c2-t2")
        assert not failed_other_side["ok"], failed_other_side
    finally:
        _restore(fabric, baseline)


@needs_dataplane
def test_ikev1_works_and_wrong_psk_gives_up_by_retransmits(fabric, baseline):
    ikev1 = _mutated(baseline, {"gcp-t3": {"ike_version": 1}, "aws-c2-t2": {"ike_version": 1}})
    fabric.apply(ikev1)
    try:
        ok, status = fabric.wait_healthy(30)
        assert ok and status["endpoints"]["gcp-t3"]["ike_version"] == "1"
        wrong = copy.deepcopy(ikev1)
        next(ep for ep in wrong["endpoints"] if ep["id"] == "gcp-t3")["psk"] = "not_the_aws_psk_123"
        fabric.apply(wrong)
        ok, status = fabric.wait(lambda st: "RETRANSMIT_GIVE_UP" in st["endpoints"]["gcp-t3"]["errors"], 25)
        assert ok, status["endpoints"]["gcp-t3"]
        gcp = status["endpoints"]["gcp-t3"]
        assert gcp["ike_state"] != "ESTABLISHED" and not gcp["child_installed"] and not gcp["healthy"]
        assert "AUTHENTICATION_FAILED" not in gcp["errors"], "IKEv1 main mode has no authentication error notify"
    finally:
        _restore(fabric, baseline)


@needs_dataplane
def test_failover_after_terminating_the_carrying_tunnel(fabric, baseline):
    carrying = fabric.carrying_endpoints("gcp-probe", "aws-probe")
    assert len(carrying) == 1, carrying
    victim = carrying[0]
    result = fabric.measure_outage("gcp-probe", "aws-probe", lambda: fabric.terminate(victim))
    hold = next(ep for ep in baseline["endpoints"] if ep["id"] == victim)["bgp_hold"]
    print("failover outage %.2fs (BGP hold %ds), lost %s replies" % (result["outage_seconds"], hold, result["lost_replies"]))
    assert result["recovered"], result
    assert result["outage_seconds"] < hold, result
    assert result["action_result"].get("success") == "yes", result
    status = fabric.status()
    assert not status["endpoints"][victim]["child_installed"]
    now = fabric.carrying_endpoints("gcp-probe", "aws-probe")
    assert now and victim not in now, now
    fabric.initiate(victim)
    ok, status = fabric.wait_healthy(30)
    assert ok, status["endpoints"][victim]["problems"]


@needs_dataplane
def test_apply_removes_and_adds_a_tunnel_pair(fabric, baseline):
    smaller = copy.deepcopy(baseline)
    smaller["endpoints"] = [ep for ep in smaller["endpoints"] if ep["id"] not in ("gcp-t3", "aws-c2-t2")]
    changes = fabric.apply(smaller)
    assert sorted(changes["endpoints_removed"]) == ["aws-c2-t2", "gcp-t3"]
    ok, status = fabric.wait_healthy(20)
    assert ok and len(status["links"]) == 3
    assert fabric.names.endpoint("gcp-t3") not in system.list_namespaces()
    assert "169.254.13.1" not in status["bgp"]["gcp"]
    changes = fabric.apply(baseline)
    assert sorted(changes["endpoints_added"]) == ["aws-c2-t2", "gcp-t3"]
    ok, status = fabric.wait_healthy(30)
    assert ok and len(status["links"]) == 4


@needs_dataplane
def test_destroy_and_stale_cleanup_end_only_their_own_processes(fabric):
    small = aws_gcp_four_tunnels("%sx%d" % (PREFIX, os.getpid() % 100000))
    small["endpoints"] = [ep for ep in small["endpoints"] if ep["id"] in ("gcp-t0", "aws-c1-t1")]
    crashed = Fabric.create(small)
    records = list(crashed.processes().values())
    assert len(records) == 6      # 2 charon + 2 zebra + 2 bgpd
    crashed.state["owner"] = {"pid": 2 ** 22 + 1, "start_time": 1}   # an owner that no longer exists
    crashed._save()  # pylint: disable=protected-access
    live_before = fabric.processes()
    removed = cleanup_stale(PREFIX)
    assert crashed.name in removed and fabric.name not in removed
    assert not any(system.alive(record) for record in records)
    assert not [ns for ns in system.list_namespaces() if ns.startswith(crashed.name + "-")]
    assert fabric.processes() == live_before
    assert fabric.status()["all_healthy"]

"""Broken inventories stop the playbook before its first write, with a message naming the variable.

Each case runs playbooks/aws_gcp_ha.yml against the stand-ins with one inventory value broken
(as -e, the highest precedence) and asserts: the run fails, its error names the variable, and
the stand-ins' request logs show no write at all (nothing is half-built). The count of refused
cases is printed at the end of the module (issue 10's "bad inputs refused before any write").
"""
from __future__ import annotations

import pytest
from labtools import LabSession
from reliability import write_figures

PLAYBOOK = "playbooks/aws_gcp_ha.yml"
GOOD_KEYS = ["key.one_%d_abcdef" % index for index in range(4)]

# (case id, extra vars, variable the message must name)
CASES = [
    ("tunnels-3", {"mcvpn_tunnels": 3}, "mcvpn_tunnels"),
    ("tunnels-word", {"mcvpn_tunnels": "four"}, "mcvpn_tunnels"),
    ("asn-equal", {"mcvpn_aws_asn": 65000, "mcvpn_gcp_asn": 65000}, "mcvpn_gcp_asn"),
    ("gcp-asn-public", {"mcvpn_gcp_asn": 15169}, "mcvpn_gcp_asn"),
    ("gcp-asn-too-big", {"mcvpn_gcp_asn": 4294967295}, "mcvpn_gcp_asn"),
    ("aws-asn-not-private", {"mcvpn_aws_asn": 70000}, "mcvpn_aws_asn"),
    ("aws-asn-word", {"mcvpn_aws_asn": "sixty-four"}, "mcvpn_aws_asn"),
    ("inside-reserved-0", {"mcvpn_inside_cidrs": ["169.254.0.0/30", "", "", ""]}, "mcvpn_inside_cidrs[0]"),
    ("inside-reserved-5", {"mcvpn_inside_cidrs": ["", "169.254.5.0/30", "", ""]}, "mcvpn_inside_cidrs[1]"),
    ("inside-reserved-169", {"mcvpn_inside_cidrs": ["", "", "169.254.169.252/30", ""]}, "mcvpn_inside_cidrs[2]"),
    ("inside-overlap", {"mcvpn_inside_cidrs": ["169.254.10.0/30", "169.254.10.0/30", "", ""]}, "mcvpn_inside_cidrs"),
    ("inside-not-30", {"mcvpn_inside_cidrs": ["169.254.10.0/29", "", "", ""]}, "mcvpn_inside_cidrs[0]"),
    ("inside-not-link-local", {"mcvpn_inside_cidrs": ["10.0.0.0/30", "", "", ""]}, "mcvpn_inside_cidrs[0]"),
    ("inside-not-cidr", {"mcvpn_inside_cidrs": ["banana", "", "", ""]}, "mcvpn_inside_cidrs[0]"),
    ("inside-wrong-count", {"mcvpn_inside_cidrs": ["169.254.10.0/30"]}, "mcvpn_inside_cidrs"),
    ("inside-count-for-1-tunnel", {"mcvpn_tunnels": 1, "mcvpn_inside_cidrs": ["169.254.10.0/30", "169.254.10.4/30"]},
     "mcvpn_inside_cidrs"),
    ("pool-not-link-local", {"mcvpn_inside_cidr_pool": "10.0.0.0/16"}, "mcvpn_inside_cidr_pool"),
    ("psk-short", {"mcvpn_pre_shared_keys": ["short"] + GOOD_KEYS[1:]}, "mcvpn_pre_shared_keys[0]"),
    ("psk-leading-zero", {"mcvpn_pre_shared_keys": GOOD_KEYS[:1] + ["0abcdefghijk"] + GOOD_KEYS[2:]}, "mcvpn_pre_shared_keys[1]"),
    ("psk-bad-char", {"mcvpn_pre_shared_keys": GOOD_KEYS[:2] + ["has-a-dash-in-it"] + GOOD_KEYS[3:]}, "mcvpn_pre_shared_keys[2]"),
    ("psk-too-long", {"mcvpn_pre_shared_keys": GOOD_KEYS[:3] + ["a" * 65]}, "mcvpn_pre_shared_keys[3]"),
    ("psk-wrong-count", {"mcvpn_pre_shared_keys": GOOD_KEYS[:2]}, "mcvpn_pre_shared_keys"),
    ("profile-unknown-name", {"mcvpn_ipsec_profile": "fastest"}, "mcvpn_ipsec_profile"),
    ("profile-phase1-lifetime", {"mcvpn_ipsec_profile": {"phase1_lifetime": 100}}, "mcvpn_ipsec_profile.phase1_lifetime"),
    ("profile-phase2-lifetime", {"mcvpn_ipsec_profile": {"phase2_lifetime": 4000}}, "mcvpn_ipsec_profile.phase2_lifetime"),
    ("profile-dh-group-1", {"mcvpn_ipsec_profile": {"phase1_dh_groups": [1]}}, "mcvpn_ipsec_profile.phase1_dh_groups"),
    ("profile-unknown-field", {"mcvpn_ipsec_profile": {"phase3_encryption": ["AES256"]}}, "mcvpn_ipsec_profile"),
    ("profile-ike-v3", {"mcvpn_ipsec_profile": {"ike_versions": ["ikev3"]}}, "mcvpn_ipsec_profile.ike_versions"),
    ("profile-dpd-action", {"mcvpn_ipsec_profile": {"dpd_action": "explode"}}, "mcvpn_ipsec_profile.dpd_action"),
    ("profile-gcp-cannot-express", {"mcvpn_ipsec_profile": "aws_default"}, "mcvpn_ipsec_profile"),
    ("profile-gcp-no-group-22", {"mcvpn_ipsec_profile": {"phase1_dh_groups": [22]}}, "mcvpn_ipsec_profile.phase1_dh_groups"),
    ("vpc-overlap", {"mcvpn_aws_vpc_cidr": "10.10.0.0/16"}, "mcvpn_aws_vpc_cidr"),
    ("vpc-not-cidr", {"mcvpn_aws_vpc_cidr": "not-a-cidr"}, "mcvpn_aws_vpc_cidr"),
    ("missing-probe", {"mcvpn_probe_groups": ["mcvpn_probes_aws"]}, "mcvpn_probe_groups"),
    ("probe-outside-cidr", {"mcvpn_gcp_cidrs": ["10.20.0.0/16"]}, "mcvpn_probe_groups"),
]
REFUSED = []


@pytest.fixture(scope="module")
def lab():
    with LabSession("mcvbad", (18780, 18781, 18782), data_plane=False) as session:
        yield session
    write_figures("bad_inventory", "bad inventories refused before any write",
                  {"cases": len(CASES), "refused_before_any_request": len(REFUSED), "variables_named": sorted(set(REFUSED))})


@pytest.mark.parametrize("extra_vars, variable", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_broken_inventory_fails_before_any_write(lab, extra_vars, variable):
    lab.clear_requests()
    run = lab.playbook(PLAYBOOK, extra_vars=extra_vars, timeout=300)
    assert run.returncode != 0, run.output[-3000:]
    failure = [line for line in run.output.splitlines() if "fatal:" in line or "ERROR" in line or "msg" in line]
    assert any(variable in line for line in failure), "\n".join(failure[-10:]) or run.output[-3000:]
    requests = lab.requests()
    assert {cloud: counts["requests"] for cloud, counts in requests.items()} == {"ec2": 0, "gcp": 0, "azure": 0}, requests
    for key in extra_vars.get("mcvpn_pre_shared_keys", []):
        assert len(key) < 8 or key not in run.output, "a pre-shared key was echoed"
    REFUSED.append(variable)

# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module's wiring: argument spec, check mode, diff, results, errors (Compute replaced by a fake)."""

from __future__ import annotations


import pytest


from ansible_collections.multicloud.vpn.plugins.module_utils import _gcp_vpn
from ansible_collections.multicloud.vpn.plugins.module_utils._gcp import GcpError
from ansible_collections.multicloud.vpn.plugins.modules import gcp_ha_vpn_link
from ansible_collections.multicloud.vpn.tests.unit.plugins.modules.module_runner import run_module as _run_module

PROJECT = "lab-project"
KEYS = ("Alpha_key_0123456789", "Bravo_key_0123456789")


class FakeClients:
    project = PROJECT


class FakeApi:
    """Stands in for GcpLinkApi: a CurrentState in memory, steps applied with _gcp_vpn.simulate."""

    state = _gcp_vpn.CurrentState()
    executed: list = []
    fail_with = None

    def __init__(self, clients, spec, *, wait_timeout=600.0, progress=None):
        self.spec = spec
        self.warnings = []
        assert wait_timeout == 120.0

    def read_current(self):
        return FakeApi.state

    def execute(self, steps):
        if FakeApi.fail_with:
            raise _gcp_vpn.LinkExecutionError(FakeApi.fail_with, [steps[0].summary])
        FakeApi.executed.extend(steps)
        FakeApi.state = _gcp_vpn.simulate(self.spec, FakeApi.state, steps)
        return [step.summary for step in steps]

    def refresh(self, state, steps):
        return FakeApi.state

    def read_router_status(self, state):
        return state


@pytest.fixture(autouse=True)
def fake_compute(monkeypatch):
    FakeApi.state = _gcp_vpn.CurrentState(network={"name": "vpc", "selfLink": "projects/%s/global/networks/vpc" % PROJECT})
    FakeApi.executed = []
    FakeApi.fail_with = None
    monkeypatch.setattr(gcp_ha_vpn_link, "compute_clients", lambda params: FakeClients())
    monkeypatch.setattr(gcp_ha_vpn_link, "GcpLinkApi", FakeApi)


def args(**extra):
    values = {"project": PROJECT, "api_endpoint": "http://127.0.0.1:1", "region": "us-central1", "network": "vpc", "name": "lnk",
              "router": {"asn": 65000}, "wait_timeout": 120,
              "aws_tunnels": [
                  {"outside_ip": "203.0.113.11", "inside_cidr": "169.254.10.0/30", "pre_shared_key": KEYS[0], "amazon_asn": 64512,
                   "connection": 0, "aws_tunnel": "t1"},
                  {"outside_ip": "203.0.113.21", "inside_cidr": "169.254.11.0/30", "pre_shared_key": KEYS[1], "amazon_asn": 64512,
                   "connection": 1, "aws_tunnel": "t1"}]}
    values.update(extra)
    return values


def run_module(capsys, values, check_mode=False, diff=False):
    return _run_module(capsys, gcp_ha_vpn_link, values, check_mode, diff)


def test_check_mode_reports_every_change_and_writes_nothing(capsys):
    result, output = run_module(capsys, args(), check_mode=True, diff=True)
    assert result["changed"] is True and not result.get("failed")
    assert FakeApi.executed == []
    assert [action.split(" ")[0:2] for action in result["actions"]] == [
        ["create", "vpn_gateway"], ["create", "router"], ["create", "external_vpn_gateway"], ["create", "vpn_tunnel"],
        ["create", "vpn_tunnel"], ["patch", "router"]]
    after = result["diff"]["after"]
    assert [tunnel["shared_secret"] for tunnel in after["tunnels"]] == ["********", "********"]
    assert result["diff"]["before"]["tunnels"] == []
    assert not any(key in output for key in KEYS)


def test_present_applies_the_plan_and_returns_the_documented_keys(capsys):
    result, output = run_module(capsys, args())
    assert result["changed"] is True
    assert {step.kind for step in FakeApi.executed} == {"external_vpn_gateway", "vpn_gateway", "router", "vpn_tunnel"}
    assert set(result) >= {"ha_vpn_gateway", "external_vpn_gateway", "tunnels", "router", "network", "replaced", "actions", "changed"}
    assert [tunnel["name"] for tunnel in result["tunnels"]] == ["lnk-c0-t1", "lnk-c1-t1"]
    assert result["tunnels"][1]["bgp_peer"]["peer_ip_address"] == "169.254.11.1"
    assert result["external_vpn_gateway"]["redundancy_type"] == "TWO_IPS_REDUNDANCY"
    assert not any(key in output for key in KEYS)
    # the second run changes nothing
    FakeApi.executed = []
    again, _output = run_module(capsys, args())
    assert again["changed"] is False and again["actions"] == [] and FakeApi.executed == []


def test_gathered_never_writes(capsys):
    run_module(capsys, args())
    FakeApi.executed = []
    result, _output = run_module(capsys, args(state="gathered", aws_tunnels=None, network=None))
    assert result["changed"] is False and FakeApi.executed == [] and len(result["tunnels"]) == 2


def test_absent_removes_what_the_link_made(capsys):
    run_module(capsys, args())
    result, _output = run_module(capsys, args(state="absent", aws_tunnels=None))
    assert result["changed"] is True and result["tunnels"] == [] and result["ha_vpn_gateway"] is None
    assert result["actions"][0].startswith("update router lnk-router")


def test_an_invalid_value_fails_before_any_call_naming_the_option_without_the_key(capsys):
    values = args()
    values["aws_tunnels"][1]["inside_cidr"] = "169.254.10.0/30"
    result, output = run_module(capsys, values)
    assert result["failed"] is True
    assert result["msg"].startswith("aws_tunnels[1].inside_cidr: 169.254.10.0/30 overlaps aws_tunnels[0].inside_cidr")
    assert FakeApi.executed == [] and not any(key in output for key in KEYS)


def test_state_present_needs_a_network(capsys):
    result, _output = run_module(capsys, args(network=None))
    assert result["failed"] is True and "network" in result["msg"]


def test_a_failed_operation_reports_what_was_done(capsys):
    FakeApi.fail_with = "create vpn_tunnel lnk-c0-t1: 400 invalid: Invalid value"
    result, _output = run_module(capsys, args())
    assert result["failed"] is True and result["changed"] is True
    assert result["msg"] == FakeApi.fail_with and len(result["actions_done"]) == 1


def test_a_gcp_error_while_reading_is_one_clear_message(capsys, monkeypatch):
    def broken(self):
        raise GcpError("get vpn_gateway lnk-gw: 403 forbidden: Required 'compute.vpnGateways.get' permission")

    monkeypatch.setattr(FakeApi, "read_current", broken)
    result, _output = run_module(capsys, args())
    assert result["failed"] is True and result["msg"].startswith("get vpn_gateway lnk-gw: 403") and result["changed"] is False


def test_the_secret_suboption_is_no_log():
    tunnel_options = gcp_ha_vpn_link.argument_spec()["aws_tunnels"]["options"]
    assert tunnel_options["pre_shared_key"]["no_log"] is True
    assert [name for name, option in tunnel_options.items() if option.get("no_log")] == ["pre_shared_key"]

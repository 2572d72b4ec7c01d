# Unit tests of the pure parts of plugins/module_utils/_aws.py (no network).
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.multicloud.vpn.plugins.module_utils import _aws
from ansible_collections.multicloud.vpn.plugins.module_utils._aws import (AwsError, aws_argument_spec, call, ec2_client, poll_until,
                                                                          retry_config, wait_vpn_connection_available,
                                                                          wait_vpn_connection_deleted)

AWS_ENVIRONMENT = ("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                   "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL", "AWS_URL",
                   "AWS_CA_BUNDLE", "AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for name in AWS_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))


def module_params(args: dict) -> dict:
    with patch_module_args(args):
        return AnsibleModule(argument_spec=aws_argument_spec()).params


def client_error(code: str, message: str, status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, "DescribeVpnConnections")


# -- argument spec ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("option, aliases, no_log", [
    ("access_key", ["aws_access_key_id", "aws_access_key"], False),
    ("secret_key", ["aws_secret_access_key", "aws_secret_key"], True),
    ("session_token", ["aws_session_token"], True),
    ("profile", ["aws_profile"], None),
    ("region", ["aws_region"], None),
    ("endpoint_url", ["aws_endpoint_url"], None),
])
def test_argument_spec_has_amazon_aws_names_and_hides_secrets(option, aliases, no_log):
    spec = aws_argument_spec()[option]
    assert spec["aliases"] == aliases
    assert spec.get("no_log") is no_log


@pytest.mark.parametrize("variable, option, value", [
    ("AWS_ACCESS_KEY_ID", "access_key", "AKIAEXAMPLE"), ("AWS_ACCESS_KEY", "access_key", "AKIAOLD"),
    ("AWS_SECRET_ACCESS_KEY", "secret_key", "s3cret"), ("AWS_SESSION_TOKEN", "session_token", "token"),
    ("AWS_PROFILE", "profile", "lab"), ("AWS_DEFAULT_PROFILE", "profile", "lab"),
    ("AWS_REGION", "region", "eu-west-1"), ("AWS_DEFAULT_REGION", "region", "eu-west-2"),
    ("AWS_ENDPOINT_URL_EC2", "endpoint_url", "http://127.0.0.1:5000"), ("AWS_ENDPOINT_URL", "endpoint_url", "http://127.0.0.1:5001"),
    ("AWS_URL", "endpoint_url", "http://127.0.0.1:5002"), ("AWS_CA_BUNDLE", "aws_ca_bundle", "/etc/ssl/bundle.pem"),
])
def test_options_fall_back_to_the_environment(monkeypatch, variable, option, value):
    monkeypatch.setenv(variable, value)
    assert module_params({})[option] == value


def test_the_ec2_specific_endpoint_variable_wins_and_the_option_wins_over_both(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://generic:1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", "http://ec2:2")
    assert module_params({})["endpoint_url"] == "http://ec2:2"
    assert module_params({"aws_endpoint_url": "http://option:3"})["endpoint_url"] == "http://option:3"


# -- errors ---------------------------------------------------------------------------------------------------------------

class FakeEc2:
    """Stands in for a boto3 client: each method answers from a script of results / exceptions."""

    def __init__(self, **scripts):
        self.scripts = {name: list(items) for name, items in scripts.items()}
        self.calls = []

    def __getattr__(self, operation):
        def method(**parameters):
            self.calls.append((operation, parameters))
            item = self.scripts[operation].pop(0)
            if isinstance(item, BaseException):
                raise item
            return item
        return method


def test_client_error_becomes_one_line_with_action_code_and_message():
    client = FakeEc2(describe_vpn_connections=[client_error("InvalidVpnConnectionID.NotFound", "The vpnConnection ID 'vpn-1'\ndoes not exist")])
    with pytest.raises(AwsError) as excinfo:
        call(client, "describe_vpn_connections", VpnConnectionIds=["vpn-1"])
    assert str(excinfo.value) == "describe vpn connections: InvalidVpnConnectionID.NotFound: The vpnConnection ID 'vpn-1' does not exist"
    error = excinfo.value
    assert (error.code, error.http_status, error.operation) == ("InvalidVpnConnectionID.NotFound", 400, "describe vpn connections")


def test_botocore_error_names_its_type():
    client = FakeEc2(describe_vpn_gateways=[EndpointConnectionError(endpoint_url="http://127.0.0.1:9")])
    with pytest.raises(AwsError) as excinfo:
        call(client, "describe_vpn_gateways", action="look up the VPN gateway")
    assert str(excinfo.value).startswith("look up the VPN gateway: EndpointConnectionError: Could not connect")
    assert excinfo.value.code is None


def test_pre_shared_keys_never_reach_the_message():
    secret = "Very.Secret_Key1"
    client = FakeEc2(modify_vpn_tunnel_options=[client_error("InvalidParameterValue", "Invalid pre-shared key %s" % secret)])
    with pytest.raises(AwsError) as excinfo:
        call(client, "modify_vpn_tunnel_options", VpnConnectionId="vpn-1", VpnTunnelOutsideIpAddress="203.0.113.1",
             TunnelOptions={"PreSharedKey": secret})
    assert secret not in str(excinfo.value) and secret not in excinfo.value.exception_text
    assert "********" in str(excinfo.value)


def test_call_returns_the_sdk_result():
    client = FakeEc2(describe_vpn_gateways=[{"VpnGateways": []}])
    assert call(client, "describe_vpn_gateways", Filters=[]) == {"VpnGateways": []}
    assert client.calls == [("describe_vpn_gateways", {"Filters": []})]


# -- client construction ------------------------------------------------------------------------------------------------------

def test_retry_config_defaults_to_standard_mode_and_follows_environment_and_options(monkeypatch):
    assert retry_config() == {"mode": "standard", "total_max_attempts": 10}
    monkeypatch.setenv("AWS_RETRY_MODE", "adaptive")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "4")
    assert retry_config() == {"mode": "adaptive", "total_max_attempts": 4}
    assert retry_config({"retries": {"max_attempts": 2}}) == {"mode": "adaptive", "max_attempts": 2}  # botocore: 2 retries
    assert retry_config({"retries": {"mode": "legacy", "total_max_attempts": 3}}) == {"mode": "legacy", "total_max_attempts": 3}
    with pytest.raises(AwsError):
        retry_config({"retries": {"mode": "eager"}})


def test_ec2_client_uses_region_endpoint_and_retries():
    client = ec2_client(module_params({"region": "eu-west-3", "access_key": "AKIAEXAMPLE", "secret_key": "x",
                                       "endpoint_url": "http://127.0.0.1:4999", "aws_config": {"retries": {"total_max_attempts": 3}}}))
    assert client.meta.region_name == "eu-west-3"
    assert client.meta.endpoint_url == "http://127.0.0.1:4999"
    assert client.meta.config.retries["mode"] == "standard" and client.meta.config.retries["total_max_attempts"] == 3
    assert "multicloud.vpn" in client.meta.config.user_agent_extra


def test_ec2_client_refuses_a_profile_together_with_keys():
    with pytest.raises(AwsError, match="profile and access tokens"):
        ec2_client({"region": "eu-west-1", "profile": "lab", "access_key": "AKIAEXAMPLE"})


def test_ec2_client_needs_a_region():
    with pytest.raises(AwsError, match="needs a region"):
        ec2_client({"access_key": "AKIAEXAMPLE", "secret_key": "x"})


def test_unknown_profile_is_one_aws_error():
    with pytest.raises(AwsError) as excinfo:
        ec2_client({"region": "eu-west-1", "profile": "nowhere"})
    assert str(excinfo.value).startswith("create ec2 client: ProfileNotFound:")


def test_without_boto3_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setattr(_aws, "HAS_BOTO3", False)
    with pytest.raises(AwsError, match="boto3"):
        ec2_client({"region": "eu-west-1"})


# -- waiting ------------------------------------------------------------------------------------------------------------------------

class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def connection_states(*states):
    return [client_error("InvalidVpnConnectionID.NotFound", "not yet") if state is None else
            {"VpnConnections": [{"VpnConnectionId": "vpn-1", "State": state}]} for state in states]


@pytest.mark.parametrize("states, seen", [
    (["available"], ["available"]),
    (["pending", "pending", "available"], ["pending", "pending", "available"]),
    ([None, "pending", "available"], ["unknown", "pending", "available"]),  # eventual consistency after create
    (["modifying", "available"], ["modifying", "available"]),
])
def test_wait_vpn_connection_available_polls_and_reports_progress(states, seen):
    clock, progress = FakeClock(), []
    connection = wait_vpn_connection_available(FakeEc2(describe_vpn_connections=connection_states(*states)), "vpn-1", timeout=60, sleep=5,
                                               on_progress=lambda state, elapsed: progress.append((state, elapsed)),
                                               clock=clock, sleeper=clock.sleep)
    assert connection["State"] == "available"
    assert progress == [(state, 5.0 * index) for index, state in enumerate(seen)]


def test_wait_fails_at_once_when_the_connection_is_being_deleted():
    clock = FakeClock()
    with pytest.raises(AwsError, match="reached state deleting") as excinfo:
        wait_vpn_connection_available(FakeEc2(describe_vpn_connections=connection_states("pending", "deleting")), "vpn-1",
                                      clock=clock, sleeper=clock.sleep)
    assert excinfo.value.code == "UnexpectedState"


def test_wait_times_out_with_the_last_state_in_the_message():
    clock = FakeClock()
    with pytest.raises(AwsError, match=r"still pending after 10 seconds \(timeout 12 s\)") as excinfo:
        wait_vpn_connection_available(FakeEc2(describe_vpn_connections=connection_states(*["pending"] * 10)), "vpn-1", timeout=12, sleep=5,
                                      clock=clock, sleeper=clock.sleep)
    assert excinfo.value.code == "WaitTimeout"


def test_wait_passes_on_errors_that_are_not_transient():
    clock = FakeClock()
    client = FakeEc2(describe_vpn_connections=[client_error("UnauthorizedOperation", "no", 403)])
    with pytest.raises(AwsError) as excinfo:
        wait_vpn_connection_available(client, "vpn-1", clock=clock, sleeper=clock.sleep)
    assert excinfo.value.code == "UnauthorizedOperation"


def test_wait_deleted_accepts_a_connection_that_is_gone():
    clock = FakeClock()
    client = FakeEc2(describe_vpn_connections=connection_states("deleting", None))
    assert wait_vpn_connection_deleted(client, "vpn-1", sleep=1, clock=clock, sleeper=clock.sleep) is None
    assert clock.now == 1.0


def test_poll_until_is_generic():
    clock, values = FakeClock(), iter([1, 2, 3])
    assert poll_until(lambda: next(values), lambda value: "done" if value == 3 else "busy", what="counter", ready=("done",),
                      sleep=1, clock=clock, sleeper=clock.sleep) == 3


def test_doc_fragment_documents_every_option_of_the_argument_spec():
    import yaml
    from ansible_collections.multicloud.vpn.plugins.doc_fragments.aws import ModuleDocFragment

    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    spec = aws_argument_spec()
    assert sorted(documented) == sorted(spec)
    for name, option in spec.items():
        assert documented[name]["type"] == option.get("type", "str"), name
        assert documented[name].get("aliases", []) == option.get("aliases", []), name
        assert documented[name].get("default") == option.get("default"), name

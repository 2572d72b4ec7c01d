# Unit tests of the pure parts of the Azure adapter (plugins/module_utils/_azure.py).
from __future__ import annotations

import json

import pytest
import yaml

from ansible_collections.multicloud.vpn.plugins.doc_fragments.azure import ModuleDocFragment
from ansible_collections.multicloud.vpn.plugins.module_utils import _azure
from ansible_collections.multicloud.vpn.plugins.module_utils._azure import (
    AzureError, azure_argument_spec, azure_error_from, is_loopback_url, one_line, redact, resolve_auth, wait_poller)

SUBSCRIPTION = "00000000-0000-4000-8000-0000000000a1"
SERVICE_PRINCIPAL = {"AZURE_SUBSCRIPTION_ID": SUBSCRIPTION, "AZURE_CLIENT_ID": "app-id", "AZURE_SECRET": "s3cret!", "AZURE_TENANT": "tenant-id"}


@pytest.fixture
def no_credentials_file(tmp_path):
    return str(tmp_path / "absent")


# -- resolve_auth ----------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["http://127.0.0.1:8443", "http://localhost:1", "http://[::1]:8080/"])
def test_plain_http_loopback_base_url_is_the_lab(url, no_credentials_file):
    plan = resolve_auth({"base_url": url, "subscription_id": SUBSCRIPTION}, environ={}, credentials_file=no_credentials_file)
    assert (plan.kind, plan.source, plan.plain_http) == ("lab", "lab", True)
    assert plan.base_url == url.rstrip("/")


def test_base_url_comes_from_azure_base_url(no_credentials_file):
    plan = resolve_auth({}, environ={"AZURE_BASE_URL": "http://127.0.0.1:9", "AZURE_SUBSCRIPTION_ID": SUBSCRIPTION}, credentials_file=no_credentials_file)
    assert plan.kind == "lab" and plan.subscription_id == SUBSCRIPTION


@pytest.mark.parametrize("url", ["http://10.0.0.5:8443", "http://management.azure.com", "ftp://127.0.0.1"])
def test_plain_http_elsewhere_is_refused(url, no_credentials_file):
    with pytest.raises(AzureError, match="base_url"):
        resolve_auth({"base_url": url, "subscription_id": SUBSCRIPTION}, environ=SERVICE_PRINCIPAL, credentials_file=no_credentials_file)


def test_https_base_url_keeps_real_credentials(no_credentials_file):
    plan = resolve_auth({"base_url": "https://arm.example.test/"}, environ=SERVICE_PRINCIPAL, credentials_file=no_credentials_file)
    assert plan.kind == "service_principal" and plan.base_url == "https://arm.example.test" and not plan.plain_http


def test_service_principal_from_parameters_wins_over_environment(no_credentials_file):
    params = {"subscription_id": "sub-param", "client_id": "param-app", "secret": "param-secret", "tenant": "param-tenant"}
    plan = resolve_auth(params, environ=SERVICE_PRINCIPAL, credentials_file=no_credentials_file)
    assert (plan.kind, plan.source, plan.client_id, plan.secret, plan.subscription_id) == (
        "service_principal", "parameters", "param-app", "param-secret", "sub-param")
    assert plan.base_url == "https://management.azure.com" and plan.cloud.scope == "https://management.azure.com/.default"


def test_awx_environment_variables_make_a_service_principal(no_credentials_file):
    plan = resolve_auth({}, environ=SERVICE_PRINCIPAL, credentials_file=no_credentials_file)
    assert (plan.kind, plan.source, plan.tenant, plan.subscription_id) == ("service_principal", "environment", "tenant-id", SUBSCRIPTION)


def test_azure_identity_variable_names_are_accepted(no_credentials_file):
    environ = {"AZURE_SUBSCRIPTION_ID": SUBSCRIPTION, "AZURE_CLIENT_ID": "app", "AZURE_CLIENT_SECRET": "x", "AZURE_TENANT_ID": "t"}
    plan = resolve_auth({}, environ=environ, credentials_file=no_credentials_file)
    assert (plan.kind, plan.secret, plan.tenant) == ("service_principal", "x", "t")


def test_credentials_file_profile(tmp_path):
    path = tmp_path / "credentials"
    path.write_text("[default]\nsubscription_id = %s\nclient_id = file-app\nsecret = file-secret\ntenant = file-tenant\n"
                    "[china]\nsubscription_id = sub-cn\nclient_id = a\nsecret = b\ntenant = c\ncloud_environment = AzureChinaCloud\n" % SUBSCRIPTION)
    plan = resolve_auth({}, environ={}, credentials_file=str(path))
    assert (plan.kind, plan.source, plan.client_id) == ("service_principal", "credential_file", "file-app")
    china = resolve_auth({"profile": "china"}, environ={}, credentials_file=str(path))
    assert china.cloud.name == "AzureChinaCloud" and china.base_url == "https://management.chinacloudapi.cn"
    with pytest.raises(AzureError, match="profile nope not found"):
        resolve_auth({"auth_source": "credential_file", "profile": "nope"}, environ={}, credentials_file=str(path))


def test_auto_falls_back_to_azure_identity_defaults(no_credentials_file):
    plan = resolve_auth({"subscription_id": SUBSCRIPTION}, environ={}, credentials_file=no_credentials_file)
    assert (plan.kind, plan.source) == ("default", "azure-identity")


@pytest.mark.parametrize("source", ["msi", "cli"])
def test_msi_and_cli_need_only_the_subscription(source, no_credentials_file):
    plan = resolve_auth({"auth_source": source, "subscription_id": SUBSCRIPTION, "client_id": "identity"}, environ={}, credentials_file=no_credentials_file)
    assert plan.kind == source and plan.client_id == "identity"


def test_auth_source_env_ignores_parameters(no_credentials_file):
    plan = resolve_auth({"auth_source": "env", "client_id": "ignored"}, environ=SERVICE_PRINCIPAL, credentials_file=no_credentials_file)
    assert plan.client_id == "app-id" and plan.source == "environment"


def test_incomplete_service_principal_names_what_is_missing_without_the_secret(no_credentials_file):
    with pytest.raises(AzureError) as caught:
        resolve_auth({"subscription_id": SUBSCRIPTION, "client_id": "app", "secret": "hunter2"}, environ={}, credentials_file=no_credentials_file)
    assert "missing tenant" in str(caught.value) and "hunter2" not in str(caught.value)


def test_subscription_is_required(no_credentials_file):
    with pytest.raises(AzureError, match="subscription_id"):
        resolve_auth({"client_id": "a", "secret": "b", "tenant": "c"}, environ={}, credentials_file=no_credentials_file)
    with pytest.raises(AzureError, match="subscription_id"):
        resolve_auth({"base_url": "http://127.0.0.1:1"}, environ={}, credentials_file=no_credentials_file)


def test_cloud_environment_and_cert_validation(no_credentials_file):
    plan = resolve_auth({"cloud_environment": "AzureUSGovernment", "cert_validation_mode": "ignore"}, environ=SERVICE_PRINCIPAL,
                        credentials_file=no_credentials_file)
    assert plan.cloud.authority_host == "login.microsoftonline.us" and plan.base_url == "https://management.usgovcloudapi.net"
    assert plan.verify_tls is False
    with pytest.raises(AzureError, match="cloud_environment"):
        resolve_auth({"cloud_environment": "Mars"}, environ=SERVICE_PRINCIPAL, credentials_file=no_credentials_file)


def test_auth_plan_repr_hides_the_secret(no_credentials_file):
    assert "s3cret!" not in repr(resolve_auth({}, environ=SERVICE_PRINCIPAL, credentials_file=no_credentials_file))


def test_is_loopback_url():
    assert is_loopback_url("http://127.0.0.2:1") and is_loopback_url("http://localhost")
    assert not is_loopback_url("http://192.0.2.1") and not is_loopback_url("http://example.test")


# -- argument spec and doc fragment -------------------------------------------------------------
def test_argument_spec_matches_the_doc_fragment():
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    spec = azure_argument_spec()
    assert set(spec) == set(documented)
    for name, option in spec.items():
        assert option["type"] == documented[name]["type"], name
        assert option.get("choices") == documented[name].get("choices"), name
        assert option.get("default") == documented[name].get("default"), name
    assert spec["secret"]["no_log"] is True


# -- errors --------------------------------------------------------------------------------------
class FakeResponse:
    """Just enough of an azure-core HTTP response for HttpResponseError."""

    def __init__(self, status, document):
        self.status_code = status
        self.reason = "Bad Request"
        self.headers = {"content-type": "application/json"}
        self.content_type = "application/json"
        self.request = None
        self._text = json.dumps(document)

    def text(self, encoding=None):
        del encoding
        return self._text

    def json(self):
        return json.loads(self._text)

    def body(self):
        return self._text.encode()


def test_arm_error_becomes_one_line_with_code_details_and_status():
    from azure.core.exceptions import HttpResponseError  # pylint: disable=import-outside-toplevel

    document = {"error": {"code": "InvalidRequestFormat", "message": "Cannot parse the request.",
                          "details": [{"code": "InvalidJson", "message": "Could not find member 'x'.\nPath 'properties.x'."}]}}
    error = azure_error_from(HttpResponseError(response=FakeResponse(400, document)), "create gateway gw")
    assert str(error) == ("create gateway gw failed: InvalidRequestFormat: Cannot parse the request. "
                          "(InvalidJson: Could not find member 'x'. Path 'properties.x'.) (HTTP 400)")
    assert (error.code, error.status) == ("InvalidRequestFormat", 400)


def test_failed_operation_status_body_is_read_too():
    from azure.core.exceptions import HttpResponseError  # pylint: disable=import-outside-toplevel

    document = {"status": "Failed", "error": {"code": "GatewayProvisioningFailed", "message": "No capacity."}}
    error = azure_error_from(HttpResponseError(response=FakeResponse(200, document)), "create gateway gw")
    assert error.code == "GatewayProvisioningFailed" and "No capacity." in str(error)


def test_secrets_are_masked_in_errors():
    assert redact("key abc123 rejected", ("abc123", None, "")) == "key ******** rejected"
    error = azure_error_from(ValueError("shared key abc123 is bad"), "set key", secrets=("abc123",))
    assert "abc123" not in str(error)


def test_one_line():
    assert one_line(" a\n b\t c ") == "a b c"


# -- wait_poller -----------------------------------------------------------------------------------
class FakePoller:
    def __init__(self, waits_needed, result="done", failure=None):
        self.waits_needed = waits_needed
        self.waits = 0
        self._result = result
        self.failure = failure

    def done(self):
        return self.waits >= self.waits_needed

    def wait(self, timeout):
        assert timeout > 0
        self.waits += 1

    def status(self):
        return "Succeeded" if self.done() else "InProgress"

    def result(self):
        if self.failure:
            raise self.failure
        return self._result


def test_wait_poller_returns_the_result_and_reports_progress():
    progress = []
    assert wait_poller(FakePoller(3), 60, progress=lambda status, elapsed: progress.append(status)) == "done"
    assert progress == ["InProgress", "InProgress"]


def test_wait_poller_times_out():
    poller = FakePoller(10 ** 9)
    poller.wait = lambda timeout: None
    with pytest.raises(AzureError) as caught:
        wait_poller(poller, 0.01, action="create gateway gw")
    assert caught.value.code == "Timeout" and str(caught.value).startswith("create gateway gw timed out after")


def test_wait_poller_turns_sdk_failures_into_azure_error():
    from azure.core.exceptions import HttpResponseError  # pylint: disable=import-outside-toplevel

    failure = HttpResponseError(response=FakeResponse(409, {"error": {"code": "AnotherOperationInProgress", "message": "Busy."}}))
    with pytest.raises(AzureError) as caught:
        wait_poller(FakePoller(0, failure=failure), 5, action="update gateway gw")
    assert str(caught.value) == "update gateway gw failed: AnotherOperationInProgress: Busy. (HTTP 409)"


# -- client construction ---------------------------------------------------------------------------
def test_lab_client_uses_plain_http_bearer_policy_and_short_polling():
    client = _azure.network_client({"base_url": "http://127.0.0.1:9", "subscription_id": SUBSCRIPTION}, environ={})
    assert isinstance(client._config.authentication_policy, _azure.PlainHttpBearerTokenPolicy)  # pylint: disable=protected-access
    assert client._config.polling_interval == _azure.LAB_POLLING_INTERVAL  # pylint: disable=protected-access
    assert client._config.subscription_id == SUBSCRIPTION  # pylint: disable=protected-access
    assert _azure.LabTokenCredential().get_token("scope").token == "lab-token"

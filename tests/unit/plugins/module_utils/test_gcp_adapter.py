# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the GCP adapter's pure parts: options, auth selection, errors, retries, operation waiting."""
from __future__ import annotations

import json

import pytest
import requests
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import compute_v1
from google.oauth2 import credentials as oauth2_credentials
from google.oauth2 import service_account

from ansible_collections.multicloud.vpn.plugins.module_utils import _gcp

ENVIRONMENT = ("GCP_PROJECT", "GCE_PROJECT", "GOOGLE_CLOUD_PROJECT", "GCP_AUTH_KIND", "GCP_SERVICE_ACCOUNT_EMAIL", "GCE_EMAIL",
               "GCP_SERVICE_ACCOUNT_FILE", "GCE_CREDENTIALS_FILE_PATH", "GCP_SERVICE_ACCOUNT_CONTENTS", "GCP_ACCESS_TOKEN",
               "GCP_SCOPES", "GCP_ENV_TYPE", "GCP_COMPUTE_ENDPOINT", "CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE",
               "GOOGLE_APPLICATION_CREDENTIALS")
DONE, RUNNING = compute_v1.Operation.Status.DONE, compute_v1.Operation.Status.RUNNING
REGION_LINK = "https://www.googleapis.com/compute/v1/projects/p/regions/us-east1"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def service_account_json():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    return json.dumps({"type": "service_account", "project_id": "sa-project", "private_key_id": "k1", "private_key": pem,
                       "client_email": "robot@sa-project.iam.gserviceaccount.com", "client_id": "1",
                       "token_uri": "https://oauth2.googleapis.com/token"})


def validated(parameters: dict) -> dict:
    result = ArgumentSpecValidator(_gcp.gcp_argument_spec()).validate(parameters)
    assert not result.error_messages, result.error_messages
    return result.validated_parameters


# -- options -------------------------------------------------------------------------------------
def test_secret_options_are_no_log():
    spec = _gcp.gcp_argument_spec()
    assert {name for name, option in spec.items() if option.get("no_log")} == {"access_token", "service_account_contents"}
    assert spec["auth_kind"]["choices"] == ["application", "machineaccount", "serviceaccount", "accesstoken", "anonymous"]


def test_awx_google_compute_engine_credential_is_understood(monkeypatch, tmp_path):
    key_file = tmp_path / "awx-key.json"
    for name, value in {"GCE_EMAIL": "robot@p.iam.gserviceaccount.com", "GCE_PROJECT": "awx-project",
                        "GCE_CREDENTIALS_FILE_PATH": str(key_file), "GCP_SERVICE_ACCOUNT_FILE": str(key_file),
                        "GOOGLE_APPLICATION_CREDENTIALS": str(key_file), "GCP_AUTH_KIND": "serviceaccount",
                        "GCP_PROJECT": "awx-project", "GCP_ENV_TYPE": "tower"}.items():
        monkeypatch.setenv(name, value)
    params = validated({})
    assert (params["auth_kind"], params["project"], params["service_account_file"], params["env_type"]) == (
        "serviceaccount", "awx-project", str(key_file), "tower")
    assert params["service_account_email"] is None  # GCE_EMAIL is the key's own address, not a machineaccount option
    assert _gcp.resolve_auth_kind(params) == "serviceaccount"


@pytest.mark.parametrize("environment, expected", [
    ({"GCE_PROJECT": "old-style"}, {"project": "old-style"}),
    ({"GCP_PROJECT": "new", "GCE_PROJECT": "old"}, {"project": "new"}),
    ({"GOOGLE_CLOUD_PROJECT": "adc-style"}, {"project": "adc-style"}),
    ({"GCE_CREDENTIALS_FILE_PATH": "/run/key.json"}, {"service_account_file": "/run/key.json"}),
    ({"GCP_COMPUTE_ENDPOINT": "http://127.0.0.1:8482"}, {"api_endpoint": "http://127.0.0.1:8482"}),
    ({"CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE": "https://compute.example.test/compute/v1/"},
     {"api_endpoint": "https://compute.example.test/compute/v1/"}),
    ({"GCP_SCOPES": "https://www.googleapis.com/auth/cloud-platform,https://www.googleapis.com/auth/compute"},
     {"scopes": ["https://www.googleapis.com/auth/cloud-platform", "https://www.googleapis.com/auth/compute"]}),
    ({"GCP_ACCESS_TOKEN": "ya29.token"}, {"access_token": "ya29.token"}),
])
def test_environment_fallbacks(monkeypatch, environment, expected):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    params = validated({})
    assert {name: params[name] for name in expected} == expected


def test_option_values_win_over_environment(monkeypatch):
    monkeypatch.setenv("GCP_PROJECT", "from-env")
    assert validated({"project": "from-task"})["project"] == "from-task"


# -- auth selection --------------------------------------------------------------------------------
@pytest.mark.parametrize("params, kind", [
    ({"api_endpoint": "http://127.0.0.1:8482"}, "anonymous"),
    ({"api_endpoint": "http://localhost:8482/"}, "anonymous"),
    ({"api_endpoint": "http://[::1]:8482"}, "anonymous"),
    ({"api_endpoint": "https://127.0.0.1:8482"}, "application"),
    ({"api_endpoint": "http://10.0.0.5:8482"}, "application"),
    ({}, "application"),
    ({"access_token": "t"}, "accesstoken"),
    ({"service_account_file": "/k.json", "api_endpoint": "http://127.0.0.1:1"}, "serviceaccount"),
    ({"service_account_contents": "{}"}, "serviceaccount"),
    ({"service_account_email": "vm@p.iam.gserviceaccount.com"}, "machineaccount"),
    ({"auth_kind": "application", "api_endpoint": "http://127.0.0.1:1"}, "application"),
    ({"auth_kind": "anonymous", "api_endpoint": "https://emulator.test", "access_token": "ignored"}, "anonymous"),
])
def test_auth_kind_is_given_or_inferred(params, kind):
    assert _gcp.resolve_auth_kind(params) == kind


@pytest.mark.parametrize("params, message", [
    ({"auth_kind": "anonymous"}, "needs api_endpoint"),
    ({"auth_kind": "application", "service_account_email": "x@y"}, "only works with auth_kind=machineaccount"),
    ({"auth_kind": "machineaccount", "service_account_file": "/k.json"}, "only work with auth_kind=serviceaccount"),
    ({"auth_kind": "serviceaccount", "access_token": "t"}, "requires auth_kind=accesstoken"),
    ({"auth_kind": "kerberos"}, "expected one of"),
])
def test_conflicting_auth_options_are_refused(params, message):
    with pytest.raises(_gcp.GcpError, match=message):
        _gcp.resolve_auth_kind(params)


@pytest.mark.parametrize("value, expected", [
    (None, None), ("", None),
    ("http://127.0.0.1:8482", "http://127.0.0.1:8482"),
    ("http://127.0.0.1:8482/", "http://127.0.0.1:8482"),
    ("https://compute.googleapis.com/compute/v1/", "https://compute.googleapis.com"),
    ("compute.googleapis.com", "compute.googleapis.com"),
])
def test_endpoint_is_normalized(value, expected):
    assert _gcp.normalize_endpoint(value) == expected


@pytest.mark.parametrize("value", ["ftp://host", "http://host/some/path", "http://"])
def test_malformed_endpoint_is_refused(value):
    with pytest.raises(_gcp.GcpError, match="api_endpoint"):
        _gcp.normalize_endpoint(value)


def test_anonymous_credentials():
    credentials, project = _gcp.gcp_credentials({"api_endpoint": "http://127.0.0.1:9"})
    assert isinstance(credentials, AnonymousCredentials) and project is None


def test_access_token_credentials():
    credentials, _project = _gcp.gcp_credentials({"access_token": "ya29.abc", "scopes": None})
    assert isinstance(credentials, oauth2_credentials.Credentials) and credentials.token == "ya29.abc"


def test_service_account_contents_name_the_project(service_account_json):
    credentials, project = _gcp.gcp_credentials({"service_account_contents": service_account_json})
    assert isinstance(credentials, service_account.Credentials) and project == "sa-project"
    assert credentials.scopes == ["https://www.googleapis.com/auth/compute"]


def test_service_account_file(tmp_path, service_account_json):
    key_file = tmp_path / "key.json"
    key_file.write_text(service_account_json)
    credentials, project = _gcp.gcp_credentials({"service_account_file": str(key_file), "scopes": ["s1"]})
    assert credentials.service_account_email.startswith("robot@") and project == "sa-project"
    with pytest.raises(_gcp.GcpError, match="cannot read service_account_file"):
        _gcp.gcp_credentials({"service_account_file": str(tmp_path / "missing.json")})


def test_bad_service_account_contents_are_not_echoed():
    secret = '{"private_key": "-----BEGIN PRIVATE KEY-----secret'
    with pytest.raises(_gcp.GcpError) as failure:
        _gcp.gcp_credentials({"service_account_contents": secret})
    assert "secret" not in str(failure.value) and "not valid JSON" in str(failure.value)


def test_application_default_credentials_from_file(monkeypatch, tmp_path):
    adc = tmp_path / "adc.json"
    adc.write_text(json.dumps({"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r"}))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "adc-project")
    credentials, project = _gcp.gcp_credentials({})
    assert isinstance(credentials, oauth2_credentials.Credentials) and project == "adc-project"


def test_missing_application_default_credentials_is_one_clear_line(monkeypatch, tmp_path):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "absent.json"))
    with pytest.raises(_gcp.GcpError) as failure:
        _gcp.gcp_credentials({"auth_kind": "application"})
    assert "\n" not in str(failure.value) and str(failure.value).startswith("GCP authentication: ")


# -- clients ----------------------------------------------------------------------------------------
def test_clients_use_the_endpoint_for_everything_including_operation_polling():
    clients = _gcp.compute_clients({"project": "p", "api_endpoint": "http://127.0.0.1:9/", "env_type": "tower"})
    for client in (clients.vpn_gateways, clients.external_vpn_gateways, clients.vpn_tunnels, clients.routers, clients.networks,
                   clients.region_operations, clients.global_operations):
        assert client._transport._host == "http://127.0.0.1:9"
    services = clients.vpn_tunnels._transport._extended_operations_services
    assert services["region_operations"] is clients.region_operations
    assert services["global_operations"] is clients.global_operations
    assert clients.project == "p" and clients.api_endpoint == "http://127.0.0.1:9"


def test_project_comes_from_the_credentials_or_is_required(service_account_json):
    assert _gcp.compute_clients({"service_account_contents": service_account_json}).project == "sa-project"
    with pytest.raises(_gcp.GcpError, match="project is required"):
        _gcp.compute_clients({"api_endpoint": "http://127.0.0.1:9"})


def test_missing_sdk_is_reported(monkeypatch):
    monkeypatch.setattr(_gcp, "HAS_GOOGLE_CLOUD_COMPUTE", False)
    with pytest.raises(_gcp.GcpError, match="google-cloud-compute"):
        _gcp.compute_clients({"project": "p"})


def test_only_methods_with_request_id_get_one():
    clients = _gcp.compute_clients({"project": "p", "api_endpoint": "http://127.0.0.1:9"})
    assert _gcp.accepts_request_id(clients.vpn_tunnels.insert)
    assert _gcp.accepts_request_id(clients.routers.patch_unary)
    assert not _gcp.accepts_request_id(clients.external_vpn_gateways.set_labels)  # globalSetLabels has no requestId
    assert not _gcp.accepts_request_id(clients.vpn_tunnels.get)


def fake_clients(**operations_clients) -> _gcp.ComputeClients:
    return _gcp.ComputeClients(project="p", api_endpoint=None, vpn_gateways=None, external_vpn_gateways=None, vpn_tunnels=None,
                               routers=None, networks=None, region_operations=operations_clients.get("region"),
                               global_operations=operations_clients.get("global"), retry=None, secrets=["hunter2"])


def test_mutation_gets_a_request_id_and_keeps_a_given_one():
    seen = []

    def insert(request, retry):
        seen.append(request)
        return "operation"

    # a plain function has no request annotation: no request id is invented for it
    clients = fake_clients()
    clients.mutate("insert", insert, {"project": "p"})
    assert "request_id" not in seen[-1]
    real = _gcp.compute_clients({"project": "p", "api_endpoint": "http://127.0.0.1:9"})
    real.vpn_tunnels._transport._wrapped_methods[real.vpn_tunnels._transport.insert] = lambda request, **kwargs: seen.append(request)
    real.mutate("insert", real.vpn_tunnels.insert_unary, {"project": "p", "region": "us-east1", "vpn_tunnel_resource": {"name": "t"}})
    real.mutate("insert", real.vpn_tunnels.insert_unary, {"project": "p", "region": "us-east1", "request_id": "fixed",
                                                          "vpn_tunnel_resource": {"name": "t"}})
    assert len(seen[-2].request_id) == 36 and seen[-1].request_id == "fixed"


def test_read_can_treat_not_found_as_absent():
    def missing(request, retry):
        raise api_exceptions.NotFound("GET http://x/y: The resource 'projects/p/global/networks/n' was not found")

    clients = fake_clients()
    assert clients.read("get network", missing, {}, missing_ok=True) is None
    with pytest.raises(_gcp.GcpError, match="^get network: 404: The resource .*was not found$"):
        clients.read("get network", missing, {})


# -- retries ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("error, retried", [
    (api_exceptions.TooManyRequests("slow down"), True),
    (api_exceptions.ServiceUnavailable("later"), True),
    (api_exceptions.InternalServerError("oops"), True),
    (api_exceptions.DeadlineExceeded("late"), True),
    (api_exceptions.GatewayTimeout("late"), True),
    (requests.exceptions.ConnectionError("reset"), True),
    (api_exceptions.BadRequest("no"), False),
    (api_exceptions.NotFound("no"), False),
    (api_exceptions.Conflict("no"), False),
    (api_exceptions.PreconditionFailed("no"), False),
])
def test_retry_policy(error, retried):
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise error
        return "ok"

    policy = _gcp.api_retry(5, initial=0.001, maximum=0.002)
    if retried:
        assert policy(flaky)() == "ok" and len(calls) == 3
    else:
        with pytest.raises(type(error)):
            policy(flaky)()
        assert len(calls) == 1


# -- errors -----------------------------------------------------------------------------------------
def test_api_error_becomes_one_line_without_secrets():
    error = api_exceptions.from_http_status(
        400, "POST http://127.0.0.1:9/compute/v1/projects/p/regions/r/vpnTunnels?requestId=x: Invalid value for field\n"
             "'resource.sharedSecret': 'hunter2'.", errors=[{"reason": "invalid", "message": "..."}])
    converted = _gcp.GcpError.from_exception(error, "create VPN tunnel t0", secrets=["hunter2"])
    assert str(converted) == "create VPN tunnel t0: 400 invalid: Invalid value for field 'resource.sharedSecret': '********'."
    assert (converted.status_code, converted.reason) == (400, "invalid")


@pytest.mark.parametrize("error, expected", [
    (auth_exceptions.DefaultCredentialsError("Your default credentials were not found.\nTo set up ADC, see https://x"),
     "act: no Google credentials found"),
    (auth_exceptions.RefreshError("invalid_grant: Invalid JWT Signature.", {"error": "invalid_grant"}),
     "act: could not obtain an access token: invalid_grant: Invalid JWT Signature."),
    (requests.exceptions.ConnectionError("HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded\nrefused"),
     "act: ConnectionError: HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded refused"),
])
def test_other_failures_become_one_line(error, expected):
    assert str(_gcp.GcpError.from_exception(error, "act")).startswith(expected)
    assert "\n" not in str(_gcp.GcpError.from_exception(error, "act"))


# -- operations -----------------------------------------------------------------------------------------
def operation(status=DONE, region=REGION_LINK, **extra):
    return compute_v1.Operation(name="operation-1", status=status, region=region, operation_type="insert",
                                target_link="https://www.googleapis.com/compute/v1/projects/p/regions/us-east1/vpnTunnels/t0", **extra)


class FakeOperations:
    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests = []

    def wait(self, request, retry, timeout):
        self.requests.append((request, timeout))
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def test_scope_of_an_operation():
    assert _gcp.operation_scope(operation()) == ("region", "us-east1")
    assert _gcp.operation_scope(operation(region="")) == ("global", None)
    with pytest.raises(_gcp.GcpError, match="zonal"):
        _gcp.operation_scope(operation(region="", zone="https://x/zones/us-east1-b"))


def test_regional_operation_is_waited_for_with_the_region_client():
    region = FakeOperations(operation(RUNNING), operation(DONE))
    seen = []
    done = _gcp.wait_operation(fake_clients(region=region, **{"global": FakeOperations()}), operation(RUNNING), timeout=30,
                               progress=lambda current: seen.append(current.status))
    assert done.status == DONE and seen == [RUNNING, DONE]
    assert region.requests[0][0] == {"project": "p", "operation": "operation-1", "region": "us-east1"}
    assert region.requests[0][1] <= 30


def test_global_operation_is_waited_for_with_the_global_client():
    global_operations = FakeOperations(operation(DONE, region=""))
    _gcp.wait_operation(fake_clients(region=FakeOperations(), **{"global": global_operations}), operation(RUNNING, region=""))
    assert global_operations.requests[0][0] == {"project": "p", "operation": "operation-1"}


def test_failed_operation_raises_with_its_error():
    failed = operation(DONE, http_error_status_code=400, http_error_message="BAD REQUEST",
                       error=compute_v1.Error(errors=[compute_v1.Errors(code="RESOURCE_IN_USE_BY_ANOTHER_RESOURCE",
                                                                        message="in use by 'x' (psk hunter2)")]))
    with pytest.raises(_gcp.GcpError) as failure:
        _gcp.wait_operation(fake_clients(region=FakeOperations(failed)), operation(RUNNING))
    assert str(failure.value) == ("insert t0: operation operation-1 failed: 400 RESOURCE_IN_USE_BY_ANOTHER_RESOURCE: "
                                  "in use by 'x' (psk ********)")
    assert (failure.value.status_code, failure.value.reason, failure.value.operation) == (
        400, "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE", "operation-1")


def test_already_done_operation_needs_no_call():
    region = FakeOperations()
    assert _gcp.wait_operation(fake_clients(region=region), operation(DONE)).status == DONE
    assert region.requests == []


def test_wait_gives_up_at_the_timeout():
    region = FakeOperations(requests.exceptions.ReadTimeout("held"), *[operation(RUNNING)] * 50)
    with pytest.raises(_gcp.GcpError, match="not done after 0s"):
        _gcp.wait_operation(fake_clients(region=region), operation(RUNNING), timeout=0.05)


def test_doc_fragment_documents_exactly_the_argument_spec():
    import yaml

    from ansible_collections.multicloud.vpn.plugins.doc_fragments.gcp import ModuleDocFragment

    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    spec = _gcp.gcp_argument_spec()
    assert set(documented) == set(spec)
    for name, option in documented.items():
        assert (option["type"], option.get("choices"), option.get("elements")) == (
            spec[name]["type"], spec[name].get("choices"), spec[name].get("elements")), name

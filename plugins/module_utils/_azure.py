# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to multicloud.vpn: azure-mgmt-network access for the collection's modules.
# Not a public API; it may change without notice.
"""Credentials, the NetworkManagementClient, long-running operations and one error type.

Authentication follows azure.azcollection (same option names, same environment variables as
AWX's "Microsoft Azure Resource Manager" credential injects), resolved by the pure
:func:`resolve_auth`; azure-identity builds the credential. ``base_url`` (env ``AZURE_BASE_URL``)
points the client at another ARM endpoint; over plain http it must be a loopback address (the
lab), and then a lab token is used instead of real credentials, the bearer-token policy is told
``enforce_https=False`` and long-running operations are polled every half second. Retries of
429 / 5xx answers are azure-core's RetryPolicy (it honours Retry-After).
"""
from __future__ import annotations

import configparser
import ipaddress
import os
import re
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping
from urllib.parse import urlparse

from ansible.module_utils.basic import env_fallback

try:
    from azure.core.credentials import AccessToken
    from azure.core.exceptions import AzureError as SdkAzureError
    from azure.core.exceptions import HttpResponseError, ResourceNotFoundError, ServiceRequestError
    from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy
    from azure.mgmt.network import NetworkManagementClient
except ImportError:
    HAS_AZURE_SDK = False
    AZURE_SDK_IMPORT_ERROR = traceback.format_exc()

    class SdkAzureError(Exception):  # type: ignore[no-redef]
        """Stands in for azure.core's exceptions when the SDK is missing: never raised."""

    class ResourceNotFoundError(SdkAzureError):  # type: ignore[no-redef]
        """Stands in for azure.core's ResourceNotFoundError when the SDK is missing: never raised."""
else:
    HAS_AZURE_SDK = True
    AZURE_SDK_IMPORT_ERROR = None

AUTH_SOURCES = ("auto", "cli", "credential_file", "env", "msi")
USER_AGENT = "ansible-multicloud.vpn"
LAB_POLLING_INTERVAL = 0.5
PROGRESS_INTERVAL = 10.0
CREDENTIALS_FILE = "~/.azure/credentials"
MASK = "********"


@dataclass(frozen=True)
class ArmCloud:
    """One Azure cloud: its ARM endpoint, its Entra ID authority and the token scope for ARM."""

    name: str
    resource_manager: str
    authority_host: str

    @property
    def scope(self) -> str:
        return self.resource_manager.rstrip("/") + "/.default"


CLOUDS = {
    "AzureCloud": ArmCloud("AzureCloud", "https://management.azure.com/", "login.microsoftonline.com"),
    "AzureChinaCloud": ArmCloud("AzureChinaCloud", "https://management.chinacloudapi.cn/", "login.chinacloudapi.cn"),
    "AzureUSGovernment": ArmCloud("AzureUSGovernment", "https://management.usgovcloudapi.net/", "login.microsoftonline.us"),
}


class AzureError(Exception):
    """The one error this adapter raises: a single line, never containing a secret."""

    def __init__(self, message: str, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass
class AuthPlan:
    """What resolve_auth decided: which credential, for which subscription, against which endpoint."""

    kind: str  # lab | service_principal | certificate | msi | cli | default
    subscription_id: str
    cloud: ArmCloud
    base_url: str
    source: str  # parameters | environment | credential_file | lab | azure-identity
    client_id: str | None = None
    tenant: str | None = None
    secret: str | None = field(default=None, repr=False)
    certificate_path: str | None = None
    verify_tls: bool = True

    @property
    def plain_http(self) -> bool:
        return self.base_url.lower().startswith("http://")


def azure_argument_spec() -> dict:
    """Argument spec of the Azure auth/endpoint options (doc fragment multicloud.vpn.azure)."""
    return {
        "auth_source": {"type": "str", "choices": list(AUTH_SOURCES), "default": "auto", "fallback": (env_fallback, ["ANSIBLE_AZURE_AUTH_SOURCE"])},
        "profile": {"type": "str"},
        "subscription_id": {"type": "str"},
        "client_id": {"type": "str"},
        "secret": {"type": "str", "no_log": True},
        "tenant": {"type": "str"},
        "cloud_environment": {"type": "str"},
        "cert_validation_mode": {"type": "str", "choices": ["validate", "ignore"]},
        "x509_certificate_path": {"type": "path"},
        "base_url": {"type": "str"},
    }


# -- pure part: deciding how to authenticate ----------------------------------------------------
def is_loopback_url(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_credentials_profile(path: str, profile: str) -> dict | None:
    """The [profile] section of an azure.azcollection-style ~/.azure/credentials file, or None."""
    parser = configparser.ConfigParser()
    try:
        parser.read(os.path.expanduser(path))
    except configparser.Error as error:
        raise AzureError("cannot read Azure credentials file %s: %s" % (path, one_line(str(error)))) from None
    if not parser.has_section(profile):
        return None
    return dict(parser.items(profile, raw=True))


def _first(*values: Any) -> Any:
    for value in values:
        if value not in (None, ""):
            return value
    return None


def _environment_fields(environ: Mapping) -> dict:
    return {"subscription_id": environ.get("AZURE_SUBSCRIPTION_ID"), "client_id": environ.get("AZURE_CLIENT_ID"),
            "secret": _first(environ.get("AZURE_SECRET"), environ.get("AZURE_CLIENT_SECRET")),
            "tenant": _first(environ.get("AZURE_TENANT"), environ.get("AZURE_TENANT_ID")),
            "x509_certificate_path": environ.get("AZURE_X509_CERTIFICATE_PATH"),
            "cloud_environment": environ.get("AZURE_CLOUD_ENVIRONMENT"),
            "cert_validation_mode": environ.get("AZURE_CERT_VALIDATION_MODE")}


def _credential_fields(params: Mapping, environ: Mapping, credentials_file: str) -> tuple:  # pylint: disable=too-many-return-statements
    """(fields, source) according to auth_source; fields as the option names."""
    source = _first(params.get("auth_source"), environ.get("ANSIBLE_AZURE_AUTH_SOURCE"), "auto")
    if source not in AUTH_SOURCES:
        raise AzureError("auth_source must be one of %s, not %s" % (", ".join(AUTH_SOURCES), source))
    from_environment = _environment_fields(environ)
    profile_name = _first(params.get("profile"), environ.get("AZURE_PROFILE"))
    if source == "env":
        return from_environment, "environment"
    if source == "credential_file":
        profile = read_credentials_profile(credentials_file, profile_name or "default")
        if profile is None:
            raise AzureError("profile %s not found in %s" % (profile_name or "default", credentials_file))
        return profile, "credential_file"
    if source in ("msi", "cli"):
        return {"subscription_id": _first(params.get("subscription_id"), from_environment["subscription_id"]),
                "client_id": _first(params.get("client_id"), from_environment["client_id"])}, source
    if params.get("client_id"):
        merged = {key: _first(params.get(key), value) for key, value in from_environment.items()}
        return merged, "parameters"
    if params.get("profile"):
        profile = read_credentials_profile(credentials_file, params["profile"])
        if profile is None:
            raise AzureError("profile %s not found in %s" % (params["profile"], credentials_file))
        return profile, "credential_file"
    if from_environment["client_id"]:
        return from_environment, "environment"
    profile = read_credentials_profile(credentials_file, profile_name or "default")
    if profile is not None and profile.get("subscription_id"):
        return profile, "credential_file"
    return {key: _first(params.get(key), value) for key, value in from_environment.items()}, "azure-identity"


def _cloud(name: str | None) -> ArmCloud:
    cloud = CLOUDS.get(name or "AzureCloud")
    if cloud is None:
        raise AzureError("cloud_environment must be one of %s, not %s" % (", ".join(CLOUDS), name))
    return cloud


def resolve_auth(params: Mapping, environ: Mapping | None = None, credentials_file: str = CREDENTIALS_FILE) -> AuthPlan:
    """Module parameters (+ environment, + credentials file) -> AuthPlan. Pure apart from reading that file."""
    environ = os.environ if environ is None else environ
    base_url = _first(params.get("base_url"), environ.get("AZURE_BASE_URL"))
    if base_url is not None:
        parsed = urlparse(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise AzureError("base_url must be an http(s) URL, not %s" % base_url)
        if parsed.scheme == "http":
            if not is_loopback_url(base_url):
                raise AzureError("base_url %s uses plain http; only a loopback address (the lab) may, credentials never travel "
                                 "unencrypted" % base_url)
            subscription_id = _first(params.get("subscription_id"), environ.get("AZURE_SUBSCRIPTION_ID"))
            if not subscription_id:
                raise AzureError("subscription_id (or AZURE_SUBSCRIPTION_ID) is required")
            return AuthPlan(kind="lab", subscription_id=subscription_id, cloud=CLOUDS["AzureCloud"], base_url=base_url.rstrip("/"), source="lab")
    fields, source = _credential_fields(params, environ, credentials_file)
    cloud = _cloud(_first(params.get("cloud_environment"), fields.get("cloud_environment"), environ.get("AZURE_CLOUD_ENVIRONMENT")))
    subscription_id = _first(params.get("subscription_id"), fields.get("subscription_id"))
    if not subscription_id:
        raise AzureError("subscription_id is required: pass it, set AZURE_SUBSCRIPTION_ID, or put it in the credentials profile")
    mode = _first(params.get("cert_validation_mode"), fields.get("cert_validation_mode"), environ.get("AZURE_CERT_VALIDATION_MODE"), "validate")
    if mode not in ("validate", "ignore"):
        raise AzureError("cert_validation_mode must be validate or ignore, not %s" % mode)
    plan = AuthPlan(kind="default", subscription_id=subscription_id, cloud=cloud, base_url=(base_url or cloud.resource_manager).rstrip("/"),
                    source=source, client_id=fields.get("client_id"), tenant=fields.get("tenant"), secret=fields.get("secret"),
                    certificate_path=fields.get("x509_certificate_path"), verify_tls=mode == "validate")
    auth_source = _first(params.get("auth_source"), environ.get("ANSIBLE_AZURE_AUTH_SOURCE"), "auto")
    if auth_source in ("msi", "cli"):
        plan.kind = auth_source
    elif plan.client_id and plan.tenant and plan.secret:
        plan.kind = "service_principal"
    elif plan.client_id and plan.tenant and plan.certificate_path:
        plan.kind = "certificate"
    elif source != "azure-identity" and (plan.client_id or plan.secret):
        missing = [name for name, value in (("client_id", plan.client_id), ("tenant", plan.tenant), ("secret", plan.secret)) if not value]
        raise AzureError("incomplete service principal from %s: missing %s" % (source, ", ".join(missing)))
    return plan


# -- errors ---------------------------------------------------------------------------------------
def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def redact(text: str, secrets: tuple | list = ()) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(str(secret), MASK)
    return text


def _error_parts(response: Any) -> tuple:
    """(code, message, [detail lines]) from an ARM error body or an operation status body."""
    try:
        document = response.json()
    except Exception:  # pylint: disable=broad-except
        return None, None, []
    error = document.get("error") if isinstance(document, dict) else None
    if not isinstance(error, dict):
        return None, None, []
    details = ["%s: %s" % (detail.get("code"), detail.get("message")) for detail in error.get("details") or [] if isinstance(detail, dict)]
    return error.get("code"), error.get("message"), details


def azure_error_from(error: Exception, action: str, secrets: tuple | list = ()) -> AzureError:
    """Any SDK exception -> AzureError("<action> failed: <code>: <message> (HTTP <status>)")."""
    status = None
    code = None
    if HAS_AZURE_SDK and isinstance(error, HttpResponseError) and error.response is not None:
        status = error.status_code
        code, message, details = _error_parts(error.response)
        if not code:
            code = getattr(getattr(error, "error", None), "code", None)
            message = getattr(getattr(error, "error", None), "message", None) or error.reason or str(error).splitlines()[0]
        if details:
            message = "%s (%s)" % (message, "; ".join(details[:3]))
        text = "%s failed: %s: %s (HTTP %s)" % (action, code or "Error", message, status)
    elif HAS_AZURE_SDK and isinstance(error, ServiceRequestError):
        text = "%s failed: cannot reach the Azure endpoint: %s" % (action, error)
    else:
        text = "%s failed: %s" % (action, error)
    return AzureError(redact(one_line(text), secrets)[:2000], code=code, status=status)


def azure_call(action: str, function: Callable, *args: Any, secrets: tuple | list = (), **kwargs: Any) -> Any:
    """function(*args, **kwargs) with SDK exceptions turned into AzureError."""
    try:
        return function(*args, **kwargs)
    except SdkAzureError as error:
        raise azure_error_from(error, action, secrets) from None


def get_or_none(action: str, function: Callable, *args: Any, **kwargs: Any) -> Any:
    """A GET that answers None for 404 (ResourceNotFound / NotFound / ResourceGroupNotFound)."""
    try:
        return function(*args, **kwargs)
    except ResourceNotFoundError:
        return None
    except SdkAzureError as error:
        raise azure_error_from(error, action) from None


# -- SDK part -----------------------------------------------------------------------------------
class LabTokenCredential:
    """A credential for the lab stand-in: any bearer token will do there."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        del scopes, kwargs
        return AccessToken("lab-token", int(time.time()) + 3600)


if HAS_AZURE_SDK:
    class PlainHttpBearerTokenPolicy(ARMChallengeAuthenticationPolicy):
        """ARM's bearer-token policy, allowed over http (loopback only: resolve_auth refuses anything else)."""

        def on_request(self, request: Any) -> None:
            request.context["enforce_https"] = False
            super().on_request(request)


def build_credential(plan: AuthPlan) -> Any:
    """AuthPlan -> an azure-identity TokenCredential (or the lab credential)."""
    if plan.kind == "lab":
        return LabTokenCredential()
    try:
        from azure import identity  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise AzureError("the azure-identity Python package is required to authenticate with Azure") from None
    authority = plan.cloud.authority_host
    if plan.kind == "service_principal":
        return identity.ClientSecretCredential(tenant_id=plan.tenant, client_id=plan.client_id, client_secret=plan.secret, authority=authority)
    if plan.kind == "certificate":
        return identity.CertificateCredential(tenant_id=plan.tenant, client_id=plan.client_id, certificate_path=plan.certificate_path,
                                              authority=authority)
    if plan.kind == "msi":
        return identity.ManagedIdentityCredential(client_id=plan.client_id) if plan.client_id else identity.ManagedIdentityCredential()
    if plan.kind == "cli":
        return identity.AzureCliCredential()
    return identity.DefaultAzureCredential(authority=authority)


def network_client(params: Mapping, environ: Mapping | None = None, **client_options: Any) -> Any:
    """Module parameters -> azure.mgmt.network.NetworkManagementClient (client_options go to the client)."""
    if not HAS_AZURE_SDK:
        raise AzureError("the azure-mgmt-network Python package (33.x) is required")
    plan = resolve_auth(params, environ)
    credential = build_credential(plan)
    options: dict = {"base_url": plan.base_url, "credential_scopes": [plan.cloud.scope], "user_agent": USER_AGENT}
    if plan.plain_http:
        options["authentication_policy"] = PlainHttpBearerTokenPolicy(credential, plan.cloud.scope)
        options["polling_interval"] = LAB_POLLING_INTERVAL
    if not plan.verify_tls:
        options["connection_verify"] = False
    options.update(client_options)
    return NetworkManagementClient(credential, plan.subscription_id, **options)


def wait_poller(poller: Any, timeout: float, progress: Callable[[str, float], None] | None = None,
                action: str = "Azure operation", secrets: tuple | list = ()) -> Any:
    """Wait for an LROPoller at most ``timeout`` seconds; its result, or AzureError (failure or timeout).

    ``progress(status, elapsed_seconds)`` is called about every 10 s while waiting.
    """
    started = time.monotonic()
    try:
        while not poller.done():
            elapsed = time.monotonic() - started
            if elapsed >= timeout:
                raise AzureError("%s timed out after %d s; last status %s" % (action, int(timeout), poller.status()), code="Timeout")
            poller.wait(min(timeout - elapsed, PROGRESS_INTERVAL))
            if progress is not None and not poller.done():
                progress(poller.status(), time.monotonic() - started)
        return poller.result()
    except SdkAzureError as error:
        raise azure_error_from(error, action, secrets) from None

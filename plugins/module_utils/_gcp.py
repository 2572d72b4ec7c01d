# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to multicloud.vpn: not a public API, may change without notice.
"""google-cloud-compute access for multicloud.vpn: credentials, clients, retries, operations, one error type.

Authentication follows the google.cloud collection (same options, same environment variables)
plus what AWX's "Google Compute Engine" credential injects, plus ``api_endpoint`` for a lab or
emulator:

- ``auth_kind``: application | machineaccount | serviceaccount | accesstoken | anonymous.
  When unset it is inferred: access_token -> accesstoken; service_account_file/contents ->
  serviceaccount; service_account_email -> machineaccount; an ``api_endpoint`` of the form
  http://<loopback>[:port] -> anonymous; otherwise application (Application Default
  Credentials, which honour GOOGLE_APPLICATION_CREDENTIALS). ``anonymous`` is refused without
  an ``api_endpoint`` (Google's API always wants credentials).
- ``project`` falls back to GCP_PROJECT, GCE_PROJECT, GOOGLE_CLOUD_PROJECT, then to the
  project of the credentials (service account file, ADC).
- AWX injects GCP_AUTH_KIND=serviceaccount, GCP_PROJECT, GCP_SERVICE_ACCOUNT_FILE,
  GCE_CREDENTIALS_FILE_PATH, GOOGLE_APPLICATION_CREDENTIALS, GCE_PROJECT, GCE_EMAIL,
  GCP_ENV_TYPE: all honoured (GCE_EMAIL is the service account's own address, already in the
  file; it is deliberately not mapped to service_account_email, which google.cloud reserves for
  machineaccount).

Retries: google.api_core's Retry with api_core's transient-error predicate (HTTP 429, 500, 503,
connection errors) plus 504/DEADLINE_EXCEEDED (the compute_v1 default for reads). The SDK's own
defaults retry only 503/504 and only on reads; mutations are made retry-safe here by sending a
``requestId`` (Compute executes a request id once and answers repeats with the same operation).

Operations: ``ExtendedOperation.result()`` polls through operation clients that the SDK builds
without our client options (it would poll the public endpoint). ``compute_clients`` hands the
SDK our operation clients, and :func:`wait_operation` polls the region or global operations
client (from the operation itself) with ``operations.wait``.
"""
from __future__ import annotations

import inspect
import json
import os
import re
import time
import traceback
import typing
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable
from urllib.parse import urlparse

from ansible.module_utils.basic import env_fallback

try:
    import google.auth
    import google.auth.compute_engine
    import requests
    from google.api_core import client_options as api_client_options
    from google.api_core import exceptions as api_exceptions
    from google.api_core import retry as api_core_retry
    from google.api_core.gapic_v1 import client_info as api_client_info
    from google.auth import credentials as auth_credentials
    from google.auth import exceptions as auth_exceptions
    from google.cloud import compute_v1
    from google.oauth2 import credentials as oauth2_credentials
    from google.oauth2 import service_account
except ImportError:
    HAS_GOOGLE_CLOUD_COMPUTE = False
    GOOGLE_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_GOOGLE_CLOUD_COMPUTE = True
    GOOGLE_IMPORT_ERROR = None

AUTH_KINDS = ("application", "machineaccount", "serviceaccount", "accesstoken", "anonymous")
DEFAULT_SCOPES = ("https://www.googleapis.com/auth/compute",)
ENDPOINT_ENV = ("GCP_COMPUTE_ENDPOINT", "CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE")
PROJECT_ENV = ("GCP_PROJECT", "GCE_PROJECT", "GOOGLE_CLOUD_PROJECT")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
USER_AGENT = "multicloud.vpn"
DEFAULT_RETRY_SECONDS = 60.0
# GCP answers operations.wait after about two minutes at most; a little more for the HTTP read.
WAIT_CALL_SECONDS = 130.0
# operations.wait may answer early ("best effort"); never poll faster than this.
MIN_POLL_SECONDS = 0.5
REDACTED = "********"


def gcp_argument_spec() -> dict:
    """Authentication and endpoint options shared by the GCP modules (see doc fragment multicloud.vpn.gcp)."""
    return dict(
        project=dict(type="str", fallback=(env_fallback, list(PROJECT_ENV))),
        auth_kind=dict(type="str", choices=list(AUTH_KINDS), fallback=(env_fallback, ["GCP_AUTH_KIND"])),
        service_account_email=dict(type="str", fallback=(env_fallback, ["GCP_SERVICE_ACCOUNT_EMAIL"])),
        service_account_file=dict(type="path", fallback=(env_fallback, ["GCP_SERVICE_ACCOUNT_FILE", "GCE_CREDENTIALS_FILE_PATH"])),
        service_account_contents=dict(type="jsonarg", no_log=True, fallback=(env_fallback, ["GCP_SERVICE_ACCOUNT_CONTENTS"])),
        access_token=dict(type="str", no_log=True, fallback=(env_fallback, ["GCP_ACCESS_TOKEN"])),
        scopes=dict(type="list", elements="str", fallback=(env_fallback, ["GCP_SCOPES"])),
        env_type=dict(type="str", fallback=(env_fallback, ["GCP_ENV_TYPE"])),
        api_endpoint=dict(type="str", fallback=(env_fallback, list(ENDPOINT_ENV))),
    )


class GcpError(Exception):
    """One failed GCP call or operation, as a single line without secrets."""

    def __init__(self, message: str, *, status_code: int | None = None, reason: str | None = None,
                 operation: str | None = None) -> None:
        self.message = one_line(message)
        self.status_code = status_code
        self.reason = reason
        self.operation = operation
        super().__init__(self.message)

    @classmethod
    def from_exception(cls, error: BaseException, action: str, secrets: Iterable[str] = ()) -> "GcpError":
        """Describe an SDK / auth / transport exception raised while doing ``action``."""
        status_code = reason = None
        if HAS_GOOGLE_CLOUD_COMPUTE and isinstance(error, api_exceptions.GoogleAPICallError):
            status_code = error.code
            reason = error.reason or next((item.get("reason") for item in error.errors or () if isinstance(item, dict)), None)
            text = re.sub(r"^[A-Z]+ \S+: ", "", error.message or "")
            detail = "%s%s: %s" % (status_code, " %s" % reason if reason else "", text)
        elif HAS_GOOGLE_CLOUD_COMPUTE and isinstance(error, auth_exceptions.DefaultCredentialsError):
            detail = "no Google credentials found (set auth_kind and its options, or GOOGLE_APPLICATION_CREDENTIALS)"
        elif HAS_GOOGLE_CLOUD_COMPUTE and isinstance(error, auth_exceptions.RefreshError):
            detail = "could not obtain an access token: %s" % (error.args[0] if error.args else type(error).__name__)
        elif HAS_GOOGLE_CLOUD_COMPUTE and isinstance(error, requests.exceptions.RequestException):
            detail = "%s: %s" % (type(error).__name__, str(error)[:300])
        else:
            detail = "%s: %s" % (type(error).__name__, error)
        return cls(redact("%s: %s" % (action, detail), secrets), status_code=status_code, reason=reason)


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def normalize_endpoint(value: str | None) -> str | None:
    """'http://127.0.0.1:8482/', 'https://compute.googleapis.com/compute/v1/' -> scheme://host[:port]; '' -> None."""
    if not value:
        return None
    value = value.strip()
    has_scheme = "://" in value
    parsed = urlparse(value if has_scheme else "https://" + value)
    path = parsed.path.rstrip("/")
    if path == "/compute/v1":
        path = ""
    if parsed.scheme not in ("http", "https") or not parsed.netloc or path or parsed.query:
        raise GcpError("api_endpoint %r: expected http(s)://host[:port]" % value)
    return "%s://%s" % (parsed.scheme, parsed.netloc) if has_scheme else parsed.netloc


def is_loopback_endpoint(endpoint: str | None) -> bool:
    if not endpoint or not endpoint.startswith("http://"):
        return False
    return urlparse(endpoint).hostname in LOOPBACK_HOSTS


def resolve_auth_kind(params: dict) -> str:
    """The auth_kind to use: the given one, else inferred from the options present (see module docstring)."""
    kind = params.get("auth_kind")
    endpoint = normalize_endpoint(params.get("api_endpoint"))
    if not kind:
        if params.get("access_token"):
            kind = "accesstoken"
        elif params.get("service_account_file") or params.get("service_account_contents"):
            kind = "serviceaccount"
        elif params.get("service_account_email"):
            kind = "machineaccount"
        elif is_loopback_endpoint(endpoint):
            kind = "anonymous"
        else:
            kind = "application"
    if kind not in AUTH_KINDS:
        raise GcpError("auth_kind %r: expected one of %s" % (kind, ", ".join(AUTH_KINDS)))
    if kind == "anonymous":
        if not endpoint:
            raise GcpError("auth_kind=anonymous needs api_endpoint (a lab or emulator); Google's API requires credentials")
        return kind
    # the google.cloud collection's rules
    if params.get("service_account_email") and kind != "machineaccount":
        raise GcpError("service_account_email only works with auth_kind=machineaccount")
    if (params.get("service_account_file") or params.get("service_account_contents")) and kind != "serviceaccount":
        raise GcpError("service_account_file and service_account_contents only work with auth_kind=serviceaccount")
    if params.get("access_token") and kind != "accesstoken":
        raise GcpError("access_token requires auth_kind=accesstoken")
    return kind


def service_account_info(contents: Any) -> dict:
    if isinstance(contents, dict):
        return contents
    try:
        info = json.loads(contents)
    except (TypeError, ValueError) as error:
        raise GcpError("service_account_contents is not valid JSON (%s)" % type(error).__name__) from None
    if not isinstance(info, dict):
        raise GcpError("service_account_contents must be a JSON object")
    return info


def gcp_credentials(params: dict) -> tuple[Any, str | None]:
    """(google.auth credentials, project id the credentials name or None)."""
    _require_sdk()
    kind = resolve_auth_kind(params)
    scopes = list(params.get("scopes") or DEFAULT_SCOPES)
    try:
        if kind == "anonymous":
            return auth_credentials.AnonymousCredentials(), None
        if kind == "application":
            credentials, project = google.auth.default(scopes=scopes)
            return credentials, project
        if kind == "serviceaccount":
            if params.get("service_account_file"):
                path = os.path.realpath(os.path.expanduser(params["service_account_file"]))
                try:
                    with open(path, encoding="utf-8") as handle:
                        info = service_account_info(handle.read())
                except OSError as error:
                    raise GcpError("cannot read service_account_file %s: %s" % (path, error.strerror)) from None
            elif params.get("service_account_contents"):
                info = service_account_info(params["service_account_contents"])
            else:
                raise GcpError("auth_kind=serviceaccount needs service_account_file or service_account_contents")
            try:
                credentials = service_account.Credentials.from_service_account_info(info, scopes=scopes)
            except ValueError as error:
                raise GcpError("service account credentials are incomplete: %s" % one_line(str(error))[:200]) from None
            return credentials, info.get("project_id")
        if kind == "machineaccount":
            return google.auth.compute_engine.Credentials(params.get("service_account_email") or "default"), None
        if not params.get("access_token"):
            raise GcpError("auth_kind=accesstoken needs access_token")
        return oauth2_credentials.Credentials(params["access_token"], scopes=scopes), None
    except auth_exceptions.GoogleAuthError as error:
        raise GcpError.from_exception(error, "GCP authentication", secrets=_param_secrets(params)) from None


def api_retry(timeout: float = DEFAULT_RETRY_SECONDS, initial: float = 0.25, maximum: float = 8.0) -> Any:
    """google.api_core Retry for Compute calls: transient errors (429, 500, 503, connection) and 504."""
    _require_sdk()

    def transient(error: Exception) -> bool:
        return api_core_retry.if_transient_error(error) or isinstance(error, api_exceptions.GatewayTimeout)

    return api_core_retry.Retry(predicate=transient, initial=initial, maximum=maximum, multiplier=2.0, timeout=timeout)


@dataclass
class ComputeClients:
    """REST clients for the Compute VPN subset, bound to one project, endpoint and retry policy."""

    project: str
    api_endpoint: str | None
    vpn_gateways: Any
    external_vpn_gateways: Any
    vpn_tunnels: Any
    routers: Any
    networks: Any
    region_operations: Any
    global_operations: Any
    retry: Any = None
    secrets: list = field(default_factory=list)

    def read(self, action: str, method: Callable, request: dict, *, missing_ok: bool = False) -> Any:
        """Call a read method (get/list/getStatus...); 404 -> None when ``missing_ok``; errors -> GcpError."""
        try:
            return method(request=request, retry=self.retry)
        except Exception as error:  # pylint: disable=broad-except
            if missing_ok and HAS_GOOGLE_CLOUD_COMPUTE and isinstance(error, api_exceptions.NotFound):
                return None
            raise GcpError.from_exception(error, action, self.secrets) from None

    def mutate(self, action: str, method: Callable, request: dict, *, secrets: Iterable[str] = ()) -> Any:
        """Call a mutation (insert/delete/patch/update/setLabels) with a requestId, so retries are safe.

        Returns what the SDK returns (an ExtendedOperation, or an Operation for the ``*_unary``
        methods); give it to :func:`wait_operation`.
        """
        request = dict(request)
        if accepts_request_id(method):
            request.setdefault("request_id", str(uuid.uuid4()))
        try:
            return method(request=request, retry=self.retry)
        except Exception as error:  # pylint: disable=broad-except
            raise GcpError.from_exception(error, action, list(self.secrets) + list(secrets)) from None

    def wait(self, operation: Any, *, timeout: float = 600.0, progress: Callable | None = None, action: str | None = None) -> Any:
        return wait_operation(self, operation, timeout=timeout, progress=progress, action=action)


def accepts_request_id(method: Callable) -> bool:
    """Whether an SDK method's request message has request_id (global setLabels, for one, has none)."""
    try:
        annotation = inspect.signature(method).parameters["request"].annotation
    except (KeyError, TypeError, ValueError):
        return False
    candidates = [annotation]
    while candidates:
        candidate = candidates.pop()
        candidates.extend(typing.get_args(candidate))
        fields = getattr(getattr(candidate, "meta", None), "fields", None)
        if isinstance(fields, dict):
            return "request_id" in fields
    return False


def compute_clients(params: dict, *, retry_timeout: float = DEFAULT_RETRY_SECONDS) -> ComputeClients:
    """Build the REST clients from module parameters (gcp_argument_spec())."""
    _require_sdk()
    endpoint = normalize_endpoint(params.get("api_endpoint"))
    credentials, credentials_project = gcp_credentials(params)
    project = params.get("project") or credentials_project
    if not project:
        raise GcpError("project is required (option project, or GCP_PROJECT / GCE_PROJECT / GOOGLE_CLOUD_PROJECT)")
    options = api_client_options.ClientOptions(api_endpoint=endpoint) if endpoint else None
    user_agent = USER_AGENT + ("-%s" % params["env_type"] if params.get("env_type") else "")
    info = api_client_info.ClientInfo(user_agent=user_agent)

    def make(client_class: type) -> Any:
        return client_class(credentials=credentials, transport="rest", client_options=options, client_info=info)

    clients = ComputeClients(
        project=project, api_endpoint=endpoint,
        vpn_gateways=make(compute_v1.VpnGatewaysClient), external_vpn_gateways=make(compute_v1.ExternalVpnGatewaysClient),
        vpn_tunnels=make(compute_v1.VpnTunnelsClient), routers=make(compute_v1.RoutersClient),
        networks=make(compute_v1.NetworksClient), region_operations=make(compute_v1.RegionOperationsClient),
        global_operations=make(compute_v1.GlobalOperationsClient), retry=api_retry(retry_timeout),
        secrets=_param_secrets(params),
    )
    # ExtendedOperation.result() would otherwise poll through operation clients built without our options.
    for client in (clients.vpn_gateways, clients.external_vpn_gateways, clients.vpn_tunnels, clients.routers, clients.networks):
        services = getattr(getattr(client, "_transport", None), "_extended_operations_services", None)
        if isinstance(services, dict):
            services["region_operations"] = clients.region_operations
            services["global_operations"] = clients.global_operations
    return clients


def operation_scope(operation: Any) -> tuple[str, str | None]:
    """('region', <region name>) or ('global', None) for a Compute operation (or ExtendedOperation)."""
    if getattr(operation, "zone", ""):
        raise GcpError("operation %s is zonal; multicloud.vpn only waits for region and global operations" % operation.name)
    region = getattr(operation, "region", "")
    if region:
        return "region", region.rstrip("/").rsplit("/", 1)[-1]
    return "global", None


def operation_failure(operation: Any) -> str | None:
    """The operation's error as one line, or None when it succeeded."""
    problems = ["%s: %s" % (item.code, item.message) if item.code else item.message for item in operation.error.errors]
    if not problems and not operation.http_error_status_code:
        return None
    status = operation.http_error_status_code
    return "%s%s" % ("%s " % status if status else "", "; ".join(problems) or operation.http_error_message)


def wait_operation(clients: ComputeClients, operation: Any, *, timeout: float = 600.0, progress: Callable | None = None,
                   action: str | None = None) -> Any:
    """Wait until a region or global operation is DONE; return it, or raise GcpError (failure or timeout).

    Uses ``operations.wait`` on the operations client of the operation's scope, built with the
    same endpoint as the other clients. ``progress(operation)`` is called after every poll.
    """
    _require_sdk()
    scope, region = operation_scope(operation)
    name = operation.name
    what = action or "%s %s" % (operation.operation_type or "operation", operation.target_link.rsplit("/", 1)[-1])
    client = clients.region_operations if scope == "region" else clients.global_operations
    request = {"project": clients.project, "operation": name}
    if region:
        request["region"] = region
    done = compute_v1.Operation.Status.DONE
    deadline = time.monotonic() + timeout
    current = operation
    while current.status != done:
        started = time.monotonic()
        remaining = deadline - started
        if remaining <= 0:
            raise GcpError("%s: operation %s not done after %ds (status %s)" % (what, name, timeout, current.status.name),
                           operation=name)
        try:
            current = client.wait(request=request, retry=clients.retry, timeout=min(remaining, WAIT_CALL_SECONDS))
        except requests.exceptions.Timeout:
            continue  # the server held the call longer than we had left; the deadline check decides
        except Exception as error:  # pylint: disable=broad-except
            raise GcpError.from_exception(error, "%s: waiting for operation %s" % (what, name), clients.secrets) from None
        if progress is not None:
            progress(current)
        if current.status != done:
            time.sleep(max(0.0, min(MIN_POLL_SECONDS - (time.monotonic() - started), deadline - time.monotonic())))
    failure = operation_failure(current)
    if failure:
        raise GcpError(redact("%s: operation %s failed: %s" % (what, name, failure), clients.secrets),
                       status_code=current.http_error_status_code or None,
                       reason=current.error.errors[0].code if current.error.errors else None, operation=name)
    return getattr(current, "_extended_operation", current)


def _param_secrets(params: dict) -> list:
    secrets = [params.get("access_token")]
    contents = params.get("service_account_contents")
    if contents:
        try:
            secrets.append(service_account_info(contents).get("private_key"))
        except GcpError:
            secrets.append(contents if isinstance(contents, str) else None)
    return [secret for secret in secrets if secret]


def _require_sdk() -> None:
    if not HAS_GOOGLE_CLOUD_COMPUTE:
        raise GcpError("google-cloud-compute and google-auth are required (pip install google-cloud-compute)")

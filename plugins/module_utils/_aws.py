# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to multicloud.vpn: not a public API, may change without notice.
"""boto3 access for the multicloud.vpn modules: EC2 clients, retries, waiters and one error type.

Authentication follows amazon.aws (AnsibleAWSModule): the same options, aliases and environment
fallbacks, without depending on amazon.aws code. Every SDK failure becomes :class:`AwsError`, whose
message is one line (``describe vpn connections: InvalidVpnConnectionID.NotFound: ...``) and never
carries a pre-shared key.
"""
from __future__ import annotations

import os
import re
import time
import traceback
from typing import Any, Callable

from ansible.module_utils.basic import env_fallback, missing_required_lib

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:
    HAS_BOTO3 = False
    BOTO3_IMPORT_ERROR: str | None = traceback.format_exc()
else:
    HAS_BOTO3 = True
    BOTO3_IMPORT_ERROR = None

DEFAULT_RETRY_MODE = "standard"
DEFAULT_MAX_ATTEMPTS = 10  # attempts in all, first one included
RETRY_MODES = ("legacy", "standard", "adaptive")
USER_AGENT_EXTRA = "multicloud.vpn"
SECRET_PARAMETER_NAMES = ("PreSharedKey", "SecretAccessKey", "SessionToken")
THROTTLING_CODES = ("Throttling", "ThrottlingException", "RequestLimitExceeded", "RequestThrottled", "RequestThrottledException")
CREATE_ATTEMPTS = 3
MASK = "********"


def aws_argument_spec() -> dict:
    """The authentication / endpoint options of amazon.aws's AnsibleAWSModule, plus an EC2 endpoint override
    read from AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL (botocore's own variables) for the lab."""
    return dict(
        access_key=dict(type="str", aliases=["aws_access_key_id", "aws_access_key"], no_log=False,
                        fallback=(env_fallback, ["AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY"])),
        secret_key=dict(type="str", aliases=["aws_secret_access_key", "aws_secret_key"], no_log=True,
                        fallback=(env_fallback, ["AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY"])),
        session_token=dict(type="str", aliases=["aws_session_token"], no_log=True,
                           fallback=(env_fallback, ["AWS_SESSION_TOKEN"])),
        profile=dict(type="str", aliases=["aws_profile"], fallback=(env_fallback, ["AWS_PROFILE", "AWS_DEFAULT_PROFILE"])),
        region=dict(type="str", aliases=["aws_region"], fallback=(env_fallback, ["AWS_REGION", "AWS_DEFAULT_REGION"])),
        endpoint_url=dict(type="str", aliases=["aws_endpoint_url"],
                          fallback=(env_fallback, ["AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL", "AWS_URL"])),
        validate_certs=dict(type="bool", default=True),
        aws_ca_bundle=dict(type="path", fallback=(env_fallback, ["AWS_CA_BUNDLE"])),
        aws_config=dict(type="dict"),
    )


class AwsError(Exception):
    """The one error type of the AWS adapter. ``str(error)`` is a single line without secrets."""

    def __init__(self, message: str, *, code: str | None = None, operation: str | None = None,
                 http_status: int | None = None, exception_text: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.operation = operation
        self.http_status = http_status
        self.exception_text = exception_text

    @classmethod
    def from_exception(cls, action: str, error: BaseException, secrets: tuple = ()) -> AwsError:
        """``action`` says what was being done ("describe vpn connections")."""
        code = http_status = None
        response = getattr(error, "response", None)
        if isinstance(response, dict) and "Error" in response:
            code = response["Error"].get("Code") or None
            detail = response["Error"].get("Message") or str(error)
            http_status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            text = "%s: %s" % (code, detail) if code else detail
        else:
            text = "%s: %s" % (type(error).__name__, error)
        message = one_line(mask_secrets("%s: %s" % (action, text), secrets))
        return cls(message, code=code, operation=action, http_status=http_status,
                   exception_text=mask_secrets("".join(traceback.format_exception(type(error), error, error.__traceback__)), secrets))


def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def mask_secrets(text: str, secrets: tuple | list) -> str:
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def secret_values(parameters: Any) -> list[str]:
    """String values under secret-named keys (PreSharedKey, ...) anywhere in an API call's parameters."""
    found: list[str] = []
    if isinstance(parameters, dict):
        for key, value in parameters.items():
            if key in SECRET_PARAMETER_NAMES and isinstance(value, str):
                found.append(value)
            else:
                found += secret_values(value)
    elif isinstance(parameters, (list, tuple)):
        for item in parameters:
            found += secret_values(item)
    return found


def describe_operation(operation: str) -> str:
    """"describe_vpn_connections" -> "describe vpn connections"."""
    return operation.replace("_", " ")


def retry_config(aws_config: dict | None = None) -> dict:
    """botocore retry settings: ``standard`` mode and 10 attempts in all, unless aws_config.retries or botocore's
    AWS_RETRY_MODE / AWS_MAX_ATTEMPTS say otherwise (``max_attempts`` there counts retries, as in botocore)."""
    retries = dict((aws_config or {}).get("retries") or {})
    retries.setdefault("mode", os.environ.get("AWS_RETRY_MODE") or DEFAULT_RETRY_MODE)
    if "max_attempts" not in retries and "total_max_attempts" not in retries:
        retries["total_max_attempts"] = int(os.environ.get("AWS_MAX_ATTEMPTS") or DEFAULT_MAX_ATTEMPTS)
    if retries["mode"] not in RETRY_MODES:
        raise AwsError("aws_config.retries.mode must be one of %s, got %s" % (", ".join(RETRY_MODES), retries["mode"]))
    return retries


def _require_boto3() -> None:
    if not HAS_BOTO3:
        raise AwsError(one_line(missing_required_lib("boto3 and botocore")), exception_text=BOTO3_IMPORT_ERROR)


def ec2_client(params: dict) -> Any:
    """An EC2 client from module parameters (``aws_argument_spec()`` names), with botocore's retry handler."""
    _require_boto3()
    profile = params.get("profile") or None
    access_key = params.get("access_key") or None
    secret_key = params.get("secret_key") or None
    session_token = params.get("session_token") or None
    if profile and (access_key or secret_key or session_token):
        raise AwsError("Passing both a profile and access tokens is not supported.")
    aws_config = dict(params.get("aws_config") or {})
    config_settings = {**aws_config, "retries": retry_config(aws_config)}
    config_settings["user_agent_extra"] = " ".join(filter(None, [aws_config.get("user_agent_extra"), USER_AGENT_EXTRA]))
    validate_certs = params.get("validate_certs", True)
    verify: Any = params.get("aws_ca_bundle") if validate_certs and params.get("aws_ca_bundle") else validate_certs
    try:
        session = boto3.session.Session(aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                                        aws_session_token=session_token, profile_name=profile,
                                        region_name=params.get("region") or None)
        if not session.region_name:
            raise AwsError("The EC2 API needs a region: set region (or AWS_REGION / AWS_DEFAULT_REGION, or one in the profile)")
        return session.client("ec2", endpoint_url=params.get("endpoint_url") or None, verify=verify, config=Config(**config_settings))
    except (BotoCoreError, ValueError, TypeError) as error:
        secrets = tuple(value for value in (secret_key, session_token) if value)
        raise AwsError.from_exception("create ec2 client", error, secrets) from None


def call(client: Any, operation: str, *, action: str | None = None, **parameters: Any) -> dict:
    """``client.<operation>(**parameters)``; any SDK failure becomes one AwsError line, PSKs masked."""
    _require_boto3()
    try:
        return getattr(client, operation)(**parameters)
    except (ClientError, BotoCoreError) as error:
        raise AwsError.from_exception(action or describe_operation(operation), error, tuple(secret_values(parameters))) from None


def is_error_code(error: BaseException, *codes: str) -> bool:
    return isinstance(error, AwsError) and error.code in codes


ProgressHook = Callable[[str, float], None]


def poll_until(fetch: Callable[[], Any], state_of: Callable[[Any], str], *, what: str, ready: tuple, failed: tuple = (),
               timeout: float = 600.0, sleep: float = 5.0, on_progress: ProgressHook | None = None,
               transient_codes: tuple = (), clock: Callable[[], float] = time.monotonic,
               sleeper: Callable[[float], None] = time.sleep) -> Any:
    """Poll ``fetch()`` until ``state_of(result)`` is in ``ready``; AwsError on a failed state or at the timeout.

    ``on_progress(state, elapsed_seconds)`` is called after every poll (progress for the user); AwsErrors whose
    code is in ``transient_codes`` (eventual consistency right after a create) count as state "unknown".
    """
    started = clock()
    while True:
        try:
            result = fetch()
            state = state_of(result)
        except AwsError as error:
            if error.code not in transient_codes:
                raise
            result, state = None, "unknown"
        elapsed = clock() - started
        if on_progress is not None:
            on_progress(state, elapsed)
        if state in ready:
            return result
        if state in failed:
            raise AwsError("%s: reached state %s while waiting for %s" % (what, state, " or ".join(ready)), code="UnexpectedState")
        if elapsed + sleep > timeout:
            raise AwsError("%s: still %s after %.0f seconds (timeout %.0f s) waiting for %s"
                           % (what, state, elapsed, timeout, " or ".join(ready)), code="WaitTimeout")
        sleeper(sleep)


def describe_vpn_connection(client: Any, vpn_connection_id: str) -> dict:
    result = call(client, "describe_vpn_connections", VpnConnectionIds=[vpn_connection_id])
    connections = result.get("VpnConnections") or []
    if not connections:
        raise AwsError("describe vpn connections: %s not found" % vpn_connection_id, code="InvalidVpnConnectionID.NotFound")
    return connections[0]


def wait_vpn_connection_available(client: Any, vpn_connection_id: str, timeout: float = 600.0, sleep: float = 5.0,
                                  on_progress: ProgressHook | None = None, **poll_options: Any) -> dict:
    """Wait until a VPN connection is ``available`` (after create, or after ModifyVpnTunnelOptions' ``modifying``)."""
    return poll_until(lambda: describe_vpn_connection(client, vpn_connection_id), lambda connection: connection["State"],
                      what="VPN connection %s" % vpn_connection_id, ready=("available",), failed=("deleting", "deleted"),
                      timeout=timeout, sleep=sleep, on_progress=on_progress,
                      transient_codes=("InvalidVpnConnectionID.NotFound",), **poll_options)


def wait_vpn_connection_deleted(client: Any, vpn_connection_id: str, timeout: float = 600.0, sleep: float = 5.0,
                                on_progress: ProgressHook | None = None, **poll_options: Any) -> dict | None:
    """Wait until a VPN connection is ``deleted`` (or gone from DescribeVpnConnections)."""

    def fetch() -> dict | None:
        try:
            return describe_vpn_connection(client, vpn_connection_id)
        except AwsError as error:
            if error.code == "InvalidVpnConnectionID.NotFound":
                return None
            raise

    return poll_until(fetch, lambda connection: connection["State"] if connection else "deleted",
                      what="VPN connection %s" % vpn_connection_id, ready=("deleted",), timeout=timeout, sleep=sleep,
                      on_progress=on_progress, **poll_options)


def may_have_been_written(error: AwsError) -> bool:
    """A failed create that may have happened anyway (no answer, 5xx) or may simply be retried (throttling)."""
    return error.http_status is None or error.http_status >= 500 or error.code in THROTTLING_CODES


def single_attempt_params(params: dict) -> dict:
    """Module parameters for a client without botocore retries: for creates that have no idempotency token."""
    aws_config = dict(params.get("aws_config") or {})
    aws_config["retries"] = {"mode": "standard", "total_max_attempts": 1}
    return dict(params, aws_config=aws_config)


def create_once(create: Callable[[], Any], find: Callable[[], Any], *, attempts: int = CREATE_ATTEMPTS,
                sleep: Callable[[float], None] = time.sleep) -> Any:
    """Run ``create()`` (one API call, no SDK retries) so that a lost answer never creates twice.

    EC2's CreateVpc, CreateVpnGateway and CreateVpnConnection take no idempotency token: when a create
    fails in a way that may have written (no answer, 5xx, throttling), ``find()`` looks the object up by
    what the create tagged it with before the create is tried again. Returns what create() or find() returned.
    """
    last_error = None
    for attempt in range(attempts):
        try:
            return create()
        except AwsError as error:
            if not may_have_been_written(error):
                raise
            last_error = error
        sleep(min(2 ** attempt, 10))
        found = find()
        if found:
            return found
    raise last_error

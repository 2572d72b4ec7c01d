# GCP Compute stand-in: Google's error format.
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""Errors in the shape Compute Engine's JSON API answers them.

An immediate error is an HTTP 4xx/5xx whose body is::

    {"error": {"code": 404, "message": "The resource 'projects/p/...' was not found",
               "errors": [{"message": "...", "domain": "global", "reason": "notFound"}],
               "status": "NOT_FOUND"}}

google.api_core turns it into BadRequest / NotFound / Conflict / PreconditionFailed /
TooManyRequests / ServiceUnavailable by HTTP status. An error discovered while an operation
executes is reported inside the Operation instead (``error.errors[].code`` in upper snake case,
``httpErrorStatusCode`` and ``httpErrorMessage``): :meth:`ApiError.operation_error`.
"""
from __future__ import annotations

import json

from werkzeug.http import HTTP_STATUS_CODES

GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED", 409: "ALREADY_EXISTS", 412: "FAILED_PRECONDITION", 429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL", 501: "UNIMPLEMENTED", 503: "UNAVAILABLE",
}

# reason (JSON API) -> code inside an Operation's error.errors[]
OPERATION_CODES = {
    "invalid": "INVALID_FIELD_VALUE", "required": "REQUIRED_FIELD_MISSING", "notFound": "RESOURCE_NOT_FOUND",
    "alreadyExists": "ALREADY_EXISTS", "resourceInUseByAnotherResource": "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE",
    "resourceNotReady": "RESOURCE_NOT_READY", "conditionNotMet": "CONDITION_NOT_MET",
    "quotaExceeded": "QUOTA_EXCEEDED", "unsupported": "UNSUPPORTED_OPERATION",
}


class ApiError(Exception):
    """One Compute API error: HTTP status, JSON API reason and message."""

    def __init__(self, code: int, reason: str, message: str, *, status: str | None = None,
                 details: list | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.status = status or GOOGLE_STATUS.get(code, "UNKNOWN")
        self.details = details or []

    def document(self) -> dict:
        error = {"code": self.code, "message": self.message,
                 "errors": [{"message": self.message, "domain": "global", "reason": self.reason}],
                 "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}

    def operation_error(self) -> dict:
        """The fields an Operation carries when it finished with this error."""
        return {"error": {"errors": [{"code": OPERATION_CODES.get(self.reason, self.reason.upper()), "message": self.message}]},
                "httpErrorStatusCode": self.code,
                "httpErrorMessage": HTTP_STATUS_CODES.get(self.code, "ERROR").upper()}


def invalid_value(field: str, value: object, why: str) -> ApiError:
    return ApiError(400, "invalid", "Invalid value for field '%s': '%s'. %s" % (field, value, why))


def required(field: str) -> ApiError:
    return ApiError(400, "required", "Required field '%s' not specified" % field)


def invalid_json(message: str, field: str = "resource") -> ApiError:
    text = "Invalid JSON payload received. %s" % message
    details = [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": field, "description": text}]}]
    return ApiError(400, "invalid", text, details=details)


def unsupported(field: str) -> ApiError:
    return ApiError(400, "invalid", "Field '%s' is not supported by the multicloud.vpn lab stand-in" % field)


def not_found(path: str) -> ApiError:
    return ApiError(404, "notFound", "The resource '%s' was not found" % path)


def already_exists(path: str) -> ApiError:
    return ApiError(409, "alreadyExists", "The resource '%s' already exists" % path)


def in_use(kind: str, path: str, user: str) -> ApiError:
    return ApiError(400, "resourceInUseByAnotherResource",
                    "The %s resource '%s' is already being used by '%s'" % (kind, path, user), status="FAILED_PRECONDITION")


def not_ready(path: str) -> ApiError:
    return ApiError(400, "resourceNotReady", "The resource '%s' is not ready" % path, status="FAILED_PRECONDITION")


def fingerprint_mismatch() -> ApiError:
    return ApiError(412, "conditionNotMet", "Labels fingerprint either invalid or resource labels have changed")


def not_implemented(operation: str) -> ApiError:
    return ApiError(501, "notImplemented", "Method %s is not implemented by the multicloud.vpn lab stand-in" % operation)


def response_triple(code: int, document: dict) -> tuple:
    """(status line, headers, body) for a JSON answer."""
    payload = json.dumps(document).encode()
    status = "%d %s" % (code, HTTP_STATUS_CODES.get(code, "Unknown"))
    return status, [("Content-Type", "application/json; charset=UTF-8"), ("Content-Length", str(len(payload)))], payload


FAULTS = {
    # lab fault kind -> (HTTP status, reason, message, status)
    "throttle": (429, "rateLimitExceeded", "Rate Limit Exceeded", "RESOURCE_EXHAUSTED"),
    "server_error": (503, "backendError", "The service is currently unavailable.", "UNAVAILABLE"),
    # the request was executed, the answer is lost on the way: the client sees a 503 and retries
    "lost_response": (503, "backendError", "The service is currently unavailable.", "UNAVAILABLE"),
}


def render_fault(kind: str, environ: dict) -> tuple:
    """LabMiddleware fault renderer: Google's JSON error for throttling / unavailability."""
    code, reason, message, status = FAULTS[kind]
    error = ApiError(code, reason, message, status=status)
    document = error.document()
    document["error"]["errors"][0]["domain"] = "usageLimits" if kind == "throttle" else "global"
    return response_triple(code, document)

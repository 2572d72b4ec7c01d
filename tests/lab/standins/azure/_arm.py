# Azure Network stand-in: ARM routing, long-running operations, classifier and faults.
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""The WSGI side: ARM paths -> controller calls, ARM's answers and headers.

Every request needs ``api-version`` (any YYYY-MM-DD[-preview]) and ``Authorization: Bearer <any>``.
Writes answer the ARM way: PUT 201 (created) / 200 (updated) with the resource and an
``Azure-AsyncOperation`` header; DELETE 202 with ``Azure-AsyncOperation`` and ``Location`` (204 when
there is nothing to delete); POST actions 202 with both headers, the result served by the Location URL.
All carry ``Retry-After`` (delays["retry_after"], default 1 s; 0 leaves the header out so the client
uses its own polling interval — azure-core waits its 30 s default on ``Retry-After: 0``).
"""
from __future__ import annotations

import json
import re
import uuid
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

from ._errors import ArmError
from ._network import KINDS, NAMESPACE, AzureNetworkController, Operation, RequestContext

API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")
OPERATION_PATH = re.compile(r"^/subscriptions/(?P<sub>[^/]+)/providers/microsoft\.network/locations/(?P<location>[^/]+)/"
                            r"(?P<which>operations|operationresults)/(?P<id>[^/]+)/?$", re.IGNORECASE)
GROUP_PATH = re.compile(r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/?$", re.IGNORECASE)
NETWORK_PATH = re.compile(r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\.network/"
                          r"(?P<kind>[^/]+)(?:/(?P<name>[^/]+)(?:/(?P<rest>.+?))?)?/?$", re.IGNORECASE)
SUBSCRIPTION_LIST_PATH = re.compile(r"^/subscriptions/(?P<sub>[^/]+)/providers/microsoft\.network/(?P<kind>[^/]+)/?$", re.IGNORECASE)
VERBS = {"GET": "read", "HEAD": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete", "POST": "action"}
SUB_OPERATIONS = {
    ("virtualnetworks", "subnets"): "virtualNetworks/subnets",
    ("virtualnetworkgateways", "getbgppeerstatus"): "virtualNetworkGateways/getBgpPeerStatus",
    ("virtualnetworkgateways", "connections"): "virtualNetworkGateways/connections",
    ("connections", "sharedkey"): "connections/sharedKey",
    ("connections", "sharedkey/reset"): "connections/sharedKey/reset",
}


def classify(environ: dict) -> tuple:
    """environ -> (ARM operation name as in Azure RBAC, is_write); GET/HEAD are reads."""
    method = environ.get("REQUEST_METHOD", "GET").upper()
    path = environ.get("PATH_INFO", "")
    is_write = method not in ("GET", "HEAD")
    verb = VERBS.get(method, method.lower())
    match = OPERATION_PATH.match(path)
    if match:
        which = "operations" if match.group("which").lower() == "operations" else "operationResults"
        return "%s/locations/%s/read" % (NAMESPACE, which), is_write
    match = GROUP_PATH.match(path)
    if match:
        return "Microsoft.Resources/subscriptions/resourceGroups/%s" % verb, is_write
    match = NETWORK_PATH.match(path) or SUBSCRIPTION_LIST_PATH.match(path)
    if not match:
        return "unknown", is_write
    kind_key = match.group("kind").lower()
    kind = KINDS.get(kind_key, match.group("kind"))
    rest = (match.groupdict().get("rest") or "").lower()
    if rest:
        first = rest.split("/")[0]
        name = SUB_OPERATIONS.get((kind_key, rest)) or SUB_OPERATIONS.get((kind_key, first)) or "%s/%s" % (kind, first)
        if rest.endswith("reset") or first == "getbgppeerstatus":
            verb = "action"
        return "%s/%s/%s" % (NAMESPACE, name, verb), is_write
    return "%s/%s/%s" % (NAMESPACE, kind, verb), is_write


def render_fault(kind: str, environ: dict) -> tuple:
    """Injected faults in ARM's format: 429 TooManyRequests, 500 InternalServerError, 504 on a lost answer."""
    del environ
    if kind == "throttle":
        document = {"error": {"code": "TooManyRequests", "message": "The request is being throttled. Retry after 1 second."}}
        return _answer("429 Too Many Requests", document, [("Retry-After", "1")])
    if kind == "lost_response":
        document = {"error": {"code": "GatewayTimeout", "message": "The gateway did not receive a response from 'Microsoft.Network' "
                                                                   "within the specified time period."}}
        return _answer("504 Gateway Timeout", document)
    document = {"error": {"code": "InternalServerError", "message": "Encountered internal server error. Diagnostic information: "
                                                                    "injected by the lab."}}
    return _answer("500 Internal Server Error", document)


def _answer(status: str, document: Any, headers: list | None = None) -> tuple:
    payload = b"" if document is None else json.dumps(document).encode()
    all_headers = [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(payload))),
                   ("x-ms-request-id", str(uuid.uuid4()))]
    return status, all_headers + list(headers or []), payload


STATUS_TEXT = {200: "200 OK", 201: "201 Created", 202: "202 Accepted", 204: "204 No Content", 400: "400 Bad Request",
               401: "401 Unauthorized", 404: "404 Not Found", 405: "405 Method Not Allowed", 409: "409 Conflict",
               500: "500 Internal Server Error"}


class ArmApplication:
    """WSGI application for Microsoft.Network (VPN subset) and resource groups."""

    def __init__(self, controller: AzureNetworkController, delays: Any) -> None:
        self.controller = controller
        self.delays = delays

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        try:
            status, document, headers = self._handle(environ)
        except ArmError as error:
            status, document, headers = error.status, error.document(), []
        except Exception as error:  # pylint: disable=broad-except
            status, document, headers = 500, {"error": {"code": "InternalServerError", "message": "stand-in bug: %r" % error}}, []
        if environ.get("REQUEST_METHOD") == "HEAD" or status == 204:
            document = None
        status_line, all_headers, payload = _answer(STATUS_TEXT.get(status, "%d Status" % status), document, headers)
        start_response(status_line, all_headers)
        return [payload]

    # -- request plumbing -------------------------------------------------------------------
    def _context(self, environ: dict) -> RequestContext:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        versions = query.get("api-version")
        if not versions:
            raise ArmError(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
        if not API_VERSION.match(versions[0]):
            raise ArmError(400, "InvalidApiVersionParameter", "The api-version '%s' is invalid. The supported versions are "
                           "dates in the format YYYY-MM-DD." % versions[0])
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        if not authorization.lower().startswith("bearer ") or not authorization[7:].strip():
            raise ArmError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing or is not a "
                           "Bearer token.")
        host = environ.get("HTTP_HOST") or "%s:%s" % (environ.get("SERVER_NAME"), environ.get("SERVER_PORT"))
        return RequestContext(base_url="%s://%s" % (environ.get("wsgi.url_scheme", "http"), host), api_version=versions[0])

    def _retry_after(self) -> list:
        seconds = float(self.delays.get("retry_after", 1.0))
        if seconds <= 0:
            return []
        return [("Retry-After", str(int(seconds)) if seconds == int(seconds) else str(seconds))]

    def _async_headers(self, ctx: RequestContext, operation: Operation, with_location: bool) -> list:
        headers = [("Azure-AsyncOperation", self.controller.operation_url(ctx, operation))]
        if with_location:
            headers.append(("Location", self.controller.operation_url(ctx, operation, "operationResults")))
        return headers + self._retry_after()

    @staticmethod
    def _body(environ: dict) -> bytes:
        cached = environ.get("mcvpn.body")
        if cached is not None:
            return cached
        length = int(environ.get("CONTENT_LENGTH") or 0)
        return environ["wsgi.input"].read(length) if length else b""

    def _handle(self, environ: dict) -> tuple:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "")
        ctx = self._context(environ)
        match = OPERATION_PATH.match(path)
        if match:
            return self._operation(ctx, match, method)
        match = GROUP_PATH.match(path)
        if match:
            return self._resource_group(method, match.group("sub"), match.group("rg"), self._body(environ), ctx)
        match = NETWORK_PATH.match(path)
        if match:
            kind = self._kind(match.group("kind"))
            if match.group("name") is None:
                return self._list(ctx, method, kind, match.group("sub"), match.group("rg"))
            if match.group("rest"):
                query = parse_qs(environ.get("QUERY_STRING", ""))
                return self._child(ctx, method, kind, match, self._body(environ), query)
            return self._resource(ctx, method, kind, match.group("sub"), match.group("rg"), match.group("name"), self._body(environ))
        match = SUBSCRIPTION_LIST_PATH.match(path)
        if match:
            return self._list(ctx, method, self._kind(match.group("kind")), match.group("sub"), None)
        raise ArmError(404, "InvalidResourceType", "The stand-in does not implement %s %s." % (method, path))

    @staticmethod
    def _kind(raw_kind: str) -> str:
        kind = KINDS.get(raw_kind.lower())
        if kind is None:
            raise ArmError(404, "InvalidResourceType", "The resource type '%s' could not be found in the namespace '%s' (the stand-in "
                           "implements %s)." % (raw_kind, NAMESPACE, ", ".join(sorted(KINDS.values()))))
        return kind

    @staticmethod
    def _not_allowed(method: str, what: str) -> ArmError:
        return ArmError(405, "MethodNotAllowed", "The requested resource does not support http method '%s' (%s)." % (method, what))

    # -- routes -----------------------------------------------------------------------------
    def _operation(self, ctx: RequestContext, match: Any, method: str) -> tuple:
        if method != "GET":
            raise self._not_allowed(method, "operation status")
        operation = self.controller.operation(ctx, match.group("sub"), match.group("id"))
        status = operation.status(ctx.now)
        if match.group("which").lower() == "operations":
            document: dict = {"id": match.group("id"), "name": match.group("id"), "status": status}
            if operation.error:
                document["error"] = dict(operation.error)
            return 200, document, (self._retry_after() if status == "InProgress" else [])
        if status == "InProgress":
            return 202, None, [("Location", self.controller.operation_url(ctx, operation, "operationResults"))] + self._retry_after()
        if operation.error:
            raise ArmError(400, operation.error["code"], operation.error["message"])
        result = self.controller.operation_result(ctx, operation)
        return (200, result, []) if result is not None else (204, None, [])

    def _resource_group(self, method: str, subscription: str, name: str, raw: bytes, ctx: RequestContext) -> tuple:
        if method == "PUT":
            status, document = self.controller.put_resource_group(subscription, name, raw)
            return status, document, []
        if method in ("GET", "HEAD"):
            document = self.controller.get_resource_group(subscription, name)
            return (200 if method == "GET" else 204), document, []
        if method == "DELETE":
            operation = self.controller.delete_resource_group(ctx, subscription, name)
            return 202, None, [("Location", self.controller.operation_url(ctx, operation, "operationResults"))] + self._retry_after()
        raise self._not_allowed(method, "resource group")

    def _list(self, ctx: RequestContext, method: str, kind: str, subscription: str, resource_group: str | None) -> tuple:
        if method != "GET":
            raise self._not_allowed(method, "%s collection" % kind)
        return 200, {"value": self.controller.list(ctx, kind, subscription, resource_group)}, []

    def _resource(self, ctx: RequestContext, method: str, kind: str, subscription: str, resource_group: str, name: str, raw: bytes) -> tuple:
        if method == "GET":
            return 200, self.controller.get(ctx, kind, subscription, resource_group, name), []
        if method == "PUT":
            status, document, operation = self.controller.put(ctx, kind, subscription, resource_group, name, raw)
            return status, document, self._async_headers(ctx, operation, with_location=False)
        if method == "DELETE":
            operation = self.controller.delete(ctx, kind, subscription, resource_group, name)
            if operation is None:
                return 204, None, []
            return 202, None, self._async_headers(ctx, operation, with_location=True)
        if method == "PATCH":
            document, operation = self.controller.patch_tags(ctx, kind, subscription, resource_group, name, raw)
            if kind in ("virtualNetworkGateways", "connections"):
                return 200, document, self._async_headers(ctx, operation, with_location=False)
            return 200, document, []
        raise self._not_allowed(method, kind)

    def _child(self, ctx: RequestContext, method: str, kind: str, match: Any, raw: bytes, query: dict) -> tuple:  # pylint: disable=too-many-return-statements
        subscription, resource_group, name = match.group("sub"), match.group("rg"), match.group("name")
        parts = match.group("rest").split("/")
        lowered = [part.lower() for part in parts]
        if kind == "virtualNetworks" and lowered[0] == "subnets" and len(parts) <= 2:
            if len(parts) == 1:
                if method != "GET":
                    raise self._not_allowed(method, "subnets collection")
                return 200, {"value": self.controller.list_subnets(ctx, subscription, resource_group, name)}, []
            return self._subnet(ctx, method, subscription, resource_group, name, parts[1], raw)
        if kind == "connections" and lowered == ["sharedkey"]:
            if method == "GET":
                return 200, self.controller.get_shared_key(ctx, subscription, resource_group, name), []
            if method == "PUT":
                document, operation = self.controller.set_shared_key(ctx, subscription, resource_group, name, raw)
                return 200, document, self._async_headers(ctx, operation, with_location=False)
            raise self._not_allowed(method, "sharedkey")
        if kind == "connections" and lowered == ["sharedkey", "reset"] and method == "POST":
            operation = self.controller.reset_shared_key(ctx, subscription, resource_group, name, raw)
            return 202, None, self._async_headers(ctx, operation, with_location=True)
        if kind == "virtualNetworkGateways" and lowered == ["getbgppeerstatus"] and method == "POST":
            peer = (query.get("peer") or [None])[0]
            operation = self.controller.bgp_peer_status(ctx, subscription, resource_group, name, peer)
            return 202, None, self._async_headers(ctx, operation, with_location=True)
        if kind == "virtualNetworkGateways" and lowered == ["connections"] and method == "GET":
            return 200, {"value": self.controller.gateway_connections(ctx, subscription, resource_group, name)}, []
        raise ArmError(404, "InvalidResourceType", "The stand-in does not implement %s .../%s/%s/%s." % (method, kind, name, match.group("rest")))

    def _subnet(self, ctx: RequestContext, method: str, subscription: str, resource_group: str, vnet: str, name: str, raw: bytes) -> tuple:
        if method == "GET":
            return 200, self.controller.get_subnet(ctx, subscription, resource_group, vnet, name), []
        if method == "PUT":
            status, document, operation = self.controller.put_subnet(ctx, subscription, resource_group, vnet, name, raw)
            return status, document, self._async_headers(ctx, operation, with_location=False)
        if method == "DELETE":
            operation = self.controller.delete_subnet(ctx, subscription, resource_group, vnet, name)
            if operation is None:
                return 204, None, []
            return 202, None, self._async_headers(ctx, operation, with_location=True)
        raise self._not_allowed(method, "subnet")

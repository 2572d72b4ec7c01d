# GCP Compute stand-in: REST routing (the paths google-cloud-compute's REST transport calls).
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""WSGI application: /compute/v1/projects/{project}/... -> controller, answers in Google's format."""
from __future__ import annotations

from typing import Callable, Iterable
from urllib.parse import parse_qsl

from google.cloud import compute_v1
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule

from . import errors, schema
from .controller import GcpCompute

PROJECT = "/compute/v1/projects/<project>"
READ_METHODS = frozenset({"get", "list", "aggregatedList", "getStatus", "getRouterStatus", "wait", "getEffectiveFirewalls",
                          "listPeeringRoutes", "getNatMappingInfo", "getNatIpInfo", "listBgpRoutes", "getNamedSet",
                          "listNamedSets", "getRoutePolicy", "listRoutePolicies"})
INSERT_TYPES = {"networks": compute_v1.Network, "externalVpnGateways": compute_v1.ExternalVpnGateway,
                "vpnGateways": compute_v1.VpnGateway, "vpnTunnels": compute_v1.VpnTunnel, "routers": compute_v1.Router}
LIST_PARAMETERS = frozenset({"filter", "maxResults", "orderBy", "pageToken", "returnPartialSuccess"})
AGGREGATED_PARAMETERS = LIST_PARAMETERS | {"includeAllScopes", "serviceProjectNumber"}
MUTATION_PARAMETERS = frozenset({"requestId"})
SYSTEM_PARAMETERS = frozenset({"alt", "$alt", "prettyPrint", "fields", "key", "quotaUser", "userIp", "$.xgafv", "access_token",
                               "callback", "upload_protocol", "uploadType"})
PARAMETERS = {"list": LIST_PARAMETERS, "aggregatedList": AGGREGATED_PARAMETERS, "insert": MUTATION_PARAMETERS,
              "delete": MUTATION_PARAMETERS, "patch": MUTATION_PARAMETERS, "update": MUTATION_PARAMETERS,
              "setLabels": MUTATION_PARAMETERS}


def _rules() -> list:
    rules = []
    scopes = {"networks": PROJECT + "/global", "externalVpnGateways": PROJECT + "/global",
              "vpnGateways": PROJECT + "/regions/<region>", "vpnTunnels": PROJECT + "/regions/<region>",
              "routers": PROJECT + "/regions/<region>"}
    for kind, scope in scopes.items():
        base = "%s/%s" % (scope, kind)
        rules += [Rule(base, methods=["GET"], endpoint=(kind, "list")), Rule(base, methods=["POST"], endpoint=(kind, "insert")),
                  Rule(base + "/<name>", methods=["GET"], endpoint=(kind, "get")),
                  Rule(base + "/<name>", methods=["DELETE"], endpoint=(kind, "delete")),
                  Rule(base + "/<name>/<verb>", methods=["GET", "POST"], endpoint=(kind, "verb"))]
    rules += [Rule(PROJECT + "/regions/<region>/routers/<name>", methods=["PATCH"], endpoint=("routers", "patch")),
              Rule(PROJECT + "/regions/<region>/routers/<name>", methods=["PUT"], endpoint=("routers", "update")),
              Rule(PROJECT + "/global/networks/<name>", methods=["PATCH"], endpoint=("networks", "patch"))]
    for kind, scope in (("regionOperations", PROJECT + "/regions/<region>"), ("globalOperations", PROJECT + "/global")):
        rules += [Rule(scope + "/operations", methods=["GET"], endpoint=(kind, "list")),
                  Rule(scope + "/operations/<name>", methods=["GET"], endpoint=(kind, "get")),
                  Rule(scope + "/operations/<name>", methods=["DELETE"], endpoint=(kind, "delete")),
                  Rule(scope + "/operations/<name>/wait", methods=["POST"], endpoint=(kind, "wait"))]
    rules.append(Rule(PROJECT + "/aggregated/<kind>", methods=["GET"], endpoint=("aggregated", "aggregatedList")))
    return rules


URL_MAP = Map(_rules(), strict_slashes=False, merge_slashes=False)


def _match(environ: dict) -> tuple[tuple, dict] | None:
    adapter = URL_MAP.bind_to_environ(environ)
    try:
        return adapter.match()
    except (NotFound, MethodNotAllowed):
        return None


def operation_name(endpoint: tuple, arguments: dict) -> str:
    kind, method = endpoint
    if kind == "aggregated":
        kind = "globalOperations" if arguments["kind"] == "operations" else arguments["kind"]
    if method == "verb":
        method = arguments["verb"]
    return "compute.%s.%s" % (kind, method)


def classify(environ: dict) -> tuple[str, bool]:
    """Operation name as Compute's API names it (e.g. compute.vpnTunnels.insert) and whether it writes."""
    matched = _match(environ)
    if matched is None:
        return "compute.unknown", environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD")
    endpoint, arguments = matched
    name = operation_name(endpoint, arguments)
    return name, name.rsplit(".", 1)[1] not in READ_METHODS


class ComputeApi:
    """The WSGI app (without the lab middleware)."""

    def __init__(self, controller: GcpCompute) -> None:
        self.controller = controller

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        try:
            code, document = self.dispatch(environ)
        except errors.ApiError as error:
            code, document = error.code, error.document()
        status, headers, payload = errors.response_triple(code, document)
        start_response(status, headers)
        return [payload]

    def dispatch(self, environ: dict) -> tuple[int, dict]:
        matched = _match(environ)
        if matched is None:
            raise errors.ApiError(404, "notFound", "The requested URL %s was not found on this server."
                                  % environ.get("PATH_INFO", ""))
        endpoint, arguments = matched
        name = operation_name(endpoint, arguments)
        method = name.rsplit(".", 1)[1]
        query = self._query(environ, endpoint[0], method)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        kind = endpoint[0]
        project, region = arguments["project"], arguments.get("region")
        request_id = query.get("requestId")
        control = self.controller
        if kind == "aggregated":
            if arguments["kind"] not in ("vpnGateways", "vpnTunnels", "routers"):
                raise errors.not_implemented(name)
            return 200, control.aggregated_list(arguments["kind"], project, query)
        if kind in ("regionOperations", "globalOperations"):
            handlers = {"list": lambda: control.list_operations(project, region, query),
                        "get": lambda: control.get_operation(project, region, arguments["name"]),
                        "delete": lambda: control.delete_operation(project, region, arguments["name"]),
                        "wait": lambda: control.wait_operation(project, region, arguments["name"])}
            return 200, handlers[method]()
        if method == "list":
            return 200, control.list(kind, project, region, query)
        if method == "get":
            return 200, control.get(kind, project, region, arguments["name"])
        if method == "insert":
            document, _raw = schema.parse_body(INSERT_TYPES[kind], body)
            return 200, control.insert(kind, project, region, document, request_id)
        if method == "delete":
            return 200, control.delete(kind, project, region, arguments["name"], request_id)
        if method == "setLabels" and kind in ("vpnGateways", "vpnTunnels", "externalVpnGateways"):
            request_type = compute_v1.RegionSetLabelsRequest if region else compute_v1.GlobalSetLabelsRequest
            labels_request, _raw = schema.parse_body(request_type, body, "regionSetLabelsRequestResource" if region
                                                     else "globalSetLabelsRequestResource")
            return 200, control.set_labels(kind, project, region, arguments["name"], labels_request, request_id)
        if method in ("patch", "update") and kind == "routers":
            document, _raw = schema.parse_body(compute_v1.Router, body)
            return 200, control.change_router(method, project, region, arguments["name"], document, request_id)
        if method == "getStatus" and kind == "vpnGateways":
            return 200, control.vpn_gateway_status(project, region, arguments["name"])
        if method == "getRouterStatus" and kind == "routers":
            return 200, control.router_status(project, region, arguments["name"])
        raise errors.not_implemented(name)

    @staticmethod
    def _query(environ: dict, kind: str, method: str) -> dict:
        allowed = PARAMETERS.get(method, frozenset()) | SYSTEM_PARAMETERS
        if (kind, method) == ("externalVpnGateways", "setLabels"):
            allowed = SYSTEM_PARAMETERS  # globalSetLabels takes no requestId
        query = {}
        for key, value in parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True):
            if key not in allowed:
                raise errors.invalid_json('Unknown name "%s": Cannot bind query parameter. Field \'%s\' could not be found in '
                                          'request message.' % (key, key), key)
            query[key] = value
        return query

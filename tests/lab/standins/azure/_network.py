# Azure Network stand-in: the resources, their rules and their state.
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""In-memory Microsoft.Network (VPN subset) and Microsoft.Resources resource groups.

All state lives in :class:`AzureNetworkController`; one lock serialises requests. Time-dependent
states (provisioningState Updating -> Succeeded, Deleting -> gone, operations InProgress -> done)
are computed from deadlines on each request, so nothing runs in the background.

Names are case-insensitive as in ARM (kept as first written); locations are normalised
("East US" -> "eastus"). Public IP addresses come from 192.0.2.0/24 (TEST-NET-1), never reused
before reset().
"""
from __future__ import annotations

import ipaddress
import json
import re
import secrets
import string
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from azure.mgmt.network import models as network_models

from ._errors import ArmError, another_operation_in_progress, bad_request
from ._wire import BodyError, parse_body

NAMESPACE = "Microsoft.Network"
KINDS = {kind.lower(): kind for kind in (
    "virtualNetworks", "publicIPAddresses", "virtualNetworkGateways", "localNetworkGateways", "connections")}
KIND_MODELS = {
    "virtualNetworks": network_models.VirtualNetwork,
    "publicIPAddresses": network_models.PublicIPAddress,
    "virtualNetworkGateways": network_models.VirtualNetworkGateway,
    "localNetworkGateways": network_models.LocalNetworkGateway,
    "connections": network_models.VirtualNetworkGatewayConnection,
}
DEFAULT_DELAYS = {"virtualNetworks": 0.0, "publicIPAddresses": 0.0, "virtualNetworkGateways": 0.3,
                  "localNetworkGateways": 0.0, "connections": 0.1, "retry_after": 1.0}
PUBLIC_IP_POOL = ipaddress.ip_network("192.0.2.0/24")
APIPA_FIRST = ipaddress.ip_address("169.254.21.0")
APIPA_LAST = ipaddress.ip_address("169.254.22.255")
DEFAULT_GATEWAY_ASN = 65515
# Azure's reserved ASNs (VPN Gateway FAQ) and IANA's reserved ones; 65515 is the gateway default.
AZURE_RESERVED_ASNS = frozenset({8074, 8075, 12076, 65515, 65517, 65518, 65519, 65520})
IANA_RESERVED_ASNS = frozenset({0, 23456, 4294967295}) | frozenset(range(64496, 64512)) | frozenset(range(65535, 65552))
# SKU -> (generations allowed, availability-zone SKU)
GATEWAY_SKUS = {
    "Basic": ({"Generation1"}, False),
    "VpnGw1": ({"Generation1"}, False), "VpnGw2": ({"Generation1", "Generation2"}, False),
    "VpnGw3": ({"Generation1", "Generation2"}, False), "VpnGw4": ({"Generation2"}, False), "VpnGw5": ({"Generation2"}, False),
    "VpnGw1AZ": ({"Generation1"}, True), "VpnGw2AZ": ({"Generation1", "Generation2"}, True),
    "VpnGw3AZ": ({"Generation1", "Generation2"}, True), "VpnGw4AZ": ({"Generation2"}, True), "VpnGw5AZ": ({"Generation2"}, True),
}
GCM_ALGORITHMS = ("GCMAES128", "GCMAES192", "GCMAES256")
RESOURCE_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$")
SUBSCRIPTION_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
REFERENCE = re.compile(r"^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\.Network/([^/]+)/([^/]+)"
                       r"(?:/([^/]+)/([^/]+))?/?$", re.IGNORECASE)
CONNECTION_STATUSES = tuple(member.value for member in network_models.VirtualNetworkGatewayConnectionStatus)
BGP_PEER_STATES = tuple(member.value for member in network_models.BgpPeerState)


def normalize_location(location: str) -> str:
    return location.replace(" ", "").lower()


def resource_id(subscription: str, resource_group: str, kind: str, name: str) -> str:
    return "/subscriptions/%s/resourceGroups/%s/providers/%s/%s/%s" % (subscription, resource_group, NAMESPACE, kind, name)


def _etag() -> str:
    return 'W/"%s"' % uuid.uuid4()


@dataclass
class RequestContext:
    """What the controller needs to know about the HTTP request it serves."""

    base_url: str
    api_version: str
    now: float = field(default_factory=time.monotonic)


@dataclass
class Operation:
    """An ARM long-running operation (Azure-AsyncOperation / Location)."""

    id: str
    subscription: str
    location: str
    done_at: float
    error: dict | None = None
    result: Callable[[], Any] | None = None  # POST actions: body served by the Location URL when done

    def status(self, now: float) -> str:
        if now < self.done_at:
            return "InProgress"
        return "Failed" if self.error else "Succeeded"


@dataclass
class Resource:
    """One tracked Microsoft.Network resource."""

    kind: str
    subscription: str
    resource_group: str
    name: str
    location: str
    tags: dict
    body: dict
    etag: str = field(default_factory=_etag)
    guid: str = field(default_factory=lambda: str(uuid.uuid4()))
    busy_until: float = 0.0
    deleting_at: float | None = None
    failed: bool = False
    operation: Operation | None = None
    state: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return resource_id(self.subscription, self.resource_group, self.kind, self.name)

    @property
    def properties(self) -> dict:
        return self.body.get("properties", {})

    def provisioning_state(self, now: float) -> str:
        if self.deleting_at is not None:
            return "Deleting"
        if now < self.busy_until:
            return "Updating"
        return "Failed" if self.failed else "Succeeded"

    def busy(self, now: float) -> bool:
        return self.deleting_at is not None or now < self.busy_until


def _network(prefix: Any, path: str, owner: str) -> ipaddress.IPv4Network:
    if not isinstance(prefix, str):
        raise bad_request("InvalidAddressPrefixFormat", "Address prefix at %s of resource %s is not a string." % (path, owner))
    try:
        network = ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        raise bad_request("InvalidAddressPrefixFormat",
                          "Address prefix %s of resource %s is not formatted correctly. Path %s." % (prefix, owner, path)) from None
    if network.version != 4:
        raise bad_request("InvalidAddressPrefixFormat", "The stand-in supports IPv4 address prefixes only (%s at %s)." % (prefix, path))
    if str(network) != prefix.strip():
        raise bad_request("InvalidCIDRNotation",
                          "The address prefix %s in resource %s has an invalid CIDR notation. For the given prefix length, "
                          "the address prefix should be %s." % (prefix, owner, network))
    return network


def _ipv4(value: Any, what: str) -> ipaddress.IPv4Address:
    try:
        address = ipaddress.ip_address(value)
    except (TypeError, ValueError):
        raise bad_request("InvalidIPAddress", "%s '%s' is not a valid IPv4 address." % (what, value)) from None
    if address.version != 4:
        raise bad_request("InvalidIPAddress", "%s '%s' is not an IPv4 address." % (what, value))
    return address


def _check_name(name: str, kind: str) -> None:
    if not RESOURCE_NAME.match(name or ""):
        raise bad_request("InvalidResourceName",
                          "Resource name %s is invalid. The name can be up to 80 characters long. It must begin with a word "
                          "character, and it must end with a word character or with '_'. The name may contain word characters "
                          "or '.', '-', '_'. (%s)" % (name, kind))


def _check_asn(asn: int, reserved: frozenset, owner: str) -> None:
    if not 1 <= asn <= 4294967294:
        raise bad_request("InvalidAsn", "BGP ASN %d of %s is out of range." % (asn, owner))
    if asn in reserved or asn in IANA_RESERVED_ASNS:
        raise bad_request("ReservedAsnNotAllowed", "BGP ASN %d of %s is reserved by Azure or IANA and cannot be used." % (asn, owner))


class AzureNetworkController:  # pylint: disable=too-many-public-methods
    """State and rules of the stand-in; every public method is one API call (or a lab call)."""

    def __init__(self, delays: Any, resource_groups: list | None = None) -> None:
        self.delays = delays
        self._seed_groups = list(resource_groups or [])
        self._lock = threading.RLock()
        self.groups: dict = {}
        self.resources: dict = {}
        self.operations: dict = {}
        self.operation_failures: list = []
        self._next_public_ip = 0
        self.reset()

    # -- lab API ----------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything, then re-create the resource groups seeded by the config."""
        with self._lock:
            self.groups = {}
            self.resources = {}
            self.operations = {}
            self.operation_failures = []
            self._next_public_ip = 0
            for group in self._seed_groups:
                self.seed_resource_group(group["subscription_id"], group["name"], group.get("location", "eastus"))

    def seed_resource_group(self, subscription: str, name: str, location: str, tags: dict | None = None) -> dict:
        with self._lock:
            key = (subscription.lower(), name.lower())
            group = self.groups.get(key)
            if group is None:
                group = {"subscription": subscription, "name": name, "location": normalize_location(location), "tags": {}}
                self.groups[key] = group
            if tags is not None:
                group["tags"] = dict(tags)
            return group

    def fail_next_operation(self, kind: str, code: str, message: str) -> None:
        """Make the next write of ``kind`` end in an operation status Failed (lab use, in process)."""
        with self._lock:
            self.operation_failures.append({"kind": kind, "code": code, "message": message})

    # -- common helpers ----------------------------------------------------------------------
    def _delay(self, kind: str) -> float:
        return float(self.delays.get(kind, DEFAULT_DELAYS.get(kind, 0.0)))

    def _sweep(self, now: float) -> None:
        gone = [key for key, resource in self.resources.items()
                if resource.deleting_at is not None and resource.deleting_at <= now]
        for key in gone:
            del self.resources[key]

    def _group(self, subscription: str, resource_group: str) -> dict:
        if not SUBSCRIPTION_ID.match(subscription):
            raise bad_request("InvalidSubscriptionId", "The provided subscription identifier '%s' is malformed or invalid." % subscription)
        group = self.groups.get((subscription.lower(), resource_group.lower()))
        if group is None:
            raise ArmError(404, "ResourceGroupNotFound", "Resource group '%s' could not be found." % resource_group)
        return group

    def _find(self, kind: str, subscription: str, resource_group: str, name: str) -> Resource | None:
        return self.resources.get((kind, subscription.lower(), resource_group.lower(), name.lower()))

    def _require(self, kind: str, subscription: str, resource_group: str, name: str) -> Resource:
        group = self._group(subscription, resource_group)
        resource = self._find(kind, subscription, resource_group, name)
        if resource is None:
            raise ArmError(404, "ResourceNotFound",
                           "The Resource '%s/%s/%s' under resource group '%s' was not found. For more details please go to "
                           "https://aka.ms/ARMResourceNotFoundFix" % (NAMESPACE, kind, name, group["name"]))
        return resource

    def _resolve(self, reference: Any, kind: str, path: str, owner: str) -> Resource:
        """A {"id": ...} reference to a tracked resource -> the resource; ARM's reference errors."""
        return self._resolve_child(reference, kind, None, path, owner)[0]

    def _resolve_child(self, reference: Any, kind: str, child: str | None, path: str, owner: str) -> tuple:
        """A {"id": ...} reference -> (resource, child name or None); ARM's reference errors."""
        reference_id = reference.get("id") if isinstance(reference, dict) else None
        match = REFERENCE.match(reference_id or "")
        wrong_shape = (match is None or match.group(3).lower() != kind.lower()
                       or (child is None) != (match.group(5) is None)
                       or (child is not None and match.group(5).lower() != child.lower()))
        if wrong_shape:
            expected = "%s/%s" % (kind, child) if child else kind
            raise ArmError(400, "InvalidRequestFormat", "Cannot parse the request.", details=[{
                "code": "InvalidJsonReferenceFormat",
                "message": "Reference Id %s is not formatted correctly. The Id is expected to reference resources of type %s. "
                           "Path %s." % (reference_id, expected, path)}])
        subscription, resource_group, name, child_name = match.group(1), match.group(2), match.group(4), match.group(6)
        resource = self._find(kind, subscription, resource_group, name)
        if resource is None or resource.deleting_at is not None or (
                child is not None and child_name.lower() not in resource.state.get("subnets", {})):
            raise bad_request("InvalidResourceReference",
                              "Resource %s referenced by resource %s was not found. Please make sure that the referenced resource "
                              "exists, and that both resources are in the same region." % (reference_id, owner))
        return resource, child_name

    def _new_operation(self, ctx: RequestContext, resource: Resource | None, subscription: str, location: str,
                       seconds: float, result: Callable[[], Any] | None = None) -> Operation:
        operation = Operation(id=str(uuid.uuid4()), subscription=subscription, location=location,
                              done_at=ctx.now + seconds, result=result)
        if resource is not None:
            for index, failure in enumerate(self.operation_failures):
                if failure["kind"] == resource.kind:
                    operation.error = {"code": failure["code"], "message": failure["message"]}
                    resource.failed = True
                    del self.operation_failures[index]
                    break
            else:
                resource.failed = False
            resource.operation = operation
            resource.busy_until = operation.done_at
        self.operations[operation.id] = operation
        return operation

    def operation_url(self, ctx: RequestContext, operation: Operation, kind: str = "operations") -> str:
        return "%s/subscriptions/%s/providers/%s/locations/%s/%s/%s?api-version=%s" % (
            ctx.base_url, operation.subscription, NAMESPACE, operation.location, kind, operation.id, ctx.api_version)

    def _refuse_if_busy(self, ctx: RequestContext, *resources: Resource | None) -> None:
        for resource in resources:
            if resource is not None and resource.busy(ctx.now):
                operation = resource.operation or Operation(str(uuid.uuid4()), resource.subscription, resource.location, 0)
                raise another_operation_in_progress(self.operation_url(ctx, operation))

    def _envelope(self, resource: Resource, properties: dict, extra: dict | None = None) -> dict:
        document = {"name": resource.name, "id": resource.id, "etag": resource.etag,
                    "type": "%s/%s" % (NAMESPACE, resource.kind), "location": resource.location}
        if resource.tags:
            document["tags"] = dict(resource.tags)
        document.update(extra or {})
        document["properties"] = properties
        return document

    def _parse(self, raw: bytes, model: type) -> dict:
        try:
            return parse_body(raw, model)
        except BodyError as error:
            raise ArmError(400, "InvalidRequestFormat", "Cannot parse the request.",
                           details=[{"code": "InvalidJson", "message": problem} for problem in error.problems]) from None

    def _tracked_body(self, raw: bytes, kind: str) -> tuple:
        body = self._parse(raw, KIND_MODELS[kind])
        location = body.pop("location", None)
        if not location:
            raise bad_request("LocationRequired", "The location property is required for this definition.")
        tags = body.pop("tags", None) or {}
        body.pop("id", None)
        return body, normalize_location(location), tags

    # -- resource groups (Microsoft.Resources) ------------------------------------------------
    def put_resource_group(self, subscription: str, name: str, raw: bytes) -> tuple:
        with self._lock:
            if not SUBSCRIPTION_ID.match(subscription):
                raise bad_request("InvalidSubscriptionId", "The provided subscription identifier '%s' is malformed or invalid." % subscription)
            try:
                document = json.loads(raw or b"{}")
            except ValueError:
                raise bad_request("InvalidRequestContent", "The request content was invalid and could not be deserialized.") from None
            unknown = set(document) - {"location", "tags", "managedBy", "properties", "name", "id", "type"}
            if unknown:
                raise bad_request("InvalidRequestContent", "Could not find member '%s' on object of type 'ResourceGroupDefinition'." % sorted(unknown)[0])
            if not document.get("location"):
                raise bad_request("LocationRequired", "The location property is required for this definition.")
            existing = self.groups.get((subscription.lower(), name.lower()))
            location = normalize_location(document["location"])
            if existing is not None and existing["location"] != location:
                raise ArmError(409, "InvalidResourceGroupLocation",
                               "Invalid resource group location '%s'. The Resource group already exists in location '%s'." % (
                                   location, existing["location"]))
            group = self.seed_resource_group(subscription, name, location, document.get("tags") or {})
            return (200 if existing else 201), self.render_resource_group(group)

    def get_resource_group(self, subscription: str, name: str) -> dict:
        with self._lock:
            return self.render_resource_group(self._group(subscription, name))

    def delete_resource_group(self, ctx: RequestContext, subscription: str, name: str) -> Operation:
        """Deletes the group and everything in it at once (ARM cascades; the stand-in does not wait)."""
        with self._lock:
            group = self._group(subscription, name)
            del self.groups[(subscription.lower(), name.lower())]
            for key in [key for key in self.resources if key[1] == subscription.lower() and key[2] == name.lower()]:
                del self.resources[key]
            return self._new_operation(ctx, None, subscription, group["location"], 0.0)

    @staticmethod
    def render_resource_group(group: dict) -> dict:
        document = {"id": "/subscriptions/%s/resourceGroups/%s" % (group["subscription"], group["name"]),
                    "name": group["name"], "type": "Microsoft.Resources/resourceGroups", "location": group["location"],
                    "properties": {"provisioningState": "Succeeded"}}
        if group["tags"]:
            document["tags"] = dict(group["tags"])
        return document

    # -- generic CRUD -------------------------------------------------------------------------
    def put(self, ctx: RequestContext, kind: str, subscription: str, resource_group: str, name: str, raw: bytes) -> tuple:
        """PUT a tracked resource: (HTTP status, resource document, Operation)."""
        with self._lock:
            self._sweep(ctx.now)
            group = self._group(subscription, resource_group)
            _check_name(name, kind)
            body, location, tags = self._tracked_body(raw, kind)
            existing = self._find(kind, subscription, resource_group, name)
            if existing is not None:
                self._refuse_if_busy(ctx, existing)
                if existing.location != location:
                    raise bad_request("InvalidResourceLocation",
                                      "The resource '%s' already exists in location '%s' in resource group '%s'. A resource with "
                                      "the same name cannot be created in location '%s'. Please select a new resource name." % (
                                          name, existing.location, group["name"], location))
            candidate = Resource(kind=kind, subscription=subscription, resource_group=group["name"], name=name,
                                 location=location, tags=tags, body=body)
            if existing is not None:
                candidate.subscription, candidate.resource_group, candidate.name = existing.subscription, existing.resource_group, existing.name
                candidate.guid, candidate.state = existing.guid, dict(existing.state)
            getattr(self, "_accept_" + _snake(kind))(ctx, candidate, existing)
            self.resources[(kind, subscription.lower(), resource_group.lower(), name.lower())] = candidate
            operation = self._new_operation(ctx, candidate, candidate.subscription, location, self._delay(kind))
            return (200 if existing else 201), self.render(ctx, candidate), operation

    def get(self, ctx: RequestContext, kind: str, subscription: str, resource_group: str, name: str) -> dict:
        with self._lock:
            self._sweep(ctx.now)
            return self.render(ctx, self._require(kind, subscription, resource_group, name))

    def list(self, ctx: RequestContext, kind: str, subscription: str, resource_group: str | None) -> list:
        with self._lock:
            self._sweep(ctx.now)
            if resource_group is not None:
                self._group(subscription, resource_group)
            return [self.render(ctx, resource) for key, resource in sorted(self.resources.items())
                    if key[0] == kind and key[1] == subscription.lower() and (resource_group is None or key[2] == resource_group.lower())]

    def delete(self, ctx: RequestContext, kind: str, subscription: str, resource_group: str, name: str) -> Operation | None:
        """DELETE: an Operation, or None when there was nothing to delete (HTTP 204)."""
        with self._lock:
            self._sweep(ctx.now)
            self._group(subscription, resource_group)
            resource = self._find(kind, subscription, resource_group, name)
            if resource is None:
                return None
            if resource.deleting_at is not None:
                return resource.operation
            self._refuse_if_busy(ctx, resource)
            getattr(self, "_check_delete_" + _snake(kind))(resource)
            operation = self._new_operation(ctx, None, resource.subscription, resource.location, self._delay(kind))
            resource.operation = operation
            resource.deleting_at = operation.done_at
            if operation.done_at <= ctx.now:
                self._sweep(ctx.now)
            return operation

    def patch_tags(self, ctx: RequestContext, kind: str, subscription: str, resource_group: str, name: str, raw: bytes) -> tuple:
        """PATCH {"tags": {...}}: (document, Operation)."""
        with self._lock:
            self._sweep(ctx.now)
            resource = self._require(kind, subscription, resource_group, name)
            self._refuse_if_busy(ctx, resource)
            body = self._parse(raw, network_models.TagsObject)
            resource.tags = dict(body.get("tags") or {})
            resource.etag = _etag()
            operation = self._new_operation(ctx, None, resource.subscription, resource.location, 0.0)
            return self.render(ctx, resource), operation

    def render(self, ctx: RequestContext, resource: Resource) -> dict:
        return getattr(self, "_render_" + _snake(resource.kind))(ctx, resource)

    def operation(self, ctx: RequestContext, subscription: str, operation_id: str) -> Operation:
        with self._lock:
            self._sweep(ctx.now)
            operation = self.operations.get(operation_id)
            if operation is None or operation.subscription.lower() != subscription.lower():
                raise ArmError(404, "OperationNotFound", "Operation %s was not found." % operation_id)
            return operation

    def operation_result(self, ctx: RequestContext, operation: Operation) -> Any:
        with self._lock:
            return operation.result() if operation.result else None

    # -- virtual networks and subnets ---------------------------------------------------------
    def _subnet_users(self, subnet_id: str) -> list:
        users = []
        for resource in self.resources.values():
            if resource.kind == "virtualNetworkGateways":
                for config in resource.properties.get("ipConfigurations", []):
                    if config.get("properties", {}).get("subnet", {}).get("id", "").lower() == subnet_id.lower():
                        users.append("%s/ipConfigurations/%s" % (resource.id, config["name"]))
        return users

    def _subnet_entry(self, vnet: Resource, name: str, properties: dict, path: str, networks: list) -> dict:
        _check_name(name, "subnet")
        prefix = properties.get("addressPrefix") or (properties.get("addressPrefixes") or [None])[0]
        if prefix is None:
            raise bad_request("InvalidAddressPrefixFormat", "Subnet %s of virtual network %s has no address prefix." % (name, vnet.name))
        network = _network(prefix, path, "%s/subnets/%s" % (vnet.id, name))
        if not any(network.subnet_of(space) for space in networks):
            raise bad_request("NetcfgInvalidSubnet", "Subnet '%s' is not valid in virtual network '%s'." % (name, vnet.name))
        kept = {key: value for key, value in properties.items() if key not in ("addressPrefix", "addressPrefixes")}
        return {"name": name, "prefix": str(network), "properties": kept, "etag": _etag()}

    def _check_subnet_overlaps(self, vnet: Resource, subnets: dict) -> None:
        entries = list(subnets.values())
        for index, first in enumerate(entries):
            for second in entries[index + 1:]:
                if ipaddress.ip_network(first["prefix"]).overlaps(ipaddress.ip_network(second["prefix"])):
                    raise bad_request("NetcfgSubnetRangesOverlap",
                                      "Subnet '%s' is not valid because its IP address range overlaps with that of an existing "
                                      "subnet in virtual network '%s'." % (second["name"], vnet.name))

    def _check_subnet_changes(self, vnet: Resource, old: dict, new: dict) -> None:
        for key, entry in old.items():
            subnet_id = "%s/subnets/%s" % (vnet.id, entry["name"])
            users = self._subnet_users(subnet_id)
            if not users:
                continue
            if key not in new:
                raise _subnet_in_use(entry["name"], users)
            if new[key]["prefix"] != entry["prefix"]:
                raise bad_request("InUseSubnetCannotBeUpdated",
                                  "Subnet %s is in use by %s and its address prefix cannot be updated." % (entry["name"], users[0]))

    def _accept_virtual_networks(self, ctx: RequestContext, vnet: Resource, existing: Resource | None) -> None:
        del ctx
        properties = vnet.properties
        prefixes = (properties.get("addressSpace") or {}).get("addressPrefixes") or []
        if not prefixes:
            raise bad_request("VirtualNetworkAddressSpaceRequired", "Virtual network %s must have at least one address prefix." % vnet.name)
        networks = [_network(prefix, "properties.addressSpace.addressPrefixes[%d]" % index, vnet.id) for index, prefix in enumerate(prefixes)]
        for index, first in enumerate(networks):
            for second in networks[index + 1:]:
                if first.overlaps(second):
                    raise bad_request("VnetAddressSpacesOverlap",
                                      "Address prefixes %s and %s of virtual network %s overlap." % (first, second, vnet.name))
        subnets: dict = {}
        for index, subnet in enumerate(properties.get("subnets") or []):
            name = subnet.get("name") or ""
            if name.lower() in subnets:
                raise bad_request("DuplicateResourceName", "Virtual network %s has two subnets named %s." % (vnet.name, name))
            subnets[name.lower()] = self._subnet_entry(vnet, name, subnet.get("properties") or {},
                                                       "properties.subnets[%d].properties.addressPrefix" % index, networks)
        self._check_subnet_overlaps(vnet, subnets)
        if existing is not None:
            self._check_subnet_changes(vnet, existing.state.get("subnets", {}), subnets)
        vnet.state = {"address_prefixes": [str(network) for network in networks], "subnets": subnets}
        properties.pop("subnets", None)

    def _check_delete_virtual_networks(self, vnet: Resource) -> None:
        for entry in vnet.state.get("subnets", {}).values():
            users = self._subnet_users("%s/subnets/%s" % (vnet.id, entry["name"]))
            if users:
                raise _subnet_in_use(entry["name"], users)

    def _render_subnet(self, ctx: RequestContext, vnet: Resource, entry: dict) -> dict:
        subnet_id = "%s/subnets/%s" % (vnet.id, entry["name"])
        properties = {"provisioningState": vnet.provisioning_state(ctx.now), "addressPrefix": entry["prefix"],
                      "delegations": [], "privateEndpointNetworkPolicies": "Disabled",
                      "privateLinkServiceNetworkPolicies": "Enabled"}
        properties.update(entry["properties"])
        users = self._subnet_users(subnet_id)
        if users:
            properties["ipConfigurations"] = [{"id": user} for user in users]
        return {"name": entry["name"], "id": subnet_id, "etag": entry["etag"], "type": "%s/virtualNetworks/subnets" % NAMESPACE,
                "properties": properties}

    def _render_virtual_networks(self, ctx: RequestContext, vnet: Resource) -> dict:
        properties = dict(vnet.properties)
        properties.update({"provisioningState": vnet.provisioning_state(ctx.now), "resourceGuid": vnet.guid,
                           "addressSpace": {"addressPrefixes": list(vnet.state["address_prefixes"])},
                           "subnets": [self._render_subnet(ctx, vnet, entry) for entry in vnet.state["subnets"].values()],
                           "virtualNetworkPeerings": [], "enableDdosProtection": properties.get("enableDdosProtection", False)})
        return self._envelope(vnet, properties)

    def put_subnet(self, ctx: RequestContext, subscription: str, resource_group: str, vnet_name: str, name: str, raw: bytes) -> tuple:
        with self._lock:
            self._sweep(ctx.now)
            vnet = self._require("virtualNetworks", subscription, resource_group, vnet_name)
            self._refuse_if_busy(ctx, vnet)
            body = self._parse(raw, network_models.Subnet)
            networks = [ipaddress.ip_network(prefix) for prefix in vnet.state["address_prefixes"]]
            entry = self._subnet_entry(vnet, name, body.get("properties") or {}, "properties.addressPrefix", networks)
            subnets = dict(vnet.state["subnets"])
            existed = name.lower() in subnets
            if existed:
                entry["name"] = subnets[name.lower()]["name"]
            subnets[name.lower()] = entry
            self._check_subnet_overlaps(vnet, subnets)
            self._check_subnet_changes(vnet, vnet.state["subnets"], subnets)
            vnet.state["subnets"] = subnets
            vnet.etag = _etag()
            operation = self._new_operation(ctx, None, vnet.subscription, vnet.location, self._delay("virtualNetworks"))
            return (200 if existed else 201), self._render_subnet(ctx, vnet, entry), operation

    def _require_subnet(self, subscription: str, resource_group: str, vnet_name: str, name: str) -> tuple:
        vnet = self._require("virtualNetworks", subscription, resource_group, vnet_name)
        entry = vnet.state["subnets"].get(name.lower())
        if entry is None:
            raise ArmError(404, "NotFound", "Resource %s/subnets/%s not found." % (vnet.id, name))
        return vnet, entry

    def get_subnet(self, ctx: RequestContext, subscription: str, resource_group: str, vnet_name: str, name: str) -> dict:
        with self._lock:
            self._sweep(ctx.now)
            vnet, entry = self._require_subnet(subscription, resource_group, vnet_name, name)
            return self._render_subnet(ctx, vnet, entry)

    def list_subnets(self, ctx: RequestContext, subscription: str, resource_group: str, vnet_name: str) -> list:
        with self._lock:
            self._sweep(ctx.now)
            vnet = self._require("virtualNetworks", subscription, resource_group, vnet_name)
            return [self._render_subnet(ctx, vnet, entry) for entry in vnet.state["subnets"].values()]

    def delete_subnet(self, ctx: RequestContext, subscription: str, resource_group: str, vnet_name: str, name: str) -> Operation | None:
        with self._lock:
            self._sweep(ctx.now)
            vnet = self._require("virtualNetworks", subscription, resource_group, vnet_name)
            entry = vnet.state["subnets"].get(name.lower())
            if entry is None:
                return None
            self._refuse_if_busy(ctx, vnet)
            users = self._subnet_users("%s/subnets/%s" % (vnet.id, entry["name"]))
            if users:
                raise _subnet_in_use(entry["name"], users)
            del vnet.state["subnets"][name.lower()]
            vnet.etag = _etag()
            return self._new_operation(ctx, None, vnet.subscription, vnet.location, self._delay("virtualNetworks"))

    # -- public IP addresses ------------------------------------------------------------------
    def _public_ip_user(self, public_ip_id: str) -> str | None:
        for resource in self.resources.values():
            if resource.kind == "virtualNetworkGateways":
                for config in resource.properties.get("ipConfigurations", []):
                    if config.get("properties", {}).get("publicIPAddress", {}).get("id", "").lower() == public_ip_id.lower():
                        return "%s/ipConfigurations/%s" % (resource.id, config["name"])
        return None

    def _allocate_public_ip(self) -> str:
        self._next_public_ip += 1
        if self._next_public_ip >= PUBLIC_IP_POOL.num_addresses - 1:
            raise ArmError(409, "PublicIPCountLimitReached", "The stand-in's public IP pool %s is exhausted; reset it." % PUBLIC_IP_POOL)
        return str(PUBLIC_IP_POOL.network_address + self._next_public_ip)

    def _accept_public_ip_addresses(self, ctx: RequestContext, public_ip: Resource, existing: Resource | None) -> None:
        del ctx
        sku = public_ip.body.setdefault("sku", {})
        sku.setdefault("name", "Standard")
        sku.setdefault("tier", "Regional")
        if sku["name"] == "Basic":
            raise bad_request("BasicSkuPublicIPAddressRetired",
                              "Basic SKU public IP addresses were retired on 30 September 2025; create a Standard SKU address.")
        if sku["name"] != "Standard":
            raise bad_request("InvalidRequestFormat", "The stand-in supports Standard SKU public IP addresses only, not %s." % sku["name"])
        properties = public_ip.body.setdefault("properties", {})
        properties.setdefault("publicIPAllocationMethod", "Static")
        if properties["publicIPAllocationMethod"] != "Static":
            raise bad_request("StandardAndStandardV2SkuPublicIPAddressesMustBeStatic",
                              "Standard sku publicIp %s must have AllocationMethod set to Static." % public_ip.id)
        properties.setdefault("publicIPAddressVersion", "IPv4")
        if properties["publicIPAddressVersion"] != "IPv4":
            raise bad_request("PublicIPAddressVersionNotSupported", "The stand-in allocates IPv4 public addresses only.")
        properties.pop("ipAddress", None)
        if existing is not None:
            if existing.body["sku"]["name"] != sku["name"]:
                raise bad_request("PublicIPAddressSkuCannotBeChanged", "The SKU of public IP address %s cannot be changed." % existing.id)
            public_ip.state["ip_address"] = existing.state["ip_address"]
        else:
            public_ip.state["ip_address"] = self._allocate_public_ip()

    def _check_delete_public_ip_addresses(self, public_ip: Resource) -> None:
        user = self._public_ip_user(public_ip.id)
        if user:
            raise bad_request("PublicIPAddressCannotBeDeleted",
                              "Public IP address %s can not be deleted since it is still allocated to resource %s. In order to "
                              "delete the public IP, disassociate/detach the Public IP address from the resource. To learn how "
                              "to do this, see aka.ms/deletepublicip." % (public_ip.id, user))

    def _render_public_ip_addresses(self, ctx: RequestContext, public_ip: Resource) -> dict:
        properties = dict(public_ip.properties)
        properties.update({"provisioningState": public_ip.provisioning_state(ctx.now), "resourceGuid": public_ip.guid,
                           "ipAddress": public_ip.state["ip_address"], "idleTimeoutInMinutes": properties.get("idleTimeoutInMinutes", 4),
                           "ipTags": properties.get("ipTags", [])})
        user = self._public_ip_user(public_ip.id)
        if user:
            properties["ipConfiguration"] = {"id": user}
        extra = {"sku": dict(public_ip.body["sku"])}
        if public_ip.body.get("zones"):
            extra["zones"] = list(public_ip.body["zones"])
        return self._envelope(public_ip, properties, extra)

    # -- virtual network gateways -------------------------------------------------------------
    def _accept_virtual_network_gateways(self, ctx: RequestContext, gateway: Resource, existing: Resource | None) -> None:  # pylint: disable=too-many-locals
        properties = gateway.properties
        gateway_type = properties.get("gatewayType")
        if gateway_type != "Vpn":
            raise bad_request("GatewayTypeNotSupported", "The stand-in supports gatewayType Vpn only (got %s)." % gateway_type)
        properties.setdefault("vpnType", "RouteBased")
        if properties["vpnType"] != "RouteBased":
            raise bad_request("VpnTypeNotSupported", "The stand-in supports route-based VPN gateways only.")
        sku_name = (properties.get("sku") or {}).get("name")
        if sku_name not in GATEWAY_SKUS:
            raise bad_request("InvalidGatewaySku", "Gateway SKU %s is not a VPN gateway SKU the stand-in supports (%s)." % (
                sku_name, ", ".join(GATEWAY_SKUS)))
        tier = properties["sku"].get("tier", sku_name)
        if tier != sku_name:
            raise bad_request("InvalidGatewaySku", "Gateway SKU name %s and tier %s must match." % (sku_name, tier))
        generations, availability_zones = GATEWAY_SKUS[sku_name]
        generation = properties.get("vpnGatewayGeneration") or ("Generation1" if "Generation1" in generations else "Generation2")
        if generation not in generations:
            raise bad_request("GatewaySkuNotSupportedForGeneration", "Gateway SKU %s is not available in %s." % (sku_name, generation))
        active_active = bool(properties.get("activeActive"))
        if sku_name == "Basic" and active_active:
            raise bad_request("ActiveActiveNotSupportedForBasicSku", "Basic SKU gateway %s cannot be active-active." % gateway.name)
        if sku_name == "Basic" and properties.get("enableBgp"):
            raise bad_request("BgpNotSupportedForBasicSku", "Basic SKU gateway %s does not support BGP." % gateway.name)
        if existing is not None:
            self._check_gateway_update(existing, properties, generation, sku_name)
        configs = properties.get("ipConfigurations") or []
        if active_active and len(configs) != 2:
            raise bad_request("ActiveActiveGatewayMustHaveExactlyTwoIpConfigurations",
                              "Active-active virtual network gateway %s must have exactly two IP configurations; it has %d." % (
                                  gateway.id, len(configs)))
        if not active_active and len(configs) != 1:
            raise bad_request("ActivePassiveGatewayMustHaveExactlyOneIpConfiguration",
                              "Virtual network gateway %s is not active-active and must have exactly one IP configuration; it has %d." % (
                                  gateway.id, len(configs)))
        instances = self._gateway_instances(gateway, configs, availability_zones)
        self._accept_gateway_bgp(gateway, instances, active_active)
        properties.update({"vpnGatewayGeneration": generation, "activeActive": active_active,
                           "enableBgp": bool(properties.get("enableBgp")),
                           "sku": {"name": sku_name, "tier": sku_name, "capacity": 2}})
        warnings = []
        if not availability_zones and sku_name != "Basic":
            warnings.append("SKU %s is a non-AZ SKU that Azure is retiring; use %sAZ" % (sku_name, sku_name))
        gateway.state = {"instances": instances, "warnings": warnings, "bgp_status": gateway.state.get("bgp_status", [])}
        self._refuse_if_busy(ctx, *self._connections_of(gateway))

    def _check_gateway_update(self, existing: Resource, properties: dict, generation: str, sku_name: str) -> None:
        old = existing.properties
        for key, new_value in (("gatewayType", properties["gatewayType"]), ("vpnType", properties["vpnType"]),
                               ("vpnGatewayGeneration", generation)):
            if old.get(key) != new_value:
                raise bad_request("GatewayPropertyCannotBeChanged", "%s of virtual network gateway %s cannot be changed from %s to %s." % (
                    key, existing.id, old.get(key), new_value))
        old_sku = old["sku"]["name"]
        if (old_sku == "Basic") != (sku_name == "Basic") or GATEWAY_SKUS[old_sku][1] != GATEWAY_SKUS[sku_name][1]:
            raise bad_request("GatewaySkuResizeNotSupported", "Virtual network gateway %s cannot be resized from %s to %s; "
                              "only resizes within one SKU family are possible." % (existing.id, old_sku, sku_name))

    def _gateway_instances(self, gateway: Resource, configs: list, availability_zones: bool) -> list:  # pylint: disable=too-many-locals
        instances = []
        vnet_seen = None
        public_ips_seen: set = set()
        for index, config in enumerate(configs):
            name = config.get("name") or ""
            _check_name(name, "ipConfiguration")
            if any(instance["name"].lower() == name.lower() for instance in instances):
                raise bad_request("DuplicateResourceName", "Virtual network gateway %s has two IP configurations named %s." % (gateway.name, name))
            config_properties = config.setdefault("properties", {})
            if config_properties.setdefault("privateIPAllocationMethod", "Dynamic") != "Dynamic":
                raise bad_request("InvalidPrivateIpAllocationMethod", "Gateway IP configurations use Dynamic private IP allocation.")
            path = "properties.ipConfigurations[%d].properties" % index
            vnet, subnet_name = self._resolve_child(config_properties.get("subnet"), "virtualNetworks", "subnets", path + ".subnet", gateway.id)
            subnet = vnet.state["subnets"][subnet_name.lower()]
            if subnet["name"].lower() != "gatewaysubnet":
                raise bad_request("InvalidGatewaySubnet", "Virtual network gateway IP configuration %s must use the subnet named "
                                  "GatewaySubnet, not %s." % (name, subnet["name"]))
            if vnet.location != gateway.location:
                raise bad_request("InvalidResourceReference", "Resource %s referenced by resource %s was not found. Please make sure "
                                  "that the referenced resource exists, and that both resources are in the same region." % (vnet.id, gateway.id))
            if vnet_seen is not None and vnet_seen is not vnet:
                raise bad_request("InvalidGatewaySubnet", "All IP configurations of gateway %s must use the same GatewaySubnet." % gateway.name)
            vnet_seen = vnet
            network = ipaddress.ip_network(subnet["prefix"])
            if network.prefixlen > 27:
                raise bad_request("GatewaySubnetTooSmall", "GatewaySubnet %s of virtual network %s is a /%d; VPN gateways need /27 or larger." % (
                    network, vnet.name, network.prefixlen))
            if config_properties.get("publicIPAddress") is None:
                raise bad_request("GatewayPublicIPAddressRequired", "IP configuration %s of gateway %s needs a public IP address." % (name, gateway.name))
            public_ip = self._resolve(config_properties["publicIPAddress"], "publicIPAddresses", path + ".publicIPAddress", gateway.id)
            user = self._public_ip_user(public_ip.id)
            if public_ip.id.lower() in public_ips_seen or (user and not user.lower().startswith(gateway.id.lower() + "/")):
                raise bad_request("PublicIPAddressInUse", "Public IP address %s is already used by %s." % (public_ip.id, user or gateway.id))
            public_ips_seen.add(public_ip.id.lower())
            if availability_zones and public_ip.body["sku"]["name"] != "Standard":
                raise bad_request("AzGatewaySkuRequiresStandardPublicIPAddress", "AZ gateway SKUs need Standard SKU public IP addresses.")
            config_properties["subnet"] = {"id": "%s/subnets/%s" % (vnet.id, subnet["name"])}
            config_properties["publicIPAddress"] = {"id": public_ip.id}
            instances.append({"name": name, "id": "%s/ipConfigurations/%s" % (gateway.id, name), "public_ip_id": public_ip.id,
                              "vnet_id": vnet.id, "subnet_prefix": str(network)})
        self._check_one_gateway_per_vnet(gateway, vnet_seen)
        defaults = [network.broadcast_address - 1] if len(instances) == 1 else [network.network_address + 4, network.network_address + 5]
        for instance, default in zip(instances, defaults):
            instance["default_bgp_ip"] = str(default)
            instance["custom_bgp_ips"] = []
        return instances

    def _check_one_gateway_per_vnet(self, gateway: Resource, vnet: Resource | None) -> None:
        for other in self.resources.values():
            if other.kind != "virtualNetworkGateways" or other.id.lower() == gateway.id.lower() or vnet is None:
                continue
            if any(instance["vnet_id"].lower() == vnet.id.lower() for instance in other.state.get("instances", [])):
                raise bad_request("OnlyOneVpnGatewayAllowedPerVirtualNetwork",
                                  "Virtual network %s already has VPN gateway %s." % (vnet.id if vnet else "", other.id))

    def _accept_gateway_bgp(self, gateway: Resource, instances: list, active_active: bool) -> None:
        bgp = gateway.properties.setdefault("bgpSettings", {})
        bgp.setdefault("asn", DEFAULT_GATEWAY_ASN)
        bgp.setdefault("peerWeight", 0)
        _check_asn(bgp["asn"], AZURE_RESERVED_ASNS - {DEFAULT_GATEWAY_ASN}, gateway.id)
        by_id = {instance["id"].lower(): instance for instance in instances}
        used: set = set()
        for index, peering in enumerate(bgp.get("bgpPeeringAddresses") or []):
            instance = by_id.get((peering.get("ipconfigurationId") or "").lower())
            if instance is None:
                raise bad_request("InvalidBgpPeeringAddressIpConfiguration",
                                  "bgpSettings.bgpPeeringAddresses[%d].ipconfigurationId %s is not an IP configuration of gateway %s." % (
                                      index, peering.get("ipconfigurationId"), gateway.id))
            for address in peering.get("customBgpIpAddresses") or []:
                parsed = _ipv4(address, "Custom BGP IP address")
                if not APIPA_FIRST <= parsed <= APIPA_LAST:
                    raise bad_request("InvalidCustomBgpIpAddress", "Custom BGP IP address %s of gateway %s is outside the valid range "
                                      "169.254.21.0 - 169.254.22.255." % (address, gateway.name))
                if str(parsed) in used:
                    raise bad_request("DuplicateCustomBgpIpAddress", "Custom BGP IP address %s is used twice on gateway %s." % (address, gateway.name))
                used.add(str(parsed))
                instance["custom_bgp_ips"].append(str(parsed))
        if not active_active and len(used) > 1:
            raise bad_request("ActivePassiveGatewaySupportsOneCustomBgpIpAddress",
                              "Active-passive gateway %s supports one custom APIPA BGP IP address; %d were given." % (gateway.name, len(used)))
        for connection in self._connections_of(gateway):
            for entry in connection.properties.get("gatewayCustomBgpIpAddresses") or []:
                instance = by_id.get(entry["ipConfigurationId"].lower())
                if instance is None or entry["customBgpIpAddress"] not in instance["custom_bgp_ips"]:
                    raise bad_request("CustomBgpIpAddressInUseByConnection", "Custom BGP IP address %s of %s is used by connection %s." % (
                        entry["customBgpIpAddress"], entry["ipConfigurationId"], connection.id))

    def _public_ip_of(self, instance: dict) -> str:
        public_ip = self._by_id("publicIPAddresses", instance["public_ip_id"])
        return public_ip.state["ip_address"] if public_ip else ""

    def _connections_of(self, gateway: Resource) -> list:
        return [resource for resource in self.resources.values() if resource.kind == "connections"
                and resource.properties["virtualNetworkGateway1"]["id"].lower() == gateway.id.lower()]

    def _check_delete_virtual_network_gateways(self, gateway: Resource) -> None:
        connections = self._connections_of(gateway)
        if connections:
            raise bad_request("InUseVirtualNetworkGatewayCannotBeDeleted",
                              "Virtual network gateway %s is used by connection %s and cannot be deleted. Delete the connections "
                              "first." % (gateway.id, connections[0].id))

    def _render_virtual_network_gateways(self, ctx: RequestContext, gateway: Resource) -> dict:
        state = gateway.provisioning_state(ctx.now)
        properties = dict(gateway.properties)
        configs = []
        peerings = []
        for config, instance in zip(properties.get("ipConfigurations", []), gateway.state["instances"]):
            configs.append({"name": instance["name"], "id": instance["id"], "etag": gateway.etag,
                            "type": "%s/virtualNetworkGateways/ipConfigurations" % NAMESPACE,
                            "properties": dict(config["properties"], provisioningState=state)})
            peerings.append({"ipconfigurationId": instance["id"], "defaultBgpIpAddresses": [instance["default_bgp_ip"]],
                             "customBgpIpAddresses": list(instance["custom_bgp_ips"]),
                             "tunnelIpAddresses": [self._public_ip_of(instance)]})
        bgp = dict(properties["bgpSettings"])
        bgp.update({"bgpPeeringAddress": ",".join(instance["default_bgp_ip"] for instance in gateway.state["instances"]),
                    "bgpPeeringAddresses": peerings})
        properties.update({"provisioningState": state, "resourceGuid": gateway.guid, "ipConfigurations": configs, "bgpSettings": bgp,
                           "packetCaptureDiagnosticState": "None", "enablePrivateIpAddress": properties.get("enablePrivateIpAddress", False),
                           "disableIPSecReplayProtection": properties.get("disableIPSecReplayProtection", False),
                           "natRules": [], "enableBgpRouteTranslationForNat": False,
                           "allowRemoteVnetTraffic": properties.get("allowRemoteVnetTraffic", False),
                           "allowVirtualWanTraffic": properties.get("allowVirtualWanTraffic", False)})
        return self._envelope(gateway, properties)

    # -- local network gateways ---------------------------------------------------------------
    def _accept_local_network_gateways(self, ctx: RequestContext, local_gateway: Resource, existing: Resource | None) -> None:
        del existing
        properties = local_gateway.properties
        if not properties.get("gatewayIpAddress") and not properties.get("fqdn"):
            raise bad_request("LocalNetworkGatewayAddressRequired", "Local network gateway %s needs gatewayIpAddress or fqdn." % local_gateway.id)
        if properties.get("gatewayIpAddress"):
            properties["gatewayIpAddress"] = str(_ipv4(properties["gatewayIpAddress"], "gatewayIpAddress"))
        space = properties.setdefault("localNetworkAddressSpace", {})
        space["addressPrefixes"] = [str(_network(prefix, "properties.localNetworkAddressSpace.addressPrefixes[%d]" % index, local_gateway.id))
                                    for index, prefix in enumerate(space.get("addressPrefixes") or [])]
        bgp = properties.get("bgpSettings")
        if bgp:
            if "asn" not in bgp or not bgp.get("bgpPeeringAddress"):
                raise bad_request("LocalNetworkGatewayBgpSettingsMissing", "bgpSettings of local network gateway %s need asn and "
                                  "bgpPeeringAddress." % local_gateway.id)
            _check_asn(bgp["asn"], AZURE_RESERVED_ASNS, local_gateway.id)
            bgp["bgpPeeringAddress"] = str(_ipv4(bgp["bgpPeeringAddress"], "bgpPeeringAddress"))
            bgp.setdefault("peerWeight", 0)
        self._refuse_if_busy(ctx, *self._connections_using(local_gateway))

    def _connections_using(self, local_gateway: Resource) -> list:
        return [resource for resource in self.resources.values() if resource.kind == "connections"
                and resource.properties["localNetworkGateway2"]["id"].lower() == local_gateway.id.lower()]

    def _check_delete_local_network_gateways(self, local_gateway: Resource) -> None:
        connections = self._connections_using(local_gateway)
        if connections:
            raise bad_request("InUseLocalNetworkGatewayCannotBeDeleted",
                              "Local network gateway %s is used by connection %s and cannot be deleted." % (local_gateway.id, connections[0].id))

    def _render_local_network_gateways(self, ctx: RequestContext, local_gateway: Resource) -> dict:
        properties = dict(local_gateway.properties)
        properties.update({"provisioningState": local_gateway.provisioning_state(ctx.now), "resourceGuid": local_gateway.guid})
        return self._envelope(local_gateway, properties)

    # -- connections ----------------------------------------------------------------------------
    def _accept_connections(self, ctx: RequestContext, connection: Resource, existing: Resource | None) -> None:  # pylint: disable=too-many-branches
        properties = connection.properties
        if properties["connectionType"] != "IPsec":
            raise bad_request("ConnectionTypeNotSupported", "The stand-in supports IPsec connections only (got %s)." % properties["connectionType"])
        gateway = self._resolve(properties["virtualNetworkGateway1"], "virtualNetworkGateways", "properties.virtualNetworkGateway1", connection.id)
        if properties.get("localNetworkGateway2") is None:
            raise bad_request("LocalNetworkGatewayRequired", "IPsec connection %s needs localNetworkGateway2." % connection.id)
        local_gateway = self._resolve(properties["localNetworkGateway2"], "localNetworkGateways", "properties.localNetworkGateway2", connection.id)
        if gateway.location != connection.location:
            raise bad_request("InvalidResourceReference", "Resource %s referenced by resource %s was not found. Please make sure that the "
                              "referenced resource exists, and that both resources are in the same region." % (gateway.id, connection.id))
        self._refuse_if_busy(ctx, gateway, local_gateway)
        properties["virtualNetworkGateway1"] = {"id": gateway.id}
        properties["localNetworkGateway2"] = {"id": local_gateway.id}
        if existing is not None:
            for key in ("virtualNetworkGateway1", "localNetworkGateway2", "connectionType"):
                if existing.properties[key] != properties[key]:
                    raise bad_request("ConnectionPropertyCannotBeChanged", "%s of connection %s cannot be changed." % (key, connection.id))
        properties.setdefault("connectionProtocol", "IKEv2")
        properties.setdefault("connectionMode", "Default")
        properties.setdefault("routingWeight", 0)
        properties.setdefault("dpdTimeoutSeconds", 45)
        if not 9 <= properties["dpdTimeoutSeconds"] <= 3600:
            raise bad_request("InvalidDpdTimeout", "dpdTimeoutSeconds must be between 9 and 3600; got %d." % properties["dpdTimeoutSeconds"])
        for key in ("enableBgp", "usePolicyBasedTrafficSelectors", "useLocalAzureIpAddress", "expressRouteGatewayBypass", "enablePrivateLinkFastPath"):
            properties[key] = bool(properties.get(key))
        shared_key = properties.pop("sharedKey", None)
        if shared_key is not None:
            _check_shared_key(shared_key)
            connection.state["shared_key"] = shared_key
        elif "shared_key" not in connection.state:
            connection.state["shared_key"] = _generate_key(32)
        if properties["enableBgp"]:
            if not gateway.properties.get("enableBgp"):
                raise bad_request("BgpNotEnabledOnVirtualNetworkGateway", "Connection %s enables BGP but gateway %s does not." % (connection.id, gateway.id))
            local_bgp = local_gateway.properties.get("bgpSettings")
            if not local_bgp:
                raise bad_request("LocalNetworkGatewayBgpSettingsMissing", "Connection %s enables BGP but local network gateway %s has no "
                                  "bgpSettings." % (connection.id, local_gateway.id))
            if local_bgp["asn"] == gateway.properties["bgpSettings"]["asn"]:
                raise bad_request("LocalNetworkGatewayAsnSameAsGatewayAsn", "Local network gateway %s uses the gateway's own ASN %d." % (
                    local_gateway.id, local_bgp["asn"]))
        policies = properties.setdefault("ipsecPolicies", [])
        if len(policies) > 1:
            raise bad_request("InvalidIpsecPolicy", "A connection takes at most one IPsec policy; %d were given." % len(policies))
        for policy in policies:
            _check_ipsec_policy(policy)
        if properties["usePolicyBasedTrafficSelectors"] and not policies:
            raise bad_request("PolicyBasedTrafficSelectorsRequireIpsecPolicy",
                              "usePolicyBasedTrafficSelectors requires a custom IPsec policy on connection %s." % connection.id)
        self._check_custom_bgp_addresses(connection, gateway)
        properties.setdefault("trafficSelectorPolicies", [])
        connection.state.setdefault("status", {"tunnels": {}})

    def _check_custom_bgp_addresses(self, connection: Resource, gateway: Resource) -> None:
        instances = {instance["id"].lower(): instance for instance in gateway.state["instances"]}
        seen: set = set()
        for index, entry in enumerate(connection.properties.get("gatewayCustomBgpIpAddresses") or []):
            instance = instances.get(entry["ipConfigurationId"].lower())
            if instance is None or instance["id"].lower() in seen or entry["customBgpIpAddress"] not in instance["custom_bgp_ips"]:
                raise bad_request("InvalidGatewayCustomBgpIpAddress",
                                  "gatewayCustomBgpIpAddresses[%d] (%s on %s) must name one IP configuration of gateway %s once, with one "
                                  "of that configuration's customBgpIpAddresses." % (
                                      index, entry["customBgpIpAddress"], entry["ipConfigurationId"], gateway.id))
            seen.add(instance["id"].lower())
            entry["ipConfigurationId"] = instance["id"]

    def _check_delete_connections(self, connection: Resource) -> None:
        del connection

    def _connection_gateways(self, connection: Resource) -> tuple:
        gateway = self._by_id("virtualNetworkGateways", connection.properties["virtualNetworkGateway1"]["id"])
        local_gateway = self._by_id("localNetworkGateways", connection.properties["localNetworkGateway2"]["id"])
        return gateway, local_gateway

    def _by_id(self, kind: str, identifier: str) -> Resource | None:
        match = REFERENCE.match(identifier)
        return self._find(kind, match.group(1), match.group(2), match.group(4)) if match else None

    def connection_tunnels(self, connection: Resource) -> list:
        """One tunnel per gateway instance: the Azure and peer ends, BGP addresses included."""
        gateway, local_gateway = self._connection_gateways(connection)
        if gateway is None or local_gateway is None:
            return []
        chosen = {entry["ipConfigurationId"].lower(): entry["customBgpIpAddress"]
                  for entry in connection.properties.get("gatewayCustomBgpIpAddresses") or []}
        local_bgp = local_gateway.properties.get("bgpSettings") or {}
        peer_bgp_ip = local_bgp.get("bgpPeeringAddress")
        tunnels = []
        for instance in gateway.state["instances"]:
            azure_bgp_ip = chosen.get(instance["id"].lower())
            if azure_bgp_ip is None and instance["custom_bgp_ips"] and peer_bgp_ip and peer_bgp_ip.startswith("169.254."):
                azure_bgp_ip = instance["custom_bgp_ips"][0]
            tunnels.append({
                "ip_configuration_id": instance["id"], "azure_public_ip": self._public_ip_of(instance),
                "azure_bgp_ip": azure_bgp_ip or instance["default_bgp_ip"], "azure_asn": gateway.properties["bgpSettings"]["asn"],
                "peer_ip": local_gateway.properties.get("gatewayIpAddress") or local_gateway.properties.get("fqdn"),
                "peer_bgp_ip": peer_bgp_ip, "peer_asn": local_bgp.get("asn")})
        return tunnels

    def _connection_status(self, ctx: RequestContext, connection: Resource) -> tuple:
        status = connection.state["status"]
        tunnels = []
        for tunnel in self.connection_tunnels(connection):
            reported = status["tunnels"].get(tunnel["azure_public_ip"], {})
            tunnels.append({"tunnel": tunnel["azure_public_ip"], "connectionStatus": reported.get("connection_status", "NotConnected"),
                            "ingressBytesTransferred": reported.get("ingress_bytes", 0), "egressBytesTransferred": reported.get("egress_bytes", 0),
                            "lastConnectionEstablishedUtcTime": reported.get("last_connection_established_utc_time", "")})
        if connection.busy(ctx.now) and "connection_status" not in status:
            overall = "Unknown"
        elif "connection_status" in status:
            overall = status["connection_status"]
        elif status["tunnels"]:
            overall = "Connected" if any(tunnel["connectionStatus"] == "Connected" for tunnel in tunnels) else "Connecting"
        else:
            overall = "Connecting"
        ingress = status.get("ingress_bytes", sum(tunnel["ingressBytesTransferred"] for tunnel in tunnels))
        egress = status.get("egress_bytes", sum(tunnel["egressBytesTransferred"] for tunnel in tunnels))
        return overall, ingress, egress, tunnels

    def _render_connections(self, ctx: RequestContext, connection: Resource) -> dict:
        overall, ingress, egress, tunnels = self._connection_status(ctx, connection)
        properties = dict(connection.properties)
        properties["virtualNetworkGateway1"] = dict(properties["virtualNetworkGateway1"], properties={})
        properties["localNetworkGateway2"] = dict(properties["localNetworkGateway2"], properties={})
        properties.update({"provisioningState": connection.provisioning_state(ctx.now), "resourceGuid": connection.guid,
                           "connectionStatus": overall, "ingressBytesTransferred": ingress, "egressBytesTransferred": egress,
                           "tunnelConnectionStatus": tunnels, "ingressNatRules": [], "egressNatRules": []})
        return self._envelope(connection, properties)

    def get_shared_key(self, ctx: RequestContext, subscription: str, resource_group: str, name: str) -> dict:
        with self._lock:
            self._sweep(ctx.now)
            connection = self._require("connections", subscription, resource_group, name)
            return {"id": connection.id, "value": connection.state["shared_key"]}

    def set_shared_key(self, ctx: RequestContext, subscription: str, resource_group: str, name: str, raw: bytes) -> tuple:
        with self._lock:
            self._sweep(ctx.now)
            connection = self._require("connections", subscription, resource_group, name)
            self._refuse_if_busy(ctx, connection)
            body = self._parse(raw, network_models.ConnectionSharedKey)
            _check_shared_key(body["value"])
            connection.state["shared_key"] = body["value"]
            connection.etag = _etag()
            operation = self._new_operation(ctx, connection, connection.subscription, connection.location, self._delay("connections"))
            return {"id": connection.id, "value": body["value"]}, operation

    def reset_shared_key(self, ctx: RequestContext, subscription: str, resource_group: str, name: str, raw: bytes) -> Operation:
        with self._lock:
            self._sweep(ctx.now)
            connection = self._require("connections", subscription, resource_group, name)
            self._refuse_if_busy(ctx, connection)
            body = self._parse(raw, network_models.ConnectionResetSharedKey)
            key_length = body["keyLength"]
            if not 1 <= key_length <= 128:
                raise bad_request("InvalidKeyLength", "keyLength must be between 1 and 128; got %d." % key_length)
            connection.state["shared_key"] = _generate_key(key_length)
            connection.etag = _etag()
            return self._new_operation(ctx, connection, connection.subscription, connection.location, self._delay("connections"),
                                       result=lambda: {"keyLength": key_length})

    # -- gateway actions ----------------------------------------------------------------------
    def gateway_connections(self, ctx: RequestContext, subscription: str, resource_group: str, name: str) -> list:
        with self._lock:
            self._sweep(ctx.now)
            gateway = self._require("virtualNetworkGateways", subscription, resource_group, name)
            return [self._render_connections(ctx, connection) for connection in self._connections_of(gateway)]

    def bgp_peers(self, gateway: Resource) -> list:
        """Configured BGP peers of a gateway, with the state the data plane reported (else Connecting)."""
        reported = gateway.state.get("bgp_status", [])
        peers = []
        for connection in self._connections_of(gateway):
            if not connection.properties.get("enableBgp") or connection.deleting_at is not None:
                continue
            for tunnel in self.connection_tunnels(connection):
                match = next((peer for peer in reported if peer["neighbor"] == tunnel["peer_bgp_ip"]
                              and peer.get("local_address", tunnel["azure_bgp_ip"]) == tunnel["azure_bgp_ip"]), {})
                peers.append({"localAddress": tunnel["azure_bgp_ip"], "neighbor": tunnel["peer_bgp_ip"], "asn": tunnel["peer_asn"],
                              "state": match.get("state", "Connecting"), "connectedDuration": match.get("connected_duration", "00:00:00"),
                              "routesReceived": match.get("routes_received", 0), "messagesSent": match.get("messages_sent", 0),
                              "messagesReceived": match.get("messages_received", 0)})
        return peers

    def bgp_peer_status(self, ctx: RequestContext, subscription: str, resource_group: str, name: str, peer: str | None) -> Operation:
        with self._lock:
            self._sweep(ctx.now)
            gateway = self._require("virtualNetworkGateways", subscription, resource_group, name)

            def result() -> dict:
                return {"value": [entry for entry in self.bgp_peers(gateway) if peer is None or entry["neighbor"] == peer]}

            return self._new_operation(ctx, None, gateway.subscription, gateway.location, 0.0, result=result)

    # -- data plane and dump ------------------------------------------------------------------
    def _lookup_status_key(self, kind: str, key: str) -> Resource:
        if key.startswith("/"):
            resource = self._by_id(kind, key)
        else:
            parts = key.split("/")
            if len(parts) != 2:
                raise ValueError("status key %r: use '<resource group>/<name>' or a full resource id" % key)
            matches = [resource for resource_key, resource in self.resources.items()
                       if resource_key[0] == kind and resource_key[2:] == (parts[0].lower(), parts[1].lower())]
            resource = matches[0] if len(matches) == 1 else None
        if resource is None:
            raise ValueError("status key %r: no such %s" % (key, kind))
        return resource

    def apply_status(self, status: dict) -> None:
        """Data plane -> stand-in. Schema in the package docstring; unknown keys are refused."""
        with self._lock:
            unknown = set(status) - {"connections", "virtual_network_gateways"}
            if unknown:
                raise ValueError("status: unknown keys %s" % sorted(unknown))
            for key, update in (status.get("connections") or {}).items():
                _apply_connection_status(self._lookup_status_key("connections", key), update)
            for key, update in (status.get("virtual_network_gateways") or {}).items():
                gateway = self._lookup_status_key("virtualNetworkGateways", key)
                if set(update) - {"bgp_peers"}:
                    raise ValueError("virtual_network_gateways[%s]: unknown keys %s" % (key, sorted(set(update) - {"bgp_peers"})))
                gateway.state["bgp_status"] = [_checked_bgp_peer(peer) for peer in update.get("bgp_peers") or []]

    def dump_state(self) -> dict:  # pylint: disable=too-many-locals
        """Everything, shared keys included (schema in the package docstring)."""
        with self._lock:
            now = time.monotonic()
            self._sweep(now)
            ctx = RequestContext(base_url="", api_version="", now=now)
            state: dict = {"resource_groups": [], "virtual_networks": [], "public_ip_addresses": [], "virtual_network_gateways": [],
                           "local_network_gateways": [], "connections": []}
            for group in self.groups.values():
                state["resource_groups"].append({"subscription_id": group["subscription"], "name": group["name"], "location": group["location"]})
            for resource in [self.resources[key] for key in sorted(self.resources)]:
                common = {"id": resource.id, "subscription_id": resource.subscription, "resource_group": resource.resource_group,
                          "name": resource.name, "location": resource.location, "provisioning_state": resource.provisioning_state(now)}
                properties = resource.properties
                if resource.kind == "virtualNetworks":
                    common.update(address_prefixes=list(resource.state["address_prefixes"]),
                                  subnets=[{"name": entry["name"], "address_prefix": entry["prefix"]} for entry in resource.state["subnets"].values()])
                    state["virtual_networks"].append(common)
                elif resource.kind == "publicIPAddresses":
                    common.update(ip_address=resource.state["ip_address"], sku=resource.body["sku"]["name"], in_use_by=self._public_ip_user(resource.id))
                    state["public_ip_addresses"].append(common)
                elif resource.kind == "virtualNetworkGateways":
                    common.update(sku=properties["sku"]["name"], generation=properties["vpnGatewayGeneration"], active_active=properties["activeActive"],
                                  enable_bgp=properties["enableBgp"], asn=properties["bgpSettings"]["asn"], warnings=list(resource.state["warnings"]),
                                  instances=[{"ip_configuration_id": instance["id"], "name": instance["name"],
                                              "public_ip": self._public_ip_of(instance), "default_bgp_ip": instance["default_bgp_ip"],
                                              "custom_bgp_ips": list(instance["custom_bgp_ips"])} for instance in resource.state["instances"]],
                                  bgp_peers=self.bgp_peers(resource))
                    state["virtual_network_gateways"].append(common)
                elif resource.kind == "localNetworkGateways":
                    bgp = properties.get("bgpSettings")
                    common.update(gateway_ip_address=properties.get("gatewayIpAddress"), fqdn=properties.get("fqdn"),
                                  address_prefixes=list(properties["localNetworkAddressSpace"]["addressPrefixes"]),
                                  bgp={"asn": bgp["asn"], "peering_address": bgp["bgpPeeringAddress"]} if bgp else None)
                    state["local_network_gateways"].append(common)
                else:
                    overall, ingress, egress = self._connection_status(ctx, resource)[:3]
                    common.update(virtual_network_gateway_id=properties["virtualNetworkGateway1"]["id"],
                                  local_network_gateway_id=properties["localNetworkGateway2"]["id"],
                                  shared_key=resource.state["shared_key"], connection_protocol=properties["connectionProtocol"],
                                  connection_mode=properties["connectionMode"], dpd_timeout_seconds=properties["dpdTimeoutSeconds"],
                                  enable_bgp=properties["enableBgp"], use_policy_based_traffic_selectors=properties["usePolicyBasedTrafficSelectors"],
                                  ipsec_policies=[dict(policy) for policy in properties["ipsecPolicies"]],
                                  gateway_custom_bgp_ip_addresses=[dict(entry) for entry in properties.get("gatewayCustomBgpIpAddresses") or []],
                                  connection_status=overall, ingress_bytes=ingress, egress_bytes=egress, tunnels=self.connection_tunnels(resource))
                    state["connections"].append(common)
            return state


def _snake(kind: str) -> str:
    return {"virtualNetworks": "virtual_networks", "publicIPAddresses": "public_ip_addresses",
            "virtualNetworkGateways": "virtual_network_gateways", "localNetworkGateways": "local_network_gateways",
            "connections": "connections"}[kind]


def _subnet_in_use(name: str, users: list) -> ArmError:
    return bad_request("InUseSubnetCannotBeDeleted",
                       "Subnet %s is in use by %s and cannot be deleted. In order to delete the subnet, delete all the resources "
                       "within the subnet. See aka.ms/deletesubnet." % (name, users[0]))


def _generate_key(length: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for position in range(length))


def _check_shared_key(value: str) -> None:
    if not 1 <= len(value) <= 128 or not all(32 < ord(character) < 127 for character in value):
        raise bad_request("InvalidSharedKey", "The shared key must be 1 to 128 printable ASCII characters without spaces.")


def _check_ipsec_policy(policy: dict) -> None:
    if not 300 <= policy["saLifeTimeSeconds"] <= 172799:
        raise bad_request("InvalidIpsecPolicy", "saLifeTimeSeconds must be between 300 and 172799; got %d." % policy["saLifeTimeSeconds"])
    if policy["saDataSizeKilobytes"] != 0 and not 1024 <= policy["saDataSizeKilobytes"] <= 2147483647:
        raise bad_request("InvalidIpsecPolicy", "saDataSizeKilobytes must be 0 or between 1024 and 2147483647.")
    for encryption_key, integrity_key in (("ipsecEncryption", "ipsecIntegrity"), ("ikeEncryption", "ikeIntegrity")):
        encryption, integrity = policy[encryption_key], policy[integrity_key]
        if (encryption in GCM_ALGORITHMS or integrity in GCM_ALGORITHMS) and encryption != integrity:
            raise bad_request("InvalidIpsecPolicy", "%s %s and %s %s do not match: a GCMAES algorithm must be used for both." % (
                encryption_key, encryption, integrity_key, integrity))


def _apply_connection_status(connection: Resource, update: dict) -> None:
    allowed = {"connection_status", "ingress_bytes", "egress_bytes", "tunnels"}
    if set(update) - allowed:
        raise ValueError("connections[%s]: unknown keys %s" % (connection.name, sorted(set(update) - allowed)))
    status = connection.state["status"]
    if "connection_status" in update:
        if update["connection_status"] not in CONNECTION_STATUSES:
            raise ValueError("connection_status must be one of %s" % (CONNECTION_STATUSES,))
        status["connection_status"] = update["connection_status"]
    for key in ("ingress_bytes", "egress_bytes"):
        if key in update:
            status[key] = int(update[key])
    for tunnel in update.get("tunnels") or []:
        tunnel_keys = {"azure_public_ip", "connection_status", "ingress_bytes", "egress_bytes", "last_connection_established_utc_time"}
        if set(tunnel) - tunnel_keys or "azure_public_ip" not in tunnel:
            raise ValueError("tunnel status needs azure_public_ip and only %s" % sorted(tunnel_keys))
        if tunnel.get("connection_status", "NotConnected") not in CONNECTION_STATUSES:
            raise ValueError("tunnel connection_status must be one of %s" % (CONNECTION_STATUSES,))
        status["tunnels"][tunnel["azure_public_ip"]] = {key: value for key, value in tunnel.items() if key != "azure_public_ip"}


def _checked_bgp_peer(peer: dict) -> dict:
    allowed = {"neighbor", "local_address", "asn", "state", "routes_received", "messages_sent", "messages_received", "connected_duration"}
    if set(peer) - allowed or "neighbor" not in peer:
        raise ValueError("bgp peer needs neighbor and only %s" % sorted(allowed))
    if peer.get("state", "Connecting") not in BGP_PEER_STATES:
        raise ValueError("bgp peer state must be one of %s" % (BGP_PEER_STATES,))
    return dict(peer)

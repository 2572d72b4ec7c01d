# GCP Compute stand-in: request bodies checked against google-cloud-compute's own models.
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""Parse request bodies with the SDK's protobuf types, then check the values the types leave open.

- :func:`parse_body` runs ``json_format.Parse(..., ignore_unknown_fields=False)`` on the
  compute_v1 message: a misspelled field or a wrong type is a 400 "Invalid JSON payload
  received. Unknown name ..." exactly as Google's front end answers it.
- :func:`check_enums` checks every string field that has a same-named enum in compute_v1
  (``redundancyType``, ``advertiseMode``, ``advertisedGroups``, ...) against that enum.
- value rules shared by several resources: names (RFC 1035), labels, references to other
  resources (URLs), and the IKE cipher names Cloud VPN accepts.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
from urllib.parse import urlparse

import proto
from google.cloud import compute_v1
from google.protobuf import json_format

from . import errors

SELF_LINK_BASE = "https://www.googleapis.com/compute/v1/"
NAME_PATTERN = re.compile(r"^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$")
LABEL_KEY_PATTERN = re.compile(r"^[a-z][-_a-z0-9]{0,62}$")
LABEL_VALUE_PATTERN = re.compile(r"^[-_a-z0-9]{0,63}$")
PROJECT_PATTERN = re.compile(r"^(?:[a-z][-a-z0-9.:]{4,61}[a-z0-9])$")

# Compute Engine regions (2025). A region outside this list answers 404 like an unknown region.
REGIONS = frozenset("""
africa-south1 asia-east1 asia-east2 asia-northeast1 asia-northeast2 asia-northeast3 asia-south1 asia-south2
asia-southeast1 asia-southeast2 australia-southeast1 australia-southeast2 europe-central2 europe-north1
europe-north2 europe-southwest1 europe-west1 europe-west10 europe-west12 europe-west2 europe-west3 europe-west4
europe-west6 europe-west8 europe-west9 me-central1 me-central2 me-west1 northamerica-northeast1
northamerica-northeast2 northamerica-south1 southamerica-east1 southamerica-west1 us-central1 us-east1 us-east4
us-east5 us-south1 us-west1 us-west2 us-west3 us-west4
""".split())

# Cloud VPN's supported IKE ciphers (cloud.google.com/network-connectivity/docs/vpn/concepts/supported-ike-ciphers),
# spelled as the vpnTunnels.cipherSuite field takes them (e.g. the Terraform provider's examples:
# "AES-CBC-256", "HMAC-SHA2-256-128", "PRF-HMAC-SHA2-256", "Group-14"). DH group 22 was withdrawn.
_AES_GCM = ["AES-GCM-%d-%d" % (icv, bits) for icv in (8, 12, 16) for bits in (128, 192, 256)]
_AES_CBC = ["AES-CBC-128", "AES-CBC-192", "AES-CBC-256"]
DH_GROUPS = ["Group-%d" % group for group in (2, 5, 14, 15, 16, 17, 18, 19, 20, 21, 23, 24, 31)]
CIPHER_SUITE = {
    "phase1": {
        "encryption": frozenset(_AES_GCM + _AES_CBC + ["3DES-CBC"]),
        "integrity": frozenset(["HMAC-SHA2-256-128", "HMAC-SHA2-384-192", "HMAC-SHA2-512-256", "HMAC-SHA1-96",
                                "HMAC-MD5-96", "AES-XCBC-96", "AES-CMAC-96"]),
        "prf": frozenset(["PRF-AES128-XCBC", "PRF-AES128-CMAC", "PRF-HMAC-SHA1", "PRF-HMAC-MD5", "PRF-HMAC-SHA2-256",
                          "PRF-HMAC-SHA2-384", "PRF-HMAC-SHA2-512"]),
        "dh": frozenset(DH_GROUPS),
    },
    "phase2": {
        "encryption": frozenset(_AES_GCM + _AES_CBC + ["3DES-CBC"]),
        "integrity": frozenset(["HMAC-SHA2-256-128", "HMAC-SHA2-384-192", "HMAC-SHA2-512-256", "HMAC-SHA1-96",
                                "HMAC-MD5-96"]),
        "pfs": frozenset(DH_GROUPS),
    },
}

_UNKNOWN_NAME = re.compile(r'Message type "google\.cloud\.compute\.v1\.(\w+)" has no field named "([^"]+)" at "([^"]*)"')


def _snake(camel: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()


def parse_body(message_cls: type, body: bytes, field: str = "resource") -> tuple[dict, dict]:
    """Validate a JSON body against a compute_v1 message; return (canonical document, raw JSON).

    The canonical document is the message re-serialized with JSON (camelCase) names, so only
    known fields with the right types survive. The raw JSON tells which keys were sent, which
    PATCH needs (an explicitly empty list replaces a list; protobuf drops empty lists).
    """
    try:
        raw = json.loads(body or b"{}")
    except ValueError as error:
        raise errors.invalid_json("Unexpected token: %s" % str(error).split(":", maxsplit=1)[0], field) from None
    if not isinstance(raw, dict):
        raise errors.invalid_json("Expected an object for '%s'." % field, field)
    message = message_cls.pb()()
    try:
        json_format.Parse(json.dumps(raw), message, ignore_unknown_fields=False)
    except json_format.ParseError as error:
        text = str(error)
        unknown = _UNKNOWN_NAME.search(text)
        if unknown:
            where = [_snake(part) for part in unknown.group(3).split(".")[1:]]
            location = ".".join([field] + where)
            raise errors.invalid_json('Unknown name "%s" at \'%s\': Cannot find field.' % (unknown.group(2), location),
                                      location) from None
        raise errors.invalid_json(text.split("\n", maxsplit=1)[0], field) from None
    document = json_format.MessageToDict(message)
    for key, value in raw.items():
        if value in ([], {}) and key not in document:
            document[key] = value
    check_enums(message_cls, document, field)
    return document, raw


def check_enums(message_cls: type, document: dict, path: str) -> None:
    """Check string fields that have an enum of the same name in compute_v1 (e.g. AdvertiseMode)."""
    descriptor = message_cls.pb().DESCRIPTOR
    for field in descriptor.fields:
        if field.json_name not in document:
            continue
        value = document[field.json_name]
        location = "%s.%s" % (path, field.json_name)
        if field.message_type is not None and not field.message_type.GetOptions().map_entry:
            nested_cls = getattr(compute_v1, field.message_type.name, None)
            if nested_cls is None:
                continue
            for index, item in enumerate(value if field.is_repeated else [value]):
                check_enums(nested_cls, item, "%s[%d]" % (location, index) if field.is_repeated else location)
            continue
        enum_cls = getattr(message_cls, "".join(part.title() for part in field.name.split("_")), None)
        if not (isinstance(enum_cls, type) and issubclass(enum_cls, proto.Enum)):
            continue
        allowed = [member for member in enum_cls.__members__ if not member.startswith("UNDEFINED_")]
        for item in value if field.is_repeated else [value]:
            if item not in allowed:
                raise errors.invalid_value(location, item, "Must be one of [%s]." % ", ".join(sorted(allowed)))


def only_fields(document: dict, supported: set, output_only: set, path: str = "resource") -> dict:
    """Drop output-only fields (Compute ignores them on input); refuse fields the stand-in does not model."""
    kept = {}
    for key, value in document.items():
        if key in output_only:
            continue
        if key not in supported:
            raise errors.unsupported("%s.%s" % (path, key))
        kept[key] = value
    return kept


def check_name(name: object, field: str = "resource.name") -> str:
    if not name:
        raise errors.required(field)
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise errors.invalid_value(field, name, "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'")
    return name


def check_labels(labels: dict, field: str = "resource.labels") -> dict:
    if len(labels) > 64:
        raise errors.invalid_value(field, len(labels), "A resource can have at most 64 labels.")
    for key, value in labels.items():
        if not LABEL_KEY_PATTERN.match(key):
            raise errors.invalid_value("%s.key" % field, key, "Label keys must start with a lowercase letter and contain "
                                       "only lowercase letters, digits, '_' and '-' (at most 63 characters).")
        if not LABEL_VALUE_PATTERN.match(value):
            raise errors.invalid_value("%s.value" % field, value, "Label values may contain only lowercase letters, "
                                       "digits, '_' and '-' (at most 63 characters).")
    return dict(labels)


def label_fingerprint(labels: dict) -> str:
    digest = hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def check_cipher_suite(suite: dict, field: str = "resource.cipherSuite") -> dict:
    for phase, roles in suite.items():
        for role, names in roles.items():
            allowed = CIPHER_SUITE[phase][role]
            for name in names:
                if name not in allowed:
                    raise errors.invalid_value("%s.%s.%s" % (field, phase, role), name,
                                               "Supported values: %s." % ", ".join(sorted(allowed)))
            if len(set(names)) != len(names):
                raise errors.invalid_value("%s.%s.%s" % (field, phase, role), ",".join(names), "Duplicate values.")
    return suite


def link(project: str, collection: str, name: str, region: str | None = None) -> str:
    return SELF_LINK_BASE + relative(project, collection, name, region)


def relative(project: str, collection: str, name: str, region: str | None = None) -> str:
    scope = "regions/%s" % region if region else "global"
    return "projects/%s/%s/%s/%s" % (project, scope, collection, name)


def region_link(project: str, region: str) -> str:
    return SELF_LINK_BASE + "projects/%s/regions/%s" % (project, region)


_REFERENCE = re.compile(r"^(?:projects/(?P<project>[^/]+)/)?(?:regions/(?P<region>[^/]+)|(?P<global>global))/"
                        r"(?P<collection>[A-Za-z]+)/(?P<name>[^/]+)$")


def parse_reference(value: object, field: str, project: str, collection: str) -> tuple:
    """A reference to another resource -> (project, region or None, name).

    Accepted like Compute accepts them: full URL (https://www.googleapis.com/compute/v1/...,
    https://compute.googleapis.com/compute/v1/..., or this stand-in's own URL), or a partial
    URL ``projects/p/regions/r/vpnGateways/g``, ``regions/r/vpnGateways/g``, ``global/networks/n``.
    A bare name is refused (the URL is malformed).
    """
    if not isinstance(value, str) or not value:
        raise errors.required(field)
    path = value
    if "://" in value:
        parsed = urlparse(value)
        marker = "/compute/v1/"
        if marker not in parsed.path:
            raise errors.invalid_value(field, value, "The URL is malformed.")
        path = parsed.path.split(marker, 1)[1]
    match = _REFERENCE.match(path)
    if not match or match.group("collection") != collection:
        raise errors.invalid_value(field, value, "The URL is malformed.")
    ref_project = match.group("project") or project
    if ref_project != project:
        raise errors.invalid_value(field, value, "Cross-project references are not supported by the lab stand-in.")
    return ref_project, match.group("region"), match.group("name")

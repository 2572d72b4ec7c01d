# Azure Network stand-in: request bodies checked against azure-mgmt-network's own models.
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""Validate a JSON request body the way the Network resource provider parses it.

azure-mgmt-network 33.x generates its models from TypeSpec (``_utils/model_base.py``): each model
class maps attribute names to ``rest_field`` descriptors carrying the wire name, the visibility
(``["read"]`` = read-only) and, through the class annotations, the type. :func:`parse_body` walks a
body with those descriptors, as Newtonsoft.Json does in the service (member names matched without
regard to case, answered in their canonical spelling), and reports what ARM reports as
``400 InvalidRequestFormat "Cannot parse the request."`` with one ``InvalidJson`` detail per problem:

- an unknown (e.g. misspelled) member: ``Could not find member 'x' on object of type 'Y'. Path 'p'.``
- a value of the wrong JSON type, or a string that is not one of the enum's values:
  ``Error converting value ... to type 'T'. Path 'p'.`` (stricter than ARM: no string -> number
  coercion, so a number sent as a string fails here although Newtonsoft would coerce it);
- a required member missing from a non-resource object (e.g. IpsecPolicy.dhGroup):
  ``Required property 'x' not found in JSON. Path 'p'.`` Objects that carry an ``id`` are resource
  references, for which ARM needs only the id, so their required members are not enforced.

Read-only members are type-checked and then dropped, as ARM ignores them on input.
"""
from __future__ import annotations

import datetime
import enum
import functools
import json
import typing

from azure.mgmt.network import models as network_models
from azure.mgmt.network.models import _models as generated_models
from azure.mgmt.network._utils.model_base import Model as SdkModel

_NONE_TYPE = type(None)
_ANNOTATION_NAMESPACE = dict(vars(generated_models))
_ANNOTATION_NAMESPACE["_models"] = network_models


class BodyError(Exception):
    """One or more InvalidJson problems found in a request body."""

    def __init__(self, problems: list) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class _Field(typing.NamedTuple):
    rest_name: str
    annotation: typing.Any
    read_only: bool
    required: bool


@functools.lru_cache(maxsize=None)
def model_fields(model_class: type) -> dict:
    """Lower-cased wire name -> _Field for one SDK model class."""
    SdkModel.__new__(model_class)  # computes model_class._attr_to_rest_field
    hints = typing.get_type_hints(model_class, globalns=_ANNOTATION_NAMESPACE)
    fields = {}
    for attribute, rest_field in model_class._attr_to_rest_field.items():  # pylint: disable=protected-access
        annotation = hints.get(attribute, typing.Any)
        optional = typing.get_origin(annotation) is typing.Union and _NONE_TYPE in typing.get_args(annotation)
        read_only = rest_field._visibility == ["read"]  # pylint: disable=protected-access
        rest_name = rest_field._rest_name  # pylint: disable=protected-access
        fields[rest_name.lower()] = _Field(rest_name, annotation, read_only, not optional and not read_only)
    return fields


def parse_body(raw: bytes, model_class: type) -> dict:
    """JSON bytes -> canonical wire dict for ``model_class``; raises BodyError."""
    try:
        document = json.loads(raw.decode("utf-8") if raw else "")
    except (ValueError, UnicodeDecodeError) as error:
        raise BodyError(["Unexpected character encountered while parsing value: %s. Path '', line 1." % error]) from None
    problems: list = []
    value = _check_model(model_class, document, "", problems, top_level=True)
    if problems:
        raise BodyError(problems)
    return value


def _join(path: str, member: str) -> str:
    return "%s.%s" % (path, member) if path else member


def _type_name(annotation: typing.Any) -> str:
    if isinstance(annotation, type):
        if annotation in (str, int, float, bool):
            return {"str": "System.String", "int": "System.Int64", "float": "System.Double",
                    "bool": "System.Boolean"}[annotation.__name__]
        return annotation.__name__
    return str(annotation)


def _convert_error(value: typing.Any, annotation: typing.Any, path: str) -> str:
    shown = value if isinstance(value, str) else json.dumps(value)[:60]
    return "Error converting value \"%s\" to type '%s'. Path '%s'." % (shown, _type_name(annotation), path)


def _check_model(model_class: type, value: typing.Any, path: str, problems: list, top_level: bool = False) -> typing.Any:
    if not isinstance(value, dict):
        problems.append(_convert_error(value, model_class, path))
        return None
    fields = model_fields(model_class)
    result = {}
    for member, member_value in value.items():
        field = fields.get(member.lower())
        member_path = _join(path, member)
        if field is None:
            problems.append("Could not find member '%s' on object of type '%s'. Path '%s'." % (member, model_class.__name__, member_path))
            continue
        if member_value is None:
            continue
        checked = _check(field.annotation, member_value, member_path, problems)
        if not field.read_only:
            result[field.rest_name] = checked
    is_reference = "id" in fields and not top_level
    if not is_reference:
        for field in fields.values():
            if field.required and field.rest_name not in result:
                problems.append("Required property '%s' not found in JSON. Path '%s'." % (field.rest_name, path))
    return result


def _enum_value(enum_class: type, value: typing.Any, path: str, problems: list) -> typing.Any:
    if isinstance(value, str):
        for member in enum_class:
            if member.value.lower() == value.lower():
                return member.value
    problems.append(_convert_error(value, enum_class, path))
    return value


def _check(annotation: typing.Any, value: typing.Any, path: str, problems: list) -> typing.Any:  # pylint: disable=too-many-return-statements
    origin = typing.get_origin(annotation)
    if annotation is typing.Any:
        return value
    if origin is typing.Union:
        members = [member for member in typing.get_args(annotation) if member is not _NONE_TYPE]
        enums = [member for member in members if isinstance(member, type) and issubclass(member, enum.Enum)]
        if enums:
            return _enum_value(enums[0], value, path, problems)
        if len(members) == 1:
            return _check(members[0], value, path, problems)
        for member in members:
            attempt: list = []
            checked = _check(member, value, path, attempt)
            if not attempt:
                return checked
        problems.append(_convert_error(value, annotation, path))
        return value
    if origin is typing.Literal:
        if value not in typing.get_args(annotation):
            problems.append(_convert_error(value, annotation, path))
        return value
    if origin is list:
        (item_type,) = typing.get_args(annotation) or (typing.Any,)
        if not isinstance(value, list):
            problems.append(_convert_error(value, annotation, path))
            return value
        return [_check(item_type, item, "%s[%d]" % (path, index), problems) for index, item in enumerate(value)]
    if origin is dict:
        value_type = (typing.get_args(annotation) or (str, typing.Any))[1]
        if not isinstance(value, dict):
            problems.append(_convert_error(value, annotation, path))
            return value
        return {key: _check(value_type, item, _join(path, key), problems) for key, item in value.items()}
    if isinstance(annotation, type):
        return _check_class(annotation, value, path, problems)
    return value


def _check_class(annotation: type, value: typing.Any, path: str, problems: list) -> typing.Any:
    if issubclass(annotation, SdkModel):
        return _check_model(annotation, value, path, problems)
    if issubclass(annotation, enum.Enum):
        return _enum_value(annotation, value, path, problems)
    if annotation is bool:
        ok = isinstance(value, bool)
    elif annotation is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif annotation is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif annotation in (str, datetime.datetime, datetime.date, datetime.timedelta, bytes):
        ok = isinstance(value, str)
    else:
        ok = True
    if not ok:
        problems.append(_convert_error(value, annotation, path))
    return value

# EC2 stand-in: what travels on the wire (errors, request classification, request validation).
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""AWS's EC2 error format, the request classifier, the fault renderer, and a validator that checks
every query request against botocore's own EC2 service model (moto does not: it ignores unknown
parameters)."""
from __future__ import annotations

import uuid
from typing import Mapping
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import botocore.session

READ_PREFIXES = ("Describe", "Get", "List")

# Query parameters that belong to the protocol or to request signing, not to the operation.
PROTOCOL_PARAMETERS = frozenset((
    "Action", "Version", "AWSAccessKeyId", "Signature", "SignatureMethod", "SignatureVersion", "Timestamp",
    "Expires", "SecurityToken", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
    "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token",
))


class AwsApiError(Exception):
    """An error answered in EC2's XML error format."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__("%s: %s" % (code, message))
        self.code = code
        self.message = message
        self.status = status

    def render(self) -> tuple[int, dict, str]:
        return self.status, {"Content-Type": "text/xml;charset=UTF-8"}, error_document(self.code, self.message)


def error_document(code: str, message: str) -> str:
    """EC2's error body: <Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>."""
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>%s</Code><Message>%s</Message>'
            '</Error></Errors><RequestID>%s</RequestID></Response>' % (escape(code), escape(message), uuid.uuid4()))


def request_parameters(environ: Mapping) -> dict[str, str]:
    """Query string and form body of a request (the middleware keeps the body in environ["mcvpn.body"])."""
    parameters: dict[str, str] = {}
    for source in (environ.get("QUERY_STRING", ""), (environ.get("mcvpn.body") or b"").decode("utf-8", "replace")):
        for key, values in parse_qs(source, keep_blank_values=True).items():
            parameters.setdefault(key, values[0])
    return parameters


def is_write_action(action: str) -> bool:
    return not action.startswith(READ_PREFIXES)


def classify(environ: Mapping) -> tuple[str, bool]:
    """Request -> (EC2 action name, is_write). Writes are everything but Describe*/Get*/List*."""
    action = request_parameters(environ).get("Action") or "MissingAction"
    return action, is_write_action(action)


def render_fault(kind: str, environ: Mapping) -> tuple[str, list, bytes]:
    """An injected fault as EC2 answers it; botocore's own retry handler retries all three.

    server_error  -> 500 InternalError
    throttle      -> 503 RequestLimitExceeded (EC2's throttling code)
    lost_response -> 504 with an empty body, as a load balancer answers when the backend timed out
                     (the write behind it has happened)
    """
    if kind == "throttle":
        body = error_document("RequestLimitExceeded", "Request limit exceeded.").encode()
        return "503 Service Unavailable", [("Content-Type", "text/xml;charset=UTF-8"), ("Content-Length", str(len(body)))], body
    if kind == "lost_response":
        return "504 Gateway Timeout", [("Content-Length", "0")], b""
    body = error_document("InternalError", "An internal error has occurred").encode()
    return "500 Internal Server Error", [("Content-Type", "text/xml;charset=UTF-8"), ("Content-Length", str(len(body)))], body


class QueryRequestValidator:
    """Checks an EC2 query request against botocore's EC2 model, the way EC2 itself refuses it.

    - an action botocore does not know          -> InvalidAction
    - a parameter the operation does not have    -> UnknownParameter
    - a required parameter missing               -> MissingParameter
    - a value of the wrong type or not in an enum -> InvalidParameterValue
    """

    def __init__(self) -> None:
        self.service_model = botocore.session.get_session().get_service_model("ec2")
        self._operation_names = set(self.service_model.operation_names)

    def validate(self, parameters: Mapping[str, str]) -> str:
        action = parameters.get("Action")
        if not action:
            raise AwsApiError("MissingAction", "The request must contain the parameter Action")
        if action not in self._operation_names:
            raise AwsApiError("InvalidAction", "The action %s is not valid for this web service." % action)
        input_shape = self.service_model.operation_model(action).input_shape
        present: set[str] = set()
        for key, value in parameters.items():
            if key in PROTOCOL_PARAMETERS:
                continue
            if input_shape is None:
                raise AwsApiError("UnknownParameter", "The parameter %s is not recognized" % key)
            self._check_key(input_shape, key, value)
            present.add(key)
        if input_shape is not None:
            self._check_required(input_shape, "", present)
        return action

    @staticmethod
    def serialized_name(member_name: str, member_shape) -> str:
        """The name botocore's EC2 serializer puts on the wire for a structure member."""
        if "queryName" in member_shape.serialization:
            return member_shape.serialization["queryName"]
        if "name" in member_shape.serialization:
            name = member_shape.serialization["name"]
            return name[0].upper() + name[1:]
        return member_name

    def _members_by_wire_name(self, shape) -> dict:
        return {self.serialized_name(name, member): member for name, member in shape.members.items()}

    def _check_key(self, shape, key: str, value: str) -> None:
        parts = key.split(".")
        index = 0
        while index < len(parts):
            part = parts[index]
            if shape.type_name == "structure":
                member = self._members_by_wire_name(shape).get(part)
                if member is None:
                    raise AwsApiError("UnknownParameter", "The parameter %s is not recognized" % ".".join(parts[:index + 1]))
                shape = member
            elif shape.type_name == "list":
                if not part.isdigit() or int(part) < 1:
                    raise AwsApiError("UnknownParameter", "The parameter %s is not recognized" % ".".join(parts[:index + 1]))
                shape = shape.member
            else:
                raise AwsApiError("UnknownParameter", "The parameter %s is not recognized" % ".".join(parts[:index + 1]))
            index += 1
        if shape.type_name == "list" and value == "":
            return  # botocore's query serializer sends an empty list as "Name="
        self._check_scalar(shape, key, value)

    @staticmethod
    def _check_scalar(shape, key: str, value: str) -> None:
        kind = shape.type_name
        invalid = AwsApiError("InvalidParameterValue", "Value (%s) for parameter %s is invalid." % (value, key))
        if kind in ("structure", "list", "map"):
            raise AwsApiError("InvalidParameterValue", "Value (%s) for parameter %s is invalid. %s expected a %s."
                              % (value, key, key, kind))
        if kind in ("integer", "long"):
            try:
                int(value)
            except ValueError:
                raise invalid from None
        elif kind in ("float", "double"):
            try:
                float(value)
            except ValueError:
                raise invalid from None
        elif kind == "boolean":
            if value not in ("true", "false"):
                raise invalid
        elif kind == "string" and getattr(shape, "enum", None) and value not in shape.enum:
            raise invalid

    def _check_required(self, shape, prefix: str, present: set[str]) -> None:
        for name, member in shape.members.items():
            wire = self.serialized_name(name, member)
            path = prefix + wire
            given = any(key == path or key.startswith(path + ".") for key in present)
            if name in shape.required_members and not given:
                raise AwsApiError("MissingParameter", "The request must contain the parameter %s" % path)
            if not given:
                continue
            if member.type_name == "structure":
                self._check_required(member, path + ".", present)
            elif member.type_name == "list" and member.member.type_name == "structure":
                indexes = {key[len(path) + 1:].split(".")[0] for key in present if key.startswith(path + ".")}
                for list_index in sorted(indexes):
                    self._check_required(member.member, "%s.%s." % (path, list_index), present)

"""A minimal client for strongSwan's VICI protocol (lab test code, not shipped).

Only what the lab needs: a command request, optionally streamed through named events
(list-sas streams ``list-sa`` events). Every socket operation has a timeout, so a stuck
charon can never hang a test. Values come back as ``str`` (VICI encodes everything as
strings), sections as ``dict`` and lists as ``list``.
"""
from __future__ import annotations

import socket
import struct

CMD_REQUEST = 0
CMD_RESPONSE = 1
CMD_UNKNOWN = 2
EVENT_REGISTER = 3
EVENT_UNREGISTER = 4
EVENT_CONFIRM = 5
EVENT_UNKNOWN = 6
EVENT = 7

SECTION_START = 1
SECTION_END = 2
KEY_VALUE = 3
LIST_START = 4
LIST_ITEM = 5
LIST_END = 6


class ViciError(Exception):
    """The VICI socket failed, timed out, or charon refused the request."""


def encode_message(message: dict) -> bytes:
    """Encode a dict (values: str/int/bytes, list of those, or nested dict) as a VICI message."""
    out = bytearray()
    for key, value in message.items():
        name = key.encode()
        if isinstance(value, dict):
            out += bytes([SECTION_START, len(name)]) + name + encode_message(value) + bytes([SECTION_END])
        elif isinstance(value, (list, tuple)):
            out += bytes([LIST_START, len(name)]) + name
            for item in value:
                blob = _blob(item)
                out += bytes([LIST_ITEM]) + struct.pack("!H", len(blob)) + blob
            out += bytes([LIST_END])
        else:
            blob = _blob(value)
            out += bytes([KEY_VALUE, len(name)]) + name + struct.pack("!H", len(blob)) + blob
    return bytes(out)


def _blob(value) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bool):
        return b"yes" if value else b"no"
    return str(value).encode()


def decode_message(data: bytes) -> dict:
    """Decode a VICI message into nested dicts/lists of str."""
    root: dict = {}
    stack = [root]
    current_list = None
    pos = 0
    while pos < len(data):
        kind = data[pos]
        pos += 1
        if kind in (SECTION_START, KEY_VALUE, LIST_START):
            length = data[pos]
            name = data[pos + 1:pos + 1 + length].decode(errors="replace")
            pos += 1 + length
            if kind == SECTION_START:
                section: dict = {}
                stack[-1][name] = section
                stack.append(section)
            elif kind == LIST_START:
                current_list = []
                stack[-1][name] = current_list
            else:
                (vlen,) = struct.unpack("!H", data[pos:pos + 2])
                stack[-1][name] = data[pos + 2:pos + 2 + vlen].decode(errors="replace")
                pos += 2 + vlen
        elif kind == SECTION_END:
            stack.pop()
        elif kind == LIST_ITEM:
            (vlen,) = struct.unpack("!H", data[pos:pos + 2])
            if current_list is None:
                raise ViciError("list item outside a list")
            current_list.append(data[pos + 2:pos + 2 + vlen].decode(errors="replace"))
            pos += 2 + vlen
        elif kind == LIST_END:
            current_list = None
        else:
            raise ViciError("unknown VICI element type %d" % kind)
    return root


class ViciSession:
    """One connection to a charon VICI socket (a unix socket path)."""

    def __init__(self, socket_path: str, timeout: float = 10.0):
        self.socket_path = socket_path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(socket_path)
        except OSError as exc:
            self.sock.close()
            raise ViciError("cannot connect to %s: %s" % (socket_path, exc)) from exc

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _send(self, kind: int, name: str | None = None, message: dict | None = None) -> None:
        payload = bytes([kind])
        if name is not None:
            payload += bytes([len(name)]) + name.encode()
        if message:
            payload += encode_message(message)
        self.sock.sendall(struct.pack("!I", len(payload)) + payload)

    def _recv_exact(self, size: int) -> bytes:
        chunks = bytearray()
        while len(chunks) < size:
            try:
                chunk = self.sock.recv(size - len(chunks))
            except socket.timeout as exc:
                raise ViciError("timeout reading from %s" % self.socket_path) from exc
            if not chunk:
                raise ViciError("%s closed the connection" % self.socket_path)
            chunks += chunk
        return bytes(chunks)

    def _recv(self) -> tuple[int, str | None, bytes]:
        (length,) = struct.unpack("!I", self._recv_exact(4))
        payload = self._recv_exact(length)
        kind = payload[0]
        if kind == EVENT:
            name_len = payload[1]
            return kind, payload[2:2 + name_len].decode(), payload[2 + name_len:]
        return kind, None, payload[1:]

    def request(self, command: str, message: dict | None = None) -> dict:
        """Send one command and return its response message."""
        self._send(CMD_REQUEST, command, message)
        while True:
            kind, _name, body = self._recv()
            if kind == CMD_RESPONSE:
                return decode_message(body)
            if kind == CMD_UNKNOWN:
                raise ViciError("charon does not know the command %r" % command)
            # events of earlier registrations are skipped

    def streamed_request(self, command: str, event: str, message: dict | None = None) -> tuple[list[dict], dict]:
        """Send a command that streams ``event`` messages; return (events, response)."""
        self._send(EVENT_REGISTER, event)
        kind, _name, _body = self._recv()
        if kind != EVENT_CONFIRM:
            raise ViciError("charon refused the event registration %r" % event)
        self._send(CMD_REQUEST, command, message)
        events = []
        while True:
            kind, name, body = self._recv()
            if kind == EVENT and name == event:
                events.append(decode_message(body))
            elif kind == CMD_RESPONSE:
                response = decode_message(body)
                break
            elif kind == CMD_UNKNOWN:
                raise ViciError("charon does not know the command %r" % command)
        self._send(EVENT_UNREGISTER, event)
        self._recv()
        return events, response


def vici_call(socket_path: str, command: str, message: dict | None = None, timeout: float = 10.0) -> dict:
    """One-shot command over a fresh connection."""
    with ViciSession(socket_path, timeout) as session:
        return session.request(command, message)


def list_sas(socket_path: str, ike: str | None = None, timeout: float = 5.0) -> dict:
    """Return {ike_sa_name: [ike_sa dict, ...]} (a name may have several SAs, e.g. during rekeying)."""
    message = {"noblock": "yes"}
    if ike:
        message["ike"] = ike
    with ViciSession(socket_path, timeout) as session:
        events, _response = session.streamed_request("list-sas", "list-sa", message)
    result: dict = {}
    for event in events:
        for name, sa in event.items():
            result.setdefault(name, []).append(sa)
    return result

"""VyOS ``set`` command lines -> words (lab test code, pure).

Quoting as VyOS prints it (``show configuration commands``): words are separated by blanks, a
single-quoted part may hold blanks and ends at the next single quote (no escapes inside), parts
written next to each other form one word (``'a'b`` is ``ab``). Double quotes and backslashes
are refused rather than guessed at. Blank lines and ``#`` comment lines are not commands.
"""
from __future__ import annotations

import dataclasses
import re

MASK = "********"
_SECRET_VALUE = re.compile(r"(\b(?:secret|pre-shared-secret)\s+)\S.*$")


class VyosInterpError(ValueError):
    """A command the interpreter does not understand, or a configuration it cannot turn into tunnels.

    ``line_number`` (1-based) and ``line`` (secrets masked) name the command at fault when there is one.
    """

    def __init__(self, message: str, *, command: Command | None = None):
        self.detail = message
        self.line_number = command.number if command is not None else None
        self.line = command.display if command is not None else None
        if command is None:
            super().__init__(message)
        else:
            super().__init__("line %d: %s\n    %s" % (command.number, message, command.display))


@dataclasses.dataclass(frozen=True)
class Command:
    number: int
    text: str
    words: tuple

    @property
    def display(self) -> str:
        """The line as written, with any pre-shared key replaced by MASK (error messages never carry secrets)."""
        return mask_line(self.text)


def mask_line(text: str) -> str:
    return _SECRET_VALUE.sub(lambda match: match.group(1) + "'%s'" % MASK, text)


def split_words(text: str, number: int) -> tuple:
    """The words of one line, VyOS quoting (see the module docstring)."""
    words = []
    position, length = 0, len(text)
    while position < length:
        if text[position] in " \t":
            position += 1
            continue
        parts = []
        while position < length and text[position] not in " \t":
            char = text[position]
            if char == "'":
                end = text.find("'", position + 1)
                if end < 0:
                    raise VyosInterpError("unterminated single quote", command=Command(number, text, ()))
                parts.append(text[position + 1:end])
                position = end + 1
            elif char in "\"\\":
                raise VyosInterpError("%r: only single quotes are understood (VyOS prints values in single quotes)" % char,
                                      command=Command(number, text, ()))
            elif ord(char) < 32 or ord(char) == 127:
                raise VyosInterpError("control character %r in a command" % char, command=Command(number, text, ()))
            else:
                parts.append(char)
                position += 1
        words.append("".join(parts))
    return tuple(words)


def parse_commands(source) -> list:
    """``source``: the text of a commands file, or a list of command strings (e.g. the module's ``commands``).

    Returns the ``set`` commands as :class:`Command` (line numbers are 1-based positions in the
    text or the list). Any other command (``delete``, ``commit``, ``save``, a typo) is an error.
    """
    if isinstance(source, str):
        lines = source.splitlines()
    else:
        lines = list(source)
        for index, line in enumerate(lines, start=1):
            if not isinstance(line, str):
                raise VyosInterpError("command %d is a %s, not a string" % (index, type(line).__name__))
            if "\n" in line or "\r" in line:
                raise VyosInterpError("a line break inside one command", command=Command(index, line.splitlines()[0] if line.strip() else line, ()))
    commands = []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        words = split_words(stripped, number)
        command = Command(number, stripped, words)
        if words[0] != "set":
            raise VyosInterpError("only 'set' commands are understood (got %r)" % words[0], command=command)
        if len(words) == 1:
            raise VyosInterpError("'set' needs a configuration path", command=command)
        commands.append(command)
    return commands

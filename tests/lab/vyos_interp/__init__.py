"""A VyOS command interpreter for the lab (test code, not shipped).

The commands the collection renders (plugins/module_utils/_vyos.py) are read as VyOS would read
them and turned into the lab data plane's neutral description, so that in the lab the generated
commands themselves bring the tunnels up. See README.md in this directory.

Public API: vyos_site(commands, *, site_id, public_ip=None), interpret(commands),
parse_commands(source), build_tree(commands), VyosInterpError.
"""
from __future__ import annotations

from .commands import Command, VyosInterpError, parse_commands
from .grammar import CURRENT, LEGACY, build_tree
from .translate import interpret, vyos_site

__all__ = ["CURRENT", "LEGACY", "Command", "VyosInterpError", "build_tree", "interpret", "parse_commands", "vyos_site"]

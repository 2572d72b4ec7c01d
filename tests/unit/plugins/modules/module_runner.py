"""Run one of our modules' main() in-process, as Ansible would, and return its JSON result."""
from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args


def run_module(capsys, module, args: dict, check_mode: bool = False, diff: bool = False) -> tuple:
    """-> (result dict, raw stdout) of module.main() with these arguments."""
    args = dict(args)
    if check_mode:
        args['_ansible_check_mode'] = True
    if diff:
        args['_ansible_diff'] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    output = capsys.readouterr().out
    return json.loads(output), output

from __future__ import annotations

import shlex
from unittest import mock

import pytest
from ansible.errors import AnsibleConnectionFailure
from ansible.playbook.play_context import PlayContext
from ansible.plugins.connection.local import Connection as LocalConnection

from ansible_collections.multicloud.vpn.plugins.connection.netns import Connection


def make_connection(remote_addr, options):
    play_context = PlayContext()
    play_context.remote_addr = remote_addr
    conn = Connection(play_context, None)
    defaults = {"netns_name": None, "ip_command": "/usr/sbin/ip"}
    defaults.update(options)
    conn.get_option = lambda name, hostvars=None: defaults[name]
    return conn


@pytest.fixture
def connection():
    return make_connection("fallback-ns", {"netns_name": "mcvpn-aws-probe"})


def test_commands_run_inside_the_named_namespace(connection):
    with mock.patch.object(LocalConnection, "exec_command", return_value=(0, b"", b"")) as local_exec:
        connection.exec_command("ping -c 1 '10.1.0.10'")
    wrapped = local_exec.call_args.args[0]
    parts = shlex.split(wrapped)
    assert parts[:4] == ["/usr/sbin/ip", "netns", "exec", "mcvpn-aws-probe"]
    assert parts[-2] == "-c"
    assert parts[-1] == "ping -c 1 '10.1.0.10'"


def test_namespace_defaults_to_the_host_address():
    conn = make_connection("mcvpn-gcp-probe", {})
    with mock.patch.object(LocalConnection, "exec_command", return_value=(0, b"", b"")) as local_exec:
        conn.exec_command("true")
    assert shlex.split(local_exec.call_args.args[0])[3] == "mcvpn-gcp-probe"


def test_a_missing_namespace_is_a_connection_failure(connection):
    with mock.patch("os.path.exists", return_value=False):
        with pytest.raises(AnsibleConnectionFailure, match="does not exist"):
            connection._connect()

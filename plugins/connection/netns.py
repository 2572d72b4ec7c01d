# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: netns
short_description: Run tasks inside a Linux network namespace on the controller
description:
  - Runs commands on the controller inside a named network namespace with C(ip netns exec).
    The file system is the controller's own; only the network is the namespace's.
  - The lab of multicloud.vpn puts its probe hosts (one per cloud VPC) in network namespaces.
    With this plugin the playbooks' ping tasks run unchanged against the lab and against real
    probe instances reached over SSH, so switching between them is an inventory change only.
  - Needs the privileges of C(ip netns exec) (root, or C(CAP_SYS_ADMIN)).
author:
  - multicloud.vpn contributors (@multicloud-vpn)
version_added: 0.1.0
options:
  netns_name:
    description:
      - Name of the network namespace (as listed by C(ip netns list)).
      - Defaults to the host's address (C(ansible_host), else the inventory name).
    type: str
    vars:
      - name: ansible_netns_name
  ip_command:
    description: Path of the C(ip) command of iproute2.
    type: str
    default: /usr/sbin/ip
    vars:
      - name: ansible_netns_ip_command
extends_documentation_fragment:
  - connection_pipelining
notes:
  - The remote user is ignored, as with the C(local) connection.
"""

EXAMPLES = r"""
# inventories/lab/hosts.yml
# probes:
#   hosts:
#     aws_probe:
#       ansible_connection: multicloud.vpn.netns
#       ansible_netns_name: mcvpn-aws-probe
#       ansible_python_interpreter: "{{ ansible_playbook_python }}"
"""

import os
import shlex

import ansible.constants as C
from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.connection.local import Connection as LocalConnection


class Connection(LocalConnection):
    """Local execution wrapped in `ip netns exec <name>`."""

    transport = "multicloud.vpn.netns"
    has_pipelining = True

    def _netns_name(self) -> str:
        name = self.get_option("netns_name") or self._play_context.remote_addr
        if not name:
            raise AnsibleConnectionFailure("netns: no namespace name (set ansible_netns_name)")
        return name

    def _connect(self) -> Connection:
        name = self._netns_name()
        if not os.path.exists(os.path.join("/run/netns", name)):
            raise AnsibleConnectionFailure("netns: network namespace %r does not exist" % name)
        return super()._connect()

    def exec_command(self, cmd, in_data=None, sudoable=True):
        shell = C.DEFAULT_EXECUTABLE.split()[0] if C.DEFAULT_EXECUTABLE else "/bin/sh"
        if not isinstance(cmd, (str, bytes)):
            cmd = " ".join(shlex.quote(str(part)) for part in cmd)
        if isinstance(cmd, bytes):
            cmd = cmd.decode("utf-8", "surrogateescape")
        wrapped = "%s netns exec %s %s -c %s" % (shlex.quote(self.get_option("ip_command")), shlex.quote(self._netns_name()),
                                                 shlex.quote(shell), shlex.quote(cmd))
        return super().exec_command(wrapped, in_data=in_data, sudoable=sudoable)

"""What the lab's playbook tests and benchmarks share: a running lab, ansible-playbook against it,
and the stand-ins' request logs and state.

    with LabSession("mcvpt", ports=(18480, 18481, 18482), data_plane=True) as lab:
        run = lab.playbook("playbooks/aws_gcp_ha.yml", extra_vars={"mcvpn_tunnels": 2})
        run.recap["localhost"]["changed"], lab.requests()["gcp"]["writes"]
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

LAB_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(LAB_DIR))
sys.path.insert(0, LAB_DIR)

import labctl  # noqa: E402  pylint: disable=wrong-import-position

CLOUDS = ("ec2", "gcp", "azure")
RECAP = re.compile(r"^(?P<host>\S+)\s+: ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+"
                   r"failed=(?P<failed>\d+)\s+skipped=(?P<skipped>\d+)\s+rescued=(?P<rescued>\d+)\s+ignored=(?P<ignored>\d+)")


def is_root() -> bool:
    return os.geteuid() == 0


def data_plane_missing() -> str | None:
    """Why the data plane cannot run here, or None."""
    if not is_root():
        return "the lab's data plane needs root (network namespaces)"
    for tool in ("/usr/sbin/ip", "swanctl", "/usr/lib/frr/bgpd"):
        if not (os.path.exists(tool) or shutil.which(tool)):
            return "%s is not installed (bindep.txt, profile lab)" % tool
    return None


@dataclass
class PlaybookRun:
    returncode: int
    output: str
    seconds: float

    @property
    def recap(self) -> dict:
        hosts = {}
        for line in self.output.splitlines():
            match = RECAP.match(line)
            if match:
                hosts[match.group("host")] = {key: int(value) for key, value in match.groupdict().items() if key != "host"}
        return hosts

    def changed(self) -> int:
        return sum(host["changed"] for host in self.recap.values())

    def lines_after(self, task_title: str, count: int = 12) -> list:
        lines = self.output.splitlines()
        for index, line in enumerate(lines):
            if task_title in line and line.startswith("TASK"):
                return lines[index + 1:index + 1 + count]
        return []


class LabSession:
    """A lab (stand-ins, and with data_plane the reconciler and fabric) for one test module."""

    def __init__(self, name: str, ports: tuple, *, data_plane: bool, config: dict | None = None) -> None:
        self.name = name
        self.ports = dict(zip(CLOUDS, ports))
        self.data_plane = data_plane
        self.state_dir = tempfile.mkdtemp(prefix="%s-" % name)
        self.config_path = None
        if config:
            self.config_path = os.path.join(self.state_dir, "config.json")
            with open(self.config_path, "w", encoding="utf-8") as handle:
                json.dump(config, handle)
        collections = os.path.join(self.state_dir, "collections", "ansible_collections", "multicloud")
        os.makedirs(collections)
        os.symlink(REPO, os.path.join(collections, "vpn"))
        self.environment: dict = {}

    def __enter__(self) -> LabSession:
        if self.data_plane:
            # The fabric name stays "lab": the inventory names the probe namespaces lab-p-<probe>.
            labctl.up(self.state_dir, self.ports, self.config_path, list(CLOUDS))
        else:
            labctl.start(self.state_dir, self.ports, self.config_path, list(CLOUDS))
        self.environment = labctl.load_env(self.state_dir)["environment"]
        return self

    def __exit__(self, *exc_info) -> None:
        if self.data_plane:
            labctl.down(self.state_dir, list(CLOUDS))
        else:
            labctl.stop(self.state_dir, list(CLOUDS))
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def url(self, cloud: str) -> str:
        return labctl.url_of(self.ports[cloud])

    def env(self) -> dict:
        env = dict(os.environ)
        env.update(self.environment)
        env["ANSIBLE_COLLECTIONS_PATH"] = os.path.join(self.state_dir, "collections")
        env["ANSIBLE_NOCOLOR"] = "1"
        env["ANSIBLE_FORCE_COLOR"] = "0"
        env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
        return env

    def playbook(self, playbook: str, *, inventory: str = "inventories/lab", extra_vars: dict | None = None,
                 check: bool = False, verbosity: int = 0, timeout: int = 900) -> PlaybookRun:
        command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory, playbook]
        if extra_vars:
            command += ["-e", json.dumps(extra_vars)]
        if check:
            command += ["--check", "--diff"]
        if verbosity:
            command.append("-" + "v" * verbosity)
        started = time.monotonic()
        completed = subprocess.run(command, cwd=REPO, env=self.env(), capture_output=True, text=True, timeout=timeout,
                                   stdin=subprocess.DEVNULL, check=False)
        return PlaybookRun(completed.returncode, completed.stdout + completed.stderr, time.monotonic() - started)

    # -- the stand-ins ----------------------------------------------------------------------
    def clear_requests(self) -> None:
        for cloud in CLOUDS:
            labctl.lab_request(self.url(cloud), "requests/clear", {})

    def requests(self) -> dict:
        """Per cloud: {'requests', 'reads', 'writes', 'by_operation'} since the last clear."""
        return {cloud: labctl.lab_request(self.url(cloud), "requests")["summary"] for cloud in CLOUDS}

    def state(self, cloud: str) -> dict:
        return labctl.lab_request(self.url(cloud), "state", timeout=10)

    def fabric_status(self) -> str:
        completed = subprocess.run([sys.executable, "-m", "labctl", "status", "--state-dir", self.state_dir], cwd=LAB_DIR,
                                   env=dict(os.environ, PYTHONPATH=LAB_DIR), capture_output=True, text=True, check=False)
        return completed.stdout


def live_objects(collection) -> list:
    """Objects of a stand-in state collection (dict or list) that are not deleted."""
    items = collection.values() if isinstance(collection, dict) else collection
    return [item for item in items if item.get("state") not in ("deleted", "deleting")]

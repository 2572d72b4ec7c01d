# The AWS VPN modules for real: ansible-playbook -vvv against the EC2 stand-in.
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""Runs the integration target tests/integration/targets/aws_vpn_tunnel_options (as a role) and the playbook
tests/lab/playbooks/aws_vpn_connection.yml with ansible-playbook -vvv against a stand-in started for this
module (``python -m standins.ec2``), then checks what only the outside can see: the whole verbose output
holds no pre-shared key (neither the ones given nor the ones AWS generated), and the request counts of a
2-connection link (create, no-op rerun)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request

import pytest
import yaml

LAB = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(LAB))
TARGETS = os.path.join(ROOT, "tests", "integration", "targets")
TARGET = os.path.join(TARGETS, "aws_vpn_tunnel_options")
CONNECTION_PLAYBOOK = os.path.join(LAB, "playbooks", "aws_vpn_connection.yml")
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
# Any credentials work with the stand-in. Not "lab": Ansible masks every occurrence of a no_log value
# (secret_key) in module results, and "lab" would turn "available" into "avai********le".
LAB_ACCESS_KEY = "lab"
LAB_SECRET_KEY = "lab-stand-in-secret-key"
REGION = "us-east-1"
STANDIN_CONFIG = {"seed": 5, "delays": {"vpn_connection": 0.2, "vpn_modify": 0.3, "vpn_gateway": 0.05, "vpn_gateway_attachment": 0.05,
                                        "vpn_route": 0.05}}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def lab(url: str, route: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + "/_lab/" + route, data=data, method="GET" if data is None else "POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback only
        return json.loads(response.read() or b"{}")


@pytest.fixture(scope="module")
def ec2_url(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ec2")
    config = workdir / "config.json"
    config.write_text(json.dumps(STANDIN_CONFIG))
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [LAB, os.environ.get("PYTHONPATH")])))
    with open(workdir / "standin.log", "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "standins.ec2", "--host", "127.0.0.1", "--port", str(port), "--config", str(config)],
                                   env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = "http://127.0.0.1:%d" % port
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                lab(url, "health")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("the EC2 stand-in did not start: %s" % (workdir / "standin.log").read_text())
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()  # the one process this fixture started
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def collections_path() -> str:
    paths = [path for path in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if path]
    parts = os.path.realpath(ROOT).split(os.sep)
    if len(parts) > 3 and parts[-3] == "ansible_collections":
        paths.append(os.sep.join(parts[:-3]))
    paths.append(sysconfig.get_paths()["purelib"])  # amazon.aws, bundled with the ansible package
    return os.pathsep.join(paths)


def ansible_playbook(url: str, workdir, playbook: str, extra_vars: dict) -> subprocess.CompletedProcess:
    variables = {"aws_access_key": LAB_ACCESS_KEY, "aws_secret_key": LAB_SECRET_KEY, "aws_region": REGION, "aws_endpoint_url": url,
                 "mcvpn_lab_url": url, "ansible_python_interpreter": sys.executable}
    variables.update(extra_vars)
    vars_file = workdir / ("%s.vars.json" % os.path.basename(playbook))
    vars_file.write_text(json.dumps(variables))
    env = dict(os.environ, AWS_ENDPOINT_URL_EC2=url, AWS_ACCESS_KEY_ID=LAB_ACCESS_KEY, AWS_SECRET_ACCESS_KEY=LAB_SECRET_KEY, AWS_REGION=REGION,
               AWS_DEFAULT_REGION=REGION, ANSIBLE_COLLECTIONS_PATH=collections_path(), ANSIBLE_ROLES_PATH=TARGETS, ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0", ANSIBLE_RETRY_FILES_ENABLED="0")
    env.pop("AWS_PROFILE", None)
    completed = subprocess.run([ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", "-vvv", "-e", "@%s" % vars_file, playbook], env=env,
                               cwd=str(workdir), capture_output=True, text=True, timeout=600, check=False)
    (workdir / ("%s.log" % os.path.basename(playbook))).write_text(completed.stdout + completed.stderr)
    return completed


def keys_in_state(url: str) -> set:
    state = lab(url, "state")
    return {tunnel["pre_shared_key"] for connection in state["vpn_connections"].values() for tunnel in connection["tunnels"]}


def assert_played(completed: subprocess.CompletedProcess) -> str:
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, "ansible-playbook failed (full output in the test's tmp_path): " + output[-3000:]
    assert "failed=0" in completed.stdout and "unreachable=0" in completed.stdout
    assert "<localhost> EXEC" in output  # really -vvv: module invocations and results are in the output
    return output


def test_tunnel_options_target_and_no_key_in_verbose_output(ec2_url, tmp_path):
    lab(ec2_url, "reset", {})
    playbook = tmp_path / "target.yml"
    playbook.write_text(yaml.safe_dump([{"name": "Integration target aws_vpn_tunnel_options", "hosts": "localhost", "gather_facts": False,
                                         "roles": ["aws_vpn_tunnel_options"]}]))
    output = assert_played(ansible_playbook(ec2_url, tmp_path, str(playbook), {"resource_prefix": "labtest"}))
    # the target's own assertions ran (check mode, apply, idempotence, one tunnel, drift, errors)
    for task in ("Check mode reports exactly the would-be changes", "Lab - one DescribeVpnConnections, zero ModifyVpnTunnelOptions",
                 "Lab - t1 revision unchanged, t2 replaced once more", "The drifted options of t1 were put back", "Each error names the option"):
        assert "TASK [aws_vpn_tunnel_options : %s" % task in output
    with open(os.path.join(TARGET, "defaults", "main.yml"), encoding="utf-8") as handle:
        defaults = yaml.safe_load(handle)
    given = {defaults["aws_vpn_tunnel_options_psk_t1"], defaults["aws_vpn_tunnel_options_psk_t1_new"]}
    in_aws = keys_in_state(ec2_url)  # deleted connections stay visible: the key AWS generated for t2 is here
    assert defaults["aws_vpn_tunnel_options_psk_t1_new"] in in_aws and len(in_aws) == 2
    leaked = sorted(key for key in given | in_aws if key in output)
    assert not leaked, "pre-shared keys in the -vvv output: %d" % len(leaked)
    assert LAB_SECRET_KEY not in output  # the drift helper gets its credentials on stdin, not in a printed environment


def test_connection_playbook_request_counts_and_no_key_in_verbose_output(ec2_url, tmp_path):
    lab(ec2_url, "reset", {})
    report = tmp_path / "figures.json"
    output = assert_played(ansible_playbook(ec2_url, tmp_path, CONNECTION_PLAYBOOK, {"resource_prefix": "labtest", "mcvpn_report": str(report)}))
    figures = json.loads(report.read_text())
    create, noop = figures["create"], figures["noop"]
    # a 2-connection link: 2 customer gateways, 2 connections (options at creation), 2 tag writes (t1/t2), nothing else
    assert {operation: count for operation, count in create["by_operation"].items() if not operation.startswith("Describe")} == {
        "CreateCustomerGateway": 2, "CreateVpnConnection": 2, "CreateTags": 2}
    assert create["writes"] == 6 and create["by_operation"]["DescribeCustomerGateways"] == 1
    assert noop == {**noop, "requests": 2, "writes": 0, "by_operation": {"DescribeCustomerGateways": 1, "DescribeVpnConnections": 1}}
    print("aws_vpn_connection, 2 connections: create %d requests (%d writes) %.2f s; no-op rerun %d requests %.2f s"
          % (create["requests"], create["writes"], create["seconds"], noop["requests"], noop["seconds"]))
    keys = keys_in_state(ec2_url)
    assert len(keys) == 6  # 4 tunnels of the BGP link, 2 of the static link; given and generated
    assert "given.lab_key_Q9z" in keys
    leaked = [key for key in keys if key in output]
    assert not leaked, "pre-shared keys in the -vvv output: %d" % len(leaked)

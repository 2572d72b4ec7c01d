"""Start, stop and reset the lab's cloud API stand-ins (EC2, GCP Compute, Azure Network), with or without the data plane.

    PYTHONPATH=tests/lab python -m labctl up [--topology FILE] [--config FILE] [--state-dir DIR]   # stand-ins + reconciler (root)
    PYTHONPATH=tests/lab python -m labctl down [--state-dir DIR]
    PYTHONPATH=tests/lab python -m labctl start [--state-dir DIR] [--config FILE]                  # stand-ins only
    PYTHONPATH=tests/lab python -m labctl status | reset | stop

`start` launches one process per stand-in on loopback ports, records each PID in
<state-dir>/<cloud>.pid, waits until every /_lab/health answers, and writes
<state-dir>/env.sh and env.json: the environment variables that point the real SDKs (and
so our modules and playbooks) at the stand-ins. `stop` ends exactly the PIDs it recorded.

`up` does what `start` does and then starts the reconciler daemon (tests/lab/reconciler), which makes the
stand-ins' VPN objects real in the data plane fabric "lab" (probe namespaces lab-p-<probe name>, see the
topology file) and writes tunnel status back; its PID goes to <state-dir>/reconciler.pid, its log to
<state-dir>/reconciler.log. `down` stops the reconciler (which destroys the fabric: processes ended by PID,
namespaces deleted), removes what a crashed reconciler left, then stops the stand-ins.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

LAB_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_STATE_DIR = os.environ.get("MCVPN_LAB_DIR", "/tmp/mcvpn-lab")
DEFAULT_PORTS = {"ec2": 18080, "gcp": 18081, "azure": 18082}
FABRIC_NAME = "lab"          # fixed: probe namespaces are lab-p-<probe name>
# The lab's probe hosts; inventories/lab/hosts.yml names the same namespaces (ansible_netns_name).
# Not inside inventories/lab: Ansible would read it as an inventory source.
DEFAULT_TOPOLOGY = os.path.join(LAB_DIR, "topology.yml")
RECONCILER_PID = "reconciler.pid"
RECONCILER_STATUS = "reconciler.json"
# Credentials the stand-ins accept; they are not secrets of anything.
LAB_ENVIRONMENT = {
    # STS too: amazon.aws.ec2_security_group asks GetCallerIdentity.
    "ec2": {"AWS_ENDPOINT_URL_EC2": "{url}", "AWS_ENDPOINT_URL_STS": "{url}", "AWS_ACCESS_KEY_ID": "lab",
            "AWS_SECRET_ACCESS_KEY": "lab-not-a-secret-key",
            "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"},
    "gcp": {"GCP_COMPUTE_ENDPOINT": "{url}", "GCP_PROJECT": "lab-project", "GCP_AUTH_KIND": "anonymous"},
    "azure": {"AZURE_BASE_URL": "{url}", "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000",
              "AZURE_CLIENT_ID": "lab", "AZURE_SECRET": "lab-not-a-secret", "AZURE_TENANT": "lab"},
}


LAB_RESOURCE_GROUP = {"subscription_id": LAB_ENVIRONMENT["azure"]["AZURE_SUBSCRIPTION_ID"], "name": "mcvpn-lab",
                      "location": "eastus"}


class LabError(Exception):
    pass


def url_of(port: int) -> str:
    return "http://127.0.0.1:%d" % port


def lab_request(url: str, route: str, body: dict | None = None, timeout: float = 5.0) -> dict:
    """Call a stand-in's /_lab control route; GET without body, POST with one."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + "/_lab/" + route, data=data, method="GET" if data is None else "POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback only
        return json.loads(response.read() or b"{}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_pid(path: str) -> int | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def standin_config(state_dir: str, config: str | None) -> str:
    """The stand-ins' config file: the caller's, plus what the lab always has.

    Azure: resource group LAB_RESOURCE_GROUP exists (azure-mgmt-resource is not one of our
    dependencies; on real Azure the group is the user's, as the azure_vpn role documents).
    """
    document = {}
    if config:
        with open(config, encoding="utf-8") as handle:
            document = json.load(handle)
    groups = document.setdefault("resource_groups", [])
    if not any(group.get("name") == LAB_RESOURCE_GROUP["name"] for group in groups):
        groups.append(dict(LAB_RESOURCE_GROUP))
    path = os.path.join(state_dir, "standins.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2)
    return path


def start(state_dir: str, ports: dict, config: str | None, clouds: list, timeout: float = 30.0) -> dict:
    os.makedirs(state_dir, exist_ok=True)
    stop(state_dir, clouds)  # a crashed previous run: end what it recorded, nothing else
    busy = [port for port in (ports[cloud] for cloud in clouds) if not _port_free(port)]
    if busy:
        # Another lab's stand-in would answer the health check, and this lab would silently use it.
        raise LabError("port(s) %s already in use on 127.0.0.1 (another lab still running?)" % ", ".join(map(str, busy)))
    config = standin_config(state_dir, config)
    # The lab inventory finds the lab's files (e.g. the VyOS commands the reconciler reads) here.
    environment: dict[str, str] = {"MCVPN_LAB_DIR": state_dir}
    children: dict[str, int] = {}
    for cloud in clouds:
        command = [sys.executable, "-m", "standins.%s" % cloud, "--host", "127.0.0.1", "--port", str(ports[cloud])]
        if config:
            command += ["--config", config]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [LAB_DIR, os.environ.get("PYTHONPATH")])))
        with open(os.path.join(state_dir, "%s.log" % cloud), "ab") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       env=env, start_new_session=True)
        children[cloud] = process.pid
        with open(os.path.join(state_dir, "%s.pid" % cloud), "w", encoding="utf-8") as handle:
            handle.write(str(process.pid))
        for name, value in LAB_ENVIRONMENT[cloud].items():
            environment[name] = value.format(url=url_of(ports[cloud]))
    deadline = time.monotonic() + timeout
    for cloud in clouds:
        while True:
            try:
                lab_request(url_of(ports[cloud]), "health", timeout=1.0)
                break
            except OSError as error:
                if not _pid_alive(children[cloud]) or time.monotonic() > deadline:
                    stop(state_dir, clouds)
                    raise LabError("%s stand-in did not become ready (%s); see %s/%s.log" % (cloud, error, state_dir, cloud)) from error
                time.sleep(0.1)
    with open(os.path.join(state_dir, "env.json"), "w", encoding="utf-8") as handle:
        json.dump({"ports": {cloud: ports[cloud] for cloud in clouds}, "environment": environment}, handle, indent=2)
    with open(os.path.join(state_dir, "env.sh"), "w", encoding="utf-8") as handle:
        handle.writelines("export %s=%s\n" % item for item in sorted(environment.items()))
    return environment


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the stand-ins' servers bind: a listener makes the port busy, a closed lab's TIME_WAIT sockets do not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def stop(state_dir: str, clouds: list, grace: float = 5.0) -> list:
    """End the stand-in processes this lab recorded (SIGTERM, then SIGKILL after `grace`)."""
    ended = []
    for cloud in clouds:
        pid_file = os.path.join(state_dir, "%s.pid" % cloud)
        pid = _read_pid(pid_file)
        if pid is None:
            continue
        if _pid_alive(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while _pid_alive(pid) and time.monotonic() < deadline:
                _reap(pid)
                time.sleep(0.05)
            if _pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
            _reap(pid)
        os.unlink(pid_file)
        ended.append(cloud)
    return ended


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _start_time(pid: int) -> int | None:
    """Kernel start time of a PID (to tell our process from a reused PID), None if gone or a zombie."""
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else int(fields[19])


def reconciler_record(state_dir: str) -> dict | None:
    try:
        with open(os.path.join(state_dir, RECONCILER_PID), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def reconciler_alive(record: dict | None) -> bool:
    return bool(record) and _start_time(record["pid"]) == record.get("start_time")


def up(state_dir: str, ports: dict, config: str | None, clouds: list, topology: str | None = None, fabric: str = FABRIC_NAME,
       root: str | None = None, interval: float = 1.0, timeout: float = 30.0) -> dict:
    """Stand-ins + the reconciler daemon. Needs root (network namespaces). Returns the SDK environment."""
    from dataplane import cleanup_stale, prerequisites_missing  # pylint: disable=import-outside-toplevel
    from reconciler import TopologyError, load_topology  # pylint: disable=import-outside-toplevel
    missing = prerequisites_missing()
    if missing:
        raise LabError("cannot run the data plane: %s" % missing)
    topology = topology or DEFAULT_TOPOLOGY
    try:
        load_topology(topology)
    except (OSError, ValueError, TopologyError) as error:
        raise LabError("topology %s: %s" % (topology, error)) from error
    os.makedirs(state_dir, exist_ok=True)
    stop_reconciler(state_dir)
    cleanup_stale(fabric, root, exact=True)   # what a crashed reconciler left (its owner process is gone)
    environment = start(state_dir, ports, config, clouds)
    status_file = os.path.join(state_dir, RECONCILER_STATUS)
    if os.path.exists(status_file):
        os.unlink(status_file)
    command = [sys.executable, "-m", "reconciler", "--env", os.path.join(state_dir, "env.json"), "--topology", topology,
               "--fabric", fabric, "--state-dir", state_dir, "--interval", str(interval)]
    if root:
        command += ["--root", root]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [LAB_DIR, os.environ.get("PYTHONPATH")])))
    with open(os.path.join(state_dir, "reconciler.out"), "ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                   start_new_session=True)
    record = {"pid": process.pid, "start_time": None, "fabric": fabric, "root": root}
    for _attempt in range(100):
        record["start_time"] = _start_time(process.pid)
        if record["start_time"] is not None or process.poll() is not None:
            break
        time.sleep(0.01)
    with open(os.path.join(state_dir, RECONCILER_PID), "w", encoding="utf-8") as handle:
        json.dump(record, handle)
    deadline = time.monotonic() + timeout
    while not os.path.exists(status_file):   # the first cycle is done when the status file appears
        if process.poll() is not None or time.monotonic() > deadline:
            down(state_dir, clouds)
            raise LabError("the reconciler did not start; see %s/reconciler.out and reconciler.log" % state_dir)
        time.sleep(0.1)
    return environment


def stop_reconciler(state_dir: str, grace: float = 20.0) -> bool:
    """SIGTERM the recorded reconciler (it destroys its fabric), SIGKILL after `grace`. True if one was running."""
    record = reconciler_record(state_dir)
    if record is None:
        return False
    running = reconciler_alive(record)
    if running:
        os.kill(record["pid"], signal.SIGTERM)
        deadline = time.monotonic() + grace
        while reconciler_alive(record) and time.monotonic() < deadline:
            _reap(record["pid"])
            time.sleep(0.05)
        if reconciler_alive(record):
            os.kill(record["pid"], signal.SIGKILL)
            time.sleep(0.1)
        _reap(record["pid"])
    os.unlink(os.path.join(state_dir, RECONCILER_PID))
    return running


def down(state_dir: str, clouds: list) -> dict:
    """Reconciler (and with it the fabric), a crashed reconciler's leftovers, then the stand-ins."""
    record = reconciler_record(state_dir) or {}
    stopped = stop_reconciler(state_dir)
    removed = []
    if record.get("fabric"):
        from dataplane import cleanup_stale  # pylint: disable=import-outside-toplevel
        removed = cleanup_stale(record["fabric"], record.get("root"), exact=True)
    return {"reconciler": stopped, "fabric_leftovers_removed": removed, "stand_ins": stop(state_dir, clouds)}


def print_status(state_dir: str) -> None:
    try:
        env = load_env(state_dir)
    except OSError:
        print("no lab in %s (run labctl start or up)" % state_dir)
        return
    for cloud, port in env["ports"].items():
        try:
            summary = lab_request(url_of(port), "requests")["summary"]
            print("%s: up on port %d, %d requests (%d writes)" % (cloud, port, summary["requests"], summary["writes"]))
        except OSError as error:
            print("%s: not answering on port %d (%s)" % (cloud, port, error))
    record = reconciler_record(state_dir)
    if record is None:
        print("reconciler: not started (labctl start runs the stand-ins only)")
        return
    print("reconciler: %s (pid %d), fabric %s" % ("running" if reconciler_alive(record) else "NOT running", record["pid"], record["fabric"]))
    try:
        with open(os.path.join(state_dir, RECONCILER_STATUS), encoding="utf-8") as handle:
            status = json.load(handle)
    except (OSError, ValueError):
        return
    endpoints = status.get("endpoints", {})
    healthy = sum(1 for entry in endpoints.values() if entry["healthy"])
    print("fabric: %s; %d/%d tunnel ends healthy (cycle %d, %.0fs ago)" % (
        "running" if status.get("fabric_running") else "none (no tunnel in the stand-ins)", healthy, len(endpoints),
        status.get("cycle", 0), time.time() - status.get("time", time.time())))
    for endpoint_id, entry in sorted(endpoints.items()):
        print("  %-28s %-30s %s" % (endpoint_id, entry["site"], "healthy" if entry["healthy"] else "; ".join(entry["problems"])))
    for endpoint_id, reason in sorted(status.get("left_out", {}).items()):
        print("  %-28s left out: %s" % (endpoint_id, reason))
    for probe in status.get("probes", []):
        print("probe %s: ansible_netns_name=%s-p-%s" % (probe, record["fabric"], probe))
    for note in status.get("notes", []):
        print("note: %s" % note)


def load_env(state_dir: str) -> dict:
    with open(os.path.join(state_dir, "env.json"), encoding="utf-8") as handle:
        return json.load(handle)


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["up", "down", "start", "stop", "reset", "status"])
    parser.add_argument("--state-dir", default=DEFAULT_STATE_DIR)
    parser.add_argument("--config", help="stand-in config JSON: {\"faults\": {...}, \"delays\": {...}}")
    parser.add_argument("--topology", help="up: lab topology file (probe hosts), default %s" % os.path.relpath(DEFAULT_TOPOLOGY, LAB_DIR))
    parser.add_argument("--fabric", default=FABRIC_NAME, help=argparse.SUPPRESS)   # tests use their own fabric name
    parser.add_argument("--root", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)
    parser.add_argument("--clouds", default="ec2,gcp,azure")
    for cloud, port in DEFAULT_PORTS.items():
        parser.add_argument("--%s-port" % cloud, type=int, default=port)
    args = parser.parse_args(argv)
    clouds = args.clouds.split(",")
    ports = {cloud: getattr(args, "%s_port" % cloud) for cloud in DEFAULT_PORTS}
    if args.action == "up":
        try:
            up(args.state_dir, ports, args.config, clouds, args.topology, args.fabric, args.root, args.interval)
        except LabError as error:
            print("error: %s" % error, file=sys.stderr)
            return 1
        print("lab up: stand-ins and reconciler running (fabric %s); environment in %s/env.sh; log %s/reconciler.log"
              % (args.fabric, args.state_dir, args.state_dir))
    elif args.action == "down":
        result = down(args.state_dir, clouds)
        print("reconciler: %s; fabric leftovers removed: %s; stand-ins stopped: %s" % (
            "stopped" if result["reconciler"] else "was not running", ", ".join(result["fabric_leftovers_removed"]) or "-",
            ", ".join(result["stand_ins"]) or "-"))
    elif args.action == "start":
        start(args.state_dir, ports, args.config, clouds)
        print("lab stand-ins ready; environment in %s/env.sh" % args.state_dir)
    elif args.action == "stop":
        print("stopped: %s" % (", ".join(stop(args.state_dir, clouds)) or "nothing was running"))
    elif args.action == "status":
        print_status(args.state_dir)
    else:
        env = load_env(args.state_dir)
        for cloud, port in env["ports"].items():
            lab_request(url_of(port), "reset", {})
            print("%s: reset" % cloud)
    return 0


if __name__ == "__main__":
    sys.exit(main())

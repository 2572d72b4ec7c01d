"""Start, stop and reset the lab's cloud API stand-ins (EC2, GCP Compute, Azure Network).

    PYTHONPATH=tests/lab python -m labctl start [--state-dir DIR] [--config FILE]
    PYTHONPATH=tests/lab python -m labctl status | reset | stop

`start` launches one process per stand-in on loopback ports, records each PID in
<state-dir>/<cloud>.pid, waits until every /_lab/health answers, and writes
<state-dir>/env.sh and env.json: the environment variables that point the real SDKs (and
so our modules and playbooks) at the stand-ins. `stop` ends exactly the PIDs it recorded.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

LAB_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_STATE_DIR = os.environ.get("MCVPN_LAB_DIR", "/tmp/mcvpn-lab")
DEFAULT_PORTS = {"ec2": 18080, "gcp": 18081, "azure": 18082}
# Credentials the stand-ins accept; they are not secrets of anything.
LAB_ENVIRONMENT = {
    "ec2": {"AWS_ENDPOINT_URL_EC2": "{url}", "AWS_ACCESS_KEY_ID": "lab", "AWS_SECRET_ACCESS_KEY": "lab-not-a-secret-key",
            "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"},
    "gcp": {"GCP_COMPUTE_ENDPOINT": "{url}", "GCP_PROJECT": "lab-project", "GCP_AUTH_KIND": "anonymous"},
    "azure": {"AZURE_BASE_URL": "{url}", "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000",
              "AZURE_CLIENT_ID": "lab", "AZURE_SECRET": "lab-not-a-secret", "AZURE_TENANT": "lab"},
}


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


def start(state_dir: str, ports: dict, config: str | None, clouds: list, timeout: float = 30.0) -> dict:
    os.makedirs(state_dir, exist_ok=True)
    stop(state_dir, clouds)  # a crashed previous run: end what it recorded, nothing else
    environment: dict[str, str] = {}
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


def load_env(state_dir: str) -> dict:
    with open(os.path.join(state_dir, "env.json"), encoding="utf-8") as handle:
        return json.load(handle)


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["start", "stop", "reset", "status"])
    parser.add_argument("--state-dir", default=DEFAULT_STATE_DIR)
    parser.add_argument("--config", help="stand-in config JSON: {\"faults\": {...}, \"delays\": {...}}")
    parser.add_argument("--clouds", default="ec2,gcp,azure")
    for cloud, port in DEFAULT_PORTS.items():
        parser.add_argument("--%s-port" % cloud, type=int, default=port)
    args = parser.parse_args(argv)
    clouds = args.clouds.split(",")
    ports = {cloud: getattr(args, "%s_port" % cloud) for cloud in DEFAULT_PORTS}
    if args.action == "start":
        start(args.state_dir, ports, args.config, clouds)
        print("lab stand-ins ready; environment in %s/env.sh" % args.state_dir)
    elif args.action == "stop":
        print("stopped: %s" % (", ".join(stop(args.state_dir, clouds)) or "nothing was running"))
    else:
        env = load_env(args.state_dir)
        for cloud, port in env["ports"].items():
            if args.action == "reset":
                lab_request(url_of(port), "reset", {})
                print("%s: reset" % cloud)
            else:
                summary = lab_request(url_of(port), "requests")["summary"]
                print("%s: %d requests (%d writes)" % (cloud, summary["requests"], summary["writes"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

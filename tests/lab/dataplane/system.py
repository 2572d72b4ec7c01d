"""Commands, network namespaces and daemon processes for the lab (runs as root; test code).

Processes are started with their own session (setsid), stdin from /dev/null, and recorded as
(pid, kernel start time) so that they are ended by PID only and never confused with a reused PID.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

IP = shutil.which("ip") or "/usr/sbin/ip"
TIMEOUT = shutil.which("timeout") or "/usr/bin/timeout"
NETNS_DIR = "/run/netns"


class CommandError(RuntimeError):
    """A command failed; the message carries its stderr."""


def run(argv: list, stdin: str | None = None, check: bool = True, timeout: float = 20.0, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run a command with a hard timeout (the `timeout` binary kills it and its children)."""
    full = [TIMEOUT, "-k", "2", str(timeout)] + [str(arg) for arg in argv]
    proc = subprocess.run(full, input=stdin, capture_output=True, text=True, check=False, env=env, timeout=timeout + 5)
    if check and proc.returncode != 0:
        raise CommandError("%s failed (rc=%d): %s" % (" ".join(str(a) for a in argv[:6]), proc.returncode,
                                                      (proc.stderr or proc.stdout).strip()[-2000:]))
    return proc


def ip_batch(namespace: str | None, commands: list, force: bool = False) -> None:
    """Run `ip` commands in one process, inside `namespace` (None = the caller's namespace)."""
    if not commands:
        return
    argv = [IP]
    if namespace:
        argv += ["-n", namespace]
    if force:
        argv.append("-force")
    argv += ["-batch", "-"]
    # with -force, ip carries on after an error but still exits 1: the caller accepted failures
    run(argv, stdin="\n".join(commands) + "\n", check=not force)


def netns_exec(namespace: str, argv: list, check: bool = True, timeout: float = 20.0) -> subprocess.CompletedProcess:
    return run([IP, "netns", "exec", namespace] + list(argv), check=check, timeout=timeout)


def sysctl(namespace: str, settings: dict) -> None:
    """Set sysctls inside a namespace with one process."""
    if settings:
        netns_exec(namespace, ["sysctl", "-q", "-w"] + ["%s=%s" % (key, value) for key, value in settings.items()])


def list_namespaces() -> list:
    try:
        return sorted(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return []


def add_namespace(namespace: str) -> None:
    run([IP, "netns", "add", namespace])


def delete_namespace(namespace: str) -> None:
    run([IP, "netns", "del", namespace], check=False)


def namespace_inode(namespace: str) -> int | None:
    try:
        return os.stat(os.path.join(NETNS_DIR, namespace)).st_ino
    except OSError:
        return None


def pids_in_namespace(namespace: str) -> list:
    """PIDs of processes whose network namespace is `namespace` (used only for stale cleanup)."""
    inode = namespace_inode(namespace)
    if inode is None:
        return []
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat("/proc/%s/ns/net" % entry).st_ino == inode:
                pids.append(int(entry))
        except OSError:
            continue
    return pids


def process_start_time(pid: int) -> int | None:
    """The kernel start time (clock ticks since boot) of a PID, or None if it is gone or a zombie."""
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    if fields[0] == "Z":
        return None
    return int(fields[19])


def process_rss_kib(pid: int) -> int:
    try:
        with open("/proc/%d/status" % pid, encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def start_daemon(argv: list, log_path: str, role: str, env: dict | None = None) -> dict:
    """Start a long-running process in its own session; return its record {pid, start_time, role}."""
    with open(log_path, "ab") as log, open(os.devnull, "rb") as devnull:
        proc = subprocess.Popen(  # pylint: disable=consider-using-with
            [str(arg) for arg in argv], stdin=devnull, stdout=log, stderr=log, env=env,
            start_new_session=True, close_fds=True)
    start = None
    for _attempt in range(50):
        start = process_start_time(proc.pid)
        if start is not None:
            break
        if proc.poll() is not None:
            break
        time.sleep(0.01)
    record = {"pid": proc.pid, "start_time": start, "role": role}
    _CHILDREN[proc.pid] = proc
    return record


_CHILDREN: dict = {}


def _reap() -> None:
    for pid, proc in list(_CHILDREN.items()):
        if proc.poll() is not None:
            del _CHILDREN[pid]


def alive(record: dict) -> bool:
    _reap()
    start = process_start_time(record["pid"])
    return start is not None and (record.get("start_time") is None or start == record["start_time"])


def stop_processes(records: list, grace: float = 3.0) -> list:
    """SIGTERM the recorded processes that are still the ones we started, SIGKILL after `grace` s. Returns killed PIDs."""
    targets = [record for record in records if alive(record)]
    for record in targets:
        try:
            os.kill(record["pid"], signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(record) for record in targets):
        time.sleep(0.05)
    for record in targets:
        if alive(record):
            try:
                os.kill(record["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and any(alive(record) for record in targets):
        time.sleep(0.05)
    _reap()
    return [record["pid"] for record in targets]


def wait_for(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll `predicate` until it returns a truthy value; raise TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)

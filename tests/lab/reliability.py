"""What the reliability suites (issue 10) of every playbook share: running ansible-playbook so it can be
killed as AWX kills a job, reading its failures, converging with counted reruns, the stand-ins' fault
switches, and the figures each suite prints and writes to tests/output/reliability_<name>.json.

    driver = Driver(lab, "playbooks/aws_gcp_ha.yml", inventory=["inventories/lab", local_inventory],
                    base_vars={...}, limit="localhost", converged_task="Every tunnel must be up")
    result = driver.converge(figures)          # reruns only after an SDK gave up, counted in figures

A run has *converged* when it either succeeded, or its only failure is ``converged_task`` (link_check's
"every tunnel up" when the stand-ins run without the data plane: every write before it is done).
"""
from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time

import pytest
from labtools import REPO, PlaybookRun

import labctl

FAULT_KINDS = ["server_error", "throttle", "lost_response"]
FAULT_RATE = 0.2
SEEDS = int(os.environ.get("MCVPN_RELIABILITY_SEEDS", "10"))
KILLS = int(os.environ.get("MCVPN_RELIABILITY_KILLS", "10"))
MAX_RUNS = 4
RUN_TIMEOUT = 600
# An SDK gave up after its own retries on a transient error: a rerun is allowed (and counted).
EXHAUSTED = re.compile(r"reached max retries: \d+\): (Gateway Timeout|An internal error|Request limit exceeded)"
                       r"|: (InternalError|RequestLimitExceeded|504): |Timeout of [0-9.]+s exceeded|: (429|500|503)\b"
                       r"|\(429\)|\(500\)|\(503\)|\(HTTP (429|500|502|503|504)\)|Retry limit exceeded|too many (500|503|429) error responses")


def ports(*defaults: int) -> tuple:
    """A suite's stand-in ports, shifted by MCVPN_LAB_PORT_OFFSET (to run a copy beside a running suite)."""
    offset = int(os.environ.get("MCVPN_LAB_PORT_OFFSET", "0"))
    return tuple(port + offset for port in defaults)


def local_inventory(directory: str) -> str:
    """A one-host inventory (localhost, local connection) for runs limited to the control node."""
    handle, path = tempfile.mkstemp(prefix="localhost-", suffix=".yml", dir=directory)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write("all:\n  hosts:\n    localhost:\n      ansible_connection: local\n")
    return path


def failures(run_result: PlaybookRun) -> list:
    """[(task title, message)] of the failures that were not ignored."""
    found, task = [], ""
    lines = run_result.output.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("TASK ["):
            task = line[len("TASK ["):].split("]")[0]
        elif line.startswith(("fatal: [", "failed: [")) and not (index + 1 < len(lines) and lines[index + 1].startswith("...ignoring")):
            match = re.search(r'"msg": "((?:[^"\\]|\\.)*)"', line)
            found.append((task, match.group(1) if match else line[:500]))
    if run_result.returncode not in (0, 2) and not found:
        found.append(("ansible-playbook", run_result.output[-1500:]))
    return found


def changed_tasks(run_result: PlaybookRun, host: str = "localhost") -> list:
    tasks, task = [], ""
    for line in run_result.output.splitlines():
        if line.startswith("TASK ["):
            task = line[len("TASK ["):].split("]")[0]
        elif line.startswith("changed: [%s]" % host):
            tasks.append(task)
    return tasks


def kill_times(converge_seconds: float, kills: int = KILLS, seed: int = 2026) -> list:
    """One seeded point in each of ``kills`` equal slices of a measured converge: the kills land all over the run."""
    chooser = random.Random(seed)
    return [round(max(1.0, converge_seconds * (trial + chooser.random()) / kills), 2) for trial in range(kills)]


def task_at_kill(run_result: PlaybookRun) -> str:
    """The task a killed run had started last."""
    started = [line[len("TASK ["):].split("]")[0] for line in run_result.output.splitlines() if line.startswith("TASK [")]
    return started[-1] if started else "(before the first task)"


def set_faults(lab, clouds, seed: int, rate: float) -> None:
    for offset, cloud in enumerate(clouds):
        labctl.lab_request(lab.url(cloud), "config", {"faults": {"rate": rate, "seed": seed * 101 + offset, "kinds": FAULT_KINDS}})


def faults_injected(lab, clouds) -> dict:
    return {cloud: summary["faults"] for cloud, summary in lab.requests().items() if cloud in clouds}


def count_extra(counts: dict, plan: dict) -> dict:
    """{kind: found - planned} for every kind that differs from the plan."""
    return {kind: counts.get(kind, 0) - plan[kind] for kind in plan if counts.get(kind, 0) != plan[kind]}


class Driver:
    """ansible-playbook runs of one playbook against one LabSession."""

    def __init__(self, lab, playbook: str, *, inventory: list, base_vars: dict | None = None, limit: str | None = None,
                 converged_task: str | None = None, known_issue: re.Pattern | None = None, host: str = "localhost") -> None:
        self.lab = lab
        self.playbook = playbook
        self.inventory = inventory
        self.base_vars = base_vars or {}
        self.limit = limit
        self.converged_task = converged_task
        self.known_issue = known_issue
        self.host = host

    def command(self, playbook: str, extra_vars: dict | None, options: list | None = None) -> list:
        command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook")]
        for source in self.inventory:
            command += ["-i", source]
        command.append(playbook)
        if self.limit:
            command += ["--limit", self.limit]
        return command + ["-e", json.dumps(dict(self.base_vars, **(extra_vars or {})))] + list(options or [])

    def start(self, playbook: str | None = None, extra_vars: dict | None = None, options: list | None = None, env: dict | None = None):
        """ansible-playbook in its own process group (killed as AWX kills a job), output to a file."""
        output = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
        process = subprocess.Popen(self.command(playbook or self.playbook, extra_vars, options), cwd=REPO,
                                   env=dict(self.lab.env(), **(env or {})), stdin=subprocess.DEVNULL, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        return process, output, time.monotonic()

    @staticmethod
    def finish(started) -> PlaybookRun:
        process, output, began = started
        try:
            returncode = process.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            returncode = process.wait()
        output.seek(0)
        text = output.read()
        output.close()
        return PlaybookRun(returncode, text, time.monotonic() - began)

    def run(self, playbook: str | None = None, extra_vars: dict | None = None, options: list | None = None,
            env: dict | None = None) -> PlaybookRun:
        return self.finish(self.start(playbook, extra_vars, options, env))

    def kill_after(self, seconds: float, playbook: str | None = None, extra_vars: dict | None = None) -> PlaybookRun:
        """Start a run and SIGKILL its whole process group after ``seconds`` (if it is still running)."""
        started = self.start(playbook, extra_vars)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and started[0].poll() is None:
            time.sleep(0.05)
        if started[0].poll() is None:
            os.killpg(started[0].pid, signal.SIGKILL)
        return self.finish(started)

    def converged(self, run_result: PlaybookRun) -> bool:
        problems = failures(run_result)
        if run_result.returncode == 0 and not problems:
            return True
        return (self.converged_task is not None and len(problems) == 1 and problems[0][0].endswith(self.converged_task)
                and run_result.recap.get(self.host, {}).get("failed") == 1)

    def converge(self, figures: dict, extra_vars: dict | None = None) -> PlaybookRun:
        """Run until converged; reruns only after an SDK gave up on a transient error (or a known issue), counted."""
        for attempt in range(MAX_RUNS):
            result = self.run(extra_vars=extra_vars)
            figures["runs"] = figures.get("runs", 0) + 1
            if self.converged(result):
                return result
            problems = failures(result)
            messages = " | ".join("%s: %s" % problem for problem in problems)
            if problems and self.known_issue is not None and all(self.known_issue.search(message) for _task, message in problems):
                figures["reruns_known_issue"] = figures.get("reruns_known_issue", 0) + 1
                figures.setdefault("known_issue_messages", []).append(messages[:300])
            elif problems and all(EXHAUSTED.search(message) for _task, message in problems):
                figures["reruns_sdk_retries_exhausted"] = figures.get("reruns_sdk_retries_exhausted", 0) + 1
                figures.setdefault("sdk_gave_up", []).append(messages[:300])
            else:
                pytest.fail("run %d did not converge and no SDK gave up after its retries: %s\n%s"
                            % (attempt + 1, messages[:3000], result.output[-4000:]))
        pytest.fail("no convergence after %d runs" % MAX_RUNS)


def write_figures(name: str, title: str, figures: dict) -> None:
    """Print the suite's figures (pytest -s or the junit system-out) and write them to tests/output."""
    report = json.dumps(figures, indent=2, sort_keys=True)
    print("\n%s:\n%s" % (title, report))
    path = os.path.join(REPO, "tests", "output", "reliability_%s.json" % name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(report + "\n")

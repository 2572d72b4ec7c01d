"""No pre-shared key anywhere it should not be (issue 10, "Secrets"), for every playbook and its teardown.

For playbooks/aws_gcp_ha.yml and aws_azure_ha.yml (BGP mode): (a) converge and ``--check --diff`` with the lab
inventory as it is (AWS generates the keys), (b) the same with keys given in the inventory
(``mcvpn_pre_shared_keys`` in a 0600 file passed as ``-e @file``, so no key is on a command line; the converge
re-keys the link: AWS tunnels modified, GCP tunnels re-created, Azure keys set), then the teardown.
playbooks/aws_interregion_vyos.yml takes no inventory keys: converge, ``--check --diff``, teardown.
Every run is at ``-vvv --diff``; each one's traces are collected:

- ansible-playbook's stdout and stderr, its ``ANSIBLE_LOG_PATH`` log;
- two callbacks that write task results to files: community.general.log_plays (every result, per host,
  as JSON) and ansible.builtin.junit (every result in the test cases' system-out);
- the stand-ins' request logs (``/_lab/requests``, fetched and cleared after each run);
- every file under the lab's state directory (stand-in and reconciler logs, env files, the VyOS commands
  file, Ansible's local and remote temp directories and TMPDIR, which point there), the files of the
  collection tree, of ~/.ansible and of /tmp (top level) written during the run, and with the data plane
  the fabric's directory (strongSwan and FRR configurations and logs).

The keys: every key the stand-ins hold after each converge (EC2 tunnels' pre-shared keys, GCP tunnels'
shared secrets, Azure connections' shared keys, read from each stand-in's ``/_lab/state``) plus the
inventory's keys. A key is looked for as itself and base64-encoded (at any alignment: slurp results).

Fails: a key in an output (stdout, log, callback files, request logs); a file holding a key that has no
reason to (KEY_HOLDERS lists the files that must hold keys and why); a key-holding file whose mode is not 0600.
A self-test first proves the sweep can fail: a planted playbook prints one planted key and a base64 form
of another, and writes a 0644 file with a key; each channel must report them.

Where the data plane can run (root, strongSwan, FRR, as in CI) the lab runs with it, runs must succeed
(tunnels up, probe pings) and the fabric's files are swept; otherwise (or ``MCVPN_LAB_DATAPLANE=0``)
the stand-ins run alone, runs are limited to localhost and a converge stops at the final tunnel check.
The fabric is always named "lab": do not run this with the data plane while another lab test runs.

Figures (runs swept, bytes and files scanned, keys checked, secrets found, key-holding files and their
modes) are printed at the end and written to tests/output/secrets.json.
Run: cd /work/main && PYTHONPATH=/work/ac:tests/lab /tmp/venvtest/v/bin/python -m pytest tests/lab/test_secrets.py -q -s
"""
from __future__ import annotations

import base64
import fnmatch
import json
import os
import shutil
import stat
import time
import urllib.request
from dataclasses import dataclass, field

import pytest
from dataplane import DEFAULT_ROOT as FABRIC_ROOT
from labtools import REPO, LabSession, PlaybookRun, data_plane_missing
from reliability import Driver, local_inventory

import labctl
from ansible_collections.multicloud.vpn.plugins.module_utils._psk import generate_psk

PORTS = (19180, 19181, 19182)
DATA_PLANE = os.environ.get("MCVPN_LAB_DATAPLANE", "1") == "1" and data_plane_missing() is None
FABRIC_NAME = labctl.FABRIC_NAME
FIGURES_FILE = os.path.join(REPO, "tests", "output", "secrets.json")
# Field names under which the stand-ins' /_lab/state holds keys (EC2, GCP, Azure).
SECRET_FIELDS = {"pre_shared_key", "PreSharedKey", "shared_secret", "sharedSecret", "shared_key", "sharedKey"}
# The files that hold keys on purpose: (where, glob under it, why). Any other file holding a key fails;
# each of these must be mode 0600.
KEY_HOLDERS = [
    ("state", "keys/*.yml", "the inventory's keys (-e @file), what a vault file holds"),
    ("state", "vyos/*.commands", "the VyOS router's commands (vyos_from_aws_config dest, the lab's push=file): the router needs its PSKs"),
    ("fabric", "e/*/swanctl/swanctl.conf", "strongSwan's configuration of one lab tunnel end: charon needs the PSK"),
    ("fabric", "state.json", "the lab fabric's state: its spec holds every tunnel end with its PSK"),
]
SKIPPED_DIRECTORIES = {".git", "collections", "sweep", "__pycache__", ".pytest_cache"}
BASE_VARS = {} if DATA_PLANE else {"mcvpn_check_retries": 0, "mcvpn_check_delay": 1}


@dataclass
class Scenario:
    name: str
    playbook: str
    teardown: str
    extra_vars: dict
    converged_task: str
    inventory_keys: int          # keys the link takes from mcvpn_pre_shared_keys (0: the playbook has no such variable)


SCENARIOS = [
    Scenario("aws_gcp", "playbooks/aws_gcp_ha.yml", "playbooks/aws_gcp_ha_teardown.yml", {}, "Every tunnel must be up", 4),
    Scenario("aws_azure_bgp", "playbooks/aws_azure_ha.yml", "playbooks/aws_azure_ha_teardown.yml", {"mcvpn_azure_mode": "bgp"},
             "Every tunnel must be up", 4),
    Scenario("aws_vyos", "playbooks/aws_interregion_vyos.yml", "playbooks/aws_interregion_vyos_teardown.yml", {},
             "Both tunnels must be up with BGP established", 0),
]


@dataclass
class Sweep:
    """What every run left, scanned for every key known so far."""

    keys: dict = field(default_factory=dict)           # key -> where it came from
    runs: list = field(default_factory=list)
    findings: list = field(default_factory=list)       # problems: key in an output, key in an unexpected file, bad mode
    holders: dict = field(default_factory=dict)        # shown path -> {"mode", "reason", "runs"}
    files: set = field(default_factory=set)
    bytes_scanned: int = 0
    channel_bytes: dict = field(default_factory=dict)


SWEEP = Sweep()


# -- finding keys -------------------------------------------------------------------------------
def secrets_in(document, found: set | None = None) -> set:
    """Every value of a SECRET_FIELDS field anywhere in a JSON document."""
    found = set() if found is None else found
    if isinstance(document, dict):
        for name, value in document.items():
            if name in SECRET_FIELDS and isinstance(value, str) and value:
                found.add(value)
            else:
                secrets_in(value, found)
    elif isinstance(document, list):
        for value in document:
            secrets_in(value, found)
    return found


def base64_forms(key: str) -> list:
    """The parts of base64 text that encode ``key`` alone, for the 3 alignments it can have in a longer text."""
    forms = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + key.encode())
        start = -(-8 * shift // 6)
        end = 8 * (shift + len(key)) // 6
        forms.append(encoded[start:end])
    return forms


def needles(keys: dict) -> dict:
    """{bytes to look for: key} for every key, plain and base64."""
    found = {}
    for key in keys:
        found[key.encode()] = key
        for form in base64_forms(key):
            found[form] = key
    return found


def keys_in(data: bytes, wanted: dict) -> set:
    return {key for needle, key in wanted.items() if needle in data}


# -- one run and its sweep ------------------------------------------------------------------------
class Runner:
    def __init__(self, lab, keys_file_dir: str) -> None:
        self.lab = lab
        self.sweep_dir = os.path.join(lab.state_dir, "sweep")
        self.keys_dir = keys_file_dir
        temp = os.path.join(lab.state_dir, "tmp")
        self.temp = {"ANSIBLE_LOCAL_TEMP": os.path.join(temp, "local"), "ANSIBLE_REMOTE_TEMP": os.path.join(temp, "remote"),
                     "TMPDIR": os.path.join(temp, "python")}
        for directory in [self.sweep_dir, self.keys_dir] + list(self.temp.values()):
            os.makedirs(directory, mode=0o700, exist_ok=True)
        inventory = ["inventories/lab"]
        if not DATA_PLANE:
            inventory.append(local_inventory(lab.state_dir))
        self.inventory = inventory
        self.count = 0

    def run(self, label: str, playbook: str, *, extra_vars: dict | None = None, keys_file: str | None = None, check: bool = False) -> tuple:
        """ansible-playbook at -vvv --diff with the log and the callbacks on; returns (run, its output directory, started)."""
        self.count += 1
        directory = os.path.join(self.sweep_dir, "%02d-%s" % (self.count, label))
        os.makedirs(directory)
        env = dict(self.temp, ANSIBLE_LOG_PATH=os.path.join(directory, "ansible.log"),
                   ANSIBLE_CALLBACKS_ENABLED="community.general.log_plays,ansible.builtin.junit",
                   ANSIBLE_LOG_FOLDER=os.path.join(directory, "log_plays"), JUNIT_OUTPUT_DIR=os.path.join(directory, "junit"),
                   ANSIBLE_RETRY_FILES_ENABLED="True", ANSIBLE_RETRY_FILES_SAVE_PATH=os.path.join(self.lab.state_dir, "retry"))
        options = ["-vvv", "--diff"] + (["--check"] if check else []) + (["-e", "@" + keys_file] if keys_file else [])
        started = time.time()
        driver = Driver(self.lab, playbook, inventory=self.inventory, base_vars=BASE_VARS, limit=None if DATA_PLANE else "localhost")
        result = driver.run(extra_vars=extra_vars, options=options, env=env)
        with open(os.path.join(directory, "output.txt"), "w", encoding="utf-8") as handle:
            handle.write(result.output)
        return result, directory, started


def read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def outputs_of(directory: str, lab) -> dict:
    """{channel: [(name, bytes)]} of one run: stdout+stderr, the log, the callbacks' files, the request logs."""
    channels: dict = {"stdout+stderr": [], "ansible log": [], "callback log_plays": [], "callback junit": [], "request logs": []}
    channels["stdout+stderr"].append(("output.txt", read(os.path.join(directory, "output.txt")) or b""))
    channels["ansible log"].append(("ansible.log", read(os.path.join(directory, "ansible.log")) or b""))
    for channel, sub in (("callback log_plays", "log_plays"), ("callback junit", "junit")):
        for root, _dirs, names in os.walk(os.path.join(directory, sub)):
            for name in sorted(names):
                channels[channel].append((os.path.relpath(os.path.join(root, name), directory), read(os.path.join(root, name)) or b""))
    for cloud in lab.ports:
        log = labctl.lab_request(lab.url(cloud), "requests", timeout=30)
        channels["request logs"].append((cloud, json.dumps(log).encode()))
        labctl.lab_request(lab.url(cloud), "requests/clear", {})
    return channels


def walk_roots(lab) -> list:
    """(label, directory, only files written since the run began)"""
    roots = [("state", lab.state_dir, False), ("repo", REPO, True), ("home", os.path.expanduser("~/.ansible"), True)]
    if DATA_PLANE:
        roots.append(("fabric", os.path.join(FABRIC_ROOT, FABRIC_NAME), False))
    return roots


def written_files(roots: list, since: float) -> list:
    """(label, path relative to its root, full path) of the files to sweep."""
    found = []
    for label, top, recent_only in roots:
        for root, dirs, names in os.walk(top):
            dirs[:] = [name for name in dirs if name not in SKIPPED_DIRECTORIES]
            for name in names:
                path = os.path.join(root, name)
                try:
                    info = os.lstat(path)
                except OSError:
                    continue
                if stat.S_ISREG(info.st_mode) and (not recent_only or info.st_mtime >= since - 1):
                    found.append((label, os.path.relpath(path, top), path))
    for name in os.listdir("/tmp"):       # Python's tempfile default, if anything ignored TMPDIR
        path = os.path.join("/tmp", name)
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and info.st_mtime >= since - 1:
            found.append(("tmp", name, path))
    return found


def reason_for(label: str, relative: str) -> str | None:
    for where, pattern, reason in KEY_HOLDERS:
        if where == label and fnmatch.fnmatch(relative, pattern):
            return reason
    return None


def sweep_run(sweep: Sweep, run_label: str, ran: tuple, lab) -> list:
    """Scan one run's outputs and files for every key known; record the figures; return this run's problems."""
    result, directory, started = ran
    wanted = needles(sweep.keys)
    problems = []
    scanned = {"run": run_label, "seconds": round(result.seconds, 1), "bytes": 0, "files": 0, "outputs": {}}
    for channel, items in outputs_of(directory, lab).items():
        size = sum(len(data) for _name, data in items)
        scanned["outputs"][channel] = size
        sweep.channel_bytes[channel] = sweep.channel_bytes.get(channel, 0) + size
        scanned["bytes"] += size
        for name, data in items:
            for key in sorted(keys_in(data, wanted)):
                problems.append({"run": run_label, "where": channel, "file": name, "key_of": sweep.keys[key], "problem": "a key in an output"})
    for label, relative, path in written_files(walk_roots(lab), started):
        data = read(path)
        if data is None:
            continue
        scanned["bytes"] += len(data)
        scanned["files"] += 1
        shown = "<%s>/%s" % (label, relative)
        sweep.files.add(shown)
        found = keys_in(data, wanted)
        if not found:
            continue
        mode = stat.S_IMODE(os.stat(path).st_mode)
        reason = reason_for(label, relative)
        holder = sweep.holders.setdefault(shown, {"mode": "%04o" % mode, "reason": reason or "NONE", "runs": 0, "keys": 0})
        holder["runs"] += 1
        holder["mode"] = "%04o" % mode
        holder["keys"] = max(holder["keys"], len(found))
        if reason is None:
            problems.append({"run": run_label, "where": shown, "mode": "%04o" % mode, "keys": len(found),
                             "key_of": sorted({sweep.keys[key] for key in found}), "problem": "a key in a file that has no reason to hold one"})
        elif mode != 0o600:
            problems.append({"run": run_label, "where": shown, "mode": "%04o" % mode, "problem": "holds keys (%s) but is not 0600" % reason})
    sweep.bytes_scanned += scanned["bytes"]
    scanned["problems"] = len(problems)
    sweep.runs.append(scanned)
    sweep.findings.extend(problems)
    return problems


def stand_in_keys(lab) -> set:
    found: set = set()
    for cloud in lab.ports:
        secrets_in(lab.state(cloud), found)
    return found


def write_keys_file(directory: str, name: str, keys: list) -> str:
    path = os.path.join(directory, name + ".yml")
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump({"mcvpn_pre_shared_keys": keys}, handle)      # JSON is YAML
    return path


# -- the lab -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lab():
    began = time.monotonic()
    with LabSession("mcvsec", PORTS, data_plane=DATA_PLANE) as session:
        # amazon.aws polls a VGW attachment every 15 s unless it is attached at once
        labctl.lab_request(session.url("ec2"), "config", {"delays": {"vpn_gateway": 0, "vpn_gateway_attachment": 0}})
        session.runner = Runner(session, os.path.join(session.state_dir, "keys"))
        yield session
    figures = {
        "data_plane": DATA_PLANE,
        "seconds": round(time.monotonic() - began, 1),
        "runs_swept": len([run for run in SWEEP.runs if not run["run"].startswith("self-test")]),
        "bytes_scanned": SWEEP.bytes_scanned,
        "bytes_by_output": SWEEP.channel_bytes,
        "files_scanned": len(SWEEP.files),
        "keys_checked": len(SWEEP.keys),
        "keys_by_source": {source: list(SWEEP.keys.values()).count(source) for source in sorted(set(SWEEP.keys.values()))},
        "secrets_found": len([item for item in SWEEP.findings if not item["run"].startswith("self-test")]),
        "findings": [item for item in SWEEP.findings if not item["run"].startswith("self-test")],
        "key_holding_files": {path: holder for path, holder in sorted(SWEEP.holders.items()) if "planted" not in path},
        "self_test": SELF_TEST,
        "notes": sorted(NOTES),
        "runs": SWEEP.runs,
    }
    report = json.dumps(figures, indent=2, sort_keys=True)
    print("\nsecrets sweep (%d runs, %d bytes in %d files and outputs, %d keys): secrets found: %d\n%s" % (
        figures["runs_swept"], figures["bytes_scanned"], figures["files_scanned"], figures["keys_checked"], figures["secrets_found"],
        json.dumps({key: figures[key] for key in ("key_holding_files", "bytes_by_output", "keys_by_source", "self_test", "seconds")},
                   indent=2, sort_keys=True)))
    os.makedirs(os.path.dirname(FIGURES_FILE), exist_ok=True)
    with open(FIGURES_FILE, "w", encoding="utf-8") as stream:
        stream.write(report + "\n")


SELF_TEST: dict = {}
NOTES: set = set()
PLANTED_PLAYBOOK = """\
- name: Planted leaks (the sweep must find each)
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Print a key
      ansible.builtin.debug:
        msg: "planted {{ mcvpn_pre_shared_keys[0] }}"
    - name: Print a key in base64, off alignment
      ansible.builtin.debug:
        msg: "{{ ('xy' ~ mcvpn_pre_shared_keys[1]) | b64encode }}"
    - name: Write a key into a file readable by all
      ansible.builtin.copy:
        content: "{{ mcvpn_pre_shared_keys[2] }}"
        dest: "{{ planted_dir }}/leak.txt"
        mode: "0644"
      no_log: true
"""


def test_self_test_the_sweep_finds_planted_keys(lab):
    """A planted playbook leaks on purpose through each channel; the sweep must report each leak."""
    runner = lab.runner
    planted = [generate_psk() for _index in range(3)]
    sweep = Sweep(keys={key: "planted %d" % index for index, key in enumerate(planted)})
    planted_dir = os.path.join(lab.state_dir, "planted")
    os.makedirs(planted_dir)
    playbook = os.path.join(runner.sweep_dir, "planted.yml")
    with open(playbook, "w", encoding="utf-8") as handle:
        handle.write(PLANTED_PLAYBOOK)
    keys_file = write_keys_file(runner.keys_dir, "planted", planted)
    bad_mode = os.path.join(runner.keys_dir, "planted-0644.yml")     # a holder with a reason, but readable by all
    with open(bad_mode, "w", encoding="utf-8") as handle:
        handle.write(planted[0])
    os.chmod(bad_mode, 0o644)
    ran = runner.run("self-test", playbook, extra_vars={"planted_dir": planted_dir}, keys_file=keys_file)
    assert ran[0].returncode == 0, ran[0].output[-3000:]
    problems = sweep_run(sweep, "self-test", ran, lab)
    SWEEP.runs.extend(sweep.runs)
    found = {}
    for problem in problems:
        found.setdefault((problem["where"], problem["problem"]), set()).add(str(problem["key_of"]) if "key_of" in problem else "-")
    reported = sorted("%s: %s (%s)" % (where, what, ", ".join(sorted(keys))) for (where, what), keys in found.items())
    SELF_TEST.update({"planted_keys": len(planted), "found": reported})
    for channel in ("stdout+stderr", "ansible log", "callback log_plays", "callback junit"):
        keys = found.get((channel, "a key in an output"), set())
        assert keys == {"planted 0", "planted 1"}, (channel, keys, problems)
    assert found.get(("<state>/planted/leak.txt", "a key in a file that has no reason to hold one")) == {"['planted 2']"}, problems
    assert ("<state>/keys/planted-0644.yml", "holds keys (%s) but is not 0600" % KEY_HOLDERS[0][2]) in found, problems
    assert ("<state>/keys/planted.yml", "a key in a file that has no reason to hold one") not in found, problems   # 0600, has a reason
    # The request logs are swept too: a key sent to a stand-in in a request shows up there.
    labctl.lab_request(lab.url("gcp"), "requests/clear", {})
    try:
        with urllib.request.urlopen(lab.url("gcp") + "/compute/v1/projects/lab-project/global/networks/" + planted[0], timeout=10):
            pass
    except OSError:
        pass            # a 404 is fine: the request is logged
    request_logs = b"".join(data for _name, data in outputs_of(ran[1], lab)["request logs"])
    assert keys_in(request_logs, needles(sweep.keys)) == {planted[0]}
    SELF_TEST["request_log_found"] = True
    shutil.rmtree(planted_dir)
    for path in (keys_file, bad_mode):
        os.unlink(path)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[scenario.name for scenario in SCENARIOS])
def test_no_psk_leaks(lab, scenario):
    """(a) converge and --check with keys AWS generates; (b) the same with the inventory's keys (the link is re-keyed:
    AWS set to them, GCP tunnels re-created, Azure keys set); then the teardown."""
    runner = lab.runner
    problems = []
    keys_file = None
    for mode in ("generated", "inventory") if scenario.inventory_keys else ("generated",):
        if mode == "inventory":
            inventory_keys = [generate_psk() for _index in range(scenario.inventory_keys)]
            for key in inventory_keys:
                SWEEP.keys[key] = "inventory (%s)" % scenario.name
            keys_file = write_keys_file(runner.keys_dir, scenario.name, inventory_keys)
        label = "%s-%s" % (scenario.name, mode)
        converge = runner.run(label + "-converge", scenario.playbook, extra_vars=scenario.extra_vars, keys_file=keys_file)
        held = stand_in_keys(lab)
        for key in held:
            SWEEP.keys.setdefault(key, "stand-ins (%s)" % label)
        problems += sweep_run(SWEEP, label + "-converge", converge, lab)
        assert_converged(scenario, converge[0])
        if mode == "inventory":
            assert set(inventory_keys) <= held, "the inventory's keys did not reach the stand-ins"
        check = runner.run(label + "-check", scenario.playbook, extra_vars=scenario.extra_vars, keys_file=keys_file, check=True)
        problems += sweep_run(SWEEP, label + "-check", check, lab)
        assert_converged(scenario, check[0])
    if not scenario.inventory_keys:
        NOTES.add("%s takes no mcvpn_pre_shared_keys (AWS generates the keys): run in mode (a) only" % scenario.playbook)
    teardown = runner.run(scenario.name + "-teardown", scenario.teardown, extra_vars=scenario.extra_vars, keys_file=keys_file)
    problems += sweep_run(SWEEP, scenario.name + "-teardown", teardown, lab)
    assert teardown[0].returncode == 0, unignored_failures(teardown[0])
    assert problems == [], json.dumps(problems, indent=1)


def unignored_failures(result: PlaybookRun) -> list:
    """[(task, first line)] of the failures not followed by "...ignoring" (at -vvv a result spans many lines)."""
    found, task, pending = [], "", None
    for line in result.output.splitlines() + ["TASK [end]"]:
        if line.startswith("TASK [") or line.startswith("PLAY RECAP"):
            if pending:
                found.append(pending)
            pending = None
            task = line[len("TASK ["):].split("]")[0] if line.startswith("TASK [") else "PLAY RECAP"
        elif line.startswith(("fatal: [", "failed: [")):
            if pending:
                found.append(pending)
            pending = (task, line[:300])
        elif line.startswith("...ignoring"):
            pending = None
    if pending:
        found.append(pending)
    return found


def assert_converged(scenario: Scenario, result: PlaybookRun) -> None:
    """With the data plane: success. Without: the only failure not ignored is the final tunnel check."""
    problems = unignored_failures(result)
    if DATA_PLANE:
        assert result.returncode == 0 and problems == [], problems or result.output[-3000:]
    elif result.returncode != 0:
        assert len(problems) == 1 and problems[0][0].endswith(scenario.converged_task), problems or result.output[-3000:]


def test_the_sweep_saw_every_output(lab):
    """Each channel had something to scan in every real run (a callback that wrote nothing would hide leaks)."""
    real = [run for run in SWEEP.runs if not run["run"].startswith("self-test")]
    assert len(real) == sum(5 if scenario.inventory_keys else 3 for scenario in SCENARIOS)
    empty = [(run["run"], channel) for run in real for channel, size in run["outputs"].items() if size == 0]
    assert empty == []
    assert len(SWEEP.keys) >= 4 + 4 + 4 + 4 + 2
    holders = {path: holder["reason"] for path, holder in SWEEP.holders.items() if "planted" not in path}
    assert any(path.startswith("<state>/vyos/") for path in holders), holders    # the sweep does see the files that hold keys
    if DATA_PLANE:
        assert any(path.endswith("swanctl.conf") for path in holders), holders

"""Run every test suite of multicloud.vpn and end with "N passed, N failed".

Called by tests/run (which installs what is needed first). Each suite runs in a copy of the
collection at <tmp>/ansible_collections/multicloud/vpn (ansible-test refuses symlinks and
wants that path), built from the files git tracks plus untracked files git does not ignore.

Counting: a pytest-based suite counts its test cases (from its JUnit XML); a tool-based
suite (sanity, lint, build, ...) counts as one check that passes or fails as a whole.
Every suite's full output goes to tests/output/harness/<suite>.log; the tail of a failing
suite's log is printed.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import xml.etree.ElementTree as ET  # only our own pytest JUnit files are parsed
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
PYTHON_VERSION = "%d.%d" % sys.version_info[:2]
OUTPUT = os.path.join(ROOT, "tests", "output", "harness")


@dataclass
class SuiteResult:
    name: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    notes: list = field(default_factory=list)
    figures: list = field(default_factory=list)


class Harness:
    def __init__(self, keep_tree: bool) -> None:
        self.keep_tree = keep_tree
        self.workdir = tempfile.mkdtemp(prefix="mcvpn-harness-")
        self.collections = os.path.join(self.workdir, "collections")
        self.tree = os.path.join(self.collections, "ansible_collections", "multicloud", "vpn")
        os.makedirs(OUTPUT, exist_ok=True)
        self._copy_tree()

    def _copy_tree(self) -> None:
        listing = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                                 capture_output=True).stdout.decode().split("\0")
        for relative in filter(None, listing):
            source = os.path.join(ROOT, relative)
            if not os.path.isfile(source):
                continue  # deleted in the work tree but still tracked
            target = os.path.join(self.tree, relative)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(source, target)
        # ansible-test wants a git repository or none; give it a clean one of its own so that
        # it lists exactly these files and never reaches into the developer's checkout.
        subprocess.run(["git", "init", "-q"], cwd=self.tree, check=True)
        subprocess.run(["git", "add", "-A"], cwd=self.tree, check=True)
        subprocess.run(["git", "-c", "user.name=harness", "-c", "user.email=harness@localhost", "commit", "-qm", "tree"],
                       cwd=self.tree, check=True)

    def cleanup(self) -> None:
        if self.keep_tree:
            print("[harness] kept the test tree at %s" % self.tree)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- helpers -------------------------------------------------------------------------
    def env(self, **extra: str) -> dict:
        env = dict(os.environ)
        env["PATH"] = BIN + os.pathsep + env.get("PATH", "")
        env["ANSIBLE_COLLECTIONS_PATH"] = self.collections + os.pathsep + os.path.join(
            sys.prefix, "lib", "python%s" % PYTHON_VERSION, "site-packages")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [self.collections, env.get("PYTHONPATH")]))
        env.setdefault("ANSIBLE_NOCOLOR", "1")
        env.update(extra)
        return env

    def run(self, suite: str, command: list, cwd: str | None = None, env: dict | None = None,
            timeout: int = 3600) -> int:
        log_path = os.path.join(OUTPUT, "%s.log" % suite)
        with open(log_path, "a", encoding="utf-8") as log:
            log.write("$ %s\n" % " ".join(command))
            log.flush()
            try:
                completed = subprocess.run(command, cwd=cwd or self.tree, env=env or self.env(), stdout=log,
                                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=timeout,
                                           check=False)
            except subprocess.TimeoutExpired:
                log.write("\n[harness] timed out after %d s\n" % timeout)
                return 124
        return completed.returncode

    def pytest(self, suite: str, result: SuiteResult, args: list, env: dict | None = None, timeout: int = 3600) -> None:
        junit = os.path.join(self.workdir, "%s.xml" % suite)
        code = self.run(suite, [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--junitxml", junit] + args,
                        env=env, timeout=timeout)
        counted = count_junit(junit, result)
        if code not in (0, 5) or (code != 0 and not counted):
            if result.failed == 0:
                result.failed = 1
                result.notes.append("pytest exited %d" % code)

    # -- suites --------------------------------------------------------------------------
    def suite_sanity(self, result: SuiteResult) -> None:
        code = self.run("sanity", ["ansible-test", "sanity", "--venv", "--python", PYTHON_VERSION, "--color", "no"])
        check(result, code == 0, "ansible-test sanity")
        ignores = [name for name in os.listdir(os.path.join(self.tree, "tests")) if name == "sanity"]
        if ignores:
            result.notes.append("tests/sanity present: every ignore entry must say why")

    def suite_units(self, result: SuiteResult) -> None:
        code = self.run("units", ["ansible-test", "units", "--venv", "--python", PYTHON_VERSION, "--requirements",
                                  "--color", "no"])
        junit_dir = os.path.join(self.tree, "tests", "output", "junit")
        counted = False
        for name in sorted(os.listdir(junit_dir)) if os.path.isdir(junit_dir) else []:
            counted = count_junit(os.path.join(junit_dir, name), result) or counted
        if code != 0 and result.failed == 0:
            result.failed = 1
            result.notes.append("ansible-test units exited %d" % code)
        if code == 0 and not counted:
            result.notes.append("no unit test ran")

    def suite_lint(self, result: SuiteResult) -> None:
        code = self.run("lint", ["ansible-lint", "--offline", "--profile", "production", "-q"])
        check(result, code == 0, "ansible-lint (production profile)")

    def suite_changelog(self, result: SuiteResult) -> None:
        code = self.run("changelog", ["antsibull-changelog", "lint"])
        check(result, code == 0, "antsibull-changelog lint")

    def suite_build(self, result: SuiteResult) -> None:
        dist = os.path.join(self.workdir, "dist")
        code = self.run("build", ["ansible-galaxy", "collection", "build", "--force", "--output-path", dist])
        if not check(result, code == 0, "ansible-galaxy collection build"):
            return
        tarball = os.path.join(dist, [name for name in os.listdir(dist) if name.endswith(".tar.gz")][0])
        with tarfile.open(tarball) as archive:
            names = archive.getnames()
        leaked = [name for name in names if name.split("/")[0] in ("tests", ".ci", ".venv", ".git", "inventories")
                  and name != "inventories" and not name.startswith("inventories/example")]
        check(result, not leaked, "tarball holds only the product" + (": %s" % leaked[:5] if leaked else ""))
        installed = os.path.join(self.workdir, "installed")
        code = self.run("build", ["ansible-galaxy", "collection", "install", "--offline", "--no-deps", "-p", installed, tarball])
        if check(result, code == 0, "ansible-galaxy collection install"):
            env = self.env(ANSIBLE_COLLECTIONS_PATH=installed)
            listing = subprocess.run(["ansible-doc", "-l", "multicloud.vpn"], env=env, capture_output=True, text=True,
                                     cwd=self.workdir, check=False)
            with open(os.path.join(OUTPUT, "build.log"), "a", encoding="utf-8") as log:
                log.write(listing.stdout + listing.stderr)
            modules = [line.split()[0] for line in listing.stdout.splitlines() if line.startswith("multicloud.vpn.")]
            check(result, listing.returncode == 0 and bool(modules), "ansible-doc -l multicloud.vpn lists %d modules" % len(modules))
        config = os.path.join(self.workdir, "galaxy-importer.cfg")
        with open(config, "w", encoding="utf-8") as handle:
            # ansible-test and ansible-lint run as suites of their own; the importer checks the rest.
            handle.write("[galaxy-importer]\nRUN_ANSIBLE_TEST = False\nRUN_ANSIBLE_LINT = False\nLOG_LEVEL_MAIN = INFO\n")
        code = self.run("build", [sys.executable, "-m", "galaxy_importer.main", tarball],
                        env=self.env(GALAXY_IMPORTER_CONFIG=config), cwd=self.workdir)
        check(result, code == 0, "galaxy-importer")

    def suite_ee(self, result: SuiteResult) -> None:
        context = os.path.join(self.workdir, "ee-context")
        code = self.run("ee", ["ansible-builder", "create", "-f", "meta/execution-environment.yml", "-c", context,
                               "--output-filename", "Containerfile"])
        built = os.path.join(context, "_build", "requirements.txt")
        with open(built, encoding="utf-8") if os.path.exists(built) else open(os.devnull, encoding="utf-8") as handle:
            python_deps = handle.read()
        with open(os.path.join(self.tree, "requirements.txt"), encoding="utf-8") as handle:
            wanted = [line.strip() for line in handle if line.strip() and not line.startswith("#")]
        missing = [line for line in wanted if line not in python_deps]
        check(result, code == 0 and os.path.exists(os.path.join(context, "Containerfile")) and not missing,
              "ansible-builder create produced a build context with requirements.txt" + (" (missing %s)" % missing if missing else ""))

    def suite_lab(self, result: SuiteResult) -> None:
        """Two pytest streams at once: the modules that use the data plane (one fabric at a time, in order) and
        the stand-in-only ones (reliability, bad inventories, module and stand-in contracts). Most of a lab test
        is waiting on SDK polls, tunnels and BGP, so the streams overlap well on two cores.
        MCVPN_LAB_SERIAL=1 runs them one after the other."""
        lab = os.path.join(self.tree, "tests", "lab")
        tests = sorted(name for name in os.listdir(lab) if name.startswith("test_") and name.endswith(".py")) if os.path.isdir(lab) else []
        if not tests:
            result.notes.append("no lab tests yet")
            return
        streams: dict = {"lab-dataplane": [], "lab-standins": []}
        for name in tests:
            with open(os.path.join(lab, name), encoding="utf-8") as handle:
                uses_data_plane = DATA_PLANE_MODULE.search(handle.read()) is not None
            streams["lab-dataplane" if uses_data_plane else "lab-standins"].append(os.path.join("tests", "lab", name))
        env = self.env(PYTHONPATH=os.pathsep.join([self.collections, lab]))
        parts = {name: SuiteResult(name) for name in streams}
        workers = [threading.Thread(target=self.pytest, args=(name, parts[name], files), kwargs={"env": env, "timeout": 5400})
                   for name, files in streams.items() if files]
        serial = os.environ.get("MCVPN_LAB_SERIAL") == "1"
        for worker in workers:
            worker.start()
            if serial:
                worker.join()
        for worker in workers:
            worker.join()
        for name, part in parts.items():
            result.passed += part.passed
            result.failed += part.failed
            result.skipped += part.skipped
            result.notes += part.notes
            result.notes.append("%s: %d files, %d passed, %d failed, %d skipped" % (name, len(streams[name]), part.passed, part.failed, part.skipped))
        result.figures = lab_figures(os.path.join(self.tree, "tests", "output"))


def lab_figures(directory: str) -> list:
    """One line per figures file the lab suites wrote (reliability_*.json, secrets.json, bad_inventory)."""
    lines = []
    for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
        if not (name.startswith(("reliability_", "secrets")) and name.endswith(".json")):
            continue
        with open(os.path.join(directory, name), encoding="utf-8") as handle:
            figures = json.load(handle)
        shutil.copy(os.path.join(directory, name), os.path.join(OUTPUT, name))
        lines.append("%s: %s" % (name[:-len(".json")], summarise_figures(figures)))
    return lines


def summarise_figures(figures: dict) -> str:
    """The headline numbers of a figures file; the whole file is copied to tests/output/harness/."""
    parts = []
    faults = figures.get("faults")
    if isinstance(faults, dict) and faults.get("seeds"):
        injected = faults.get("faults_injected", {})
        parts.append("faults injected %d over %d seeds, converged %d, duplicates %s" % (
            sum(injected.values()) if isinstance(injected, dict) else injected, faults["seeds"], faults.get("converged", 0),
            sum(faults.get("duplicates", {}).values()) if isinstance(faults.get("duplicates"), dict) else faults.get("duplicates")))
    kills = figures.get("interruptions")
    if isinstance(kills, dict) and kills.get("kills"):
        parts.append("kills %d, recoveries %d, teardown leftovers %s" % (kills["kills"], kills.get("recoveries", 0), kills.get("teardown_leftovers")))
    drift = figures.get("drift")
    if isinstance(drift, dict) and drift.get("injected"):
        parts.append("drifts repaired %d of %d" % (drift.get("repaired", 0), drift["injected"]))
    for key in ("cases", "refused_before_any_request", "runs_swept", "keys_checked", "secrets_found"):
        if key in figures:
            parts.append("%s %s" % (key.replace("_", " "), figures[key]))
    return "; ".join(parts) or json.dumps(figures)[:300]


# A lab test module that needs the data plane (namespaces, strongSwan, FRR) says so this way; a stand-in-only module
# can join that stream with LAB_STREAM = "dataplane" (to balance the two streams' lengths).
DATA_PLANE_MODULE = re.compile(r"data_plane_missing|^\s*from \.?dataplane|^\s*import dataplane|^LAB_STREAM = \"dataplane\"", re.MULTILINE)
SUITES = ["sanity", "units", "lint", "changelog", "build", "ee", "lab"]


def check(result: SuiteResult, ok: bool, what: str) -> bool:
    if ok:
        result.passed += 1
    else:
        result.failed += 1
        result.notes.append("FAILED: " + what)
    return ok


def count_junit(path: str, result: SuiteResult) -> bool:
    """Add a JUnit XML file's counts to result; False when there is no file."""
    if not os.path.exists(path):
        return False
    root = ET.parse(path).getroot()  # noqa: S314 - our own pytest output
    for case in root.iter("testcase"):
        outcome = {child.tag for child in case}
        if outcome & {"failure", "error"}:
            result.failed += 1
            result.notes.append("FAILED: %s::%s" % (case.get("classname"), case.get("name")))
        elif "skipped" in outcome:
            result.skipped += 1
        else:
            result.passed += 1
    return True


def tail(path: str, lines: int = 40) -> str:
    """The error lines of a log (ansible-test and ansible-lint mark them), then its last lines."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            content = handle.readlines()
    except OSError:
        return ""
    errors = [line for line in content if line.startswith(("ERROR", "FATAL", "E   ", "FAILED"))][:60]
    return "".join(errors + ["...\n"] + content[-lines:])


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suites", nargs="*", help="suites to run, of: %s (default: all)" % ", ".join(SUITES), metavar="SUITE")
    parser.add_argument("--keep-tree", action="store_true", help="keep the collection copy for inspection")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.suites) - set(SUITES))
    if unknown:
        parser.error("unknown suite(s) %s; known: %s" % (", ".join(unknown), ", ".join(SUITES)))
    suites = args.suites or SUITES
    shutil.rmtree(OUTPUT, ignore_errors=True)
    harness = Harness(keep_tree=args.keep_tree)
    results = []
    try:
        for name in suites:
            result = SuiteResult(name)
            print("[harness] %s ..." % name, flush=True)
            started = time.monotonic()
            getattr(harness, "suite_" + name)(result)
            result.seconds = time.monotonic() - started
            results.append(result)
            state = "FAILED" if result.failed else "ok"
            print("[harness] %-9s %s: %d passed, %d failed, %d skipped (%.0f s)" % (
                name, state, result.passed, result.failed, result.skipped, result.seconds), flush=True)
            for note in result.notes[:20]:
                print("           " + note)
            for line in result.figures:
                print("           figures " + line)
            if result.failed:
                for log in sorted(entry for entry in os.listdir(OUTPUT) if entry == name + ".log" or entry.startswith(name + "-")):
                    print("----- tail of tests/output/harness/%s -----" % log)
                    print(tail(os.path.join(OUTPUT, log)))
    finally:
        harness.cleanup()
    passed = sum(result.passed for result in results)
    failed = sum(result.failed for result in results)
    skipped = sum(result.skipped for result in results)
    print("\nSuites: " + ", ".join("%s %s" % (r.name, "FAILED" if r.failed else "ok") for r in results))
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""The playbooks as an AWX job template runs them: ansible-runner with a private data directory.

AWX injects credentials as environment variables (its AWS, Google Compute Engine and Azure RM
credential types) and passes survey answers as extra vars; the project is the repository and
the collection comes from the execution environment's collection path. This test builds such a
private data directory for the lab and runs aws_gcp_ha.yml (2 tunnels) and its teardown.
"""
from __future__ import annotations

import json
import os
import sys

import ansible_runner
import pytest
from labtools import REPO, LabSession, data_plane_missing

pytestmark = pytest.mark.skipif(data_plane_missing() is not None, reason=str(data_plane_missing()))


def private_data_dir(tmp_path, lab, extravars):
    root = tmp_path / "awx"
    (root / "env").mkdir(parents=True)
    (root / "inventory").mkdir()
    # What AWX's credential types inject, here pointing at the lab.
    envvars = dict(lab.environment)
    envvars["ANSIBLE_COLLECTIONS_PATH"] = os.path.join(lab.state_dir, "collections")
    envvars["ANSIBLE_NOCOLOR"] = "1"
    (root / "env" / "envvars").write_text(json.dumps(envvars))
    (root / "env" / "extravars").write_text(json.dumps(extravars))       # the survey's answers
    # The job template's inventory source: the lab inventory.
    for name in ("hosts.yml", "group_vars"):
        os.symlink(os.path.join(REPO, "inventories", "lab", name), root / "inventory" / name)
    os.symlink(REPO, root / "project")
    return str(root)


@pytest.fixture(scope="module")
def lab():
    with LabSession("mcvawx", (18880, 18881, 18882), data_plane=True) as session:
        yield session


def test_job_template_converges_and_tears_down(lab, tmp_path, monkeypatch):
    # The execution environment's ansible-playbook (here: the venv's) is what the runner finds.
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    data_dir = private_data_dir(tmp_path, lab, {"mcvpn_tunnels": 2})
    run = ansible_runner.run(private_data_dir=data_dir, playbook="playbooks/aws_gcp_ha.yml", quiet=True)
    output = run.stdout.read()
    assert run.status == "successful", output[-4000:]
    assert "-> UP" in output and "aws-probe -> gcp-probe: rtt" in output and "gcp-probe -> aws-probe: rtt" in output
    teardown = ansible_runner.run(private_data_dir=data_dir, playbook="playbooks/aws_gcp_ha_teardown.yml", quiet=True)
    assert teardown.status == "successful", teardown.stdout.read()[-4000:]

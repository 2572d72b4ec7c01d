"""Let ansible-test create its venvs without reaching ci-files.testing.ansible.com.

ansible-test bootstraps pip into each venv with a get-pip script it downloads, unless a cached
copy exists at ~/.ansible/test/cache/get_pip_<version>.py. This writes that cache: a small
script that installs pip from the pip wheel downloaded from PyPI (which we can reach).
Idempotent; run by tests/run.
"""
from __future__ import annotations

import glob
import os
import subprocess
import sys

SHIM = '''"""get-pip replacement written by multicloud.vpn tests/utils/ansible_test_offline.py."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
WHEEL = os.path.join(HERE, "{wheel}")
# get-pip.py options that pip itself does not know.
ARGS = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.path.insert(0, WHEEL)
from pip._internal.cli.main import main  # noqa: E402  pylint: disable=wrong-import-position

sys.exit(main(["install", "--find-links", HERE] + ARGS))
'''


def pip_version_for_ansible_test() -> str:
    from ansible_test._internal.python_requirements import get_venv_packages  # pylint: disable=import-outside-toplevel
    from ansible_test._internal.host_configs import NativePythonConfig  # pylint: disable=import-outside-toplevel

    return get_venv_packages(NativePythonConfig(version="3.11"))["pip"]


def main() -> int:
    version = pip_version_for_ansible_test()
    cache_dir = os.path.expanduser("~/.ansible/test/cache")
    target = os.path.join(cache_dir, "get_pip_%s.py" % version.replace(".", "_"))
    wheels = glob.glob(os.path.join(cache_dir, "pip-%s-*.whl" % version))
    if not wheels:
        os.makedirs(cache_dir, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
                        "--only-binary", ":all:", "-d", cache_dir, "pip==%s" % version], check=True)
        wheels = glob.glob(os.path.join(cache_dir, "pip-%s-*.whl" % version))
    shim = SHIM.format(wheel=os.path.basename(wheels[0]))
    current = open(target, encoding="utf-8").read() if os.path.exists(target) else None
    if current != shim:
        with open(target, "w", encoding="utf-8") as handle:
            handle.write(shim)
    return 0


if __name__ == "__main__":
    sys.exit(main())

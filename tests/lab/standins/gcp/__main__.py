# Entry point: PYTHONPATH=tests/lab python -m standins.gcp --port N
# Internal to the multicloud.vpn test lab; not shipped in the collection.
from __future__ import annotations

import signal
import sys

from . import main


def _stop(signum, frame):
    raise SystemExit(0)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _stop)
    sys.exit(main())

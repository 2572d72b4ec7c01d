# Entry point: PYTHONPATH=tests/lab python -m standins.gcp --port N
# Internal to the multicloud.vpn test lab; not shipped in the collection.
from __future__ import annotations

import sys

from standins.gcp import main

sys.exit(main())

# Entry point: python -m standins.azure --host 127.0.0.1 --port N [--config FILE]
# Internal to the multicloud.vpn test lab; not shipped in the collection.
from __future__ import annotations

import sys

from standins.azure import main

sys.exit(main())

# EC2 stand-in entry point: PYTHONPATH=tests/lab python -m standins.ec2 --host 127.0.0.1 --port N [--config FILE]
# Internal to the multicloud.vpn test lab; not shipped in the collection.
from __future__ import annotations

import sys

from standins.ec2 import main

sys.exit(main())

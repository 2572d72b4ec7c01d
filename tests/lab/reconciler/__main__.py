# Lab reconciler daemon entry point.
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""python -m reconciler --env ENV_JSON [--topology FILE] [--fabric lab] [--state-dir DIR] [--root DIR] [--interval 1.0] [--once]

Follows the stand-ins named in env.json (written by ``labctl start``), builds the fabric, writes status back.
SIGTERM/SIGINT: destroys the fabric and exits. Logs to <state-dir>/reconciler.log; never logs a PSK.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys

from .daemon import Reconciler
from .topology import load_topology

DEFAULT_FABRIC = "lab"


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reconciler", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--env", required=True, help="env.json written by labctl start (stand-in ports)")
    parser.add_argument("--topology", help="topology file (JSON/YAML): probe hosts per cloud side")
    parser.add_argument("--fabric", default=DEFAULT_FABRIC, help="fabric name; prefixes every namespace (default %(default)s)")
    parser.add_argument("--state-dir", help="log and status file directory (default: the env file's directory)")
    parser.add_argument("--root", default=None, help="data plane state root (default $MCVPN_LAB_ROOT or /run/mcvpn-lab)")
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--once", action="store_true", help="one cycle, print the summary, leave the fabric running")
    args = parser.parse_args(argv)
    state_dir = args.state_dir or os.path.dirname(os.path.abspath(args.env))
    os.makedirs(state_dir, exist_ok=True)
    logging.basicConfig(filename=os.path.join(state_dir, "reconciler.log"), level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s")
    with open(args.env, encoding="utf-8") as handle:
        env = json.load(handle)
    urls = {{"ec2": "aws"}.get(cloud, cloud): "http://127.0.0.1:%d" % port for cloud, port in env.get("ports", {}).items()}
    vyos_dir = os.path.join(state_dir, "vyos")   # VyOS routers' commands files (see translate.py)
    os.makedirs(vyos_dir, mode=0o700, exist_ok=True)
    reconciler = Reconciler(urls, load_topology(args.topology), args.fabric, root=args.root, interval=args.interval,
                            status_path=os.path.join(state_dir, "reconciler.json"), vyos_dir=vyos_dir)
    if args.once:
        print(json.dumps(reconciler.step(), indent=1, sort_keys=True))
        return 0
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_args: reconciler.stopping.set())
    reconciler.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

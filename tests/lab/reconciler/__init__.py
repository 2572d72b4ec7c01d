# Lab reconciler: makes the cloud stand-ins' objects real in the data plane.
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""The lab reconciler: the stand-ins' VPN objects -> a running IPsec + BGP fabric -> status back to the stand-ins.

    translate(states, topology, fabric_name) -> Translation   (pure: /_lab/state documents -> neutral description)
    build_reports(translation, fabric_status) -> {"aws", "gcp", "azure"}   (pure: status bodies for POST /_lab/status)
    Reconciler(urls, topology, fabric_name, root=None, interval=1.0, status_path=None).step() / .run() / .shutdown()
    load_topology(path), validate_topology(doc), probe_namespace(fabric_name, probe_name)

Run as a daemon: ``PYTHONPATH=tests/lab python -m reconciler --env <state-dir>/env.json --topology FILE``
(``labctl up`` does that). See README.md in this directory.
"""
from __future__ import annotations

from .daemon import Reconciler
from .report import build_reports
from .topology import TopologyError, load_topology, probe_namespace, validate_topology
from .translate import Translation, translate
from .vocabulary import VocabularyError

__all__ = ["Reconciler", "TopologyError", "Translation", "VocabularyError", "build_reports", "load_topology", "probe_namespace",
           "translate", "validate_topology"]

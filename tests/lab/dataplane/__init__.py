"""The lab's real data plane: strongSwan (kernel-libipsec) + FRR in network namespaces (test code, not shipped).

Public API: Fabric (create/attach/apply/status/ping/rekey/terminate/destroy), cleanup_stale,
normalize (the neutral description), SpecError, FabricError. See README.md in this directory.
"""
from __future__ import annotations

from .fabric import DEFAULT_ROOT, Fabric, FabricError, cleanup_stale, fabric_names
from .frr import frr_available
from .spec import SpecError, expected_prefixes, links, normalize
from .strongswan import charon_available

__all__ = ["DEFAULT_ROOT", "Fabric", "FabricError", "SpecError", "charon_available", "cleanup_stale", "expected_prefixes",
           "fabric_names", "frr_available", "links", "normalize", "prerequisites_missing"]


def prerequisites_missing() -> str | None:
    """A reason the data plane cannot run here, or None."""
    import os  # pylint: disable=import-outside-toplevel
    if os.geteuid() != 0:
        return "the lab data plane needs root (network namespaces, veth, TUN)"
    if not charon_available():
        return "strongSwan charon/swanctl not installed (strongswan-charon, strongswan-swanctl, libcharon-extra-plugins)"
    if not frr_available():
        return "FRR (zebra, bgpd, vtysh) not installed (apt package frr)"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing (kernel-libipsec needs TUN)"
    return None

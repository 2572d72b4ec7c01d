# Lab reconciler: the lab topology file (probe hosts per cloud side).
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""The lab topology file: which probe hosts stand in each cloud side (JSON or YAML).

Everything else (sites, tunnels, addresses, keys) comes from the stand-ins. Schema::

    aws:
      probes:                                   # joins the AWS site (VGW) whose attached VPC CIDRs contain the address
        - {name: aws-probe, address: 10.0.1.10/24}
    gcp:
      subnets: {vpc: [10.10.0.0/16]}            # optional: a GCP network's subnets (the stand-in has no subnetworks);
                                                #   a plain list applies to every network; default: the probes' subnets
      probes:
        - {name: gcp-probe, address: 10.10.1.10/24, network: vpc}   # network optional (default: the first GCP site)
    azure:
      probes:                                   # joins the Azure site (gateway) whose VNet address space contains it
        - {name: azure-probe, address: 10.1.1.10/24}
    vyos_routers:
      probes:                                   # joins the lab's VyOS router (a commands file, see translate.py) whose
        - {name: vyos-probe, address: 10.20.1.10/24}   # BGP networks contain it: an instance in the router's VPC

A probe's network namespace is ``<fabric>-p-<name>`` (``probe_namespace``); ``labctl up`` runs the fabric
``lab``, so the probe ``aws-probe`` is reached with ``ansible_connection: multicloud.vpn.netns`` and
``ansible_netns_name: lab-p-aws-probe``. A probe exists while its cloud side has at least one tunnel.
"""
from __future__ import annotations

import ipaddress
import json
import re

CLOUDS = ("aws", "gcp", "azure")
SECTIONS = CLOUDS + ("vyos_routers",)    # the lab's "VyOS" routers: EC2 instances configured by a commands file
PROBE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")   # the data plane's id pattern


class TopologyError(ValueError):
    """The topology file is invalid; the message names the field."""


def probe_namespace(fabric_name: str, probe_name: str) -> str:
    """The network namespace of a probe host (what ansible_netns_name must say)."""
    return "%s-p-%s" % (fabric_name, probe_name)


def load_topology(path: str | None) -> dict:
    """Read and validate a topology file (.json, else YAML). None -> no probes."""
    if not path:
        return validate_topology({})
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    if path.endswith(".json"):
        document = json.loads(text)
    else:
        import yaml  # pylint: disable=import-outside-toplevel
        document = yaml.safe_load(text)
    return validate_topology(document or {})


def validate_topology(document: dict) -> dict:
    """A normalized copy: {cloud: {"probes": [{name, address, network}], "subnets": {network|"*": [cidr]}}}."""
    if not isinstance(document, dict):
        raise TopologyError("the topology must be a mapping of aws/gcp/azure/vyos_routers")
    unknown = set(document) - set(SECTIONS) - {"comment"}
    if unknown:
        raise TopologyError("unknown top-level keys: %s (expected %s)" % (", ".join(sorted(unknown)), ", ".join(SECTIONS)))
    result: dict = {}
    names: set = set()
    for cloud in SECTIONS:
        section = document.get(cloud) or {}
        if not isinstance(section, dict):
            raise TopologyError("%s: must be a mapping" % cloud)
        allowed = {"probes", "subnets"} if cloud == "gcp" else {"probes"}
        if set(section) - allowed:
            raise TopologyError("%s: unknown keys %s" % (cloud, ", ".join(sorted(set(section) - allowed))))
        probes = []
        for index, probe in enumerate(section.get("probes") or []):
            where = "%s.probes[%d]" % (cloud, index)
            if not isinstance(probe, dict):
                raise TopologyError("%s: must be a mapping" % where)
            keys = {"name", "address", "network"} if cloud == "gcp" else {"name", "address"}
            if set(probe) - keys:
                raise TopologyError("%s: unknown keys %s" % (where, ", ".join(sorted(set(probe) - keys))))
            name = probe.get("name")
            if not isinstance(name, str) or not PROBE_NAME.match(name):
                raise TopologyError("%s.name: %r must match %s" % (where, name, PROBE_NAME.pattern))
            if name in names:
                raise TopologyError("%s.name: duplicate probe name %r" % (where, name))
            names.add(name)
            try:
                address = ipaddress.IPv4Interface(str(probe.get("address")))
            except ValueError as exc:
                raise TopologyError("%s.address: %r is not an IPv4 address/prefix" % (where, probe.get("address"))) from exc
            if "/" not in str(probe.get("address")) or address.network.prefixlen >= 31:
                raise TopologyError("%s.address: %r needs a prefix length below 31" % (where, probe.get("address")))
            probes.append({"name": name, "address": str(address), "network": probe.get("network")})
        subnets: dict = {}
        raw_subnets = section.get("subnets") or {}
        if isinstance(raw_subnets, list):
            raw_subnets = {"*": raw_subnets}
        if not isinstance(raw_subnets, dict):
            raise TopologyError("%s.subnets: a list of CIDRs or {network: [CIDRs]}" % cloud)
        for network, cidrs in raw_subnets.items():
            try:
                subnets[str(network)] = sorted({str(ipaddress.IPv4Network(str(cidr))) for cidr in cidrs or []})
            except ValueError as exc:
                raise TopologyError("%s.subnets.%s: %s" % (cloud, network, exc)) from exc
        result[cloud] = {"probes": probes, "subnets": subnets}
    return result

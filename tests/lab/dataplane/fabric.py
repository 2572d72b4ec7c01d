"""A fabric of network namespaces running strongSwan + FRR, built from the neutral description (lab test code).

Layout (N = the fabric name):
  N-inet          the "internet": routes the outside addresses between endpoint namespaces
  N-r-<site>      one router per site: FRR (zebra, bgpd) with the site's ASN and networks
  N-e-<endpoint>  one namespace per tunnel end: charon (kernel-libipsec, TUN ipsec0), veth "out" to
                  the internet, veth "vti" to the site router (the router side holds inside_ip)
  N-p-<probe>     one per probe host, routed via its site router
"""
from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
import threading
import time

from . import frr, strongswan, system
from .spec import (BGP_FIELDS, IPSEC_FIELDS, WIRING_FIELDS, Names, endpoint_by_id, expected_prefixes, links, normalize,
                   shared_outside_ips, site_by_id)

DEFAULT_ROOT = os.environ.get("MCVPN_LAB_ROOT", "/run/mcvpn-lab")
STATE_FILE = "state.json"
INET_TABLE_BASE = 1000
NAT_TABLE = "mcvpn_nat"      # nftables table of the internet namespace: 1:1 NAT (spec "nat")
STATIC_METRIC_BASE = 100     # static routes: one per tunnel and prefix, metric 100 + endpoint index (first tunnel up wins)
SITE_FIELDS = ("asn", "router_id", "networks", "max_paths")
NO_IPV6 = {"net.ipv6.conf.all.disable_ipv6": 1, "net.ipv6.conf.default.disable_ipv6": 1}


class FabricError(RuntimeError):
    """The fabric could not be built or changed."""


def _probe_gateway(address: str) -> str:
    """The router-side gateway address for a probe: first host of its network, or the last one if the probe has that."""
    iface = ipaddress.IPv4Interface(address)
    hosts = list(iface.network.hosts()) if iface.network.num_addresses <= 65536 else None
    if hosts is None:
        first = iface.network.network_address + 1
        last = iface.network.broadcast_address - 1
    else:
        first, last = hosts[0], hosts[-1]
    return str(first if first != iface.ip else last)


def link_address(index: int) -> str:
    """The router-side address of a static endpoint's VTI when the cloud gives it no inside address (fabric-internal)."""
    return "100.127.%d.%d/30" % (index // 64, (index % 64) * 4 + 1)


def _free_index(used: dict) -> int:
    taken = set(used.values())
    index = 0
    while index in taken:
        index += 1
    return index


class Fabric:
    """A running (or attachable) fabric. Build with Fabric.create(description), reattach with Fabric.attach(name)."""

    def __init__(self, name: str, root: str | None = None):
        self.name = name
        self.root = root or DEFAULT_ROOT
        self.directory = os.path.join(self.root, name)
        self.names = Names(name)
        self.state: dict = {}

    # ------------------------------------------------------------------ state
    @property
    def spec(self) -> dict:
        return self.state["spec"]

    def _save(self) -> None:
        path = os.path.join(self.directory, STATE_FILE)
        tmp = path + ".tmp"
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
            json.dump(self.state, handle, indent=1, sort_keys=True)
        os.replace(tmp, path)

    @classmethod
    def attach(cls, name: str, root: str | None = None) -> "Fabric":
        fabric = cls(name, root)
        try:
            with open(os.path.join(fabric.directory, STATE_FILE), encoding="utf-8") as handle:
                fabric.state = json.load(handle)
        except FileNotFoundError as exc:
            raise FabricError("no fabric %r under %s" % (name, fabric.root)) from exc
        return fabric

    def _endpoint_dir(self, endpoint_id: str) -> str:
        return os.path.join(self.directory, "e", endpoint_id)

    def _router_dir(self, site_id: str) -> str:
        return os.path.join(self.directory, "r", site_id)

    def charon(self, endpoint_id: str) -> strongswan.EndpointDaemon:
        return strongswan.EndpointDaemon(self._endpoint_dir(endpoint_id), endpoint_id, self.names.endpoint(endpoint_id))

    def router(self, site_id: str) -> frr.RouterDaemons:
        return frr.RouterDaemons(self._router_dir(site_id), site_id, self.names.router(site_id))

    def _endpoint_index(self, endpoint_id: str) -> int:
        return self.state["indices"]["endpoints"][endpoint_id]

    def _wired(self, endpoint: dict) -> dict:
        """The endpoint with the address its router side really holds (static endpoints may have none of their own)."""
        if endpoint["inside_ip"] is not None:
            return endpoint
        return dict(endpoint, inside_ip=link_address(self._endpoint_index(endpoint["id"])))

    def _probe_index(self, probe_name: str) -> int:
        return self.state["indices"]["probes"][probe_name]

    # ------------------------------------------------------------------ build
    @classmethod
    def create(cls, description: dict, root: str | None = None, detached: bool = False) -> "Fabric":
        """Build namespaces, links and daemons for `description`; return without waiting for tunnels.

        detached=True marks the fabric as owned by nobody (CLI use): cleanup_stale() leaves it alone unless forced.
        """
        spec = normalize(description)
        fabric = cls(spec["name"], root)
        if os.path.exists(os.path.join(fabric.directory, STATE_FILE)) or any(
                Names.fabric_of_namespace(ns) == spec["name"] for ns in system.list_namespaces()):
            raise FabricError("fabric %r already exists: destroy it first (or cleanup_stale)" % spec["name"])
        os.makedirs(fabric.directory, mode=0o755, exist_ok=True)
        os.chmod(fabric.directory, 0o755)
        os.chmod(fabric.root, 0o755)
        owner = None if detached else {"pid": os.getpid(), "start_time": system.process_start_time(os.getpid())}
        fabric.state = {"name": spec["name"], "spec": spec, "owner": owner, "created": time.time(),
                        "indices": {"endpoints": {}, "probes": {}}, "processes": {}, "log_marks": {},
                        "applied": {"inet": {}, "router_rules": {}}}
        try:
            fabric._build(spec)
        except BaseException:
            fabric.destroy()
            raise
        return fabric

    def _build(self, spec: dict) -> None:
        started = time.monotonic()
        indices = self.state["indices"]
        for endpoint in spec["endpoints"]:
            indices["endpoints"][endpoint["id"]] = _free_index(indices["endpoints"])
        for site in spec["sites"]:
            for probe in site["probes"]:
                indices["probes"][probe["name"]] = _free_index(indices["probes"])
        self._save()
        namespaces = [self.names.inet]
        namespaces += [self.names.router(site["id"]) for site in spec["sites"]]
        namespaces += [self.names.endpoint(endpoint["id"]) for endpoint in spec["endpoints"]]
        namespaces += [self.names.probe(probe["name"]) for site in spec["sites"] for probe in site["probes"]]
        for namespace in namespaces:
            system.add_namespace(namespace)
        for site in spec["sites"]:
            self._prepare_router_namespace(site["id"])
        links_cmds = [self._veth_commands_endpoint(endpoint) for endpoint in spec["endpoints"]]
        links_cmds += [self._veth_command_probe(site, probe) for site in spec["sites"] for probe in site["probes"]]
        system.ip_batch(None, [cmd for group in links_cmds for cmd in (group if isinstance(group, list) else [group])])
        self._configure_inet_base(spec)
        for site in spec["sites"]:
            self._configure_router_namespace(site, spec)
            for probe in site["probes"]:
                self._configure_probe(site, probe)
        for endpoint in spec["endpoints"]:
            self._configure_endpoint_namespace(endpoint)
        self._sync_inet_routes(spec)
        self._sync_inet_nat(spec)
        for site in spec["sites"]:
            self._sync_router_rules(site["id"], spec)
            self._sync_static_routes(site["id"], spec)
        # daemons: all charons and zebras first (they start in parallel), then bgpd, then IKE configs
        for endpoint in spec["endpoints"]:
            self._start_charon(endpoint)
        for site in spec["sites"]:
            self._start_router(site, spec)
        self._save()
        for endpoint in spec["endpoints"]:
            self._finish_endpoint(endpoint)
        for endpoint in sorted(spec["endpoints"], key=lambda ep: ep["start"] != "wait"):
            self._load_endpoint(endpoint, initiate=endpoint["start"] == "initiate")
        self.state["build_seconds"] = round(time.monotonic() - started, 3)
        self._save()

    def _veth_commands_endpoint(self, endpoint: dict) -> list:
        index = self._endpoint_index(endpoint["id"])
        ns_endpoint = self.names.endpoint(endpoint["id"])
        return [
            "link add %s netns %s type veth peer name %s netns %s" % (
                Names.INET_TO_ENDPOINT % index, self.names.inet, Names.ENDPOINT_OUTSIDE, ns_endpoint),
            "link add %s netns %s type veth peer name %s netns %s" % (
                Names.ROUTER_TO_ENDPOINT % index, self.names.router(endpoint["site"]), Names.ENDPOINT_VTI, ns_endpoint),
        ]

    def _veth_command_probe(self, site: dict, probe: dict) -> str:
        return "link add %s netns %s type veth peer name %s netns %s" % (
            Names.ROUTER_TO_PROBE % self._probe_index(probe["name"]), self.names.router(site["id"]),
            Names.PROBE_IFACE, self.names.probe(probe["name"]))

    def _configure_inet_base(self, spec: dict) -> None:
        system.sysctl(self.names.inet, {**NO_IPV6, "net.ipv4.ip_forward": 1, "net.ipv4.conf.all.rp_filter": 0,
                                        "net.ipv4.conf.default.rp_filter": 0})
        commands = ["link set lo up"]
        for endpoint in spec["endpoints"]:
            commands += self._inet_link_commands(endpoint)
        system.ip_batch(self.names.inet, commands)

    def _inet_link_commands(self, endpoint: dict) -> list:
        iface = Names.INET_TO_ENDPOINT % self._endpoint_index(endpoint["id"])
        return ["link set %s up" % iface, "addr add %s/32 dev %s" % (Names.INET_GATEWAY, iface)]

    def _inet_entries(self, spec: dict) -> dict:
        """{endpoint_id: [ip commands (add form)]} routing each outside address to the namespace(s) holding it.

        An address held by one endpoint gets a plain /32 route. An address held by several endpoint
        namespaces (an AWS customer gateway IP serving two tunnels, a GCP HA interface serving two) is
        routed by source: packets from the endpoint's remote_ip to the shared address use the
        endpoint's own table, whose /32 route points at that endpoint's namespace.
        """
        shared = shared_outside_ips(spec)
        entries = {}
        for endpoint in spec["endpoints"]:
            index = self._endpoint_index(endpoint["id"])
            iface = Names.INET_TO_ENDPOINT % index
            if endpoint["outside_ip"] in shared:
                table = INET_TABLE_BASE + index
                entries[endpoint["id"]] = [
                    "route add %s/32 dev %s table %d" % (endpoint["outside_ip"], iface, table),
                    "rule add from %s/32 to %s/32 lookup %d pref 100" % (endpoint["remote_ip"], endpoint["outside_ip"], table),
                ]
            else:
                entries[endpoint["id"]] = ["route add %s/32 dev %s" % (endpoint["outside_ip"], iface)]
        return entries

    def _sync_inet_routes(self, spec: dict) -> None:
        applied = self.state["applied"]["inet"]
        wanted = self._inet_entries(spec)
        removals, additions = [], []
        for endpoint_id, commands in applied.items():
            if wanted.get(endpoint_id) != commands:
                removals += [command.replace(" add ", " del ", 1) for command in commands]
        for endpoint_id, commands in wanted.items():
            if applied.get(endpoint_id) != commands:
                additions += commands
        system.ip_batch(self.names.inet, removals, force=True)
        system.ip_batch(self.names.inet, additions)
        self.state["applied"]["inet"] = wanted

    def _sync_inet_nat(self, spec: dict) -> None:
        """1:1 NAT (an Elastic IP) in the internet namespace, with nftables: DNAT public -> private on the way in,
        SNAT private -> public on the way out; a packet addressed to the private address that was not translated
        (someone on the internet using the private address) is dropped, as the internet would, and so is a packet
        that uses the public address as its source before translation."""
        wanted = spec.get("nat") or []
        applied = self.state["applied"].get("nat") or []
        if wanted == applied:
            return
        nft = shutil.which("nft") or "/usr/sbin/nft"
        if not os.path.exists(nft):
            raise FabricError("1:1 NAT needs nftables (the nft command; Debian package nftables)")
        lines = ["table ip %s" % NAT_TABLE, "delete table ip %s" % NAT_TABLE]
        if wanted:
            pre = "; ".join("ip daddr %s dnat to %s" % (item["public_ip"], item["private_ip"]) for item in wanted)
            post = "; ".join("ip saddr %s snat to %s" % (item["private_ip"], item["public_ip"]) for item in wanted)
            # in the forward hook SNAT has not happened yet: a packet with the public address as its source was sent by
            # a host that claims the public address itself (a router configured with the Elastic IP as its local
            # address), which the NAT owns: dropped, as EC2 never delivers it
            forward = "; ".join("ip daddr {0} ct status dnat accept; ip daddr {0} ct status snat accept; ip daddr {0} drop; "
                                "ip saddr {1} drop".format(item["private_ip"], item["public_ip"]) for item in wanted)
            lines += ["table ip %s {" % NAT_TABLE,
                      "  chain nat_in { type nat hook prerouting priority dstnat; policy accept; %s; }" % pre,
                      "  chain nat_out { type nat hook postrouting priority srcnat; policy accept; %s; }" % post,
                      "  chain private_guard { type filter hook forward priority filter; policy accept; %s; }" % forward,
                      "}"]
        system.run([system.IP, "netns", "exec", self.names.inet, nft, "-f", "-"], stdin="\n".join(lines) + "\n")
        self.state["applied"]["nat"] = wanted

    def _router_rules(self, site_id: str, spec: dict) -> list:
        """A router accepts an inside (BGP link) source only on the veth of its own tunnel: a swapped inside
        address cannot sneak through another tunnel by Linux's weak-host model. For /32 inside addresses
        (Azure-style BGP addresses) the other tunnels' BGP peer addresses are refused too."""
        endpoints = [self._wired(ep) for ep in spec["endpoints"] if ep["site"] == site_id]
        rules = []
        for endpoint in endpoints:
            iface = Names.ROUTER_TO_ENDPOINT % self._endpoint_index(endpoint["id"])
            own = ipaddress.IPv4Interface(endpoint["inside_ip"]).network
            sources = []
            for other in endpoints:
                if other["id"] == endpoint["id"]:
                    continue
                sources.append(ipaddress.IPv4Interface(other["inside_ip"]).network)
                if other["bgp_peer_ip"] and ipaddress.IPv4Interface(other["inside_ip"]).network.prefixlen == 32:
                    sources.append(ipaddress.IPv4Network(other["bgp_peer_ip"] + "/32"))
            for network in sorted(set(sources)):
                if not network.overlaps(own) and str(network.network_address) != endpoint["bgp_peer_ip"]:
                    rules.append("rule add iif %s from %s blackhole pref 100" % (iface, network))
        return rules

    def _static_routes(self, site_id: str, spec: dict) -> list:
        """ip route commands (replace form) for the static endpoints of a site: each prefix via each tunnel's VTI,
        metric by endpoint index; a tunnel whose SA is down has no carrier, so its routes are skipped
        (ignore_routes_with_linkdown) and the next tunnel's route carries the traffic."""
        commands = []
        for endpoint in spec["endpoints"]:
            if endpoint["site"] != site_id or endpoint["routing"] != "static":
                continue
            index = self._endpoint_index(endpoint["id"])
            for prefix in endpoint["static_routes"]:
                commands.append("route replace %s dev %s metric %d" % (prefix, Names.ROUTER_TO_ENDPOINT % index, STATIC_METRIC_BASE + index))
        return commands

    def _sync_static_routes(self, site_id: str, spec: dict) -> None:
        applied_all = self.state["applied"].setdefault("static_routes", {})
        applied = applied_all.get(site_id, [])
        wanted = self._static_routes(site_id, spec)
        namespace = self.names.router(site_id)
        system.ip_batch(namespace, [route.replace(" replace ", " del ", 1) for route in applied if route not in wanted], force=True)
        # always (re)install: a rebuilt endpoint's new veth lost the routes of the old one
        system.ip_batch(namespace, wanted, force=True)
        applied_all[site_id] = wanted

    def _sync_router_rules(self, site_id: str, spec: dict) -> None:
        applied = self.state["applied"]["router_rules"].get(site_id, [])
        wanted = self._router_rules(site_id, spec)
        namespace = self.names.router(site_id)
        system.ip_batch(namespace, [rule.replace(" add ", " del ", 1) for rule in applied if rule not in wanted], force=True)
        system.ip_batch(namespace, [rule for rule in wanted if rule not in applied])
        self.state["applied"]["router_rules"][site_id] = wanted

    def _prepare_router_namespace(self, site_id: str) -> None:
        """Sysctls of a new router namespace, before any veth exists: ignore_routes_with_linkdown is read per device
        (copied from `default` at creation), and without it a multipath route keeps hashing flows onto a tunnel
        whose VTI has lost carrier until zebra rewrites the route (~1 s)."""
        system.sysctl(self.names.router(site_id), {
            **NO_IPV6, "net.ipv4.ip_forward": 1, "net.ipv4.conf.all.rp_filter": 0, "net.ipv4.conf.default.rp_filter": 0,
            "net.ipv4.conf.all.ignore_routes_with_linkdown": 1, "net.ipv4.conf.default.ignore_routes_with_linkdown": 1})

    def _configure_router_namespace(self, site: dict, spec: dict) -> None:
        namespace = self.names.router(site["id"])
        # local delivery after the per-tunnel source rules (pref 100): a router must not accept, on tunnel A,
        # packets for its address on tunnel B (Linux's weak-host model would, and BGP would come up over swapped links)
        commands = ["link set lo up", "rule add pref 200 lookup local", "rule del pref 0 lookup local"]
        commands += ["route add blackhole %s" % network for network in site["networks"]]
        for endpoint in spec["endpoints"]:
            if endpoint["site"] == site["id"]:
                commands += self._router_endpoint_link_commands(endpoint)
        for probe in site["probes"]:
            iface = Names.ROUTER_TO_PROBE % self._probe_index(probe["name"])
            commands += ["link set %s up" % iface,
                         "addr add %s/32 dev %s" % (_probe_gateway(probe["address"]), iface),
                         "route add %s/32 dev %s" % (probe["address"].split("/")[0], iface)]
        system.ip_batch(namespace, commands)

    def _router_endpoint_link_commands(self, endpoint: dict) -> list:
        iface = Names.ROUTER_TO_ENDPOINT % self._endpoint_index(endpoint["id"])
        inside = self._wired(endpoint)["inside_ip"]
        commands = ["link set %s up" % iface, "addr add %s dev %s" % (inside, iface)]
        if endpoint["bgp_peer_ip"] and ipaddress.IPv4Interface(inside).network.prefixlen == 32:
            commands.append("route add %s/32 dev %s" % (endpoint["bgp_peer_ip"], iface))   # the peer is reached through this tunnel
        return commands

    def _configure_probe(self, site: dict, probe: dict) -> None:
        del site
        namespace = self.names.probe(probe["name"])
        system.sysctl(namespace, NO_IPV6)
        system.ip_batch(namespace, [
            "link set lo up", "link set %s up" % Names.PROBE_IFACE,
            "addr add %s dev %s" % (probe["address"], Names.PROBE_IFACE),
            "route add default via %s dev %s onlink" % (_probe_gateway(probe["address"]), Names.PROBE_IFACE)])

    def _configure_endpoint_namespace(self, endpoint: dict) -> None:
        namespace = self.names.endpoint(endpoint["id"])
        vti = Names.ENDPOINT_VTI
        system.sysctl(namespace, {
            **NO_IPV6, "net.ipv4.ip_forward": 1, "net.ipv4.conf.all.rp_filter": 0, "net.ipv4.conf.default.rp_filter": 0,
            "net.ipv4.conf.%s.rp_filter" % vti: 0, "net.ipv4.conf.%s.proxy_arp" % vti: 1,
            "net.ipv4.neigh.%s.proxy_delay" % vti: 0})
        outside = Names.ENDPOINT_OUTSIDE
        system.ip_batch(namespace, [
            "link set lo up",
            "link set %s up" % outside,
            "addr add %s/32 dev %s" % (endpoint["outside_ip"], outside),
            "route add %s/32 dev %s scope link" % (Names.INET_GATEWAY, outside),
            "route add default via %s dev %s src %s" % (Names.INET_GATEWAY, outside, endpoint["outside_ip"]),
            # from the router: only into the tunnel, never in clear
            "rule add iif %s lookup %d pref 100" % (vti, Names.TUNNEL_TABLE),
            "rule add iif %s blackhole pref 101" % vti,
            # out of the tunnel: only to the router
            "rule add iif ipsec0 lookup %d pref 110" % Names.ROUTER_TABLE,
            "rule add iif ipsec0 blackhole pref 111",
            # from the internet: only what is addressed to this endpoint (local table, pref 0), nothing forwarded
            "rule add iif %s blackhole pref 120" % outside,
        ])

    def _start_charon(self, endpoint: dict) -> None:
        daemon = self.charon(endpoint["id"])
        daemon.write_config(self._wired(endpoint))
        self.state["processes"]["charon/" + endpoint["id"]] = daemon.start()

    def _finish_endpoint(self, endpoint: dict) -> None:
        """After charon is up: its TUN ipsec0 exists; route the router's traffic into it."""
        daemon = self.charon(endpoint["id"])
        record = self.state["processes"]["charon/" + endpoint["id"]]
        system.wait_for(lambda: daemon.ready() or not system.alive(record), 15, what="charon of %s" % endpoint["id"])
        if not system.alive(record):
            raise FabricError("charon of %s exited: see %s" % (endpoint["id"], os.path.join(daemon.directory, "charon.out")))
        namespace = self.names.endpoint(endpoint["id"])
        system.wait_for(lambda: system.run([system.IP, "-n", namespace, "link", "show", "ipsec0"], check=False).returncode == 0,
                        10, what="ipsec0 in %s" % namespace)
        system.ip_batch(namespace, ["route replace default dev ipsec0 table %d" % Names.TUNNEL_TABLE])

    def _load_endpoint(self, endpoint: dict, initiate: bool, restart_sas: bool = False) -> None:
        daemon = self.charon(endpoint["id"])
        self.state["log_marks"][endpoint["id"]] = daemon.log_size()
        daemon.load()
        if restart_sas:
            daemon.terminate()
        if initiate:
            daemon.initiate()

    def _start_router(self, site: dict, spec: dict) -> None:
        daemons = self.router(site["id"])
        daemons.write_config(site, [ep for ep in spec["endpoints"] if ep["site"] == site["id"]])
        zebra, bgpd = daemons.start()
        self.state["processes"]["zebra/" + site["id"]] = zebra
        self.state["processes"]["bgpd/" + site["id"]] = bgpd
        system.wait_for(daemons.ready, 15, what="FRR of site %s" % site["id"])

    def _stop_router(self, site_id: str) -> None:
        records = [self.state["processes"].pop(key) for key in ("bgpd/" + site_id, "zebra/" + site_id) if key in self.state["processes"]]
        system.stop_processes(records)

    # ------------------------------------------------------------------ apply
    def apply(self, description: dict) -> dict:
        """Reconcile the running fabric with a new description. Returns what changed, by kind.

        Endpoints: removed/added; a changed site, outside_ip or inside_ip rebuilds the endpoint;
        changed IPsec fields reload swanctl, close the old SAs and initiate again (start=initiate);
        changed BGP fields reconfigure the neighbour. Sites: changed ASN/router id/networks restart
        that site's FRR; probes are added/removed.
        """
        new = normalize(description)
        if new["name"] != self.name:
            raise FabricError("apply() cannot rename fabric %s to %s" % (self.name, new["name"]))
        old = self.spec
        old_sites, new_sites = site_by_id(old), site_by_id(new)
        old_eps, new_eps = endpoint_by_id(old), endpoint_by_id(new)
        changes: dict = {"endpoints_removed": [], "endpoints_added": [], "endpoints_rebuilt": [], "ipsec_reconfigured": [],
                         "bgp_reconfigured": [], "sites_added": [], "sites_removed": [], "sites_restarted": [],
                         "probes_added": [], "probes_removed": []}
        rebuild = [eid for eid in old_eps if eid in new_eps and any(old_eps[eid][f] != new_eps[eid][f] for f in WIRING_FIELDS)]
        removed = [eid for eid in old_eps if eid not in new_eps]
        added = [eid for eid in new_eps if eid not in old_eps]
        restart_sites = [sid for sid in new_sites if sid in old_sites and any(old_sites[sid][f] != new_sites[sid][f] for f in SITE_FIELDS)]

        # 1. take away: endpoints, probes, sites
        for endpoint_id in removed + rebuild:
            self._remove_endpoint(old_eps[endpoint_id], reconfigure_bgp=old_eps[endpoint_id]["site"] not in restart_sites
                                  and old_eps[endpoint_id]["site"] in new_sites)
        changes["endpoints_removed"] = removed
        for site_id, site in old_sites.items():
            new_probes = {p["name"]: p for p in new_sites[site_id]["probes"]} if site_id in new_sites else {}
            for probe in site["probes"]:
                if new_probes.get(probe["name"]) != probe:
                    self._remove_probe(site_id, probe)
                    changes["probes_removed"].append(probe["name"])
        for site_id in old_sites:
            if site_id not in new_sites:
                self._stop_router(site_id)
                system.delete_namespace(self.names.router(site_id))
                self.state["applied"]["router_rules"].pop(site_id, None)
                changes["sites_removed"].append(site_id)
        self.state["spec"] = dict(old, sites=[s for s in old["sites"] if s["id"] in new_sites],
                                  endpoints=[e for e in old["endpoints"] if e["id"] not in removed + rebuild])
        self._save()

        # 2. sites: new ones get a router namespace; changed ones restart FRR after endpoints exist
        for site_id, site in new_sites.items():
            if site_id not in old_sites:
                system.add_namespace(self.names.router(site_id))
                self._prepare_router_namespace(site_id)
                self._configure_router_namespace(dict(site, probes=[]), {"endpoints": []})
                changes["sites_added"].append(site_id)
            elif site["networks"] != old_sites[site_id]["networks"]:
                namespace = self.names.router(site_id)
                system.ip_batch(namespace, ["route del blackhole %s" % n for n in old_sites[site_id]["networks"]], force=True)
                system.ip_batch(namespace, ["route add blackhole %s" % n for n in site["networks"]])
        for site_id, site in new_sites.items():
            old_probes = {p["name"]: p for p in old_sites[site_id]["probes"]} if site_id in old_sites else {}
            for probe in site["probes"]:
                if old_probes.get(probe["name"]) != probe:
                    self._add_probe(site, probe)
                    changes["probes_added"].append(probe["name"])

        # 3. endpoints: add new and rebuilt ones (wiring + charon)
        fresh = [new_eps[eid] for eid in added + rebuild]
        for endpoint in fresh:
            self._add_endpoint_wiring(endpoint)
        self.state["spec"] = new
        self._sync_inet_routes(new)
        self._sync_inet_nat(new)
        for site_id in new_sites:
            self._sync_router_rules(site_id, new)
            self._sync_static_routes(site_id, new)
        for endpoint in fresh:
            self._start_charon(endpoint)
        self._save()
        for endpoint in fresh:
            self._finish_endpoint(endpoint)

        # 4. FRR: restart changed/new sites; elsewhere reconfigure neighbours incrementally
        for site_id, site in new_sites.items():
            if site_id in restart_sites or site_id not in old_sites:
                self._stop_router(site_id)
                self._start_router(site, new)
                if site_id in restart_sites:
                    changes["sites_restarted"].append(site_id)
        for endpoint_id, endpoint in new_eps.items():
            site_id = endpoint["site"]
            if site_id in restart_sites or site_id not in old_sites:
                continue
            if endpoint["routing"] != "bgp":
                continue
            if endpoint_id in added or endpoint_id in rebuild:
                self.router(site_id).configure(new_sites[site_id]["asn"], frr.neighbor_lines(endpoint))
                self.router(site_id).write_config(new_sites[site_id], [ep for ep in new["endpoints"] if ep["site"] == site_id])
            elif any(old_eps[endpoint_id][f] != endpoint[f] for f in BGP_FIELDS):
                lines = [" no neighbor %s" % old_eps[endpoint_id]["bgp_peer_ip"]] + frr.neighbor_lines(endpoint)
                self.router(site_id).configure(new_sites[site_id]["asn"], lines)
                self.router(site_id).write_config(new_sites[site_id], [ep for ep in new["endpoints"] if ep["site"] == site_id])
                changes["bgp_reconfigured"].append(endpoint_id)

        # 5. IPsec: load new endpoints; reload changed ones, close their SAs, initiate again
        for endpoint in sorted(fresh, key=lambda ep: ep["start"] != "wait"):
            self._load_endpoint(endpoint, initiate=endpoint["start"] == "initiate")
        changes["endpoints_added"] = added
        changes["endpoints_rebuilt"] = rebuild
        for endpoint_id, endpoint in new_eps.items():
            if endpoint_id in added or endpoint_id in rebuild:
                continue
            if any(old_eps[endpoint_id][f] != endpoint[f] for f in IPSEC_FIELDS):
                self.charon(endpoint_id).write_config(self._wired(endpoint))
                self._load_endpoint(endpoint, initiate=endpoint["start"] == "initiate", restart_sas=True)
                changes["ipsec_reconfigured"].append(endpoint_id)
        self.state["spec"] = new
        self._save()
        return changes

    def _add_endpoint_wiring(self, endpoint: dict) -> None:
        self.state["indices"]["endpoints"][endpoint["id"]] = _free_index(self.state["indices"]["endpoints"])
        system.add_namespace(self.names.endpoint(endpoint["id"]))
        system.ip_batch(None, self._veth_commands_endpoint(endpoint))
        system.ip_batch(self.names.inet, self._inet_link_commands(endpoint))
        system.ip_batch(self.names.router(endpoint["site"]), self._router_endpoint_link_commands(endpoint))
        self._configure_endpoint_namespace(endpoint)

    def _remove_endpoint(self, endpoint: dict, reconfigure_bgp: bool) -> None:
        endpoint_id = endpoint["id"]
        record = self.state["processes"].pop("charon/" + endpoint_id, None)
        if record:
            self.charon(endpoint_id).terminate(timeout_ms=2000)
            system.stop_processes([record])
        index = self.state["indices"]["endpoints"].get(endpoint_id)
        if index is not None:
            # delete veths synchronously: namespace teardown is asynchronous and the names get reused
            system.ip_batch(self.names.inet, ["link del %s" % (Names.INET_TO_ENDPOINT % index)], force=True)
            system.ip_batch(self.names.router(endpoint["site"]), ["link del %s" % (Names.ROUTER_TO_ENDPOINT % index)], force=True)
        system.delete_namespace(self.names.endpoint(endpoint_id))
        commands = self.state["applied"]["inet"].pop(endpoint_id, [])
        system.ip_batch(self.names.inet, [command.replace(" add ", " del ", 1) for command in commands], force=True)
        if reconfigure_bgp and endpoint["routing"] == "bgp":
            site = site_by_id(self.spec)[endpoint["site"]]
            self.router(endpoint["site"]).configure(site["asn"], [" no neighbor %s" % endpoint["bgp_peer_ip"]])
        self.state["indices"]["endpoints"].pop(endpoint_id, None)
        self.state["log_marks"].pop(endpoint_id, None)
        shutil.rmtree(self._endpoint_dir(endpoint_id), ignore_errors=True)

    def _add_probe(self, site: dict, probe: dict) -> None:
        self.state["indices"]["probes"][probe["name"]] = _free_index(self.state["indices"]["probes"])
        system.add_namespace(self.names.probe(probe["name"]))
        system.ip_batch(None, [self._veth_command_probe(site, probe)])
        iface = Names.ROUTER_TO_PROBE % self._probe_index(probe["name"])
        system.ip_batch(self.names.router(site["id"]), [
            "link set %s up" % iface, "addr add %s/32 dev %s" % (_probe_gateway(probe["address"]), iface),
            "route add %s/32 dev %s" % (probe["address"].split("/")[0], iface)])
        self._configure_probe(site, probe)

    def _remove_probe(self, site_id: str, probe: dict) -> None:
        index = self.state["indices"]["probes"].pop(probe["name"], None)
        if index is not None:
            system.ip_batch(self.names.router(site_id), ["link del %s" % (Names.ROUTER_TO_PROBE % index)], force=True)
        system.delete_namespace(self.names.probe(probe["name"]))

    # ------------------------------------------------------------------ observe
    def status(self) -> dict:
        """Per endpoint: IKE SA state, CHILD_SA installed, BGP state + received prefixes; per link: healthy or not."""
        spec = self.spec
        peers = links(spec)
        expected = expected_prefixes(spec)
        neighbors = {}
        for site in spec["sites"]:
            record = self.state["processes"].get("bgpd/" + site["id"])
            neighbors[site["id"]] = self.router(site["id"]).bgp_neighbors() if record and system.alive(record) else {}
        endpoints = {}
        for endpoint in spec["endpoints"]:
            daemon = self.charon(endpoint["id"])
            record = self.state["processes"].get("charon/" + endpoint["id"])
            running = bool(record) and system.alive(record)
            entry = {"site": endpoint["site"], "outside_ip": endpoint["outside_ip"], "remote_ip": endpoint["remote_ip"],
                     "peer_endpoint": peers[endpoint["id"]], "charon_running": running}
            entry.update(strongswan.summarize_sas(daemon.sas() if running else []))
            static = endpoint["routing"] == "static"
            bgp = {} if static else neighbors[endpoint["site"]].get(endpoint["bgp_peer_ip"], {})
            entry["routing"] = endpoint["routing"]
            entry["static_routes"] = list(endpoint["static_routes"])
            entry["bgp"] = {"peer": endpoint["bgp_peer_ip"], "state": bgp.get("state"), "prefixes": bgp.get("prefixes", [])}
            entry["expected_prefixes"] = expected[endpoint["id"]]
            entry["errors"] = sorted({code for _stamp, code, _line in daemon.errors_since(self.state["log_marks"].get(endpoint["id"], 0))})
            problems = []
            if entry["ike_state"] != "ESTABLISHED":
                problems.append("IKE SA %s" % (entry["ike_state"] or "absent"))
            if not entry["child_installed"]:
                problems.append("no CHILD_SA installed")
            if not static and entry["bgp"]["state"] != "Established":
                problems.append("BGP %s" % (entry["bgp"]["state"] or "no neighbour"))
            missing = sorted(set(entry["expected_prefixes"]) - set(entry["bgp"]["prefixes"]))
            if not peers[endpoint["id"]]:
                problems.append("no peer endpoint points back at %s" % endpoint["outside_ip"])
            elif missing:
                problems.append("prefixes not received: %s" % ", ".join(missing))
            entry["problems"] = problems
            entry["healthy"] = not problems
            endpoints[endpoint["id"]] = entry
        link_list, seen = [], set()
        for endpoint_id, peer_id in sorted(peers.items()):
            if endpoint_id in seen:
                continue
            seen.update({endpoint_id, peer_id})
            members = [endpoint_id] + ([peer_id] if peer_id else [])
            link_list.append({"endpoints": members, "healthy": bool(peer_id) and all(endpoints[m]["healthy"] for m in members)})
        return {"name": self.name, "time": time.time(), "endpoints": endpoints, "links": link_list,
                "bgp": neighbors, "all_healthy": bool(endpoints) and all(ep["healthy"] for ep in endpoints.values())}

    def wait(self, predicate, timeout: float = 30.0, interval: float = 0.3):
        """Poll status() until predicate(status) is true; return (ok, last_status)."""
        deadline = time.monotonic() + timeout
        while True:
            current = self.status()
            if predicate(current):
                return True, current
            if time.monotonic() >= deadline:
                return False, current
            time.sleep(interval)

    def wait_healthy(self, timeout: float = 30.0, endpoints: list | None = None):
        wanted = endpoints or [ep["id"] for ep in self.spec["endpoints"]]
        return self.wait(lambda st: all(st["endpoints"][eid]["healthy"] for eid in wanted), timeout)

    def _probe_address(self, target: str) -> str:
        for site in self.spec["sites"]:
            for probe in site["probes"]:
                if probe["name"] == target:
                    return probe["address"].split("/")[0]
        return str(ipaddress.IPv4Address(target))

    def ping(self, from_probe: str, to_address: str, count: int = 3, interval: float = 0.2, wait: float = 1.0):
        """Ping from a probe namespace to an address (or a probe name). Returns (ok, {sent, received, loss_pct, rtt_avg_ms})."""
        address = self._probe_address(to_address)
        argv = ["ping", "-n", "-q", "-c", str(count), "-i", str(interval), "-W", str(wait), address]
        proc = system.netns_exec(self.names.probe(from_probe), argv, check=False, timeout=count * (interval + wait) + 5)
        match = re.search(r"(\d+) packets transmitted, (\d+) received.*?([\d.]+)% packet loss", proc.stdout)
        rtt = re.search(r"= [\d.]+/([\d.]+)/", proc.stdout)
        sent, received, loss = (int(match.group(1)), int(match.group(2)), float(match.group(3))) if match else (count, 0, 100.0)
        details = {"from": from_probe, "to": address, "sent": sent, "received": received, "loss_pct": loss,
                   "rtt_avg_ms": float(rtt.group(1)) if rtt else None}
        return received > 0, details

    def tunnel_counters(self) -> dict:
        """{endpoint_id: {"tx": packets routed into ipsec0 (to encrypt), "rx": packets decrypted}}."""
        result = {}
        for endpoint in self.spec["endpoints"]:
            out = system.run([system.IP, "-n", self.names.endpoint(endpoint["id"]), "-s", "-j", "link", "show", "ipsec0"],
                             check=False).stdout
            try:
                stats = json.loads(out)[0]["stats64"]
                result[endpoint["id"]] = {"tx": stats["tx"]["packets"], "rx": stats["rx"]["packets"]}
            except (ValueError, IndexError, KeyError):
                result[endpoint["id"]] = {"tx": 0, "rx": 0}
        return result

    def carrying_endpoints(self, from_probe: str, to_address: str, count: int = 5) -> list:
        """Endpoints that encrypted the probe's packets during a short ping (the tunnel(s) carrying that traffic)."""
        site_id = next(site["id"] for site in self.spec["sites"] for probe in site["probes"] if probe["name"] == from_probe)
        before = self.tunnel_counters()
        self.ping(from_probe, to_address, count=count, interval=0.05)
        after = self.tunnel_counters()
        return [eid for eid, counters in after.items()
                if endpoint_by_id(self.spec)[eid]["site"] == site_id and counters["tx"] - before[eid]["tx"] >= count]

    # ------------------------------------------------------------------ act
    def terminate(self, endpoint_id: str) -> dict:
        """Close the endpoint's IKE_SA (graceful: DELETE to the peer). A local close never re-initiates by itself."""
        return self.charon(endpoint_id).terminate()

    def initiate(self, endpoint_id: str) -> dict:
        return self.charon(endpoint_id).initiate()

    def set_path(self, endpoint_id: str, up: bool) -> None:
        """Cut (up=False) or restore the internet path between an endpoint and its remote address, in both directions.

        A dead path, as when a link in between fails: nothing is signalled, only DPD/retransmits notice.
        """
        endpoint = endpoint_by_id(self.spec)[endpoint_id]
        verb = "add" if not up else "del"
        rules = ["rule %s from %s/32 to %s/32 blackhole pref 50" % (verb, endpoint["outside_ip"], endpoint["remote_ip"]),
                 "rule %s from %s/32 to %s/32 blackhole pref 50" % (verb, endpoint["remote_ip"], endpoint["outside_ip"])]
        system.ip_batch(self.names.inet, rules, force=up)

    def rekey(self, endpoint_id: str, timeout: float = 10.0) -> dict:
        """Force a CHILD_SA rekey (a PFS group mismatch shows only here). ok=True once a new CHILD_SA replaced the old one."""
        daemon = self.charon(endpoint_id)
        before = strongswan.summarize_sas(daemon.sas())
        old_spis = {child["spi_in"] for child in before["children"]}
        mark = daemon.log_size()
        result = {"endpoint": endpoint_id, "ok": False, "old_spi_in": sorted(old_spis), "new_spi_in": None, "errors": []}
        if not before["child_installed"]:
            result["errors"] = ["no CHILD_SA installed to rekey"]
            return result
        response = daemon.rekey_child()
        if response.get("success") != "yes":
            result["errors"] = [response.get("errmsg", "rekey refused")]
            return result
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = strongswan.summarize_sas(daemon.sas())
            fresh = [c for c in now["children"] if c["state"] == "INSTALLED" and c["spi_in"] not in old_spis]
            # the replaced SA lingers as REKEYED (IKEv2: delete_rekeyed_delay, IKEv1: until it expires)
            stale = [c for c in now["children"] if c["spi_in"] in old_spis and c["state"] == "INSTALLED"]
            errors = sorted({code for _stamp, code, _line in daemon.errors_since(mark)})
            if fresh and not stale:
                result.update(ok=True, new_spi_in=fresh[0]["spi_in"], errors=errors)
                return result
            if errors:
                result["errors"] = errors
                if not fresh:
                    return result
            time.sleep(0.1)
        result["errors"] = result["errors"] or ["rekey did not complete in %.0fs" % timeout]
        return result

    def measure_outage(self, from_probe: str, to_address: str, action, interval: float = 0.05, max_wait: float = 60.0,
                       recovered_after: int = 10) -> dict:
        """Ping continuously, run action(), and measure the longest gap between replies until `recovered_after` replies in a row."""
        address = self._probe_address(to_address)
        argv = [system.IP, "netns", "exec", self.names.probe(from_probe), "ping", "-n", "-D", "-i", str(interval), "-W", "1", address]
        replies: list = []
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True) as proc:
            reader = threading.Thread(target=_collect_replies, args=(proc.stdout, replies), daemon=True)
            reader.start()
            system.wait_for(lambda: len(replies) >= 5, 10, what="ping replies before the action")
            action_time = time.time()
            action_result = action()
            seq_at_action = replies[-1][1]
            ok = True
            try:
                system.wait_for(lambda: _recovered(replies, action_time, recovered_after, interval), max_wait, interval=0.1,
                                what="ping to recover")
            except TimeoutError:
                ok = False
            proc.terminate()
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
        after = [stamp for stamp, _seq in replies if stamp >= action_time]
        previous = max([stamp for stamp, _seq in replies if stamp < action_time] or [action_time])
        gaps = [b - a for a, b in zip([previous] + after, after)]
        outage = max(gaps) - interval if gaps else None
        seqs = [seq for _stamp, seq in replies if seq > seq_at_action]
        lost = (max(seqs) - seq_at_action - len(seqs)) if seqs else None
        return {"recovered": ok, "outage_seconds": round(outage, 3) if outage is not None else None, "lost_replies": lost,
                "action_result": action_result}

    # ------------------------------------------------------------------ resources
    def processes(self) -> dict:
        return {key: record for key, record in self.state.get("processes", {}).items() if system.alive(record)}

    def rss_kib(self) -> int:
        return sum(system.process_rss_kib(record["pid"]) for record in self.processes().values())

    # ------------------------------------------------------------------ teardown
    def destroy(self, keep_files: bool = False) -> None:
        """End only the processes this fabric started (SIGTERM, SIGKILL after a wait), delete its namespaces and files."""
        records = list(self.state.get("processes", {}).values())
        system.stop_processes(records)
        for namespace in system.list_namespaces():
            if Names.fabric_of_namespace(namespace) == self.name:
                system.delete_namespace(namespace)
        if not keep_files:
            shutil.rmtree(self.directory, ignore_errors=True)
        self.state["processes"] = {}


def _collect_replies(stream, replies: list) -> None:
    pattern = re.compile(r"^\[(\d+\.\d+)\] \d+ bytes from .*icmp_seq=(\d+)")
    for line in stream:
        match = pattern.match(line)
        if match:
            replies.append((float(match.group(1)), int(match.group(2))))


def _recovered(replies: list, since: float, count: int, interval: float) -> bool:
    after = [stamp for stamp, _seq in replies if stamp >= since]
    if len(after) < count:
        return False
    tail = after[-count:]
    return all(b - a < max(4 * interval, 0.5) for a, b in zip(tail, tail[1:]))


def fabric_names(prefix: str, root: str | None = None) -> list:
    """Names of fabrics (namespaces or state directories) whose name starts with `prefix`."""
    root = root or DEFAULT_ROOT
    names = {Names.fabric_of_namespace(ns) for ns in system.list_namespaces() if ns.startswith(prefix)}
    if os.path.isdir(root):
        names.update(entry for entry in os.listdir(root) if entry.startswith(prefix))
    return sorted(name for name in names if name.startswith(prefix))


def cleanup_stale(prefix: str, root: str | None = None, force: bool = False, exact: bool = False) -> list:
    """Remove fabrics named `prefix...` (exact=True: named `prefix`) left by crashed runs: their owner process is gone (or force=True).

    Processes are ended by PID: the recorded ones, and any process still inside one of the
    fabric's namespaces (only lab daemons ever run there). Detached (CLI) fabrics need force=True.
    """
    removed = []
    for name in fabric_names(prefix, root):
        if exact and name != prefix:
            continue
        try:
            fabric = Fabric.attach(name, root)
        except (FabricError, ValueError):
            fabric = Fabric(name, root)
            fabric.state = {"processes": {}, "owner": {"pid": -1}}
        owner = fabric.state.get("owner")
        if not force:
            if owner is None:
                continue
            if owner.get("pid", -1) > 0 and system.alive(owner):
                continue
        records = list(fabric.state.get("processes", {}).values())
        for namespace in system.list_namespaces():
            if Names.fabric_of_namespace(namespace) == name:
                records += [{"pid": pid, "start_time": system.process_start_time(pid)} for pid in system.pids_in_namespace(namespace)
                            if pid != os.getpid()]
        fabric.state["processes"] = {"p%d" % i: record for i, record in enumerate(records)}
        fabric.destroy()
        removed.append(name)
    return removed

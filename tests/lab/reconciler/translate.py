# Lab reconciler: the stand-ins' state -> the data plane's neutral description (pure, no I/O).
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""Translate the three stand-ins' /_lab/state documents into a neutral fabric description.

Every endpoint is one cloud object's end of a tunnel with only that cloud's parameters:
  * AWS: one endpoint per tunnel of each available VPN connection on a VGW (PSK, inside CIDR with AWS on .1,
    IKE versions, proposals, lifetimes, DPD, StartupAction, Amazon ASN, BGP or static routes).
  * GCP: one endpoint per vpnTunnel (sharedSecret, ikeVersion, cipherSuite or Google's defaults, the Cloud
    Router interface linked to the tunnel and its BGP peer, the router's ASN).
  * Azure: one endpoint per connection and gateway instance (shared key, connectionProtocol, ipsecPolicies or
    Azure's defaults, the instance's BGP address and the local network gateway's bgpSettings, or static
    routes to the local network gateway's addressPrefixes).
Nothing is copied from one side to the other: the data plane pairs endpoints by addresses only (an AWS
tunnel X with customer gateway Y pairs with whatever holds Y and points at X), so a GCP tunnel without an
AWS half gets an endpoint that never finds a peer.

Sites: AWS = a VGW and the VPCs attached to it (their CIDRs, one path at a time: max_paths 1); GCP = a
Cloud Router (its network's subnets from the topology file or its custom advertisements; ECMP); Azure =
a virtual network gateway and its VNet's address space (ECMP).

VyOS routers (scenario 3: an EC2 instance running VyOS): states["vyos"] = {name: the text of a commands
file}, as multicloud.vpn.vyos_from_aws_config writes it (the daemon reads <state-dir>/vyos/<name>.commands).
The commands themselves make the site and its endpoints (tests/lab/vyos_interp: local-address = the
endpoints' outside address, local-id, PSKs, proposals, VTIs, BGP). The instance's Elastic IP comes from
the EC2 state (addresses): the EIP whose private address is the commands' local-address (or which is
itself the local-address) puts a 1:1 NAT EIP <-> private address into the description. AWS tunnels pair
with the router through it (their customer gateway IP is the EIP). Commands rendered without the NAT fix
fail as on EC2: local-address = EIP is an address the instance does not hold (traffic to the EIP goes to
the private address); no local-id makes the router present its private address as its IKE identity.
"""
from __future__ import annotations

import copy
import hashlib
import ipaddress
import re

from .topology import validate_topology
from .vocabulary import (AWS_DPD_ACTIONS, AWS_STARTUP_ACTIONS, AZURE_DPD_TIMEOUT, AZURE_ESP_LIFETIME, AZURE_IKE_LIFETIME,
                         AZURE_IKE_VERSIONS, GCP_ESP_LIFETIME, GCP_IKE_LIFETIME, VocabularyError, aws_ike_version, aws_proposals,
                         azure_proposals, gcp_proposals)

try:  # tests/lab as a package, or tests/lab on sys.path (labctl, pytest rootdir mode)
    from ..dataplane import SpecError, normalize
    from ..dataplane.spec import public_address
    from ..vyos_interp import VyosInterpError, vyos_site
except ImportError:  # pragma: no cover - depends on how the lab is imported
    from dataplane import SpecError, normalize  # type: ignore[no-redef]
    from dataplane.spec import public_address  # type: ignore[no-redef]
    from vyos_interp import VyosInterpError, vyos_site  # type: ignore[no-redef]

MAX_PATHS = {"aws": 1, "gcp": 8, "azure": 8, "vyos": 1}
VYOS_SITE_ID_LENGTH = 24    # vyos_interp: site ids <= 30 characters; endpoint ids are <site>-<vti>
AWS_DPD_INTERVAL = 10     # AWS sends DPD every 10 s
BGP_HOLD, BGP_KEEPALIVE = 30, 10
ID_LENGTH = 40
AWS_READY = ("available", "modifying")
AZURE_READY = ("Succeeded", "Updating")


class Translation(dict):
    """{"description": dict | None, "bindings": {endpoint_id: binding}, "objects": {...}, "notes": [str]}.

    bindings say which cloud object an endpoint stands for (and whether it was accepted into the description);
    objects list every cloud object considered, so that status is written for tunnels without an endpoint too.
    """


def _ident(raw: str, taken: set) -> str:
    """A data-plane id (lower case, [a-z0-9_.-], <= 40 chars) for a cloud name; long or colliding names get a hash."""
    ident = re.sub(r"[^a-z0-9_-]+", "-", raw.lower()).strip("-") or "x"
    if len(ident) > ID_LENGTH or ident in taken:
        ident = "%s-%s" % (ident[:ID_LENGTH - 7].rstrip("-."), hashlib.sha1(raw.encode()).hexdigest()[:6])
    taken.add(ident)
    return ident


def _ipv4(value) -> str | None:
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError:
        return None


def _last(link: str | None) -> str | None:
    return link.rstrip("/").rsplit("/", 1)[-1] if link else None


class _Builder:  # pylint: disable=too-many-instance-attributes
    def __init__(self, fabric_name: str, topology: dict):
        self.fabric_name = fabric_name
        self.topology = topology
        self.sites: dict = {}          # id -> {"id", "asn", "networks", "max_paths", "cloud", "match": {...}}
        self.site_keys: dict = {}      # cloud key -> site id
        self.candidates: list = []     # (endpoint, binding)
        self.notes: list = []
        self.ids: set = set()
        self.objects: dict = {"aws": {}, "gcp": {}, "azure": {"connections": {}, "gateways": {}}, "vyos": {}}
        self.nat: list = []            # 1:1 NAT entries {"public_ip", "private_ip"} (Elastic IPs of VyOS instances)

    def site(self, key: tuple, raw_id: str, **fields) -> str:
        if key not in self.site_keys:
            site_id = _ident(raw_id, self.ids)
            self.site_keys[key] = site_id
            self.sites[site_id] = dict(fields, id=site_id)
        return self.site_keys[key]

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    # ------------------------------------------------------------------------------------------ AWS
    def aws(self, ec2: dict) -> None:
        vpcs = ec2.get("vpcs") or {}
        gateways = ec2.get("vpn_gateways") or {}
        for vpn_id, connection in sorted((ec2.get("vpn_connections") or {}).items()):
            if connection.get("state") not in AWS_READY:
                continue
            if not connection.get("vpn_gateway_id"):
                self.note("aws %s: transit gateway connections are not modelled by the lab data plane" % vpn_id)
                continue
            vgw_id = connection["vpn_gateway_id"]
            vgw = gateways.get(vgw_id)
            if vgw is None or vgw.get("state") != "available":
                self.note("aws %s: VPN gateway %s is not available" % (vpn_id, vgw_id))
                continue
            networks = sorted({cidr for attachment in vgw.get("attachments", []) if attachment.get("state") == "attached"
                               for cidr in (vpcs.get(attachment["vpc_id"]) or {}).get("cidr_blocks", [])})
            asn = int(connection.get("amazon_side_asn") or vgw.get("amazon_side_asn") or 64512)
            site_id = self.site(("aws", vgw_id), "aws-" + vgw_id, cloud="aws", asn=asn, networks=networks,
                                max_paths=MAX_PATHS["aws"], match={})
            self.objects["aws"][vpn_id] = [tunnel["outside_ip"] for tunnel in connection.get("tunnels", [])]
            for tunnel in connection.get("tunnels", []):
                binding = {"cloud": "aws", "vpn_connection_id": vpn_id, "outside_ip": tunnel["outside_ip"],
                           "static": bool(connection.get("static_routes_only"))}
                try:
                    endpoint = self._aws_endpoint(site_id, connection, tunnel)
                except (VocabularyError, KeyError, TypeError, ValueError) as exc:
                    self.note("aws %s tunnel %s: %s" % (vpn_id, tunnel.get("outside_ip"), exc))
                    continue
                self.candidates.append((endpoint, binding))

    def _aws_endpoint(self, site_id: str, connection: dict, tunnel: dict) -> dict:
        options = tunnel["options"]
        if not tunnel.get("inside_cidr"):
            raise ValueError("IPv6 inside addresses are not modelled by the lab data plane")
        ike_version = aws_ike_version(options)
        ike, esp = aws_proposals(options, ike_version)
        prefix = ipaddress.IPv4Network(tunnel["inside_cidr"]).prefixlen
        endpoint = {
            "id": _ident("aws-" + tunnel["outside_ip"], self.ids), "site": site_id,
            "outside_ip": tunnel["outside_ip"], "remote_ip": connection["customer_gateway_ip"], "psk": tunnel["pre_shared_key"],
            "ike_version": ike_version, "ike_proposals": ike, "esp_proposals": esp,
            "ike_lifetime": int(options["Phase1LifetimeSeconds"]), "esp_lifetime": int(options["Phase2LifetimeSeconds"]),
            "rekey_margin": int(options["RekeyMarginTimeSeconds"]), "rekey_fuzz": int(options["RekeyFuzzPercentage"]),
            "replay_window": int(options["ReplayWindowSize"]), "dpd_interval": AWS_DPD_INTERVAL,
            "dpd_timeout": int(options["DpdTimeoutSeconds"]), "dpd_action": AWS_DPD_ACTIONS[options["DpdTimeoutAction"]],
            "start": AWS_STARTUP_ACTIONS[options["StartupAction"]], "generation": tunnel.get("revision"),
            "inside_ip": "%s/%d" % (tunnel["aws_inside_ip"], prefix), "bgp_hold": BGP_HOLD, "bgp_keepalive": BGP_KEEPALIVE,
        }
        if connection.get("static_routes_only"):
            endpoint.update(routing="static", static_routes=sorted(
                route["destination_cidr_block"] for route in connection.get("routes", []) if route.get("state") == "available"))
        else:
            endpoint.update(bgp_peer_ip=tunnel["customer_inside_ip"], bgp_peer_asn=int(connection["customer_gateway_asn"]))
        return endpoint

    # ------------------------------------------------------------------------------------------ GCP
    def gcp(self, state: dict) -> None:
        projects = state.get("projects") or {}
        advertised: dict = {}     # site id -> list of (mode, groups, ranges)
        for tunnel in state.get("tunnels") or []:
            project, region, name = tunnel["project"], tunnel["region"], tunnel["name"]
            ref = "%s/%s" % (region, name)
            router_key = "%s/%s" % (region, tunnel.get("router"))
            router = ((projects.get(project) or {}).get("routers") or {}).get(router_key)
            binding = {"cloud": "gcp", "project": project, "tunnel": ref, "router": router_key,
                       "peer_name": (tunnel.get("bgp") or {}).get("peer_name")}
            self.objects["gcp"]["%s/%s" % (project, ref)] = binding
            if router is None or tunnel.get("router_asn") is None:
                self.note("gcp %s: no Cloud Router with a BGP ASN" % ref)
                continue
            gateway = ((projects.get(project) or {}).get("vpnGateways") or {}).get("%s/%s" % (region, tunnel.get("local_gateway"))) or {}
            network = _last(gateway.get("network") or router.get("network"))
            site_id = self.site(("gcp", project, router_key), "gcp-" + tunnel["router"], cloud="gcp", asn=int(tunnel["router_asn"]),
                                networks=[], max_paths=MAX_PATHS["gcp"], match={"network": network})
            bgp = tunnel.get("bgp")
            source = bgp if bgp else {"advertise_mode": (router.get("bgp") or {}).get("advertiseMode", "DEFAULT"),
                                      "advertised_groups": (router.get("bgp") or {}).get("advertisedGroups", []),
                                      "advertised_ip_ranges": [item["range"] for item in
                                                               (router.get("bgp") or {}).get("advertisedIpRanges", [])]}
            advertised.setdefault(site_id, []).append(source)
            try:
                endpoint = self._gcp_endpoint(site_id, tunnel)
            except (VocabularyError, KeyError, TypeError, ValueError) as exc:
                self.note("gcp %s: %s" % (ref, exc))
                continue
            binding["bgp"] = endpoint.get("routing", "bgp") == "bgp"
            self.candidates.append((endpoint, binding))
        self._gcp_networks(advertised)

    def _gcp_endpoint(self, site_id: str, tunnel: dict) -> dict:
        ike_version = int(tunnel["ike_version"])
        ike, esp = gcp_proposals(tunnel.get("cipher_suite"), ike_version)
        if not _ipv4(tunnel.get("local_ip")) or not _ipv4(tunnel.get("peer_ip")):
            raise ValueError("no IPv4 outside addresses (local %s, peer %s)" % (tunnel.get("local_ip"), tunnel.get("peer_ip")))
        endpoint = {
            "id": _ident("gcp-" + tunnel["name"], self.ids), "site": site_id, "outside_ip": tunnel["local_ip"],
            "remote_ip": tunnel["peer_ip"], "psk": tunnel["shared_secret"], "ike_version": ike_version,
            "ike_proposals": ike, "esp_proposals": esp, "ike_lifetime": GCP_IKE_LIFETIME, "esp_lifetime": GCP_ESP_LIFETIME,
            "dpd_action": "restart", "start": "initiate", "bgp_hold": BGP_HOLD, "bgp_keepalive": BGP_KEEPALIVE,
        }
        bgp = tunnel.get("bgp")
        if bgp and bgp.get("enable", True) and bgp.get("ip_range") and bgp.get("peer_ip_address"):
            interface = ipaddress.IPv4Interface(bgp["ip_range"])
            local = bgp.get("ip_address") or str(interface.ip)
            endpoint.update(inside_ip="%s/%d" % (local, interface.network.prefixlen), bgp_peer_ip=bgp["peer_ip_address"],
                            bgp_peer_asn=int(bgp["peer_asn"]))
        else:
            # HA VPN without a BGP session: IPsec only, nothing routed (GCP reports it waiting for full config)
            endpoint.update(routing="static", static_routes=[])
        return endpoint

    def _gcp_networks(self, advertised: dict) -> None:
        subnets_by_network = self.topology["gcp"]["subnets"]
        probes_by_site = self._gcp_probe_sites()
        for site_id, sources in advertised.items():
            site = self.sites[site_id]
            network = site["match"].get("network")
            subnets = subnets_by_network.get(network) or subnets_by_network.get("*")
            if not subnets:
                subnets = sorted({str(ipaddress.IPv4Interface(probe["address"]).network) for probe in probes_by_site.get(site_id, [])})
            networks: set = set()
            for source in sources:
                if source.get("advertise_mode") == "CUSTOM":
                    networks.update(str(ipaddress.IPv4Network(cidr, strict=False)) for cidr in source.get("advertised_ip_ranges", []))
                    if "ALL_SUBNETS" in source.get("advertised_groups", []):
                        networks.update(subnets)
                else:
                    networks.update(subnets)
            site["networks"] = sorted(networks)
            if not site["networks"]:
                self.note("gcp site %s (network %s): announces nothing (give topology gcp.subnets or a probe)" % (site_id, network))

    def _gcp_probe_sites(self) -> dict:
        gcp_sites = sorted(site_id for site_id, site in self.sites.items() if site["cloud"] == "gcp")
        result: dict = {}
        for probe in self.topology["gcp"]["probes"]:
            chosen = [site_id for site_id in gcp_sites if probe["network"] in (None, self.sites[site_id]["match"].get("network"))]
            if chosen:
                result.setdefault(chosen[0], []).append(probe)
        return result

    # ---------------------------------------------------------------------------------------- Azure
    def azure(self, state: dict) -> None:
        gateways = {gateway["id"].lower(): gateway for gateway in state.get("virtual_network_gateways") or []}
        local_gateways = {lng["id"].lower(): lng for lng in state.get("local_network_gateways") or []}
        for connection in sorted(state.get("connections") or [], key=lambda item: item["id"].lower()):
            name = "%s/%s" % (connection["resource_group"], connection["name"])
            gateway = gateways.get((connection.get("virtual_network_gateway_id") or "").lower())
            local_gateway = local_gateways.get((connection.get("local_network_gateway_id") or "").lower())
            if connection.get("provisioning_state") not in AZURE_READY or gateway is None or local_gateway is None:
                continue
            if gateway.get("provisioning_state") not in AZURE_READY:
                continue
            site_id = self._azure_site(state, gateway)
            self.objects["azure"]["connections"][connection["id"]] = [tunnel["azure_public_ip"] for tunnel in connection.get("tunnels", [])]
            self.objects["azure"]["gateways"].setdefault(gateway["id"], [])
            bgp = bool(connection.get("enable_bgp")) and bool(gateway.get("enable_bgp"))
            try:
                ike, esp, esp_lifetime = azure_proposals(connection.get("ipsec_policies") or [])
            except (VocabularyError, KeyError) as exc:
                self.note("azure %s: %s" % (name, exc))
                continue
            if connection.get("use_policy_based_traffic_selectors"):
                self.note("azure %s: policy-based traffic selectors are not modelled (route-based 0/0 used)" % name)
            for index, tunnel in enumerate(connection.get("tunnels", [])):
                binding = {"cloud": "azure", "connection_id": connection["id"], "gateway_id": gateway["id"],
                           "azure_public_ip": tunnel["azure_public_ip"], "bgp": None}
                if not _ipv4(tunnel.get("azure_public_ip")) or not _ipv4(tunnel.get("peer_ip")):
                    self.note("azure %s instance %d: no IPv4 outside addresses (peer %s)" % (name, index, tunnel.get("peer_ip")))
                    continue
                endpoint = {
                    "id": _ident("az-%s-%d" % (connection["name"], index), self.ids), "site": site_id,
                    "outside_ip": tunnel["azure_public_ip"], "remote_ip": tunnel["peer_ip"], "psk": connection.get("shared_key") or "",
                    "ike_version": AZURE_IKE_VERSIONS.get(connection.get("connection_protocol") or "IKEv2", 2),
                    "ike_proposals": ike, "esp_proposals": esp, "ike_lifetime": AZURE_IKE_LIFETIME,
                    "esp_lifetime": esp_lifetime or AZURE_ESP_LIFETIME,
                    "dpd_timeout": int(connection.get("dpd_timeout_seconds") or AZURE_DPD_TIMEOUT), "dpd_action": "restart",
                    "start": "wait" if connection.get("connection_mode") == "ResponderOnly" else "initiate",
                    "bgp_hold": BGP_HOLD, "bgp_keepalive": BGP_KEEPALIVE,
                }
                if bgp and tunnel.get("peer_bgp_ip") and tunnel.get("peer_asn") and tunnel.get("azure_bgp_ip"):
                    endpoint.update(inside_ip="%s/32" % tunnel["azure_bgp_ip"], bgp_peer_ip=tunnel["peer_bgp_ip"],
                                    bgp_peer_asn=int(tunnel["peer_asn"]))
                    binding["bgp"] = {"neighbor": tunnel["peer_bgp_ip"], "local_address": tunnel["azure_bgp_ip"],
                                      "asn": int(tunnel["peer_asn"])}
                else:
                    endpoint.update(routing="static", static_routes=sorted(local_gateway.get("address_prefixes") or []))
                self.candidates.append((endpoint, binding))

    def _azure_site(self, state: dict, gateway: dict) -> str:
        vnet = _gateway_vnet(state, gateway)
        networks = sorted(vnet.get("address_prefixes", [])) if vnet else []
        if vnet is None:
            self.note("azure gateway %s: its virtual network was not found" % gateway["name"])
        return self.site(("azure", gateway["id"].lower()), "az-" + gateway["name"], cloud="azure", asn=int(gateway.get("asn") or 65515),
                         networks=networks, max_paths=MAX_PATHS["azure"], match={})

    # ---------------------------------------------------------------------------------------- VyOS
    def vyos(self, configs: dict, ec2: dict | None) -> None:
        """One site per VyOS commands file; the instance's Elastic IP (EC2 state) becomes a 1:1 NAT."""
        addresses = (ec2 or {}).get("addresses") or {}
        for name, text in sorted(configs.items()):
            raw = re.sub(r"[^a-z0-9_-]+", "-", ("vyos-" + name).lower()).strip("-")
            site_id = raw[:VYOS_SITE_ID_LENGTH].rstrip("-")
            if site_id in self.ids:
                site_id = "%s-%s" % (site_id[:VYOS_SITE_ID_LENGTH - 7], hashlib.sha1(name.encode()).hexdigest()[:6])
            self.ids.add(site_id)
            self.objects["vyos"][name] = []
            try:
                fragment = vyos_site(text, site_id=site_id)
            except VyosInterpError as exc:
                self.note("vyos %s: the commands do not configure a router the lab can run: %s" % (name, exc))
                continue
            outside = sorted({endpoint["outside_ip"] for endpoint in fragment["endpoints"]})
            mapping = _elastic_ip_of(addresses, outside)
            if mapping and mapping not in self.nat:
                self.nat.append(mapping)
            elif not mapping:
                self.note("vyos %s: no Elastic IP of an EC2 instance matches local-address %s: no NAT in front of it"
                          % (name, ", ".join(outside) or "-"))
            site = dict(fragment["site"], cloud="vyos", max_paths=MAX_PATHS["vyos"], match={})
            self.sites[site_id] = site
            self.site_keys[("vyos", name)] = site_id
            for endpoint in fragment["endpoints"]:
                self.ids.add(endpoint["id"])
                self.objects["vyos"][name].append(endpoint["id"])
                binding = {"cloud": "vyos", "router": name, "vti": endpoint["id"][len(site_id) + 1:],
                           "remote_ip": endpoint["remote_ip"], "bgp_peer_ip": endpoint["bgp_peer_ip"],
                           "nat": dict(mapping) if mapping else None}
                self.candidates.append((dict(endpoint), binding))

    # ----------------------------------------------------------------------------------- assemble
    def probes(self) -> None:
        """Give each site the topology's probes: AWS/Azure by address inside the site's networks, GCP by network."""
        gcp_sites = self._gcp_probe_sites()
        for cloud, section in (("aws", "aws"), ("azure", "azure"), ("vyos", "vyos_routers")):
            for probe in (self.topology.get(section) or {}).get("probes", []):
                address = ipaddress.IPv4Interface(probe["address"]).ip
                for site_id in sorted(self.sites):
                    site = self.sites[site_id]
                    if site["cloud"] == cloud and any(address in ipaddress.IPv4Network(net) for net in site["networks"]):
                        site.setdefault("probes", []).append({"name": probe["name"], "address": probe["address"]})
                        break
        for site_id, probes in gcp_sites.items():
            site = self.sites[site_id]
            for probe in probes:
                address = ipaddress.IPv4Interface(probe["address"]).ip
                if any(address in ipaddress.IPv4Network(net) for net in site["networks"]):
                    site.setdefault("probes", []).append({"name": probe["name"], "address": probe["address"]})
                else:
                    self.note("gcp probe %s: %s is not inside what site %s announces %s: not created"
                              % (probe["name"], probe["address"], site_id, site["networks"]))

    def assemble(self) -> Translation:
        self.probes()
        bindings: dict = {}
        nat = {"nat": sorted(self.nat, key=lambda item: ipaddress.IPv4Address(item["public_ip"]))} if self.nat else {}
        pairs = {(public_address(nat, endpoint["outside_ip"]), endpoint["remote_ip"]) for endpoint, _binding in self.candidates}
        # endpoints that have a peer go first: when two endpoints conflict (same inside address on one router,
        # same outside/remote pair), the one that can come up wins and the other is left out with a note
        ordered = sorted(self.candidates, key=lambda item: ((item[0]["remote_ip"], public_address(nat, item[0]["outside_ip"])) not in pairs,
                                                            item[0]["id"]))
        used_sites = sorted({endpoint["site"] for endpoint, _binding in self.candidates})
        sites = [{key: value for key, value in self.sites[site_id].items() if key not in ("cloud", "match")} for site_id in used_sites]
        accepted: list = []
        for endpoint, binding in ordered:
            trial = {"name": self.fabric_name, "sites": sites, "endpoints": accepted + [endpoint], **nat}
            try:
                normalize(trial)
            except SpecError as exc:
                binding.update(accepted=False, reason=str(exc))
                self.note("endpoint %s left out: %s" % (endpoint["id"], exc))
            else:
                binding.update(accepted=True, reason=None)
                accepted.append(endpoint)
            bindings[endpoint["id"]] = binding
        description = None
        if accepted:
            sites = [site for site in sites if any(endpoint["site"] == site["id"] for endpoint in accepted)]
            description = {"name": self.fabric_name, "sites": sites, "endpoints": sorted(accepted, key=lambda item: item["id"]), **nat}
        return Translation(description=description, bindings=bindings, objects=self.objects, notes=list(self.notes))


def _gateway_vnet(state: dict, gateway: dict) -> dict | None:
    """The VNet of a gateway: the one whose GatewaySubnet holds the instances' default BGP addresses."""
    defaults = [ipaddress.IPv4Address(instance["default_bgp_ip"]) for instance in gateway.get("instances", [])
                if _ipv4(instance.get("default_bgp_ip"))]
    candidates = []
    for vnet in state.get("virtual_networks") or []:
        if vnet.get("subscription_id") != gateway.get("subscription_id"):
            continue
        for subnet in vnet.get("subnets", []):
            if subnet.get("name") == "GatewaySubnet" and subnet.get("address_prefix"):
                network = ipaddress.IPv4Network(subnet["address_prefix"], strict=False)
                if defaults and all(address in network for address in defaults):
                    candidates.append((0 if vnet.get("resource_group", "").lower() == gateway.get("resource_group", "").lower() else 1,
                                       vnet["id"], vnet))
    return sorted(candidates, key=lambda item: item[:2])[0][2] if candidates else None


def _elastic_ip_of(addresses: dict, local_addresses: list) -> dict | None:
    """The 1:1 NAT of the instance whose Elastic IP or private address is the router's local-address."""
    for public_ip, address in sorted(addresses.items()):
        private_ip = address.get("private_ip")
        if private_ip and (private_ip in local_addresses or public_ip in local_addresses):
            return {"public_ip": public_ip, "private_ip": private_ip}
    return None


def translate(states: dict, topology: dict | None, fabric_name: str) -> Translation:
    """{"aws": EC2 state | None, "gcp": GCP state | None, "azure": Azure state | None,
    "vyos": {name: commands text} | None} -> Translation.

    The description is None when no cloud object makes an endpoint (the fabric then has nothing to run).
    """
    builder = _Builder(fabric_name, topology if _is_normalized(topology) else validate_topology(copy.deepcopy(topology or {})))
    if states.get("aws"):
        builder.aws(states["aws"])
    if states.get("gcp"):
        builder.gcp(states["gcp"])
    if states.get("azure"):
        builder.azure(states["azure"])
    if states.get("vyos"):
        builder.vyos(states["vyos"], states.get("aws"))
    return builder.assemble()


def _is_normalized(topology) -> bool:
    return isinstance(topology, dict) and all(isinstance(topology.get(cloud), dict) and "subnets" in topology[cloud]
                                              for cloud in ("aws", "gcp", "azure"))

# Lab reconciler: cloud objects put into the stand-ins through the real SDKs (test and demo helper).
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""Build the lab's reference links in the stand-ins through boto3, google-cloud-compute and azure-mgmt-network
(via the collection's adapters), read their status back the way a playbook would, and mutate them.

    clouds = Clouds({"aws": url, "gcp": url, "azure": url})
    link = build_aws_gcp(clouds)              # 4 tunnels, BGP (FOUR_IPS_REDUNDANCY)
    link = build_aws_azure_bgp(clouds)        # 4 tunnels, BGP with Azure custom APIPA addresses (Microsoft's mapping)
    link = build_aws_azure_static(clouds)     # 2 tunnels, static routes (tunnel 1 of each AWS connection)
Nothing here talks to the data plane: what the data plane does is derived from these objects only.
"""
from __future__ import annotations

import ipaddress
import json
import time
import urllib.request

from ansible_collections.multicloud.vpn.plugins.module_utils import _gcp
from ansible_collections.multicloud.vpn.plugins.module_utils._aws import ec2_client, wait_vpn_connection_available
from ansible_collections.multicloud.vpn.plugins.module_utils._azure import network_client, wait_poller

PROJECT = "lab-project"
REGION = "us-central1"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
GROUP = "rg-lab"
LOCATION = "eastus"
AWS_ASN, GCP_ASN, AZURE_ASN = 64512, 65000, 65515
AWS_VPC = "10.0.0.0/16"
AZURE_VNET = "10.1.0.0/16"
GCP_SUITE = {"phase1": {"encryption": ["AES-CBC-256"], "integrity": ["HMAC-SHA2-256-128"], "prf": ["PRF-HMAC-SHA2-256"],
                        "dh": ["Group-14"]},
             "phase2": {"encryption": ["AES-CBC-256"], "integrity": ["HMAC-SHA2-256-128"], "pfs": ["Group-14"]}}
AWS_NARROW = {"IKEVersions": [{"Value": "ikev2"}], "Phase1EncryptionAlgorithms": [{"Value": "AES256"}],
              "Phase1IntegrityAlgorithms": [{"Value": "SHA2-256"}], "Phase1DHGroupNumbers": [{"Value": 14}],
              "Phase2EncryptionAlgorithms": [{"Value": "AES256"}], "Phase2IntegrityAlgorithms": [{"Value": "SHA2-256"}],
              "Phase2DHGroupNumbers": [{"Value": 14}], "StartupAction": "add"}
# lab configuration for labctl start/up: short provisioning delays, the Azure resource group seeded
FAST_CONFIG = {
    "delays": {"vpn_connection": 0.05, "vpn_modify": 0.2, "vpn_gateway": 0.05, "vpn_gateway_attachment": 0.05, "vpn_route": 0.02,
               "default": 0.0, "networks": 0.0, "externalVpnGateways": 0.0, "vpnGateways": 0.0, "vpnTunnels": 0.0, "routers": 0.0,
               "virtualNetworks": 0, "publicIPAddresses": 0, "virtualNetworkGateways": 0.1, "localNetworkGateways": 0,
               "connections": 0.05, "retry_after": 1},
    "resource_groups": [{"subscription_id": SUBSCRIPTION, "name": GROUP, "location": LOCATION}],
}
# the topology that goes with these links
TOPOLOGY = {"aws": {"probes": [{"name": "aws-probe", "address": "10.0.1.10/24"}]},
            "gcp": {"subnets": {"vpc": ["10.10.0.0/16"]}, "probes": [{"name": "gcp-probe", "address": "10.10.1.10/24", "network": "vpc"}]},
            "azure": {"probes": [{"name": "azure-probe", "address": "10.1.1.10/24"}]}}


def lab_request(url: str, route: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + "/_lab/" + route, data=data, method="GET" if data is None else "POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback stand-ins only
        return json.loads(response.read() or b"{}")


class Clouds:
    """SDK clients for the three stand-ins, built by the collection's adapters (lazily: each costs ~0.5 s)."""

    def __init__(self, urls: dict):
        self.urls = urls
        self._ec2 = self._gcp = self._azure = None

    @property
    def ec2(self):
        if self._ec2 is None:
            self._ec2 = ec2_client({"region": "us-east-1", "access_key": "AKIAIOSFODNN7EXAMPLE", "secret_key": "lab",
                                    "endpoint_url": self.urls["aws"]})
        return self._ec2

    @property
    def gcp(self):
        if self._gcp is None:
            self._gcp = _gcp.compute_clients({"project": PROJECT, "api_endpoint": self.urls["gcp"]}, retry_timeout=20)
        return self._gcp

    @property
    def azure(self):
        if self._azure is None:
            self._azure = network_client({"base_url": self.urls["azure"], "subscription_id": SUBSCRIPTION}, environ={},
                                         retry_backoff_factor=0.01)
        return self._azure

    def reset(self) -> None:
        for url in self.urls.values():
            lab_request(url, "reset", {})


def _hosts(cidr: str) -> tuple[str, str]:
    network = ipaddress.IPv4Network(cidr)
    return str(network.network_address + 1), str(network.network_address + 2)


# ---------------------------------------------------------------------------------------------------- AWS
def aws_vpc_and_vgw(ec2, cidr: str = AWS_VPC, asn: int = AWS_ASN) -> tuple[str, str]:
    vpc_id = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    vgw_id = ec2.create_vpn_gateway(Type="ipsec.1", AmazonSideAsn=asn)["VpnGateway"]["VpnGatewayId"]
    ec2.attach_vpn_gateway(VpnGatewayId=vgw_id, VpcId=vpc_id)
    return vpc_id, vgw_id


def aws_connection(ec2, vgw_id: str, cgw_ip: str, cgw_asn: int, tunnels: list | None = None, static: bool = False) -> dict:
    cgw_id = ec2.create_customer_gateway(Type="ipsec.1", IpAddress=cgw_ip, BgpAsn=cgw_asn)["CustomerGateway"]["CustomerGatewayId"]
    options: dict = {"StaticRoutesOnly": static}
    if tunnels:
        options["TunnelOptions"] = tunnels
    created = ec2.create_vpn_connection(Type="ipsec.1", CustomerGatewayId=cgw_id, VpnGatewayId=vgw_id, Options=options)["VpnConnection"]
    return wait_vpn_connection_available(ec2, created["VpnConnectionId"], timeout=20, sleep=0.05)


def aws_tunnels(connection: dict) -> list:
    """[(outside_ip, inside_cidr, psk)] in tunnel order."""
    return [(t["OutsideIpAddress"], t["TunnelInsideCidr"], t["PreSharedKey"]) for t in connection["Options"]["TunnelOptions"]]


def aws_modify(ec2, vpn_id: str, outside_ip: str, options: dict) -> None:
    ec2.modify_vpn_tunnel_options(VpnConnectionId=vpn_id, VpnTunnelOutsideIpAddress=outside_ip, TunnelOptions=options)
    wait_vpn_connection_available(ec2, vpn_id, timeout=20, sleep=0.05)


def aws_telemetry(ec2, vpn_ids: list) -> dict:
    """{outside_ip: (Status, StatusMessage, AcceptedRouteCount)} as DescribeVpnConnections reports it."""
    result = {}
    for connection in ec2.describe_vpn_connections(VpnConnectionIds=list(vpn_ids))["VpnConnections"]:
        for item in connection.get("VgwTelemetry", []):
            result[item["OutsideIpAddress"]] = (item["Status"], item.get("StatusMessage"), item.get("AcceptedRouteCount"))
    return result


# ---------------------------------------------------------------------------------------------------- GCP
def _gcp_wait(gcp, operation) -> None:
    gcp.wait(operation, timeout=30)


def gcp_network_gateway_router(gcp, network: str = "vpc", gateway: str = "ha", router: str = "cr", asn: int = GCP_ASN) -> list:
    """Network, HA VPN gateway and Cloud Router; returns the HA interface IPs [if0, if1]."""
    _gcp_wait(gcp, gcp.mutate("network", gcp.networks.insert, {"project": PROJECT, "network_resource": {
        "name": network, "auto_create_subnetworks": False}}))
    _gcp_wait(gcp, gcp.mutate("ha gateway", gcp.vpn_gateways.insert, {"project": PROJECT, "region": REGION, "vpn_gateway_resource": {
        "name": gateway, "network": "global/networks/%s" % network}}))
    _gcp_wait(gcp, gcp.mutate("router", gcp.routers.insert, {"project": PROJECT, "region": REGION, "router_resource": {
        "name": router, "network": "global/networks/%s" % network, "bgp": {"asn": asn}}}))
    document = gcp.read("get", gcp.vpn_gateways.get, {"project": PROJECT, "region": REGION, "vpn_gateway": gateway})
    return [item.ip_address for item in sorted(document.vpn_interfaces, key=lambda item: item.id)]


def gcp_tunnel_body(name: str, interface: int, peer_interface: int, secret: str, suite: dict | None = None, **extra) -> dict:
    """A vpnTunnels insert body toward the AWS side; suite None = the scenario's GCP_SUITE."""
    suite = GCP_SUITE if suite is None else suite
    body = {"name": name, "vpn_gateway": "regions/%s/vpnGateways/ha" % REGION, "vpn_gateway_interface": interface,
            "peer_external_gateway": "global/externalVpnGateways/aws", "peer_external_gateway_interface": peer_interface,
            "router": "regions/%s/routers/cr" % REGION, "shared_secret": secret, "ike_version": 2}
    if suite:
        body["cipher_suite"] = suite
    body.update(extra)
    return body


def gcp_insert_tunnel(gcp, body: dict) -> None:
    _gcp_wait(gcp, gcp.mutate("tunnel", gcp.vpn_tunnels.insert, {"project": PROJECT, "region": REGION, "vpn_tunnel_resource": body},
                              secrets=[body["shared_secret"]]))


def gcp_router(gcp, router: str = "cr") -> dict:
    """The router as a JSON-style dict (camelCase)."""
    document = gcp.read("get", gcp.routers.get, {"project": PROJECT, "region": REGION, "router": router})
    return json.loads(type(document).to_json(document))


def gcp_patch_router(gcp, interfaces: list, peers: list, router: str = "cr") -> None:
    """PATCH replaces whole lists: give every interface and peer (snake_case dicts)."""
    request = {"project": PROJECT, "region": REGION, "router": router, "router_resource": {"interfaces": interfaces, "bgp_peers": peers}}
    _gcp_wait(gcp, gcp.mutate("router", gcp.routers.patch, request))


def gcp_router_lists(gcp, router: str = "cr") -> tuple[list, list]:
    """(interfaces, bgp_peers) of a router as snake_case dicts a PATCH takes back."""
    document = gcp_router(gcp, router)
    interfaces = [{"name": item["name"], "ip_range": item.get("ipRange"), "linked_vpn_tunnel": item.get("linkedVpnTunnel")}
                  for item in document.get("interfaces", [])]
    peers = [{"name": item["name"], "interface_name": item["interfaceName"], "ip_address": item.get("ipAddress"),
              "peer_ip_address": item.get("peerIpAddress"), "peer_asn": item["peerAsn"]} for item in document.get("bgpPeers", [])]

    def present(items: list) -> list:
        return [{key: value for key, value in item.items() if value is not None} for item in items]

    return present(interfaces), present(peers)


def gcp_recreate_tunnel(gcp, name: str, **changes) -> None:
    """GCP tunnels cannot be updated: unlink it from the router, delete it, insert it with `changes`, link it again."""
    interfaces, peers = gcp_router_lists(gcp)
    link_suffix = "/vpnTunnels/%s" % name
    mine = [item for item in interfaces if item.get("linked_vpn_tunnel", "").endswith(link_suffix)]
    mine_names = {item["name"] for item in mine}
    gcp_patch_router(gcp, [item for item in interfaces if item not in mine], [p for p in peers if p["interface_name"] not in mine_names])
    current = gcp.read("get", gcp.vpn_tunnels.get, {"project": PROJECT, "region": REGION, "vpn_tunnel": name})
    _gcp_wait(gcp, gcp.mutate("tunnel", gcp.vpn_tunnels.delete, {"project": PROJECT, "region": REGION, "vpn_tunnel": name}))
    body = gcp_tunnel_body(name, current.vpn_gateway_interface, current.peer_external_gateway_interface,
                           changes.pop("secret"), changes.pop("suite", GCP_SUITE))
    body.update(changes)
    gcp_insert_tunnel(gcp, body)
    gcp_patch_router(gcp, interfaces, peers)


def gcp_tunnel_status(gcp, names: list) -> dict:
    return {name: gcp.read("get", gcp.vpn_tunnels.get, {"project": PROJECT, "region": REGION, "vpn_tunnel": name}).status
            for name in names}


def gcp_bgp_status(gcp, router: str = "cr") -> dict:
    """{peer name: (status, num_learned_routes)} from getRouterStatus."""
    response = gcp.read("status", gcp.routers.get_router_status, {"project": PROJECT, "region": REGION, "router": router})
    return {peer.name: (peer.status, peer.num_learned_routes) for peer in response.result.bgp_peer_status}


def build_aws_gcp(clouds: Clouds) -> dict:
    """AWS (VPC 10.0.0.0/16, VGW 64512, 2 connections) <-> GCP (HA VPN, router 65000, FOUR_IPS_REDUNDANCY): 4 tunnels, BGP."""
    ec2, gcp = clouds.ec2, clouds.gcp
    _vpc, vgw_id = aws_vpc_and_vgw(ec2)
    ha_ips = gcp_network_gateway_router(gcp)
    connections = []
    for index, ha_ip in enumerate(ha_ips):
        tunnels = [dict(AWS_NARROW, TunnelInsideCidr="169.254.%d.0/30" % (10 + 2 * index + t), PreSharedKey="lab_psk_c%dt%d_0123456789" %
                        (index + 1, t + 1)) for t in range(2)]
        connections.append(aws_connection(ec2, vgw_id, ha_ip, GCP_ASN, tunnels))
    outside = [tunnel for connection in connections for tunnel in aws_tunnels(connection)]
    _gcp_wait(gcp, gcp.mutate("external gateway", gcp.external_vpn_gateways.insert, {"project": PROJECT, "external_vpn_gateway_resource": {
        "name": "aws", "redundancy_type": "FOUR_IPS_REDUNDANCY",
        "interfaces": [{"id": index, "ip_address": ip} for index, (ip, _cidr, _psk) in enumerate(outside)]}}))
    interfaces, peers, tunnels = [], [], []
    for index, (aws_ip, cidr, psk) in enumerate(outside):
        name = "t%d" % index
        gcp_insert_tunnel(gcp, gcp_tunnel_body(name, index // 2, index, psk))
        aws_inside, customer_inside = _hosts(cidr)
        interfaces.append({"name": "if-%s" % name, "ip_range": "%s/30" % customer_inside,
                           "linked_vpn_tunnel": "regions/%s/vpnTunnels/%s" % (REGION, name)})
        peers.append({"name": "peer-%s" % name, "interface_name": "if-%s" % name, "ip_address": customer_inside,
                      "peer_ip_address": aws_inside, "peer_asn": AWS_ASN})
        tunnels.append({"gcp": name, "aws_ip": aws_ip, "vpn_id": connections[index // 2]["VpnConnectionId"], "cidr": cidr,
                        "ha_ip": ha_ips[index // 2], "peer": "peer-%s" % name})
    gcp_patch_router(gcp, interfaces, peers)
    return {"vgw": vgw_id, "vpn_ids": [c["VpnConnectionId"] for c in connections], "ha_ips": ha_ips, "tunnels": tunnels}


# -------------------------------------------------------------------------------------------------- Azure
def azure_gateway(client, enable_bgp: bool, custom: list | None = None) -> tuple[dict, list]:
    """VNet 10.1.0.0/16 (GatewaySubnet, default subnet), two Standard public IPs, an active-active VpnGw1AZ gateway."""
    from azure.mgmt.network import models  # pylint: disable=import-outside-toplevel
    vnet = wait_poller(client.virtual_networks.begin_create_or_update(GROUP, "az-vnet", models.VirtualNetwork(
        location=LOCATION, address_space=models.AddressSpace(address_prefixes=[AZURE_VNET]),
        subnets=[models.Subnet(name="GatewaySubnet", address_prefix="10.1.255.0/27"),
                 models.Subnet(name="default", address_prefix="10.1.1.0/24")])), 30)
    public_ips = [wait_poller(client.public_ip_addresses.begin_create_or_update(GROUP, name, models.PublicIPAddress(
        location=LOCATION, sku=models.PublicIPAddressSku(name="Standard", tier="Regional"), public_ip_allocation_method="Static")), 30)
        for name in ("pip-a", "pip-b")]
    gateway_id = "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/virtualNetworkGateways/az-gw" % (SUBSCRIPTION, GROUP)
    names = ["default", "activeActive"]
    subnet_id = next(subnet.id for subnet in vnet.subnets if subnet.name == "GatewaySubnet")
    configs = [models.VirtualNetworkGatewayIPConfiguration(name=names[i], subnet=models.SubResource(id=subnet_id),
                                                           public_ip_address=models.SubResource(id=pip.id)) for i, pip in enumerate(public_ips)]
    peerings = [models.IPConfigurationBgpPeeringAddress(ipconfiguration_id=gateway_id + "/ipConfigurations/" + names[i],
                                                        custom_bgp_ip_addresses=list(addresses)) for i, addresses in enumerate(custom or [])]
    gateway = wait_poller(client.virtual_network_gateways.begin_create_or_update(GROUP, "az-gw", models.VirtualNetworkGateway(
        location=LOCATION, gateway_type="Vpn", vpn_type="RouteBased", sku=models.VirtualNetworkGatewaySku(name="VpnGw1AZ", tier="VpnGw1AZ"),
        active_active=True, enable_bgp=enable_bgp, ip_configurations=configs,
        bgp_settings=models.BgpSettings(asn=AZURE_ASN, bgp_peering_addresses=peerings))), 60)
    ips = [client.public_ip_addresses.get(GROUP, name).ip_address for name in ("pip-a", "pip-b")]
    return gateway, ips


def azure_connection(client, gateway, name: str, peer_ip: str, key: str, prefixes: list, bgp: dict | None = None,
                     custom: list | None = None, policy: dict | None = None):
    from azure.mgmt.network import models  # pylint: disable=import-outside-toplevel
    local = wait_poller(client.local_network_gateways.begin_create_or_update(GROUP, "lng-" + name, models.LocalNetworkGateway(
        location=LOCATION, gateway_ip_address=peer_ip, local_network_address_space=models.AddressSpace(address_prefixes=prefixes),
        bgp_settings=models.BgpSettings(asn=bgp["asn"], bgp_peering_address=bgp["address"]) if bgp else None)), 30)
    properties = {"connection_type": "IPsec", "connection_protocol": "IKEv2", "shared_key": key, "enable_bgp": bool(bgp)}
    if policy:
        properties["ipsec_policies"] = [models.IpsecPolicy(**policy)]
    if custom:
        properties["gateway_custom_bgp_ip_addresses"] = [models.GatewayCustomBgpIpAddressIpConfiguration(
            ip_configuration_id=gateway.id + "/ipConfigurations/" + config, custom_bgp_ip_address=address) for config, address in custom]
    return wait_poller(client.virtual_network_gateway_connections.begin_create_or_update(GROUP, "conn-" + name,
                       models.VirtualNetworkGatewayConnection(location=LOCATION, virtual_network_gateway1=models.VirtualNetworkGateway(
                           id=gateway.id), local_network_gateway2=models.LocalNetworkGateway(id=local.id), **properties)), 30)


AZURE_POLICY = {"sa_life_time_seconds": 3600, "sa_data_size_kilobytes": 102400000, "ipsec_encryption": "AES256",
                "ipsec_integrity": "SHA256", "ike_encryption": "AES256", "ike_integrity": "SHA256", "dh_group": "DHGroup14",
                "pfs_group": "PFS2048"}


def build_aws_azure_bgp(clouds: Clouds) -> dict:
    """Microsoft's documented AWS BGP layout: 1 active-active gateway with custom APIPA addresses, 4 LNGs, 4 connections;
    AWS 1 VGW, 2 customer gateways (one per Azure public IP), 2 connections = 4 tunnels."""
    ec2, client = clouds.ec2, clouds.azure
    _vpc, vgw_id = aws_vpc_and_vgw(ec2)
    apipa = [("169.254.21.2", "169.254.22.2"), ("169.254.21.6", "169.254.22.6")]
    gateway, azure_ips = azure_gateway(client, enable_bgp=True, custom=apipa)
    cidrs = [("169.254.21.0/30", "169.254.22.0/30"), ("169.254.21.4/30", "169.254.22.4/30")]
    connections, tunnels = [], []
    for index, azure_ip in enumerate(azure_ips):
        specs = [dict(AWS_NARROW, TunnelInsideCidr=cidrs[index][t], PreSharedKey="lab_az_c%dt%d_0123456789" % (index + 1, t + 1))
                 for t in range(2)]
        connection = aws_connection(ec2, vgw_id, azure_ip, AZURE_ASN, specs)
        connections.append(connection)
        for t, (aws_ip, cidr, psk) in enumerate(aws_tunnels(connection)):
            aws_inside, _customer = _hosts(cidr)
            name = "c%dt%d" % (index + 1, t + 1)
            # each connection names a custom APIPA address for both instances (21.x for tunnel 1, 22.x for tunnel 2)
            custom = [("default", apipa[0][t]), ("activeActive", apipa[1][t])]
            azure_connection(client, gateway, name, aws_ip, psk, [], bgp={"asn": AWS_ASN, "address": aws_inside}, custom=custom,
                             policy=AZURE_POLICY)
            tunnels.append({"azure": "conn-" + name, "aws_ip": aws_ip, "vpn_id": connection["VpnConnectionId"], "azure_ip": azure_ip})
    return {"vgw": vgw_id, "vpn_ids": [c["VpnConnectionId"] for c in connections], "azure_ips": azure_ips, "tunnels": tunnels}


def build_aws_azure_static(clouds: Clouds) -> dict:
    """Seed 004's layout: static routing, AWS and Azure defaults for every IPsec parameter, tunnel 1 of each AWS connection."""
    ec2, client = clouds.ec2, clouds.azure
    _vpc, vgw_id = aws_vpc_and_vgw(ec2)
    gateway, azure_ips = azure_gateway(client, enable_bgp=False)
    connections, tunnels = [], []
    for index, azure_ip in enumerate(azure_ips):
        connection = aws_connection(ec2, vgw_id, azure_ip, AZURE_ASN, static=True)
        ec2.create_vpn_connection_route(VpnConnectionId=connection["VpnConnectionId"], DestinationCidrBlock=AZURE_VNET)
        connections.append(connection)
        aws_ip, _cidr, psk = aws_tunnels(connection)[0]
        azure_connection(client, gateway, "s%d" % (index + 1), aws_ip, psk, [AWS_VPC])
        tunnels.append({"azure": "conn-s%d" % (index + 1), "aws_ip": aws_ip, "vpn_id": connection["VpnConnectionId"], "azure_ip": azure_ip})
    return {"vgw": vgw_id, "vpn_ids": [c["VpnConnectionId"] for c in connections], "azure_ips": azure_ips, "tunnels": tunnels}


def azure_connection_status(client, names: list) -> dict:
    return {name: client.virtual_network_gateway_connections.get(GROUP, name).connection_status for name in names}


def azure_bgp_peers(client) -> dict:
    """{(neighbor, local address): state} from getBgpPeerStatus."""
    result = wait_poller(client.virtual_network_gateways.begin_get_bgp_peer_status(GROUP, "az-gw"), 30)
    return {(peer.neighbor, peer.local_address): peer.state for peer in result.value}


def wait_for(check, timeout: float, interval: float = 0.3):
    """Poll check() until it returns a truthy value; return (value, seconds) or raise AssertionError with the last value."""
    started = time.monotonic()
    value = None
    while time.monotonic() - started < timeout:
        value = check()
        if value:
            return value, time.monotonic() - started
        time.sleep(interval)
    raise AssertionError("not reached in %.0fs; last: %r" % (timeout, value))

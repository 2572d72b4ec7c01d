# Contract tests of the Azure Network stand-in, driven through azure-mgmt-network and the collection's adapter.
# Internal to the multicloud.vpn test lab; not shipped in the collection.
from __future__ import annotations

import ipaddress
import json
import logging
import os
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest
from azure.mgmt.network import models
from werkzeug.serving import make_server

from ansible_collections.multicloud.vpn.plugins.module_utils._azure import AzureError, azure_call, get_or_none, network_client, wait_poller
from standins.azure import build_app

SUBSCRIPTION = "00000000-0000-4000-8000-0000000000a1"
GROUP = "rg-lab"
LOCATION = "eastus"
NO_DELAYS = {"virtualNetworks": 0, "publicIPAddresses": 0, "virtualNetworkGateways": 0, "localNetworkGateways": 0, "connections": 0,
             "retry_after": 1}
NO_FAULTS = {"rate": 0.0, "seed": 0, "kinds": ["server_error", "throttle", "lost_response"]}
GATEWAY_ID = "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/virtualNetworkGateways/gw" % (SUBSCRIPTION, GROUP)
PRIMARY, SECONDARY = GATEWAY_ID + "/ipConfigurations/default", GATEWAY_ID + "/ipConfigurations/activeActive"

logging.getLogger("werkzeug").setLevel(logging.ERROR)


class Lab:
    """The running stand-in: its URL, the in-process app, and the /_lab/ control routes."""

    def __init__(self, app, url):
        self.app = app
        self.url = url

    def control(self, route, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + "/_lab/" + route, data=data, method="GET" if body is None else "POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())


@pytest.fixture(scope="module")
def running_lab():
    app = build_app({"delays": NO_DELAYS, "resource_groups": [{"subscription_id": SUBSCRIPTION, "name": GROUP, "location": LOCATION}]})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Lab(app, "http://127.0.0.1:%d" % server.server_port)
    server.shutdown()


@pytest.fixture
def lab(running_lab):
    running_lab.control("reset", {})
    running_lab.control("config", {"delays": NO_DELAYS, "faults": NO_FAULTS})
    return running_lab


@pytest.fixture
def client(lab):
    return network_client({"base_url": lab.url, "subscription_id": SUBSCRIPTION}, environ={}, retry_backoff_factor=0.01)


def wait(poller, timeout=30):
    return wait_poller(poller, timeout)


def refused(code, function, *args, **kwargs):
    """Call through the adapter and return the AzureError, checking its ARM code."""
    with pytest.raises(AzureError) as caught:
        azure_call("call", function, *args, **kwargs)
    assert caught.value.code == code, str(caught.value)
    return caught.value


def make_vnet(client, name="vnet", prefixes=("10.1.0.0/16",), subnets=(("GatewaySubnet", "10.1.255.0/27"),)):
    body = models.VirtualNetwork(location=LOCATION, address_space=models.AddressSpace(address_prefixes=list(prefixes)),
                                 subnets=[models.Subnet(name=subnet, address_prefix=prefix) for subnet, prefix in subnets])
    return wait(client.virtual_networks.begin_create_or_update(GROUP, name, body))


def make_public_ip(client, name):
    body = models.PublicIPAddress(location=LOCATION, sku=models.PublicIPAddressSku(name="Standard", tier="Regional"),
                                  public_ip_allocation_method="Static")
    return wait(client.public_ip_addresses.begin_create_or_update(GROUP, name, body))


def gateway_body(subnet_id, public_ips, sku="VpnGw1AZ", active_active=True, custom=None, asn=65010, enable_bgp=True):
    names = ["default", "activeActive"]
    configs = [models.VirtualNetworkGatewayIPConfiguration(
        name=names[index], subnet=models.SubResource(id=subnet_id), public_ip_address=models.SubResource(id=public_ip.id))
        for index, public_ip in enumerate(public_ips)]
    peerings = [models.IPConfigurationBgpPeeringAddress(ipconfiguration_id=GATEWAY_ID + "/ipConfigurations/" + names[index], custom_bgp_ip_addresses=addresses)
                for index, addresses in enumerate(custom or [])]
    return models.VirtualNetworkGateway(location=LOCATION, gateway_type="Vpn", vpn_type="RouteBased", sku=models.VirtualNetworkGatewaySku(name=sku, tier=sku),
                                        active_active=active_active, enable_bgp=enable_bgp, ip_configurations=configs,
                                        bgp_settings=models.BgpSettings(asn=asn, bgp_peering_addresses=peerings))


def make_gateway(client, custom=(("169.254.21.2", "169.254.22.2"), ("169.254.21.6", "169.254.22.6"))):
    vnet = make_vnet(client)
    public_ips = [make_public_ip(client, "pip-a"), make_public_ip(client, "pip-b")]
    body = gateway_body(vnet.subnets[0].id, public_ips, custom=[list(addresses) for addresses in custom])
    return wait(client.virtual_network_gateways.begin_create_or_update(GROUP, "gw", body)), public_ips


def make_local_gateway(client, name="lng", address="203.0.113.10", asn=64512, bgp_ip="169.254.21.1"):
    body = models.LocalNetworkGateway(location=LOCATION, gateway_ip_address=address, local_network_address_space=models.AddressSpace(address_prefixes=[]),
                                      bgp_settings=models.BgpSettings(asn=asn, bgp_peering_address=bgp_ip))
    return wait(client.local_network_gateways.begin_create_or_update(GROUP, name, body))


def connection_body(gateway, local_gateway, **properties):
    properties.setdefault("shared_key", "Lab.Key_1")
    return models.VirtualNetworkGatewayConnection(
        location=LOCATION, connection_type="IPsec", virtual_network_gateway1=models.VirtualNetworkGateway(id=gateway.id),
        local_network_gateway2=models.LocalNetworkGateway(id=local_gateway.id), **properties)


def ipsec_policy(**overrides):
    values = {"sa_life_time_seconds": 3600, "sa_data_size_kilobytes": 102400000, "ipsec_encryption": "AES256", "ipsec_integrity": "SHA256",
              "ike_encryption": "AES256", "ike_integrity": "SHA256", "dh_group": "DHGroup14", "pfs_group": "PFS14"}
    values.update(overrides)
    return models.IpsecPolicy(**values)


# -- resource groups, virtual networks, subnets ---------------------------------------------------
def test_resource_in_missing_resource_group_is_refused(client):
    body = models.VirtualNetwork(location=LOCATION, address_space=models.AddressSpace(address_prefixes=["10.9.0.0/16"]))
    refused("ResourceGroupNotFound", client.virtual_networks.begin_create_or_update, "no-such-group", "vnet", body)


def test_resource_groups_are_created_read_and_deleted_arm_style(client):
    path = "/subscriptions/%s/resourcegroups/rg-extra?api-version=2021-04-01" % SUBSCRIPTION
    created = client.send_request(HttpRequest("PUT", path, json={"location": "West Europe", "tags": {"team": "net"}}))
    assert created.status_code == 201 and created.json()["location"] == "westeurope"
    assert client.send_request(HttpRequest("PUT", path, json={"location": "westeurope"})).status_code == 200
    assert client.send_request(HttpRequest("HEAD", path)).status_code == 204
    moved = client.send_request(HttpRequest("PUT", path, json={"location": "eastus"}))
    assert moved.status_code == 409 and moved.json()["error"]["code"] == "InvalidResourceGroupLocation"
    make_public_ip_in = models.PublicIPAddress(location="westeurope", sku=models.PublicIPAddressSku(name="Standard"), public_ip_allocation_method="Static")
    wait(client.public_ip_addresses.begin_create_or_update("rg-extra", "pip", make_public_ip_in))
    deleted = client.send_request(HttpRequest("DELETE", path))
    assert deleted.status_code == 202 and "/operationResults/" in deleted.headers["Location"]
    assert client.send_request(HttpRequest("GET", path)).json()["error"]["code"] == "ResourceGroupNotFound"
    assert [pip.name for pip in client.public_ip_addresses.list_all()] == []


def test_missing_resource_reads_as_none_through_the_adapter(client):
    assert get_or_none("get gateway", client.virtual_network_gateways.get, GROUP, "absent") is None


def test_virtual_network_and_gateway_subnet_round_trip(client):
    vnet = make_vnet(client, subnets=(("GatewaySubnet", "10.1.255.0/27"), ("workload", "10.1.1.0/24")))
    again = client.virtual_networks.get(GROUP, "VNET")
    assert again.id == vnet.id and again.provisioning_state == "Succeeded"
    assert [(subnet.name, subnet.address_prefix) for subnet in again.subnets] == [("GatewaySubnet", "10.1.255.0/27"), ("workload", "10.1.1.0/24")]
    assert client.subnets.get(GROUP, "vnet", "GatewaySubnet").id.endswith("/virtualNetworks/vnet/subnets/GatewaySubnet")


def test_subnet_outside_the_address_space_is_refused(client):
    make_vnet(client)
    refused("NetcfgInvalidSubnet", client.subnets.begin_create_or_update, GROUP, "vnet", "outside", models.Subnet(address_prefix="10.2.0.0/24"))


def test_overlapping_subnets_are_refused(client):
    make_vnet(client)
    refused("NetcfgSubnetRangesOverlap", client.subnets.begin_create_or_update, GROUP, "vnet", "overlap", models.Subnet(address_prefix="10.1.255.16/28"))


def test_subnet_prefix_with_host_bits_is_refused(client):
    make_vnet(client)
    error = refused("InvalidCIDRNotation", client.subnets.begin_create_or_update, GROUP, "vnet", "sloppy", models.Subnet(address_prefix="10.1.1.1/24"))
    assert "should be 10.1.1.0/24" in str(error)


# -- public IP addresses -----------------------------------------------------------------------------
def test_public_ips_come_from_the_documentation_range_and_never_change(client):
    first, second = make_public_ip(client, "pip-a"), make_public_ip(client, "pip-b")
    assert first.ip_address != second.ip_address
    assert all(ipaddress.ip_address(pip.ip_address) in ipaddress.ip_network("192.0.2.0/24") for pip in (first, second))
    updated = wait(client.public_ip_addresses.begin_create_or_update(GROUP, "pip-a", models.PublicIPAddress(
        location=LOCATION, sku=models.PublicIPAddressSku(name="Standard"), public_ip_allocation_method="Static", tags={"role": "vpn"})))
    assert updated.ip_address == first.ip_address and updated.tags == {"role": "vpn"}
    assert client.public_ip_addresses.get(GROUP, "pip-a").ip_address == first.ip_address


def test_standard_public_ip_must_be_static(client):
    body = models.PublicIPAddress(location=LOCATION, sku=models.PublicIPAddressSku(name="Standard"), public_ip_allocation_method="Dynamic")
    refused("StandardAndStandardV2SkuPublicIPAddressesMustBeStatic", client.public_ip_addresses.begin_create_or_update, GROUP, "pip", body)


def test_basic_public_ip_is_refused(client):
    body = models.PublicIPAddress(location=LOCATION, sku=models.PublicIPAddressSku(name="Basic"), public_ip_allocation_method="Static")
    refused("BasicSkuPublicIPAddressRetired", client.public_ip_addresses.begin_create_or_update, GROUP, "pip", body)


def test_public_ip_in_use_by_a_gateway_cannot_be_deleted(client):
    make_gateway(client)
    error = refused("PublicIPAddressCannotBeDeleted", client.public_ip_addresses.begin_delete, GROUP, "pip-a")
    assert "ipConfigurations/default" in str(error)
    assert client.public_ip_addresses.get(GROUP, "pip-a").ip_configuration.id == PRIMARY


# -- virtual network gateways -------------------------------------------------------------------------
def test_active_active_gateway_has_two_instances_with_their_bgp_addresses(client):
    gateway, public_ips = make_gateway(client)
    assert gateway.provisioning_state == "Succeeded" and gateway.active_active and gateway.sku.capacity == 2
    peerings = {peering.ipconfiguration_id: peering for peering in gateway.bgp_settings.bgp_peering_addresses}
    assert peerings[PRIMARY].default_bgp_ip_addresses == ["10.1.255.4"]
    assert peerings[SECONDARY].default_bgp_ip_addresses == ["10.1.255.5"]
    assert peerings[PRIMARY].custom_bgp_ip_addresses == ["169.254.21.2", "169.254.22.2"]
    assert peerings[SECONDARY].tunnel_ip_addresses == [public_ips[1].ip_address]
    assert gateway.bgp_settings.asn == 65010 and gateway.bgp_settings.bgp_peering_address == "10.1.255.4,10.1.255.5"


def test_gateway_asn_defaults_to_65515(client):
    vnet = make_vnet(client)
    body = gateway_body(vnet.subnets[0].id, [make_public_ip(client, "pip-a")], active_active=False, asn=None)
    body.bgp_settings = None
    gateway = wait(client.virtual_network_gateways.begin_create_or_update(GROUP, "gw", body))
    assert gateway.bgp_settings.asn == 65515
    assert gateway.bgp_settings.bgp_peering_addresses[0].default_bgp_ip_addresses == ["10.1.255.30"]


def test_active_active_gateway_with_one_ip_configuration_is_refused(client):
    vnet = make_vnet(client)
    body = gateway_body(vnet.subnets[0].id, [make_public_ip(client, "pip-a")], active_active=True)
    refused("ActiveActiveGatewayMustHaveExactlyTwoIpConfigurations", client.virtual_network_gateways.begin_create_or_update, GROUP, "gw", body)


def test_basic_gateway_cannot_be_active_active(client):
    vnet = make_vnet(client)
    body = gateway_body(vnet.subnets[0].id, [make_public_ip(client, "pip-a"), make_public_ip(client, "pip-b")], sku="Basic", enable_bgp=False)
    refused("ActiveActiveNotSupportedForBasicSku", client.virtual_network_gateways.begin_create_or_update, GROUP, "gw", body)


def test_non_az_sku_is_accepted_and_flagged(client, lab):
    vnet = make_vnet(client)
    body = gateway_body(vnet.subnets[0].id, [make_public_ip(client, "pip-a")], sku="VpnGw1", active_active=False)
    assert wait(client.virtual_network_gateways.begin_create_or_update(GROUP, "gw", body)).sku.name == "VpnGw1"
    assert "retiring" in lab.control("state")["virtual_network_gateways"][0]["warnings"][0]


def test_gateway_subnet_must_be_named_gateway_subnet(client):
    vnet = make_vnet(client, subnets=(("vpn", "10.1.255.0/27"),))
    body = gateway_body(vnet.subnets[0].id, [make_public_ip(client, "pip-a")], active_active=False)
    refused("InvalidGatewaySubnet", client.virtual_network_gateways.begin_create_or_update, GROUP, "gw", body)


def test_gateway_subnet_must_be_27_or_larger(client):
    vnet = make_vnet(client, subnets=(("GatewaySubnet", "10.1.255.0/28"),))
    body = gateway_body(vnet.subnets[0].id, [make_public_ip(client, "pip-a")], active_active=False)
    refused("GatewaySubnetTooSmall", client.virtual_network_gateways.begin_create_or_update, GROUP, "gw", body)


def test_custom_bgp_address_outside_the_apipa_range_is_refused(client):
    vnet = make_vnet(client)
    public_ips = [make_public_ip(client, "pip-a"), make_public_ip(client, "pip-b")]
    body = gateway_body(vnet.subnets[0].id, public_ips, custom=[["169.254.20.2"], ["169.254.22.6"]])
    error = refused("InvalidCustomBgpIpAddress", client.virtual_network_gateways.begin_create_or_update, GROUP, "gw", body)
    assert "169.254.21.0 - 169.254.22.255" in str(error)


def test_active_passive_gateway_takes_one_custom_apipa_address(client):
    vnet = make_vnet(client)
    body = gateway_body(vnet.subnets[0].id, [make_public_ip(client, "pip-a")], active_active=False, custom=[["169.254.21.2", "169.254.22.2"]])
    refused("ActivePassiveGatewaySupportsOneCustomBgpIpAddress", client.virtual_network_gateways.begin_create_or_update, GROUP, "gw", body)


def test_reserved_asns_are_refused(client):
    vnet = make_vnet(client)
    body = gateway_body(vnet.subnets[0].id, [make_public_ip(client, "pip-a")], active_active=False, asn=65517)
    refused("ReservedAsnNotAllowed", client.virtual_network_gateways.begin_create_or_update, GROUP, "gw", body)
    local = models.LocalNetworkGateway(location=LOCATION, gateway_ip_address="203.0.113.10",
                                       bgp_settings=models.BgpSettings(asn=65515, bgp_peering_address="169.254.21.1"))
    refused("ReservedAsnNotAllowed", client.local_network_gateways.begin_create_or_update, GROUP, "lng", local)


def test_gateway_reads_updating_until_its_delay_passes_and_refuses_a_second_put(client, lab):
    vnet = make_vnet(client)
    public_ips = [make_public_ip(client, "pip-a"), make_public_ip(client, "pip-b")]
    lab.control("config", {"delays": {"virtualNetworkGateways": 1.5}})
    body = gateway_body(vnet.subnets[0].id, public_ips)
    started = time.monotonic()
    poller = client.virtual_network_gateways.begin_create_or_update(GROUP, "gw", body)
    assert client.virtual_network_gateways.get(GROUP, "gw").provisioning_state == "Updating"
    error = refused("AnotherOperationInProgress", client.virtual_network_gateways.begin_create_or_update, GROUP, "gw", body)
    assert error.status == 409 and "/operations/" in str(error)
    assert wait(poller).provisioning_state == "Succeeded"
    assert time.monotonic() - started >= 1.5


def test_dependent_resources_are_busy_while_the_gateway_updates(client, lab):
    vnet = make_vnet(client)
    local_gateway = make_local_gateway(client)
    lab.control("config", {"delays": {"virtualNetworkGateways": 1}})
    body = gateway_body(vnet.subnets[0].id, [make_public_ip(client, "pip-a")], active_active=False)
    poller = client.virtual_network_gateways.begin_create_or_update(GROUP, "gw", body)
    refused("AnotherOperationInProgress", client.virtual_network_gateway_connections.begin_create_or_update, GROUP, "conn",
            connection_body(client.virtual_network_gateways.get(GROUP, "gw"), local_gateway))
    refused("AnotherOperationInProgress", client.virtual_network_gateways.begin_delete, GROUP, "gw")
    wait(poller)


def test_tags_change_through_patch(client):
    make_gateway(client)
    tagged = wait(client.virtual_network_gateways.begin_update_tags(GROUP, "gw", models.TagsObject(tags={"owner": "lab"})))
    assert tagged.tags == {"owner": "lab"} and tagged.provisioning_state == "Succeeded"
    assert client.public_ip_addresses.update_tags(GROUP, "pip-a", models.TagsObject(tags={"k": "v"})).tags == {"k": "v"}


def test_custom_bgp_addresses_and_tags_change_in_place(client):
    gateway, public_ips = make_gateway(client)
    body = gateway_body(gateway.ip_configurations[0].subnet.id, public_ips, custom=[["169.254.21.10"], ["169.254.22.10"]])
    body.tags = {"env": "lab"}
    updated = wait(client.virtual_network_gateways.begin_create_or_update(GROUP, "gw", body))
    assert updated.tags == {"env": "lab"} and updated.resource_guid == gateway.resource_guid
    assert [peering.custom_bgp_ip_addresses for peering in updated.bgp_settings.bgp_peering_addresses] == [["169.254.21.10"], ["169.254.22.10"]]
    assert [peering.tunnel_ip_addresses for peering in updated.bgp_settings.bgp_peering_addresses] == [[public_ips[0].ip_address], [public_ips[1].ip_address]]


def test_sku_family_and_generation_cannot_change(client):
    gateway, public_ips = make_gateway(client)
    body = gateway_body(gateway.ip_configurations[0].subnet.id, public_ips, sku="VpnGw2")
    refused("GatewaySkuResizeNotSupported", client.virtual_network_gateways.begin_create_or_update, GROUP, "gw", body)
    body = gateway_body(gateway.ip_configurations[0].subnet.id, public_ips, sku="VpnGw2AZ")
    body.vpn_gateway_generation = "Generation2"
    refused("GatewayPropertyCannotBeChanged", client.virtual_network_gateways.begin_create_or_update, GROUP, "gw", body)
    resize = gateway_body(gateway.ip_configurations[0].subnet.id, public_ips, sku="VpnGw2AZ")
    resized = wait(client.virtual_network_gateways.begin_create_or_update(GROUP, "gw", resize))
    assert resized.sku.name == "VpnGw2AZ"


def test_gateway_subnet_in_use_cannot_be_deleted(client):
    make_gateway(client)
    refused("InUseSubnetCannotBeDeleted", client.subnets.begin_delete, GROUP, "vnet", "GatewaySubnet")
    without_subnets = models.VirtualNetwork(location=LOCATION, address_space=models.AddressSpace(address_prefixes=["10.1.0.0/16"]))
    refused("InUseSubnetCannotBeDeleted", client.virtual_networks.begin_create_or_update, GROUP, "vnet", without_subnets)
    subnet = client.subnets.get(GROUP, "vnet", "GatewaySubnet")
    assert [config.id for config in subnet.ip_configurations] == [PRIMARY, SECONDARY]


def test_gateway_with_connections_cannot_be_deleted(client):
    gateway = make_gateway(client)[0]
    local_gateway = make_local_gateway(client)
    wait(client.virtual_network_gateway_connections.begin_create_or_update(GROUP, "conn", connection_body(gateway, local_gateway)))
    refused("InUseVirtualNetworkGatewayCannotBeDeleted", client.virtual_network_gateways.begin_delete, GROUP, "gw")
    refused("InUseLocalNetworkGatewayCannotBeDeleted", client.local_network_gateways.begin_delete, GROUP, "lng")
    wait(client.virtual_network_gateway_connections.begin_delete(GROUP, "conn"))
    wait(client.virtual_network_gateways.begin_delete(GROUP, "gw"))
    assert get_or_none("get gateway", client.virtual_network_gateways.get, GROUP, "gw") is None
    wait(client.public_ip_addresses.begin_delete(GROUP, "pip-a"))


# -- local network gateways and connections ------------------------------------------------------------
def test_local_network_gateway_round_trips_with_bgp(client):
    make_local_gateway(client, address="203.0.113.10", asn=64512, bgp_ip="169.254.21.1")
    local_gateway = client.local_network_gateways.get(GROUP, "lng")
    assert local_gateway.gateway_ip_address == "203.0.113.10"
    assert (local_gateway.bgp_settings.asn, local_gateway.bgp_settings.bgp_peering_address) == (64512, "169.254.21.1")


def test_connection_get_omits_the_shared_key_which_sharedkey_returns(client):
    gateway = make_gateway(client)[0]
    connection = wait(client.virtual_network_gateway_connections.begin_create_or_update(
        GROUP, "conn", connection_body(gateway, make_local_gateway(client), shared_key="Lab.Key_1")))
    assert connection.shared_key is None and client.virtual_network_gateway_connections.get(GROUP, "conn").shared_key is None
    assert client.virtual_network_gateway_connections.get_shared_key(GROUP, "conn").value == "Lab.Key_1"
    wait(client.virtual_network_gateway_connections.begin_set_shared_key(GROUP, "conn", models.ConnectionSharedKey(value="Lab.Key_2")))
    assert client.virtual_network_gateway_connections.get_shared_key(GROUP, "conn").value == "Lab.Key_2"
    without_key = connection_body(gateway, make_local_gateway(client), shared_key=None)
    wait(client.virtual_network_gateway_connections.begin_create_or_update(GROUP, "conn", without_key))
    assert client.virtual_network_gateway_connections.get_shared_key(GROUP, "conn").value == "Lab.Key_2"
    reset = client.virtual_network_gateway_connections.begin_reset_shared_key(GROUP, "conn", models.ConnectionResetSharedKey(key_length=24))
    assert wait(reset).key_length == 24
    assert len(client.virtual_network_gateway_connections.get_shared_key(GROUP, "conn").value) == 24


def test_ipsec_policy_values_are_validated(client):
    gateway = make_gateway(client)[0]
    local_gateway = make_local_gateway(client)
    connections = client.virtual_network_gateway_connections
    refused("InvalidRequestFormat", connections.begin_create_or_update, GROUP, "conn",
            connection_body(gateway, local_gateway, ipsec_policies=[ipsec_policy(ike_encryption="AES512")]))
    refused("InvalidIpsecPolicy", connections.begin_create_or_update, GROUP, "conn",
            connection_body(gateway, local_gateway, ipsec_policies=[ipsec_policy(ipsec_encryption="GCMAES256", ipsec_integrity="SHA256")]))
    refused("InvalidIpsecPolicy", connections.begin_create_or_update, GROUP, "conn",
            connection_body(gateway, local_gateway, ipsec_policies=[ipsec_policy(sa_life_time_seconds=100)]))
    refused("PolicyBasedTrafficSelectorsRequireIpsecPolicy", connections.begin_create_or_update, GROUP, "conn",
            connection_body(gateway, local_gateway, use_policy_based_traffic_selectors=True))
    accepted = wait(connections.begin_create_or_update(GROUP, "conn", connection_body(
        gateway, local_gateway, ipsec_policies=[ipsec_policy(ipsec_encryption="gcmaes256", ipsec_integrity="GCMAES256", pfs_group="ECP384")])))
    assert accepted.ipsec_policies[0].ipsec_encryption == "GCMAES256" and accepted.connection_protocol == "IKEv2"


def test_connection_custom_bgp_address_must_be_one_of_the_gateways(client):
    gateway = make_gateway(client)[0]
    local_gateway = make_local_gateway(client)
    wrong = [models.GatewayCustomBgpIpAddressIpConfiguration(ip_configuration_id=PRIMARY, custom_bgp_ip_address="169.254.21.9")]
    refused("InvalidGatewayCustomBgpIpAddress", client.virtual_network_gateway_connections.begin_create_or_update, GROUP, "conn",
            connection_body(gateway, local_gateway, enable_bgp=True, gateway_custom_bgp_ip_addresses=wrong))


def test_connection_with_bgp_needs_a_bgp_gateway(client):
    vnet = make_vnet(client)
    body = gateway_body(vnet.subnets[0].id, [make_public_ip(client, "pip-a")], active_active=False, enable_bgp=False)
    gateway = wait(client.virtual_network_gateways.begin_create_or_update(GROUP, "gw", body))
    refused("BgpNotEnabledOnVirtualNetworkGateway", client.virtual_network_gateway_connections.begin_create_or_update, GROUP, "conn",
            connection_body(gateway, make_local_gateway(client), enable_bgp=True))


def test_connection_and_bgp_read_down_until_the_data_plane_reports(client, lab):
    gateway, public_ips = make_gateway(client)
    custom = [models.GatewayCustomBgpIpAddressIpConfiguration(ip_configuration_id=PRIMARY, custom_bgp_ip_address="169.254.21.2"),
              models.GatewayCustomBgpIpAddressIpConfiguration(ip_configuration_id=SECONDARY, custom_bgp_ip_address="169.254.21.6")]
    wait(client.virtual_network_gateway_connections.begin_create_or_update(GROUP, "conn", connection_body(
        gateway, make_local_gateway(client), enable_bgp=True, gateway_custom_bgp_ip_addresses=custom)))
    connection = client.virtual_network_gateway_connections.get(GROUP, "conn")
    assert connection.connection_status == "Connecting"
    assert {tunnel.connection_status for tunnel in connection.tunnel_connection_status} == {"NotConnected"}
    peers = wait(client.virtual_network_gateways.begin_get_bgp_peer_status(GROUP, "gw")).value
    assert [(peer.local_address, peer.neighbor, peer.asn, peer.state) for peer in peers] == [
        ("169.254.21.2", "169.254.21.1", 64512, "Connecting"), ("169.254.21.6", "169.254.21.1", 64512, "Connecting")]
    tunnels = lab.control("state")["connections"][0]["tunnels"]
    assert [(tunnel["azure_public_ip"], tunnel["azure_bgp_ip"], tunnel["peer_ip"]) for tunnel in tunnels] == [
        (public_ips[0].ip_address, "169.254.21.2", "203.0.113.10"), (public_ips[1].ip_address, "169.254.21.6", "203.0.113.10")]
    lab.control("status", {"connections": {"%s/conn" % GROUP: {"tunnels": [
        {"azure_public_ip": public_ips[0].ip_address, "connection_status": "Connected", "ingress_bytes": 10, "egress_bytes": 20}]}},
        "virtual_network_gateways": {"%s/gw" % GROUP: {"bgp_peers": [
            {"neighbor": "169.254.21.1", "local_address": "169.254.21.2", "asn": 64512, "state": "Connected", "routes_received": 3}]}}})
    connection = client.virtual_network_gateway_connections.get(GROUP, "conn")
    assert (connection.connection_status, connection.ingress_bytes_transferred, connection.egress_bytes_transferred) == ("Connected", 10, 20)
    peers = wait(client.virtual_network_gateways.begin_get_bgp_peer_status(GROUP, "gw")).value
    assert [(peer.state, peer.routes_received) for peer in peers] == [("Connected", 3), ("Connecting", 0)]


def test_status_for_unknown_connection_is_refused(lab):
    with pytest.raises(urllib.error.HTTPError) as caught:
        lab.control("status", {"connections": {"%s/nope" % GROUP: {"connection_status": "Connected"}}})
    assert caught.value.code == 400


# -- request validation, ARM plumbing ----------------------------------------------------------------
def test_misspelled_field_is_rejected(client):
    make_vnet(client)
    body = {"location": LOCATION, "properties": {"gatewayType": "Vpn", "vpnTyp": "RouteBased", "sku": {"name": "VpnGw1AZ", "tier": "VpnGw1AZ"}}}
    error = refused("InvalidRequestFormat", client.virtual_network_gateways.begin_create_or_update, GROUP, "gw", body)
    assert "Could not find member 'vpnTyp' on object of type 'VirtualNetworkGatewayPropertiesFormat'" in str(error)


def test_wrong_type_is_rejected(client):
    body = {"location": LOCATION, "properties": {"gatewayIpAddress": "203.0.113.10", "bgpSettings": {"asn": "64512", "bgpPeeringAddress": "169.254.21.1"}}}
    error = refused("InvalidRequestFormat", client.local_network_gateways.begin_create_or_update, GROUP, "lng", body)
    assert "Path 'properties.bgpSettings.asn'" in str(error)


def test_writes_are_long_running_operations_the_arm_way(client, lab):
    vnet_poller = client.virtual_networks.begin_create_or_update(GROUP, "vnet", models.VirtualNetwork(
        location=LOCATION, address_space=models.AddressSpace(address_prefixes=["10.1.0.0/16"])))
    initial = vnet_poller.polling_method()._initial_response.http_response  # pylint: disable=protected-access
    assert initial.status_code == 201 and initial.headers["Retry-After"] == "1"
    assert "/providers/Microsoft.Network/locations/eastus/operations/" in initial.headers["Azure-AsyncOperation"]
    wait(vnet_poller)
    delete_poller = client.virtual_networks.begin_delete(GROUP, "vnet")
    initial = delete_poller.polling_method()._initial_response.http_response  # pylint: disable=protected-access
    assert initial.status_code == 202 and "/operationResults/" in initial.headers["Location"]
    wait(delete_poller)
    summary = lab.control("requests")["summary"]["by_operation"]
    assert summary["Microsoft.Network/locations/operations/read"] == 2


def test_request_log_counts_calls_per_operation(client, lab):
    make_vnet(client)
    client.virtual_networks.get(GROUP, "vnet")
    list(client.virtual_networks.list(GROUP))
    summary = lab.control("requests")["summary"]
    assert summary["by_operation"]["Microsoft.Network/virtualNetworks/write"] == 1
    assert summary["by_operation"]["Microsoft.Network/virtualNetworks/read"] == 3  # final GET of the poller, get, list
    assert (summary["writes"], summary["requests"]) == (1, 5)


def test_injected_faults_are_retried_by_the_sdk(client, lab):
    # azure-core retries a status at most 3 times (retry_status): seed 2 never faults 4 times in a row here.
    lab.control("config", {"faults": {"rate": 0.3, "seed": 2, "kinds": ["server_error", "throttle", "lost_response"]}})
    make_vnet(client)
    make_public_ip(client, "pip-a")
    for attempt in range(4):
        assert client.virtual_networks.get(GROUP, "vnet").name == "vnet", attempt
    lab.control("config", {"faults": NO_FAULTS})
    entries = lab.control("requests")["entries"]
    assert {entry["fault"] for entry in entries if entry.get("fault")} == {"server_error", "throttle", "lost_response"}
    assert [pip["name"] for pip in lab.control("state")["public_ip_addresses"]] == ["pip-a"]


def test_unimplemented_call_answers_in_arm_format(client):
    make_gateway(client)
    with pytest.raises(HttpResponseError) as caught:
        client.virtual_network_gateways.begin_get_learned_routes(GROUP, "gw").result()
    assert caught.value.status_code == 404 and caught.value.error.code == "InvalidResourceType"


def test_failed_operation_becomes_one_line_adapter_error(client, lab):
    vnet = make_vnet(client)
    lab.app.controller.fail_next_operation("virtualNetworkGateways", "GatewayProvisioningFailed", "Lab says no.\nSecond line.")
    body = gateway_body(vnet.subnets[0].id, [make_public_ip(client, "pip-a")], active_active=False)
    poller = client.virtual_network_gateways.begin_create_or_update(GROUP, "gw", body)
    with pytest.raises(AzureError) as caught:
        wait_poller(poller, 30, action="create gateway gw")
    assert caught.value.code == "GatewayProvisioningFailed" and "\n" not in str(caught.value)
    assert str(caught.value).startswith("create gateway gw failed: GatewayProvisioningFailed: Lab says no. Second line.")
    assert client.virtual_network_gateways.get(GROUP, "gw").provisioning_state == "Failed"


def test_wait_poller_times_out_with_progress(client, lab):
    vnet = make_vnet(client)
    lab.control("config", {"delays": {"virtualNetworkGateways": 30}})
    body = gateway_body(vnet.subnets[0].id, [make_public_ip(client, "pip-a")], active_active=False)
    poller = client.virtual_network_gateways.begin_create_or_update(GROUP, "gw", body)
    with pytest.raises(AzureError) as caught:
        wait_poller(poller, 0.5, action="create gateway gw")
    assert caught.value.code == "Timeout" and "timed out" in str(caught.value)


def test_errors_never_echo_the_shared_key(client):
    gateway = make_gateway(client)[0]
    body = connection_body(gateway, make_local_gateway(client)).as_dict()
    body["properties"]["sharedKey"] = 12345678
    with pytest.raises(AzureError) as caught:
        azure_call("create connection", client.virtual_network_gateway_connections.begin_create_or_update, GROUP, "conn", body, secrets=("12345678",))
    assert "12345678" not in str(caught.value) and "********" in str(caught.value)


def test_reset_forgets_everything_but_seeded_resource_groups(client, lab):
    make_gateway(client)
    lab.control("reset", {})
    state = lab.control("state")
    assert state["virtual_network_gateways"] == [] and state["public_ip_addresses"] == [] and len(state["resource_groups"]) == 1
    assert lab.control("requests")["entries"] == []
    assert make_public_ip(client, "pip-a").ip_address == "192.0.2.1"


def test_module_runs_as_a_server_process(tmp_path):
    config = tmp_path / "azure.json"
    config.write_text(json.dumps({"delays": {"virtualNetworkGateways": 0}}))
    with make_server("127.0.0.1", 0, lambda environ, start_response: []) as probe:
        port = probe.server_port
    lab_dir = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, PYTHONPATH=lab_dir + os.pathsep + os.environ.get("PYTHONPATH", ""))
    process = subprocess.Popen([sys.executable, "-m", "standins.azure", "--port", str(port), "--config", str(config)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert b"listening on http://127.0.0.1:%d" % port in process.stdout.readline()
        with urllib.request.urlopen("http://127.0.0.1:%d/_lab/health" % port, timeout=10) as answer:
            assert json.loads(answer.read()) == {"cloud": "azure", "ok": True}
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0

# EC2 stand-in: documents AWS generates per VPN connection (CustomerGatewayConfiguration, device samples).
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""CustomerGatewayConfiguration XML and the "Vyatta" device sample configuration.

Both documents show AWS's minimal default algorithms (aes-128-cbc, sha1, group2) whatever the
tunnel options say -- as AWS's own documents do: the algorithms in force are in
Options.TunnelOptions. Addresses, ASNs and pre-shared keys are each tunnel's own.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from xml.sax.saxutils import escape

from ._tunnels import inside_addresses

BGP_HOLD_TIME = 30
TCP_MSS_ADJUSTMENT = 1379

VYATTA_DEVICE_TYPE = {"VpnConnectionDeviceTypeId": "9005b6c1", "Vendor": "Vyatta", "Platform": "Vyatta Network OS",
                      "Software": "Vyatta V6.5+"}
DEVICE_TYPES = (VYATTA_DEVICE_TYPE,)


@dataclass
class TunnelPlan:
    outside_ip: str
    inside_cidr: str
    pre_shared_key: str


@dataclass
class ConnectionPlan:
    """What both documents are built from."""

    vpn_connection_id: str
    connection_type: str
    customer_gateway_id: str
    customer_gateway_ip: str
    customer_gateway_asn: int
    gateway_id: str
    gateway_element: str  # "vpn_gateway_id" or "transit_gateway_id"
    amazon_side_asn: int
    static_routes_only: bool
    tunnels: list[TunnelPlan]


def customer_gateway_configuration(plan: ConnectionPlan) -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<vpn_connection id="%s">' % escape(plan.vpn_connection_id),
             "  <customer_gateway_id>%s</customer_gateway_id>" % plan.customer_gateway_id,
             "  <%s>%s</%s>" % (plan.gateway_element, plan.gateway_id, plan.gateway_element),
             "  <vpn_connection_type>%s</vpn_connection_type>" % plan.connection_type]
    if plan.static_routes_only:
        lines.append("  <vpn_connection_attributes>NoBGPVPNConnection</vpn_connection_attributes>")
    for tunnel in plan.tunnels:
        aws_inside, customer_inside = inside_addresses(tunnel.inside_cidr)
        network = ipaddress.ip_network(tunnel.inside_cidr)
        lines.append("  <ipsec_tunnel>")
        for side, outside_ip, inside_ip, asn in (("customer_gateway", plan.customer_gateway_ip, customer_inside, plan.customer_gateway_asn),
                                                 ("vpn_gateway", tunnel.outside_ip, aws_inside, plan.amazon_side_asn)):
            lines += ["    <%s>" % side,
                      "      <tunnel_outside_address>",
                      "        <ip_address>%s</ip_address>" % outside_ip,
                      "      </tunnel_outside_address>"]
            if network.version == 6:  # element names for IPv6 inside addresses are this stand-in's guess
                lines += ["      <tunnel_inside_ipv6_address>",
                          "        <ip_address>%s</ip_address>" % inside_ip,
                          "        <prefix_length>%d</prefix_length>" % network.prefixlen,
                          "      </tunnel_inside_ipv6_address>"]
            else:
                lines += ["      <tunnel_inside_address>",
                          "        <ip_address>%s</ip_address>" % inside_ip,
                          "        <network_mask>%s</network_mask>" % network.netmask,
                          "        <network_cidr>%d</network_cidr>" % network.prefixlen,
                          "      </tunnel_inside_address>"]
            if not plan.static_routes_only:
                lines += ["      <bgp>", "        <asn>%d</asn>" % asn, "        <hold_time>%d</hold_time>" % BGP_HOLD_TIME, "      </bgp>"]
            lines.append("    </%s>" % side)
        lines += ["    <ike>",
                  "      <authentication_protocol>sha1</authentication_protocol>",
                  "      <encryption_protocol>aes-128-cbc</encryption_protocol>",
                  "      <lifetime>28800</lifetime>",
                  "      <perfect_forward_secrecy>group2</perfect_forward_secrecy>",
                  "      <mode>main</mode>",
                  "      <pre_shared_key>%s</pre_shared_key>" % escape(tunnel.pre_shared_key),
                  "    </ike>",
                  "    <ipsec>",
                  "      <protocol>esp</protocol>",
                  "      <authentication_protocol>hmac-sha1-96</authentication_protocol>",
                  "      <encryption_protocol>aes-128-cbc</encryption_protocol>",
                  "      <lifetime>3600</lifetime>",
                  "      <perfect_forward_secrecy>group2</perfect_forward_secrecy>",
                  "      <mode>tunnel</mode>",
                  "      <clear_df_bit>true</clear_df_bit>",
                  "      <fragmentation_before_encryption>true</fragmentation_before_encryption>",
                  "      <tcp_mss_adjustment>%d</tcp_mss_adjustment>" % TCP_MSS_ADJUSTMENT,
                  "      <dead_peer_detection>",
                  "        <interval>10</interval>",
                  "        <retries>3</retries>",
                  "      </dead_peer_detection>",
                  "    </ipsec>",
                  "  </ipsec_tunnel>"]
    lines.append("</vpn_connection>")
    return "\n".join(lines) + "\n"


def vyatta_sample_configuration(plan: ConnectionPlan, ike_version: str = "ikev1") -> str:
    """AWS's "Vyatta Network OS" download: one ike-group / esp-group AWS, a peer and a vti per tunnel."""
    lines = ["! Amazon Web Services",
             "! Virtual Private Cloud",
             "!",
             "! Your VPN Connection ID                  : %s" % plan.vpn_connection_id,
             "! Your Virtual Private Gateway ID         : %s" % plan.gateway_id,
             "! Your Customer Gateway ID                : %s" % plan.customer_gateway_id,
             "!",
             "! This configuration consists of two tunnels. Both tunnels must be configured on your Customer Gateway.",
             "!"]
    for number, tunnel in enumerate(plan.tunnels, 1):
        aws_inside, customer_inside = inside_addresses(tunnel.inside_cidr)
        peer = "set vpn ipsec site-to-site peer %s" % tunnel.outside_ip
        vti = "vti%d" % (number - 1)
        lines += ["! " + "-" * 80,
                  "! IPSec Tunnel #%d" % number,
                  "! " + "-" * 80,
                  "! #1: Internet Key Exchange (IKE) Configuration",
                  "!",
                  "set vpn ipsec ike-group AWS lifetime '28800'",
                  "set vpn ipsec ike-group AWS proposal 1 dh-group '2'",
                  "set vpn ipsec ike-group AWS proposal 1 encryption 'aes128'",
                  "set vpn ipsec ike-group AWS proposal 1 hash 'sha1'"]
        if ike_version == "ikev2":
            lines.append("set vpn ipsec ike-group AWS key-exchange 'ikev2'")
        lines += ["%s authentication mode 'pre-shared-secret'" % peer,
                  "%s authentication pre-shared-secret '%s'" % (peer, tunnel.pre_shared_key),
                  "%s description 'VPC tunnel %d'" % (peer, number),
                  "%s ike-group 'AWS'" % peer,
                  "%s local-address '%s'" % (peer, plan.customer_gateway_ip),
                  "%s vti bind '%s'" % (peer, vti),
                  "%s vti esp-group 'AWS'" % peer,
                  "!",
                  "! #2: IPSec Configuration",
                  "!",
                  "set vpn ipsec ipsec-interfaces interface 'eth0'",
                  "set vpn ipsec esp-group AWS compression 'disable'",
                  "set vpn ipsec esp-group AWS lifetime '3600'",
                  "set vpn ipsec esp-group AWS mode 'tunnel'",
                  "set vpn ipsec esp-group AWS pfs 'enable'",
                  "set vpn ipsec esp-group AWS proposal 1 encryption 'aes128'",
                  "set vpn ipsec esp-group AWS proposal 1 hash 'sha1'",
                  "set vpn ipsec ike-group AWS dead-peer-detection action 'restart'",
                  "set vpn ipsec ike-group AWS dead-peer-detection interval '15'",
                  "set vpn ipsec ike-group AWS dead-peer-detection timeout '30'",
                  "!",
                  "! #3: Tunnel Interface Configuration",
                  "!",
                  "set interfaces vti %s address '%s/30'" % (vti, customer_inside),
                  "set interfaces vti %s description 'VPC tunnel %d'" % (vti, number),
                  "set interfaces vti %s mtu '1436'" % vti,
                  "!"]
        if plan.static_routes_only:
            lines += ["! #4: Static Route Configuration",
                      "!",
                      "! Route your VPC's prefix (example: 10.0.0.0/16) over the tunnel interface:",
                      "! set protocols static interface-route 10.0.0.0/16 next-hop-interface %s" % vti,
                      "!"]
        else:
            bgp = "set protocols bgp %d neighbor %s" % (plan.customer_gateway_asn, aws_inside)
            lines += ["! #4: Border Gateway Protocol (BGP) Configuration",
                      "!",
                      "%s remote-as '%d'" % (bgp, plan.amazon_side_asn),
                      "%s soft-reconfiguration 'inbound'" % bgp,
                      "%s timers holdtime '%d'" % (bgp, BGP_HOLD_TIME),
                      "%s timers keepalive '10'" % bgp,
                      "!",
                      "! Announce your on-premises prefixes (example: 0.0.0.0/0):",
                      "set protocols bgp %d network 0.0.0.0/0" % plan.customer_gateway_asn,
                      "!"]
    return "\n".join(lines) + "\n"

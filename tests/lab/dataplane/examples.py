"""Example neutral descriptions (lab test code): what a translation of cloud objects would produce."""
from __future__ import annotations

import ipaddress

AWS_ASN = 64512
GCP_ASN = 65000
# GCP HA VPN gateway interfaces 0 and 1 = the AWS customer gateway IPs (one per AWS connection)
GCP_HA_INTERFACES = ("203.0.113.10", "203.0.113.11")
# AWS VPN connection tunnel outside IPs: connection 1 (CGW = HA interface 0), connection 2 (CGW = HA interface 1)
AWS_TUNNEL_OUTSIDE = (("198.51.100.11", "198.51.100.12"), ("198.51.100.21", "198.51.100.22"))
INSIDE_CIDRS = (("169.254.10.0/30", "169.254.11.0/30"), ("169.254.12.0/30", "169.254.13.0/30"))


def _hosts(cidr: str) -> tuple[str, str, int]:
    """(first host = AWS side, second host = customer side, prefix length) of an inside /30."""
    network = ipaddress.IPv4Network(cidr)
    first, second = list(network.hosts())[:2]
    return str(first), str(second), network.prefixlen


def aws_gcp_four_tunnels(name: str, proposal: str = "aes256-sha256-modp2048") -> dict:
    """AWS (VGW, 2 VPN connections) <-> GCP (HA VPN, FOUR_IPS_REDUNDANCY): 4 tunnels, BGP on each.

    AWS tunnels wait (StartupAction add); GCP initiates. Each AWS connection's two tunnels share the
    customer gateway IP = one GCP HA interface, which therefore serves two GCP tunnels.
    """
    endpoints = []
    gcp_index = 0
    for connection in range(2):
        for tunnel in range(2):
            aws_ip = AWS_TUNNEL_OUTSIDE[connection][tunnel]
            ha_ip = GCP_HA_INTERFACES[connection]
            aws_inside, gcp_inside, prefix = _hosts(INSIDE_CIDRS[connection][tunnel])
            psk = "lab_psk_c%dt%d_0123456789" % (connection + 1, tunnel + 1)
            endpoints.append({
                "id": "aws-c%d-t%d" % (connection + 1, tunnel + 1), "site": "aws",
                "outside_ip": aws_ip, "remote_ip": ha_ip, "psk": psk, "ike_version": 2,
                "ike_proposals": [proposal], "esp_proposals": [proposal], "ike_lifetime": 28800, "esp_lifetime": 3600,
                "dpd_timeout": 30, "dpd_action": "restart", "start": "wait",
                "inside_ip": "%s/%d" % (aws_inside, prefix), "bgp_peer_ip": gcp_inside, "bgp_peer_asn": GCP_ASN,
                "bgp_hold": 30, "bgp_keepalive": 10,
            })
            endpoints.append({
                "id": "gcp-t%d" % gcp_index, "site": "gcp",
                "outside_ip": ha_ip, "remote_ip": aws_ip, "psk": psk, "ike_version": 2,
                "ike_proposals": [proposal], "esp_proposals": [proposal], "ike_lifetime": 28800,
                "esp_lifetime": 3600, "dpd_action": "restart", "start": "initiate",
                "inside_ip": "%s/%d" % (gcp_inside, prefix), "bgp_peer_ip": aws_inside, "bgp_peer_asn": AWS_ASN,
                "bgp_hold": 30, "bgp_keepalive": 10,
            })
            gcp_index += 1
    return {
        "name": name,
        "sites": [
            {"id": "aws", "asn": AWS_ASN, "networks": ["10.0.0.0/16"], "max_paths": 1,
             "probes": [{"name": "aws-probe", "address": "10.0.1.10/24"}]},
            {"id": "gcp", "asn": GCP_ASN, "networks": ["10.10.0.0/16"], "max_paths": 4,
             "probes": [{"name": "gcp-probe", "address": "10.10.1.10/24"}]},
        ],
        "endpoints": endpoints,
    }

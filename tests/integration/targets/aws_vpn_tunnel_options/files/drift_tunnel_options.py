# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Change one tunnel's options behind the modules' back (plain boto3), then wait until the connection is available.

    python drift_tunnel_options.py VPN_CONNECTION_ID OUTSIDE_IP < credentials.json

stdin: {"access_key", "secret_key", "session_token", "region", "endpoint_url"} (null or missing: boto3's defaults).
Credentials come on stdin, not in the environment: ansible-playbook -vvv prints a task's environment.
"""
from __future__ import annotations

import json
import sys
import time

import boto3


def main(vpn_connection_id: str, outside_ip: str) -> None:
    settings = json.load(sys.stdin)
    ec2 = boto3.client("ec2", aws_access_key_id=settings.get("access_key"), aws_secret_access_key=settings.get("secret_key"),
                       aws_session_token=settings.get("session_token"), region_name=settings.get("region"),
                       endpoint_url=settings.get("endpoint_url"))
    ec2.modify_vpn_tunnel_options(VpnConnectionId=vpn_connection_id, VpnTunnelOutsideIpAddress=outside_ip,
                                  TunnelOptions={"Phase1EncryptionAlgorithms": [{"Value": "AES128"}, {"Value": "AES256"}],
                                                 "DPDTimeoutSeconds": 90})
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        state = ec2.describe_vpn_connections(VpnConnectionIds=[vpn_connection_id])["VpnConnections"][0]["State"]
        if state == "available":
            print("drifted %s on %s" % (outside_ip, vpn_connection_id))
            return
        time.sleep(1)
    sys.exit("%s did not become available" % vpn_connection_id)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

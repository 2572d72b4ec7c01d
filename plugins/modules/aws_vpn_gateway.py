# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: aws_vpn_gateway
short_description: A link's VPC and virtual private gateway, created once even when an answer is lost
version_added: 0.1.0
description:
  - Finds or creates the VPC of a link (by its C(Name) tag and CIDR block) or uses an existing one (O(vpc_id)),
    finds or creates a virtual private gateway (by its C(Name) tag, type C(ipsec.1), state C(pending) or
    C(available)) with the Amazon-side ASN, attaches it to the VPC and waits until the attachment is C(attached).
  - With O(state=absent), detaches and deletes the gateway and deletes the VPC found by O(vpc_name) and
    O(vpc_cidr_block). A VPC given by O(vpc_id) is never deleted.
  - C(CreateVpc) and C(CreateVpnGateway) take no idempotency token. Every create runs B(once) (without the SDK's
    retries) with its tags in C(TagSpecifications); when it fails in a way that may have written (no answer, 5xx,
    throttling), the object is looked up by those tags before anything is created again. An C(AttachVpnGateway)
    whose answer was lost is read back, not repeated.
  - Why this module and not M(amazon.aws.ec2_vpc_net) and M(amazon.aws.ec2_vpc_vgw). Both create through
    botocore's retry handler and amazon.aws's C(AWSRetry), which repeat a C(CreateVpc) or C(CreateVpnGateway)
    whose answer was lost (a 504 from a load balancer, a reset connection). The lab's fault injection showed a
    second VPC of the same name and CIDR, after which M(amazon.aws.ec2_vpc_net) refuses to run at all (two VPCs
    have the same name), and a repeated C(AttachVpnGateway) that fails the task with
    C(VpnGatewayAttachmentLimitExceeded) although the first attach worked.
author:
  - multicloud.vpn contributors (@multicloud-vpn)
extends_documentation_fragment:
  - multicloud.vpn.aws
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports what would be created, attached, detached or deleted; writes nothing.
  diff_mode:
    support: full
    details: The VPC and the gateway (id, ASN, attachment) before and after.
  platform:
    platforms: posix
options:
  vpn_gateway_name:
    description:
      - The virtual private gateway's C(Name) tag; the gateway is found again by it.
      - Omit it to manage the VPC only.
    type: str
  asn:
    description:
      - The Amazon-side BGP ASN of a gateway this module creates. AWS cannot change it later; an existing gateway
        with another ASN is an error.
      - Omit it to let AWS choose (64512) or to accept the existing gateway's ASN.
    type: int
  vpc_id:
    description:
      - An existing VPC to attach the gateway to. Mutually exclusive with O(vpc_name) and O(vpc_cidr_block).
    type: str
  vpc_name:
    description: The C(Name) tag of the VPC this module finds or creates (with O(vpc_cidr_block)).
    type: str
  vpc_cidr_block:
    description: The primary IPv4 CIDR block of the VPC this module finds or creates (with O(vpc_name)).
    type: str
  tags:
    description:
      - Tags given to what this module creates, and added (never removed) to what it finds.
    type: dict
  state:
    description: V(present) finds or creates and attaches; V(absent) detaches and deletes.
    type: str
    choices: [present, absent]
    default: present
  wait_timeout:
    description: Seconds to wait for the VPC, the gateway, the attachment or a detachment.
    type: int
    default: 600
"""

EXAMPLES = r"""
- name: The link's VPC and gateway (Amazon side ASN 64512)
  multicloud.vpn.aws_vpn_gateway:
    region: us-east-1
    vpc_name: demo-vpc
    vpc_cidr_block: 10.0.0.0/16
    vpn_gateway_name: demo-vgw
    asn: 64512
    tags:
      mcvpn-link: demo
  register: gateway

- name: A gateway attached to a VPC that already exists
  multicloud.vpn.aws_vpn_gateway:
    region: us-east-1
    vpc_id: vpc-0123456789abcdef0
    vpn_gateway_name: demo-vgw
    asn: 65010

- name: Remove the gateway (detached first) and the VPC this module created
  multicloud.vpn.aws_vpn_gateway:
    region: us-east-1
    vpc_name: demo-vpc
    vpc_cidr_block: 10.0.0.0/16
    vpn_gateway_name: demo-vgw
    state: absent
"""

RETURN = r"""
vpc_id:
  description: The VPC's id (null in check mode before it exists, or when none was found with O(state=absent)).
  returned: always
  type: str
  sample: vpc-0123456789abcdef0
vpn_gateway_id:
  description: The virtual private gateway's id (null in check mode before it exists, or without O(vpn_gateway_name)).
  returned: always
  type: str
  sample: vgw-0123456789abcdef0
vpn_gateway:
  description: The gateway as it is now.
  returned: when O(vpn_gateway_name) is set and the gateway exists
  type: dict
  contains:
    id:
      description: Gateway id.
      type: str
    amazon_side_asn:
      description: Amazon-side ASN.
      type: int
    state:
      description: C(pending), C(available), ...
      type: str
    vpc_attachments:
      description: Attachments, each with C(vpc_id) and C(state).
      type: list
      elements: dict
    tags:
      description: Tags.
      type: dict
actions:
  description: What was done (or would be, in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: ["create vpc", "create vpn gateway", "attach vgw-0123 to vpc-0456"]
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.multicloud.vpn.plugins.module_utils._aws import (
    AwsError,
    aws_argument_spec,
    call,
    create_once,
    ec2_client,
    poll_until,
    single_attempt_params,
)

LIVE_GATEWAY_STATES = ("pending", "available")
LIVE_VPC_STATES = ("pending", "available")
POLL_SECONDS = 1.0
# Attempts of each single-attempt create or attach (botocore's standard mode would make 3, the playbooks ask 10):
# a failure that wrote nothing is tried again, one that may have written is looked up first.
WRITE_ATTEMPTS = 6


class InputError(Exception):
    """Bad input, found before any write."""


def argument_spec() -> dict:
    spec = aws_argument_spec()
    spec.update(
        vpn_gateway_name=dict(type="str"),
        asn=dict(type="int"),
        vpc_id=dict(type="str"),
        vpc_name=dict(type="str"),
        vpc_cidr_block=dict(type="str"),
        tags=dict(type="dict"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        wait_timeout=dict(type="int", default=600),
    )
    return spec


def tag_dict(resource: dict) -> dict:
    return {tag["Key"]: tag["Value"] for tag in resource.get("Tags") or []}


def tag_specification(resource_type: str, name: str, tags: dict | None) -> list:
    wanted = dict(tags or {}, Name=name)
    return [{"ResourceType": resource_type, "Tags": [{"Key": key, "Value": str(value)} for key, value in sorted(wanted.items())]}]


def live_attachments(gateway: dict) -> list:
    return [item for item in gateway.get("VpcAttachments") or [] if item.get("State") in ("attaching", "attached")]


def gateway_summary(gateway: dict | None) -> dict | None:
    if gateway is None:
        return None
    return {"id": gateway["VpnGatewayId"], "amazon_side_asn": gateway.get("AmazonSideAsn"), "state": gateway.get("State"),
            "vpc_attachments": [{"vpc_id": item["VpcId"], "state": item["State"]} for item in gateway.get("VpcAttachments") or []],
            "tags": tag_dict(gateway)}


def validate(params: dict) -> None:
    """Every input error, before the first API call."""
    by_name = params["vpc_name"] is not None or params["vpc_cidr_block"] is not None
    if by_name and (params["vpc_name"] is None or params["vpc_cidr_block"] is None):
        raise InputError("vpc_name and vpc_cidr_block: give both (the VPC is found by its Name tag and its CIDR block)")
    if params["vpc_id"] and by_name:
        raise InputError("vpc_id: give either vpc_id or vpc_name with vpc_cidr_block, not both")
    if params["state"] == "present" and not (params["vpc_id"] or by_name):
        raise InputError("vpc_id: state present needs the VPC: vpc_id, or vpc_name with vpc_cidr_block")
    if params["state"] == "absent" and params["vpc_id"] and not params["vpn_gateway_name"]:
        raise InputError("vpn_gateway_name: state absent with vpc_id deletes the gateway only, so it needs vpn_gateway_name")
    asn = params["asn"]
    if asn is not None and not (64512 <= asn <= 65534 or 4200000000 <= asn <= 4294967294):
        raise InputError("asn: the Amazon-side ASN must be private, 64512-65534 or 4200000000-4294967294 (got %d)" % asn)
    if params["wait_timeout"] < 1:
        raise InputError("wait_timeout: must be at least 1 second (got %d)" % params["wait_timeout"])


class Gateway:
    """One invocation: the VPC and the gateway of a link."""

    def __init__(self, module: AnsibleModule, client=None, single_attempt_client=None, sleep=None) -> None:
        self.module = module
        self.params = module.params
        self.check_mode = module.check_mode
        self.client = client
        self._single = single_attempt_client
        self.sleep = sleep or time.sleep
        self.deadline = time.monotonic() + self.params["wait_timeout"]
        self.actions: list = []

    def ec2(self):
        if self.client is None:
            self.client = ec2_client(self.params)
        return self.client

    def single(self):
        if self._single is None:
            self._single = ec2_client(single_attempt_params(self.params))
        return self._single

    def remaining(self) -> float:
        return max(1.0, self.deadline - time.monotonic())

    def wait(self, fetch, state_of, what: str, ready: tuple, failed: tuple = ()):
        return poll_until(fetch, state_of, what=what, ready=ready, failed=failed, timeout=self.remaining(),
                          sleep=POLL_SECONDS, sleeper=self.sleep)

    # -- lookups -------------------------------------------------------------------------------
    def find_vpcs(self) -> list:
        filters = [{"Name": "tag:Name", "Values": [self.params["vpc_name"]]},
                   {"Name": "cidr-block", "Values": [self.params["vpc_cidr_block"]]}]
        vpcs = call(self.ec2(), "describe_vpcs", Filters=filters).get("Vpcs") or []
        # Exact matches only (some implementations match filter values as prefixes).
        return [vpc for vpc in vpcs if vpc.get("State") in LIVE_VPC_STATES and tag_dict(vpc).get("Name") == self.params["vpc_name"]
                and vpc.get("CidrBlock") == self.params["vpc_cidr_block"]]

    def find_vpc(self) -> dict | None:
        found = self.find_vpcs()
        if len(found) > 1:
            raise AwsError("%d VPCs are named %s with CIDR %s (%s): remove all but one, or give vpc_id"
                           % (len(found), self.params["vpc_name"], self.params["vpc_cidr_block"], ", ".join(vpc["VpcId"] for vpc in found)))
        return found[0] if found else None

    def describe_vpc(self, vpc_id: str) -> dict:
        vpcs = call(self.ec2(), "describe_vpcs", VpcIds=[vpc_id]).get("Vpcs") or []
        if not vpcs:
            raise AwsError("describe vpcs: %s not found" % vpc_id, code="InvalidVpcID.NotFound")
        return vpcs[0]

    def find_gateways(self) -> list:
        filters = [{"Name": "tag:Name", "Values": [self.params["vpn_gateway_name"]]}, {"Name": "type", "Values": ["ipsec.1"]},
                   {"Name": "state", "Values": list(LIVE_GATEWAY_STATES)}]
        gateways = call(self.ec2(), "describe_vpn_gateways", Filters=filters).get("VpnGateways") or []
        return [gateway for gateway in gateways if gateway.get("State") in LIVE_GATEWAY_STATES
                and tag_dict(gateway).get("Name") == self.params["vpn_gateway_name"]]

    def find_gateway(self) -> dict | None:
        found = self.find_gateways()
        if len(found) > 1:
            raise AwsError("%d virtual private gateways are named %s (%s): remove all but one"
                           % (len(found), self.params["vpn_gateway_name"], ", ".join(gateway["VpnGatewayId"] for gateway in found)))
        return found[0] if found else None

    def describe_gateway(self, gateway_id: str) -> dict:
        gateways = call(self.ec2(), "describe_vpn_gateways", VpnGatewayIds=[gateway_id]).get("VpnGateways") or []
        if not gateways:
            raise AwsError("describe vpn gateways: %s not found" % gateway_id, code="InvalidVpnGatewayID.NotFound")
        return gateways[0]

    # -- present ---------------------------------------------------------------------------------
    def present(self) -> dict:
        before: dict = {"vpc": None, "vpn_gateway": None}
        after: dict = {"vpc": None, "vpn_gateway": None}
        vpc = self.ensure_vpc(before, after)
        gateway = None
        if self.params["vpn_gateway_name"]:
            gateway = self.ensure_gateway(before, after, vpc["VpcId"] if vpc else None)
        return self.result(vpc, gateway, before, after)

    def ensure_vpc(self, before: dict, after: dict) -> dict | None:
        if self.params["vpc_id"]:
            vpc = self.describe_vpc(self.params["vpc_id"])
            before["vpc"] = after["vpc"] = {"id": vpc["VpcId"], "cidr_block": vpc.get("CidrBlock")}
            return vpc
        vpc = self.find_vpc()
        if vpc is not None:
            before["vpc"] = {"id": vpc["VpcId"], "cidr_block": vpc["CidrBlock"], "tags": tag_dict(vpc)}
            self.add_missing_tags(vpc["VpcId"], tag_dict(vpc))
        else:
            self.actions.append("create vpc %s (%s)" % (self.params["vpc_name"], self.params["vpc_cidr_block"]))
            if self.check_mode:
                after["vpc"] = {"id": None, "cidr_block": self.params["vpc_cidr_block"],
                                "tags": dict(self.params["tags"] or {}, Name=self.params["vpc_name"])}
                return None
            parameters = {"CidrBlock": self.params["vpc_cidr_block"],
                          "TagSpecifications": tag_specification("vpc", self.params["vpc_name"], self.params["tags"])}
            vpc = create_once(lambda: call(self.single(), "create_vpc", **parameters)["Vpc"], self.find_vpc, attempts=WRITE_ATTEMPTS,
                              sleep=self.sleep)
        vpc = self.wait(lambda: self.describe_vpc(vpc["VpcId"]), lambda item: item.get("State"), "VPC %s" % vpc["VpcId"], ("available",))
        after["vpc"] = {"id": vpc["VpcId"], "cidr_block": vpc["CidrBlock"], "tags": tag_dict(vpc)}
        return vpc

    def add_missing_tags(self, resource_id: str, have: dict) -> None:
        missing = {key: str(value) for key, value in (self.params["tags"] or {}).items() if have.get(key) != str(value)}
        if not missing:
            return
        self.actions.append("tag %s with %s" % (resource_id, ", ".join(sorted(missing))))
        if not self.check_mode:
            call(self.ec2(), "create_tags", Resources=[resource_id], Tags=[{"Key": key, "Value": value} for key, value in sorted(missing.items())])

    def ensure_gateway(self, before: dict, after: dict, vpc_id: str | None) -> dict | None:
        asn = self.params["asn"]
        gateway = self.find_gateway()
        if gateway is not None:
            before["vpn_gateway"] = gateway_summary(gateway)
            if asn is not None and gateway.get("AmazonSideAsn") is not None and int(gateway["AmazonSideAsn"]) != asn:
                raise AwsError("asn: virtual private gateway %s (%s) has the Amazon-side ASN %s and AWS cannot change it; asked for %d. "
                               "Delete the gateway (state=absent) or set the ASN to %s"
                               % (gateway["VpnGatewayId"], self.params["vpn_gateway_name"], gateway["AmazonSideAsn"], asn, gateway["AmazonSideAsn"]))
            self.add_missing_tags(gateway["VpnGatewayId"], tag_dict(gateway))
        else:
            self.actions.append("create vpn gateway %s" % self.params["vpn_gateway_name"])
            if self.check_mode:
                after["vpn_gateway"] = {"id": None, "amazon_side_asn": asn, "state": "available",
                                        "vpc_attachments": [{"vpc_id": vpc_id, "state": "attached"}],
                                        "tags": dict(self.params["tags"] or {}, Name=self.params["vpn_gateway_name"])}
                if vpc_id:
                    self.actions.append("attach the new gateway to %s" % vpc_id)
                return None
            parameters = {"Type": "ipsec.1",
                          "TagSpecifications": tag_specification("vpn-gateway", self.params["vpn_gateway_name"], self.params["tags"])}
            if asn is not None:
                parameters["AmazonSideAsn"] = asn
            gateway = create_once(lambda: call(self.single(), "create_vpn_gateway", **parameters)["VpnGateway"], self.find_gateway,
                                  attempts=WRITE_ATTEMPTS, sleep=self.sleep)
        gateway_id = gateway["VpnGatewayId"]
        if not self.check_mode:
            gateway = self.wait(lambda: self.describe_gateway(gateway_id), lambda item: item.get("State"),
                                "virtual private gateway %s" % gateway_id, ("available",), ("deleting", "deleted"))
        if vpc_id is None:  # check mode: the VPC would be created
            after["vpn_gateway"] = dict(gateway_summary(gateway), vpc_attachments=[{"vpc_id": None, "state": "attached"}])
            self.actions.append("attach %s to the new VPC" % gateway_id)
            return gateway
        gateway = self.ensure_attachment(gateway, vpc_id)
        after["vpn_gateway"] = gateway_summary(gateway)
        return gateway

    def ensure_attachment(self, gateway: dict, vpc_id: str) -> dict:
        gateway_id = gateway["VpnGatewayId"]
        others = [item["VpcId"] for item in live_attachments(gateway) if item["VpcId"] != vpc_id]
        for other in others:
            self.detach(gateway_id, other)
        if not any(item["VpcId"] == vpc_id for item in live_attachments(gateway)):
            self.actions.append("attach %s to %s" % (gateway_id, vpc_id))
            if self.check_mode:
                return dict(gateway, VpcAttachments=[{"VpcId": vpc_id, "State": "attached"}])

            def attached() -> dict | None:
                current = self.describe_gateway(gateway_id)
                return current if any(item["VpcId"] == vpc_id for item in live_attachments(current)) else None

            def attach() -> bool:
                call(self.single(), "attach_vpn_gateway", VpnGatewayId=gateway_id, VpcId=vpc_id)
                return True

            try:
                # An attach whose answer was lost is read back, not repeated ("already attached").
                create_once(attach, attached, attempts=WRITE_ATTEMPTS, sleep=self.sleep)
            except AwsError:
                if attached() is None:
                    raise
        elif self.check_mode:
            return gateway

        def attachment_state(current: dict) -> str:
            return next((item["State"] for item in current.get("VpcAttachments") or [] if item["VpcId"] == vpc_id), "detached")

        return self.wait(lambda: self.describe_gateway(gateway_id), attachment_state,
                         "attachment of %s to %s" % (gateway_id, vpc_id), ("attached",), ("detached",))

    def detach(self, gateway_id: str, vpc_id: str) -> None:
        self.actions.append("detach %s from %s" % (gateway_id, vpc_id))
        if self.check_mode:
            return
        try:
            call(self.ec2(), "detach_vpn_gateway", VpnGatewayId=gateway_id, VpcId=vpc_id)
        except AwsError as error:
            if error.code not in ("InvalidVpnGatewayAttachment.NotFound", "IncorrectState"):
                raise

        def attachment_state(current: dict) -> str:
            return next((item["State"] for item in current.get("VpcAttachments") or [] if item["VpcId"] == vpc_id), "detached")

        self.wait(lambda: self.describe_gateway(gateway_id), attachment_state, "detachment of %s from %s" % (gateway_id, vpc_id), ("detached",))

    # -- absent ----------------------------------------------------------------------------------
    def absent(self) -> dict:
        before: dict = {"vpc": None, "vpn_gateway": None}
        after: dict = {"vpc": None, "vpn_gateway": None}
        if self.params["vpn_gateway_name"]:
            for gateway in self.find_gateways():
                before["vpn_gateway"] = gateway_summary(gateway)
                for attachment in live_attachments(gateway):
                    self.detach(gateway["VpnGatewayId"], attachment["VpcId"])
                self.actions.append("delete vpn gateway %s" % gateway["VpnGatewayId"])
                if not self.check_mode:
                    try:
                        call(self.ec2(), "delete_vpn_gateway", VpnGatewayId=gateway["VpnGatewayId"])
                    except AwsError as error:
                        if error.code != "InvalidVpnGatewayID.NotFound":
                            raise
        vpc_id = None
        if self.params["vpc_name"]:
            for vpc in self.find_vpcs():
                vpc_id = vpc["VpcId"]
                before["vpc"] = {"id": vpc_id, "cidr_block": vpc["CidrBlock"], "tags": tag_dict(vpc)}
                self.actions.append("delete vpc %s" % vpc_id)
                if not self.check_mode:
                    try:
                        call(self.ec2(), "delete_vpc", VpcId=vpc_id)
                    except AwsError as error:
                        if error.code != "InvalidVpcID.NotFound":
                            raise
        return {"changed": bool(self.actions), "vpc_id": None, "vpn_gateway_id": None, "actions": self.actions,
                "diff": {"before": before, "after": after}}

    def result(self, vpc: dict | None, gateway: dict | None, before: dict, after: dict) -> dict:
        result = {"changed": bool(self.actions), "actions": self.actions, "vpc_id": vpc["VpcId"] if vpc else None,
                  "vpn_gateway_id": gateway["VpnGatewayId"] if gateway else None, "diff": {"before": before, "after": after}}
        if gateway is not None:
            result["vpn_gateway"] = gateway_summary(gateway)
        return result


def run(module: AnsibleModule, client=None, single_attempt_client=None, sleep=None) -> dict:
    validate(module.params)
    gateway = Gateway(module, client=client, single_attempt_client=single_attempt_client, sleep=sleep)
    result = gateway.present() if module.params["state"] == "present" else gateway.absent()
    if not module._diff:
        result.pop("diff")
    return result


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    try:
        result = run(module)
    except InputError as error:
        module.fail_json(msg=str(error))
    except AwsError as error:
        module.fail_json(msg=error.message, code=error.code, exception=error.exception_text)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

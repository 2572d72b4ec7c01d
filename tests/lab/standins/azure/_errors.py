# Azure Network stand-in: ARM error type and the codes the stand-in answers with.
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""ARM errors: ``{"error": {"code", "message", "details"?}}`` with an HTTP status.

Codes seen in Azure's own answers (public issue threads and SDK tests): InvalidRequestFormat /
InvalidJson, InvalidJsonReferenceFormat, AnotherOperationInProgress (409), InUseSubnetCannotBeDeleted,
PublicIPAddressCannotBeDeleted, StandardAndStandardV2SkuPublicIPAddressesMustBeStatic, ResourceNotFound,
ResourceGroupNotFound, NotFound (child resources), LocationRequired, InvalidResourceReference,
InvalidCIDRNotation, NetcfgInvalidSubnet, NetcfgSubnetRangesOverlap, MissingApiVersionParameter,
InvalidApiVersionParameter, InvalidSubscriptionId, AuthenticationFailed, InvalidResourceName,
ActiveActiveGatewayMustHaveExactlyTwoIpConfigurations (FACTS.md).

Codes the stand-in had to name itself (Azure answers such requests with a 400, but its exact code
was not found in public sources) are listed in STAND_IN_CODES so that nobody matches on them.
"""
from __future__ import annotations

STAND_IN_CODES = frozenset({
    "InUseVirtualNetworkGatewayCannotBeDeleted", "InUseLocalNetworkGatewayCannotBeDeleted",
    "InUseSubnetCannotBeUpdated", "InvalidAddressPrefixFormat", "VnetAddressSpacesOverlap",
    "VirtualNetworkAddressSpaceRequired", "DuplicateResourceName", "BasicSkuPublicIPAddressRetired",
    "PublicIPAddressVersionNotSupported", "PublicIPAddressSkuCannotBeChanged", "PublicIPAddressInUse",
    "InvalidGatewaySku", "GatewaySkuNotSupportedForGeneration", "GatewaySkuResizeNotSupported",
    "GatewayTypeNotSupported", "VpnTypeNotSupported", "GatewayPropertyCannotBeChanged",
    "ActiveActiveNotSupportedForBasicSku", "BgpNotSupportedForBasicSku",
    "ActivePassiveGatewayMustHaveExactlyOneIpConfiguration", "InvalidGatewaySubnet", "GatewaySubnetTooSmall",
    "GatewayPublicIPAddressRequired", "AzGatewaySkuRequiresStandardPublicIPAddress",
    "OnlyOneVpnGatewayAllowedPerVirtualNetwork", "ReservedAsnNotAllowed", "InvalidAsn",
    "InvalidCustomBgpIpAddress", "DuplicateCustomBgpIpAddress", "ActivePassiveGatewaySupportsOneCustomBgpIpAddress",
    "InvalidBgpPeeringAddressIpConfiguration", "CustomBgpIpAddressInUseByConnection",
    "InvalidPrivateIpAllocationMethod", "LocalNetworkGatewayAddressRequired", "InvalidIPAddress",
    "ConnectionTypeNotSupported", "LocalNetworkGatewayRequired", "ConnectionPropertyCannotBeChanged",
    "InvalidSharedKey", "BgpNotEnabledOnVirtualNetworkGateway", "LocalNetworkGatewayBgpSettingsMissing",
    "LocalNetworkGatewayAsnSameAsGatewayAsn", "InvalidIpsecPolicy", "PolicyBasedTrafficSelectorsRequireIpsecPolicy",
    "InvalidGatewayCustomBgpIpAddress", "InvalidDpdTimeout", "InvalidResourceLocation", "InvalidResourceGroupLocation",
    "InvalidKeyLength", "MethodNotAllowed", "InvalidResourceType", "InvalidRequestContent", "OperationNotFound",
    "PublicIPCountLimitReached",
})


class ArmError(Exception):
    """An ARM error answer."""

    def __init__(self, status: int, code: str, message: str, details: list | None = None) -> None:
        super().__init__("%s: %s" % (code, message))
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def document(self) -> dict:
        error: dict = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}


def bad_request(code: str, message: str) -> ArmError:
    return ArmError(400, code, message)


def another_operation_in_progress(operation_url: str) -> ArmError:
    return ArmError(409, "AnotherOperationInProgress",
                    "Another operation on this or dependent resource is in progress. To retrieve status of the "
                    "operation use uri: %s." % operation_url, details=[])

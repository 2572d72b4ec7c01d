# Lab reconciler: each cloud's IPsec vocabulary -> strongSwan proposals.
# Internal to the multicloud.vpn test lab; not shipped in the collection.
"""The lab's OWN tables from AWS, GCP and Azure algorithm names to strongSwan proposal keywords.

Deliberately independent of plugins/module_utils/_ipsec.py: if the collection maps a name wrongly,
the two sides of a lab tunnel disagree and the tunnel fails here, as it would in the clouds.

A cloud's lists are turned into strongSwan proposals the way that cloud negotiates: AWS accepts any
combination of its configured values (one proposal with every value per transform type); AEAD
(GCM) algorithms go into proposals of their own, because strongSwan cannot mix AEAD and classic
integrity algorithms in one proposal.
"""
from __future__ import annotations

# strongSwan keywords: https://docs.strongswan.org/docs/5.9/config/IKEv2CipherSuites.html
DH_GROUP_KEYWORDS = {
    1: "modp768", 2: "modp1024", 5: "modp1536", 14: "modp2048", 15: "modp3072", 16: "modp4096", 17: "modp6144",
    18: "modp8192", 19: "ecp256", 20: "ecp384", 21: "ecp521", 22: "modp1024s160", 23: "modp2048s224",
    24: "modp2048s256", 31: "curve25519",
}

# ---------------------------------------------------------------------------------------------- AWS
# EC2 TunnelOption values (DescribeVpnConnections / ModifyVpnTunnelOptions).
AWS_ENCRYPTION = {"AES128": "aes128", "AES256": "aes256", "AES128-GCM-16": "aes128gcm16", "AES256-GCM-16": "aes256gcm16"}
AWS_INTEGRITY = {"SHA1": "sha1", "SHA2-256": "sha256", "SHA2-384": "sha384", "SHA2-512": "sha512"}
AWS_PRF = {"SHA1": "prfsha1", "SHA2-256": "prfsha256", "SHA2-384": "prfsha384", "SHA2-512": "prfsha512"}
AWS_IKE_VERSIONS = {"ikev1": 1, "ikev2": 2}
AWS_DPD_ACTIONS = {"clear": "clear", "none": "none", "restart": "restart"}
AWS_STARTUP_ACTIONS = {"add": "wait", "start": "initiate"}   # add: the customer side must initiate

# ---------------------------------------------------------------------------------------------- GCP
# vpnTunnels.cipherSuite names, as in Google's "Supported IKE ciphers" page
# (https://cloud.google.com/network-connectivity/docs/vpn/concepts/supported-ike-ciphers).
GCP_ENCRYPTION = {
    "AES-CBC-128": "aes128", "AES-CBC-192": "aes192", "AES-CBC-256": "aes256", "3DES-CBC": "3des",
    **{"AES-GCM-%d-%d" % (icv, bits): "aes%dgcm%d" % (bits, icv) for icv in (8, 12, 16) for bits in (128, 192, 256)},
}
GCP_INTEGRITY = {"HMAC-SHA2-256-128": "sha256", "HMAC-SHA2-384-192": "sha384", "HMAC-SHA2-512-256": "sha512",
                 "HMAC-SHA1-96": "sha1", "HMAC-MD5-96": "md5", "AES-XCBC-96": "aesxcbc", "AES-CMAC-96": "aescmac"}
GCP_PRF = {"PRF-HMAC-SHA2-256": "prfsha256", "PRF-HMAC-SHA2-384": "prfsha384", "PRF-HMAC-SHA2-512": "prfsha512",
           "PRF-HMAC-SHA1": "prfsha1", "PRF-HMAC-MD5": "prfmd5", "PRF-AES128-XCBC": "prfaesxcbc", "PRF-AES128-CMAC": "prfaescmac"}
GCP_DH = {"Group-%d" % group: DH_GROUP_KEYWORDS[group] for group in (2, 5, 14, 15, 16, 17, 18, 19, 20, 21, 23, 24, 31)}

# Without a cipherSuite, Cloud VPN "automatically negotiates the connection as long as the peer side uses a
# supported IKE cipher" (supported-ike-ciphers page above): the default is every supported cipher. Order:
# AEAD first; DH groups and PRFs in the order of Google's "Cloud VPN cipher changes" page
# (https://cloud.google.com/network-connectivity/docs/vpn/deprecations/cipher-changes), which also drops group 22.
GCP_DEFAULT = {
    "phase1": {
        "encryption": ["AES-GCM-16-128", "AES-GCM-16-192", "AES-GCM-16-256", "AES-GCM-12-128", "AES-GCM-12-192", "AES-GCM-12-256",
                       "AES-GCM-8-128", "AES-GCM-8-192", "AES-GCM-8-256", "AES-CBC-128", "AES-CBC-192", "AES-CBC-256", "3DES-CBC"],
        "integrity": ["HMAC-SHA2-256-128", "HMAC-SHA2-384-192", "HMAC-SHA2-512-256", "HMAC-SHA1-96", "HMAC-MD5-96",
                      "AES-XCBC-96", "AES-CMAC-96"],
        "prf": ["PRF-HMAC-SHA2-256", "PRF-HMAC-SHA2-384", "PRF-HMAC-SHA2-512", "PRF-HMAC-SHA1", "PRF-HMAC-MD5",
                "PRF-AES128-CMAC", "PRF-AES128-XCBC"],
        "dh": ["Group-31", "Group-19", "Group-20", "Group-21", "Group-15", "Group-16", "Group-17", "Group-18", "Group-14",
               "Group-23", "Group-24", "Group-5", "Group-2"],
    },
    "phase2": {
        "encryption": ["AES-GCM-16-128", "AES-GCM-16-192", "AES-GCM-16-256", "AES-GCM-12-128", "AES-GCM-12-192", "AES-GCM-12-256",
                       "AES-GCM-8-128", "AES-GCM-8-192", "AES-GCM-8-256", "AES-CBC-128", "AES-CBC-192", "AES-CBC-256", "3DES-CBC"],
        "integrity": ["HMAC-SHA2-256-128", "HMAC-SHA2-384-192", "HMAC-SHA2-512-256", "HMAC-SHA1-96", "HMAC-MD5-96"],
        # PFS is accepted with these groups and also without PFS (None) when no suite narrows it
        "pfs": ["Group-31", "Group-19", "Group-20", "Group-21", "Group-15", "Group-16", "Group-17", "Group-18", "Group-14",
                "Group-23", "Group-24", "Group-5", "Group-2"],
    },
}
# Same page: phase 1 lifetime 36,000 s (10 h), phase 2 lifetime 10,800 s (3 h).
GCP_IKE_LIFETIME = 36000
GCP_ESP_LIFETIME = 10800

# -------------------------------------------------------------------------------------------- Azure
# Connection ipsecPolicies values (azure-mgmt-network IpsecEncryption, IkeEncryption, ... enums).
AZURE_IKE_ENCRYPTION = {"DES": "des", "DES3": "3des", "AES128": "aes128", "AES192": "aes192", "AES256": "aes256",
                        "GCMAES128": "aes128gcm16", "GCMAES256": "aes256gcm16"}
AZURE_IKE_INTEGRITY = {"MD5": "md5", "SHA1": "sha1", "SHA256": "sha256", "SHA384": "sha384",
                       # with GCM encryption the integrity names the AEAD; the PRF is then SHA2 of matching strength
                       "GCMAES128": "prfsha256", "GCMAES256": "prfsha384"}
AZURE_DH = {"None": None, "DHGroup1": "modp768", "DHGroup2": "modp1024", "DHGroup14": "modp2048", "DHGroup2048": "modp2048",
            "ECP256": "ecp256", "ECP384": "ecp384", "DHGroup24": "modp2048s256"}
AZURE_IPSEC_ENCRYPTION = {"None": "null", "DES": "des", "DES3": "3des", "AES128": "aes128", "AES192": "aes192", "AES256": "aes256",
                          "GCMAES128": "aes128gcm16", "GCMAES192": "aes192gcm16", "GCMAES256": "aes256gcm16"}
AZURE_IPSEC_INTEGRITY = {"MD5": "md5", "SHA1": "sha1", "SHA256": "sha256", "GCMAES128": None, "GCMAES192": None, "GCMAES256": None}
AZURE_PFS = {"None": None, "PFS1": "modp768", "PFS2": "modp1024", "PFS2048": "modp2048", "PFS14": "modp2048", "ECP256": "ecp256",
             "ECP384": "ecp384", "PFS24": "modp2048s256", "PFSMM": "same as dhGroup"}
AZURE_IKE_VERSIONS = {"IKEv2": 2, "IKEv1": 1}

# Azure's default policy of a route-based gateway (no ipsecPolicies on the connection), from Microsoft's
# "About VPN devices and IPsec/IKE parameters for Site-to-Site VPN Gateway connections"
# (https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-about-vpn-devices, "Default IPsec/IKE parameters"):
# main mode DH group 2 with AES256/SHA1, AES256/SHA256, AES128/SHA1, AES128/SHA256, 3DES/SHA1, 3DES/SHA256,
# SA lifetime 28,800 s; quick mode SA lifetime 27,000 s and the 26 "Azure Gateway as responder" offers below
# (its initiator offers are the first six, all without PFS).
AZURE_DEFAULT_IKE = ["aes256-sha1-modp1024", "aes256-sha256-modp1024", "aes128-sha1-modp1024", "aes128-sha256-modp1024",
                     "3des-sha1-modp1024", "3des-sha256-modp1024"]
AZURE_DEFAULT_ESP = [
    "aes256gcm16", "aes256-sha1", "3des-sha1", "aes256-sha256", "aes128-sha1", "3des-sha256", "des-sha1",
    "aes256-sha1-modp768", "aes256-sha1-modp1024", "aes256-sha1-modp2048", "aes128-sha1-modp768", "aes128-sha1-modp1024",
    "aes128-sha1-modp2048", "3des-sha1-modp768", "3des-sha1-modp1024", "3des-sha256-modp1024", "aes256-sha256-modp768",
    "aes256-sha256-modp1024", "aes256-sha256-modp2048", "aes256-sha1-modp2048s256", "aes256-sha256-modp2048s256",
    "aes128-sha256", "aes128-sha256-modp768", "aes128-sha256-modp1024", "aes128-sha256-modp2048", "3des-sha1-modp2048",
]
AZURE_IKE_LIFETIME = 28800
AZURE_ESP_LIFETIME = 27000
AZURE_DPD_TIMEOUT = 45


class VocabularyError(ValueError):
    """A cloud value the lab has no strongSwan equivalent for (the message names it)."""


def _lookup(table: dict, value, what: str):
    try:
        return table[value]
    except KeyError:
        raise VocabularyError("%s: unknown value %r" % (what, value)) from None


def _is_aead(keyword: str) -> bool:
    return "gcm" in keyword or "ccm" in keyword


def _join(*groups) -> str:
    return "-".join(part for group in groups for part in group)


def _unique(items) -> list:
    seen, result = set(), []
    for item in items:
        if item not in seen:
            seen.add(item)
            result.append(item)
    return result


def combined_proposals(encryption: list, integrity: list, prf: list, dh: list, ike: bool, ike_version: int = 2,
                       optional_dh: bool = False) -> list:
    """strongSwan proposals accepting any combination of the given keyword lists.

    IKE: classic ciphers with their integrity (and PRFs if given), AEAD ciphers with PRFs (IKEv1 has no AEAD IKE).
    ESP: `dh` is the PFS group list; optional_dh=True also accepts no PFS.
    """
    classic = [enc for enc in _unique(encryption) if not _is_aead(enc)]
    aead = [enc for enc in _unique(encryption) if _is_aead(enc)]
    integrity, prf, dh = _unique(integrity), _unique(prf), _unique(dh)
    proposals = []
    if ike:
        if aead and ike_version != 1:
            aead_prf = prf or ["prf" + integ for integ in integrity if not integ.startswith("aes")]
            proposals.append(_join(aead, aead_prf, dh))
        if classic and integrity:
            proposals.append(_join(classic, integrity, prf, dh))
        return proposals
    dh_options = [dh] + ([[]] if optional_dh and dh else [])
    for groups in dh_options:
        if aead:
            proposals.append(_join(aead, groups))
        if classic and integrity:
            proposals.append(_join(classic, integrity, groups))
    return proposals


def aws_proposals(options: dict, ike_version: int) -> tuple[list, list]:
    """(IKE proposals, ESP proposals) of an AWS tunnel from its options in force (AWS defaults filled in)."""
    where = "AWS tunnel option"
    enc1 = [_lookup(AWS_ENCRYPTION, v, where + " Phase1EncryptionAlgorithms") for v in options["Phase1EncryptionAlgorithms"]]
    int1 = [_lookup(AWS_INTEGRITY, v, where + " Phase1IntegrityAlgorithms") for v in options["Phase1IntegrityAlgorithms"]]
    dh1 = [_lookup(DH_GROUP_KEYWORDS, int(v), where + " Phase1DHGroupNumbers") for v in options["Phase1DHGroupNumbers"]]
    enc2 = [_lookup(AWS_ENCRYPTION, v, where + " Phase2EncryptionAlgorithms") for v in options["Phase2EncryptionAlgorithms"]]
    int2 = [_lookup(AWS_INTEGRITY, v, where + " Phase2IntegrityAlgorithms") for v in options["Phase2IntegrityAlgorithms"]]
    dh2 = [_lookup(DH_GROUP_KEYWORDS, int(v), where + " Phase2DHGroupNumbers") for v in options["Phase2DHGroupNumbers"]]
    # with GCM in phase 1, AWS uses the configured integrity algorithms as PRFs
    prf1 = [_lookup(AWS_PRF, v, where + " Phase1IntegrityAlgorithms") for v in options["Phase1IntegrityAlgorithms"]]
    ike = []
    aead1, classic1 = [e for e in _unique(enc1) if _is_aead(e)], [e for e in _unique(enc1) if not _is_aead(e)]
    if aead1 and ike_version != 1:
        ike.append(_join(aead1, _unique(prf1), _unique(dh1)))
    if classic1:
        ike.append(_join(classic1, _unique(int1), _unique(dh1)))
    if not ike:
        raise VocabularyError("AWS tunnel: no IKEv1 phase 1 proposal (AES-GCM is IKEv2 only)")
    esp = combined_proposals(enc2, int2, [], dh2, ike=False)   # AWS phase 2 always uses PFS with its DH groups
    return ike, esp


def aws_ike_version(options: dict) -> int:
    versions = sorted({_lookup(AWS_IKE_VERSIONS, v, "AWS tunnel option IkeVersions") for v in options["IkeVersions"]})
    return versions[0] if len(versions) == 1 else 0


def gcp_proposals(cipher_suite: dict | None, ike_version: int) -> tuple[list, list]:
    """(IKE proposals, ESP proposals) of a GCP tunnel: its cipherSuite, Google's full supported set where absent."""
    suite = cipher_suite or {}
    phase1, phase2 = suite.get("phase1") or {}, suite.get("phase2") or {}

    def role(phase_name: str, phase: dict, name: str, table: dict) -> list:
        values = phase.get(name) or GCP_DEFAULT[phase_name][name]
        return [_lookup(table, value, "GCP cipherSuite.%s.%s" % (phase_name, name)) for value in values]

    ike = combined_proposals(role("phase1", phase1, "encryption", GCP_ENCRYPTION), role("phase1", phase1, "integrity", GCP_INTEGRITY),
                             role("phase1", phase1, "prf", GCP_PRF), role("phase1", phase1, "dh", GCP_DH), ike=True,
                             ike_version=ike_version)
    esp = combined_proposals(role("phase2", phase2, "encryption", GCP_ENCRYPTION), role("phase2", phase2, "integrity", GCP_INTEGRITY),
                             [], role("phase2", phase2, "pfs", GCP_DH), ike=False, optional_dh=not phase2.get("pfs"))
    return ike, esp


def azure_proposals(policies: list) -> tuple[list, list, int | None]:
    """(IKE proposals, ESP proposals, ESP lifetime or None) of an Azure connection: its first ipsecPolicy, else Azure's defaults."""
    if not policies:
        return list(AZURE_DEFAULT_IKE), list(AZURE_DEFAULT_ESP), None
    policy = policies[0]   # Azure takes exactly one policy per connection
    where = "Azure ipsecPolicy"
    ike_enc = _lookup(AZURE_IKE_ENCRYPTION, policy["ikeEncryption"], where + " ikeEncryption")
    ike_int = _lookup(AZURE_IKE_INTEGRITY, policy["ikeIntegrity"], where + " ikeIntegrity")
    dh = _lookup(AZURE_DH, policy["dhGroup"], where + " dhGroup")
    if dh is None:
        raise VocabularyError("%s dhGroup: None is not usable for IKE" % where)
    if _is_aead(ike_enc) != ike_int.startswith("prf"):
        raise VocabularyError("%s: ikeEncryption %s and ikeIntegrity %s do not go together"
                              % (where, policy["ikeEncryption"], policy["ikeIntegrity"]))
    ike = [_join([ike_enc], [ike_int], [dh])]
    esp_enc = _lookup(AZURE_IPSEC_ENCRYPTION, policy["ipsecEncryption"], where + " ipsecEncryption")
    esp_int = _lookup(AZURE_IPSEC_INTEGRITY, policy["ipsecIntegrity"], where + " ipsecIntegrity")
    if _is_aead(esp_enc) != (esp_int is None):
        raise VocabularyError("%s: ipsecEncryption %s and ipsecIntegrity %s do not go together" % (
            where, policy["ipsecEncryption"], policy["ipsecIntegrity"]))
    pfs = _lookup(AZURE_PFS, policy["pfsGroup"], where + " pfsGroup")
    if pfs == "same as dhGroup":
        pfs = dh
    esp = [_join([esp_enc], [esp_int] if esp_int else [], [pfs] if pfs else [])]
    lifetime = policy.get("saLifeTimeSeconds")
    return ike, esp, int(lifetime) if lifetime else None

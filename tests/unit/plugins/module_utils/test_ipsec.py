# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import dataclasses
import os

import pytest
import yaml

from ansible_collections.multicloud.vpn.plugins.module_utils import _ipsec
from ansible_collections.multicloud.vpn.plugins.module_utils._ipsec import (
    DEFAULT_PROFILE_NAME,
    PROFILES,
    IpsecProfile,
    ProfileError,
    aws_tunnel_options,
    aws_tunnel_options_api,
    azure_ipsec_policy,
    customer_ike_version,
    gcp_cipher_suite,
    gcp_ike_version,
    gcp_tunnel_crypto,
    normalise_azure_ipsec_policy,
    profile_differences,
    profile_from_aws_tunnel,
    resolve_profile,
    strongswan_proposals,
    vyos_ike_esp,
)

CASES_DIR = os.path.join(os.path.dirname(__file__), 'cases')


def _load_cases(name):
    with open(os.path.join(CASES_DIR, name), encoding='utf-8') as case_file:
        return yaml.safe_load(case_file)


RENDERINGS = _load_cases('profile_renderings.yml')

RENDERERS = {
    'aws': aws_tunnel_options,
    'gcp_ike_version': gcp_ike_version,
    'gcp_cipher_suite': gcp_cipher_suite,
    'azure': azure_ipsec_policy,
    'vyos': vyos_ike_esp,
    'strongswan': lambda profile: list(strongswan_proposals(profile)),
}


def _vyos_summary(rendering):
    return {
        'key_exchange': rendering['ike']['key_exchange'],
        'ike_proposals': len(rendering['ike']['proposals']),
        'ike_proposals_with_prf': sum(1 for proposal in rendering['ike']['proposals'] if 'prf' in proposal),
        'esp_proposals': len(rendering['esp']['proposals']),
        'pfs': rendering['esp']['pfs'],
    }


def _profile(**overrides):
    return dataclasses.replace(PROFILES['gcp_safe'], **overrides)


# ---------------------------------------------------------------------------------------------
# Named profiles x targets
# ---------------------------------------------------------------------------------------------

def test_rendering_cases_cover_every_profile_and_target():
    assert sorted(RENDERINGS) == sorted(PROFILES)
    for profile_name, targets in RENDERINGS.items():
        assert sorted(targets) == sorted(RENDERERS), profile_name


@pytest.mark.parametrize('profile_name', sorted(PROFILES))
@pytest.mark.parametrize('target', sorted(RENDERERS))
def test_named_profile_renders_into_target(profile_name, target):
    expected = RENDERINGS[profile_name][target]
    render = RENDERERS[target]
    if isinstance(expected, dict) and 'error' in expected:
        with pytest.raises(ProfileError) as raised:
            render(PROFILES[profile_name])
        assert str(raised.value).startswith(expected['error'])
    elif isinstance(expected, dict) and 'summary' in expected:
        assert _vyos_summary(render(PROFILES[profile_name])) == expected['summary']
    else:
        assert render(PROFILES[profile_name]) == expected


def test_default_profile_is_gcp_safe_single_proposal_ikev2():
    assert DEFAULT_PROFILE_NAME == 'gcp_safe'
    profile = PROFILES[DEFAULT_PROFILE_NAME]
    assert profile.ike_versions == ('ikev2',)
    for field in ('phase1_encryption', 'phase1_integrity', 'phase1_dh_groups', 'phase2_encryption', 'phase2_integrity', 'phase2_dh_groups'):
        assert len(getattr(profile, field)) == 1, field


def test_aws_default_profile_is_exactly_aws_default_sets():
    profile = PROFILES['aws_default']
    assert profile.ike_versions == ('ikev1', 'ikev2')
    assert profile.phase1_encryption == profile.phase2_encryption == ('AES128', 'AES256', 'AES128-GCM-16', 'AES256-GCM-16')
    assert profile.phase1_integrity == profile.phase2_integrity == ('SHA1', 'SHA2-256', 'SHA2-384', 'SHA2-512')
    assert profile.phase1_dh_groups == (2,) + tuple(range(14, 25))
    assert profile.phase2_dh_groups == (2, 5) + tuple(range(14, 25))
    assert (profile.phase1_lifetime, profile.phase2_lifetime, profile.rekey_margin, profile.rekey_fuzz) == (28800, 3600, 270, 100)
    assert (profile.replay_window, profile.dpd_timeout, profile.dpd_action, profile.startup_action) == (1024, 40, 'clear', 'add')


# ---------------------------------------------------------------------------------------------
# resolve_profile
# ---------------------------------------------------------------------------------------------

def test_resolve_none_gives_default():
    assert resolve_profile(None) is PROFILES['gcp_safe']


@pytest.mark.parametrize('name', sorted(PROFILES))
def test_resolve_by_name(name):
    assert resolve_profile(name) is PROFILES[name]


def test_resolve_passes_profile_through():
    profile = _profile(dpd_timeout=60)
    assert resolve_profile(profile) is profile


def test_resolve_dict_overrides_and_normalises():
    profile = resolve_profile({
        'name': 'aws_default',
        'ike_versions': 'IKEv2',
        'phase1_encryption': ['aes256', 'AES256'],
        'phase1_integrity': 'sha2-256',
        'phase1_dh_groups': ['14', 20],
        'dpd_action': 'Restart',
        'phase2_lifetime': '1800',
        'rekey_margin': None,
    })
    assert profile.ike_versions == ('ikev2',)
    assert profile.phase1_encryption == ('AES256',)
    assert profile.phase1_integrity == ('SHA2-256',)
    assert profile.phase1_dh_groups == (14, 20)
    assert profile.dpd_action == 'restart'
    assert profile.phase2_lifetime == 1800
    assert profile.rekey_margin == 270
    assert profile.phase2_encryption == PROFILES['aws_default'].phase2_encryption


def test_resolve_dict_without_name_starts_from_default():
    assert resolve_profile({'phase1_lifetime': 14400}) == _profile(phase1_lifetime=14400)


@pytest.mark.parametrize('overrides, message_start', [
    ({'ike_versions': ['ikev3']}, 'profile.ike_versions: '),
    ({'ike_versions': []}, 'profile.ike_versions: must hold at least one value'),
    ({'phase1_encryption': ['AES192']}, "profile.phase1_encryption: 'AES192' is not an AWS value"),
    ({'phase2_integrity': 'MD5'}, "profile.phase2_integrity: 'MD5' is not an AWS value"),
    ({'phase1_dh_groups': [5]}, 'profile.phase1_dh_groups: 5 is not an AWS value'),
    ({'phase2_dh_groups': [1]}, 'profile.phase2_dh_groups: 1 is not an AWS value'),
    ({'phase1_lifetime': 899}, 'profile.phase1_lifetime: must be between 900 and 28800'),
    ({'phase1_lifetime': 28801}, 'profile.phase1_lifetime: must be between 900 and 28800'),
    ({'phase2_lifetime': 3601}, 'profile.phase2_lifetime: must be between 900 and 3600'),
    ({'phase1_lifetime': 900, 'phase2_lifetime': 900}, 'profile.phase2_lifetime: must be less than phase1_lifetime'),
    ({'rekey_margin': 59}, 'profile.rekey_margin: must be between 60 and 1800'),
    ({'rekey_margin': 1801}, 'profile.rekey_margin: must be between 60 and 1800'),
    ({'phase2_lifetime': 1200, 'rekey_margin': 601}, 'profile.rekey_margin: must be between 60 and 600'),
    ({'rekey_fuzz': 101}, 'profile.rekey_fuzz: must be between 0 and 100'),
    ({'replay_window': 63}, 'profile.replay_window: must be between 64 and 2048'),
    ({'replay_window': 2049}, 'profile.replay_window: must be between 64 and 2048'),
    ({'dpd_timeout': 29}, 'profile.dpd_timeout: must be at least 30'),
    ({'dpd_action': 'hold'}, "profile.dpd_action: 'hold' is not one of clear, none, restart"),
    ({'startup_action': 'initiate'}, "profile.startup_action: 'initiate' is not one of add, start"),
    ({'phase1_lifetime': True}, 'profile.phase1_lifetime: must be an integer'),
    ({'phase1_lifetime': 'long'}, 'profile.phase1_lifetime: must be an integer'),
    ({'lifetime': 3600}, 'profile.lifetime: unknown field'),
    ({'name': 'nope'}, "profile.name: unknown profile 'nope'"),
])
def test_resolve_refuses_with_field_name(overrides, message_start):
    with pytest.raises(ProfileError) as raised:
        resolve_profile(overrides)
    assert str(raised.value).startswith(message_start)


@pytest.mark.parametrize('spec', ['no_such_profile', 42, ['gcp_safe']])
def test_resolve_refuses_bad_spec(spec):
    with pytest.raises(ProfileError, match='^profile'):
        resolve_profile(spec)


def test_profile_constructor_validates():
    with pytest.raises(ProfileError, match=r'^profile\.phase1_dh_groups: repeats a value'):
        _profile(phase1_dh_groups=(14, 14))
    with pytest.raises(ProfileError, match=r'^profile\.phase1_encryption: must be a tuple'):
        _profile(phase1_encryption=['AES256'])
    with pytest.raises(ProfileError, match=r'^profile\.phase1_dh_groups: '):
        _profile(phase1_dh_groups=(14.0,))


def test_profile_is_frozen_and_hashable():
    profile = PROFILES['gcp_safe']
    with pytest.raises(dataclasses.FrozenInstanceError):
        profile.dpd_timeout = 60  # pylint: disable=assigning-non-slot
    assert hash(profile) == hash(dataclasses.replace(profile))


# ---------------------------------------------------------------------------------------------
# AWS
# ---------------------------------------------------------------------------------------------

def test_aws_api_shape_of_profile():
    request = aws_tunnel_options_api(aws_tunnel_options(PROFILES['gcp_safe']))
    assert request == {
        'IKEVersions': [{'Value': 'ikev2'}],
        'Phase1EncryptionAlgorithms': [{'Value': 'AES256'}],
        'Phase1IntegrityAlgorithms': [{'Value': 'SHA2-256'}],
        'Phase1DHGroupNumbers': [{'Value': 14}],
        'Phase2EncryptionAlgorithms': [{'Value': 'AES256'}],
        'Phase2IntegrityAlgorithms': [{'Value': 'SHA2-256'}],
        'Phase2DHGroupNumbers': [{'Value': 14}],
        'Phase1LifetimeSeconds': 28800,
        'Phase2LifetimeSeconds': 3600,
        'RekeyMarginTimeSeconds': 270,
        'RekeyFuzzPercentage': 100,
        'ReplayWindowSize': 1024,
        'DPDTimeoutSeconds': 40,
        'DPDTimeoutAction': 'clear',
        'StartupAction': 'add',
    }


def test_aws_api_partial_options_skip_none():
    request = aws_tunnel_options_api({
        'tunnel_inside_cidr': '169.254.10.0/30',
        'pre_shared_key': 'Example_psk.1234',
        'tunnel_inside_ipv6_cidr': None,
        'phase2_dh_group_numbers': [14, 20],
        'enable_tunnel_lifecycle_control': False,
        'log_options': {'cloudwatch_log_options': {'log_enabled': True, 'log_group_arn': 'arn:aws:logs:x', 'log_output_format': 'json',
                                                   'bgp_log_enabled': None}},
    })
    assert request == {
        'TunnelInsideCidr': '169.254.10.0/30',
        'PreSharedKey': 'Example_psk.1234',
        'Phase2DHGroupNumbers': [{'Value': 14}, {'Value': 20}],
        'EnableTunnelLifecycleControl': False,
        'LogOptions': {'CloudWatchLogOptions': {'LogEnabled': True, 'LogGroupArn': 'arn:aws:logs:x', 'LogOutputFormat': 'json'}},
    }


def test_aws_api_refuses_unknown_option():
    with pytest.raises(ProfileError, match=r'^tunnel_options\.phase3_magic: unknown'):
        aws_tunnel_options_api({'phase3_magic': 1})


def test_aws_api_keys_match_botocore_model():
    botocore_session = pytest.importorskip('botocore.session')
    model = botocore_session.get_session().get_service_model('ec2')
    members = model.operation_model('ModifyVpnTunnelOptions').input_shape.members['TunnelOptions'].members
    for api_key, _is_list in _ipsec.AWS_TUNNEL_OPTION_API_KEYS.values():
        assert api_key in members, api_key


@pytest.mark.parametrize('name', sorted(PROFILES))
def test_profile_round_trips_through_aws_request_shape(name):
    request = aws_tunnel_options_api(aws_tunnel_options(PROFILES[name]))
    assert profile_from_aws_tunnel(request) == PROFILES[name]


def test_profile_from_described_tunnel():
    described = {
        'OutsideIpAddress': '203.0.113.10',
        'TunnelInsideCidr': '169.254.10.0/30',
        'PreSharedKey': 'Example_psk.1234',
        'Phase1LifetimeSeconds': 28800,
        'Phase2LifetimeSeconds': 3600,
        'RekeyMarginTimeSeconds': 270,
        'RekeyFuzzPercentage': 100,
        'ReplayWindowSize': 1024,
        'DpdTimeoutSeconds': 30,
        'DpdTimeoutAction': 'restart',
        'Phase1EncryptionAlgorithms': [{'Value': 'AES256'}],
        'Phase2EncryptionAlgorithms': [{'Value': 'AES256'}],
        'Phase1IntegrityAlgorithms': [{'Value': 'SHA2-256'}],
        'Phase2IntegrityAlgorithms': [{'Value': 'SHA2-256'}],
        'Phase1DHGroupNumbers': [{'Value': 14}],
        'Phase2DHGroupNumbers': [{'Value': 14}],
        'IkeVersions': [{'Value': 'ikev2'}],
        'StartupAction': 'start',
    }
    assert profile_from_aws_tunnel(described) == _profile(dpd_timeout=30, dpd_action='restart', startup_action='start')


def test_untouched_described_tunnel_is_aws_default():
    assert profile_from_aws_tunnel({'OutsideIpAddress': '203.0.113.10', 'Phase1EncryptionAlgorithms': []}) == PROFILES['aws_default']


def test_profile_differences_ignores_order_and_names_changes():
    current = dataclasses.replace(PROFILES['aws_default'], phase1_encryption=tuple(reversed(PROFILES['aws_default'].phase1_encryption)))
    assert profile_differences(PROFILES['aws_default'], current) == ()
    assert profile_differences(PROFILES['gcp_safe'], _profile(dpd_timeout=30, phase2_dh_groups=(20,))) == ('phase2_dh_groups', 'dpd_timeout')


# ---------------------------------------------------------------------------------------------
# GCP
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize('overrides, message_start', [
    ({'phase1_integrity': ('SHA1', 'SHA2-256')}, 'profile.phase1_integrity: GCP needs exactly one value per role toward AWS'),
    ({'phase2_dh_groups': (14, 20)}, 'profile.phase2_dh_groups: GCP needs exactly one value per role toward AWS'),
    ({'phase1_dh_groups': (22,)}, 'profile.phase1_dh_groups: GCP has no equivalent of 22'),
    ({'phase2_dh_groups': (36,)}, 'profile.phase2_dh_groups: GCP has no equivalent of 36'),
    ({'ike_versions': ('ikev1', 'ikev2')}, 'profile.ike_versions: a GCP tunnel takes exactly one IKE version'),
    ({'ike_versions': ('ikev1',)}, 'profile.ike_versions: a GCP cipherSuite is only rendered for IKEv2'),
])
def test_gcp_refuses_what_it_cannot_express(overrides, message_start):
    with pytest.raises(ProfileError) as raised:
        gcp_cipher_suite(_profile(**overrides))
    assert str(raised.value).startswith(message_start)


def test_gcp_gcm_phase2_ignores_integrity_list():
    profile = _profile(phase2_encryption=('AES128-GCM-16',), phase2_integrity=('SHA1', 'SHA2-256'))
    assert gcp_cipher_suite(profile)['phase2'] == {'encryption': ['AES-GCM-16-128'], 'pfs': ['Group-14']}


@pytest.mark.parametrize('group', [2, 5, 14, 15, 16, 17, 18, 19, 20, 21, 23, 24])
def test_gcp_dh_group_names(group):
    suite = gcp_cipher_suite(_profile(phase1_dh_groups=(group,) if group != 5 else (14,), phase2_dh_groups=(group,)))
    assert suite['phase2']['pfs'] == ['Group-%d' % group]


def test_gcp_tunnel_crypto_ikev1_has_no_cipher_suite():
    assert gcp_tunnel_crypto(PROFILES['ikev1_compat']) == {'ikeVersion': 1}
    assert gcp_tunnel_crypto(PROFILES['gcp_safe']) == {'ikeVersion': 2, 'cipherSuite': gcp_cipher_suite(PROFILES['gcp_safe'])}


@pytest.mark.parametrize('overrides, message_start', [
    ({'phase1_encryption': ('AES256-GCM-16',)}, 'profile.phase1_encryption: AES-GCM needs IKEv2 on GCP'),
    ({'phase2_encryption': ('AES256', 'AES128')}, 'profile.phase2_encryption: GCP needs exactly one value'),
    ({'phase1_dh_groups': (22,)}, 'profile.phase1_dh_groups: GCP has no equivalent of 22'),
])
def test_gcp_tunnel_crypto_ikev1_refusals(overrides, message_start):
    with pytest.raises(ProfileError) as raised:
        gcp_tunnel_crypto(dataclasses.replace(PROFILES['ikev1_compat'], **overrides))
    assert str(raised.value).startswith(message_start)


# ---------------------------------------------------------------------------------------------
# Azure
# ---------------------------------------------------------------------------------------------

def test_azure_refuses_two_values_with_documented_message():
    with pytest.raises(ProfileError) as raised:
        azure_ipsec_policy(_profile(phase1_integrity=('SHA1', 'SHA2-256')))
    assert str(raised.value) == 'profile.phase1_integrity: Azure cannot express more than one value (got SHA1, SHA2-256)'
    assert raised.value.field == 'phase1_integrity'


@pytest.mark.parametrize('overrides, message_start', [
    ({'phase1_integrity': ('SHA2-512',)}, "profile.phase1_integrity: Azure has no equivalent of 'SHA2-512'"),
    ({'phase2_integrity': ('SHA2-384',)}, "profile.phase2_integrity: Azure has no equivalent of 'SHA2-384'"),
    ({'phase1_dh_groups': (15,)}, 'profile.phase1_dh_groups: Azure has no equivalent of 15'),
    ({'phase2_dh_groups': (5,)}, 'profile.phase2_dh_groups: Azure has no equivalent of 5'),
    ({'ike_versions': ('ikev1',)}, 'profile.ike_versions: Azure connections here use IKEv2'),
])
def test_azure_refuses_what_it_lacks(overrides, message_start):
    with pytest.raises(ProfileError) as raised:
        azure_ipsec_policy(_profile(**overrides))
    assert str(raised.value).startswith(message_start)


@pytest.mark.parametrize('group, dh_group, pfs_group', [
    (2, 'DHGroup2', 'PFS2'),
    (14, 'DHGroup14', 'PFS2048'),
    (19, 'ECP256', 'ECP256'),
    (20, 'ECP384', 'ECP384'),
    (24, 'DHGroup24', 'PFS24'),
])
def test_azure_dh_group_table(group, dh_group, pfs_group):
    policy = azure_ipsec_policy(_profile(phase1_dh_groups=(group,), phase2_dh_groups=(group,)))
    assert (policy['dhGroup'], policy['pfsGroup']) == (dh_group, pfs_group)


def test_azure_accepts_both_ike_versions_and_gcm_phase2_with_many_integrities():
    policy = azure_ipsec_policy(_profile(ike_versions=('ikev1', 'ikev2'), phase2_encryption=('AES128-GCM-16',), phase2_integrity=('SHA1', 'SHA2-256')))
    assert (policy['ipsecEncryption'], policy['ipsecIntegrity']) == ('GCMAES128', 'GCMAES128')


def test_azure_policy_aliases_fold_for_comparison():
    rendered = azure_ipsec_policy(PROFILES['gcp_safe'])
    as_read_back = dict(rendered, dhGroup='DHGroup2048', pfsGroup='PFS14')
    assert normalise_azure_ipsec_policy(as_read_back) == rendered
    assert normalise_azure_ipsec_policy(rendered) == rendered


# ---------------------------------------------------------------------------------------------
# VyOS and strongSwan
# ---------------------------------------------------------------------------------------------

def test_vyos_pfs_refuses_unrelated_group_sets():
    with pytest.raises(ProfileError, match=r'^profile\.phase2_dh_groups: VyOS takes one PFS group'):
        vyos_ike_esp(_profile(phase1_dh_groups=(14, 19), phase2_dh_groups=(14, 20)))


def test_vyos_pfs_enable_when_ike_groups_allowed_for_pfs():
    assert vyos_ike_esp(_profile(phase1_dh_groups=(14, 20), phase2_dh_groups=(14, 20, 5)))['esp']['pfs'] == 'enable'


def test_vyos_refuses_post_quantum_groups():
    with pytest.raises(ProfileError, match=r'^profile\.phase1_dh_groups: VyOS has no equivalent of DH group 35'):
        vyos_ike_esp(_profile(phase1_dh_groups=(35,)))


@pytest.mark.parametrize('group, name', [
    (2, 'modp1024'), (5, 'modp1536'), (14, 'modp2048'), (15, 'modp3072'), (16, 'modp4096'), (17, 'modp6144'), (18, 'modp8192'),
    (19, 'ecp256'), (20, 'ecp384'), (21, 'ecp521'), (22, 'modp1024s160'), (23, 'modp2048s224'), (24, 'modp2048s256'),
])
def test_strongswan_dh_names(group, name):
    ike, esp = strongswan_proposals(_profile(phase1_dh_groups=(group,) if group != 5 else (14,), phase2_dh_groups=(group,)))
    assert esp == 'aes256-sha256-%s' % name
    if group != 5:
        assert ike == 'aes256-sha256-%s' % name


def test_strongswan_gcm_ike_takes_prf():
    ike, esp = strongswan_proposals(_profile(phase1_encryption=('AES256-GCM-16',), phase2_encryption=('AES256-GCM-16',)))
    assert (ike, esp) == ('aes256gcm16-prfsha256-modp2048', 'aes256gcm16-modp2048')


def test_strongswan_splits_aead_from_classic():
    ike, esp = strongswan_proposals(_profile(phase1_encryption=('AES128', 'AES128-GCM-16'), phase2_encryption=('AES128-GCM-16', 'AES256')))
    assert ike == 'aes128-sha256-modp2048,aes128gcm16-prfsha256-modp2048'
    assert esp == 'aes256-sha256-modp2048,aes128gcm16-modp2048'


def test_strongswan_refuses_unmapped_group():
    with pytest.raises(ProfileError, match=r'^profile\.phase2_dh_groups: strongSwan has no equivalent of 37'):
        strongswan_proposals(_profile(phase2_dh_groups=(37,)))


@pytest.mark.parametrize('versions, expected', [(('ikev1',), 'ikev1'), (('ikev2',), 'ikev2'), (('ikev1', 'ikev2'), 'ikev2')])
def test_customer_ike_version(versions, expected):
    assert customer_ike_version(_profile(ike_versions=versions)) == expected


# ---------------------------------------------------------------------------------------------
# Vendor tables cover AWS's vocabulary
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize('table', [
    _ipsec.GCP_ENCRYPTION, _ipsec.AZURE_ENCRYPTION, _ipsec.VYOS_ENCRYPTION, _ipsec.STRONGSWAN_ENCRYPTION,
])
def test_encryption_tables_cover_aws_values(table):
    assert sorted(table) == sorted(_ipsec.AWS_ENCRYPTIONS)


@pytest.mark.parametrize('table', [
    _ipsec.GCP_INTEGRITY, _ipsec.GCP_PRF, _ipsec.VYOS_HASH, _ipsec.VYOS_PRF, _ipsec.STRONGSWAN_INTEGRITY, _ipsec.STRONGSWAN_PRF,
])
def test_integrity_tables_cover_aws_values(table):
    assert sorted(table) == sorted(_ipsec.AWS_INTEGRITIES)


def test_strongswan_covers_aws_default_groups():
    assert set(_ipsec.AWS_DEFAULT_PHASE2_DH_GROUPS) | set(_ipsec.AWS_DEFAULT_PHASE1_DH_GROUPS) == set(_ipsec.STRONGSWAN_DH_GROUP)


def test_profile_fields_match_interface():
    assert _ipsec.PROFILE_FIELDS == (
        'ike_versions', 'phase1_encryption', 'phase1_integrity', 'phase1_dh_groups', 'phase2_encryption', 'phase2_integrity',
        'phase2_dh_groups', 'phase1_lifetime', 'phase2_lifetime', 'rekey_margin', 'rekey_fuzz', 'replay_window', 'dpd_timeout',
        'dpd_action', 'startup_action',
    )
    assert isinstance(PROFILES['gcp_safe'], IpsecProfile)

# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import string

import pytest

from ansible_collections.multicloud.vpn.plugins.module_utils import _psk
from ansible_collections.multicloud.vpn.plugins.module_utils._plan import PlanError
from ansible_collections.multicloud.vpn.plugins.module_utils._psk import PskError, generate_psk, validate_psk

ALLOWED = set(string.ascii_letters + string.digits + '._')


@pytest.mark.parametrize('length', [8, 9, 32, 63, 64])
def test_generated_psk_follows_aws_rules(length):
    psk = generate_psk(length)
    assert len(psk) == length
    assert set(psk) <= ALLOWED
    assert not psk.startswith('0')
    assert validate_psk(psk, 'psk') == psk


def test_default_length_is_32():
    assert len(generate_psk()) == 32


def test_generated_psks_differ():
    assert len({generate_psk() for _attempt in range(20)}) == 20


def test_generated_psk_never_starts_with_zero_even_when_randomness_says_zero(monkeypatch):
    # A chooser that always prefers '0' proves the first character is drawn without it.
    monkeypatch.setattr(_psk.secrets, 'choice', lambda alphabet: '0' if '0' in alphabet else alphabet[0])
    psk = generate_psk(12)
    assert psk[0] != '0'
    assert psk[1:] == '0' * 11


@pytest.mark.parametrize('length', [7, 65, 0, True, '32', None])
def test_generate_refuses_bad_length(length):
    with pytest.raises(PskError, match='^psk length: must be an integer between 8 and 64'):
        generate_psk(length)


@pytest.mark.parametrize('psk', ['Abcdefg1', 'A' * 64, 'a.b_c.d_e9', '9' * 8, '_leading_underscore', '.dot.first'])
def test_valid_psks(psk):
    assert validate_psk(psk, 'aws_psk') == psk


@pytest.mark.parametrize('psk, message', [
    ('Sh0rt', 'tunnel_psks[1]: must be 8 to 64 characters long (got 5)'),
    ('Q' * 65, 'tunnel_psks[1]: must be 8 to 64 characters long (got 65)'),
    ('Secret with space', 'tunnel_psks[1]: may only hold letters, digits, "." and "_"'),
    ('Secret-with-dash', 'tunnel_psks[1]: may only hold letters, digits, "." and "_"'),
    ('Secr\u00e9tAccent', 'tunnel_psks[1]: may only hold letters, digits, "." and "_"'),
    ('0SecretStartsZero', 'tunnel_psks[1]: must not start with "0" (AWS refuses it)'),
    (12345678, 'tunnel_psks[1]: must be a string'),
    (None, 'tunnel_psks[1]: must be a string'),
])
def test_invalid_psk_message_names_variable_and_hides_key(psk, message):
    with pytest.raises(PskError) as raised:
        validate_psk(psk, 'tunnel_psks[1]')
    assert str(raised.value) == message
    assert raised.value.variable == 'tunnel_psks[1]'
    if isinstance(psk, str):
        assert psk not in str(raised.value)
        assert psk not in repr(raised.value)


def test_psk_error_is_a_plan_error():
    assert issubclass(PskError, PlanError)
    assert issubclass(PskError, ValueError)

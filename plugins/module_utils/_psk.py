# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal to multicloud.vpn: not a public API, may change without notice.
#
# Pre-shared keys: generate one every cloud accepts, check one from the inventory.
# AWS is the strictest party (8-64 letters, digits, '.' and '_', never starting with '0');
# GCP sharedSecret and Azure sharedKey accept anything AWS accepts.
# Errors name the variable and never contain the key.

from __future__ import annotations

import secrets
import string

from ansible_collections.multicloud.vpn.plugins.module_utils._plan import PlanError

PSK_ALPHABET = string.ascii_letters + string.digits + '._'
PSK_FIRST_CHARACTER_ALPHABET = PSK_ALPHABET.replace('0', '')
PSK_LENGTH_RANGE = (8, 64)
DEFAULT_PSK_LENGTH = 32


class PskError(PlanError):
    """A pre-shared key breaks the rules. The message names the variable, never the key."""


def generate_psk(length: int = DEFAULT_PSK_LENGTH) -> str:
    """A random pre-shared key AWS, GCP and Azure all accept (``secrets``-grade randomness)."""
    low, high = PSK_LENGTH_RANGE
    if not isinstance(length, int) or isinstance(length, bool) or not low <= length <= high:
        raise PskError('psk length: must be an integer between %d and %d (got %r)' % (low, high, length), variable='psk length')
    first = secrets.choice(PSK_FIRST_CHARACTER_ALPHABET)
    return first + ''.join(secrets.choice(PSK_ALPHABET) for _position in range(length - 1))


def validate_psk(psk: str, variable: str) -> str:
    """Return ``psk`` unchanged if every cloud accepts it; otherwise raise :class:`PskError`."""
    low, high = PSK_LENGTH_RANGE
    if not isinstance(psk, str):
        raise PskError('%s: must be a string' % variable, variable=variable)
    if not low <= len(psk) <= high:
        raise PskError('%s: must be %d to %d characters long (got %d)' % (variable, low, high, len(psk)), variable=variable)
    if any(character not in PSK_ALPHABET for character in psk):
        raise PskError('%s: may only hold letters, digits, "." and "_"' % variable, variable=variable)
    if psk.startswith('0'):
        raise PskError('%s: must not start with "0" (AWS refuses it)' % variable, variable=variable)
    return psk

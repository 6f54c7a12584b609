from __future__ import annotations

import os

import pytest

from bot.vault import Vault, VaultError


def test_a_sealed_passcode_opens_only_for_its_own_request() -> None:
    vault = Vault(os.urandom(32))
    sealed = vault.seal("PR-AAAAAA", "84621377")
    assert b"84621377" not in sealed
    assert vault.unseal("PR-AAAAAA", sealed) == "84621377"
    with pytest.raises(VaultError, match="another request"):
        vault.unseal("PR-BBBBBB", sealed)


def test_sealing_twice_gives_different_bytes() -> None:
    vault = Vault(os.urandom(32))
    assert vault.seal("PR-A", "1234") != vault.seal("PR-A", "1234")


def test_a_tampered_value_does_not_open() -> None:
    vault = Vault(os.urandom(32))
    sealed = bytearray(vault.seal("PR-A", "1234"))
    sealed[-1] ^= 1
    with pytest.raises(VaultError):
        vault.unseal("PR-A", bytes(sealed))


def test_an_unknown_key_is_reported_not_crashed_on() -> None:
    sealed = Vault(os.urandom(32)).seal("PR-A", "1234")
    with pytest.raises(VaultError, match="does not hold"):
        Vault(os.urandom(32)).unseal("PR-A", sealed)
    with pytest.raises(VaultError, match="not a sealed"):
        Vault(os.urandom(32)).unseal("PR-A", b"garbage")


def test_old_keys_still_open_values_after_a_rotation() -> None:
    old, new = os.urandom(32), os.urandom(32)
    sealed = Vault(old).seal("PR-A", "5555")
    rotated = Vault(new, [old])
    assert rotated.unseal("PR-A", sealed) == "5555"
    assert not rotated.is_current(sealed)
    assert rotated.is_current(rotated.seal("PR-A", "5555"))

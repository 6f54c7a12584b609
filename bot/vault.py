"""Seals passcodes at rest with AES-256-GCM under PASSCODE_BOT_SECRET.

The key is 32 random bytes in URL-safe base64, the Fernet key format. Each sealed value is
bound to its request id (GCM associated data), so a sealed blob copied onto another request
does not open. A 4-byte key id lets old keys keep opening values until `rotate-key` re-seals
them under the new one.
"""

from __future__ import annotations

import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = b"\x01"
_NONCE = 12


class VaultError(Exception):
    """A sealed value cannot be opened (wrong key, tampered, or foreign)."""


def key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"passcode-bot key id" + key).digest()[:4]


class Vault:
    def __init__(self, key: bytes, old_keys: list[bytes] | None = None) -> None:
        self._key = key
        self._current_id = key_id(key)
        self._keys = {key_id(k): AESGCM(k) for k in [*(old_keys or []), key]}

    def seal(self, request_id: str, passcode: str) -> bytes:
        nonce = os.urandom(_NONCE)
        box = self._keys[self._current_id].encrypt(
            nonce, passcode.encode("utf-8"), request_id.encode("utf-8")
        )
        return _VERSION + self._current_id + nonce + box

    def unseal(self, request_id: str, sealed: bytes) -> str:
        if len(sealed) < 1 + 4 + _NONCE + 16 or sealed[:1] != _VERSION:
            raise VaultError("not a sealed passcode")
        aead = self._keys.get(sealed[1:5])
        if aead is None:
            raise VaultError("sealed under a key this bot does not hold")
        try:
            plain = aead.decrypt(sealed[5 : 5 + _NONCE], sealed[5 + _NONCE :], request_id.encode())
        except InvalidTag:
            raise VaultError("sealed value was altered or belongs to another request") from None
        return plain.decode("utf-8")

    def is_current(self, sealed: bytes) -> bool:
        return sealed[1:5] == self._current_id

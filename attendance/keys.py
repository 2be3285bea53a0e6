"""Signing keys for credentials: Ed25519, the private halves encrypted at rest with the data key.

`Sealer` is the one place that encrypts data at rest (AES-256-GCM with a key derived from the
deployment's data key): signing keys here, face templates later.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from attendance.errors import InvalidRecord

NONCE_SIZE = 12


class Sealer:
    """Authenticated encryption at rest. `purpose` separates keys: a signing key sealed for one purpose
    cannot be opened as a face template."""

    def __init__(self, data_key: str) -> None:
        if len(data_key) < 32:
            raise ValueError("the data key needs at least 32 characters")
        self._master = data_key.encode()
        self._aeads: dict[str, AESGCM] = {}

    def _aead(self, purpose: str) -> AESGCM:
        aead = self._aeads.get(purpose)
        if aead is None:  # derived once per purpose: opening a hall's gallery opens thousands of templates
            key = HKDF(algorithm=SHA256(), length=32, salt=b"hoinghi", info=purpose.encode()).derive(self._master)
            aead = self._aeads[purpose] = AESGCM(key)
        return aead

    def seal(self, purpose: str, plaintext: bytes) -> bytes:
        nonce = os.urandom(NONCE_SIZE)
        return nonce + self._aead(purpose).encrypt(nonce, plaintext, purpose.encode())

    def open(self, purpose: str, sealed: bytes) -> bytes:
        try:
            return self._aead(purpose).decrypt(sealed[:NONCE_SIZE], sealed[NONCE_SIZE:], purpose.encode())
        except (InvalidTag, ValueError):
            raise InvalidRecord("sealed data does not open with this deployment's data key") from None


@dataclass(frozen=True)
class SigningKey:
    key_id: int
    public_key: bytes  # 32 raw bytes
    sealed_private_key: bytes
    created_at: datetime
    active: bool  # the key new credentials are signed with
    withdrawn_at: datetime | None = None  # no longer accepted

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.public_key).hexdigest()[:16]

    def public(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.public_key)

    def private(self, sealer: Sealer) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(sealer.open(PURPOSE, self.sealed_private_key))


PURPOSE = "credential-signing-key"


def new_signing_key(key_id: int, sealer: Sealer, now: datetime) -> SigningKey:
    private = Ed25519PrivateKey.generate()
    raw_private = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    raw_public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return SigningKey(key_id, raw_public, sealer.seal(PURPOSE, raw_private), now, active=True)

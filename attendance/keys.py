"""Signing keys for credentials: Ed25519, the private halves encrypted at rest with the data key.

`Sealer` is the one place that encrypts data at rest (AES-256-GCM with a key derived from the
deployment's data key): signing keys here, face templates in `attendance.face_service`. A sealed blob
names the data key it was sealed with (`VERSIONED` + a 4-byte key id derived from the key, then the nonce
and the ciphertext), so the data key can rotate: new blobs are sealed with the current key, blobs sealed
with an older key (`HOINGHI_OLD_DATA_KEYS`) still open. Blobs from before key ids (nonce and ciphertext
only) open with any of the keys.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
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
VERSIONED = b"\x02"  # the format byte of a blob that names its key
KEY_ID_SIZE = 4


def data_key_id(data_key: str) -> bytes:
    """The 4 bytes a blob carries to name the data key it was sealed with (not secret: a one-way digest)."""
    return hashlib.sha256(b"hoinghi data key id\x00" + data_key.encode()).digest()[:KEY_ID_SIZE]


class _DataKey:
    """One data key and the AEAD key derived from it per purpose."""

    def __init__(self, data_key: str) -> None:
        if len(data_key) < 32:
            raise ValueError("the data key needs at least 32 characters")
        self.master = data_key.encode()
        self.key_id = data_key_id(data_key)
        self._aeads: dict[str, AESGCM] = {}

    def aead(self, purpose: str) -> AESGCM:
        aead = self._aeads.get(purpose)
        if aead is None:  # derived once per purpose: opening a hall's gallery opens thousands of templates
            key = HKDF(algorithm=SHA256(), length=32, salt=b"hoinghi", info=purpose.encode()).derive(self.master)
            aead = self._aeads[purpose] = AESGCM(key)
        return aead


class Sealer:
    """Authenticated encryption at rest with the current data key; older keys still open what they sealed.
    `purpose` separates keys: a signing key sealed for one purpose cannot be opened as a face template."""

    def __init__(self, data_key: str, older: Sequence[str] = ()) -> None:
        self._current = _DataKey(data_key)
        self._keys = [self._current] + [_DataKey(k) for k in older if k != data_key]
        self._by_id = {k.key_id: k for k in reversed(self._keys)}

    @property
    def key_id(self) -> bytes:
        """The id of the key new blobs are sealed with."""
        return self._current.key_id

    def seal(self, purpose: str, plaintext: bytes) -> bytes:
        nonce = os.urandom(NONCE_SIZE)
        header = VERSIONED + self._current.key_id
        return header + nonce + self._current.aead(purpose).encrypt(nonce, plaintext, header + purpose.encode())

    def sealed_with(self, sealed: bytes) -> bytes | None:
        """The id of the data key a blob names (None: a blob from before key ids)."""
        key_id = sealed[1:1 + KEY_ID_SIZE]
        return key_id if sealed[:1] == VERSIONED and key_id in self._by_id else None

    def reseal(self, purpose: str, sealed: bytes) -> bytes | None:
        """The blob sealed again with the current key, or None when it already is (key rotation's last step:
        after every blob is resealed, the old key can be dropped)."""
        if self.sealed_with(sealed) == self.key_id:
            return None
        return self.seal(purpose, self.open(purpose, sealed))

    def open(self, purpose: str, sealed: bytes) -> bytes:
        key_id = self.sealed_with(sealed)
        if key_id is not None:
            header, body = sealed[:1 + KEY_ID_SIZE], sealed[1 + KEY_ID_SIZE:]
            try:
                return self._by_id[key_id].aead(purpose).decrypt(body[:NONCE_SIZE], body[NONCE_SIZE:],
                                                                 header + purpose.encode())
            except (InvalidTag, ValueError):
                pass  # by chance a legacy blob starting with a known header: try it as one
        for key in self._keys:
            try:
                return key.aead(purpose).decrypt(sealed[:NONCE_SIZE], sealed[NONCE_SIZE:], purpose.encode())
            except (InvalidTag, ValueError):
                continue
        raise InvalidRecord("sealed data does not open with this deployment's data keys")


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

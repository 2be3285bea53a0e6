"""Personal check-in credentials: an Ed25519-signed compact binary payload, printed as a QR code.

Payload (22 bytes, big-endian):

    version  u8     format version, 1
    key_id   u8     which signing key; several are accepted at once so keys can rotate
    cred_id  8 B    opaque random credential id (maps to a person on the server; no personal data)
    scope    u32    conference id the credential is limited to, 0 for any conference
    from     u32    valid from, Unix seconds
    until    u32    valid until, Unix seconds

followed by a 64-byte Ed25519 signature over DOMAIN + payload. The 86 bytes are written as
`HN1:` + unpadded RFC 4648 base32 (142 characters, all in QR's alphanumeric set), which fits QR
version 6 at error correction M (capacity 178 alphanumeric characters).
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from attendance.checkins import Refusal

PREFIX = "HN1:"
VERSION = 1
DOMAIN = b"hoinghi/credential/v1"
LAYOUT = struct.Struct(">BB8sIII")
SIGNATURE_SIZE = 64
ENCODED_SIZE = LAYOUT.size + SIGNATURE_SIZE
TEXT_MAX = 200  # anything longer is not a credential; refuse before decoding


class CredentialRefused(Exception):
    """A scanned text that is not a valid credential, with the closed-list reason."""

    def __init__(self, reason: Refusal, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Credential:
    key_id: int
    credential_id: bytes
    conference_id: int  # 0: any conference
    valid_from: datetime
    valid_until: datetime

    def __post_init__(self) -> None:
        if len(self.credential_id) != 8:
            raise ValueError("a credential id is 8 bytes")
        if not 0 <= self.key_id <= 255:
            raise ValueError("a key id is 0 to 255")
        if self.valid_until <= self.valid_from:
            raise ValueError("a credential must end after it starts")

    @property
    def id_hex(self) -> str:
        return self.credential_id.hex()

    def payload(self) -> bytes:
        return LAYOUT.pack(VERSION, self.key_id, self.credential_id, self.conference_id,
                           int(self.valid_from.timestamp()), int(self.valid_until.timestamp()))


def sign(credential: Credential, key: Ed25519PrivateKey) -> str:
    """The QR text for a credential, signed with the private key of `credential.key_id`."""
    payload = credential.payload()
    blob = payload + key.sign(DOMAIN + payload)
    return PREFIX + base64.b32encode(blob).decode("ascii").rstrip("=")


def _decode(text: str) -> bytes:
    text = text.strip()
    if len(text) > TEXT_MAX or not text.upper().startswith(PREFIX):
        raise CredentialRefused(Refusal.MALFORMED, "not a hoinghi credential")
    body = text[len(PREFIX):].upper()
    try:
        blob = base64.b32decode(body + "=" * (-len(body) % 8))
    except (binascii.Error, ValueError):
        raise CredentialRefused(Refusal.MALFORMED, "the credential text is damaged") from None
    if len(blob) != ENCODED_SIZE:
        raise CredentialRefused(Refusal.MALFORMED, "the credential has the wrong length")
    return blob


def verify(text: str, keys: Mapping[int, Ed25519PublicKey], now: datetime, conference_id: int | None = None
           ) -> Credential:
    """The credential a scanned text carries, or CredentialRefused with its reason.

    Checks, in order: form, version, known key, signature, validity window, conference scope.
    Revocation is the caller's to check (it needs the revocation list).
    """
    blob = _decode(text)
    payload, signature = blob[:LAYOUT.size], blob[LAYOUT.size:]
    version, key_id, cred_id, scope, start, end = LAYOUT.unpack(payload)
    if version != VERSION:
        raise CredentialRefused(Refusal.MALFORMED, f"unknown credential version {version}")
    key = keys.get(key_id)
    if key is None:
        raise CredentialRefused(Refusal.UNKNOWN_KEY, f"signed with key {key_id}, which is not accepted here")
    try:
        key.verify(signature, DOMAIN + payload)
    except InvalidSignature:
        raise CredentialRefused(Refusal.BAD_SIGNATURE, "the credential's signature does not match") from None
    if end <= start:
        raise CredentialRefused(Refusal.MALFORMED, "the credential's validity window is empty")
    moment = int(now.timestamp())
    if moment < start:
        raise CredentialRefused(Refusal.NOT_YET_VALID, "the credential is not valid yet")
    if moment > end:
        raise CredentialRefused(Refusal.EXPIRED, "the credential has expired")
    if conference_id is not None and scope not in (0, conference_id):
        raise CredentialRefused(Refusal.WRONG_CONFERENCE, "the credential is for another conference")
    return Credential(key_id, cred_id, scope, datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC))

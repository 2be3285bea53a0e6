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

A server sees the same texts again (a repeated scan, a kiosk's retry): `VerifiedTexts` remembers the
texts whose signature one key verified, so that `verify` does not check that signature twice; every other
check (the key still accepted, the validity window, the conference) is made on every scan.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from collections import OrderedDict
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
BODY_SIZE = -(-ENCODED_SIZE * 8 // 5)  # base32 characters of the 86 bytes, unpadded (138)
_BASE32 = re.compile(r"[A-Z2-7]*")
_AS_DIGITS = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789abcdefghijklmnopqrstuv")


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
    if len(body) == BODY_SIZE and _BASE32.fullmatch(body):  # the usual text: one int() instead of base64's loop
        number = int(body.translate(_AS_DIGITS), 32) >> (BODY_SIZE * 5 - ENCODED_SIZE * 8)
        return number.to_bytes(ENCODED_SIZE, "big")
    try:
        blob = base64.b32decode(body + "=" * (-len(body) % 8))
    except (binascii.Error, ValueError):
        raise CredentialRefused(Refusal.MALFORMED, "the credential text is damaged") from None
    if len(blob) != ENCODED_SIZE:
        raise CredentialRefused(Refusal.MALFORMED, "the credential has the wrong length")
    return blob


class VerifiedTexts:
    """The last `size` texts whose signature a key verified, each with its fields and that key (a bounded
    memory of a server's recent scans). Only a text exactly as scanned, for the very key object that verified
    it, is taken as verified again: a key withdrawn or replaced misses."""

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._texts: OrderedDict[str, tuple[Ed25519PublicKey, tuple[int, int, bytes, int, int, int]]] = OrderedDict()

    def get(self, text: str, keys: Mapping[int, Ed25519PublicKey]) -> tuple[int, int, bytes, int, int, int] | None:
        seen = self._texts.get(text)
        if seen is None or keys.get(seen[1][1]) is not seen[0]:
            return None
        return seen[1]

    def add(self, text: str, key: Ed25519PublicKey, fields: tuple[int, int, bytes, int, int, int]) -> None:
        self._texts[text] = (key, fields)
        if len(self._texts) > self.size:
            self._texts.popitem(last=False)


def verify(text: str, keys: Mapping[int, Ed25519PublicKey], now: datetime, conference_id: int | None = None,
           verified: VerifiedTexts | None = None) -> Credential:
    """The credential a scanned text carries, or CredentialRefused with its reason.

    Checks, in order: form, version, known key, signature (once per text and key with `verified`), validity
    window, conference scope. Revocation is the caller's to check (it needs the revocation list).
    """
    fields = verified.get(text, keys) if verified is not None else None
    if fields is None:
        blob = _decode(text)
        payload, signature = blob[:LAYOUT.size], blob[LAYOUT.size:]
        fields = LAYOUT.unpack(payload)
        if fields[0] != VERSION:
            raise CredentialRefused(Refusal.MALFORMED, f"unknown credential version {fields[0]}")
        key = keys.get(fields[1])
        if key is None:
            raise CredentialRefused(Refusal.UNKNOWN_KEY, f"signed with key {fields[1]}, which is not accepted here")
        try:
            key.verify(signature, DOMAIN + payload)
        except InvalidSignature:
            raise CredentialRefused(Refusal.BAD_SIGNATURE, "the credential's signature does not match") from None
        if verified is not None:
            verified.add(text, key, fields)
    _, key_id, cred_id, scope, start, end = fields
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

"""The credential format, pure: every kind of bad credential is refused with its own reason."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta

import pytest
import qrcode
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from qrcode.constants import ERROR_CORRECT_M

from attendance.checkins import Refusal
from attendance.credentials import PREFIX, Credential, CredentialRefused, VerifiedTexts, _decode, sign, verify
from attendance.keys import Sealer, new_signing_key

NOW = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
KEY1 = Ed25519PrivateKey.generate()
KEY2 = Ed25519PrivateKey.generate()
KEYS = {1: KEY1.public_key(), 2: KEY2.public_key()}


def credential(key_id: int = 1, conference: int = 0, start: datetime = NOW - timedelta(days=1),
               days: int = 365) -> Credential:
    return Credential(key_id, os.urandom(8), conference, start, start + timedelta(days=days))


def reason(text: str, conference: int | None = 7, keys: dict[int, object] | None = None) -> Refusal:
    with pytest.raises(CredentialRefused) as refused:
        verify(text, keys or KEYS, NOW, conference)  # type: ignore[arg-type]
    return refused.value.reason


def test_a_valid_credential_round_trips_and_fits_a_small_qr() -> None:
    cred = credential(conference=7)
    text = sign(cred, KEY1)
    assert text.startswith(PREFIX) and len(text) == 142
    back = verify(text, KEYS, NOW, 7)
    assert back.credential_id == cred.credential_id and back.conference_id == 7
    assert verify(text.lower(), KEYS, NOW, 7) == back  # scanners may lower-case alphanumeric data
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M)
    code.add_data(text)
    code.make(fit=True)
    assert code.version <= 6


def test_keys_rotate_both_accepted() -> None:
    assert verify(sign(credential(key_id=2), KEY2), KEYS, NOW, 7).key_id == 2
    assert verify(sign(credential(key_id=1), KEY1), KEYS, NOW, 7).key_id == 1


@pytest.mark.parametrize("garbage", ["", "hello", "HN1:", "HN1:!!!!", "HN1:AAAA", "x" * 10_000, "HN1:" + "A" * 138,
                                     "\x00\xff", "https://example.org/?q=1"])
def test_garbage_is_malformed(garbage: str) -> None:
    assert reason(garbage) is Refusal.MALFORMED


def test_each_bad_credential_has_its_own_reason() -> None:
    good = sign(credential(), KEY1)
    blob = bytearray(base64.b32decode(good[4:] + "=" * (-len(good[4:]) % 8)))
    blob[10] ^= 0x01  # flip one bit of the credential id
    tampered = PREFIX + base64.b32encode(bytes(blob)).decode().rstrip("=")
    assert reason(tampered) is Refusal.BAD_SIGNATURE
    assert reason(sign(credential(key_id=2), KEY1)) is Refusal.BAD_SIGNATURE  # says key 2, signed with key 1
    assert reason(sign(credential(key_id=9), KEY1)) is Refusal.UNKNOWN_KEY
    assert reason(sign(credential(), KEY1), keys={2: KEYS[2]}) is Refusal.UNKNOWN_KEY  # key 1 withdrawn
    assert reason(sign(credential(start=NOW - timedelta(days=400)), KEY1)) is Refusal.EXPIRED
    assert reason(sign(credential(start=NOW + timedelta(days=1)), KEY1)) is Refusal.NOT_YET_VALID
    assert reason(sign(credential(conference=8), KEY1), conference=7) is Refusal.WRONG_CONFERENCE
    forged = sign(credential(), Ed25519PrivateKey.generate())
    assert reason(forged) is Refusal.BAD_SIGNATURE


def test_the_quick_decoding_reads_what_base32_reads() -> None:
    for size in range(200):
        blob = os.urandom(86) if size else bytes(86)
        text = PREFIX + base64.b32encode(blob).decode().rstrip("=")
        assert _decode(text) == _decode(text.lower()) == blob
    good = sign(credential(), KEY1)
    for bad in (good + "A", good[:-1], good[:-1] + "1", good[:-1] + "_", good[:5] + "_" + good[6:],
                good[:4] + "+" + good[5:], good[:-1] + "=", good[:4] + " " + good[5:]):
        assert reason(bad) is Refusal.MALFORMED, bad


def test_a_text_verified_once_is_still_checked_on_every_scan() -> None:
    seen = VerifiedTexts(size=2)
    start = NOW - timedelta(days=1)
    text = sign(credential(conference=7, start=start, days=2), KEY1)
    assert verify(text, KEYS, NOW, 7, seen).conference_id == 7
    assert seen.get(text, KEYS) is not None  # verified: not checked again with the same key
    assert verify(text, KEYS, NOW, 7, seen).conference_id == 7
    with pytest.raises(CredentialRefused) as refused:
        verify(text, KEYS, NOW + timedelta(days=3), 7, seen)
    assert refused.value.reason is Refusal.EXPIRED
    with pytest.raises(CredentialRefused) as refused:
        verify(text, KEYS, NOW, 8, seen)
    assert refused.value.reason is Refusal.WRONG_CONFERENCE
    with pytest.raises(CredentialRefused) as refused:
        verify(text, {2: KEYS[2]}, NOW, 7, seen)  # key 1 withdrawn
    assert refused.value.reason is Refusal.UNKNOWN_KEY
    other = {1: KEY2.public_key(), 2: KEYS[2]}  # key id 1 now another key: the signature is checked again
    assert seen.get(text, other) is None
    with pytest.raises(CredentialRefused) as refused:
        verify(text, other, NOW, 7, seen)
    assert refused.value.reason is Refusal.BAD_SIGNATURE
    blob = bytearray(base64.b32decode(text[4:] + "=" * (-len(text[4:]) % 8)))
    blob[-1] ^= 0x01
    forged = PREFIX + base64.b32encode(bytes(blob)).decode().rstrip("=")
    for _ in range(2):  # a refused text is never remembered
        with pytest.raises(CredentialRefused) as refused:
            verify(forged, KEYS, NOW, 7, seen)
        assert refused.value.reason is Refusal.BAD_SIGNATURE
    for _ in range(3):  # bounded: the oldest texts are forgotten
        verify(sign(credential(conference=7), KEY1), KEYS, NOW, 7, seen)
    assert seen.get(text, KEYS) is None


def test_signing_keys_are_sealed_at_rest() -> None:
    sealer = Sealer("k" * 40)
    key = new_signing_key(3, sealer, NOW)
    private = key.private(sealer)
    assert private.public_key().public_bytes_raw() == key.public_key
    from attendance.errors import InvalidRecord
    with pytest.raises(InvalidRecord):
        key.private(Sealer("another deployment's data key......."))
    assert private.private_bytes_raw() not in key.sealed_private_key

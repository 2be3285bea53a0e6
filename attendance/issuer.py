"""Issuing, re-issuing, revoking and resolving personal credentials.

The signing keys live in the store, their private halves sealed with the data key. Ed25519 signatures
are deterministic, so a credential's QR text can be rebuilt from its record at any time: nothing
secret is stored per person. Lookups go through an in-memory registry of every credential, loaded
once and refreshed with what changed (so revocations made by other processes arrive within seconds).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from attendance.checkins import IssuedCredential, Refusal
from attendance.credentials import Credential, CredentialRefused, VerifiedTexts, sign, verify
from attendance.errors import NotFound
from attendance.keys import PURPOSE, Sealer, SigningKey, new_signing_key
from attendance.store import LedgerStore

Clock = Callable[[], datetime]
VALIDITY = timedelta(days=5 * 365)


@dataclass(frozen=True)
class Scope:
    """What a credential is good for: one conference during its dates, or (conference 0, only by an explicit
    choice: `any_conference`) any conference for five years."""

    conference_id: int
    valid_from: datetime
    valid_until: datetime

    def fits(self, cred: IssuedCredential) -> bool:
        """Whether a live credential already serves this scope (a conference's: covering all its dates)."""
        if cred.revoked_at is not None or cred.conference_id != self.conference_id:
            return False
        if self.conference_id == 0:
            return cred.valid_until > self.valid_from
        return cred.valid_from <= self.valid_from and cred.valid_until >= self.valid_until


def any_conference(now: datetime) -> Scope:
    """An any-conference credential (a standing card), valid five years: never the default."""
    return Scope(0, now.replace(microsecond=0), now.replace(microsecond=0) + VALIDITY)


@dataclass(frozen=True)
class OfflineBundle:
    """What a kiosk needs to verify credentials by itself while the network is down."""

    public_keys: dict[int, bytes]
    revoked: list[str]
    generated_at: datetime


class Credentials:
    def __init__(self, store: LedgerStore, sealer: Sealer, clock: Clock, refresh_seconds: float = 10.0) -> None:
        self.store = store
        self.sealer = sealer
        self.clock = clock
        self.refresh_seconds = refresh_seconds
        self._lock = asyncio.Lock()
        self._keys: list[SigningKey] = []
        self._public: dict[int, Ed25519PublicKey] = {}
        self._private: dict[int, Ed25519PrivateKey] = {}
        self._registry: dict[str, IssuedCredential] = {}
        self._verified = VerifiedTexts()  # texts whose signature was checked (a repeat is not checked again)
        self._refreshed_at: datetime | None = None
        self._refreshed_mono = -1e9

    # -- the cache ----------------------------------------------------------------------------------
    async def _fresh(self) -> None:
        if time.monotonic() - self._refreshed_mono < self.refresh_seconds:
            return
        async with self._lock:
            if time.monotonic() - self._refreshed_mono < self.refresh_seconds:
                return
            started = self.clock()
            self._set_keys(await self.store.keys())
            for cred in await self.store.credentials_changed_since(self._refreshed_at):
                self._registry[cred.credential_id] = cred
            self._refreshed_at = started - timedelta(seconds=2)  # overlap: no change falls between two reads
            self._refreshed_mono = time.monotonic()

    def _set_keys(self, keys: list[SigningKey]) -> None:
        self._keys = keys
        # the same key object while its key stays (what `VerifiedTexts` remembers a signature by)
        known = {k: (v, v.public_bytes(Encoding.Raw, PublicFormat.Raw)) for k, v in self._public.items()}
        public = {}
        for k in keys:
            if k.withdrawn_at is None:
                kept = known.get(k.key_id)
                public[k.key_id] = kept[0] if kept and kept[1] == k.public_key else k.public()
        self._public = public

    async def _signing_key(self) -> tuple[int, Ed25519PrivateKey]:
        await self._fresh()
        active = next((k for k in self._keys if k.active and k.withdrawn_at is None), None)
        if active is None:
            active = await self.rotate()
        if active.key_id not in self._private:
            self._private[active.key_id] = active.private(self.sealer)
        return active.key_id, self._private[active.key_id]

    # -- keys ---------------------------------------------------------------------------------------
    async def rotate(self) -> SigningKey:
        """A new signing key; credentials signed with the old ones stay valid until it is withdrawn."""
        for _ in range(5):
            used = {k.key_id for k in await self.store.keys()}
            free = [i for i in range(1, 256) if i not in used]
            if not free:
                raise RuntimeError("all 255 key ids are used: withdraw and delete old keys first")
            key = new_signing_key(free[0], self.sealer, self.clock())
            if await self.store.add_key(key):
                self._set_keys(await self.store.keys())
                return key
        raise RuntimeError("could not store a new signing key")

    async def withdraw(self, key_id: int) -> None:
        """Stop accepting a key: every credential it signed is refused from now on (UNKNOWN_KEY); a withdrawn
        current key is followed by a new one at the next issue. NotFound for a key that was never made."""
        if key_id not in {k.key_id for k in await self.store.keys()}:
            raise NotFound(f"no signing key {key_id}")
        await self.store.withdraw_key(key_id, self.clock())
        self._refreshed_mono = -1e9

    async def reseal(self) -> int:
        """Seal every private signing key again with the current data key; how many were sealed with another."""
        return await self.store.reseal_keys(lambda sealed: self.sealer.reseal(PURPOSE, sealed))

    async def keys(self) -> list[SigningKey]:
        """Every signing key, withdrawn ones included, in id order."""
        return await self.store.keys()

    async def public_keys(self) -> dict[int, Ed25519PublicKey]:
        await self._fresh()
        return dict(self._public)

    # -- credentials --------------------------------------------------------------------------------
    async def issue(self, person_id: int, scope: Scope | None = None) -> IssuedCredential:
        """A new credential for the person; their earlier ones (same scope) are revoked: a lost card. No scope
        is any conference (the command line, tests); the product always names one (web/usecases/cards.py)."""
        key_id, _ = await self._signing_key()
        now = self.clock().replace(microsecond=0)
        scope = scope or any_conference(now)
        conference_id = scope.conference_id
        cred = IssuedCredential(os.urandom(8).hex(), person_id, key_id, conference_id, scope.valid_from,
                                scope.valid_until, now)
        await self.store.add_credential(cred, replace_person_credentials=True)
        self._registry[cred.credential_id] = cred
        for other in list(self._registry.values()):
            if other.person_id == person_id and other.conference_id == conference_id and other is not cred \
                    and other.revoked_at is None:
                self._registry[other.credential_id] = IssuedCredential(
                    other.credential_id, other.person_id, other.key_id, other.conference_id, other.valid_from,
                    other.valid_until, other.issued_at, now)
        return cred

    async def current(self, person_ids: list[int], scope: Scope | None = None) -> dict[int, IssuedCredential]:
        """Each person's live credential for `scope` (a conference and its dates; None: any conference, as
        `issue`), issuing one for whoever has none that fits."""
        key_id, _ = await self._signing_key()
        scope = scope or any_conference(self.clock())
        live: dict[int, IssuedCredential] = {}
        for cred in await self.store.credentials_of(person_ids):
            if scope.fits(cred):
                live[cred.person_id] = cred
        missing = [p for p in dict.fromkeys(person_ids) if p not in live]
        now = self.clock().replace(microsecond=0)
        new = [IssuedCredential(os.urandom(8).hex(), p, key_id, scope.conference_id, scope.valid_from,
                                scope.valid_until, now) for p in missing]
        if new:
            await self.store.add_credentials(new)
        for cred in new:
            live[cred.person_id] = cred
            self._registry[cred.credential_id] = cred
        return live

    async def usable(self, person_ids: list[int], conference_id: int) -> list[IssuedCredential]:
        """Every live credential of these people that a scan at the conference accepts: its own and any-conference
        ones (an offline kiosk's roster)."""
        return [c for c in await self.store.credentials_of(person_ids)
                if c.revoked_at is None and c.conference_id in (0, conference_id)]

    async def text(self, cred: IssuedCredential) -> str:
        """The QR text of a credential (rebuilt: Ed25519 signing is deterministic)."""
        await self._fresh()
        key = self._private.get(cred.key_id)
        if key is None:
            stored = next((k for k in self._keys if k.key_id == cred.key_id), None)
            if stored is None:
                raise NotFound(f"signing key {cred.key_id} not found")
            key = self._private[cred.key_id] = stored.private(self.sealer)
        return sign(Credential(cred.key_id, bytes.fromhex(cred.credential_id), cred.conference_id,
                               cred.valid_from, cred.valid_until), key)

    async def revoke(self, credential_id: str) -> None:
        if not await self.store.revoke_credential(credential_id, self.clock()):
            raise NotFound("no live credential with that id")
        self._refreshed_mono = -1e9

    async def resolve(self, text: str, conference_id: int | None) -> IssuedCredential:
        """The live credential a scanned text proves, or CredentialRefused with its reason."""
        await self._fresh()
        cred = verify(text, self._public, self.clock(), conference_id, self._verified)
        issued = self._registry.get(cred.id_hex)
        if issued is None:  # issued by another process since the last refresh
            issued = await self.store.credential(cred.id_hex)
            if issued is None:
                raise CredentialRefused(Refusal.UNKNOWN_PERSON, "this credential was never issued here")
            self._registry[issued.credential_id] = issued
        if issued.revoked_at is not None:
            raise CredentialRefused(Refusal.REVOKED, "this credential has been revoked (a new card was issued)")
        return issued

    async def bundle(self) -> OfflineBundle:
        await self._fresh()
        return OfflineBundle(
            {k: v.public_bytes(Encoding.Raw, PublicFormat.Raw) for k, v in self._public.items()},
            sorted(c.credential_id for c in self._registry.values() if c.revoked_at is not None),
            self.clock(),
        )

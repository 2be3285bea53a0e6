"""The conference documents use cases: upload, list, read, remove, and how often each was opened.

Organisers of the conference (its organising unit in their scope) upload and remove. A public
document opens for anyone with its link or QR; a "sign-in required" one only for signed-in users the
conference concerns. Each opening is counted against the reader's unit (or an anonymous bucket):
who opened what is never stored.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from conference.accounts import Action, User, authorize
from conference.audit import AuditAction, AuditEntry
from conference.blobs import BlobStore
from conference.conferences import Conference
from conference.documents import ANONYMOUS, Document, DocumentAccess, check_upload, new_document
from conference.errors import Forbidden, NotAuthenticated
from conference.halls import Hall
from conference.service import ConferenceService


@dataclass(frozen=True)
class DocumentDraft:
    """What the upload form says about a document; the file itself comes separately."""

    title: str
    number: str = ""
    issuer: str = ""
    issued_on: date | None = None
    category: str = ""
    access: DocumentAccess = DocumentAccess.SIGNED_IN


@dataclass(frozen=True)
class HallDocuments:
    """What the QR poster of a hall opens: the conference's documents the reader may read."""

    conference: Conference
    hall: Hall
    documents: list[Document]
    withheld: int  # sign-in documents not listed for this reader


@dataclass(frozen=True)
class Openings:
    total: int
    by_unit: list[tuple[str, int]]  # the readers' unit name ("" for not signed in) and openings, most first


class DocumentLibrary:
    def __init__(self, conference: ConferenceService, blobs: BlobStore) -> None:
        self.conference = conference
        self.store = conference.store
        self.blobs = blobs

    async def managed(self, actor: User, conference_id: int) -> Conference:
        """The conference, if the actor may manage its documents (Forbidden otherwise)."""
        conf = await self.store.get_conference(conference_id)
        authorize(actor, Action.MANAGE_DOCUMENTS, conf.organiser_unit_id, await self.conference.tree())
        return conf

    async def managed_document(self, actor: User, document_id: int) -> tuple[Document, Conference]:
        """A document and its conference, if the actor may manage the conference's documents."""
        doc = await self.store.get_document(document_id)
        return doc, await self.managed(actor, doc.conference_id)

    async def may_manage(self, actor: User, conference_id: int) -> bool:
        try:
            await self.managed(actor, conference_id)
        except Forbidden:
            return False
        return True

    async def upload(self, actor: User, conference_id: int, draft: DocumentDraft, filename: str,
                     data: bytes) -> Document:
        """Check the file (size, type by content, name), store it under its hash, record the document.

        Raises Forbidden before the file is looked at, UploadRefused or Invalid before anything is stored.
        """
        await self.managed(actor, conference_id)
        kind = check_upload(data, filename)
        now = self.conference.clock()
        unstored = new_document(conference_id, draft.title, draft.number, draft.issuer, draft.issued_on,
                                draft.category, draft.access, "0" * 64, kind, len(data), now, actor.id)
        sha256 = await self.blobs.put_async(data)  # only once the text has passed its checks
        doc = await self.store.add_document(replace(unstored, sha256=sha256))
        await self.store.audit(AuditEntry(now, actor.id, AuditAction.DOCUMENT_CHANGE, f"document:{doc.id}",
                                          f"uploaded to conference {conference_id}: {kind.value}, {len(data)} bytes"))
        return doc

    async def remove(self, actor: User, document_id: int) -> Document:
        doc, _ = await self.managed_document(actor, document_id)
        orphan = await self.store.delete_document(doc.id)
        if orphan is not None:
            await self.blobs.delete_async(orphan)
        await self.store.audit(AuditEntry(self.conference.clock(), actor.id, AuditAction.DOCUMENT_CHANGE,
                                          f"document:{doc.id}", f"removed from conference {doc.conference_id}"))
        return doc

    async def listing(self, actor: User, conference_id: int) -> list[Document]:
        """Every document of a conference that concerns the signed-in actor."""
        await self.conference.conference(actor, conference_id)
        return await self.store.documents_of(conference_id)

    async def readable(self, actor: User | None, document_id: int) -> Document:
        """The document, if the reader may read it: NotAuthenticated (anonymous) or Forbidden otherwise."""
        doc = await self.store.get_document(document_id)
        if doc.public:
            return doc
        if actor is None:
            raise NotAuthenticated("sign in to read this document")
        await self.conference.conference(actor, doc.conference_id)
        return doc

    async def reading(self, actor: User | None, document_id: int) -> tuple[Document, Conference]:
        """The document and its conference, if the reader may read the document (as `readable`)."""
        doc = await self.readable(actor, document_id)
        return doc, await self.store.get_conference(doc.conference_id)

    async def open(self, actor: User | None, document_id: int, count: bool = True) -> tuple[Document, Path]:
        """The document and its file for a reader; `count` adds one opening to the reader's unit."""
        doc = await self.readable(actor, document_id)
        path = await asyncio.to_thread(self.blobs.existing, doc.sha256)
        if count:
            unit = actor.scope_unit_id if actor is not None and actor.scope_unit_id is not None else ANONYMOUS
            await self.store.count_opening(doc.id, unit)
        return doc, path

    async def hall_documents(self, actor: User | None, hall_id: int) -> HallDocuments:
        hall = await self.store.get_hall(hall_id)
        conf = await self.store.get_conference(hall.conference_id)
        docs = await self.store.documents_of(conf.id)
        allowed = False
        if actor is not None:
            try:
                await self.conference.conference(actor, conf.id)
                allowed = True
            except Forbidden:
                allowed = False
        shown = [d for d in docs if allowed or d.public]
        return HallDocuments(conf, hall, shown, len(docs) - len(shown))

    async def openings(self, actor: User, conference_id: int) -> dict[int, Openings]:
        """Openings of each document by the readers' units: for the conference's organisers."""
        await self.managed(actor, conference_id)
        names = {u.id: u.name for u in await self.conference.units()}
        out: dict[int, Openings] = {}
        for doc_id, counts in (await self.store.openings_of(conference_id)).items():
            ranked = sorted(counts.items(), key=lambda item: (-item[1], names.get(item[0], "")))
            named = [("" if unit == ANONYMOUS else names.get(unit, f"#{unit}"), n) for unit, n in ranked]
            out[doc_id] = Openings(sum(counts.values()), named)
        return out

    async def for_participant(self, actor: User) -> list[tuple[Conference, list[Document]]]:
        """The documents of every conference that concerns the actor (the participant's "Tài liệu")."""
        return [(conf, await self.store.documents_of(conf.id)) for conf in await self.conference.conferences(actor)]

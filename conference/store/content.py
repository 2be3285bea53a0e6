"""The conference store, its content part: documents (and how often each was opened), feedback and the
audit log. Rows go in and out as the pure records of this package; nothing here decides a rule."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from conference import tables as t
from conference.audit import AuditAction, AuditEntry
from conference.documents import Document
from conference.errors import Conflict, NotFound
from conference.feedback import Feedback, FeedbackKind, FeedbackState
from conference.store.rows import StoreBase, document_of, feedback_of, insert_id


class ContentStore(StoreBase):
    """Documents, feedback and the audit log: a part of `ConferenceStore`."""

    # -- audit -------------------------------------------------------------------------------------
    async def audit(self, entry: AuditEntry) -> None:
        async with self.engine.begin() as c:
            await c.execute(insert(t.audit_log).values(
                at=entry.at, actor_user_id=entry.actor_user_id, device_id=entry.device_id,
                action=entry.action.value, subject=entry.subject, detail=entry.detail))

    async def audit_entries(self, limit: int = 200) -> list[AuditEntry]:
        async with self.engine.connect() as c:
            rows = await c.execute(select(t.audit_log).order_by(t.audit_log.c.id.desc()).limit(limit))
            return [AuditEntry(r.at, r.actor_user_id, AuditAction(r.action), r.subject, r.detail, r.device_id)
                    for r in rows]

    async def audit_page(
        self, actions: frozenset[AuditAction] | None = None, actor_user_id: int | None = None,
        since: datetime | None = None, until: datetime | None = None, limit: int = 100, offset: int = 0,
    ) -> tuple[list[tuple[int, AuditEntry]], int]:
        """Entries newest first, filtered, with their ids; and how many match in all."""
        cond: list[ColumnElement[bool]] = []
        if actions is not None:
            cond.append(t.audit_log.c.action.in_(sorted(a.value for a in actions)))
        if actor_user_id is not None:
            cond.append(t.audit_log.c.actor_user_id == actor_user_id)
        if since is not None:
            cond.append(t.audit_log.c.at >= since)
        if until is not None:
            cond.append(t.audit_log.c.at < until)
        stmt = select(t.audit_log).where(*cond)
        async with self.engine.connect() as c:
            total = (await c.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
            rows = await c.execute(stmt.order_by(t.audit_log.c.id.desc()).limit(limit).offset(offset))
            return [(r.id, AuditEntry(r.at, r.actor_user_id, AuditAction(r.action), r.subject, r.detail,
                                      r.device_id)) for r in rows], total

    # -- documents ----------------------------------------------------------------------------------
    async def add_document(self, doc: Document) -> Document:
        async with self.engine.begin() as c:
            did = await insert_id(c, insert(t.documents).values(
                conference_id=doc.conference_id, title=doc.title, number=doc.number, issuer=doc.issuer,
                issued_on=doc.issued_on, category=doc.category, access=doc.access.value, sha256=doc.sha256,
                content_type=doc.content_type, size=doc.size, created_at=doc.created_at,
                created_by_user_id=doc.created_by_user_id))
        return await self.get_document(did)

    async def get_document(self, document_id: int) -> Document:
        return document_of(await self.row_by_id(t.documents, document_id, "document"))

    async def documents_of(self, conference_id: int) -> list[Document]:
        async with self.engine.connect() as c:
            rows = await c.execute(select(t.documents).where(t.documents.c.conference_id == conference_id)
                                   .order_by(t.documents.c.id))
            return [document_of(r) for r in rows]

    async def delete_document(self, document_id: int) -> str | None:
        """Remove a document and its counts; returns its file's hash when no other document shares the file."""
        async with self.engine.begin() as c:
            row = (await c.execute(select(t.documents.c.sha256).where(t.documents.c.id == document_id))).first()
            if row is None:
                raise NotFound(f"document {document_id} not found")
            await c.execute(delete(t.document_openings).where(t.document_openings.c.document_id == document_id))
            await c.execute(delete(t.documents).where(t.documents.c.id == document_id))
            others = (await c.execute(select(func.count()).select_from(t.documents)
                                      .where(t.documents.c.sha256 == row.sha256))).scalar_one()
        return None if others else str(row.sha256)

    async def sha_in_use(self, sha256: str) -> bool:
        async with self.engine.connect() as c:
            found = (await c.execute(select(t.documents.c.id).where(t.documents.c.sha256 == sha256).limit(1))).first()
        return found is not None

    async def count_opening(self, document_id: int, unit_id: int) -> None:
        """One more opening of the document by a reader of `unit_id` (0: not signed in)."""
        insert_ = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        stmt = insert_(t.document_openings).values(document_id=document_id, unit_id=unit_id, openings=1)
        stmt = stmt.on_conflict_do_update(index_elements=["document_id", "unit_id"],
                                          set_={"openings": t.document_openings.c.openings + 1})
        async with self.engine.begin() as c:
            await c.execute(stmt)

    async def openings_of(self, conference_id: int) -> dict[int, dict[int, int]]:
        """document id -> reader's unit id (0: not signed in) -> openings."""
        stmt = (select(t.document_openings).join(t.documents)
                .where(t.documents.c.conference_id == conference_id))
        out: dict[int, dict[int, int]] = {}
        async with self.engine.connect() as c:
            for r in await c.execute(stmt):
                out.setdefault(r.document_id, {})[r.unit_id] = r.openings
        return out

    # -- feedback -----------------------------------------------------------------------------------
    async def add_feedback(self, fb: Feedback, receipt_hash: str | None = None) -> Feedback:
        async with self.engine.begin() as c:
            fid = await insert_id(c, insert(t.feedback).values(
                author_person_id=fb.author_person_id, unit_id=fb.unit_id, conference_id=fb.conference_id,
                kind=fb.kind.value, content=fb.content, state=fb.state.value, created_at=fb.created_at,
                answer=fb.answer, answered_at=fb.answered_at, handler_unit_id=fb.handler_unit_id,
                receipt_hash=receipt_hash, answered_by_user_id=fb.answered_by_user_id, updated_at=fb.updated_at))
        return await self.get_feedback(fid)

    async def get_feedback(self, feedback_id: int) -> Feedback:
        return feedback_of(await self.row_by_id(t.feedback, feedback_id, "feedback"))

    async def feedback_by_receipt(self, receipt_hash: str) -> Feedback | None:
        async with self.engine.connect() as c:
            row = (await c.execute(select(t.feedback).where(t.feedback.c.receipt_hash == receipt_hash))).first()
        return feedback_of(row) if row else None

    async def update_feedback(self, before: Feedback, after: Feedback) -> None:
        """Store a move, unless someone else moved the same feedback first (Conflict)."""
        async with self.engine.begin() as c:
            done = await c.execute(update(t.feedback).where(
                t.feedback.c.id == before.id, t.feedback.c.state == before.state.value,
                t.feedback.c.handler_unit_id.is_not_distinct_from(before.handler_unit_id),
            ).values(state=after.state.value, answer=after.answer, answered_at=after.answered_at,
                     handler_unit_id=after.handler_unit_id, answered_by_user_id=after.answered_by_user_id,
                     updated_at=after.updated_at))
        if done.rowcount != 1:
            raise Conflict("this feedback was changed by someone else meanwhile; reload it")

    async def find_feedback(
        self, unit_ids: Iterable[int] | None, conference_id: int | None = None, state: FeedbackState | None = None,
        kind: FeedbackKind | None = None, limit: int = 50, offset: int = 0,
    ) -> tuple[list[Feedback], int]:
        """Feedback from the given units (None: every unit), newest first, and how many match."""
        cond: list[ColumnElement[bool]] = []
        if unit_ids is not None:
            cond.append(t.feedback.c.unit_id.in_(sorted(set(unit_ids))))
        if conference_id is not None:
            cond.append(t.feedback.c.conference_id == conference_id)
        if state is not None:
            cond.append(t.feedback.c.state == state.value)
        if kind is not None:
            cond.append(t.feedback.c.kind == kind.value)
        stmt = select(t.feedback).where(*cond)
        async with self.engine.connect() as c:
            total = (await c.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
            rows = await c.execute(stmt.order_by(t.feedback.c.id.desc()).limit(limit).offset(offset))
            return [feedback_of(r) for r in rows], total

    async def feedback_of_author(self, person_id: int, limit: int = 200) -> list[Feedback]:
        async with self.engine.connect() as c:
            rows = await c.execute(select(t.feedback).where(t.feedback.c.author_person_id == person_id)
                                   .order_by(t.feedback.c.id.desc()).limit(limit))
            return [feedback_of(r) for r in rows]

    async def feedback_counts(self, conference_id: int | None) -> list[tuple[int, FeedbackKind, FeedbackState, int]]:
        """(unit id, kind, state, how many): for the report tables (None: feedback tied to no conference)."""
        cond = (t.feedback.c.conference_id.is_(None) if conference_id is None
                else t.feedback.c.conference_id == conference_id)
        stmt = (select(t.feedback.c.unit_id, t.feedback.c.kind, t.feedback.c.state, func.count().label("n"))
                .where(cond).group_by(t.feedback.c.unit_id, t.feedback.c.kind, t.feedback.c.state))
        async with self.engine.connect() as c:
            return [(r.unit_id, FeedbackKind(r.kind), FeedbackState(r.state), int(r.n)) for r in await c.execute(stmt)]

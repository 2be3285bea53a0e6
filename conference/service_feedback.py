"""The feedback use cases (ý kiến – đề xuất), a part of `ConferenceService`: members send feedback
(signed, or anonymous with a receipt code), organisers whose scope holds the unit list it, move it on
and answer it; names are resolved for the pages, and reading named authors is audited."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from conference.accounts import Action, User, authorize, in_scope, may
from conference.audit import AuditAction, AuditEntry
from conference.errors import Forbidden, Invalid, NotFound
from conference.feedback import (
    RECEIPT_ALPHABET,
    RECEIPT_LENGTH,
    Feedback,
    FeedbackKind,
    FeedbackState,
    escalation_target,
    format_receipt,
    new_feedback,
    normalise_receipt,
    receipt_hash,
)
from conference.service_base import ServiceBase
from conference.units import Unit, UnitTree


@dataclass(frozen=True)
class FeedbackView:
    """Feedback as a page shows it: names resolved, and whether the viewer may move it on."""

    feedback: Feedback
    author_name: str  # "" when anonymous
    unit_name: str
    handler_name: str
    conference_title: str
    may_act: bool


@dataclass(frozen=True)
class FeedbackPage:
    items: list[FeedbackView]
    total: int
    root: Unit | None  # the unit whose subtree is listed (None: every unit, for the administrator)



class FeedbackDesk(ServiceBase):
    """Feedback: a part of `ConferenceService`."""

    async def send_feedback(self, actor: User, kind: FeedbackKind, content: str, conference_id: int | None,
                            anonymous: bool) -> tuple[Feedback, str | None]:
        """Record feedback from a member on the roster, tied to their unit; returns it and, when anonymous,
        the receipt code (shown once) that lets the author read the answer. Anonymous feedback is not
        audited and keeps nothing that links it to its author."""
        authorize(actor, Action.SEND_FEEDBACK, None, await self.tree())
        if actor.person_id is None:
            raise Forbidden("only members on the roster send feedback")
        person = await self.store.get_person(actor.person_id)
        if conference_id is not None:
            await self.conference(actor, conference_id)
        fb = new_feedback(kind, content, person.unit_id, None if anonymous else person.id, conference_id,
                          self.clock(), anonymous)
        if not anonymous:
            return await self.store.add_feedback(fb), None
        raw = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(RECEIPT_LENGTH))
        return await self.store.add_feedback(fb, receipt_hash(raw)), format_receipt(raw)

    async def my_feedback(self, actor: User) -> list[FeedbackView]:
        """The actor's own signed feedback, newest first, with the answers."""
        if actor.person_id is None:
            return []
        return await self._views(actor, await self.store.feedback_of_author(actor.person_id), mine=True)

    async def feedback_by_receipt(self, code: str) -> FeedbackView:
        """Anonymous feedback, for whoever holds its receipt code (NotFound for any other code)."""
        normal = normalise_receipt(code)
        fb = await self.store.feedback_by_receipt(receipt_hash(normal)) if normal else None
        if fb is None:
            raise NotFound("no feedback has this receipt code")
        tree = await self.all_time_tree()
        return FeedbackView(fb, "", self._unit_name(tree, fb.unit_id), self._unit_name(tree, fb.handler), "", False)

    async def feedback_list(
        self, actor: User, unit_id: int | None = None, conference_id: int | None = None,
        state: FeedbackState | None = None, kind: FeedbackKind | None = None, limit: int = 50, offset: int = 0,
    ) -> FeedbackPage:
        """Feedback sent from the subtree of `unit_id` (default: the actor's scope), for its organisers.
        Listing named authors is a view of personal data, and is logged."""
        tree = await self.all_time_tree()
        root_id = unit_id if unit_id is not None else actor.scope_unit_id
        authorize(actor, Action.MANAGE_FEEDBACK, root_id, tree)
        if not 1 <= limit <= 500 or offset < 0:
            raise Invalid("limit is 1 to 500, offset not negative", field="limit")
        root = tree.get(root_id) if root_id is not None else None
        found, total = await self.store.find_feedback(tree.subtree_ids(root.id) if root else None, conference_id,
                                                      state, kind, limit, offset)
        views = await self._views(actor, found)
        named = sum(1 for v in views if v.author_name)
        if named:
            await self.store.audit(AuditEntry(self.clock(), actor.id, AuditAction.VIEW_PEOPLE,
                                              f"unit:{root.id}" if root else "unit:*", f"feedback authors n={named}"))
        return FeedbackPage(views, total, root)

    async def feedback_item(self, actor: User, feedback_id: int) -> FeedbackView:
        """One feedback: for its (signed) author, or for organisers whose scope holds the unit it came from."""
        fb = await self.store.get_feedback(feedback_id)
        if fb.author_person_id is not None and fb.author_person_id == actor.person_id:
            return (await self._views(actor, [fb], mine=True))[0]
        authorize(actor, Action.MANAGE_FEEDBACK, fb.unit_id, await self.all_time_tree())
        view = (await self._views(actor, [fb]))[0]
        if view.author_name:
            await self.store.audit(AuditEntry(self.clock(), actor.id, AuditAction.VIEW_PEOPLE,
                                              f"person:{fb.author_person_id}", f"feedback:{fb.id}"))
        return view

    async def move_feedback(self, actor: User, feedback_id: int, to: FeedbackState, answer: str = "") -> Feedback:
        """Move feedback on (and answer it): organisers whose scope holds the unit now handling it."""
        fb = await self.store.get_feedback(feedback_id)
        tree = await self.all_time_tree()
        authorize(actor, Action.MANAGE_FEEDBACK, fb.handler, tree)
        target = escalation_target(fb.handler, actor.scope_unit_id, tree) if to is FeedbackState.ESCALATED else None
        moved = fb.move(to, self.clock(), answer, actor.id, target)
        await self.store.update_feedback(fb, moved)
        await self.store.audit(AuditEntry(self.clock(), actor.id, AuditAction.FEEDBACK_CHANGE, f"feedback:{fb.id}",
                                          f"{fb.state} -> {moved.state}"
                                          + (f", to unit {target}" if target is not None else "")))
        return moved

    async def _views(self, actor: User, items: list[Feedback], mine: bool = False) -> list[FeedbackView]:
        tree = await self.all_time_tree()
        people = await self.store.persons_by_ids(f.author_person_id for f in items if f.author_person_id)
        titles: dict[int, str] = {}
        for conf_id in {f.conference_id for f in items if f.conference_id is not None}:
            try:
                titles[conf_id] = (await self.store.get_conference(conf_id)).title
            except NotFound:
                titles[conf_id] = ""
        out = []
        for f in items:
            author = people.get(f.author_person_id) if f.author_person_id else None
            act = not mine and may(actor, Action.MANAGE_FEEDBACK) and in_scope(actor, f.handler, tree)
            out.append(FeedbackView(f, author.full_name if author else "", self._unit_name(tree, f.unit_id),
                                    self._unit_name(tree, f.handler),
                                    titles.get(f.conference_id, "") if f.conference_id else "", act))
        return out

    @staticmethod
    def _unit_name(tree: UnitTree, unit_id: int) -> str:
        return tree.get(unit_id).name if unit_id in tree else ""

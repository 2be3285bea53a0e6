"""The conference store: SQLAlchemy Core over an async engine (SQLite or PostgreSQL), the only place the
conference records are read and written. Rows go in and out as the pure records of this package; nothing
here decides a rule. One class, `ConferenceStore`, built once in the lifespan, made of three parts:

    people.py       the unit tree, persons, roster imports, user accounts
    conferences.py  conferences, sessions, halls, invitations (and each hall's expected count)
    content.py      documents and their openings, feedback, the audit log
    rows.py         the shared base and the row <-> record conversions
"""

from __future__ import annotations

from conference.store.conferences import ConferenceRecords
from conference.store.content import ContentStore
from conference.store.people import ImportCounts, PeopleStore

__all__ = ["ConferenceStore", "ImportCounts"]


class ConferenceStore(PeopleStore, ConferenceRecords, ContentStore):
    """Every read and write of the conference records. One instance per process, built in the lifespan."""

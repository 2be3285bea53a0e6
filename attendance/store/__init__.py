"""The attendance store: SQLAlchemy Core over an async engine (SQLite or PostgreSQL), the only place the
attendance records are read and written, in three parts, one class each:

    devices.py  `AttendanceStore`: kiosk devices and their enrolment codes
    ledger.py   `LedgerStore`: signing keys, credentials, check-ins, scan events (group commit), headcounts,
                watch time
    faces.py    `FaceStore`: consents and face templates
"""

from __future__ import annotations

from attendance.store.devices import AttendanceStore
from attendance.store.faces import FaceStore
from attendance.store.ledger import BatchResult, LedgerStore, LedgerWrite

__all__ = ["AttendanceStore", "BatchResult", "FaceStore", "LedgerStore", "LedgerWrite"]

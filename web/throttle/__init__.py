"""The throttle on guessed secrets (passwords, kiosk enrolment codes, feedback receipts): the rule in
`rule.py` (pure), the counters in `backends.py` (in-process, or Redis shared by every hub)."""

"""Use cases: one function per thing a user does, shared by the JSON API, the pages and the live hub. They
check who may do it, load, apply the cores' rules, write and audit. No Starlette here."""

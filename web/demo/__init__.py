"""The demo province: a fictional provincial Party organisation and its study conference, seeded once.

`province` generates it (pure: units, members, halls, sessions), from the data in `places` and `names`;
`accounts` plans the demo accounts and the banner; `seeding` writes it all into an empty database.
"""

"""The demo province: a fictional provincial Party organisation and its study conference, seeded once."""

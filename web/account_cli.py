"""Accounts from the command line, the machine's operator acting (audited with no actor):

- `hoinghi user add USERNAME --role ROLE [--unit CODE] [--person CODE]`: a new account;
- `hoinghi accounts deactivate|activate USERNAME`, `hoinghi accounts role USERNAME ROLE [--unit CODE]`:
  administering one (conference/service_accounts.py). Every session of the account ends, and its live
  sockets and media on every hub (over the bus when Redis is configured; otherwise each hub's next
  re-read of its connections, within seconds)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from conference.accounts import Role
from web.settings import load


def read_password(from_stdin: bool) -> str:
    from web.cli import fail

    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        fail("the passwords differ")
    return first


def cmd_user_add(args: argparse.Namespace) -> None:
    from web.bootstrap import build
    from web.cli import fail, run

    settings = load(os.environ, args.config)
    role = Role(args.role)
    password = read_password(args.password_stdin)

    async def add() -> None:
        async with build(settings) as services:
            svc = services.conference
            by_code = {u.code: u.id for u in await svc.units()}
            if args.unit is not None and args.unit not in by_code:
                fail(f"no unit with code {args.unit}")
            person_id = None
            if args.person is not None:
                person = (await svc.store.persons_by_code()).get(args.person)
                if person is None:
                    fail(f"no person with code {args.person}")
                person_id = person.id
            user = await svc.create_user(None, args.username, args.name or args.username, role, password,
                                         by_code.get(args.unit) if args.unit else None, person_id)
        print(f"hoinghi: user {user.username} ({user.role}) created")

    run(add)


def command(args: argparse.Namespace) -> None:
    from web.bootstrap import build
    from web.cli import fail, run

    settings = load(os.environ, args.config)

    async def administer() -> None:
        async with build(settings) as services:
            svc = services.conference
            target = await svc.user_named(args.username)
            if args.accounts_command == "role":
                role = Role(args.role)
                by_code = {u.code: u.id for u in await svc.units()}
                if role is not Role.ADMIN and args.unit not in by_code:
                    fail(f"--unit: no unit with code {args.unit}" if args.unit else "--unit is needed for that role")
                user = await svc.set_role(None, target.id, role, by_code.get(args.unit) if args.unit else None)
                print(f"hoinghi: {user.username} is now {user.role}; every session of it ended")
            else:
                user = await svc.set_active(None, target.id, args.accounts_command == "activate")
                state = "active" if user.active else "deactivated; every session of it ended"
                print(f"hoinghi: {user.username} {state}")

    run(administer)


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    userp = sub.add_parser("user", help="accounts")
    usersub = userp.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = usersub.add_parser("add", help="create an account (password read from the terminal or stdin)")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--unit", help="code of the unit whose subtree the account acts in (all roles but admin)")
    add.add_argument("--person", help="roster code of the participant's own person record")
    add.add_argument("--name", help="display name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(func=cmd_user_add)

    accounts = sub.add_parser("accounts", help="administer an account: deactivate, activate, change its role")
    accsub = accounts.add_subparsers(dest="accounts_command", required=True, metavar="ACTION")
    for action, text in (("deactivate", "the account can no longer sign in; its sessions end everywhere"),
                         ("activate", "the account may sign in again")):
        parser = accsub.add_parser(action, help=text)
        parser.add_argument("username")
        parser.set_defaults(func=command)
    role = accsub.add_parser("role", help="another role or unit scope; the account's sessions end everywhere")
    role.add_argument("username")
    role.add_argument("role", choices=[r.value for r in Role])
    role.add_argument("--unit", help="code of the unit whose subtree the account acts in (all roles but admin)")
    role.set_defaults(func=command)

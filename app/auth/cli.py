"""`python -m app users ...` and `python -m app keys ...`: accounts from the command line.

They run against DATABASE_URL or, when it is unset, the embedded database in DATA_DIR (while
`serve` is not running), applying pending migrations first.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from app.auth import passwords, tokens
from app.config import Settings
from app.db import users as user_sql
from app.errors import AppError


def add_commands(commands: Any) -> None:
    users = commands.add_parser("users", help="create and list user accounts")
    user_commands = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = user_commands.add_parser("create", help="create a user (asks for a password)")
    create.add_argument("email")
    create.add_argument("--role", choices=user_sql.ROLES, default="reader")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    user_commands.add_parser("list", help="list users")
    user_commands.add_parser(
        "setup-token", help="print a new one-time token for /setup (a site with no users)"
    )
    keys = commands.add_parser("keys", help="create and revoke API keys")
    key_commands = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    key_create = key_commands.add_parser("create", help="create an API key for a user")
    key_create.add_argument("email")
    key_create.add_argument("--name", default="cli")
    key_create.add_argument(
        "--scope", action="append", choices=("keys",), default=[], help="keys: may make keys"
    )
    revoke = key_commands.add_parser("revoke", help="revoke an API key by its prefix")
    revoke.add_argument("prefix")


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Again: "):
        raise AppError("the two passwords differ")
    return first


async def _create_user(conn: asyncpg.Connection, args: argparse.Namespace) -> int:
    password = passwords.check_new(_password(args))
    await user_sql.create_user(conn, args.email, passwords.hash_password(password), args.role)
    print(f"created {args.role} {args.email}")
    return 0


async def _list_users(conn: asyncpg.Connection, args: argparse.Namespace) -> int:
    for row in await user_sql.list_users(conn):
        print(f"{row['email']}\t{row['role']}\t{row['created_at']:%Y-%m-%d}")
    return 0


async def _create_key(conn: asyncpg.Connection, args: argparse.Namespace) -> int:
    user = await user_sql.by_email(conn, args.email)
    if user is None:
        raise AppError(f"there is no user {args.email!r}")
    key, prefix = tokens.new_api_key()
    await user_sql.create_key(
        conn, user["id"], args.name, prefix, tokens.digest(key), scopes=tuple(args.scope)
    )
    print(f"API key {prefix} for {user['email']} (shown once; store it now):")
    print(key)
    return 0


async def _revoke_key(conn: asyncpg.Connection, args: argparse.Namespace) -> int:
    if not await user_sql.revoke_key(conn, args.prefix):
        raise AppError(f"there is no key with prefix {args.prefix!r}")
    print(f"revoked {args.prefix}")
    return 0


async def _setup_token(conn: asyncpg.Connection, args: argparse.Namespace) -> int:
    from app.auth.setup import new_setup_token

    token = await new_setup_token(conn, replace=True)
    if token is None:
        raise AppError("this site has users already: sign in, or ask an admin for an invitation")
    print("one-time setup token (give it on /setup):")
    print(token)
    return 0


ACTIONS: dict[tuple[str, str], Callable[[asyncpg.Connection, argparse.Namespace], Awaitable[int]]]
ACTIONS = {
    ("users", "create"): _create_user,
    ("users", "list"): _list_users,
    ("users", "setup-token"): _setup_token,
    ("keys", "create"): _create_key,
    ("keys", "revoke"): _revoke_key,
}


async def run(settings: Settings, args: argparse.Namespace) -> int:
    from app.db.embedded import stop_embedded
    from app.resources import database_url, run_migrations

    dsn, server = database_url(settings)
    try:
        await run_migrations(dsn)
        conn = await asyncpg.connect(dsn)
        try:
            return await ACTIONS[args.command, args.action](conn, args)
        finally:
            await conn.close()
    except AppError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            stop_embedded(server)

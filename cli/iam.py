"""`python -m ml iam [ACCOUNT]`: who may do what, from the one table the stacks grant (infra/grants.py)."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from cli.app import Report
from infra.grants import ACCOUNTS, grants
from ml.context import Context


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("account", nargs="?", choices=sorted(ACCOUNTS), help="one account only")


def iam(args: argparse.Namespace, context: Context) -> Report:
    env = context.env
    names = [args.account] if args.account else list(ACCOUNTS)
    table = grants(env)
    accounts, lines = {}, []
    for name in names:
        mine = [g for g in table if g.account == name]
        email = env.service_account_email(name)
        accounts[name] = {
            "email": email,
            "purpose": ACCOUNTS[name],
            "grants": [
                {"role": g.role, "on": g.on, "why": g.why, "condition": asdict(g.condition) if g.condition else None}
                for g in mine
            ],
        }
        lines.append(f"{name} ({email}): {ACCOUNTS[name]}")
        width = max((len(g.role) for g in mine), default=0)
        lines += [
            f"  {g.role:<{width}}  on {g.on:<22}  {g.why}" + (f" (only {g.condition.title})" if g.condition else "")
            for g in mine
        ]
    return Report({"env": env.name, "project": env.project, "accounts": accounts}, lines)

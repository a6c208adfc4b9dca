"""`rez-guard trust`: list, show, forget and deny remembered decisions."""

from __future__ import annotations

import json
import os
from typing import Any

import click

from guard.paths import GuardPaths
from guard.trust import TrustEntry, TrustState, TrustStore

KEY_WIDTH = 16


def _store() -> TrustStore:
    return TrustStore(GuardPaths.from_environ(os.environ).trust_store)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


@click.group("trust")
def trust_group() -> None:
    """Manage remembered approvals and denials (a KEY may be any unique prefix)."""


@trust_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the entries as a JSON list.")
def list_command(as_json: bool) -> None:
    """List every trust entry, oldest first."""
    entries = _store().entries()
    if as_json:
        _echo_json([entry.to_dict() for entry in entries])
        return
    if not entries:
        click.echo("no trust entries", err=True)
        return
    click.echo(f"{'KEY':<{KEY_WIDTH}}  {'STATE':<7}  {'CREATED':<25}  CONTEXT")
    for entry in entries:
        click.echo(f"{entry.key[:KEY_WIDTH]:<{KEY_WIDTH}}  {entry.state:<7}  {entry.created:<25}  {_describe(entry)}")


@trust_group.command("show")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print the entry as a JSON object.")
def show_command(key: str, as_json: bool) -> None:
    """Show the entry whose key is KEY or starts with KEY."""
    entry = _store().find(key)
    if as_json:
        _echo_json(entry.to_dict())
        return
    click.echo(f"key:         {entry.key}")
    click.echo(f"state:       {entry.state}")
    click.echo(f"identity:    {entry.identity}")
    click.echo(f"fingerprint: {entry.fingerprint or '-'}")
    click.echo(f"created:     {entry.created}")
    click.echo("summary:")
    for line in json.dumps(dict(entry.summary), indent=2, sort_keys=True).splitlines():
        click.echo(f"  {line}")


@trust_group.command("forget")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print the forgotten entry as a JSON object.")
def forget_command(key: str, as_json: bool) -> None:
    """Forget the entry KEY: the plan or context is asked about again at its next launch."""
    store = _store()
    entry = store.find(key)
    store.forget(entry.key)
    if as_json:
        _echo_json({"forgotten": entry.to_dict()})
        return
    click.echo(f"forgot {entry.state} entry {entry.key} ({_describe(entry)})")


@trust_group.command("deny")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print the deny record as a JSON object.")
def deny_command(key: str, as_json: bool) -> None:
    """Deny the context of entry KEY: its launches are denied without asking until forgotten."""
    store = _store()
    entry = store.find(key)
    if entry.state is not TrustState.DENIED:
        store.deny(entry.identity, entry.summary)
    record = store.find(entry.identity)
    if as_json:
        _echo_json({"denied": record.to_dict()})
        return
    click.echo(f"denied context {record.identity} ({_describe(record)})")


def _describe(entry: TrustEntry) -> str:
    summary = entry.summary
    request = " ".join(str(item) for item in summary.get("request", ())) or "?"
    shell = summary.get("shell")
    return f"{request} ({shell})" if shell else request

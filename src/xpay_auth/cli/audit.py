"""``xpay-auth audit search``: the audit trail from the operator's shell."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from xpay_auth.cli.common import with_runtime
from xpay_auth.runtime import Runtime
from xpay_auth.services import audit

MAX_LIMIT = 10_000


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def _line(entry: audit.AuditEntry) -> str:
    cells = [
        _time(entry.at_ms),
        entry.event,
        entry.outcome,
        entry.username or "-",
        entry.account_id or "-",
        entry.key_id or "-",
        entry.client_ip or "-",
        entry.request_uuid or "-",
        entry.error_tag or "-",
        json.dumps(entry.detail, separators=(",", ":")) if entry.detail else "-",
    ]
    return "\t".join(cells)


@click.group("audit")
def audit_group() -> None:
    """Read the audit trail."""


@audit_group.command("search")
@click.option("--username", default=None, help="Events of this username (as typed, any case).")
@click.option("--event", default=None, help="Events of this name, such as login.failed.")
@click.option("--outcome", default=None, help="Events with this outcome, such as ok or refused.")
@click.option("--key-id", default=None, help="Events naming this API key id.")
@click.option("--request-uuid", default=None, help="Events of the request with this uuid.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, MAX_LIMIT))
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object per event, one a line."
)
def search(  # noqa: PLR0917  click passes one argument per option
    username: str | None,
    event: str | None,
    outcome: str | None,
    key_id: str | None,
    request_uuid: str | None,
    limit: int,
    as_json: bool,  # noqa: FBT001  a click flag
) -> None:
    """Print matching audit events, newest first."""
    query = audit.AuditQuery(
        event=event, outcome=outcome, username=username, key_id=key_id, request_uuid=request_uuid
    )

    async def action(runtime: Runtime) -> None:
        entries, total = await audit.search(runtime.database.audit, query, limit=limit)
        for entry in entries:
            click.echo(
                json.dumps(entry.to_json(), separators=(",", ":")) if as_json else _line(entry)
            )
        if not as_json and total > len(entries):
            click.echo(f"({len(entries)} of {total} shown; raise --limit for more)", err=True)

    with_runtime(action)

"""Small things every router needs: the caller's change context, If-Match parsing, paging."""

from __future__ import annotations

from fieldtech.server.auth import Caller
from fieldtech.server.journal import Context
from fieldtech.server.problems import Problem, ProblemType
from fieldtech.server.state import ServerState

MAX_REVISION = 2**31  # revisions fit a 32-bit column; larger numbers are simply stale


def context(state: ServerState, caller: Caller) -> Context:
    assert caller.account_id is not None  # guaranteed by current_staff / customer checks
    return Context(account_id=caller.account_id, actor=caller.email, now=state.clock())


def parse_if_match(value: str | None, *, required: bool) -> int | None:
    """`If-Match: "7"` (or 7, or W/"7") as 7."""
    if value is None or not value.strip():
        if required:
            raise Problem(
                ProblemType.IF_MATCH_REQUIRED,
                "Send If-Match with the ETag you read, so a newer change is never overwritten.",
            )
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or int(text) > MAX_REVISION:
        raise Problem(
            ProblemType.VALIDATION,
            'If-Match must be the ETag from a read, e.g. "3".',
            errors=[{"field": "If-Match", "message": "Not an ETag this server gave out."}],
        )
    return int(text)

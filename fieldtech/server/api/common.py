"""Small things every router needs: the caller's change context, If-Match parsing, paging."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Header

from fieldtech.server.auth import Caller
from fieldtech.server.journal import Context
from fieldtech.server.problems import Problem, ProblemType
from fieldtech.server.state import ServerState

# ASCII digits only, and few enough that int() is cheap and safe: "²" is a digit to
# str.isdigit() but not to int(), and 4,301 digits make int() raise.
# Nine digits: revisions never get near 10^9, and the spec's pattern can say nine digits where
# it cannot say "at most 2^31 - 1".
ETAG_PATTERN = r'(?:W/)?"?([0-9]{1,9})"?'
_ETAG_RE = re.compile(ETAG_PATTERN, re.ASCII)


def _etag_header_schema(schema: dict[str, object]) -> None:
    # a header is a string or absent, never null; the pattern is what parse_if_match reads
    schema.pop("anyOf", None)
    schema.update(type="string", pattern=f"^({ETAG_PATTERN})?$")  # empty: as if not sent


IfMatch = Annotated[
    str | None,
    Header(description='The ETag you read, e.g. "3"', json_schema_extra=_etag_header_schema),
]


def context(state: ServerState, caller: Caller) -> Context:
    assert caller.account_id is not None  # guaranteed by current_staff / customer checks
    return Context(account_id=caller.account_id, actor=caller.email, now=state.clock(),
                   permissions=permissions(caller))


def permissions(caller: Caller) -> frozenset[str]:
    """The caller's permissions beyond the fleet (a document kind's `permission`)."""
    return frozenset({"billing"}) if caller.may_bill else frozenset()


def parse_if_match(value: str | None, *, required: bool) -> int | None:
    """`If-Match: "7"` (or 7, or W/"7") as 7."""
    if value is None or not value.strip():
        if required:
            raise Problem(
                ProblemType.IF_MATCH_REQUIRED,
                "Send If-Match with the ETag you read, so a newer change is never overwritten.",
            )
        return None
    found = _ETAG_RE.fullmatch(value.strip())
    if found is None:
        raise Problem(
            ProblemType.VALIDATION,
            'If-Match must be the ETag from a read, e.g. "3".',
            errors=[{"field": "If-Match", "message": "Not an ETag this server gave out."}],
        )
    return int(found.group(1))

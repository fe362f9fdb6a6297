"""Every error the cloud API answers with: RFC 9457 problem types, defined here and only here.

A client tells errors apart by `type` (stable URIs, listed in docs/server.md), never by the
human-readable `title`/`detail`, which may be reworded.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

PROBLEM_BASE = "https://fieldtech.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True)
class _Kind:
    slug: str
    status: int
    title: str


class ProblemType(Enum):
    """A kind of error: its stable type URI, HTTP status and short title."""

    VALIDATION = _Kind("validation", 422, "Some fields are not valid")
    BAD_REQUEST = _Kind("bad-request", 400, "The request could not be read")
    NOT_FOUND = _Kind("not-found", 404, "Not found")
    UNAUTHORIZED = _Kind("unauthorized", 401, "Sign in first")
    BAD_CREDENTIALS = _Kind("bad-credentials", 401, "Wrong e-mail or password")
    FORBIDDEN = _Kind("forbidden", 403, "Not allowed")
    METHOD_NOT_ALLOWED = _Kind("method-not-allowed", 405, "Method not allowed")
    QUOTA_EXCEEDED = _Kind("quota-exceeded", 409, "Plan limit reached")
    DOWNGRADE_BELOW_USAGE = _Kind(
        "downgrade-below-usage", 409, "The account uses more than that tier allows"
    )
    ALREADY_EXISTS = _Kind("already-exists", 409, "That id is already taken")
    SERIAL_TAKEN = _Kind("serial-taken", 409, "That serial number is already registered")
    CUSTOMER_HAS_CONTROLLERS = _Kind(
        "customer-has-controllers", 409, "The customer still has controllers"
    )
    CUSTOMER_HAS_RECORDS = _Kind(
        "customer-has-records", 409, "The customer still has agreements or other records"
    )
    DOCUMENT_IN_USE = _Kind("document-in-use", 409, "Other records still use it")
    CONTRACTS_INCONSISTENT = _Kind(
        "contracts-inconsistent", 409, "The contract records cannot be billed as they are"
    )
    LAST_OWNER = _Kind("last-owner", 409, "An account keeps at least one owner")
    ALREADY_ENTHUSIAST = _Kind("already-enthusiast", 409, "The customer is already on Enthusiast")
    PLAN_CODE_MALFORMED = _Kind("plan-code-malformed", 422, "That is not a plan code")
    PLAN_CODE_UNKNOWN = _Kind("plan-code-unknown", 422, "Unknown plan code")
    PLAN_CODE_USED = _Kind("plan-code-used", 409, "Plan code already used")
    PAIRING_CODE_INVALID = _Kind("pairing-code-invalid", 422, "Pairing code not valid")
    SERIAL_MISMATCH = _Kind("serial-mismatch", 409, "This is not the controller of that record")
    IDEMPOTENCY_KEY_REUSED = _Kind("idempotency-key-reused", 422, "Idempotency key reused")
    STALE_REVISION = _Kind("stale-revision", 412, "Changed on the server since you read it")
    IF_MATCH_REQUIRED = _Kind("if-match-required", 428, "If-Match is required")
    RATE_LIMITED = _Kind("rate-limited", 429, "Too many requests")
    TIMEOUT = _Kind("timeout", 408, "The request took too long to arrive")
    TOO_LARGE = _Kind("too-large", 413, "The request body is too large")
    HEADERS_TOO_LARGE = _Kind("headers-too-large", 431, "The request headers are too large")
    UNSUPPORTED_ENCODING = _Kind(
        "unsupported-encoding", 415, "The request body is in a coding the server does not take"
    )
    INTERNAL_ERROR = _Kind("internal-error", 500, "Something went wrong on the server")
    STORE_FAILED = _Kind("store-failed", 503, "The database could not apply this change")
    CONTROLLER_OFFLINE = _Kind("controller-offline", 409, "The controller is offline")
    NOT_PAIRED = _Kind("not-paired", 409, "The controller is not paired with the cloud")

    @property
    def uri(self) -> str:
        return PROBLEM_BASE + self.value.slug

    @property
    def status(self) -> int:
        return self.value.status


class Problem(Exception):
    """Raise anywhere in the server to answer with a problem+json body.

    `extra` members go into the body as they are (RFC 9457 extension members: `limit`, `used`,
    `plan`, `fix`, `errors`, `current` …); `headers` go on the response (ETag, Retry-After).
    """

    def __init__(
        self,
        kind: ProblemType,
        detail: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ):
        super().__init__(detail)
        self.kind, self.detail, self.headers, self.extra = kind, detail, headers or {}, extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.kind.uri,
            "title": self.kind.value.title,
            "status": self.kind.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


def not_found(what: str) -> Problem:
    # The same answer whether the record is missing or belongs to another account.
    return Problem(ProblemType.NOT_FOUND, f"No {what} with that id in your account.")


def not_storable() -> Problem:
    """422 for a value the database refused to hold that validation let through."""
    return Problem(
        ProblemType.VALIDATION,
        "A value could not be stored (too long, or with characters text cannot hold).",
        errors=[{"field": "", "message": "Value not storable."}],
    )


def validation(errors: list[tuple[str, str]]) -> Problem:
    """422 listing every bad field as {field, message}."""
    first = f"{errors[0][0]}: {errors[0][1]}" if errors else "invalid request"
    return Problem(
        ProblemType.VALIDATION,
        first if len(errors) == 1 else f"{first} (and {len(errors) - 1} more)",
        errors=[{"field": f, "message": m} for f, m in errors],
    )

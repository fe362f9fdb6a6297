"""Error types a user can meet in the domain: one place, imported everywhere else."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One problem with one field, written for a technician.

    `field` is a dotted path into the record ("name", "zones.3.run_minutes",
    "programs.0.start_times") so a form can show the message next to the right input.
    """

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class FieldtechError(Exception):
    """Base of every error fieldtech raises on purpose."""


class ValidationError(FieldtechError, ValueError):
    """A record is not valid; `errors` says which fields and why."""

    def __init__(self, errors: list[FieldError]):
        self.errors = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors) or "invalid")


class QuotaExceeded(FieldtechError):
    """The contractor plan's limit would be passed."""

    def __init__(self, what: str, used: int, limit: int, plan: str, fix: str):
        self.what, self.used, self.limit, self.plan, self.fix = what, used, limit, plan, fix
        super().__init__(f"{what}: {used} of {limit} used on {plan}. {fix}")


class NotFound(FieldtechError, LookupError):
    """A record the caller named does not exist (or is not theirs to see)."""

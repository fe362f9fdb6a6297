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


class StillNeeded(FieldtechError):
    """A change would leave other records pointing at nothing (a new customer whose new
    controllers still wait to be sent); the message says what to do first."""


# -- the cloud (raised by fieldtech.cloud, shown by the CLI and the TUI) --------------------------


class CloudUnavailable(FieldtechError):
    """The cloud could not be reached (network, timeouts, 5xx) even after retrying.

    `reason` says what happened; the message adds that queued edits are safe."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(f"{reason} Your edits stay queued and will be sent later.")


class NotACloud(CloudUnavailable, ValueError):
    """Something answered at the cloud's address, but not as a fieldtech cloud: a network's
    sign-in page (a captive portal answering HTML with 200, or redirecting), or the wrong
    address. Nothing queued is lost; a ValueError too, as an unreadable answer always was."""

    def __init__(self, url: str, what: str):
        self.url = url
        super().__init__(f"The server at {url} did not answer as a fieldtech cloud: {what}. "
                         "A network sign-in page (hotel or café Wi-Fi), or the wrong address?")


class NotSignedIn(FieldtechError):
    """No token, or the cloud no longer accepts it (401): log in again."""


class WrongAccount(FieldtechError):
    """The cloud signed in to is another account than the one this store's records came from:
    syncing would send one contractor's edits into another's account (and mix the two here)."""

    def __init__(self, ours: str, theirs: str):
        super().__init__(
            f"This computer's records belong to the account {ours}, but you are signed in to "
            f"{theirs}. Nothing was sent or received, and every edit stays queued. Sign in to "
            f"{ours} again (L), or keep {theirs} in its own folder: "
            "`fieldtech --data-dir DIR`.")


class CloudProblem(FieldtechError):
    """The cloud refused a request: an RFC 9457 problem, told apart by its stable `slug`."""

    def __init__(self, status: int, body: dict | None):
        self.status = status
        self.body = body or {}
        kind = str(self.body.get("type", ""))
        self.slug = kind.rsplit("/", 1)[-1] if kind else f"http-{status}"
        detail = self.body.get("detail") or self.body.get("title") or f"HTTP {status}"
        fix = self.body.get("fix")
        super().__init__(f"{detail} {fix}" if fix else str(detail))

    @property
    def field_errors(self) -> list[FieldError]:
        return [FieldError(str(e.get("field", "")), str(e.get("message", "")))
                for e in self.body.get("errors") or [] if isinstance(e, dict)]

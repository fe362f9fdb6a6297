"""The cloud API over HTTP (httpx): one small client, with the retry rules in one place.

Retries: network errors, timeouts, 429 and 5xx are retried with exponential backoff and full
jitter, honouring `Retry-After`. That is safe for every call the sync engine makes: reads are
reads, and each mutation in a batch carries its idempotency key, so the server applies it at
most once however often it arrives. Any other error is a `CloudProblem` (RFC 9457 body kept),
a 401 is `NotSignedIn`, and running out of retries is `CloudUnavailable`. An answer that is not
the cloud's JSON (a captive portal's page, a redirect) is `NotACloud`, at once: retrying
will not make a sign-in page go away.

The token is sent in a header and never logged; `repr(CloudAPI)` does not show it.
"""

from __future__ import annotations

import email.utils
import gzip
import json
import math
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from fieldtech.domain.errors import CloudProblem, CloudUnavailable, NotACloud, NotSignedIn

BATCH_LIMIT = 200  # items per POST /v1/sync/batch, the server's cap
BATCH_BYTES = 4_000_000  # under the server's 4 MiB cap on a batch body (413 above it)
PAGE_LIMIT = 500  # changes per GET /v1/changes, the server's cap
MAX_WAIT = 30  # seconds a long-poll of GET /v1/changes may wait, the server's cap
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
GZIP_BODY_BYTES = 16_000  # batches larger than this go gzipped, once the cloud says it takes them


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying before telling the user the cloud is unreachable."""

    attempts: int = 6
    base_s: float = 0.5
    cap_s: float = 30.0
    # A refused connection (or no route, or a name that does not resolve) answers at once
    # and says nothing listens there: the cloud is down or the address is wrong. One quick
    # second try catches a restart; more would only delay the message (cron waited 8.5 s),
    # and the next sync tries again anyway. Timeouts, drops, 429 and 5xx keep `attempts`.
    connect_attempts: int = 2

    def delay(self, attempt: int, retry_after: float | None) -> float:
        # Full jitter: many clients coming back after an outage don't all hit the server at
        # the same instant. Retry-After is a floor the server asked for.
        backoff = random.uniform(0, min(self.cap_s, self.base_s * 2**attempt))
        return max(backoff, retry_after or 0.0)


# In the app a person watches the header: say "offline" after a few seconds, not minutes (the
# next periodic sync tries again anyway). Cron's `fieldtech sync` keeps the patient default.
APP_RETRY = RetryPolicy(attempts=4, base_s=0.5, cap_s=4.0)


class CloudAPI:
    """A signed-in (or not yet) connection to one cloud account."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 15.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        compress: bool = True,
    ):
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        # gzip both ways (server/compression.py): answers when we ask for them, request bodies
        # once an answer said the cloud takes them (RFC 7694). compress=False: plain bytes.
        self.compress = compress
        self.gzip_bodies = False
        headers = {"User-Agent": "fieldtech", "Accept": "application/json",
                   "Accept-Encoding": "gzip" if compress else "identity"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )
        self.bytes_sent = 0  # request lines, headers and bodies: the idle-sync budget
        self.bytes_received = 0
        self.requests = 0

    def __repr__(self) -> str:
        return f"CloudAPI({self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CloudAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the calls ----------------------------------------------------------------------------

    def login(self, email: str, password: str, token_name: str = "fieldtech") -> dict[str, Any]:
        """→ {token, token_id, user}. Wrong e-mail or password is a CloudProblem."""
        body = {"email": email, "password": password, "token_name": token_name}
        return self._call("POST", "/v1/auth/login", json=body, auth_401_is_problem=True)

    def me(self) -> dict[str, Any]:
        return self._call("GET", "/v1/me")

    def revoke_current_token(self) -> None:
        for t in self._call("GET", "/v1/auth/tokens")["tokens"]:
            if t.get("current"):
                self._call("DELETE", f"/v1/auth/tokens/{t['id']}")

    def account(self) -> dict[str, Any]:
        return self._call("GET", "/v1/account")

    def changes(self, cursor: int, limit: int = PAGE_LIMIT, wait: float = 0) -> dict[str, Any]:
        """One page of the change log after `cursor`: {cursor, more, changes}. With `wait`
        (seconds, at most MAX_WAIT) a long-poll: the cloud answers when a change comes."""
        params: dict[str, Any] = {"cursor": cursor, "limit": limit}
        extra: dict[str, Any] = {}
        if wait > 0:
            params["wait"] = min(wait, MAX_WAIT)
            # the answer may take the whole wait; the usual timeout counts after it
            read = self._http.timeout.read
            extra["timeout"] = None if read is None else read + params["wait"]
        page = self._call("GET", "/v1/changes", params=params, **extra)
        if not (isinstance(page, dict) and isinstance(page.get("cursor"), int)
                and isinstance(page.get("changes"), list)
                and all(isinstance(c, dict) for c in page["changes"])):
            raise NotACloud(self.base_url, "its change log has no cursor or no list of changes")
        return page

    def record(self, entity: str, record_id: str) -> dict[str, Any] | None:
        """One customer, controller, controller's configuration or document as the change log
        carries it; None when the cloud has no such record (any more)."""
        path = {"customer": f"/v1/customers/{record_id}",
                "controller": f"/v1/controllers/{record_id}",
                "config": f"/v1/controllers/{record_id}/config",
                "document": f"/v1/documents/{record_id}"}[entity]
        try:
            return self._call("GET", path)
        except CloudProblem as exc:
            if exc.status == 404:
                return None
            raise

    def batch(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Mutations in order, each with its key; one result per item."""
        if len(items) > 1 and len(json.dumps({"items": items})) > BATCH_BYTES:
            half = len(items) // 2  # sent in order, so the edits still apply in order
            return self.batch(items[:half]) + self.batch(items[half:])
        answer = self._post_json("/v1/sync/batch", {"items": items})
        results = answer.get("results") if isinstance(answer, dict) else None
        if not (isinstance(results, list) and len(results) == len(items)
                and all(isinstance(r, dict) for r in results)):
            raise NotACloud(self.base_url, "its answer to a batch has no result for each edit")
        return results

    def set_customer_plan(self, customer_id: str, plan: str) -> dict[str, Any]:
        """Home, or one of the account's included Enthusiast plans."""
        path = "included" if plan == "enthusiast" else "home"
        return self._call("POST", f"/v1/customers/{customer_id}/plan/{path}")

    def redeem_plan_code(self, customer_id: str, code: str) -> dict[str, Any]:
        return self._call("POST", f"/v1/customers/{customer_id}/plan/redeem",
                          json={"code": code})

    def request_purchase(self, customer_id: str) -> dict[str, Any]:
        return self._call("POST", f"/v1/customers/{customer_id}/plan/purchase-request")

    def fleet_status(self) -> dict[str, Any]:
        return self._call("GET", "/v1/fleet/status")

    # incidents (CONTRACT-10): each lifecycle call answers the incident as it is now

    def list_incidents(
        self, state: str = "open", limit: int = 200, after: str | None = None
    ) -> dict[str, Any]:
        """{incidents, next}: `state` "open" or "all", newest first; pass `next` as `after`."""
        params: dict[str, Any] = {"state": state, "limit": limit}
        if after:
            params["after"] = after
        return self._call("GET", "/v1/incidents", params=params)

    def acknowledge(self, incident_id: str, note: str = "") -> dict[str, Any]:
        """The response the membership's clock measures: it stops the SLA clock."""
        return self._call("POST", f"/v1/incidents/{incident_id}/ack", json={"note": note})

    def snooze(self, incident_id: str, until: datetime, note: str = "") -> dict[str, Any]:
        body = {"until": _aware(until).isoformat(), "note": note}
        return self._call("POST", f"/v1/incidents/{incident_id}/snooze", json=body)

    def assign(self, incident_id: str, user_id: str | None) -> dict[str, Any]:
        """To a staff member of the account; None unassigns."""
        return self._call("POST", f"/v1/incidents/{incident_id}/assign",
                          json={"user_id": user_id})

    def resolve(self, incident_id: str, note: str = "") -> dict[str, Any]:
        return self._call("POST", f"/v1/incidents/{incident_id}/resolve", json={"note": note})

    def start_maintenance(self, *, starts: datetime, ends: datetime, note: str = "",
                          customer_id: str | None = None,
                          controller_id: str | None = None) -> dict[str, Any]:
        """No new incidents for this customer or controller until `ends` (e.g. winterized)."""
        body = {"customer_id": customer_id, "controller_id": controller_id,
                "starts": _aware(starts).isoformat(), "ends": _aware(ends).isoformat(),
                "note": note}
        return self._call("POST", "/v1/maintenance", json=body)

    def staff(self) -> list[dict[str, Any]]:
        """The account's staff users: {id, email, …} each."""
        return self._call("GET", "/v1/staff")["staff"]

    # remote commands (CONTRACT-10)

    def send_command(
        self,
        controller_id: str,
        kind: str,
        params: dict[str, Any] | None = None,
        *,
        queue_if_offline: bool = False,
        key: str | None = None,
    ) -> dict[str, Any]:
        """Queue a command (zone.run {zone, seconds}, zone.stop, rain_delay.set {hours},
        device.enable {enabled}, device.reboot, config.fetch). The key makes retries safe:
        one is made when not given, so a resend after a lost answer queues nothing twice."""
        body = {
            "kind": kind,
            "params": params or {},
            "queue_if_offline": queue_if_offline,
            "key": key or str(uuid.uuid4()),
        }
        return self._call("POST", f"/v1/controllers/{controller_id}/commands", json=body)

    def commands(self, controller_id: str) -> list[dict[str, Any]]:
        """The controller's commands, newest first."""
        return self._call("GET", f"/v1/controllers/{controller_id}/commands")["commands"]

    # -- plumbing -----------------------------------------------------------------------------

    def _post_json(self, path: str, body: dict[str, Any]) -> Any:
        """POST a JSON body, gzipped when it is large and the cloud takes gzip."""
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        if not (self.gzip_bodies and len(raw) >= GZIP_BODY_BYTES):
            return self._call("POST", path, content=raw,
                              headers={"Content-Type": "application/json"})
        packed = gzip.compress(raw, compresslevel=6, mtime=0)
        try:
            return self._call("POST", path, content=packed, headers={
                "Content-Type": "application/json", "Content-Encoding": "gzip"})
        except CloudProblem as exc:
            if exc.status != 415:
                raise
            self.gzip_bodies = False  # a proxy or an older cloud in the way: plain from now on
            return self._call("POST", path, content=raw,
                              headers={"Content-Type": "application/json"})

    def _call(self, method: str, path: str, *, auth_401_is_problem: bool = False,
              **kwargs: Any) -> Any:
        last_error = ""
        refused = 0
        for attempt in range(self.retry.attempts):
            retry_after: float | None = None
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.UnsupportedProtocol:  # trying again cannot change the address
                raise CloudUnavailable(f"{self.base_url} is not an http(s) address of a "
                                       "fieldtech cloud.") from None
            except httpx.TransportError as exc:  # refused, reset, timed out, DNS…
                last_error = _network_reason(exc)
                refused += isinstance(exc, httpx.ConnectError)
                if refused >= self.retry.connect_attempts:
                    break
            else:
                self._count(response)
                if self.compress and "gzip" in response.headers.get("Accept-Encoding", ""):
                    self.gzip_bodies = True
                status = response.status_code
                if status < 300:
                    return self._json(response)
                if status < 400:  # we never ask for a redirect: a portal sends us elsewhere
                    where = response.headers.get("Location") or "another address"
                    raise NotACloud(self.base_url, f"it redirects to {where} (HTTP {status})")
                if status == 401 and not auth_401_is_problem:
                    raise NotSignedIn("The cloud no longer accepts this sign-in. Log in again; "
                                      "nothing queued is lost.")
                if status not in RETRY_STATUSES:
                    raise CloudProblem(status, _json_or_none(response))
                retry_after = _retry_after(response)
                last_error = f"the server answered {status}"
            if attempt + 1 < self.retry.attempts:
                self._sleep(self.retry.delay(attempt, retry_after))
        if last_error == "the server answered 429":  # reachable, but asks us to slow down
            wait = f" in {retry_after:.0f} s" if retry_after else " in a minute"
            raise CloudUnavailable(f"The cloud at {self.base_url} is busy (too many requests); "
                                   f"try again{wait}.")
        raise CloudUnavailable(f"Cannot reach the cloud at {self.base_url}: {last_error}.")

    def _json(self, response: httpx.Response) -> Any:
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError:  # HTML, or bytes that are not even text
            kind = response.headers.get("Content-Type", "").split(";")[0].strip()
            raise NotACloud(self.base_url, f"it sent {kind or 'something'} that is not JSON "
                            f"(HTTP {response.status_code})") from None

    def _count(self, response: httpx.Response) -> None:
        request = response.request
        self.requests += 1
        self.bytes_sent += _head_size(request.method, str(request.url.raw_path, "ascii"),
                                      request.headers) + len(request.content)
        # the body as it came over the wire (gzipped or not), not as decoded
        self.bytes_received += 17 + sum(len(k) + len(v) + 4
                                        for k, v in response.headers.items()) + (
            response.num_bytes_downloaded)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _head_size(method: str, target: str, headers: httpx.Headers) -> int:
    # The bytes of "METHOD target HTTP/1.1\r\n" + "k: v\r\n"… + "\r\n" as they go on the wire.
    return (len(method) + len(target) + 12
            + sum(len(k) + len(v) + 4 for k, v in headers.raw) + 2)


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asked us to wait (RFC 9110: a number, or an HTTP date), at most
    five minutes; None if it did not say, or said something unreadable."""
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:  # "Wed, 21 Oct 2015 07:28:00 GMT"
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # "-0000": UTC, by RFC 5322
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), 300.0)


def _json_or_none(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _network_reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "no answer in time"
    if isinstance(exc, httpx.ConnectError):
        return "connection refused or no route"
    return f"the connection broke ({type(exc).__name__})"

"""Property-based requests generated from the OpenAPI spec (schemathesis) pass every check
schemathesis has (no 5xx; statuses, content types, headers and bodies as the spec declares;
data valid by the spec accepted, invalid data refused; auth not ignored), and every 4xx is a
problem+json. Bounded: a few examples per operation, derandomized for CI."""

from __future__ import annotations

import contextlib
import re

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from server_helpers import Account, Server, new_serial

EXAMPLES_PER_OPERATION = 12
# Valid data by the spec may still meet the server's state: a stale revision (412), a missing
# If-Match where the record has one (428), besides the defaults.
CONFIG = SchemathesisConfig.from_dict({"checks": {"positive_data_acceptance": {
    "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "412", "428", "429"],
}}})
# Rules JSON Schema cannot state, because they depend on what is stored or on each other: a
# code that was never issued, a zone beyond the controller's zone count, cycle-and-soak in
# pairs, a rain delay within 14 days of now, a snooze that ends in the future, a maintenance
# window that ends after it starts and names a customer or a controller (not both), a command's
# params (they depend on its kind and the controller's zone count), a page cursor that names no
# incident of an earlier page, a phone number with at least three digits (the domain's
# PHONE_RE: its lookahead and separators do not carry over to the spec's pattern). A 422 for
# one of these is the right answer to data valid by the spec; any other 422 fails the test.
STATEFUL_PROBLEMS = {"plan-code-unknown", "pairing-code-invalid"}
STATEFUL_FIELDS = re.compile(
    r"^(zone|zones\.\d+\.(number|soak_minutes)|programs\.\d+\.(days|zone_minutes\.\d+)"
    r"|rain_delay_until|until|ends|customer_id|params\.\w+|after|phone)$"
)


def _stateful_refusal(response, path: str = "") -> bool:  # type: ignore[no-untyped-def]
    if response.status_code != 422:
        return False
    problem = response.json()
    if problem["type"].rsplit("/", 1)[-1] in STATEFUL_PROBLEMS:
        return True
    fields = [e["field"] for e in problem.get("errors", [])]
    if path.startswith("/v1/documents"):  # a document's fields depend on its kind
        return bool(fields) and not any(
            str(e.get("message", "")).startswith("No kind of record") for e in problem["errors"])
    return bool(fields) and all(STATEFUL_FIELDS.match(f) for f in fields)


def _world(server: Server, acme: Account) -> tuple[dict[str, list[str]], str]:
    customers = [acme.customer(f"Fuzz {i}", self_management="modify")["id"] for i in range(3)]
    controllers = [acme.controller(c, serial=new_serial())["id"] for c in customers]
    code = acme.http.post(f"/v1/controllers/{controllers[0]}/pairing-code").json()["code"]
    pair = server.client().post(
        "/v1/device/pair",
        json={
            "code": code,
            "serial": acme.http.get(f"/v1/controllers/{controllers[0]}").json()["serial"],
        },
    )
    return {"customer_id": customers, "controller_id": controllers}, pair.json()["device_token"]


def test_generated_requests_never_cause_a_server_error(server: Server, acme: Account) -> None:
    real_ids, device_token = _world(server, acme)
    schema = schemathesis.openapi.from_dict(server.app.openapi(), config=CONFIG)
    failures: list[str] = []
    statuses: list[int] = []
    calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        token = device_token if operation.path.startswith("/v1/device/") else acme.token
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)
            calls += _fuzz(operation, strategy, server.base_url, token, real_ids, failures,
                           statuses)
    print(f"schemathesis ({server.backend}): {calls} calls, "
          f"{sum(200 <= c < 300 for c in statuses)} 2xx, {sum(c >= 400 for c in statuses)} 4xx")
    assert calls >= 200  # the walk really exercised the API
    assert sum(200 <= code < 300 for code in statuses) >= 50  # not only refusals
    assert not failures, "\n".join(failures[:20])


def _fuzz(  # type: ignore[no-untyped-def]
    operation, strategy, base_url: str, token: str, real_ids: dict, failures: list[str],
    statuses: list[int]
) -> int:
    params = re.findall(r"{(\w+)}", operation.path)
    calls = 0

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy, data=st.data())
    def check(case, data) -> None:  # type: ignore[no-untyped-def]
        nonlocal calls
        for name in params:  # half the time aim at a record that exists
            if name in real_ids and data.draw(st.booleans()):
                case.path_parameters[name] = data.draw(st.sampled_from(real_ids[name]))
        headers = {"Authorization": f"Bearer {token}"}
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        calls += 1
        statuses.append(response.status_code)
        where = f"{case.method} {case.formatted_path} -> {response.status_code}"
        content_type = (response.headers.get("content-type") or [""])[0]
        if response.status_code >= 400 and content_type != "application/problem+json":
            failures.append(f"{where} is not problem+json: {content_type} {response.text[:200]}")
        try:  # every check schemathesis has
            case.validate_response(
                response, headers=headers, transport_kwargs={"base_url": base_url, "timeout": 30}
            )
        except (AssertionError, BaseExceptionGroup) as failed:  # reported below, all at once
            only_acceptance = str(failed).count("\n- ") == 1 and "ST202" in str(failed)
            if only_acceptance and _stateful_refusal(response, operation.path):
                return
            body = case.body if not isinstance(case.body, bytes) else case.body[:100]
            failures.append(f"{where}: {str(failed)[:400]} body={str(body)[:200]}")

    # Unsatisfiable: nothing in this operation can be made invalid (GET /healthz)
    with contextlib.suppress(Unsatisfiable):
        check()
    return calls

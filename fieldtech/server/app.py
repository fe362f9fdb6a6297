"""The FastAPI application: `create_app(db_url)` builds it, `fieldtech cloud serve` runs it."""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException

from fieldtech import __version__
from fieldtech.server.api import (
    account,
    auth_routes,
    billing_routes,
    command_routes,
    controllers,
    customers,
    document_routes,
    incident_routes,
    maintenance_routes,
    sync,
)
from fieldtech.server.api import devices as devices_api
from fieldtech.server.change_feed import ChangeFeed
from fieldtech.server.compression import Compression
from fieldtech.server.db import Database, make_engine, migrate
from fieldtech.server.device_gateway import DeviceGateway
from fieldtech.server.device_store import PostgresDeviceStore
from fieldtech.server.http_limits import RequestLimits, SafeHeaders
from fieldtech.server.problems import (
    PROBLEM_MEDIA_TYPE,
    Problem,
    ProblemType,
    not_storable,
    validation,
)
from fieldtech.server.state import Limits, ServerState, utcnow
from fieldtech.server.sweeper import run_sweeper

DB_URL_ENV = "FIELDTECH_SERVER_DB"  # how `cloud serve --workers N` hands the URL to workers
log = logging.getLogger("fieldtech.server")


def create_app(
    db_url: str,
    *,
    clock: Callable[[], datetime] = utcnow,
    limits: Limits | None = None,
    run_migrations: bool = True,
    docs: bool = False,
) -> FastAPI:
    engine = make_engine(db_url)
    if run_migrations:
        migrate(engine)

    db = Database(engine)
    # PostgreSQL: device calls take plain SQL over async psycopg (device_store.py)
    postgres = engine.dialect.name == "postgresql"
    devices = PostgresDeviceStore(db_url, db=db) if postgres else None
    state = ServerState(
        db,
        clock=clock,
        limits=limits or Limits(),
        device_store=devices,
        change_feed=ChangeFeed(db_url if postgres else None),  # LISTEN/NOTIFY on PostgreSQL
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        sweeping = asyncio.create_task(run_sweeper(state))  # one per worker (sweeper.py)
        state.changes.start()  # LISTEN now: long-polls here hear other processes' changes
        yield
        sweeping.cancel()
        await state.changes.close()
        await state.devices.close()
        engine.dispose()

    app = FastAPI(
        lifespan=lifespan,
        dependencies=[Depends(_known_query_parameters)],
        title="fieldtech cloud",
        version=__version__,
        summary="Contractor accounts, customers, controllers, plans, sync and devices.",
        description="Errors are RFC 9457 application/problem+json; see docs/server.md.",
        # Swagger UI loads its script from a public CDN: off unless asked for
        docs_url="/docs" if docs else None,
        redoc_url=None,
    )
    app.state.server = state
    for module in (
        auth_routes, account, customers, controllers, sync, devices_api, incident_routes,
        command_routes, maintenance_routes, document_routes, billing_routes,
    ):
        app.include_router(module.router)
    _install_error_handlers(app)
    _document_problems(app)
    app.add_middleware(DeviceGateway, state=state)  # device polls skip FastAPI's routing
    app.add_middleware(RequestLimits)  # before any token is looked at; inflates gzip bodies
    app.add_middleware(Compression)  # gzip answers for clients that ask (compression.py)
    app.add_middleware(SafeHeaders)

    @app.get("/healthz", tags=["meta"], summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


async def _known_query_parameters(request: Request) -> None:
    """422 for a query parameter the operation does not take, as for an unknown body field
    (bodies forbid extra fields): a typo must not be silently ignored."""
    if not request.query_params:
        return
    template = getattr(request.scope.get("route"), "path", None)
    operation = request.app.openapi()["paths"].get(template, {}).get(request.method.lower(), {})
    known = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise validation([(name, "This operation takes no such query parameter.")
                          for name in unknown])


def app_from_env() -> FastAPI:
    """Factory for uvicorn workers (`--workers N`): the parent already ran the migrations."""
    return create_app(os.environ[DB_URL_ENV], run_migrations=False)


def _problem_response(problem: Problem, request: Request) -> JSONResponse:
    return JSONResponse(
        problem.body(instance=request.url.path),
        status_code=problem.kind.status,
        headers=problem.headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


_HTTP_KINDS = {k.status: k for k in (
    ProblemType.BAD_REQUEST,
    ProblemType.UNAUTHORIZED,
    ProblemType.FORBIDDEN,
    ProblemType.NOT_FOUND,
    ProblemType.METHOD_NOT_ALLOWED,
    ProblemType.TOO_LARGE,
    ProblemType.HEADERS_TOO_LARGE,
)}
_BODY_UNREADABLE = (
    "The body is not JSON this server can read: it must be UTF-8, nested at most a few hundred "
    "levels, with numbers of at most 4,300 digits."
)


_PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details; extension members per type (docs/server.md).",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "description": "Stable: tell errors apart by this."},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
    "additionalProperties": True,
}


def _document_problems(app: FastAPI) -> None:
    """Declare every error status the server may answer, as problem+json, on every operation
    (FastAPI declares only its own 422 with a body we never send)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = generate()
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        schemas["Problem"] = _PROBLEM_SCHEMA
        content = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        titles: dict[int, str] = {}
        for kind in ProblemType:
            if kind.status < 500:  # a 5xx is a bug (or, for 503, only inside a batch answer)
                titles.setdefault(kind.status, kind.value.title)
        for operations in spec["paths"].values():
            for operation in operations.values():
                for parameter in operation.get("parameters", []):
                    if parameter.get("in") == "query":  # a path's is a 404: no such record
                        _no_control_characters(parameter.get("schema", {}))
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                for status, title in sorted(titles.items()):
                    responses[str(status)] = {"description": title, "content": content}
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


# What RequestLimits refuses (422) in every query value (http_limits._control_characters),
# stated in the spec so a client generated from it knows.
_NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f]*$"


def _no_control_characters(schema: dict[str, Any]) -> None:
    for option in schema.get("anyOf", [schema]):
        if option.get("type") == "string" and "pattern" not in option and "enum" not in option:
            option["pattern"] = _NO_CONTROL_CHARACTERS


def _allowed_methods(app: FastAPI, request: Request) -> str:
    """Every method the spec lists at this path (Starlette names only the first route's)."""
    path = request.url.path
    methods = {
        method.upper()
        for template, operations in app.openapi()["paths"].items()
        if re.fullmatch(re.sub(r"\{[^}/]+\}", "[^/]+", template), path)
        for method in operations
    }
    return ", ".join(sorted(methods))


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return _problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"] if p != "body"), "message": e["msg"]}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"field": "", "message": "invalid"}
        problem = Problem(
            ProblemType.VALIDATION, f"{first['field']}: {first['message']}", errors=errors
        )
        return _problem_response(problem, request)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        # Raised by Starlette and FastAPI themselves (no route, wrong method, a body that is
        # not JSON); their headers (Allow on a 405) are kept.
        kind = _HTTP_KINDS.get(exc.status_code)
        if kind is None:
            kind = ProblemType.BAD_REQUEST if exc.status_code < 500 else ProblemType.INTERNAL_ERROR
        detail = _BODY_UNREADABLE if exc.status_code == 400 else str(exc.detail)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(app, request)
        return _problem_response(Problem(kind, detail, headers=headers), request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette still logs the traceback; the client gets a problem and no internals.
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
        problem = Problem(ProblemType.INTERNAL_ERROR, "The server failed; try again later.")
        return _problem_response(problem, request)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # Two writers raced for the same unique value (an id, a serial, an e-mail).
        problem = Problem(ProblemType.ALREADY_EXISTS, "That clashes with a record just created.")
        return _problem_response(problem, request)

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        return _problem_response(not_storable(), request)

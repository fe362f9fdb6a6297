"""The FastAPI application: `create_app(db_url)` builds it, `fieldtech cloud serve` runs it."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException

from fieldtech import __version__
from fieldtech.server.api import (
    account,
    auth_routes,
    command_routes,
    controllers,
    customers,
    incident_routes,
    maintenance_routes,
    sync,
)
from fieldtech.server.api import devices as devices_api
from fieldtech.server.change_feed import ChangeFeed
from fieldtech.server.db import Database, make_engine, migrate
from fieldtech.server.device_gateway import DeviceGateway
from fieldtech.server.device_store import PostgresDeviceStore
from fieldtech.server.problems import PROBLEM_MEDIA_TYPE, Problem, ProblemType, not_storable
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
        yield
        sweeping.cancel()
        await state.changes.close()
        await state.devices.close()
        engine.dispose()

    app = FastAPI(
        lifespan=lifespan,
        title="fieldtech cloud",
        version=__version__,
        summary="Contractor accounts, customers, controllers, plans, sync and devices.",
        description="Errors are RFC 9457 application/problem+json; see docs/server.md.",
    )
    app.state.server = state
    for module in (
        auth_routes, account, customers, controllers, sync, devices_api, incident_routes,
        command_routes, maintenance_routes,
    ):
        app.include_router(module.router)
    _install_error_handlers(app)
    app.add_middleware(DeviceGateway, state=state)  # device polls skip FastAPI's routing

    @app.get("/healthz", tags=["meta"], summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


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
        kind = {
            404: ProblemType.NOT_FOUND,
            405: ProblemType.METHOD_NOT_ALLOWED,
            401: ProblemType.UNAUTHORIZED,
        }.get(exc.status_code)
        if kind is None:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        return _problem_response(Problem(kind, str(exc.detail)), request)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # Two writers raced for the same unique value (an id, a serial, an e-mail).
        problem = Problem(ProblemType.ALREADY_EXISTS, "That clashes with a record just created.")
        return _problem_response(problem, request)

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        return _problem_response(not_storable(), request)

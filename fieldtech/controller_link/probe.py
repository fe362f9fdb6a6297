"""Finding OpenSprinklers, which do not advertise: `GET /jo` on hosts the user confirmed,
and identifying whatever answers at an address the technician typed.

Like OpenSprinkler's own app: port 80, then 8080, keeping answers that carry `fwv`. Bounded in
concurrency and in total time; every host is checked first (safety.check_probe_host).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

import httpx

from fieldtech.controller_link.errors import DeviceTimeout, ProtocolError, WrongPassword
from fieldtech.controller_link.link import DeviceInfo
from fieldtech.controller_link.native import NativeLink
from fieldtech.controller_link.opensprinkler import (
    DEFAULT_PASSWORD,
    OpenSprinklerLink,
    normalize_address,
)
from fieldtech.controller_link.safety import check_probe_host

DEFAULT_PORTS = (80, 8080)


async def probe_opensprinkler(
    hosts: Sequence[str],
    ports: Sequence[int] = DEFAULT_PORTS,
    concurrency: int = 32,
    timeout: float = 1.0,
    total_timeout: float = 15.0,
) -> AsyncIterator[DeviceInfo]:
    """Yield each OpenSprinkler as it answers. Stops quietly when `total_timeout` is spent."""
    checked = [check_probe_host(h) for h in hosts]  # refuse before sending anything
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:

        async def probe_host(host: str) -> DeviceInfo | None:
            async with limit:
                for port in ports:
                    found = await _probe(client, f"{host}:{port}")
                    if found is not None:
                        return found
            return None

        tasks = [asyncio.ensure_future(probe_host(h)) for h in checked]
        try:
            async with asyncio.timeout(total_timeout):
                for next_done in asyncio.as_completed(tasks):
                    found = await next_done
                    if found is not None:
                        yield found
        except TimeoutError:
            pass
        finally:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(*tasks, return_exceptions=True)


async def identify_address(address: str, password: str = DEFAULT_PASSWORD,
                           timeout: float = 3.0) -> DeviceInfo:
    """What answers at an address the technician typed ("192.168.1.20:8080", "ctrl.local").

    An OpenSprinkler if `GET /jo` carries `fwv` (with `needs_password` if `password` is
    refused), else a fieldtech controller if `/rpc` answers `device.info`.
    """
    url = normalize_address(address)
    async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
        try:
            found = await _probe(client, url.removeprefix("http://"), quiet=False)
        except httpx.TimeoutException as exc:
            # it took the connection and went silent: asking /rpc too only doubles the wait
            raise DeviceTimeout(
                f"Something at {url} took the connection but did not answer within "
                f"{timeout:g} s. An OpenSprinkler serves one request at a time: close its own "
                "app and try again; if it stays silent, restart it.",
                address=url,
            ) from exc
    if found is not None:
        link = OpenSprinklerLink(url, password, timeout=timeout)
        try:
            return await link.identify()
        except WrongPassword:
            return replace(found, address=url)
        finally:
            await link.aclose()
    async with NativeLink.http(url, timeout=timeout) as native:
        try:
            return await native.identify()
        except ProtocolError as exc:
            raise ProtocolError(
                f"Something answers at {url}, but neither as a fieldtech controller nor as an "
                "OpenSprinkler. Check the address and port.",
                address=url,
            ) from exc


async def _probe(client: httpx.AsyncClient, host_port: str,
                 quiet: bool = True) -> DeviceInfo | None:
    """An OpenSprinkler's DeviceInfo if `/jo` answers with `fwv`. Not `quiet`: a timeout is
    raised (httpx.TimeoutException) instead of read as "not an OpenSprinkler"."""
    try:
        reply = await client.get(f"http://{host_port}/jo")
        body = json.loads(reply.content)
    except httpx.TimeoutException:
        if quiet:
            return None
        raise
    except (httpx.HTTPError, ValueError, UnicodeDecodeError, RecursionError):
        return None
    if reply.status_code != 200 or not isinstance(body, dict) or "fwv" not in body:
        return None
    return DeviceInfo(
        driver="opensprinkler",
        address=host_port,
        model="OpenSprinkler",
        firmware=str(body["fwv"]),
        needs_password=set(body) == {"fwv"},
    )

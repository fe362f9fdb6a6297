"""Finding OpenSprinklers, which do not advertise: `GET /jo` on hosts the user confirmed.

Like OpenSprinkler's own app: port 80, then 8080, keeping answers that carry `fwv`. Bounded in
concurrency and in total time; every host is checked first (safety.check_probe_host).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence

import httpx

from fieldtech.controller_link.link import DeviceInfo
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
                    found = await _probe(client, host, port)
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


async def _probe(client: httpx.AsyncClient, host: str, port: int) -> DeviceInfo | None:
    try:
        reply = await client.get(f"http://{host}:{port}/jo")
        body = json.loads(reply.content)
    except (httpx.HTTPError, ValueError, UnicodeDecodeError, RecursionError):
        return None
    if reply.status_code != 200 or not isinstance(body, dict) or "fwv" not in body:
        return None
    return DeviceInfo(
        driver="opensprinkler",
        address=f"{host}:{port}",
        model="OpenSprinkler",
        firmware=str(body["fwv"]),
        needs_password=set(body) == {"fwv"},
    )

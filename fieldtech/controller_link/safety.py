"""Where discovery may send traffic. Tests, demos and benchmarks set FIELDTECH_LOOPBACK_ONLY=1,
and then nothing but 127.0.0.x is ever probed and zeroconf only binds 127.0.0.1."""

from __future__ import annotations

import ipaddress
import os

from fieldtech.controller_link.errors import ProbeRefused

LOOPBACK_ONLY_ENV = "FIELDTECH_LOOPBACK_ONLY"
LOOPBACK_INTERFACES = ["127.0.0.1"]


def loopback_only() -> bool:
    return os.environ.get(LOOPBACK_ONLY_ENV, "") not in ("", "0")


def check_probe_host(host: str) -> str:
    """`host` if fieldtech may probe it: an IP literal on a private or loopback network."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ProbeRefused(
            f"{host!r} is not an IP address: a subnet probe only takes addresses. Type the "
            "controller's host:port to connect to it by name.",
            address=host,
        ) from None
    if loopback_only() and ip not in ipaddress.ip_network("127.0.0.0/24"):
        raise ProbeRefused(f"{host} is not 127.0.0.x, and this session is loopback-only "
                           f"({LOOPBACK_ONLY_ENV}).", address=host)
    if not (ip.is_private or ip.is_loopback):
        raise ProbeRefused(f"{host} is a public address: fieldtech only probes the local "
                           "network.", address=host)
    return str(ip)


def check_interfaces(interfaces: list[str] | None) -> list[str] | None:
    """The interfaces zeroconf may bind (None = all), narrowed to loopback when required."""
    if loopback_only() and interfaces != LOOPBACK_INTERFACES:
        raise ProbeRefused(f"This session is loopback-only ({LOOPBACK_ONLY_ENV}): mDNS must be "
                           "pinned to interfaces=['127.0.0.1'].")
    return interfaces


def hosts_in_subnet(cidr: str, max_hosts: int = 1024) -> list[str]:
    """Every host of a subnet the user confirmed (e.g. '192.168.1.0/24'), checked."""
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        raise ProbeRefused(f"{cidr!r} is not a subnet such as 192.168.1.0/24.") from None
    if network.num_addresses > max_hosts + 2:
        raise ProbeRefused(f"{cidr} has {network.num_addresses} addresses; probe at most "
                           f"{max_hosts} (a /22) at a time.")
    hosts = [str(h) for h in network.hosts()] or [str(network.network_address)]
    return [check_probe_host(h) for h in hosts]

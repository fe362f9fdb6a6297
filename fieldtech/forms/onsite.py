"""The on-site forms: a typed address, a subnet to probe, a zone test, Wi-Fi over the cable.

Only parsing and checks here (no I/O, no textual), like record_forms: the dialog shows the
errors next to the fields and the on-site screen runs the step in a worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fieldtech.controller_link import hosts_in_subnet
from fieldtech.controller_link.errors import ProbeRefused
from fieldtech.domain import limits as L
from fieldtech.domain.errors import FieldError
from fieldtech.forms.fields import Builder, Field

DEFAULT_OPENSPRINKLER_PASSWORD = "opendoor"  # the factory default, printed on the manual
ZONE_TEST_SECONDS = 30


@dataclass(frozen=True)
class TypedAddress:
    address: str
    password: str


@dataclass(frozen=True)
class SubnetProbe:
    subnet: str
    hosts: list[str]
    ports: list[int]


@dataclass(frozen=True)
class ZoneTest:
    zones: list[int]
    seconds: int


@dataclass(frozen=True)
class WifiSetup:
    port: str
    ssid: str
    password: str  # never logged or shown: the form's field is a password field


def address_form(default: str = "") -> tuple[list[Field], Builder]:
    fields = [
        Field("address", "Address", default, hint="host:port, e.g. 192.168.1.20:8080"),
        Field("password", "Password", DEFAULT_OPENSPRINKLER_PASSWORD, "password",
              hint="OpenSprinkler only; the factory default is opendoor"),
    ]

    def build(v: dict[str, Any]) -> tuple[TypedAddress, list[FieldError]]:
        if not v["address"]:
            return TypedAddress("", ""), [FieldError("address", "Type the controller's "
                                                     "address, e.g. 192.168.1.20:8080.")]
        return TypedAddress(v["address"], v["password"] or DEFAULT_OPENSPRINKLER_PASSWORD), []

    return fields, build


def password_form() -> tuple[list[Field], Builder]:
    fields = [Field("password", "Password", "", "password",
                    hint="the OpenSprinkler's device password")]

    def build(v: dict[str, Any]) -> tuple[str, list[FieldError]]:
        if not v["password"]:
            return "", [FieldError("password", "Type the password.")]
        return v["password"], []

    return fields, build


def subnet_form(default: str, ports: str = "80 8080") -> tuple[list[Field], Builder]:
    fields = [
        Field("subnet", "Subnet", default, hint="only a network you may scan, e.g. "
              "192.168.1.0/24"),
        Field("ports", "Ports", ports, hint="OpenSprinkler listens on 80 or 8080"),
    ]

    def build(v: dict[str, Any]) -> tuple[SubnetProbe | None, list[FieldError]]:
        errors = []
        try:
            hosts = hosts_in_subnet(v["subnet"])
        except ProbeRefused as exc:
            hosts = []
            errors.append(FieldError("subnet", str(exc)))
        words = v["ports"].replace(",", " ").split()
        if not words or not all(w.isdigit() and 0 < int(w) < 65536 for w in words):
            errors.append(FieldError("ports", "Port numbers from 1 to 65535, e.g. 80 8080."))
        if errors:
            return None, errors
        return SubnetProbe(v["subnet"], hosts, [int(w) for w in words]), []

    return fields, build


def zone_test_form(zone_count: int, seconds: int = ZONE_TEST_SECONDS
                   ) -> tuple[list[Field], Builder]:
    fields = [
        Field("zones", "Zones", f"1-{min(zone_count, L.ZONES_MAX)}", hint="e.g. 1-8, or 1 3 5"),
        Field("seconds", "Seconds each", seconds, "int", hint="1–600"),
    ]

    zone_count = min(zone_count, L.ZONES_MAX)

    def build(v: dict[str, Any]) -> tuple[ZoneTest | None, list[FieldError]]:
        errors = []
        zones = parse_zones(v["zones"], zone_count)
        if not zones:
            errors.append(FieldError("zones", f"Zones from 1 to {zone_count}, e.g. 1-{zone_count} "
                                     "or 1 3 5."))
        if not 1 <= v["seconds"] <= 600:
            errors.append(FieldError("seconds", "Between 1 and 600 seconds."))
        return (None, errors) if errors else (ZoneTest(zones, v["seconds"]), [])

    return fields, build


def parse_zones(text: str, zone_count: int) -> list[int]:
    """"1-4 7" → [1, 2, 3, 4, 7]; [] if anything is not a zone of this controller.

    A device may report any zone count: no range goes past the most a controller can have."""
    zone_count = min(zone_count, L.ZONES_MAX)
    zones: dict[int, None] = {}  # in the order typed, each once
    for word in text.replace(",", " ").split():
        first, dash, last = word.partition("-")
        if not first.isdecimal() or (dash and not last.isdecimal()):
            return []
        a, b = int(first), int(last) if dash else int(first)
        if not 1 <= a <= b <= zone_count:
            return []
        zones.update(dict.fromkeys(range(a, b + 1)))
    return list(zones)


def wifi_form(port: str, networks: Sequence[Any] = ()) -> tuple[list[Field], Builder]:
    """Port, network and password. `networks` (what the controller's scan found, strongest
    first) become a list to pick from; a hidden network is typed under it."""
    fields = [Field("port", "Serial port", port,
                    hint="the controller's USB cable, e.g. /dev/ttyUSB0")]
    if networks:
        options = [(f"{n.ssid}  ({n.rssi} dBm{', open' if not n.secured else ''})", n.ssid)
                   for n in networks] + [("Another network (type it below)", "")]
        fields += [Field("ssid", "Wi-Fi network", networks[0].ssid, "select", options=options),
                   Field("typed", "Or its name", "", hint="a hidden network, not in the list")]
    else:
        fields.append(Field("ssid", "Wi-Fi network", ""))
    fields.append(Field("password", "Wi-Fi password", "", "password"))

    def build(v: dict[str, Any]) -> tuple[WifiSetup | None, list[FieldError]]:
        errors = []
        ssid = v["ssid"] or v.get("typed", "")
        if not v["port"]:
            errors.append(FieldError("port", "Which serial port is the controller on?"))
        if not ssid:
            errors.append(FieldError("typed" if networks else "ssid",
                                     "Type the network name (SSID)."))
        if errors:
            return None, errors
        return WifiSetup(v["port"], ssid, v["password"]), []

    return fields, build

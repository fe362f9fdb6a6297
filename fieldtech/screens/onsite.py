"""On site: find controllers (mDNS, serial, a typed address, a subnet probe), bind one to its
record, compare, push ours or pull theirs, test every zone, and set Wi-Fi over the cable.

Discovery and every step with a device run in workers; the controller link does the talking
and the offline store does the writing (each record change is one outbox row). A failed step
shows what happened and changes nothing in the store.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from fieldtech.controller_link import (
    DeviceConfig,
    DeviceInfo,
    ImprovClient,
    LinkError,
    MdnsBrowser,
    SerialPortInfo,
    diff_config,
    identify_address,
    list_serial_ports,
    open_link,
    probe_opensprinkler,
    probe_serial_ports,
    test_zones,
)
from fieldtech.controller_link.errors import RecordAlreadyBound, WrongPassword
from fieldtech.domain.errors import FieldtechError
from fieldtech.domain.models import Controller
from fieldtech.domain.validation import normalize_serial
from fieldtech.forms.onsite import (
    DEFAULT_OPENSPRINKLER_PASSWORD,
    SubnetProbe,
    TypedAddress,
    WifiSetup,
    ZoneTest,
    address_form,
    password_form,
    subnet_form,
    wifi_form,
    zone_test_form,
)
from fieldtech.offline_store.store import FleetRow
from fieldtech.screens.markup import escape
from fieldtech.screens.messages import RecordsChanged
from fieldtech.screens.services import FieldtechScreen
from fieldtech.screens.topbar import TopBar
from fieldtech.services.work_orders import WorkOrderService
from fieldtech.widgets.key_bar import KeyBar


def _more_of(new: DeviceInfo, known: DeviceInfo) -> DeviceInfo:
    """`new`, with what `known` said of the same device where `new` says nothing (a subnet
    probe finds an address; an earlier identify knew its serial, model and firmware)."""
    missing = {f: getattr(known, f) for f in ("model", "serial", "firmware", "zone_count", "mac",
                                              "name")
               if getattr(new, f) is None and getattr(known, f) is not None}
    return replace(new, **missing) if missing else new


def device_key(device: DeviceInfo) -> str:
    """One row per device, however it was found ("http://127.0.0.1:80" = "127.0.0.1:80")."""
    return device.address.removeprefix("http://")


# (label, most cells) of the device table's columns before the record, which takes the rest.
DEVICE_COLUMNS = (("Driver", 9), ("Model", 10), ("Serial", 15), ("FW", 6),
                  ("Address", 21))
RECORD_MIN = 12
DRIVER_LABEL = {"native": "fieldtech", "opensprinkler": "OpenSpr.", "improv": "Improv"}
HINT = ("Looking for controllers. Pick one with ↑↓, then:\n"
        " [b]b[/b] bind to a record · [b]c[/b] compare · [b]p[/b] push ours · "
        "[b]l[/b] pull theirs\n"
        " [b]t[/b] test zones · [b]x[/b] stop every zone\n"
        "Not in the list? [b]a[/b] address · [b]r[/b] serial probe · [b]n[/b] subnet probe\n"
        "Not on the network yet? [b]w[/b] sets Wi-Fi over the USB cable")


class OnsiteScreen(FieldtechScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="onsite_back"),
        Binding("b", "bind", "Bind", id="onsite_bind"),
        Binding("c", "compare", "Compare", id="onsite_compare"),
        Binding("p", "push", "Push", id="onsite_push"),
        Binding("l", "pull", "Pull", id="onsite_pull"),
        Binding("t", "test_zones", "Test zones", id="onsite_test"),
        Binding("x", "stop", "Stop all", id="onsite_stop"),
        Binding("a", "address", "Typed address", id="onsite_address", show=False),
        Binding("r", "serial_probe", "Probe serial ports", id="onsite_serial", show=False),
        Binding("n", "subnet_probe", "Subnet probe", id="onsite_subnet", show=False),
        Binding("w", "wifi", "Wi-Fi over serial", id="onsite_wifi", show=False),
    ]


    def __init__(self, controller_id: str | None = None):
        super().__init__()
        self.controller_id = controller_id  # opened from a controller: offered first to bind
        # Found this session (services.site, set on mount): kept when this screen closes.
        self.devices: dict[str, DeviceInfo] = {}  # by address: one row each
        self.found_by: dict[str, str] = {}
        self.passwords: dict[str, str] = {}  # OpenSprinkler passwords typed this session only
        self.refused: set[str] = set()  # devices whose password was refused
        self.records: dict[str, FleetRow] = {}  # by normalized serial
        self.ports: list[SerialPortInfo] = []
        self.mdns_state = "starting"
        self.last_read: tuple[str, DeviceConfig] | None = None

    def compose(self) -> ComposeResult:
        yield TopBar(id="topbar")
        yield Static("", id="onsite-status")
        yield DataTable(id="onsite-devices", cursor_type="row")
        yield Static("", id="onsite-current")  # the row under the cursor, whole
        with VerticalScroll(id="onsite-scroll"):
            yield Static("", id="onsite-panel")
        yield KeyBar()

    def on_mount(self) -> None:
        table = self.query_one("#onsite-devices", DataTable)
        self._relayout(self.app.size.width)
        table.focus()
        site = self.services.site
        self.devices, self.found_by, self.passwords = site.devices, site.found_by, site.passwords
        for key, how in list(self.found_by.items()):
            if how == "mDNS":  # the browser finds it again, or hears it has gone
                del self.found_by[key]
            else:  # typed, probed: shown again as it was left
                self.add_device(self.devices[key], how)
        self.show_panel(HINT)
        self._show_status()
        self._load_records()
        self._list_ports()
        self._browse()

    # -- what is shown ------------------------------------------------------------------------

    def _widths(self, width: int) -> list[int]:
        """Each column as wide as its content, up to its cap; the record takes what is left.
        Sized to their content alone, a long model pushed the record off an 80-column screen
        (one character of it was left)."""
        table = self.query_one("#onsite-devices", DataTable)
        rows = [[str(c) for c in self._row(k)] for k in self.found_by if k in self.devices]
        widths = [min(cap, max([cell_len(label), *(cell_len(r[i]) for r in rows)]))
                  for i, (label, cap) in enumerate(DEVICE_COLUMNS)]
        padding = 2 * table.cell_padding * (len(DEVICE_COLUMNS) + 1)
        record = max(RECORD_MIN, width - sum(widths) - padding - 1)  # 1: a scrollbar
        return [*widths, record]

    def _relayout(self, width: int | None = None) -> bool:
        """Rebuild the table if its columns should change width; True if it was rebuilt."""
        table = self.query_one("#onsite-devices", DataTable)
        widths = self._widths(width or self.size.width or self.app.size.width)
        if [c.width for c in table.columns.values()] == widths:
            return False
        cursor = table.cursor_row
        table.clear(columns=True)
        labels = [label for label, _cap in DEVICE_COLUMNS] + ["Record"]
        for label, w in zip(labels, widths, strict=True):
            table.add_column(label, width=w)
        for key in self.found_by:
            if key in self.devices:
                table.add_row(*self._row(key), key=key)
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1))
        return True

    def on_resize(self, event: events.Resize) -> None:
        self._relayout(event.size.width)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self.services.site.choose(event.row_key.value)
        self._show_current(event.row_key.value)

    def _show_current(self, key: str | None) -> None:
        """The whole of the row under the cursor, which the columns may cut."""
        line = ""
        if key and key in self.devices:
            driver, model, serial, firmware, address, record = (str(c) for c in self._row(key))
            line = f"{model} ({driver}, firmware {firmware}) · {serial} · {address} · {record}"
        self.query_one("#onsite-current", Static).update(Text(line, overflow="fold"))

    def show_panel(self, content: str | Group) -> None:
        self.query_one("#onsite-panel", Static).update(content)

    def _failed(self, what: str, exc: BaseException) -> None:
        """A step failed: say so plainly (never a traceback); the store was not touched."""
        self.show_panel(f"[red]✗ {escape(what)}[/red]\n{escape(str(exc))}\n\nNothing was "
                        "changed in the record.")
        self.notify(f"{what}: {exc}", severity="error", timeout=8)

    def _show_status(self) -> None:
        where = ("every interface" if self.services.onsite.mdns_interfaces is None
                 else ", ".join(self.services.onsite.mdns_interfaces))
        count = sum(1 for s in self.found_by.values() if s == "mDNS")
        mdns = {"starting": "mDNS starting", "looking": f"mDNS on {where}: {count} found"}.get(
            self.mdns_state, self.mdns_state)
        ports = ", ".join(self._port_names()) or "none"
        self.query_one("#onsite-status", Static).update(
            f"[b]On site[/b] · {escape(mdns)} · serial ports: {escape(ports)}")

    def _port_names(self) -> list[str]:
        """USB ports first (list_serial_ports sorts them so), the demo's pty before all."""
        names = [p.by_id or p.device for p in self.ports]
        sim = self.services.onsite.simulator
        if sim is not None and sim.serial_path and sim.serial_path not in names:
            names.insert(0, sim.serial_path)  # no USB port, but the one the demo plugged in
        return names

    def _row(self, key: str) -> tuple[Text, ...]:
        d = self.devices[key]
        row = self._record_row(d)
        record = f"✓ {row.name} — {row.customer_name}" if row else "— not bound"
        if not d.serial and d.driver == "opensprinkler":
            record = "password refused" if key in self.refused else "b identifies it"
        cells = (DRIVER_LABEL.get(d.driver, d.driver), d.model or "?", d.serial or "?",
                 d.firmware or "?", key, record)
        # Text: a DataTable reads a str as markup; cut with an ellipsis where a column ends
        return tuple(Text(cell, no_wrap=True, overflow="ellipsis") for cell in cells)

    def _record_row(self, device: DeviceInfo) -> FleetRow | None:
        return self.records.get(normalize_serial(device.serial)) if device.serial else None

    def add_device(self, device: DeviceInfo, found_by: str) -> None:
        key = device_key(device)
        table = self.query_one("#onsite-devices", DataTable)
        if (known := self.devices.get(key)) is not None:
            device = _more_of(device, known)  # a probe knows less than an identify did
        self.devices[key] = device
        self.found_by.setdefault(key, found_by or "typed")
        if self._relayout():
            pass  # every row is in the rebuilt table
        elif key in table.rows:
            for column, value in zip(table.columns, self._row(key), strict=True):
                table.update_cell(key, column, value)
        else:
            table.add_row(*self._row(key), key=key)
        if table.row_count and self.selected_key() == key:
            self._show_current(key)
        self._show_status()

    def remove_device(self, key: str) -> None:
        """Drop the row. The DeviceInfo stays known: a step already under way with it ends
        with a clear "unreachable" message, never a lookup error."""
        table = self.query_one("#onsite-devices", DataTable)
        if key in table.rows:
            table.remove_row(key)
        self.found_by.pop(key, None)
        self._show_status()

    def _refresh_rows(self) -> None:
        for key in list(self.found_by):
            self.add_device(self.devices[key], self.found_by[key])

    def selected_key(self) -> str | None:
        """The key of the row under the cursor, quietly (None if the table is empty)."""
        table = self.query_one("#onsite-devices", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def selected(self) -> str | None:
        """The address of the device under the cursor, or None (with a hint)."""
        key = self.selected_key()
        if key is None:
            self.notify("No controller found yet: wait for mDNS, or press a to type an address.",
                        timeout=4)
        return key

    def _bound_record(self, key: str) -> FleetRow | None:
        row = self._record_row(self.devices[key])
        if row is None:
            self.notify("Bind this controller to a record first (b).", severity="warning",
                        timeout=4)
        return row

    def _password(self, key: str) -> str:
        return self.passwords.get(key, DEFAULT_OPENSPRINKLER_PASSWORD)

    # -- discovery ------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="records", exit_on_error=False)
    def _load_records(self) -> None:
        """Which serial belongs to which record: read fresh, since binding changes it."""
        rows = self.services.store.fleet_rows()
        records = {normalize_serial(r.serial): r for r in rows if r.serial and r.controller_id}
        self.app.call_from_thread(self._records_loaded, records)

    def _records_loaded(self, records: dict[str, FleetRow]) -> None:
        self.records = records
        self._refresh_rows()

    @work(thread=True, exclusive=True, group="ports", exit_on_error=False)
    def _list_ports(self) -> None:
        ports = list_serial_ports()
        self.app.call_from_thread(self._ports_listed, ports)

    def _ports_listed(self, ports: list[SerialPortInfo]) -> None:
        self.ports = ports
        self._show_status()

    @work(exclusive=True, group="mdns", exit_on_error=False)
    async def _browse(self) -> None:
        """Live mDNS: rows appear as controllers answer and go when they say goodbye."""
        names: dict[str, str] = {}  # mDNS instance name -> row key
        try:
            async with MdnsBrowser(self.services.onsite.mdns_interfaces) as browser:
                self.mdns_state = "looking"
                self._show_status()
                async for event in browser:
                    # One row per mDNS name: a device that moved (new DHCP lease) moves its row.
                    previous = names.pop(event.name, None)
                    if previous is not None and (event.kind == "removed" or event.device is None
                                                 or device_key(event.device) != previous):
                        self.remove_device(previous)
                    if event.kind != "removed" and event.device is not None:
                        names[event.name] = device_key(event.device)
                        self.add_device(event.device, "mDNS")
        except (FieldtechError, OSError) as exc:  # no multicast here, or a loopback-only session
            self.mdns_state = f"mDNS unavailable ({exc})"
            self._show_status()

    def action_address(self) -> None:
        default = ""
        sim = self.services.onsite.simulator
        if sim is not None and sim.of_kind("opensprinkler"):
            default = sim.of_kind("opensprinkler")[0].address  # the demo's OpenSprinkler
        self._form("Connect to a controller by address", address_form(default),
                   self._identify, "Connect")

    @work(exclusive=True, group="probe", exit_on_error=False)
    async def _identify(self, typed: TypedAddress) -> None:
        self.show_panel(f"Asking {escape(typed.address)}…")
        try:
            device = await identify_address(typed.address, typed.password)
        except FieldtechError as exc:
            self._failed(f"Nothing usable at {typed.address}", exc)
            return
        key = device_key(device)
        self.passwords[key] = typed.password
        if device.needs_password and not device.serial:
            self.refused.add(key)
        self.add_device(device, "typed")
        self._select(key)
        if key in self.refused:
            self.show_panel(f"An OpenSprinkler answers at {escape(device.address)}, but the "
                            "password was refused. Press [b]b[/b] to type it again.")
        else:
            self.show_panel(f"Found {escape(device.describe())}.")

    def _select(self, key: str) -> None:
        table = self.query_one("#onsite-devices", DataTable)
        if key in table.rows:
            table.move_cursor(row=table.get_row_index(key))

    def action_serial_probe(self) -> None:
        names = self._port_names()
        if not names:
            self.notify("No serial port found: plug in the controller's USB cable.", timeout=5)
            return
        self._probe_ports(names)

    @work(exclusive=True, group="probe", exit_on_error=False)
    async def _probe_ports(self, paths: list[str]) -> None:
        self.show_panel(f"Probing {escape(', '.join(paths))}…")
        results = await probe_serial_ports(paths)
        lines = []
        for result in results:
            if result.device is not None:
                self.add_device(result.device, "serial")
                lines.append(f"✓ {escape(result.port)}: {escape(result.device.describe())}")
            else:
                lines.append(f"[red]✗ {escape(result.port)}[/red]: {escape(str(result.error))}")
        self.show_panel("\n".join(lines))

    def action_subnet_probe(self) -> None:
        loopback = self.services.onsite.mdns_interfaces is not None and all(
            i.startswith("127.") for i in self.services.onsite.mdns_interfaces)
        ports = "80 8080"
        sim = self.services.onsite.simulator
        if sim is not None:  # the demo's OpenSprinklers listen on their own ports
            ports += "".join(f" {d.address.rsplit(':', 1)[1]}" for d in
                             sim.of_kind("opensprinkler"))
        default = "127.0.0.1/32" if loopback else "192.168.1.0/24"
        self._form("Probe a subnet for OpenSprinklers", subnet_form(default, ports),
                   self._confirm_subnet, "Probe")

    def _confirm_subnet(self, probe: SubnetProbe) -> None:
        from fieldtech.screens.forms import ConfirmScreen

        ports = ", ".join(map(str, probe.ports))
        question = (f"Probe {len(probe.hosts)} address(es) of {probe.subnet} on port(s) "
                    f"{ports}? Only scan a network you are allowed to.")
        self.app.push_screen(ConfirmScreen(question),
                             lambda yes: yes and self._probe_subnet(probe))

    @work(exclusive=True, group="probe", exit_on_error=False)
    async def _probe_subnet(self, probe: SubnetProbe) -> None:
        self.show_panel(f"Probing {escape(probe.subnet)}…")
        found = 0
        try:
            async for device in probe_opensprinkler(probe.hosts, probe.ports):
                found += 1
                self.add_device(device, "probe")
        except FieldtechError as exc:
            self._failed("Subnet probe refused", exc)
            return
        self.show_panel(f"Subnet probe done: {found} OpenSprinkler(s) in {escape(probe.subnet)}."
                        + (" Select one and press [b]b[/b] to identify and bind it." if found
                           else ""))

    # -- binding --------------------------------------------------------------------------------

    def action_bind(self) -> None:
        if (key := self.selected()) is not None:
            self._bind_flow(key)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_bind()

    @work(exclusive=True, group="step", exit_on_error=False)
    async def _bind_flow(self, key: str) -> None:
        device = self.devices[key]
        if device.driver == "improv":
            self.show_panel("This device only takes Wi-Fi credentials over the cable: press "
                            "[b]w[/b] to set its Wi-Fi, then find it on the network.")
            return
        if not device.serial:  # an OpenSprinkler found by a probe: ask it who it is
            try:
                async with open_link(device, self._password(key)) as link:
                    device = replace(await link.identify(), address=device.address)
                self.refused.discard(key)
            except WrongPassword:
                self.refused.add(key)
                self.add_device(device, "")
                self._ask_password(key)
                return
            except FieldtechError as exc:
                self._failed("Could not identify the controller", exc)
                return
            self.add_device(device, "")
        row = self._record_row(device)
        if row is not None:
            self.show_panel(f"{escape(device.describe())} is bound to [b]{escape(row.name)}"
                            f"[/b] — {escape(row.customer_name)}.\nPress [b]c[/b] to compare.")
            return
        store = self.services.store
        rows, usage = await asyncio.to_thread(lambda: (store.fleet_rows(), store.usage()))
        quota = ""
        if usage is not None:
            quota = (f"A new record counts toward {usage.tier.label}: "
                     f"{usage.controllers_used} of {usage.controllers_limit} controllers used.")
            if warning := usage.controller_warning():
                quota = f"[b]⚠ {escape(warning)}[/b]"
        from fieldtech.screens.bind_record import BindRecordScreen

        text = f"{device.model or device.driver} {device.serial}"
        self.app.push_screen(BindRecordScreen(text, rows, self.controller_id, quota),
                             lambda choice: choice and self._bound_choice(key, choice))

    def _ask_password(self, key: str) -> None:
        def retry(password: str) -> None:
            self.passwords[key] = password
            self._bind_flow(key)
        self.show_panel("The OpenSprinkler refused the password.")
        self._form(f"Password for the OpenSprinkler at {key}", password_form(), retry, "Connect")

    def _bound_choice(self, key: str, choice: tuple[str, str]) -> None:
        kind, record_id = choice
        if kind == "record":
            self._bind(key, record_id)
        else:
            self._new_record(key, record_id)

    @work(thread=True, group="step", exit_on_error=False)
    def _bind(self, key: str, controller_id: str, replace_existing: bool = False) -> None:
        """Assign the device's serial to the record, in one store transaction + outbox row."""
        edits = self.services.edits
        try:
            _edit, warnings = edits.bind_device(controller_id, self.devices[key],
                                                replace_existing)
            controller = self.services.store.controller(controller_id)
        except RecordAlreadyBound as exc:
            self.app.call_from_thread(self._confirm_replace, key, controller_id, exc)
            return
        except FieldtechError as exc:
            self.app.call_from_thread(self._failed, "Not bound", exc)
            return
        self.app.call_from_thread(self._bound, key, controller, warnings)

    def _confirm_replace(self, key: str, controller_id: str, exc: RecordAlreadyBound) -> None:
        from fieldtech.screens.forms import ConfirmScreen

        self.app.push_screen(ConfirmScreen(str(exc)), lambda yes: yes and self._bind(
            key, controller_id, replace_existing=True))

    def _bound(self, key: str, controller: Controller, warnings: list[str]) -> None:
        device = self.devices[key]
        self.show_panel(f"✓ {escape(device.describe())} is now bound to [b]"
                        f"{escape(controller.name)}[/b] — saved, will sync.\n"
                        + "".join(f"⚠ {escape(w)}\n" for w in warnings)
                        + "Press [b]c[/b] to compare its configuration with the record.")
        self.notify(f"Bound to {controller.name} — saved, will sync.", timeout=3)
        self._load_records()
        self.post_message(RecordsChanged(keep=controller.id))

    def _new_record(self, key: str, customer_id: str) -> None:
        from fieldtech.forms.records import new_controller_form

        device = self.devices[key]
        customer = self.services.store.customer(customer_id)
        prefill: dict[str, Any] = {**self.services.edits.new_controller_defaults(customer_id),
                                   "name": device.name or "", "serial": device.serial}
        if device.model:
            prefill["model"] = device.model
        if device.zone_count:
            prefill["zone_count"] = device.zone_count
        self._form(f"New controller for {customer.name}, bound to {device.serial}",
                   new_controller_form(customer, **prefill),
                   lambda c: self._create(key, c))

    @work(thread=True, group="step", exit_on_error=False)
    def _create(self, key: str, controller: Controller) -> None:
        try:
            created, warnings = self.services.edits.create_bound(controller, self.devices[key])
        except FieldtechError as exc:
            self.app.call_from_thread(self._failed, "Not created", exc)
            return
        self.app.call_from_thread(self._bound, key, created, warnings)

    # -- compare, push, pull ----------------------------------------------------------------------

    def action_compare(self) -> None:
        if (key := self.selected()) and (row := self._bound_record(key)):
            self._compare(key, row.controller_id)

    async def _read_device(self, key: str) -> DeviceConfig:
        async with open_link(self.devices[key], self._password(key)) as link:
            return await link.read_config()

    async def _read_record(self, controller_id: str) -> Controller:
        return await asyncio.to_thread(self.services.store.controller, controller_id)

    @work(exclusive=True, group="step", exit_on_error=False)
    async def _compare(self, key: str, controller_id: str, heading: str = "") -> None:
        self.show_panel("Reading the controller's configuration…")
        try:
            read = await self._read_device(key)
        except FieldtechError as exc:
            self._failed("Could not read the controller", exc)
            return
        self._show_difference(key, await self._read_record(controller_id), read, heading)

    def _show_difference(self, key: str, record: Controller, read: DeviceConfig,
                         heading: str = "") -> None:
        self.last_read = (key, read)
        differences = diff_config(record.config, read)
        lines = [heading] if heading else []
        notes = "".join(f"\n[dim]{escape(note)}[/dim]" for note in read.notes)
        if not differences:
            lines.append(f"✓ The controller matches the record [b]{escape(record.name)}[/b].")
            self.show_panel("\n".join(lines) + notes)
            return
        count = f"{len(differences)} difference{'s' if len(differences) > 1 else ''}"
        lines.append(f"[b]{count}[/b] with the record [b]{escape(record.name)}[/b] — "
                     "[b]p[/b] push ours · [b]l[/b] pull theirs")
        # One line per difference, side by side: reads at 80 columns without wrapping.
        table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
        table.add_column("What", ratio=4)
        table.add_column("In the record", ratio=3)
        table.add_column("On the controller", ratio=3)
        for d in differences:  # Text: a table reads a str as (Rich's) markup
            table.add_row(*(Text(cell) for cell in (d.label, *d.sides())))
        self.show_panel(Group(Content.from_markup("\n".join(lines)), table,
                              Content.from_markup(notes.lstrip("\n"))))

    def action_push(self) -> None:
        if not ((key := self.selected()) and (row := self._bound_record(key))):
            return
        from fieldtech.screens.forms import ConfirmScreen

        question = (f"Push the record “{row.name}” to the controller "
                    f"{self.devices[key].serial}? Its settings on the controller are replaced.")
        self.app.push_screen(ConfirmScreen(question),
                             lambda yes: yes and self._push(key, row.controller_id))

    @work(exclusive=True, group="step", exit_on_error=False)
    async def _push(self, key: str, controller_id: str) -> None:
        self.show_panel("Pushing the record to the controller…")
        record = await self._read_record(controller_id)
        try:
            async with open_link(self.devices[key], self._password(key)) as link:
                base = await link.read_config()
                pushed = await link.apply_config(record.config, base)
                after = await link.read_config()
        except FieldtechError as exc:
            self._failed("Not pushed", exc)
            return
        # What the device changed on the way (a name cut at its byte limit, a quote it cannot
        # store): said once, after the push, beside what a compare shows.
        changed = [n for n in pushed.notes if n not in after.notes]
        self.notify("Pushed to the controller." + "".join(f"\n{n}" for n in changed),
                    timeout=8 if changed else 3)
        self._show_difference(key, record, replace(after, notes=changed + after.notes),
                              "✓ Pushed.")

    def action_pull(self) -> None:
        if not ((key := self.selected()) and (row := self._bound_record(key))):
            return
        from fieldtech.screens.forms import ConfirmScreen

        question = (f"Take the controller's configuration into the record “{row.name}”? "
                    "It is saved as an edit that syncs later.")
        self.app.push_screen(ConfirmScreen(question),
                             lambda yes: yes and self._pull(key, row.controller_id))

    @work(exclusive=True, group="step", exit_on_error=False)
    async def _pull(self, key: str, controller_id: str) -> None:
        self.show_panel("Reading the controller's configuration…")
        try:
            read = await self._read_device(key)
        except FieldtechError as exc:
            self._failed("Not pulled", exc)
            return
        services = self.services

        def write() -> Controller:
            services.edits.pull_config(controller_id, read)
            return services.store.controller(controller_id)
        try:
            record = await asyncio.to_thread(write)
        except FieldtechError as exc:  # e.g. the device holds a value our model refuses
            self._failed("Not pulled", exc)
            return
        self.notify("Pulled into the record — saved, will sync.", timeout=3)
        self.post_message(RecordsChanged(keep=controller_id))
        self._show_difference(key, record, read, "✓ Pulled into the record.")

    # -- testing zones ----------------------------------------------------------------------------

    def action_test_zones(self) -> None:
        if (key := self.selected()) is None:
            return
        device = self.devices[key]
        row = self._record_row(device)
        zone_count = device.zone_count or (row.zone_count if row else 0) or 8
        self._form(f"Test zones on {device.serial or device.address}",
                   zone_test_form(zone_count, self.services.onsite.zone_test_seconds),
                   lambda test: self._test_zones(key, test), "Test")

    @work(exclusive=True, group="zonetest", exit_on_error=False)
    async def _test_zones(self, key: str, test: ZoneTest) -> None:
        device = self.devices[key]
        title = f"[b]Testing zones on {escape(device.serial or device.address)}[/b] — " \
                "[b]x[/b] stops everything"
        self.show_panel(f"{title}\nStarting…")
        done: list[int] = []
        results: list[tuple[int, bool, str]] = []  # (zone, ok, note) for today's work order
        try:
            async with (
                open_link(device, self._password(key)) as link,
                contextlib.aclosing(test_zones(link, test.zones, test.seconds)) as run,
            ):
                async for event in run:
                    if event.kind == "running":
                        now = (f"▶ Zone {event.zone} ({event.index + 1} of {event.total}) "
                               f"running — {event.seconds_left} s left")
                    elif event.kind == "done":
                        done.append(event.zone or 0)
                        results.append((event.zone or 0, True, ""))
                        continue
                    elif event.kind == "error":
                        error = event.error or LinkError("unknown error")
                        results.append((event.zone or 0, False, str(error)))
                        self._attach_to_visit(key, results)
                        self._failed(f"Zone test stopped at zone {event.zone}", error)
                        return
                    else:
                        now = f"✓ {escape(event.describe())}"
                        self._attach_to_visit(key, results)
                    tested = " ".join(map(str, done)) or "none yet"
                    self.show_panel(f"{title}\n{now}\nTested: {tested}")
        except asyncio.CancelledError:
            # test_zones stopped every zone on the way out (its finally), before we get here
            self._attach_to_visit(key, results)  # with x, or by leaving: those tested so far
            self.show_panel("■ Stopped: every zone is off.")
            raise
        except FieldtechError as exc:
            self._failed("Zone test failed", exc)

    def _attach_to_visit(self, key: str, results: list[tuple[int, bool, str]]) -> None:
        """The results go to today's open work order of the controller's customer, if any;
        the technician is told which. The app's worker, not this screen's: leaving the screen
        stops the test and takes the screen's workers with it, and the zones tested so far
        still go to the visit."""
        row = self._record_row(self.devices[key]) if key in self.devices else None
        if row is None or not row.controller_id or not results:
            return
        app, edits, controller_id = self.app, self.services.edits, row.controller_id
        tested = list(results)

        def attach() -> None:
            try:
                visit = WorkOrderService(edits).attach_site_test(
                    controller_id, edits.store.today(), tested)  # the contractor's day
            except Exception as exc:  # a refusal, a busy store: the technician is told
                app.call_from_thread(app.notify, f"Zone tests not attached: {exc}",
                                     severity="error", timeout=8)
                return
            if visit is not None:
                n = len(tested)
                app.call_from_thread(
                    app.notify, f"{n} zone test{'s' if n > 1 else ''} attached to today's "
                    f"work order: {visit.data.get('visit')} for {visit.customer_name}.",
                    timeout=6)
                app.call_from_thread(app.post_message, RecordsChanged())
        app.run_worker(attach, thread=True, group="zonetest-visit", exit_on_error=False)

    def action_stop(self) -> None:
        running = [w for w in self.workers if w.group == "zonetest" and w.is_running]
        if running:
            for worker in running:
                worker.cancel()
            self.show_panel("■ Stopping every zone…")
            return
        if (key := self.selected()) is not None and self.devices[key].driver != "improv":
            self._stop_all(key)

    @work(group="stop", exit_on_error=False)
    async def _stop_all(self, key: str) -> None:
        try:
            async with open_link(self.devices[key], self._password(key)) as link:
                await link.stop_all()
        except FieldtechError as exc:
            self._failed("Could not stop the zones", exc)
            return
        self.show_panel("■ Stopped: every zone is off.")

    # -- Wi-Fi over the cable -------------------------------------------------------------------

    def action_wifi(self) -> None:
        key = None
        table = self.query_one("#onsite-devices", DataTable)
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        port = key if key and self.devices[key].transport == "serial" else ""
        port = port or next(iter(self._port_names()), "")
        if not port:
            self._form("Set Wi-Fi over the serial cable (Improv)", wifi_form(port),
                       self._set_wifi, "Set Wi-Fi")
            return
        self._scan_then_ask(port)

    @work(exclusive=True, group="wifi", exit_on_error=False)
    async def _scan_then_ask(self, port: str) -> None:
        """The networks the controller sees, to pick from (a scan takes a few seconds)."""
        self.show_panel(f"Asking the controller on {escape(port)} which Wi-Fi networks it "
                        "sees…")
        networks: list[Any] = []
        try:
            async with ImprovClient(port) as improv:
                networks = await improv.scan_networks()
        except FieldtechError as exc:  # still set Wi-Fi by typing the network's name
            self.show_panel(f"No scan: {escape(str(exc))} Type the network's name.")
        else:
            self.show_panel(f"The controller sees {len(networks)} network"
                            f"{'s' if len(networks) != 1 else ''}.")
        self._form("Set Wi-Fi over the serial cable (Improv)", wifi_form(port, networks),
                   self._set_wifi, "Set Wi-Fi")

    @work(exclusive=True, group="wifi", exit_on_error=False)
    async def _set_wifi(self, setup: WifiSetup) -> None:
        self.show_panel(f"Sending Wi-Fi “{escape(setup.ssid)}” over {escape(setup.port)}…")
        try:
            async with ImprovClient(setup.port) as improv:
                status = await improv.set_wifi(setup.ssid, setup.password)
        except FieldtechError as exc:
            self._failed("Wi-Fi not set", exc)
            return
        where = f" It reports {escape(status.url)}: press [b]a[/b] to connect to it." \
            if status.url else ""
        self.show_panel(f"✓ The controller joined “{escape(setup.ssid)}”.{where}")
        self.notify("Wi-Fi set.", timeout=3)

    # -- helpers --------------------------------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # The steps catch every error they expect; anything else still ends as a message.
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self._failed("Something went wrong", event.worker.error)

    def _form(self, title: str, form: tuple, then: Callable[[Any], Any],
              action: str = "Save") -> None:
        from fieldtech.screens.forms import FormScreen

        fields, build = form
        self.app.push_screen(FormScreen(title, fields, build, action),
                             lambda result: result is not None and then(result))

    def action_back(self) -> None:
        # Leaving removes this screen and cancels its workers: a running zone test stops.
        self.app.pop_screen()

"""Talking to real controllers: discovery (mDNS, serial, subnet probe), transports and drivers.

The public API, for the TUI and scripts (nothing here imports textual):

- Drivers behind one interface: `ControllerLink` (`NativeLink`, `OpenSprinklerLink`), opened
  from a found device with `open_link(device, password)`; Wi-Fi over a cable: `ImprovClient`
  (`scan_networks()` lists `WifiNetwork`s to pick from, `set_wifi()` sends the credentials).
- Discovery: `MdnsBrowser` (live `DiscoveryEvent`s), `list_serial_ports` +
  `probe_serial_port(s)`, `probe_opensprinkler(hosts, …)` with `hosts_in_subnet(cidr)`,
  `identify_address(typed host:port)`.
- On site: `match_devices` / `match_controller`, `bind_serial`, `diff_config`,
  `merge_pulled`, `test_zones`.
- Errors: every one a `LinkError` (controller_link.errors), written for the technician.
"""

from fieldtech.controller_link.errors import LinkError
from fieldtech.controller_link.improv import (
    ImprovClient,
    ImprovDeviceInfo,
    ImprovState,
    ImprovStatus,
    WifiNetwork,
)
from fieldtech.controller_link.link import (
    ControllerLink,
    DeviceConfig,
    DeviceInfo,
    DeviceStatus,
    RunningZone,
)
from fieldtech.controller_link.mdns import DiscoveryEvent, MdnsBrowser, discover_mdns
from fieldtech.controller_link.native import NativeLink
from fieldtech.controller_link.onsite import (
    Binding,
    ConfigDifference,
    FoundDevice,
    ZoneTestEvent,
    bind_serial,
    diff_config,
    match_controller,
    match_devices,
    merge_pulled,
    open_link,
    test_zones,
)
from fieldtech.controller_link.opensprinkler import OpenSprinklerLink
from fieldtech.controller_link.probe import identify_address, probe_opensprinkler
from fieldtech.controller_link.safety import LOOPBACK_INTERFACES, hosts_in_subnet
from fieldtech.controller_link.serial_ports import (
    ProbeResult,
    SerialPortInfo,
    list_serial_ports,
    probe_serial_port,
    probe_serial_ports,
)

__all__ = [
    "LOOPBACK_INTERFACES",
    "Binding",
    "ConfigDifference",
    "ControllerLink",
    "DeviceConfig",
    "DeviceInfo",
    "DeviceStatus",
    "DiscoveryEvent",
    "FoundDevice",
    "ImprovClient",
    "ImprovDeviceInfo",
    "ImprovState",
    "ImprovStatus",
    "LinkError",
    "MdnsBrowser",
    "NativeLink",
    "OpenSprinklerLink",
    "ProbeResult",
    "RunningZone",
    "SerialPortInfo",
    "WifiNetwork",
    "ZoneTestEvent",
    "bind_serial",
    "diff_config",
    "discover_mdns",
    "hosts_in_subnet",
    "identify_address",
    "list_serial_ports",
    "match_controller",
    "match_devices",
    "merge_pulled",
    "open_link",
    "probe_opensprinkler",
    "probe_serial_port",
    "probe_serial_ports",
    "test_zones",
]

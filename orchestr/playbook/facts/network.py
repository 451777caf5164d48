"""Facts of Ansible's Linux "network" collector (module_utils/facts/network/linux.py): the
interfaces from /sys/class/net with their `ip addr` addresses, default_ipv4/ipv6 from `ip route
get`, all_ipv4/ipv6_addresses and locally_reachable_ips. Nothing at all without `ip`, as Ansible.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from orchestr.playbook.facts.script import ROUTE_PROBE_V4, ROUTE_PROBE_V6
from orchestr.playbook.facts.system import key_values, multi_values

_LINK_TYPES = {"1": "ether", "32": "infiniband", "512": "ppp", "772": "loopback",
               "65534": "tunnel"}  # fmt: skip
_SYSNET = "/sys/class/net/"


def network_facts(sections: Mapping[str, str], order: list[str]) -> dict[str, Any]:
    """`order` lists the section names as the script printed them (the interfaces' order)."""
    if "route_v4" not in sections:
        return {}  # no `ip` on the host
    default_v4 = _route(sections.get("route_v4", ""), ROUTE_PROBE_V4)
    default_v6 = _route(sections.get("route_v6", ""), ROUTE_PROBE_V6)
    sysfs = _sysfs(sections.get("sysnet", ""))
    interfaces: dict[str, dict[str, Any]] = {}
    all_v4: list[str] = []
    all_v6: list[str] = []
    macaddress = None  # as in Ansible, the last address file read, shared by the loop
    for name in order:
        if not name.startswith("iface "):
            continue
        device = name[len("iface ") :]
        info = key_values(sections[name])
        has = set(multi_values(sections[name], "has"))
        files = sysfs.get(device, {})
        entry: dict[str, Any] = {"device": device}
        interfaces[device] = entry
        if "address" in has:
            macaddress = files.get("address", "")
            if macaddress and macaddress != "00:00:00:00:00:00":
                entry["macaddress"] = macaddress
        if "mtu" in has and files.get("mtu", "").isdigit():
            entry["mtu"] = int(files["mtu"])
        if "operstate" in has:
            entry["active"] = files.get("operstate") != "down"
        if "module" in info:
            entry["module"] = info["module"].rsplit("/", 1)[-1]
        if "type" in has:
            entry["type"] = _LINK_TYPES.get(files.get("type", ""), "unknown")
        if "bridge" in has:
            entry["type"] = "bridge"
            entry["interfaces"] = multi_values(sections[name], "brif")
            if "bridge/bridge_id" in files:
                entry["id"] = files["bridge/bridge_id"]
            if "bridge/stp_state" in files:
                entry["stp"] = files["bridge/stp_state"] == "1"
        if "bonding" in has:
            _bonding(entry, files)
        if "bonding_slave" in has:
            entry["perm_macaddress"] = files.get("bonding_slave/perm_hwaddr", "")
        if "device" in has and "pciid" in info:
            entry["pciid"] = info["pciid"].rsplit("/", 1)[-1]
        if "speed" in files and re.fullmatch(r"-?\d+", files["speed"]):
            entry["speed"] = int(files["speed"])
        if "flags" in files:
            entry["promisc"] = int(files["flags"], 16) & 0x0100 > 0
        context = _Addresses(device, interfaces, default_v4, default_v6, macaddress, all_v4, all_v6)
        primary = sections.get(f"addr_primary {device}", "")
        context.parse(primary.replace("@fallback\n", ""), secondary=False)
        context.parse(sections.get(f"addr_secondary {device}", ""), secondary=True)
        entry.update(_ethtool(sections, device))
    renamed = {name.replace(":", "_"): value for name, value in interfaces.items()}
    facts: dict[str, Any] = {"interfaces": list(renamed)}
    facts.update(renamed)
    facts.update(
        default_ipv4=default_v4,
        default_ipv6=default_v6,
        all_ipv4_addresses=all_v4,
        all_ipv6_addresses=all_v6,
        locally_reachable_ips=_local_routes(sections.get("route_local", "")),
    )
    return facts


def _route(output: str, probe: str) -> dict[str, Any]:
    lines = output.splitlines()
    words = lines[0].split() if lines else []
    found: dict[str, Any] = {}
    if not words or words[0] != probe:
        return found
    for index in range(len(words) - 1):
        if words[index] == "dev":
            found["interface"] = words[index + 1]
        elif words[index] == "src":
            found["address"] = words[index + 1]
        elif words[index] == "via" and words[index + 1] != probe:
            found["gateway"] = words[index + 1]
    return found


def _sysfs(grep_output: str) -> dict[str, dict[str, str]]:
    """`grep -H ''` over /sys/class/net/*/{address,mtu,...}: device -> {relative path: value}."""
    found: dict[str, dict[str, str]] = {}
    for line in grep_output.splitlines():
        path, sep, value = line.partition(":")
        if not sep or not path.startswith(_SYSNET):
            continue
        device, _, relative = path[len(_SYSNET) :].partition("/")
        values = found.setdefault(device, {})
        if relative in values and relative.startswith("bonding/"):
            values[relative] += "\n" + value.strip()
        else:
            values[relative] = value.strip()
    return found


def _bonding(entry: dict[str, Any], files: Mapping[str, str]) -> None:
    entry["type"] = "bonding"
    entry["slaves"] = files.get("bonding/slaves", "").split()
    for key in ("mode", "miimon", "lacp_rate"):
        words = files.get(f"bonding/{key}", "").split()
        entry[key] = words[0] if words else ""
    primary = files.get("bonding/primary", "")
    if primary:
        entry["primary"] = primary
        if "bonding/all_slaves_active" in files:
            entry["all_slaves_active"] = files["bonding/all_slaves_active"] == "1"


class _Addresses:
    """`ip addr show [primary|secondary] dev X` lines into the interfaces, as Ansible reads them
    (an address labelled "eth0:1" makes an interface of its own; the default route's address
    gets the netmask, network, MAC and MTU of the device it is on)."""

    def __init__(self, device, interfaces, default_v4, default_v6, macaddress, all_v4, all_v6):
        self.device, self.interfaces = device, interfaces
        self.default_v4, self.default_v6 = default_v4, default_v6
        self.macaddress, self.all_v4, self.all_v6 = macaddress, all_v4, all_v6

    def parse(self, output: str, secondary: bool) -> None:
        for line in output.splitlines():
            words = line.split()
            if not words:
                continue
            if words[0] == "inet":
                self._inet(words, secondary)
            elif words[0] == "inet6" and len(words) > 3:
                self._inet6(words)

    def _inet(self, words: list[str], secondary: bool) -> None:
        broadcast = ""
        if "/" in words[1]:
            address, prefix = words[1].split("/")
            if len(words) > 3 and words[2] == "brd":
                broadcast = words[3]
        else:
            address, prefix = words[1], "32"  # point-to-point: no prefix
        network = ipaddress.IPv4Network(f"{address}/{prefix}", strict=False)
        details = {"address": address, "broadcast": broadcast, "netmask": str(network.netmask),
                   "network": str(network.network_address), "prefix": prefix}  # fmt: skip
        label = words[-1]
        if label != self.device:
            self.interfaces[label] = {}
        target = self.interfaces[label]
        if not secondary and "ipv4" not in target:
            target["ipv4"] = details
        else:
            target.setdefault("ipv4_secondaries", []).append(dict(details))
        if secondary:
            main = self.interfaces[self.device].setdefault("ipv4_secondaries", [])
            if label != self.device:
                main.append(dict(details))
        if self.default_v4.get("address") == address:
            device = self.interfaces[self.device]
            self.default_v4.update(broadcast=broadcast, netmask=details["netmask"],
                                   network=details["network"], prefix=prefix,
                                   macaddress=self.macaddress, mtu=device.get("mtu"),
                                   type=device.get("type", "unknown"), alias=label)  # fmt: skip
        if not address.startswith("127."):
            self.all_v4.append(address)

    def _inet6(self, words: list[str]) -> None:
        if words[2] == "peer":
            address, prefix, scope = words[1], words[3].split("/")[1], words[5]
        else:
            address, prefix = words[1].split("/")
            scope = words[3]
        device = self.interfaces[self.device]
        device.setdefault("ipv6", []).append({"address": address, "prefix": prefix, "scope": scope})
        if self.default_v6.get("address") == address:
            self.default_v6.update(prefix=prefix, scope=scope, macaddress=self.macaddress,
                                   mtu=device.get("mtu"), type=device.get("type", "unknown"))  # fmt: skip
        if address != "::1":
            self.all_v6.append(address)


def _local_routes(output: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {"ipv4": [], "ipv6": []}
    for line in output.splitlines():
        words = line.split()
        if len(words) < 2 or words[0] != "local":
            continue
        family = found["ipv6" if ":" in words[1] else "ipv4"]
        if words[1] not in family:
            family.append(words[1])
    return found


def _ethtool(sections: Mapping[str, str], device: str) -> dict[str, Any]:
    data: dict[str, Any] = {}
    features_output = sections.get(f"ethtool_k {device}")
    if features_output is not None and "@failed" not in features_output.splitlines():
        features = {}
        for line in features_output.strip().splitlines():
            if not line or line.endswith(":") or ": " not in line:
                continue
            key, value = line.split(": ", 1)
            if value:
                features[key.strip().replace("-", "_")] = value.strip()
        data["features"] = features
    stamping = sections.get(f"ethtool_t {device}")
    if stamping is not None and "@failed" not in stamping.splitlines():
        data["timestamping"] = [m.lower() for m in re.findall(r"SOF_TIMESTAMPING_(\w+)", stamping)]
        data["hw_timestamp_filters"] = [
            m.lower() for m in re.findall(r"HWTSTAMP_FILTER_(\w+)", stamping)
        ]
        clock = re.search(r"PTP Hardware Clock: (\d+)", stamping)
        if clock:
            data["phc_index"] = int(clock.group(1))
    return data

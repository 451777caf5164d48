"""Facts of Ansible's Linux "hardware" collector: processors, memory, DMI, uptime, LVM and
mounts (module_utils/facts/hardware/linux.py), from the script's sections. Block devices
(ansible_devices, ansible_device_links) are not gathered."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from orchestr.playbook.facts.script import DMI_FILES
from orchestr.playbook.facts.system import first_line

DMI_DIR = "/sys/devices/virtual/dmi/id"

# SMBIOS chassis types (DMTF DSP0134), by number.
FORM_FACTORS = (
    "Unknown", "Other", "Unknown", "Desktop", "Low Profile Desktop", "Pizza Box", "Mini Tower",
    "Tower", "Portable", "Laptop", "Notebook", "Hand Held", "Docking Station", "All In One",
    "Sub Notebook", "Space-saving", "Lunch Box", "Main Server Chassis", "Expansion Chassis",
    "Sub Chassis", "Bus Expansion Chassis", "Peripheral Chassis", "RAID Chassis",
    "Rack Mount Chassis", "Sealed-case PC", "Multi-system", "CompactPCI", "AdvancedTCA", "Blade",
    "Blade Enclosure", "Tablet", "Convertible", "Detachable", "IoT Gateway", "Embedded PC",
    "Mini PC", "Stick PC",
)  # fmt: skip

_CPU_NAME_KEYS = ("model name", "Processor", "vendor_id", "cpu", "Vendor", "processor")


def cpu_facts(cpuinfo: str | None, xen_type: str | None, architecture: str,
              nproc: str | None) -> dict[str, Any]:  # fmt: skip
    if cpuinfo is None:
        return {}
    lines = cpuinfo.strip().splitlines()
    xen = "@xen" in lines or first_line(xen_type) == "xen"
    facts: dict[str, Any] = {"processor": []}
    count = vendors = models = processors = 0
    physical, core = "0", "0"
    sockets: dict[str, int] = {}
    cores: dict[str, int] = {}
    zp = zmt = 0
    paravirt = False
    for line in lines:
        if line == "@xen":
            continue
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "flags":
            facts["flags"] = value.split()
            if xen and "vme" not in value:
                paravirt = True
        if key in _CPU_NAME_KEYS:
            facts["processor"].append(value)
            vendors += key == "vendor_id"
            models += key == "model name"
            processors += key == "processor"
            count += 1
        elif key == "physical id":
            physical = value
            sockets.setdefault(physical, 1)
        elif key == "core id":
            core = value
            if core not in sockets:  # (sic: Ansible tests sockets here)
                cores[core] = 1
        elif key == "cpu cores":
            sockets[physical] = int(value)
        elif key == "siblings":
            cores[core] = int(value)
        elif key == "# processors":
            zp = int(value)
        elif key == "max thread id":
            zmt = int(value) + 1
        elif key == "ncpus active":
            count = int(value)
    if vendors > 0 and vendors == models:
        count = vendors
    if architecture.startswith(("armv", "aarch", "ppc")):
        count = processors
    if architecture == "s390x":
        facts.update(processor_count=1, processor_cores=round(zp / zmt) if zmt else 0,
                     processor_threads_per_core=zmt, processor_vcpus=zp, processor_nproc=zp)  # fmt: skip
    elif paravirt:
        facts.update(processor_count=count, processor_cores=count, processor_threads_per_core=1,
                     processor_vcpus=count, processor_nproc=count)  # fmt: skip
    else:
        facts["processor_count"] = len(sockets) if sockets else count
        per_socket = list(sockets.values())
        facts["processor_cores"] = per_socket[0] if per_socket and per_socket[0] else 1
        per_core = list(cores.values())
        threads = (
            per_core[0] / facts["processor_cores"] if per_core else 1 / facts["processor_cores"]
        )
        facts["processor_threads_per_core"] = round(threads)
        facts["processor_vcpus"] = (facts["processor_threads_per_core"]
                                    * facts["processor_count"] * facts["processor_cores"])  # fmt: skip
        facts["processor_nproc"] = processors
    if nproc and nproc.strip().isdigit():
        facts["processor_nproc"] = int(nproc.strip())
    return facts


def memory_facts(meminfo: str | None) -> dict[str, Any]:
    if meminfo is None:
        return {}
    stats: dict[str, int] = {}
    facts: dict[str, Any] = {}
    for line in meminfo.strip().splitlines():
        key, _, value = line.partition(":")
        words = value.strip().split(" ")
        if key in ("MemTotal", "SwapTotal", "MemFree", "SwapFree", "Buffers", "Cached",
                   "SwapCached") and words[0].isdigit():  # fmt: skip
            stats[key.lower()] = int(words[0]) // 1024
            if key in ("MemTotal", "SwapTotal", "MemFree", "SwapFree"):
                facts[f"{key.lower()}_mb"] = stats[key.lower()]

    def minus(a: str, b: str) -> int | None:
        return stats[a] - stats[b] if a in stats and b in stats else None

    nocache_free = None
    if all(k in stats for k in ("cached", "memfree", "buffers")):
        nocache_free = stats["cached"] + stats["memfree"] + stats["buffers"]
    facts["memory_mb"] = {
        "real": {"total": stats.get("memtotal"), "used": minus("memtotal", "memfree"),
                 "free": stats.get("memfree")},
        "nocache": {"free": nocache_free,
                    "used": stats["memtotal"] - nocache_free
                    if nocache_free is not None and "memtotal" in stats else None},
        "swap": {"total": stats.get("swaptotal"), "free": stats.get("swapfree"),
                 "used": minus("swaptotal", "swapfree"), "cached": stats.get("swapcached")},
    }  # fmt: skip
    return facts


def dmi_facts(files: Mapping[str, str], sections: Mapping[str, str], sysfs: bool) -> dict:
    """From /sys's DMI files when the kernel has them, else `dmidecode -s`, else "NA"."""
    facts: dict[str, Any] = {}
    for fact, file, keyword in DMI_FILES:
        if sysfs:
            value = files.get(f"{DMI_DIR}/{file}")
            value = value.strip() if value is not None and value.strip() else None
        else:
            value = _dmidecode(sections, keyword)
        if value is None:
            facts[fact] = "NA"
        elif fact == "form_factor" and sysfs:
            number = int(value) if value.isdigit() else -1
            ok = 0 <= number < len(FORM_FACTORS)
            facts[fact] = FORM_FACTORS[number] if ok else f"unknown ({value})"
        else:
            facts[fact] = value
    return facts


def _dmidecode(sections: Mapping[str, str], keyword: str) -> str | None:
    for name, text in sections.items():
        parts = name.split()
        if len(parts) == 3 and parts[0] == "dmidecode" and parts[1] == keyword:
            if parts[2] != "0":
                return None
            return "".join(line for line in text.splitlines() if not line.startswith("#"))
    return None


def sysinfo_facts(sysinfo: str | None) -> dict[str, Any]:
    """IBM Z: /proc/sysinfo's manufacturer, type and sequence code."""
    if sysinfo is None:
        return {}
    facts = dict.fromkeys(("system_vendor", "product_version", "product_serial", "product_name",
                           "product_uuid"), "NA")  # fmt: skip
    for line in sysinfo.strip().splitlines():
        for pattern, fact in ((r"^Manufacturer:\s+(.+)$", "system_vendor"),
                              (r"^Type:\s+(.+)$", "product_name"),
                              (r"^Sequence Code:\s+0+(.+)$", "product_serial")):  # fmt: skip
            found = re.match(pattern, line)
            if found:
                facts[fact] = found.group(1)
    return facts


def uptime_facts(uptime: str | None) -> dict[str, Any]:
    words = (uptime or "").strip().split(" ")
    try:
        return {"uptime_seconds": int(float(words[0]))}
    except ValueError:
        return {}


def lvm_facts(sections: Mapping[str, str]) -> dict[str, Any]:
    if "lvm_vgs" not in sections:
        return {"lvm": "N/A"}
    vgs, lvs, pvs = {}, {}, {}
    for line in sections["lvm_vgs"].splitlines():
        items = line.strip().split(",")
        if len(items) >= 4:
            vgs[items[0]] = {"size_g": items[-2], "free_g": items[-1], "num_lvs": items[2],
                             "num_pvs": items[1]}  # fmt: skip
    for line in sections.get("lvm_lvs", "").splitlines():
        items = line.strip().split(",")
        if len(items) >= 4:
            lvs[items[0]] = {"size_g": items[3], "vg": items[1]}
    for line in sections.get("lvm_pvs", "").splitlines():
        items = line.strip().split(",")
        if len(items) >= 6:
            pvs[items[0]] = {"size_g": items[4], "free_g": items[5], "vg": items[1]}
    return {"lvm": {"lvs": lvs, "vgs": vgs, "pvs": pvs}}


# ------------------------------------------------------------------ mounts


def unescape_octal(text: str) -> str:
    """/proc/mounts writes space, tab, newline and backslash as \\040, \\011, \\012, \\134."""
    return re.sub(r"\\[0-9]{3}", lambda m: chr(int(m.group()[1:], 8)), text)


def mount_facts(sections: Mapping[str, str]) -> dict[str, Any]:
    if "mtab" not in sections:
        return {}
    binds = set()
    for line in sections.get("findmnt", "").splitlines():
        words = line.split()
        if len(words) >= 2 and re.match(r".*\]", words[1]):
            binds.add(words[0])
    uuids: dict[str, str] = {}
    for line in sections.get("lsblk", "").splitlines():
        words = line.strip().rsplit(None, 1)
        if len(words) == 2:
            uuids.setdefault(words[0].strip(), words[1].strip())
    udev = dict(_tab_pairs(sections.get("udevadm", "")))
    sizes = dict(_tab_pairs(sections.get("statvfs", "")))
    mounts: dict[str, dict[str, Any]] = {}
    for line in sections["mtab"].splitlines():
        raw = line.split()
        if len(raw) < 4:
            continue
        fields = [unescape_octal(field) for field in raw]
        device, mount, fstype, options = fields[:4]
        if (not device.startswith(("/", "\\")) and ":/" not in device) or fstype == "none":
            continue
        info: dict[str, Any] = {
            "mount": mount,
            "device": device,
            "fstype": fstype,
            "options": options,
            "dump": int(fields[4]) if len(fields) > 4 and fields[4].isdigit() else 0,
            "passno": int(fields[5]) if len(fields) > 5 and fields[5].isdigit() else 0,
        }
        if mount in binds and not re.match(r'.*bind.*"', options):
            info["options"] += ",bind"
        info.update(_sizes(sizes.get(raw[1], "")))
        info["uuid"] = uuids.get(device) or udev.get(raw[0]) or "N/A"
        mounts[mount] = info  # the last line for a mount point wins, as in Ansible
    return {"mounts": list(mounts.values())}


def _tab_pairs(text: str) -> list[tuple[str, str]]:
    pairs = []
    for line in text.splitlines():
        key, sep, value = line.partition("\t")
        if sep:
            pairs.append((key, value))
    return pairs


def _sizes(statfs: str) -> dict[str, int]:
    """`stat -f -c '%S %b %a %s %c %d'`: fragment size, blocks, blocks available, block size,
    inodes, inodes free -> Ansible's statvfs keys."""
    words = statfs.split()
    if len(words) != 6 or not all(word.isdigit() for word in words):
        return {}
    fragment, blocks, available, block_size, inodes, inodes_free = (int(w) for w in words)
    return {
        "size_total": fragment * blocks,
        "size_available": fragment * available,
        "block_size": block_size,
        "block_total": blocks,
        "block_available": available,
        "block_used": blocks - available,
        "inode_total": inodes,
        "inode_available": inodes_free,
        "inode_used": inodes - inodes_free,
    }

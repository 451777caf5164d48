"""gather_subset and filter, with Ansible's meaning (module_utils/facts/collector.py and the
setup module): which fact collectors run, and which of their facts are returned."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from typing import Any

# Ansible's Linux fact collectors and the fact names that select them too (`gather_subset:
# [mounts]` runs the whole hardware collector).
COLLECTORS: dict[str, tuple[str, ...]] = {
    "apparmor": (),
    "caps": ("system_capabilities", "system_capabilities_enforced"),
    "chroot": ("is_chroot",),
    "cmdline": (),
    "date_time": (),
    "distribution": ("distribution_major_version", "distribution_release",
                     "distribution_version", "os_family"),
    "dns": (),
    "env": (),
    "facter": ("facter",),
    "fibre_channel_wwn": (),
    "fips": (),
    "hardware": ("devices", "mounts", "processor", "processor_cores", "processor_count"),
    "iscsi": (),
    "loadavg": (),
    "local": (),
    "lsb": (),
    "network": ("all_ipv4_addresses", "all_ipv6_addresses", "default_ipv4", "default_ipv6",
                "interfaces"),
    "nvme": (),
    "ohai": (),
    "pkg_mgr": (),
    "platform": ("architecture", "kernel", "kernel_version", "machine", "machine_id",
                 "python_version", "system"),
    "python": (),
    "selinux": (),
    "service_mgr": (),
    "ssh_pub_keys": ("ssh_host_key_dsa_public", "ssh_host_key_ecdsa_public",
                     "ssh_host_key_ed25519_public", "ssh_host_key_rsa_public",
                     "ssh_host_pub_keys"),
    "systemd": (),
    "user": ("effective_group_ids", "effective_user_id", "real_user_id", "user_dir",
             "user_gecos", "user_gid", "user_id", "user_shell", "user_uid"),
    "virtual": ("virtualization_role", "virtualization_tech_guest", "virtualization_tech_host",
                "virtualization_type"),
}  # fmt: skip
# Collectors whose facts another one needs (it is gathered too, and returned).
REQUIRES: dict[str, tuple[str, ...]] = {
    "hardware": ("platform",),
    "network": ("distribution", "platform"),
    "pkg_mgr": ("distribution",),
    "service_mgr": ("distribution", "platform"),
}
# The setup module's minimal subset: gathered unless "!min" says otherwise.
MINIMAL = frozenset({"apparmor", "caps", "cmdline", "date_time", "distribution", "dns", "env",
                     "fips", "local", "lsb", "pkg_mgr", "platform", "python", "selinux",
                     "service_mgr", "ssh_pub_keys", "user"})  # fmt: skip
# What orchestr cannot gather without Python or without the tool on the host's side: these
# collectors are accepted and return nothing.
NOT_GATHERED = frozenset({"python", "facter", "ohai"})

_OWNERS: dict[str, set[str]] = {}
for _name, _ids in COLLECTORS.items():
    _OWNERS.setdefault(_name, set()).add(_name)
    for _id in _ids:
        _OWNERS.setdefault(_id, set()).add(_name)
VALID = frozenset(_OWNERS)


class SubsetError(ValueError):
    """A gather_subset entry that names nothing (Ansible's message)."""


def as_list(value: Any) -> list[str]:
    """A module `list` argument as AnsibleModule reads it: "a,b" is ["a", "b"]."""
    if value is None:
        return []
    if isinstance(value, str):
        return value.split(",")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [str(value)]
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        return [str(item) for item in value]
    raise SubsetError(f"{value!r} cannot be converted to a list")


def selected_ids(gather_subset: Iterable[str]) -> set[str]:
    """Ansible's get_collector_names: "min" first, then each entry in order; "!x" excludes x and
    its fact names; an explicit entry beats an exclusion; "!all" keeps the minimal subset."""
    wanted: set[str] = set()
    excluded: set[str] = set()
    explicit: set[str] = set()
    for entry in ["min", *(list(gather_subset) or ["all"])]:
        if entry == "min":
            wanted |= MINIMAL
        elif entry == "all":
            wanted |= VALID
        elif entry.startswith("!"):
            name = entry[1:]
            if name == "min":
                excluded |= MINIMAL
            elif name == "all":
                excluded |= VALID - MINIMAL
            else:
                excluded |= set(COLLECTORS.get(name, ())) | {name}
        elif entry not in VALID:
            allowed = ", ".join(sorted(VALID))
            raise SubsetError(
                f"Bad subset '{entry}' given to Ansible. gather_subset options allowed: all, {allowed}"
            )
        else:
            explicit.add(entry)
            wanted.add(entry)
    if not wanted:
        wanted = set(VALID)
    return wanted - (excluded - explicit)


def collectors_for(gather_subset: Iterable[str]) -> set[str]:
    """The collectors to run for a gather_subset, their prerequisites included."""
    names = {owner for fact_id in selected_ids(gather_subset) for owner in _OWNERS[fact_id]}
    pending = list(names)
    while pending:
        for required in REQUIRES.get(pending.pop(), ()):
            if required not in names:
                names.add(required)
                pending.append(required)
    return names


def apply_filter(facts: Mapping[str, Any], patterns: list[str]) -> dict[str, Any]:
    """The setup module's `filter`: fnmatch patterns on the ansible_-prefixed names; a pattern
    without that prefix also matches with it ("*_mb" finds ansible_memtotal_mb)."""
    if not patterns or patterns == ["*"]:
        return dict(facts)
    kept: dict[str, Any] = {}
    for pattern in patterns:
        unprefixed = not pattern.startswith(("ansible_", "facter", "ohai"))
        for name, value in facts.items():
            matches = not pattern or fnmatch.fnmatch(name, pattern)
            if matches or (unprefixed and fnmatch.fnmatch(name, f"ansible_{pattern}")):
                kept[name] = value
    return kept

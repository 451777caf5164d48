"""From the script's output to facts: a pure function of the text (tests feed it recordings)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from orchestr.playbook.facts import distribution, hardware, network, system, virtual
from orchestr.playbook.facts.system import key_values


@dataclass
class Sections:
    """The script's output cut at its "\\036NAME" lines."""

    files: dict[str, str] = field(default_factory=dict)  # "file PATH" sections: path -> content
    named: dict[str, str] = field(default_factory=dict)  # every other section by name
    order: list[str] = field(default_factory=list)  # section names as printed

    def get(self, name: str) -> str | None:
        return self.named.get(name)


def split_sections(output: str) -> Sections:
    sections = Sections()
    for chunk in output.split("\036")[1:]:
        name, _, body = chunk.partition("\n")
        if name.startswith("file "):
            # The script adds a newline after each file: the content is exact without it.
            sections.files[name[len("file ") :]] = body[:-1] if body.endswith("\n") else body
        else:
            sections.named[name] = body
        sections.order.append(name)
    return sections


Reader = Callable[[Sections, dict[str, Any]], dict[str, Any]]

# Collectors that read one section or file (a registry, in Ansible's fact order), before and
# after the local facts.
ONE_SOURCE_BEFORE_LOCAL: dict[str, Reader] = {
    "pkg_mgr": lambda raw, known: system.pkg_mgr_facts(raw.get("pkg_mgr"),
                                                       known.get("os_family", "")),
    "service_mgr": lambda raw, known: system.service_mgr_facts(raw.get("service_mgr"), known),
    "systemd": lambda raw, _: system.systemd_facts(raw.get("service_mgr"),
                                                   raw.get("systemctl_version")),
    "user": lambda raw, _: system.user_facts(raw.get("user")),
    "env": lambda raw, _: system.env_facts(raw.get("env")),
    "date_time": lambda raw, _: system.date_time_facts(raw.get("date_time")),
    "dns": lambda raw, _: system.dns_facts(raw.files.get("/etc/resolv.conf")),
    "cmdline": lambda raw, _: system.cmdline_facts(raw.files.get("/proc/cmdline")),
    "fips": lambda raw, _: system.fips_facts(raw.files.get("/proc/sys/crypto/fips_enabled")),
    "loadavg": lambda raw, _: system.loadavg_facts(raw.files.get("/proc/loadavg")),
    "apparmor": lambda raw, _: system.apparmor_facts(raw.get("apparmor")),
    "caps": lambda raw, _: system.caps_facts(raw.get("capsh")),
    "selinux": lambda raw, _: system.selinux_facts(raw.files),
    "ssh_pub_keys": lambda raw, _: system.ssh_pub_key_facts(raw.files),
    "chroot": lambda raw, _: system.chroot_facts(raw.get("chroot")),
}  # fmt: skip
ONE_SOURCE_AFTER_LOCAL: dict[str, Reader] = {
    "iscsi": lambda raw, _: system.iscsi_facts(raw.files.get("/etc/iscsi/initiatorname.iscsi")),
    "nvme": lambda raw, _: system.nvme_facts(raw.files.get("/etc/nvme/hostnqn")),
    "fibre_channel_wwn": lambda raw, _: system.fibre_channel_facts(raw.files),
}  # fmt: skip


def collect(output: str, collectors: Iterable[str]) -> tuple[dict[str, Any], list[str]]:
    """Facts (without the ansible_ prefix) of the given collectors, and warnings."""
    wanted = set(collectors)
    raw = split_sections(output)
    files = raw.files
    facts: dict[str, Any] = {}
    warnings: list[str] = []
    if "platform" in wanted:
        facts.update(system.platform_facts(raw.get("platform"), files, raw.get("fqdn")))
    system_name = key_values(raw.get("platform")).get("system", "Linux")
    extra = {name: raw.named[name] for name in ("tzdata", "suse_baseproduct") if name in raw.named}
    known = dict(facts)
    if {"distribution", "pkg_mgr", "service_mgr", "network"} & wanted:
        if system_name == "Linux":
            known.update(distribution.linux_distribution(files, raw.get("lsb_release"), extra))
        else:
            known.update(distribution.other_distribution(
                system_name, facts.get("kernel", ""), facts.get("kernel_version", "")))  # fmt: skip
    if "distribution" in wanted:
        for key in ("distribution", "distribution_version", "distribution_release",
                    "distribution_major_version", "distribution_minor_version", "os_family",
                    "distribution_file_path", "distribution_file_variety",
                    "distribution_file_parsed", "distribution_file_search_string"):  # fmt: skip
            if key in known:
                facts[key] = known[key]
    if "lsb" in wanted:
        facts["lsb"] = distribution.lsb_facts(files, raw.get("lsb_release"))
    for name, read in ONE_SOURCE_BEFORE_LOCAL.items():
        if name in wanted:
            facts.update(read(raw, known))
    if "local" in wanted:
        entries = [
            (kind, path, raw.named[name])
            for name in raw.order
            for kind, _, path in [name.partition(" ")]
            if kind in ("fact_run", "fact_file", "fact_unreadable")
        ]
        local, local_warnings = system.local_facts(sorted(entries, key=lambda e: e[1]))
        facts.update(local)
        warnings += local_warnings
    for name, read in ONE_SOURCE_AFTER_LOCAL.items():
        if name in wanted:
            facts.update(read(raw, known))
    if "hardware" in wanted and system_name == "Linux":
        facts.update(_hardware(raw, known.get("architecture", "")))
    if "network" in wanted and system_name == "Linux":
        facts.update(network.network_facts(raw.named, raw.order))
    if "virtual" in wanted and system_name == "Linux":
        cpuinfo = raw.get("cpuinfo")
        environ = raw.get("proc1_environ")
        facts.update(virtual.virtual_facts(raw.get("virtual"), files, environ, cpuinfo))
    return facts, warnings


def _hardware(raw: Sections, architecture: str) -> dict[str, Any]:
    files = raw.files
    facts: dict[str, Any] = {}
    facts.update(hardware.cpu_facts(raw.get("cpuinfo"), files.get("/sys/hypervisor/type"),
                                    architecture, raw.get("nproc")))  # fmt: skip
    facts.update(hardware.memory_facts(files.get("/proc/meminfo")))
    facts.update(hardware.dmi_facts(files, raw.named, sysfs="dmi_sys" in raw.named))
    facts.update(hardware.sysinfo_facts(files.get("/proc/sysinfo")))
    facts.update(hardware.uptime_facts(files.get("/proc/uptime")))
    facts.update(hardware.lvm_facts(raw.named))
    facts.update(hardware.mount_facts(raw.named))
    return facts

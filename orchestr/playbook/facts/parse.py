"""From the script's output to facts: a pure function of the text (tests feed it recordings)."""

from __future__ import annotations

from collections.abc import Iterable
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
    if "pkg_mgr" in wanted:
        facts.update(system.pkg_mgr_facts(raw.get("pkg_mgr"), known.get("os_family", "")))
    if "service_mgr" in wanted:
        facts.update(system.service_mgr_facts(raw.get("service_mgr"), known))
    if "systemd" in wanted:
        facts.update(system.systemd_facts(raw.get("service_mgr"), raw.get("systemctl_version")))
    if "user" in wanted:
        facts.update(system.user_facts(raw.get("user")))
    if "env" in wanted:
        facts.update(system.env_facts(raw.get("env")))
    if "date_time" in wanted:
        facts.update(system.date_time_facts(raw.get("date_time")))
    if "dns" in wanted:
        facts.update(system.dns_facts(files.get("/etc/resolv.conf")))
    if "cmdline" in wanted:
        facts.update(system.cmdline_facts(files.get("/proc/cmdline")))
    if "fips" in wanted:
        facts.update(system.fips_facts(files.get("/proc/sys/crypto/fips_enabled")))
    if "loadavg" in wanted:
        facts.update(system.loadavg_facts(files.get("/proc/loadavg")))
    if "apparmor" in wanted:
        facts.update(system.apparmor_facts(raw.get("apparmor")))
    if "caps" in wanted:
        facts.update(system.caps_facts(raw.get("capsh")))
    if "selinux" in wanted:
        facts.update(system.selinux_facts(files))
    if "ssh_pub_keys" in wanted:
        facts.update(system.ssh_pub_key_facts(files))
    if "chroot" in wanted:
        facts.update(system.chroot_facts(raw.get("chroot")))
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
    if "iscsi" in wanted:
        facts.update(system.iscsi_facts(files.get("/etc/iscsi/initiatorname.iscsi")))
    if "nvme" in wanted:
        facts.update(system.nvme_facts(files.get("/etc/nvme/hostnqn")))
    if "fibre_channel_wwn" in wanted:
        facts.update(system.fibre_channel_facts(files))
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

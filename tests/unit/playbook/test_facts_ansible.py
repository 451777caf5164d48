"""Facts under Ansible's names (orchestr.playbook.facts): the pure parser on recorded outputs
(a Debian lab host, an Alpine/busybox host, a RedHat-like host), the script itself under dash
and busybox sh on this machine, and Ansible's own code as the oracle for the distribution,
gather_subset, filter and processor logic."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from orchestr.playbook.facts import SubsetError, collect, command, gather, prefixed, store_facts
from orchestr.playbook.facts import distribution as ours_distribution
from orchestr.playbook.facts.hardware import cpu_facts, mount_facts
from orchestr.playbook.facts.network import network_facts
from orchestr.playbook.facts.parse import split_sections
from orchestr.playbook.facts.script import SCRIPT
from orchestr.playbook.facts.subsets import MINIMAL, apply_filter, collectors_for, selected_ids
from orchestr.playbook.facts.system import date_time_facts, env_facts, local_facts
from orchestr.transport.base import Result

RECORDINGS = Path(__file__).parent / "facts_recordings"
ALL = collectors_for(["all"])


def recorded(name: str) -> dict[str, Any]:
    facts, _ = collect((RECORDINGS / f"{name}.txt").read_text(), ALL)
    return facts


# ------------------------------------------------------------------ recorded outputs


def test_debian_lab_host():
    facts = recorded("debian12_lab")
    assert facts["distribution"] == "Debian"
    assert facts["distribution_version"] == "12.15"  # /etc/debian_version, as Ansible
    assert facts["distribution_major_version"] == "12"
    assert facts["distribution_minor_version"] == "15"
    assert facts["distribution_release"] == "bookworm"
    assert facts["distribution_file_path"] == "/etc/os-release"
    assert facts["os_family"] == "Debian"
    assert facts["pkg_mgr"] == "apt"
    assert facts["service_mgr"] == "docker-init"  # PID 1 of a lab container
    assert (facts["hostname"], facts["nodename"], facts["fqdn"], facts["domain"]) == (
        "node1", "node1", "node1", "")  # fmt: skip
    assert facts["default_ipv4"] == {
        "address": "198.18.0.9", "alias": "eth0", "broadcast": "198.18.0.255",
        "gateway": "198.18.0.1", "interface": "eth0", "macaddress": "02:42:c6:12:00:09",
        "mtu": 1500, "netmask": "255.255.255.0", "network": "198.18.0.0", "prefix": "24",
        "type": "ether",
    }  # fmt: skip
    assert facts["default_ipv6"] == {}
    assert facts["all_ipv4_addresses"] == ["172.17.0.1", "198.18.0.9"]
    assert facts["interfaces"] == ["lo", "docker0", "eth0"]
    assert facts["docker0"]["type"] == "bridge" and facts["docker0"]["active"] is False
    assert facts["lo"]["ipv4"]["network"] == "127.0.0.0"
    assert (facts["architecture"], facts["machine"], facts["system"]) == (
        "x86_64",
        "x86_64",
        "Linux",
    )
    assert (facts["userspace_bits"], facts["userspace_architecture"]) == ("64", "x86_64")
    assert facts["processor_vcpus"] == 2 and facts["processor_count"] == 1
    assert facts["processor_cores"] == 2 and facts["processor_threads_per_core"] == 1
    assert facts["memtotal_mb"] == 24105
    assert facts["user_id"] == "root" and facts["user_dir"] == "/root"
    assert facts["user_shell"] == "/bin/bash" and facts["user_uid"] == 0
    assert facts["env"]["HOME"] == "/root" and facts["env"]["SHLVL"] == "0"
    assert facts["date_time"]["iso8601"] == "2026-12-04T17:16:48Z"
    assert facts["date_time"]["iso8601_micro"] == "2026-12-04T17:16:48.704610Z"
    assert facts["date_time"]["weekday"] == "Friday" and facts["date_time"]["tz_dst"] == "UTC"
    mounts = {m["mount"]: m for m in facts["mounts"]}
    assert sorted(mounts) == [
        "/etc/hostname",
        "/etc/hosts",
        "/etc/resolv.conf",
        "/etc/ssh/orchestr-lab",
        "/usr/sbin/docker-init",
        "/var/lib/docker",
    ]
    hosts = mounts["/etc/hosts"]
    assert hosts["options"].endswith(",bind") and hosts["uuid"] == "N/A"
    assert hosts["size_total"] == hosts["block_total"] * 4096
    assert facts["virtualization_type"] == "docker" and facts["virtualization_role"] == "guest"
    assert facts["virtualization_tech_guest"] == ["container", "docker"]
    assert facts["system_capabilities_enforced"] == "True"
    assert facts["dns"] == {"nameservers": ["127.0.0.11"], "options": {"ndots": "0"}}
    assert facts["lvm"] == "N/A" and facts["local"] == {} and facts["lsb"] == {}
    assert facts["bios_vendor"] == "NA"  # no DMI in the lab's virtual machine


def test_alpine_busybox_host():
    """busybox applets only: no getent (fqdn from /etc/hosts), no getconf, no %N, busybox ip."""
    facts = recorded("alpine_busybox")
    assert facts["distribution"] == "Alpine"
    assert facts["distribution_version"] == "3.19.1"  # from /etc/alpine-release
    assert facts["distribution_major_version"] == "3"
    assert facts["distribution_release"] == "NA"
    assert facts["distribution_file_path"] == "/etc/alpine-release"
    assert facts["os_family"] == "Alpine"
    assert facts["pkg_mgr"] == "apk"
    assert facts["service_mgr"] == "openrc"  # PID 1 "init" says nothing; /sbin/openrc does
    assert (facts["hostname"], facts["fqdn"], facts["domain"]) == (
        "alpine1", "alpine1.example.org", "example.org")  # fmt: skip
    assert facts["userspace_bits"] == "64"  # the ELF class of /bin/sh, without getconf
    assert facts["user_shell"] == "/bin/ash"
    assert facts["date_time"]["iso8601_micro"].endswith(".000000Z")  # busybox date has no %N
    assert facts["default_ipv4"]["address"] == "192.0.2.2"
    assert facts["default_ipv4"]["gateway"] == "192.0.2.1"
    assert facts["default_ipv4"]["netmask"] == "255.255.255.0"
    assert facts["default_ipv6"]["address"] == "fd00::2"
    assert facts["default_ipv6"]["scope"] == "global"
    assert "192.0.2.2" in facts["all_ipv4_addresses"]
    assert facts["mounts"] and all(
        "bind" not in m["options"] for m in facts["mounts"]
    )  # no findmnt


def test_redhat_like_host():
    facts = recorded("rocky9_like")
    assert facts["distribution"] == "Rocky"  # /etc/redhat-release's first word
    assert facts["distribution_version"] == "9.3"
    assert facts["distribution_major_version"] == "9"
    assert facts["distribution_release"] == "Blue Onyx"
    assert facts["distribution_file_path"] == "/etc/redhat-release"
    assert facts["os_family"] == "RedHat"
    assert facts["pkg_mgr"] == "dnf"
    assert facts["service_mgr"] == "systemd"


def test_sections_keep_file_content_exact():
    sections = split_sections("\036file /a\nx\n\n\036file /empty\n\n\036other\nk=v\n")
    assert sections.files == {"/a": "x\n", "/empty": ""}
    assert sections.named == {"other": "k=v\n"}
    assert sections.order == ["file /a", "file /empty", "other"]


def test_collectors_limit_what_is_returned():
    output = (RECORDINGS / "debian12_lab.txt").read_text()
    facts, _ = collect(output, collectors_for(["!all", "!min", "network"]))
    assert "default_ipv4" in facts and "mounts" not in facts and "env" not in facts
    assert facts["distribution"] == "Debian"  # network needs distribution and platform
    facts, _ = collect(output, collectors_for(["!all"]))
    assert "default_ipv4" not in facts and "env" in facts and "pkg_mgr" in facts


# ------------------------------------------------------------------ pieces of the parser


def test_dst_zone_north_and_south():
    def tz_dst(jan: str, jul: str) -> str:
        now = "now=1700000000|2023|11|Tuesday|2|46|14|23|13|20|CET|+0100|123456789"
        return date_time_facts(f"{now}\njan={jan}\njul={jul}\n")["date_time"]["tz_dst"]

    assert tz_dst("CET|+0100", "CEST|+0200") == "CEST"
    assert tz_dst("AEDT|+1100", "AEST|+1000") == "AEDT"  # southern hemisphere
    assert tz_dst("UTC|+0000", "UTC|+0000") == "UTC"


def test_env_values_may_hold_newlines():
    env = env_facts("A=1\037B=two\nlines\037C=\037\n")["env"]
    assert env == {"A": "1", "B": "two\nlines", "C": ""}


def test_local_facts_json_ini_and_failures():
    entries = [
        ("fact_file", "/etc/ansible/facts.d/a.fact", '{"x": [1, 2]}'),
        ("fact_file", "/etc/ansible/facts.d/b.fact", "[sec]\nkey = value\n"),
        ("fact_run", "/etc/ansible/facts.d/c.fact", 'rc=0\n{"ran": true}'),
        ("fact_run", "/etc/ansible/facts.d/d.fact", "rc=3\n"),
        ("fact_file", "/etc/ansible/facts.d/e.fact", "not json = nor ini"),
    ]
    facts, warnings = local_facts(entries)
    assert facts["local"]["a"] == {"x": [1, 2]}
    assert facts["local"]["b"] == {"sec": {"key": "value"}}
    assert facts["local"]["c"] == {"ran": True}
    assert facts["local"]["d"].startswith("Failure executing fact script")
    assert facts["local"]["e"].startswith("error loading facts as JSON or ini")
    assert len(warnings) == 2


def test_interface_aliases_and_secondary_addresses():
    sections = {
        "route_v4": "8.8.8.8 via 10.0.0.1 dev eth0 src 10.0.0.5 uid 0\n",
        "route_v6": "",
        "route_local": "local 10.0.0.5 dev eth0 proto kernel scope host src 10.0.0.5\n",
        "sysnet": "/sys/class/net/eth0/address:52:54:00:aa:bb:cc\n/sys/class/net/eth0/mtu:9000\n"
        "/sys/class/net/eth0/type:1\n/sys/class/net/eth0/flags:0x1103\n",
        "iface eth0": "has=address\nhas=mtu\nhas=type\nhas=flags\n",
        "addr_primary eth0": "2: eth0: <UP> mtu 9000\n    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth0\n"
        "    inet 10.0.1.9/32 scope global eth0:web\n",
        "addr_secondary eth0": "    inet 10.0.0.6/24 brd 10.0.0.255 scope global secondary eth0\n",
    }
    order = list(sections)
    facts = network_facts(sections, order)
    assert facts["interfaces"] == ["eth0", "eth0_web"]
    assert facts["eth0_web"] == {"ipv4": {"address": "10.0.1.9", "broadcast": "",
                                          "netmask": "255.255.255.255", "network": "10.0.1.9",
                                          "prefix": "32"}}  # fmt: skip
    assert facts["eth0"]["ipv4_secondaries"][0]["address"] == "10.0.0.6"
    assert facts["eth0"]["promisc"] is True and facts["eth0"]["mtu"] == 9000
    assert facts["default_ipv4"]["macaddress"] == "52:54:00:aa:bb:cc"
    assert facts["default_ipv4"]["mtu"] == 9000 and facts["default_ipv4"]["alias"] == "eth0"
    assert facts["all_ipv4_addresses"] == ["10.0.0.5", "10.0.1.9", "10.0.0.6"]
    assert facts["locally_reachable_ips"] == {"ipv4": ["10.0.0.5"], "ipv6": []}
    assert network_facts({}, []) == {}  # no `ip`: no network facts, as Ansible


def test_mounts_escapes_binds_and_last_line_wins():
    sections = {
        "mtab": "/dev/sda1 / ext4 rw 0 1\n/dev/sdb1 /srv/my\\040data xfs rw,noatime 0 2\n"
        "tmpfs /run tmpfs rw 0 0\nserver:/export /mnt/nfs nfs4 rw 0 0\n/dev/sda1 / ext4 ro 0 1\n",
        "findmnt": "/srv/my\\x20data /dev/sdb1[/data] xfs rw\n/ /dev/sda1 ext4 ro\n",
        "lsblk": "/dev/sda1 1111-2222\n/dev/sdb1\n",
        "statvfs": "/\t4096 100 40 4096 50 20\n/srv/my\\040data\t\n/mnt/nfs\t1024 10 5 1024 8 8\n",
        "udevadm": "/dev/sdb1\t3333\n",
    }
    mounts = {m["mount"]: m for m in mount_facts(sections)["mounts"]}
    assert sorted(mounts) == ["/", "/mnt/nfs", "/srv/my data"]
    root = mounts["/"]
    assert root["options"] == "ro" and root["uuid"] == "1111-2222" and root["passno"] == 1
    assert root["size_total"] == 409600 and root["size_available"] == 163840
    assert root["block_used"] == 60 and root["inode_used"] == 30
    assert mounts["/srv/my data"]["uuid"] == "3333" and "size_total" not in mounts["/srv/my data"]
    assert mounts["/mnt/nfs"]["device"] == "server:/export"


def test_processor_counts_as_ansible():
    """Two sockets of two hyper-threaded cores, checked against Ansible's own code."""
    lines = []
    for cpu in range(8):
        lines += [f"processor\t: {cpu}", "vendor_id\t: GenuineIntel",
                  "model name\t: Intel(R) Xeon(R) CPU", f"physical id\t: {cpu // 4}",
                  "siblings\t: 4", f"core id\t: {(cpu // 2) % 2}", "cpu cores\t: 2",
                  "flags\t\t: fpu vme de", ""]  # fmt: skip
    cpuinfo = "\n".join(lines) + "\n"
    ours = cpu_facts(cpuinfo, None, "x86_64", "8")
    theirs = _ansible_cpu_facts(cpuinfo)
    theirs["processor_nproc"] = 8
    assert ours == theirs
    assert (ours["processor_count"], ours["processor_cores"], ours["processor_vcpus"]) == (2, 2, 8)


def _ansible_cpu_facts(cpuinfo: str) -> dict[str, Any]:
    linux = pytest.importorskip("ansible.module_utils.facts.hardware.linux")
    original = linux.get_file_lines

    def lines(path, *args, **kwargs):
        return cpuinfo.strip().splitlines() if path == "/proc/cpuinfo" else []

    linux.get_file_lines = lines
    try:
        return linux.LinuxHardware(module=None).get_cpu_facts({"ansible_architecture": "x86_64"})
    finally:
        linux.get_file_lines = original


# ------------------------------------------------------------------ gather_subset, filter


SUBSETS = [
    ["all"], ["min"], ["!all"], ["!all", "!min"], ["!hardware"], ["all", "!hardware"],
    ["!all", "network"], ["!all", "!min", "network"], ["network", "!network"], ["mounts"],
    ["!all", "!min", "mounts", "os_family"], ["all", "!mounts"], ["!min"], ["!all", "!min", "user"],
    ["virtual", "!virtualization_type"], ["!nonexistent"],
]  # fmt: skip


@pytest.mark.parametrize("subset", SUBSETS, ids=lambda s: ",".join(s))
def test_gather_subset_as_ansible(subset):
    collector = pytest.importorskip("ansible.module_utils.facts.collector")
    default_collectors = pytest.importorskip("ansible.module_utils.facts.default_collectors")
    classes = collector.collector_classes_from_gather_subset(
        all_collector_classes=default_collectors.collectors, minimal_gather_subset=MINIMAL,
        gather_subset=subset, platform_info={"system": "Linux"})  # fmt: skip
    assert collectors_for(subset) == {c.name for c in classes}


def test_bad_subset_is_ansibles_error():
    with pytest.raises(SubsetError, match=r"^Bad subset 'bogus' given to Ansible\. gather_subset "):
        selected_ids(["bogus"])


FILTERS = [[], ["*"], ["ansible_distribution"], ["ansible_*_mb"], ["*_mb"], ["distribution*"],
           ["ansible_eth*", "ansible_lo"], [""], ["module_setup"], ["gather_subset", "facter*"]]  # fmt: skip


@pytest.mark.parametrize("patterns", FILTERS, ids=lambda f: ",".join(f) or "none")
def test_filter_as_ansible(patterns):
    ansible_collector = pytest.importorskip("ansible.module_utils.facts.ansible_collector")
    facts = prefixed(recorded("debian12_lab"), ["all"])
    theirs = dict(
        ansible_collector.AnsibleFactCollector(filter_spec=patterns)._filter(facts, patterns)
    )
    assert apply_filter(facts, patterns) == theirs


# ------------------------------------------------------------------ distribution, against Ansible

OS_RELEASES: dict[str, dict[str, str]] = {
    "debian12": {
        "/etc/os-release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n'
        'VERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n',
        "/etc/debian_version": "12.7\n",
    },
    "debian_sid": {
        "/etc/os-release": 'PRETTY_NAME="Debian GNU/Linux trixie/sid"\nNAME="Debian GNU/Linux"\n'
        "VERSION_CODENAME=trixie\nID=debian\n",
        "/etc/debian_version": "trixie/sid\n",
    },
    "ubuntu2204": {
        "/etc/os-release": 'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\n'
        'VERSION="22.04.4 LTS (Jammy Jellyfish)"\nVERSION_CODENAME=jammy\nID=ubuntu\n'
        "ID_LIKE=debian\nUBUNTU_CODENAME=jammy\n",
        "/etc/lsb-release": "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\nDISTRIB_CODENAME=jammy\n"
        'DISTRIB_DESCRIPTION="Ubuntu 22.04.4 LTS"\n',
        "/etc/debian_version": "bookworm/sid\n",
    },
    "mint21": {
        "/etc/os-release": 'NAME="Linux Mint"\nVERSION="21.3 (Virginia)"\nID=linuxmint\nID_LIKE="ubuntu debian"\n'
        'PRETTY_NAME="Linux Mint 21.3"\nVERSION_ID="21.3"\nVERSION_CODENAME=virginia\nUBUNTU_CODENAME=jammy\n',
        "/etc/debian_version": "bookworm/sid\n",
    },
    "alpine319": {
        "/etc/os-release": 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n',
        "/etc/alpine-release": "3.19.1\n",
    },
    "rhel93": {
        "/etc/os-release": 'NAME="Red Hat Enterprise Linux"\nVERSION="9.3 (Plow)"\nID="rhel"\n'
        'ID_LIKE="fedora"\nVERSION_ID="9.3"\nPRETTY_NAME="Red Hat Enterprise Linux 9.3 (Plow)"\n',
        "/etc/redhat-release": "Red Hat Enterprise Linux release 9.3 (Plow)\n",
        "/etc/system-release": "Red Hat Enterprise Linux release 9.3 (Plow)\n",
    },
    "rocky93": {
        "/etc/os-release": 'NAME="Rocky Linux"\nVERSION="9.3 (Blue Onyx)"\nID="rocky"\n'
        'ID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\nPRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"\n',
        "/etc/redhat-release": "Rocky Linux release 9.3 (Blue Onyx)\n",
        "/etc/rocky-release": "Rocky Linux release 9.3 (Blue Onyx)\n",
    },
    "almalinux9": {
        "/etc/os-release": 'NAME="AlmaLinux"\nVERSION="9.4 (Seafoam Ocelot)"\nID="almalinux"\n'
        'ID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\nPRETTY_NAME="AlmaLinux 9.4 (Seafoam Ocelot)"\n',
        "/etc/redhat-release": "AlmaLinux release 9.4 (Seafoam Ocelot)\n",
        "/etc/almalinux-release": "AlmaLinux release 9.4 (Seafoam Ocelot)\n",
    },
    "centos7": {
        "/etc/os-release": 'NAME="CentOS Linux"\nVERSION="7 (Core)"\nID="centos"\nID_LIKE="rhel fedora"\n'
        'VERSION_ID="7"\nPRETTY_NAME="CentOS Linux 7 (Core)"\n',
        "/etc/centos-release": "CentOS Linux release 7.9.2009 (Core)\n",
        "/etc/redhat-release": "CentOS Linux release 7.9.2009 (Core)\n",
    },
    "centos_stream9": {
        "/etc/os-release": 'NAME="CentOS Stream"\nVERSION="9"\nID="centos"\nID_LIKE="rhel fedora"\n'
        'VERSION_ID="9"\nPRETTY_NAME="CentOS Stream 9"\n',
        "/etc/centos-release": "CentOS Stream release 9\n",
        "/etc/redhat-release": "CentOS Stream release 9\n",
    },
    "fedora39": {
        "/etc/os-release": 'NAME="Fedora Linux"\nVERSION="39 (Container Image)"\nID=fedora\nVERSION_ID=39\n'
        'VERSION_CODENAME=""\nPRETTY_NAME="Fedora Linux 39 (Container Image)"\n',
        "/etc/redhat-release": "Fedora release 39 (Thirty Nine)\n",
        "/etc/fedora-release": "Fedora release 39 (Thirty Nine)\n",
    },
    "oracle8": {
        "/etc/os-release": 'NAME="Oracle Linux Server"\nVERSION="8.9"\nID="ol"\nID_LIKE="fedora"\n'
        'VERSION_ID="8.9"\nPRETTY_NAME="Oracle Linux Server 8.9"\n',
        "/etc/oracle-release": "Oracle Linux Server release 8.9\n",
        "/etc/redhat-release": "Red Hat Enterprise Linux release 8.9 (Ootpa)\n",
    },
    "amazon2023": {
        "/etc/os-release": 'NAME="Amazon Linux"\nVERSION="2023"\nID="amzn"\nID_LIKE="fedora"\n'
        'VERSION_ID="2023"\nPRETTY_NAME="Amazon Linux 2023.4.20240401"\n',
        "/etc/system-release": "Amazon Linux release 2023.4.20240401 (Amazon Linux)\n",
    },
    "amazon2": {
        "/etc/os-release": 'NAME="Amazon Linux"\nVERSION="2"\nID="amzn"\nID_LIKE="centos rhel fedora"\n'
        'VERSION_ID="2"\nPRETTY_NAME="Amazon Linux 2"\n',
        "/etc/system-release": "Amazon Linux release 2 (Karoo)\n",
    },
    "opensuse_leap155": {
        "/etc/os-release": 'NAME="openSUSE Leap"\nVERSION="15.5"\nID="opensuse-leap"\n'
        'ID_LIKE="suse opensuse"\nVERSION_ID="15.5"\nPRETTY_NAME="openSUSE Leap 15.5"\n',
    },
    "sles15": {
        "/etc/os-release": 'NAME="SLES"\nVERSION="15-SP5"\nVERSION_ID="15.5"\n'
        'PRETTY_NAME="SUSE Linux Enterprise Server 15 SP5"\nID="sles"\nID_LIKE="suse"\n',
    },
    "arch": {
        "/etc/os-release": 'NAME="Arch Linux"\nPRETTY_NAME="Arch Linux"\nID=arch\nBUILD_ID=rolling\n',
        "/etc/arch-release": "",
    },
    "arch_without_release_file": {
        "/etc/os-release": 'NAME="Arch Linux"\nPRETTY_NAME="Arch Linux"\nID=arch\nBUILD_ID=rolling\n',
    },
    "gentoo": {
        "/etc/os-release": 'NAME=Gentoo\nID=gentoo\nPRETTY_NAME="Gentoo Linux"\n',
        "/etc/gentoo-release": "Gentoo Base System release 2.14\n",
    },
    "kali": {
        "/etc/os-release": 'PRETTY_NAME="Kali GNU/Linux Rolling"\nNAME="Kali GNU/Linux"\nVERSION="2024.1"\n'
        'VERSION_ID="2024.1"\nVERSION_CODENAME="kali-rolling"\nID=kali\nID_LIKE=debian\n',
        "/etc/debian_version": "kali-rolling\n",
    },
    "devuan": {
        "/etc/os-release": 'PRETTY_NAME="Devuan GNU/Linux 5 (daedalus)"\nNAME="Devuan GNU/Linux"\n'
        'VERSION_ID="5"\nVERSION="5 (daedalus)"\nVERSION_CODENAME="daedalus"\nID=devuan\nID_LIKE=debian\n',
        "/etc/debian_version": "12.0\n",
    },
    "raspbian": {
        "/etc/os-release": 'PRETTY_NAME="Raspbian GNU/Linux 11 (bullseye)"\nNAME="Raspbian GNU/Linux"\n'
        'VERSION_ID="11"\nVERSION="11 (bullseye)"\nVERSION_CODENAME=bullseye\nID=raspbian\nID_LIKE=debian\n',
        "/etc/debian_version": "11.9\n",
    },
    "no_os_release_centos6": {
        "/etc/redhat-release": "CentOS release 6.10 (Final)\n",
        "/etc/centos-release": "CentOS release 6.10 (Final)\n",
    },
    "unknown": {
        "/etc/os-release": 'NAME="Made Up"\nID=madeup\nVERSION="1.2"\n',
    },
}


class _NoModule:
    def get_bin_path(self, *_: Any, **__: Any) -> None:
        return None

    def run_command(self, *_: Any, **__: Any) -> tuple[int, str, str]:
        return 1, "", ""

    def debug(self, *_: Any) -> None:
        return None


def _ansible_distribution(files: dict[str, str], root: Path, monkeypatch) -> dict[str, Any]:
    distribution = pytest.importorskip("ansible.module_utils.facts.system.distribution")
    distro = pytest.importorskip("ansible.module_utils.distro")
    for path, content in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    (root / "etc").mkdir(exist_ok=True)

    def rooted(path: str) -> str:
        return str(root / path.lstrip("/"))

    real_content = distribution.get_file_content
    real_lines = distribution.get_file_lines
    real_exists = distribution._file_exists
    monkeypatch.setattr(distribution, "get_file_content",
                        lambda path, *a, **k: real_content(rooted(path), *a, **k))  # fmt: skip
    monkeypatch.setattr(distribution, "get_file_lines",
                        lambda path, *a, **k: real_lines(rooted(path), *a, **k))  # fmt: skip
    monkeypatch.setattr(distribution, "_file_exists",
                        lambda path, allow_empty=False: real_exists(rooted(path), allow_empty))  # fmt: skip
    monkeypatch.setattr(distro, "_distro", distro.LinuxDistribution(
        root_dir=str(root), include_lsb=False, include_uname=False, include_oslevel=False))  # fmt: skip
    return distribution.Distribution(module=_NoModule()).get_distribution_facts()


@pytest.mark.parametrize("name", sorted(OS_RELEASES))
def test_distribution_as_ansible(name, tmp_path, monkeypatch):
    files = OS_RELEASES[name]
    theirs = _ansible_distribution(files, tmp_path, monkeypatch)
    assert ours_distribution.linux_distribution(files) == theirs


def test_os_family_mapping():
    family = ours_distribution.os_family
    assert [family(d) for d in ("Ubuntu", "Rocky", "AlmaLinux", "Amazon", "openSUSE Leap",
                                "Manjaro", "Alpine", "Pop!_OS", "Something")] == [
        "Debian", "RedHat", "RedHat", "RedHat", "Suse", "Archlinux", "Alpine", "Debian",
        "Something"]  # fmt: skip


# ------------------------------------------------------------------ storing, gathering


def test_store_facts_namespaces_and_injects():
    host_vars: dict[str, Any] = {"ansible_facts": {"kept": 1}}
    store_facts(host_vars, {"ansible_distribution": "Debian", "ansible_local": {"a": 1},
                            "module_setup": True, "_ansible_facts_gathered": True,
                            "ansible_ssh_host_key_rsa_public": "AAA", "ansible_host": "evil",
                            "ansible_python_interpreter": "/x"})  # fmt: skip
    facts = host_vars["ansible_facts"]
    assert facts["kept"] == 1 and facts["distribution"] == "Debian"
    assert facts["ansible_local"] == {"a": 1} and "local" not in facts  # as namespace_facts
    assert facts["_ansible_facts_gathered"] is True
    assert host_vars["ansible_distribution"] == "Debian" and host_vars["module_setup"] is True
    assert host_vars["ansible_ssh_host_key_rsa_public"] == "AAA"
    assert "ansible_host" not in host_vars and "ansible_python_interpreter" not in host_vars
    assert "_ansible_facts_gathered" not in host_vars


def test_gather_runs_one_command_and_filters():
    output = (RECORDINGS / "debian12_lab.txt").read_text()
    seen: list[tuple[str, float]] = []

    async def run(cmd, *, timeout=None):
        seen.append((cmd.render(), timeout))
        return Result(0, output, "", 0.1)

    gathered = asyncio.run(gather(run, "!all,!min,network", ["ansible_default_ipv4", "gather*"], 5))
    assert gathered.facts == {
        "ansible_default_ipv4": recorded("debian12_lab")["default_ipv4"],
        "gather_subset": ["!all", "!min", "network"],
    }
    assert len(seen) == 1
    rendered, timeout = seen[0]
    assert rendered.startswith("/bin/sh -c ") and rendered.endswith(
        "sh 'distribution network platform' 5 /etc/ansible/facts.d")  # fmt: skip
    assert timeout == 60
    with pytest.raises(SubsetError):
        asyncio.run(gather(run, ["nonsense"]))


def test_interface_names_use_underscores():
    facts = prefixed({"orchestr-lab0": {"device": "orchestr-lab0"}}, ["all"])
    assert facts["ansible_orchestr_lab0"] == {"device": "orchestr-lab0"}
    assert facts["module_setup"] is True


# ------------------------------------------------------------------ the script on this machine


def _run_script(shell: list[str], env: dict[str, str]) -> dict[str, Any]:
    cmd = command(ALL)
    argv = [*shell, *cmd.parts[1:]]  # the shell given instead of /bin/sh
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    facts, _ = collect(done.stdout, ALL)
    return facts


@pytest.fixture(scope="module")
def busybox_path(tmp_path_factory) -> str:
    """A PATH of busybox applets only, as on Alpine."""
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("busybox is not installed (apt-get install busybox-static)")
    folder = tmp_path_factory.mktemp("busybox")
    listing = subprocess.run([busybox, "--list"], capture_output=True, text=True).stdout.split()
    for applet in listing:
        (folder / applet).symlink_to(busybox)
    return str(folder)


# Facts of this machine that hold still between two gatherings. Its interface list and
# addresses do not: labs of other tests add and remove veths and bridges at any moment (they
# are compared on the lab's hosts instead, tests/integration/test_facts.py).
STABLE = ("distribution", "distribution_version", "distribution_major_version", "os_family",
          "distribution_release", "system", "kernel", "machine", "architecture", "nodename",
          "hostname", "fqdn", "domain", "user_id", "user_uid", "user_dir", "real_user_id",
          "processor_vcpus", "processor_count", "processor_cores", "memtotal_mb",
          "userspace_bits", "default_ipv4", "pkg_mgr",
          "virtualization_type", "is_chroot", "fips", "apparmor", "dns")  # fmt: skip


def test_script_under_dash_and_busybox(busybox_path):
    dash = shutil.which("dash")
    if dash is None:
        pytest.skip("dash is not installed")
    env = {"HOME": "/root", "LOGNAME": "root", "USER": "root"}
    system_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    under_dash = _run_script([dash], {**env, "PATH": system_path})
    under_busybox = _run_script([f"{busybox_path}/sh"], {**env, "PATH": busybox_path})
    for name in STABLE:
        if name == "default_ipv4" and "ip" not in os.listdir(busybox_path):
            continue
        assert under_busybox.get(name) == under_dash.get(name), name
    assert under_dash["env"]["PATH"] == system_path  # the script exports nothing of its own
    assert set(under_dash["env"]) == {"HOME", "LOGNAME", "USER", "PATH"}
    assert under_dash["date_time"]["epoch"].isdigit()


def test_script_matches_ansible_setup_on_this_machine():
    """Ansible's setup run locally (connection local) against the script under dash."""
    pytest.importorskip("ansible")
    ansible = Path(sys.executable).with_name("ansible")
    python = shutil.which("python3")
    dash = shutil.which("dash")
    if not ansible.exists() or python is None or dash is None:
        pytest.skip("ansible, python3 or dash missing")
    env = {**os.environ, "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
           "ANSIBLE_NOCOLOR": "1"}  # fmt: skip
    done = subprocess.run([str(ansible), "localhost", "-c", "local", "-m", "setup", "-e",
                           f"ansible_python_interpreter={python}"],
                          capture_output=True, text=True, env=env, timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    theirs = json.loads(done.stdout[done.stdout.index("{") :])["ansible_facts"]
    ours = prefixed(_run_script([dash], dict(os.environ)), ["all"])
    for name in STABLE:
        key = f"ansible_{name}"
        if key in ("ansible_interfaces",):
            assert sorted(ours[key]) == sorted(theirs[key])
        else:
            assert ours.get(key) == theirs.get(key), key
    for interface in theirs["ansible_interfaces"]:
        key = "ansible_" + interface.replace("-", "_")
        assert ours[key] == theirs[key], key
    missing = set(theirs) - set(ours)
    assert missing <= {"ansible_python", "ansible_python_version", "ansible_selinux_python_present",
                       "ansible_devices", "ansible_device_links"}  # fmt: skip


def test_script_is_what_the_command_runs():
    cmd = command({"platform"}, 7, "/x")
    assert cmd.parts[:3] == ("/bin/sh", "-c", SCRIPT)
    assert cmd.parts[3:] == ("sh", "platform", "7", "/x")


# ------------------------------------------------------------------ a play's implicit gathering

ORCHESTR = Path(sys.executable).with_name("orchestr")
TWO_PLAYS = """
- hosts: localhost
  gather_subset: ["!all", "!min", "platform"]
  tasks:
    - copy: {content: "{{ ansible_facts | to_json }}", dest: "{{ out }}/first.json"}
- hosts: localhost
  tasks:
    - copy: {content: "{{ ansible_facts | to_json }}", dest: "{{ out }}/second.json"}
    - debug: {msg: "{{ ansible_system }} {{ ansible_facts.system }}"}
"""


def _apply(tmp_path: Path, *flags: str, env: dict[str, str] | None = None, ok: bool = True) -> str:
    (tmp_path / "inventory.ini").write_text("localhost ansible_connection=local\n")
    (tmp_path / "site.yml").write_text(TWO_PLAYS)
    done = subprocess.run(
        [str(ORCHESTR), "apply", "-i", str(tmp_path / "inventory.ini"), "-e", f"out={tmp_path}",
         *flags, str(tmp_path / "site.yml")],
        capture_output=True, text=True, env={**os.environ, **(env or {}), "NO_COLOR": "1"},
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0 or not ok, done.stdout + done.stderr
    return done.stdout


def test_each_play_gathers_with_its_gather_subset(tmp_path):
    output = _apply(tmp_path)
    assert output.count("TASK [Gathering Facts]") == 2  # as ansible-playbook: every play
    first = json.loads((tmp_path / "first.json").read_text())
    assert "system" in first and "distribution" not in first and "env" not in first
    assert first["gather_subset"] == ["!all", "!min", "platform"]
    assert first["_ansible_facts_gathered"] is True
    second = json.loads((tmp_path / "second.json").read_text())
    assert {"distribution", "env", "mounts", "default_ipv4"} <= set(second)
    assert second["gather_subset"] == ["all"]


def test_smart_gathering_asks_each_host_once(tmp_path):
    output = _apply(tmp_path, env={"ANSIBLE_GATHERING": "smart"})
    assert output.count("TASK [Gathering Facts]") == 1
    second = json.loads((tmp_path / "second.json").read_text())
    assert "system" in second and "distribution" not in second  # the first play's facts


def test_gathering_is_tagged_always(tmp_path):
    assert _apply(tmp_path, "--tags", "nothing").count("TASK [Gathering Facts]") == 2
    skipped = _apply(tmp_path, "--skip-tags", "always", ok=False)
    assert "TASK [Gathering Facts]" not in skipped
    assert json.loads((tmp_path / "first.json").read_text()) == {}  # nothing was gathered
    assert "'ansible_system' is undefined" in skipped


def test_gathering_runs_in_check_mode(tmp_path):
    output = _apply(tmp_path, "--check")
    assert output.count("TASK [Gathering Facts]") == 2
    assert '"msg": "Linux Linux"' in output

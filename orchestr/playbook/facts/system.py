"""Facts of Ansible's "system" collectors (platform, user, env, date_time, dns, pkg_mgr,
service_mgr...) from the script's sections: pure functions, one per collector, each returning
the facts without the ansible_ prefix, as Ansible's collector of that name does on Linux."""

from __future__ import annotations

import configparser
import datetime
import json
import re
import shlex
from collections.abc import Mapping
from typing import Any

from orchestr.playbook.facts.script import PKG_MGR_PATHS, SSH_KEY_ALGOS, SSH_KEY_DIRS


def key_values(text: str | None) -> dict[str, str]:
    """`key=value` lines (the first `=` splits; a key seen twice keeps its last value)."""
    values: dict[str, str] = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key] = value
    return values


def multi_values(text: str | None, key: str) -> list[str]:
    """Every value of a repeated `key=` line, in order."""
    prefix = f"{key}="
    return [line[len(prefix) :] for line in (text or "").splitlines() if line.startswith(prefix)]


def first_line(text: str | None) -> str | None:
    """Ansible's get_file_content(...).splitlines()[0], or None for no (or an empty) file."""
    if text is None or not text.strip():
        return None
    return text.strip().splitlines()[0]


# ------------------------------------------------------------------ platform


def platform_facts(section: str | None, files: Mapping[str, str], fqdn_line: str | None) -> dict:
    values = key_values(section)
    machine = values.get("machine", "")
    bits = values.get("long_bit", "").strip()
    facts: dict[str, Any] = {
        "system": values.get("system", ""),
        "kernel": values.get("kernel", ""),
        "kernel_version": values.get("kernel_version", ""),
        "machine": machine,
        "nodename": values.get("nodename", ""),
        "hostname": values.get("nodename", "").split(".")[0],
        "userspace_bits": bits,
    }
    facts["fqdn"] = fqdn(values.get("nodename", ""), fqdn_line)
    facts["domain"] = ".".join(facts["fqdn"].split(".")[1:])
    if machine == "x86_64":
        facts["architecture"] = machine
        if bits in ("64", "32"):
            facts["userspace_architecture"] = "x86_64" if bits == "64" else "i386"
    elif re.search(r"i([3456]86|86pc)", machine):
        facts["architecture"] = "i386"
        if bits in ("64", "32"):
            facts["userspace_architecture"] = "x86_64" if bits == "64" else "i386"
    else:
        facts["architecture"] = machine
    machine_id = first_line(files.get("/var/lib/dbus/machine-id")) or first_line(
        files.get("/etc/machine-id")
    )
    if machine_id:
        facts["machine_id"] = machine_id
    return facts


def fqdn(nodename: str, hosts_line: str | None) -> str:
    """Python's socket.getfqdn(): the reverse lookup of the host name's address; the first of
    its names with a dot, else its canonical name; the host name itself when nothing resolves."""
    words = (hosts_line or "").split()
    if len(words) < 2:
        return nodename
    names = words[1:]
    return next((name for name in names if "." in name), names[0])


# ------------------------------------------------------------------ user, env, date_time


def user_facts(section: str | None) -> dict[str, Any]:
    values = key_values(section)
    entry = values.get("pwent", "").split(":")
    facts: dict[str, Any] = {"user_id": values.get("user_id", "")}
    if len(entry) >= 7:
        facts.update(
            user_uid=_int(entry[2]), user_gid=_int(entry[3]), user_gecos=entry[4],
            user_dir=entry[5], user_shell=entry[6],
        )  # fmt: skip
    facts.update(
        real_user_id=_int(values.get("ruid")),
        effective_user_id=_int(values.get("euid")),
        real_group_id=_int(values.get("rgid")),
        # As Ansible: the real group id under this name too (it reads os.getgid() twice).
        effective_group_id=_int(values.get("rgid")),
    )
    return facts


def env_facts(section: str | None) -> dict[str, Any]:
    env: dict[str, str] = {}
    text = (section or "").removesuffix("\n")
    for entry in text.split("\037"):
        key, sep, value = entry.partition("=")
        if sep and key:
            env[key] = value
    return {"env": env}


_YEAR = 31557600  # CPython's "year" when it works out tzname


def date_time_facts(section: str | None) -> dict[str, Any]:
    values = key_values(section)
    now = values.get("now", "").split("|")
    if len(now) < 13 or not now[0].isdigit():
        return {}
    epoch, year, month, weekday, weekday_number, weeknumber, day, hour, minute, second = now[:10]
    zone, offset, nanos = now[10], now[11], now[12]
    micro = nanos[:6] if nanos.isdigit() and len(nanos) == 9 else "000000"
    utc = datetime.datetime.fromtimestamp(int(epoch), tz=datetime.UTC)
    return {
        "date_time": {
            "year": year,
            "month": month,
            "weekday": weekday,
            "weekday_number": weekday_number,
            "weeknumber": weeknumber,
            "day": day,
            "hour": hour,
            "minute": minute,
            "second": second,
            "epoch": epoch,
            "epoch_int": epoch,
            "date": f"{year}-{month}-{day}",
            "time": f"{hour}:{minute}:{second}",
            "iso8601_micro": utc.strftime(f"%Y-%m-%dT%H:%M:%S.{micro}Z"),
            "iso8601": utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "iso8601_basic": f"{year}{month}{day}T{hour}{minute}{second}{micro}",
            "iso8601_basic_short": f"{year}{month}{day}T{hour}{minute}{second}",
            "tz": zone,
            "tz_dst": _dst_name(values.get("jan", ""), values.get("jul", ""), zone),
            "tz_offset": offset,
        }
    }


def _dst_name(january: str, july: str, zone: str) -> str:
    """time.tzname[1] as CPython sets it on glibc: of the zones in force at the start and the
    middle of the year, the one further east of UTC (the summer one)."""
    jan_name, _, jan_offset = january.partition("|")
    jul_name, _, jul_offset = july.partition("|")
    if not jan_name or not jul_name:
        return zone
    return jan_name[:9] if _minutes(jan_offset) > _minutes(jul_offset) else jul_name[:9]


def _minutes(offset: str) -> int:
    match = re.fullmatch(r"([+-])(\d\d)(\d\d)", offset.strip())
    if not match:
        return 0
    value = int(match.group(2)) * 60 + int(match.group(3))
    return -value if match.group(1) == "-" else value


# ------------------------------------------------------------------ small collectors


def dns_facts(resolv_conf: str | None) -> dict[str, Any]:
    dns: dict[str, Any] = {}
    for line in (resolv_conf or "").strip().splitlines():
        if line.startswith(("#", ";")) or not line.strip():
            continue
        words = line.split()
        if words[0] == "nameserver":
            dns.setdefault("nameservers", []).extend(words[1:])
        elif words[0] == "domain" and len(words) > 1:
            dns["domain"] = words[1]
        elif words[0] in ("search", "sortlist"):
            dns[words[0]] = words[1:]
        elif words[0] == "options":
            dns["options"] = {}
            for option in words[1:]:
                name, sep, value = option.partition(":")
                dns["options"][name] = value if sep and value else True
    return {"dns": dns}


def cmdline_facts(cmdline: str | None) -> dict[str, Any]:
    data = (cmdline or "").strip()
    if not data:
        return {}
    try:
        pieces = shlex.split(data, posix=False)
    except ValueError:
        pieces = []
    flat: dict[str, Any] = {}
    grouped: dict[str, Any] = {}
    for piece in pieces:
        key, sep, value = piece.partition("=")
        if not sep:
            flat[key] = grouped[key] = True
            continue
        flat[key] = value
        if key in grouped and isinstance(grouped[key], list):
            grouped[key].append(value)
        elif key in grouped:
            grouped[key] = [grouped[key], value]
        else:
            grouped[key] = value
    return {"cmdline": flat, "proc_cmdline": grouped}


def caps_facts(capsh: str | None) -> dict[str, Any]:
    """From `capsh --print`: "N/A" without capsh, as Ansible."""
    if capsh is None:
        return {"system_capabilities_enforced": "N/A", "system_capabilities": "N/A"}
    lines = capsh.splitlines()
    rc = lines[-1] if lines and lines[-1].startswith("rc=") else "rc=0"
    if rc != "rc=0":
        return {"system_capabilities_enforced": "N/A", "system_capabilities": "N/A"}
    enforced, caps = "NA", []
    for line in lines:
        if line.startswith("Current:"):
            if line.split(":")[1].strip() == "=ep":
                enforced = "False"
            else:
                enforced = "True"
                caps = [cap.strip() for cap in line.split("=")[1].split(",")]
    return {"system_capabilities_enforced": enforced, "system_capabilities": caps}


def fips_facts(content: str | None) -> dict[str, Any]:
    return {"fips": (content or "").strip() == "1"}


def loadavg_facts(content: str | None) -> dict[str, Any]:
    words = (content or "").split()
    try:
        one, five, fifteen = (float(word) for word in words[:3])
    except ValueError:
        return {}
    return {"loadavg": {"1m": one, "5m": five, "15m": fifteen}}


def apparmor_facts(section: str | None) -> dict[str, Any]:
    return {"apparmor": {"status": "enabled" if (section or "").strip() else "disabled"}}


def selinux_facts(files: Mapping[str, str]) -> dict[str, Any]:
    """SELinux read from selinuxfs and /etc/selinux/config (libselinux's sources). Ansible asks
    the selinux Python binding; its selinux_python_present fact has no meaning here."""
    root = "/sys/fs/selinux" if "/sys/fs/selinux/enforce" in files else "/selinux"
    enforce = files.get(f"{root}/enforce")
    if enforce is None:
        return {"selinux": {"status": "disabled"}}
    modes = {1: "enforcing", 0: "permissive", -1: "disabled"}
    config = key_values(files.get("/etc/selinux/config"))
    configured = config.get("SELINUX", "").strip().strip("\"'").lower()
    policy = (files.get(f"{root}/policyvers") or "").strip()
    return {
        "selinux": {
            "status": "enabled",
            "policyvers": int(policy) if policy.isdigit() else "unknown",
            "config_mode": configured if configured in modes.values() else "unknown",
            "mode": modes.get(_int(enforce.strip(), -2), "unknown"),
            "type": config.get("SELINUXTYPE", "").strip().strip("\"'") or "unknown",
        }
    }


def ssh_pub_key_facts(files: Mapping[str, str]) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for directory in SSH_KEY_DIRS:
        for algo in SSH_KEY_ALGOS:
            name = f"ssh_host_key_{algo}_public"
            if name in facts:
                return facts  # a key already found in an earlier folder: stop, as Ansible
            content = files.get(f"{directory}/ssh_host_{algo}_key.pub")
            if content is not None:
                words = content.split()
                if len(words) >= 2:
                    facts[name] = words[1]
                    facts[f"{name}_keytype"] = words[0]
    return facts


def chroot_facts(section: str | None) -> dict[str, Any]:
    values = key_values(section)
    if values.get("debian_chroot"):
        return {"is_chroot": True}
    root, proc_root = values.get("root", "").split(), values.get("proc_root", "").split()
    if len(root) == 2 and len(proc_root) == 2:
        return {"is_chroot": root != proc_root}
    fstype = values.get("fstype", "")
    inode = 256 if "btrfs" in fstype else 128 if "xfs" in fstype else 2
    return {"is_chroot": len(root) == 2 and root[1] != str(inode)}


def iscsi_facts(content: str | None) -> dict[str, Any]:
    for line in (content or "").strip().splitlines():
        if line.startswith("InitiatorName="):
            return {"iscsi_iqn": line.split("=", 1)[1]}
    return {"iscsi_iqn": ""}


def nvme_facts(content: str | None) -> dict[str, Any]:
    for line in (content or "").strip().splitlines():
        if line.startswith("nqn."):
            return {"hostnqn": line}
    return {"hostnqn": ""}


def fibre_channel_facts(files: Mapping[str, str]) -> dict[str, Any]:
    wwns = []
    for path in sorted(files):
        if path.startswith("/sys/class/fc_host/") and path.endswith("/port_name"):
            wwns += [line.rstrip()[2:] for line in files[path].splitlines() if line.strip()]
    return {"fibre_channel_wwn": wwns}


def local_facts(entries: list[tuple[str, str, str]]) -> tuple[dict[str, Any], list[str]]:
    """ansible_local from fact_path's *.fact files: (kind, path, text) -> facts, warnings.
    An executable file is run and its output read, any other file read; JSON or INI."""
    local: dict[str, Any] = {}
    warnings: list[str] = []
    for kind, path, text in entries:
        name = path.rsplit("/", 1)[-1].replace(".fact", "")
        if kind == "fact_unreadable":
            local[name] = message = f"Could not stat fact ({path}): not readable"
            warnings.append(message)
            continue
        if kind == "fact_run":
            rc_line, _, text = text.partition("\n")
            if rc_line != "rc=0":
                rc = rc_line.removeprefix("rc=")
                local[name] = message = f"Failure executing fact script ({path}), rc: {rc}, err: "
                warnings.append(message)
                continue
        local[name] = _fact_value(path, text, warnings)
    return {"local": local}, warnings


def _fact_value(path: str, text: str, warnings: list[str]) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    parser = configparser.ConfigParser()
    try:
        parser.read_string(text)
    except configparser.Error:
        message = f"error loading facts as JSON or ini - please check content: {path}"
        warnings.append(message)
        return message
    value: dict[str, Any] = {}
    for section in parser.sections():
        value[section] = {}
        for option in parser.options(section):
            try:
                value[section][option] = parser.get(section, option)
            except configparser.Error as error:
                message = f"error loading facts as ini - please check content: {path} ({error})"
                warnings.append(message)
                return message
    return value


# ------------------------------------------------------------------ pkg_mgr, service_mgr, systemd


def pkg_mgr_facts(section: str | None, family: str) -> dict[str, Any]:
    values = key_values(section)
    present = set(multi_values(section, "exists"))
    name = "unknown"
    for path, manager in PKG_MGR_PATHS:
        if family == "Altlinux" and path == "/usr/bin/pkg":
            continue
        if path in present:
            name = manager
    if family == "RedHat":
        name = _redhat_pkg_mgr(present, multi_values(section, "realpath"))
    elif family == "Debian" and name != "apt":
        name = "apt"
    elif family == "Altlinux" and name == "apt":
        name = "apt_rpm"
    if name == "apt" and values.get("apt_rpm") == "1":
        name = "apt_rpm"
    return {"pkg_mgr": name}


def _redhat_pkg_mgr(present: set[str], realpaths: list[str]) -> str:
    if "/run/ostree-booted" in present:
        return "atomic_container"
    resolved = dict(entry.split(" ", 1) for entry in realpaths if " " in entry)
    for path in ("/usr/bin/dnf", "/usr/bin/microdnf"):
        if path in resolved:
            return "dnf5" if resolved[path] == "/usr/bin/dnf5" else "dnf"
    return "unknown"


_PID1_NAMES = {"procd": "openwrt_init", "runit-init": "runit", "svscan": "svc",
               "openrc-init": "openrc"}  # fmt: skip


def systemd_managed(section: str | None) -> bool:
    values = key_values(section)
    present = set(multi_values(section, "exists"))
    canaries = {"/run/systemd/system/", "/dev/.run/systemd/", "/dev/.systemd/"}
    return values.get("systemctl") == "1" and bool(present & canaries)


def service_mgr_facts(section: str | None, facts: Mapping[str, Any]) -> dict[str, Any]:
    values = key_values(section)
    present = set(multi_values(section, "exists"))
    if "comm" in values:
        pid1: str | None = values["comm"]
    else:
        output = values.get("ps", "")
        failed = values.get("ps_rc") != "0" or not output.strip() or re.match(r" *[0-9]+ ", output)
        pid1 = None if failed or output == "COMMAND" else output
    if pid1 is None and "sbin_init" in values:
        pid1 = values["sbin_init"]
    if pid1 is not None:
        pid1 = _basename(pid1).strip()
        if pid1 == "init" or pid1.endswith("sh"):
            pid1 = None
    system, distribution = facts.get("system", ""), facts.get("distribution")
    name: str | None = None
    if pid1 is not None:
        name = _PID1_NAMES.get(pid1, pid1)
    elif distribution == "MacOSX":
        name = "launchd"
    elif "BSD" in system or system in ("Bitrig", "DragonFly"):
        name = "bsdinit"
    elif system == "AIX":
        name = "src"
    elif system == "SunOS":
        name = "smf"
    elif distribution == "OpenWrt":
        name = "openwrt_init"
    elif distribution == "SMGL":
        name = "simpleinit_msb"
    elif system == "Linux":
        if systemd_managed(section):
            name = "systemd"
        elif values.get("initctl") == "1" and "/etc/init/" in present:
            name = "upstart"
        elif "/sbin/openrc" in present:
            name = "openrc"
        elif values.get("systemctl") == "1" and _basename(values.get("sbin_init")) == "systemd":
            name = "systemd"  # /sbin/init links to systemd: systemd, not running (yet)
        elif "/etc/init.d/" in present:
            name = "sysvinit"
        elif "/etc/dinit.d/" in present:
            name = "dinit"
    return {"service_mgr": name or "service"}


def systemd_facts(section: str | None, version_output: str | None) -> dict[str, Any]:
    if version_output is None or not systemd_managed(section):
        return {}
    lines = version_output.split("\n")
    words = version_output.split(" ")
    if len(lines) < 2 or len(words) < 2 or not words[1].isdigit():
        return {}
    return {"systemd": {"features": lines[1], "version": int(words[1])}}


def _basename(path: str | None) -> str:
    return (path or "").rsplit("/", 1)[-1]


def _int(text: str | None, default: int = 0) -> int:
    try:
        return int((text or "").strip())
    except ValueError:
        return default

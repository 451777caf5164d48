"""ansible_distribution*, ansible_os_family and ansible_lsb from release files, as Ansible's
distribution collector computes them on Linux (module_utils/facts/system/distribution.py with
the bundled `distro` library), from the files the script printed (path -> exact content).

Two passes, as in Ansible: a first guess from os-release, `lsb_release -a` and the distro release
file (/etc/*-release), then the first matching file of a fixed list that can correct it
(Alpine's version from /etc/alpine-release, RedHat from /etc/redhat-release, ...).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from typing import Any

# Ansible's documented distribution -> family mapping ("Conditionals" page, OS_FAMILY_MAP).
OS_FAMILIES: dict[str, tuple[str, ...]] = {
    "RedHat": ("RedHat", "RHEL", "Fedora", "CentOS", "Scientific", "SLC", "Ascendos", "CloudLinux",
               "PSBM", "OracleLinux", "OVS", "OEL", "Amazon", "Amzn", "Virtuozzo", "XenServer",
               "Alibaba", "EulerOS", "openEuler", "AlmaLinux", "Rocky", "TencentOS", "EuroLinux",
               "Kylin Linux Advanced Server", "MIRACLE"),
    "Debian": ("Debian", "Ubuntu", "Raspbian", "Neon", "KDE neon", "Linux Mint", "SteamOS",
               "Devuan", "Kali", "Cumulus Linux", "Pop!_OS", "Parrot", "Pardus GNU/Linux", "Uos",
               "Deepin", "OSMC", "Linux Mint Debian Edition"),
    "Suse": ("SuSE", "SLES", "SLED", "openSUSE", "openSUSE Tumbleweed", "SLES_SAP", "SUSE_LINUX",
             "openSUSE Leap", "ALP-Dolomite", "SL-Micro", "openSUSE MicroOS"),
    "Archlinux": ("Archlinux", "Antergos", "Manjaro"),
    "Mandrake": ("Mandrake", "Mandriva"),
    "Solaris": ("Solaris", "Nexenta", "OmniOS", "OpenIndiana", "SmartOS"),
    "Slackware": ("Slackware",),
    "Altlinux": ("Altlinux",),
    "SMGL": ("SMGL",),
    "Gentoo": ("Gentoo", "Funtoo"),
    "Alpine": ("Alpine",),
    "AIX": ("AIX",),
    "HP-UX": ("HPUX",),
    "Darwin": ("MacOSX",),
    "FreeBSD": ("FreeBSD", "TrueOS"),
    "ClearLinux": ("Clear Linux OS", "Clear Linux Mix"),
    "DragonFly": ("DragonflyBSD", "DragonFlyBSD", "Gentoo/DragonflyBSD", "Gentoo/DragonFlyBSD"),
    "NetBSD": ("NetBSD",),
}  # fmt: skip
FAMILY_OF: dict[str, str] = {
    name: family for family, names in OS_FAMILIES.items() for name in names
}


def os_family(distribution: str) -> str:
    return FAMILY_OF.get(distribution) or distribution


# ------------------------------------------------------------------ the first guess (`distro`)

_OS_RELEASE_IDS = {"ol": "oracle", "opensuse-leap": "opensuse"}
_LSB_IDS = {
    "enterpriseenterpriseas": "oracle",
    "enterpriseenterpriseserver": "oracle",
    "redhatenterpriseworkstation": "rhel",
    "redhatenterpriseserver": "rhel",
    "redhatenterprisecomputenode": "rhel",
}
_RELEASE_FILE_IDS = {"redhat": "rhel"}
# /etc files never taken for "the distro release file".
_NOT_RELEASE_FILES = frozenset({"debian_version", "lsb-release", "oem-release", "os-release",
                                "system-release", "plesk-release", "iredmail-release",
                                "board-release", "ec2_version"})  # fmt: skip
_RELEASE_FILE_NAME = re.compile(r"(\w+)[-_](release|version)$")
# "CentOS Linux release 7.9.2009 (Core)": a name, maybe "release", a version, maybe "LTS", maybe
# a (codename). Read from the end, as the version is the last number before the codename.
_RELEASE_LINE_TAIL = re.compile(
    r"^(?P<head>.*?) *(?P<version>\d[\d.+\-a-z]*) *(?:LTS)? *(?:\((?P<codename>.*)\)[^)]*)?$"
)


def parse_os_release(text: str) -> dict[str, str]:
    """os-release as shell assignments (quotes, escapes, comments), keys lower-cased, plus the
    codename found in VERSION ("20.04.6 LTS (Focal Fossa)") or VERSION_CODENAME."""
    values: dict[str, str] = {}
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:  # an unbalanced quote: keep what came before, as far as it goes
        tokens = []
    for token in tokens:
        key, sep, value = token.partition("=")
        if sep:
            values[key.lower()] = value
    if "version" in values:
        found = re.search(r"\((\D+)\)|,\s*(\D+)", values["version"])
        if found:
            values["codename"] = values["release_codename"] = found.group(1) or found.group(2)
    if "version_codename" in values:
        values["codename"] = values["version_codename"]
    elif "ubuntu_codename" in values:
        values["codename"] = values["ubuntu_codename"]
    return values


def parse_release_line(line: str) -> dict[str, str]:
    """The first line of a distro release file: name, version_id and codename when present."""
    line = line.strip()
    if not line:
        return {}
    found = _RELEASE_LINE_TAIL.match(line)
    if not found or not found.group("head"):
        return {"name": line}
    head = found.group("head")
    info = {"version_id": found.group("version")}
    name = re.sub(r" *release *$", "", head) if head.rstrip().endswith("release") else head
    info["name"] = name.strip() or head.strip()
    if found.group("codename"):
        info["codename"] = found.group("codename")
    return info


def parse_lsb_release(text: str) -> dict[str, str]:
    """`lsb_release -a` output: "Distributor ID:\tDebian" -> {"distributor_id": "Debian"}."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            values[key.replace(" ", "_").lower()] = value.strip()
    return values


class _Guess:
    """What the `distro` library says (id, version, codename), from the same sources."""

    def __init__(self, files: Mapping[str, str], lsb_output: str | None):
        path = "/etc/os-release" if "/etc/os-release" in files else "/usr/lib/os-release"
        self.os_release = parse_os_release(files[path]) if path in files else {}
        self.lsb = parse_lsb_release(lsb_output) if lsb_output else {}
        self.release_file = self._release_file(files)
        debian_version = files.get("/etc/debian_version")
        self.debian_version = debian_version.splitlines()[0].rstrip() if debian_version else ""

    @staticmethod
    def _release_file(files: Mapping[str, str]) -> dict[str, str]:
        names = sorted(
            path[len("/etc/") :]
            for path in files
            if path.startswith("/etc/") and "/" not in path[len("/etc/") :]
        )
        for name in names:
            matched = _RELEASE_FILE_NAME.match(name)
            if name in _NOT_RELEASE_FILES or not matched:
                continue
            lines = files[f"/etc/{name}"].splitlines()
            info = parse_release_line(lines[0] if lines else "")
            if "name" in info:
                info["id"] = matched.group(1)
                if "cloudlinux" in info["name"].lower():
                    info["id"] = "cloudlinux"
                return info
        return {}

    def id(self) -> str:
        for value, table in ((self.os_release.get("id", ""), _OS_RELEASE_IDS),
                             (self.lsb.get("distributor_id", ""), _LSB_IDS),
                             (self.release_file.get("id", ""), _RELEASE_FILE_IDS)):  # fmt: skip
            if value:
                value = value.lower().replace(" ", "_")
                return table.get(value, value)
        return ""

    def version(self, best: bool = False) -> str:
        candidates = [
            self.os_release.get("version_id", ""),
            self.lsb.get("release", ""),
            self.release_file.get("version_id", ""),
            parse_release_line(self.os_release.get("pretty_name", "")).get("version_id", ""),
            parse_release_line(self.lsb.get("description", "")).get("version_id", ""),
        ]
        if self.id() == "debian" or "debian" in self.os_release.get("id_like", "").split():
            candidates.append(self.debian_version)
        if not best:
            return next((v for v in candidates if v), "")
        chosen = ""
        for candidate in candidates:  # the most precise; among equals, the last one
            if chosen == "" or candidate.count(".") > chosen.count("."):
                chosen = candidate
        return chosen

    def codename(self) -> str | None:
        """Ansible's get_distribution_codename: None when there is none."""
        if "version_codename" in self.os_release:
            return self.os_release["version_codename"]
        if "ubuntu_codename" in self.os_release:
            return self.os_release["ubuntu_codename"]
        if self.id() == "ubuntu" and "codename" in self.lsb:
            return self.lsb["codename"]
        if "codename" in self.os_release:
            codename = self.os_release["codename"]
        else:
            codename = self.lsb.get("codename") or self.release_file.get("codename") or ""
        return codename or None

    def distribution(self) -> str:
        name = self.id().capitalize()
        return {"Amzn": "Amazon", "Rhel": "Redhat", "": "OtherLinux"}.get(name, name)

    def distribution_version(self) -> str:
        dist_id = self.id()
        if dist_id == "centos":
            return ".".join(self.version(best=True).split(".")[:2])
        if dist_id == "debian":
            return self.version(best=True)
        return self.version()


# ------------------------------------------------------------------ the release files that correct it

# (path, name, may be empty): the first one present that its parser accepts wins.
_DIST_FILES: tuple[tuple[str, str, bool], ...] = (
    ("/etc/altlinux-release", "Altlinux", False),
    ("/etc/oracle-release", "OracleLinux", False),
    ("/etc/slackware-version", "Slackware", False),
    ("/etc/centos-release", "CentOS", False),
    ("/etc/redhat-release", "RedHat", False),
    ("/etc/vmware-release", "VMwareESX", True),
    ("/etc/openwrt_release", "OpenWrt", False),
    ("/etc/os-release", "Amazon", False),
    ("/etc/system-release", "Amazon", False),
    ("/etc/alpine-release", "Alpine", False),
    ("/etc/arch-release", "Archlinux", True),
    ("/etc/os-release", "Archlinux", False),
    ("/etc/os-release", "SUSE", False),
    ("/etc/SuSE-release", "SUSE", False),
    ("/etc/gentoo-release", "Gentoo", False),
    ("/etc/os-release", "Debian", False),
    ("/etc/lsb-release", "Debian", False),
    ("/etc/lsb-release", "Mandriva", False),
    ("/etc/sourcemage-release", "SMGL", False),
    ("/usr/lib/os-release", "ClearLinux", False),
    ("/etc/coreos/update.conf", "Coreos", False),
    ("/etc/os-release", "Flatcar", False),
    ("/etc/os-release", "NA", False),
)
# Names recognised by a phrase in their file; otherwise the file's first word is the name.
_SEARCH = {"OracleLinux": "Oracle Linux", "RedHat": "Red Hat", "Altlinux": "ALT",
           "SMGL": "Source Mage GNU/Linux"}  # fmt: skip
_ALIASES = {"Archlinux": "Arch Linux"}

Parsed = tuple[bool, dict[str, Any]]


class _Context:
    def __init__(self, files: Mapping[str, str], guess: _Guess, extra: Mapping[str, str]):
        self.files = files
        self.guess = guess
        self.extra = extra  # tzdata (Debian's codename of last resort), suse_baseproduct


def _quoted(pattern: str, data: str, group: int = 1) -> str | None:
    found = re.search(pattern, data)
    return found.group(group) if found else None


def _slackware(data: str, path: str, facts: dict, ctx: _Context) -> Parsed:
    if "Slackware" not in data:
        return False, {}
    found = re.findall(r"\w+[.]\w+\+?", data)
    return True, {
        "distribution": "Slackware",
        **({"distribution_version": found[0]} if found else {}),
    }


def _amazon(data: str, path: str, facts: dict, ctx: _Context) -> Parsed:
    if "Amazon" not in data:
        return False, {}
    result: dict[str, Any] = {"distribution": "Amazon"}
    if path == "/etc/os-release":
        version = _quoted(r"VERSION_ID=\"(.*)\"", data)
        if version is not None:
            parts = version.split(".")
            result["distribution_version"] = version
            result["distribution_major_version"] = parts[0]
            # As Ansible: more than two parts fails this collector (it unpacks two).
            result["distribution_minor_version"] = parts[1] if len(parts) > 1 else "NA"
    else:
        numbers = [word for word in data.split() if word.isdigit()]
        result["distribution_version"] = numbers[0] if numbers else "NA"
    return True, result


def _openwrt(data: str, path: str, facts: dict, ctx: _Context) -> Parsed:
    if "OpenWrt" not in data:
        return False, {}
    result: dict[str, Any] = {"distribution": "OpenWrt"}
    version = _quoted(r'DISTRIB_RELEASE="(.*)"', data)
    release = _quoted(r'DISTRIB_CODENAME="(.*)"', data)
    if version is not None:
        result["distribution_version"] = version
    if release is not None:
        result["distribution_release"] = release
    return True, result


def _alpine(data: str, path: str, facts: dict, ctx: _Context) -> Parsed:
    return True, {"distribution": "Alpine", "distribution_version": data}


def _suse(data: str, path: str, facts: dict, ctx: _Context) -> Parsed:
    lowered = data.lower()
    if "suse" not in lowered:
        return False, {}
    result: dict[str, Any] = {}
    if path == "/etc/os-release":
        for line in data.splitlines():
            name = _quoted(r"^NAME=(.*)", line)
            if name is not None:
                result["distribution"] = name.strip('"')
            version = _quoted(r'^VERSION_ID="?([0-9]+\.?[0-9]*)"?', line)
            if version is not None:
                result["distribution_version"] = version
                result["distribution_major_version"] = version.split(".")[0]
            minor = _quoted(r'^VERSION_ID="?[0-9]+\.?([0-9]*)"?', line)
            if "open" in lowered and minor is not None:
                result["distribution_release"] = minor
            elif "open" not in lowered and "enterprise" in lowered and "VERSION_ID" in line:
                result["distribution_release"] = minor or "0"
    elif path == "/etc/SuSE-release":
        lines = data.splitlines()
        if "open" in lowered:
            result["distribution"] = lines[0].split()[0]
            for line in lines:
                codename = _quoted("CODENAME *= *([^\n]+)", line)
                if codename is not None:
                    result["distribution_release"] = codename.strip()
        elif "enterprise" in lowered:
            if "Server" in data:
                result["distribution"] = "SLES"
            elif "Desktop" in data:
                result["distribution"] = "SLED"
            for line in lines:
                patch = _quoted("PATCHLEVEL = ([0-9]+)", line)
                if patch is not None:
                    result["distribution_release"] = patch
                    result["distribution_version"] = f"{facts['distribution_version']}.{patch}"
    variant = re.search(r'^VARIANT_ID="?([^"\n]*)"?', data, re.MULTILINE)
    if variant:
        if variant.group(1) in ("server-sap", "sles-sap"):
            result["distribution"] = "SLES_SAP"
        elif variant.group(1) == "transactional":
            result["distribution"] = "SL-Micro"
    else:
        product = ctx.extra.get("suse_baseproduct", "").strip()
        if product.endswith("SLES_SAP.prod"):
            result["distribution"] = "SLES_SAP"
        elif product.endswith("SL-Micro.prod"):
            result["distribution"] = "SL-Micro"
    return True, result


def _with_version_id(result: dict[str, Any], data: str, major_whole: bool = False) -> None:
    version = _quoted(r"VERSION_ID=\"(.*)\"", data)
    if version is not None:
        result["distribution_version"] = version
        result["distribution_major_version"] = version if major_whole else version.split(".")[0]


def _debian(data: str, path: str, facts: dict, ctx: _Context) -> Parsed:
    result: dict[str, Any] = {}
    if "Debian" in data or "Raspbian" in data:
        result["distribution"] = "Debian"
        release = _quoted(r"PRETTY_NAME=[^(]+ \(?([^)]+?)\)", data)
        if release is not None:
            result["distribution_release"] = release
        if facts["distribution_release"] == "NA" and "Debian" in data and "tzdata" in ctx.extra:
            result["distribution_release"] = ctx.extra["tzdata"].strip()
        for line in ctx.files.get("/etc/debian_version", "").splitlines():
            minor = re.search(r"(\d+)\.(\d+)", line.strip())
            if minor:
                result["distribution_minor_version"] = minor.group(2)
    elif "Ubuntu" in data:
        result["distribution"] = "Ubuntu"
    elif "SteamOS" in data:
        result["distribution"] = "SteamOS"
    elif path in ("/etc/lsb-release", "/etc/os-release") and ("Kali" in data or "Parrot" in data):
        result["distribution"] = "Kali" if "Kali" in data else "Parrot"
        release = _quoted("DISTRIB_RELEASE=(.*)", data)
        if release is not None:
            result["distribution_release"] = release
    elif "Devuan" in data:
        result["distribution"] = "Devuan"
        release = _quoted(r"PRETTY_NAME=\"?[^(\"]+ \(?([^) \"]+)\)?", data)
        if release is not None:
            result["distribution_release"] = release
        _with_version_id(result, data, major_whole=True)
    elif "Cumulus" in data:
        result["distribution"] = "Cumulus Linux"
        version = _quoted(r"VERSION_ID=(.*)", data)
        if version is not None:
            result["distribution_version"] = version
            result["distribution_major_version"] = version.split(".")[0]
        release = _quoted(r'VERSION="(.*)"', data)
        if release is not None:
            result["distribution_release"] = release
    elif "Mint" in data:
        result["distribution"] = "Linux Mint"
        _with_version_id(result, data)
    elif "UOS" in data or "Uos" in data or "uos" in data or "Deepin" in data or "deepin" in data:
        uos = "UOS" in data or "Uos" in data or "uos" in data
        result["distribution"] = "Uos" if uos else "Deepin"
        release = _quoted(r"VERSION_CODENAME=\"?([^\"]+)\"?", data)
        if release is not None:
            result["distribution_release"] = release
        _with_version_id(result, data)
    elif "LMDE" in data:
        result["distribution"] = "Linux Mint Debian Edition"
    else:
        return False, result
    return True, result


def _mandriva(data: str, path: str, facts: dict, ctx: _Context) -> Parsed:
    if "Mandriva" not in data:
        return False, {}
    result: dict[str, Any] = {"distribution": "Mandriva"}
    version = _quoted('DISTRIB_RELEASE="(.*)"', data)
    release = _quoted('DISTRIB_CODENAME="(.*)"', data)
    if version is not None:
        result["distribution_version"] = version
    if release is not None:
        result["distribution_release"] = release
    return True, result


def _na(data: str, path: str, facts: dict, ctx: _Context) -> Parsed:
    result: dict[str, Any] = {}
    for line in data.splitlines():
        name = _quoted("^NAME=(.*)", line)
        if name is not None:
            result["distribution"] = name.strip('"')
        version = _quoted("^VERSION=(.*)", line)
        if version is not None and facts["distribution_version"] == "NA":
            result["distribution_version"] = version.strip('"')
    return True, result


def _coreos(data: str, path: str, facts: dict, ctx: _Context) -> Parsed:
    if ctx.guess.distribution().lower() != "coreos" or not data:
        return False, {}
    group = _quoted("^GROUP=(.*)", data)
    return True, ({"distribution_release": group.strip('"')} if group is not None else {})


def _flatcar(data: str, path: str, facts: dict, ctx: _Context) -> Parsed:
    if ctx.guess.distribution().lower() != "flatcar" or not data:
        return False, {}
    version = _quoted("VERSION=(.*)", data)
    if version is None:
        return True, {}
    version = version.strip('"')
    return True, {
        "distribution_version": version,
        "distribution_major_version": version.split(".")[0],
    }


def _clearlinux(data: str, path: str, facts: dict, ctx: _Context) -> Parsed:
    result: dict[str, Any] = {}
    name = _quoted('NAME="(.*)"', data)
    if name is not None:
        if "Clear Linux" not in name:
            return False, {}
        result["distribution"] = name
    version = _quoted("VERSION_ID=(.*)", data)
    if version is not None:
        result["distribution_version"] = result["distribution_major_version"] = version
    release = _quoted("ID=(.*)", data)
    if release is not None:
        result["distribution_release"] = release
    return True, result


def _centos(data: str, path: str, facts: dict, ctx: _Context) -> Parsed:
    if "CentOS Stream" in data:
        return True, {"distribution_release": "Stream"}
    if "TencentOS Server" in data:
        return True, {"distribution": "TencentOS"}
    return False, {}


_PARSERS: dict[str, Callable[[str, str, dict, _Context], Parsed]] = {
    "Slackware": _slackware, "Amazon": _amazon, "OpenWrt": _openwrt, "Alpine": _alpine,
    "SUSE": _suse, "Debian": _debian, "Mandriva": _mandriva, "NA": _na, "Coreos": _coreos,
    "Flatcar": _flatcar, "ClearLinux": _clearlinux, "CentOS": _centos,
}  # fmt: skip


def _parse_file(name: str, data: str, path: str, facts: dict, ctx: _Context) -> Parsed:
    data = data.strip("'\"\\")
    if name in _SEARCH:
        if _SEARCH[name] in data:
            return True, {"distribution": name, "distribution_file_search_string": _SEARCH[name]}
        return True, {"distribution": data.split()[0]} if data.split() else {}
    if name in _ALIASES:
        return (True, {"distribution": name}) if _ALIASES[name] in data else (False, {})
    parser = _PARSERS.get(name)
    return parser(data, path, facts, ctx) if parser else (False, {})


def linux_distribution(files: Mapping[str, str], lsb_output: str | None = None,
                       extra: Mapping[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    """distribution, distribution_version/_major_version/_release (+ file facts) and os_family."""
    guess = _Guess(files, lsb_output)
    codename = guess.codename()
    version = guess.distribution_version()
    facts: dict[str, Any] = {
        "distribution": guess.distribution() or "NA",
        "distribution_version": version or "NA",
        "distribution_release": "NA" if codename is None else codename,
    }
    facts["distribution_major_version"] = facts["distribution_version"].split(".")[0] or "NA"
    ctx = _Context(files, guess, extra or {})
    for path, name, may_be_empty in _DIST_FILES:
        content = files.get(path)
        if content is None or (content == "" and not may_be_empty):
            continue
        if may_be_empty:
            facts.update(distribution=name, distribution_file_path=path,
                         distribution_file_variety=name)  # fmt: skip
            break
        parsed, found = _parse_file(name, content.strip(), path, facts, ctx)
        if parsed:
            facts.update(distribution=name, distribution_file_path=path,
                         distribution_file_variety=name, distribution_file_parsed=True)  # fmt: skip
            facts.update(found)
            break
    facts["os_family"] = os_family(facts["distribution"])
    return facts


def other_distribution(system: str, kernel: str, kernel_version: str) -> dict[str, Any]:
    """Not Linux: what Ansible says before its per-system probes (which need their tools)."""
    return {
        "distribution": system,
        "distribution_release": kernel,
        "distribution_version": kernel_version,
        "os_family": os_family(system),
    }


def lsb_facts(files: Mapping[str, str], lsb_output: str | None) -> dict[str, str]:
    """ansible_lsb: from `lsb_release -a`, else /etc/lsb-release."""
    values: dict[str, str] = {}
    if lsb_output is not None:
        for line in lsb_output.splitlines():
            if ":" not in line:
                continue
            value = line.split(":", 1)[1].strip()
            for label, key in (("LSB Version:", "release"), ("Distributor ID:", "id"),
                               ("Description:", "description"), ("Release:", "release"),
                               ("Codename:", "codename")):  # fmt: skip
                if label in line:
                    values[key] = value
                    break
    if not values and "/etc/lsb-release" in files:
        for line in files["/etc/lsb-release"].strip().splitlines():
            value = line.split("=", 1)[1].strip() if "=" in line else ""
            for label, key in (("DISTRIB_ID", "id"), ("DISTRIB_RELEASE", "release"),
                               ("DISTRIB_DESCRIPTION", "description"),
                               ("DISTRIB_CODENAME", "codename")):  # fmt: skip
                if label in line:
                    values[key] = value
                    break
    if "release" in values:
        values["major_release"] = values["release"].split(".")[0]
    return {key: value.strip("'\"\\") if value else value for key, value in values.items()}

"""Facts under Ansible's names (issue 13, item 4), compared with Ansible's own `setup` on the lab.

The same playbook (facts/dump_facts.yml) runs with ansible-playbook and with orchestr against the
same hosts and writes, per tool, what it sees: `ansible_facts` after the implicit gathering, some
facts read as variables of their own, `setup` results for several gather_subset/filter values,
and the user facts under become. Every fact is then compared, one test per fact.

Differences allowed, and why (anything else must be equal):
- ansible_python, ansible_python_version, ansible_selinux_python_present describe the Python
  that runs Ansible's module: orchestr runs none, and leaves them out.
- ansible_devices and ansible_device_links (block devices) are not gathered.
- Values that move between two gatherings made seconds apart are compared loosely:
  date_time (same zone and fields, instants within MAX_DRIFT), uptime_seconds, memfree_mb and
  the free/used parts of memory_mb, the available/used blocks and inodes of mounts.
- loadavg: Ansible reads it with os.getloadavg() (glibc's sysinfo, full binary precision),
  orchestr from /proc/loadavg (two decimals); the load moves anyway: only its shape is compared.
- env: OpenSSH's client forwards the controller's LANG/LC_* (SendEnv), asyncssh does not; and
  SSH_CLIENT/SSH_CONNECTION name each connection's own client port.
- interfaces, virtualization_tech_guest/_host: Ansible's lists come out of Python sets (their
  order changes from run to run): compared as sets.
"""

from __future__ import annotations

import datetime
import json
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.integration.playbook_fixtures import ANSIBLE_PLAYBOOK, ORCHESTR, LabShell, ansible_env

PLAYBOOK = Path(__file__).parent / "facts" / "dump_facts.yml"
REMOTE = "/tmp/facts-test"
DUMPS = ("implicit", "vars", "subsets", "become")
MAX_DRIFT = 600  # seconds between the two tools' gatherings, at most

PYTHON_ONLY = frozenset({"python", "python_version", "selinux_python_present"})
NOT_GATHERED = frozenset({"devices", "device_links"})

# The facts orchestr gathers on the lab hosts (Debian, iproute2, no systemd, no DMI),
# each compared with Ansible's value (interfaces' own facts are compared in their own test).
FACTS = (
    "all_ipv4_addresses", "all_ipv6_addresses", "apparmor", "architecture", "bios_date",
    "bios_vendor", "bios_version", "board_asset_tag", "board_name", "board_serial",
    "board_vendor", "board_version", "chassis_asset_tag", "chassis_serial", "chassis_vendor",
    "chassis_version", "cmdline", "date_time", "default_ipv4", "default_ipv6", "distribution",
    "distribution_file_parsed", "distribution_file_path", "distribution_file_variety",
    "distribution_major_version", "distribution_minor_version", "distribution_release",
    "distribution_version", "dns", "domain", "effective_group_id", "effective_user_id", "env",
    "fibre_channel_wwn", "fips", "flags", "form_factor", "fqdn", "hostname", "hostnqn",
    "interfaces", "is_chroot", "iscsi_iqn", "kernel", "kernel_version", "loadavg", "local",
    "locally_reachable_ips", "lsb", "lvm", "machine", "memfree_mb", "memory_mb", "memtotal_mb",
    "mounts", "nodename", "os_family", "pkg_mgr", "proc_cmdline", "processor",
    "processor_cores", "processor_count", "processor_nproc", "processor_threads_per_core",
    "processor_vcpus", "product_name", "product_serial", "product_uuid", "product_version",
    "real_group_id", "real_user_id", "selinux", "service_mgr", "swapfree_mb", "swaptotal_mb",
    "system", "system_capabilities", "system_capabilities_enforced", "system_vendor",
    "uptime_seconds", "user_dir", "user_gecos", "user_gid", "user_id", "user_shell", "user_uid",
    "userspace_architecture", "userspace_bits", "virtualization_role",
    "virtualization_tech_guest", "virtualization_tech_host", "virtualization_type",
    "gather_subset", "module_setup",
)  # fmt: skip


def _run(command: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=600)  # fmt: skip
    assert done.returncode == 0, f"{shlex.join(command)}:\n{done.stdout[-4000:]}{done.stderr}"
    return done


@pytest.fixture(scope="module")
def dumps(lab, tmp_path_factory) -> dict[str, dict[str, dict[str, dict]]]:
    """{tool: {host: {dump: data}}} for both tools."""
    shell = LabShell(lab)
    shell.each(f"rm -rf {REMOTE}")
    home = tmp_path_factory.mktemp("facts-ansible-home")
    for tool in ("ansible", "orchestr"):
        head = [ANSIBLE_PLAYBOOK] if tool == "ansible" else [ORCHESTR, "apply"]
        command = [*head, "-i", str(lab.inventory), "-e", f"workdir={REMOTE}/{tool}", str(PLAYBOOK)]
        _run(command, ansible_env(home) if tool == "ansible" else None)
    found: dict[str, dict[str, dict[str, dict]]] = {}
    for tool in ("ansible", "orchestr"):
        for host in sorted(lab.addresses):
            texts = shell.run(host, " && ".join(
                f"cat {REMOTE}/{tool}/{name}.json && echo" for name in DUMPS))  # fmt: skip
            found.setdefault(tool, {})[host] = dict(
                zip(DUMPS, (json.loads(line) for line in texts.splitlines()), strict=True)
            )
    return found


# ------------------------------------------------------------------ comparing one fact


def _instant(date_time: dict) -> datetime.datetime:
    return datetime.datetime.strptime(date_time["iso8601"], "%Y-%m-%dT%H:%M:%SZ")


def _near(ours: float, theirs: float, tolerance: float) -> bool:
    return abs(ours - theirs) <= tolerance


def differences(name: str, ours, theirs) -> list[str]:
    """Why orchestr's value of a fact is not Ansible's (an empty list when it is)."""
    if name == "date_time":
        problems = [] if sorted(ours) == sorted(theirs) else ["not the same keys"]
        for key in ("tz", "tz_dst", "tz_offset"):
            if ours.get(key) != theirs.get(key):
                problems.append(f"{key}: {ours.get(key)!r} != {theirs.get(key)!r}")
        drift = abs((_instant(ours) - _instant(theirs)).total_seconds())
        if drift > MAX_DRIFT:
            problems.append(f"{drift:.0f} s apart")
        return problems
    if name == "uptime_seconds":
        return [] if _near(ours, theirs, MAX_DRIFT) else [f"{ours} != {theirs}"]
    if name == "loadavg":
        shape = sorted(ours) == sorted(theirs) and all(v >= 0 for v in ours.values())
        return [] if shape else [f"{ours} vs {theirs}"]
    if name == "memfree_mb":
        return [] if isinstance(ours, int) and ours >= 0 else [f"{ours!r}"]
    if name == "memory_mb":
        same_totals = (ours["real"]["total"], ours["swap"]["total"]) == (
            theirs["real"]["total"], theirs["swap"]["total"])  # fmt: skip
        shape = {k: sorted(v) for k, v in ours.items()} == {k: sorted(v) for k, v in theirs.items()}
        return [] if same_totals and shape else [f"{ours} vs {theirs}"]
    if name == "mounts":
        return _mount_differences(ours, theirs)
    if name == "env":
        return _env_differences(ours, theirs)
    if name in _FROM_SETS:
        return [] if sorted(ours) == sorted(theirs) else [f"{sorted(ours)} != {sorted(theirs)}"]
    return [] if ours == theirs else [f"{ours!r} != {theirs!r}"]


_FROM_SETS = ("interfaces", "virtualization_tech_guest", "virtualization_tech_host")
_MOVING = ("size_available", "block_available", "block_used", "inode_available", "inode_used")


def _mount_differences(ours: list[dict], theirs: list[dict]) -> list[str]:
    mine = {m["mount"]: m for m in ours}
    others = {m["mount"]: m for m in theirs}
    if sorted(mine) != sorted(others):
        return [f"mount points {sorted(mine)} != {sorted(others)}"]
    problems = []
    for point, theirs_one in others.items():
        ours_one = mine[point]
        if sorted(ours_one) != sorted(theirs_one):
            problems.append(f"{point}: keys {sorted(ours_one)} != {sorted(theirs_one)}")
            continue
        for key, value in theirs_one.items():
            if key in _MOVING:
                total = theirs_one["size_total" if key == "size_available" else
                                   "block_total" if key.startswith("block") else "inode_total"]  # fmt: skip
                if not _near(ours_one[key], value, max(1, total // 20)):
                    problems.append(f"{point} {key}: {ours_one[key]} vs {value}")
            elif ours_one[key] != value:
                problems.append(f"{point} {key}: {ours_one[key]!r} != {value!r}")
    return problems


def _env_differences(ours: dict, theirs: dict) -> list[str]:
    forwarded = {k for k in theirs if k == "LANG" or k.startswith("LC_")}
    problems = []
    for key in sorted((set(ours) | set(theirs)) - forwarded):
        mine, other = ours.get(key), theirs.get(key)
        if key in ("SSH_CLIENT", "SSH_CONNECTION") and mine and other:
            mine, other = mine.split()[::2], other.split()[::2]  # without the client port
        if mine != other:
            problems.append(f"{key}: {mine!r} != {other!r}")
    return problems


def _pairs(dumps, dump: str, key: str | None = None):
    for host, data in dumps["ansible"].items():
        theirs = data[dump] if key is None else data[dump][key]
        ours = dumps["orchestr"][host][dump] if key is None else dumps["orchestr"][host][dump][key]
        yield host, ours, theirs


# ------------------------------------------------------------------ the tests


@pytest.mark.parametrize("name", FACTS)
def test_fact_as_ansible_gathers_it(dumps, name):
    """ansible_facts.NAME after the implicit gathering, for every host."""
    for host, ours, theirs in _pairs(dumps, "implicit"):
        if name not in theirs:
            assert name not in ours, f"{host}: orchestr has {name}, Ansible has not"
            continue
        assert name in ours, f"{host}: {name} is missing"
        problems = differences(name, ours[name], theirs[name])
        assert not problems, f"{host}: {name}: " + "; ".join(problems)


def test_no_fact_missing_or_extra(dumps):
    """Every fact of Ansible's is gathered, but those needing Python and block devices."""
    for host, ours, theirs in _pairs(dumps, "implicit"):
        missing = set(theirs) - set(ours) - PYTHON_ONLY - NOT_GATHERED
        extra = set(ours) - set(theirs)
        assert not missing and not extra, f"{host}: missing {missing}, extra {extra}"
        assert not (set(ours) & (PYTHON_ONLY | NOT_GATHERED))


def test_interface_facts(dumps):
    """ansible_facts.<interface> for each interface of the host, "-" written "_"."""
    for host, ours, theirs in _pairs(dumps, "implicit"):
        for interface in theirs["interfaces"]:
            name = interface.replace("-", "_").replace(":", "_")
            assert ours.get(name) == theirs[name], f"{host}: {name}"


def test_default_ipv4_has_the_usual_keys(dumps):
    for host, ours, _ in _pairs(dumps, "implicit"):
        keys = {"address", "alias", "broadcast", "gateway", "interface", "macaddress", "mtu",
                "netmask", "network", "prefix", "type"}  # fmt: skip
        assert keys <= set(ours["default_ipv4"]), host


def test_facts_as_variables(dumps):
    """ansible_distribution and friends are variables too (INJECT_FACTS_AS_VARS, 2.19's default)."""
    for host, ours, theirs in _pairs(dumps, "vars"):
        assert ours == theirs, host


@pytest.mark.parametrize("subset", ["network", "min", "filtered", "prefixless", "by_fact_name"])
def test_setup_gather_subset_and_filter(dumps, subset):
    """setup's registered ansible_facts: the same fact names, and the same values."""
    for host, ours, theirs in _pairs(dumps, "subsets", subset):
        names = {n.removeprefix("ansible_") for n in theirs} - PYTHON_ONLY - NOT_GATHERED
        assert {n.removeprefix("ansible_") for n in ours} == names, host
        for name, value in theirs.items():
            short = name.removeprefix("ansible_")
            if short in PYTHON_ONLY | NOT_GATHERED:
                continue
            if short in FACTS:
                problems = differences(short, ours[name], value)
            else:  # an interface's own facts
                problems = [] if ours[name] == value else [f"{ours[name]!r} != {value!r}"]
            assert not problems, f"{host}: {subset}: {name}: " + "; ".join(problems)


def test_user_facts_under_become(dumps):
    for host, ours, theirs in _pairs(dumps, "become"):
        assert ours == theirs, host
        assert ours["ansible_user_id"] == "nobody"

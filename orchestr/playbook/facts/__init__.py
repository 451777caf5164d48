"""Ansible's facts, gathered without Python in one round trip: what `gather_facts` and the
`setup` module return, under Ansible's names.

One POSIX sh script (script.py) prints raw material; pure functions (parse.py and the collector
modules) turn it into facts as Ansible's collectors would; subsets.py gives gather_subset and
filter their Ansible meaning. Not gathered: what needs Python on the host (ansible_python,
ansible_python_version, ansible_selinux_python_present), facter/ohai facts, and block devices
(ansible_devices, ansible_device_links).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from orchestr.playbook.facts.parse import collect
from orchestr.playbook.facts.script import SCRIPT
from orchestr.playbook.facts.subsets import (
    SubsetError,
    apply_filter,
    as_list,
    collectors_for,
)
from orchestr.transport.base import Result
from orchestr.transport.command import Command

DEFAULT_FACT_PATH = "/etc/ansible/facts.d"
DEFAULT_TIMEOUT = 10

__all__ = ["DEFAULT_FACT_PATH", "Gathered", "SubsetError", "collect", "command", "gather",
           "prefixed", "store_facts"]  # fmt: skip


def command(collectors: set[str], timeout: int = DEFAULT_TIMEOUT,
            fact_path: str = DEFAULT_FACT_PATH) -> Command:  # fmt: skip
    """`/bin/sh -c SCRIPT sh COLLECTORS TIMEOUT FACT_PATH`: /bin/sh, whatever the login shell."""
    return Command.argv("/bin/sh", "-c", SCRIPT, "sh", " ".join(sorted(collectors)),
                        str(timeout), fact_path)  # fmt: skip


def prefixed(facts: Mapping[str, Any], gather_subset: list[str]) -> dict[str, Any]:
    """What the setup module returns under ansible_facts: each fact as ansible_NAME, plus its
    gather_subset and module_setup markers. A "-" in a name becomes "_" (ansible_orchestr_lab0
    for interface orchestr-lab0), as Ansible's fact namespace does."""
    result = {f"ansible_{name.replace('-', '_')}": value for name, value in facts.items()}
    result["gather_subset"] = list(gather_subset)
    result["module_setup"] = True
    return result


@dataclass(frozen=True)
class Gathered:
    facts: dict[str, Any]  # ansible_-prefixed, as the setup module returns them
    warnings: list[str]


RunCommand = Callable[..., Awaitable[Result]]


async def gather(run: RunCommand, gather_subset: Any = None, filters: Any = None,
                 timeout: Any = DEFAULT_TIMEOUT, fact_path: str | None = None) -> Gathered:  # fmt: skip
    """Run the script with `run` (a module context's or a connection's) and return the setup
    module's ansible_facts. Raises SubsetError for a gather_subset that names nothing."""
    subset = as_list(gather_subset) or ["all"]
    collectors = collectors_for(subset)
    seconds = int(timeout) if timeout not in (None, "") else DEFAULT_TIMEOUT
    result = await run(command(collectors, seconds, fact_path or DEFAULT_FACT_PATH),
                       timeout=max(60, 6 * seconds))  # fmt: skip
    facts, warnings = collect(result.stdout, collectors)
    return Gathered(apply_filter(prefixed(facts, subset), as_list(filters)), warnings)


# Variables a fact may not set at the top level (Ansible's clean_facts): connection settings
# and the connection plugins' own prefixes, interpreters, and a few reserved names.
_RESERVED = frozenset({
    "ansible_become", "ansible_become_exe", "ansible_become_flags", "ansible_become_method",
    "ansible_become_pass", "ansible_become_password", "ansible_become_user", "ansible_connection",
    "ansible_connection_user", "ansible_docker_extra_args", "ansible_host",
    "ansible_module_compression", "ansible_network_os", "ansible_password", "ansible_pipelining",
    "ansible_port", "ansible_private_key_file", "ansible_scp_extra_args", "ansible_sftp_extra_args",
    "ansible_shell_executable", "ansible_shell_type", "ansible_ssh_common_args",
    "ansible_ssh_executable", "ansible_ssh_extra_args", "ansible_ssh_host", "ansible_ssh_pass",
    "ansible_ssh_pipelining", "ansible_ssh_port", "ansible_ssh_private_key_file",
    "ansible_ssh_timeout", "ansible_ssh_transfer_method", "ansible_ssh_user", "ansible_timeout",
    "ansible_user", "ansible_rsync_path", "ansible_playbook_python", "ansible_facts", "add_host",
    "add_group",
})  # fmt: skip
_CONNECTION_PREFIXES = ("ansible_local_", "ansible_ssh_", "ansible_paramiko_ssh_",
                        "ansible__paramiko_ssh_", "ansible_psrp_", "ansible_winrm_")  # fmt: skip


def _top_level_allowed(name: str) -> bool:
    if name.startswith("_ansible_"):
        return False
    if name.startswith("ansible_ssh_host_key_"):
        return True
    if name in _RESERVED or (name.startswith("ansible_") and name.endswith("_interpreter")):
        return False
    if name.startswith(_CONNECTION_PREFIXES) or name.startswith("ansible_become_"):
        return name.endswith(("_bridge", "_gwbridge")) and not name.startswith("ansible_become_")
    return True


def store_facts(host_vars: MutableMapping[str, Any], returned: Mapping[str, Any]) -> None:
    """A module's ansible_facts kept as Ansible 2.19 keeps them: in the host's `ansible_facts`
    without the ansible_ prefix (ansible_local keeps it), and, as INJECT_FACTS_AS_VARS is true
    by default, as variables of their own names."""
    namespaced = dict(host_vars.get("ansible_facts") or {})
    for name, value in returned.items():
        short = name[len("ansible_") :] if name.startswith("ansible_") else name
        namespaced[name if name == "ansible_local" else short] = value
    host_vars["ansible_facts"] = namespaced
    for name, value in returned.items():
        if _top_level_allowed(name):
            host_vars[name] = value

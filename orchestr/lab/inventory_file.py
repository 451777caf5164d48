"""Render a lab's Ansible-format inventory (pure): usable unchanged by orchestr and ansible-core."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

import yaml

from orchestr.lab.commands import host_key_options
from orchestr.lab.model import ROLE_LB, ROLE_NODE, LabHost


def ssh_common_args(known_hosts_path: str) -> str:
    """Options that make OpenSSH (hence Ansible) check host keys against the lab's own file."""
    return shlex.join(host_key_options(known_hosts_path))


def render_inventory(
    lab: str, hosts: Sequence[LabHost], private_key_path: str, known_hosts_path: str
) -> str:
    """YAML inventory: group `lab` holds every host, `nodes` the workers, `lb` the balancer."""

    def host_vars(host: LabHost) -> dict:
        entry: dict = {"ansible_host": host.address}
        if host.zone:
            entry["zone"] = host.zone
        return entry

    nodes = {h.name: host_vars(h) for h in hosts if h.role == ROLE_NODE}
    balancers = {h.name: host_vars(h) for h in hosts if h.role == ROLE_LB}
    children: dict = {"nodes": {"hosts": nodes}}
    if balancers:
        children["lb"] = {"hosts": balancers}
    document = {
        "all": {
            "vars": {
                "ansible_user": "root",
                "ansible_ssh_private_key_file": private_key_path,
                "ansible_ssh_common_args": ssh_common_args(known_hosts_path),
                # Only ansible-core needs Python on a host; orchestr never does.
                "ansible_python_interpreter": "/usr/bin/python3",
                "orchestr_lab": lab,
            },
            "children": {"lab": {"children": children}},
        }
    }
    header = (
        f"# Inventory of the orchestr lab {lab!r}, written by `orchestr lab up`.\n"
        "# It is rewritten on every `lab up`: copy it before editing.\n"
    )
    return header + yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=4096)

"""The lab's shape as data: which hosts a lab has, their addresses, names and labels (pure)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from orchestr.errors import OptionsError

# The benchmarking range (RFC 2544): never routed anywhere, so a lab can never reach a real
# network by mistake. The controller is the bridge's gateway at .1.
LAB_SUBNET = ipaddress.IPv4Network("198.18.0.0/24")
LAB_GATEWAY = ipaddress.IPv4Address("198.18.0.1")
NETWORK_NAME = "orchestr-lab"
BRIDGE_NAME = "orchestr-lab0"
ZONES = ("a", "b", "c")
ROLE_NODE = "node"
ROLE_LB = "lb"

# Labels on every lab container: the cluster of containers is its own record of the lab,
# so there is no state file that could drift from what docker runs.
LABEL_LAB = "orchestr.lab"
LABEL_HOST = "orchestr.lab.host"
LABEL_ROLE = "orchestr.lab.role"
LABEL_ZONE = "orchestr.lab.zone"
LABEL_IMAGE = "orchestr.lab.image"

_LAB_NAME = re.compile(r"^[a-z][a-z0-9-]{0,20}$")


@dataclass(frozen=True)
class LabHost:
    """One host of a lab: a container running sshd and its own dockerd."""

    lab: str
    name: str
    role: str
    address: str
    zone: str = ""

    @property
    def container(self) -> str:
        return container_name(self.lab, self.name)


def container_name(lab: str, host: str) -> str:
    return f"orchestr-{lab}-{host}"


def volume_name(lab: str, host: str) -> str:
    """The volume that holds a host's /var/lib/docker, so its containers survive a restart."""
    return f"orchestr-{lab}-{host}-docker"


def check_lab_name(name: str) -> str:
    if not _LAB_NAME.match(name):
        raise OptionsError(
            f"bad lab name {name!r}",
            hint="use 1-21 lowercase letters, digits or '-', starting with a letter",
        )
    return name


def usable_addresses() -> list[str]:
    """Every address a lab host may take: the subnet minus network, gateway and broadcast."""
    return [str(a) for a in LAB_SUBNET.hosts() if a != LAB_GATEWAY]


def wanted_host_names(nodes: int, lb: bool) -> list[tuple[str, str]]:
    """(name, role) of every host a lab of this shape has, in address order."""
    names = [(f"node{i}", ROLE_NODE) for i in range(1, nodes + 1)]
    if lb:
        names.append(("lb1", ROLE_LB))
    return names


def zone_for(name: str, role: str) -> str:
    """Nodes are spread round-robin over three zones so placement across zones can be shown."""
    if role != ROLE_NODE:
        return ""
    index = int(name.removeprefix("node")) - 1
    return ZONES[index % len(ZONES)]


def check_shape(nodes: int, lb: bool) -> None:
    """Refuse an impossible lab before anything is looked at or touched."""
    if nodes < 1:
        raise OptionsError(f"--hosts must be at least 1, got {nodes}")
    room = len(usable_addresses())
    wanted = nodes + (1 if lb else 0)
    if wanted > room:
        raise OptionsError(
            f"{wanted} hosts do not fit in {LAB_SUBNET}: there is room for {room}",
            hint=f"ask for at most {room - (1 if lb else 0)} hosts",
        )


def plan_hosts(
    lab: str,
    nodes: int,
    lb: bool,
    existing: dict[str, str],
    taken: Iterable[str],
) -> list[LabHost]:
    """The hosts of a lab of the requested shape, with fixed addresses.

    `existing` maps this lab's current host names to their addresses: a host keeps its address
    for its whole life. `taken` holds addresses used by anything else on the lab network (other
    labs); new hosts get the lowest free addresses.
    """
    check_shape(nodes, lb)
    wanted = wanted_host_names(nodes, lb)
    used = set(taken) | {existing[name] for name, _ in wanted if name in existing}
    free = [a for a in usable_addresses() if a not in used]
    needed = sum(1 for name, _ in wanted if name not in existing)
    if needed > len(free):
        room = len(free) + sum(1 for name, _ in wanted if name in existing)
        raise OptionsError(
            f"{len(wanted)} hosts do not fit in {LAB_SUBNET}: there is room for {room}",
            hint=f"ask for fewer hosts (at most {room - (1 if lb else 0)} with this lab's shape)",
        )
    free_iter = iter(free)
    hosts = []
    for name, role in wanted:
        address = existing.get(name) or next(free_iter)
        hosts.append(LabHost(lab, name, role, address, zone_for(name, role)))
    return hosts


def known_hosts_text(host_keys: dict[str, str]) -> str:
    """known_hosts lines for address -> public key line ("ssh-ed25519 AAAA...")."""
    return "".join(f"{address} {key.strip()}\n" for address, key in sorted(host_keys.items()))

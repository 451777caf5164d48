"""The frozen, typed inventory model: Host, Group, Inventory, built once per run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Host:
    """One managed host with its variables merged exactly as `ansible-inventory --host` shows."""

    name: str
    vars: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    # Sorted names of every group the host is in, 'all' excluded: Ansible's `group_names`.
    group_names: tuple[str, ...] = ()
    # Variables set on the host itself in inventory sources (before group and file merging).
    inventory_vars: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    # The inventory source that first declared the host (None for implicit localhost).
    source: str | None = None
    # True for Ansible's implicit localhost, created when a pattern names it but no source did.
    implicit: bool = False

    @property
    def address(self) -> str:
        """Where to connect: ansible_host when set, else the inventory name."""
        return str(self.vars.get("ansible_host", self.name))

    @property
    def port(self) -> int | None:
        value = self.vars.get("ansible_port")
        return int(value) if value is not None else None

    @property
    def user(self) -> str | None:
        value = self.vars.get("ansible_user")
        return str(value) if value is not None else None


@dataclass(frozen=True, slots=True)
class Group:
    """A group: direct member hosts and child groups by name, in declaration order."""

    name: str
    hosts: tuple[str, ...] = ()
    children: tuple[str, ...] = ()
    parents: tuple[str, ...] = ()
    # Group variables as `ansible-inventory --graph --vars` shows them: inventory vars, then
    # group_vars files beside sources and playbook, plus ansible_group_priority when not 1.
    vars: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    # Longest path from 'all' (0 for 'all'); the first key of Ansible's group var ordering.
    depth: int = 0
    priority: int = 1


@dataclass(frozen=True)
class Inventory:
    """Hosts and groups of all sources, with O(1) lookups and Ansible's host-pattern selection."""

    # Hosts in Ansible's order for the pattern 'all'.
    hosts: Mapping[str, Host]
    groups: Mapping[str, Group]
    sources: tuple[str, ...] = ()
    playbook_dir: str | None = None
    # Warnings raised while loading (duplicate YAML keys, odd names...), in order, deduplicated.
    warnings: tuple[str, ...] = ()
    # Every host of each group, descendants included, in Ansible's order (used by patterns).
    group_members: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: EMPTY, repr=False)
    # Variables of the 'all' group and its group_vars files, used for implicit localhost.
    implicit_localhost: Host | None = field(default=None, repr=False)

    def group_hosts(self, name: str) -> tuple[Host, ...]:
        """All hosts of a group and its descendants, in Ansible's order."""
        return tuple(self.hosts[h] for h in self.group_members.get(name, ()))

    def select(self, pattern: str, limit: str | None = None) -> Selection:
        """Hosts matching a host pattern (and --limit), in Ansible's order, warnings attached."""
        from orchestr.inventory.patterns import select_hosts

        return select_hosts(self, pattern, limit)


class Selection(list[Host]):
    """A list of hosts that also carries the warnings its pattern raised (e.g. no match)."""

    warnings: tuple[str, ...]

    def __init__(self, hosts: list[Host], warnings: tuple[str, ...] = ()) -> None:
        super().__init__(hosts)
        self.warnings = warnings


def frozen_mapping(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only view; values inside are shared and must be treated as read-only too."""
    return MappingProxyType(dict(data))

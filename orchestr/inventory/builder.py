"""Mutable inventory under construction, with Ansible's rules for adding hosts, groups and vars.

Parsers of every format feed one builder per load; it is frozen into the model afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Ansible's test for names that are not valid identifiers (group names, variable names).
_INVALID_NAME_CHARS = re.compile(r"^[\d\W]|[^\w]")


class InventoryRuleError(ValueError):
    """A change Ansible refuses (cycle, unknown group...); the parser adds the location."""


@dataclass
class GroupState:
    name: str
    hosts: list[str] = field(default_factory=list)
    host_set: set[str] = field(default_factory=set)
    children: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    priority: int = 1


@dataclass
class HostState:
    name: str
    vars: dict[str, Any] = field(default_factory=dict)
    source: str | None = None


@dataclass
class InventoryBuilder:
    """The in-progress inventory of one load: plain dicts, discarded once frozen."""

    groups: dict[str, GroupState] = field(default_factory=dict)
    hosts: dict[str, HostState] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    current_source: str | None = None

    def __post_init__(self) -> None:
        # 'all' and 'ungrouped' exist before any source is read, ungrouped first under all.
        self.add_group("all")
        self.add_group("ungrouped")
        self.add_child("all", "ungrouped")

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def add_group(self, name: Any) -> str:
        if not name:
            raise InventoryRuleError(f"Invalid empty/false group name provided: {name}")
        if not isinstance(name, str):
            raise InventoryRuleError(
                f"Invalid group name supplied, expected a string but got {type(name).__name__}"
                f" for {name!r}"
            )
        if name not in self.groups:
            if _INVALID_NAME_CHARS.search(name):
                # Ansible 2.19 keeps such names by default and only warns.
                self.warn(
                    "Invalid characters were found in group names but not replaced, "
                    "use -vvvv to see details"
                )
            self.groups[name] = GroupState(name)
        return name

    def add_host(self, name: Any, group: str | None = None, port: int | None = None) -> str:
        if not name:
            raise InventoryRuleError(f"Invalid empty host name provided: {name}")
        if not isinstance(name, str):
            raise InventoryRuleError(
                f"Invalid host name supplied, expected a string but got {type(name).__name__}"
                f" for {name!r}"
            )
        if group is not None and group not in self.groups:
            raise InventoryRuleError(f"Could not find group {group} in inventory")
        if name not in self.hosts:
            host = HostState(name, source=self.current_source)
            # The port of a host:port entry only counts where the host is first seen.
            if port:
                host.vars["ansible_port"] = int(port)
            self.hosts[name] = host
        if group is not None:
            self._add_host_to_group(self.groups[group], name)
        return name

    def _add_host_to_group(self, group: GroupState, host: str) -> None:
        if host not in group.host_set:
            group.hosts.append(host)
            group.host_set.add(host)

    def add_child(self, parent: str, child: str) -> None:
        """Put a group or a host under a group, refusing cycles as Ansible does."""
        if parent not in self.groups:
            raise InventoryRuleError(f"{parent} is not a known group")
        group = self.groups[parent]
        if child in self.groups:
            if child == parent:
                raise InventoryRuleError(f"can't add group {child!r} to itself")
            if child in group.children:
                return
            if child in self.ancestors(parent):
                raise InventoryRuleError(
                    f"Adding group '{child}' as child to '{parent}' creates a recursive "
                    "dependency loop."
                )
            group.children.append(child)
            parents = self.groups[child].parents
            if parent not in parents:
                parents.append(parent)
        elif child in self.hosts:
            self._add_host_to_group(group, child)
        else:
            raise InventoryRuleError(f"{child} is not a known host nor group")

    def ancestors(self, name: str) -> set[str]:
        seen: set[str] = set()
        stack = list(self.groups[name].parents)
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(self.groups[current].parents)
        return seen

    def set_group_var(self, group: str, key: Any, value: Any) -> None:
        state = self.groups[group]
        if key == "ansible_group_priority":
            # Consumed as the group's priority, never stored as a variable; int() failures on
            # text are errors in Ansible, other types are silently ignored.
            try:
                state.priority = int(value)
            except TypeError:
                pass
            except ValueError as error:
                raise InventoryRuleError(
                    f"ansible_group_priority must be an integer, got {value!r}"
                ) from error
            return
        state.vars[key] = value

    def set_host_var(self, host: str, key: Any, value: Any) -> None:
        self.hosts[host].vars[key] = value

    def set_variable(self, entity: str, key: Any, value: Any) -> None:
        """Set a var on a group, else a host of that name, as Ansible's inventory does."""
        if entity in self.groups:
            self.set_group_var(entity, key, value)
        elif entity in self.hosts:
            self.set_host_var(entity, key, value)
        else:
            raise InventoryRuleError(f"Could not identify group or host named {entity}")

    def host_groups(self) -> dict[str, set[str]]:
        """Every group each host belongs to, directly or through descendants."""
        closure: dict[str, set[str]] = {}
        ancestors_cache: dict[str, set[str]] = {}
        for group in self.groups.values():
            if not group.hosts:
                continue
            above = ancestors_cache.get(group.name)
            if above is None:
                above = ancestors_cache[group.name] = self.ancestors(group.name) | {group.name}
            for host in group.hosts:
                closure.setdefault(host, set()).update(above)
        return closure

    def reconcile(self) -> None:
        """Ansible's post-parse rules: orphans under 'all', 'ungrouped' only for the groupless."""
        for name, group in self.groups.items():
            if name != "all" and not group.parents:
                self.add_child("all", name)
        ungrouped = self.groups["ungrouped"]
        memberships = self.host_groups()
        for host in self.hosts:
            mine = memberships.get(host, set())
            if "ungrouped" in mine:
                if mine - {"all", "ungrouped"} and host in ungrouped.host_set:
                    ungrouped.hosts.remove(host)
                    ungrouped.host_set.discard(host)
            elif not mine or mine == {"all"}:
                self._add_host_to_group(ungrouped, host)
        for name in self.groups.keys() & self.hosts.keys():
            self.warn(f"Found both group and host with same name: {name}")


def merge_into(target: dict[str, Any], updates: Mapping[str, Any]) -> None:
    """Ansible's default 'replace' hash behaviour: later top-level keys win whole."""
    target.update(updates)

"""Load inventory sources into the frozen model, merging variables with Ansible's precedence."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from types import MappingProxyType
from typing import Any

from orchestr.inventory.builder import InventoryBuilder
from orchestr.inventory.model import Group, Host, Inventory, frozen_mapping
from orchestr.inventory.sources import normalize_source, read_source
from orchestr.inventory.vars_files import VarsFileReader, vars_base_for_source

# Variables ansible-inventory never prints (Ansible's INTERNAL_STATIC_VARS): magic ones.
INTERNAL_VARS = frozenset(
    [
        "ansible_async_path",
        "ansible_collection_name",
        "ansible_config_file",
        "ansible_dependent_role_names",
        "ansible_diff_mode",
        "ansible_facts",
        "ansible_forks",
        "ansible_inventory_sources",
        "ansible_limit",
        "ansible_play_batch",
        "ansible_play_hosts",
        "ansible_play_hosts_all",
        "ansible_play_role_names",
        "ansible_playbook_python",
        "ansible_role_name",
        "ansible_role_names",
        "ansible_run_tags",
        "ansible_skip_tags",
        "ansible_verbosity",
        "ansible_version",
        "inventory_dir",
        "inventory_file",
        "inventory_hostname",
        "inventory_hostname_short",
        "groups",
        "group_names",
        "hostvars",
        "playbook_dir",
        "play_hosts",
        "role_name",
        "role_names",
        "role_path",
        "role_uuid",
    ]
)
LOCALHOST_NAMES = ("127.0.0.1", "localhost", "::1")


def load_inventory(sources: Sequence[str], playbook_dir: str | None = None) -> Inventory:
    """Read every -i source in order (later wins) and return the frozen inventory."""
    builder = InventoryBuilder()
    normalized = tuple(normalize_source(source) for source in sources)
    for source in normalized:
        read_source(source, builder)
    builder.reconcile()
    return _freeze(builder, normalized, playbook_dir)


def _depths(builder: InventoryBuilder) -> dict[str, int]:
    """Longest path from 'all' to each group, which is where Ansible's depth bookkeeping ends."""
    depths: dict[str, int] = {}

    def depth_of(name: str) -> int:
        known = depths.get(name)
        if known is None:
            parents = builder.groups[name].parents
            known = max((depth_of(p) + 1 for p in parents), default=0)
            depths[name] = known
        return known

    for name in builder.groups:
        depth_of(name)
    return depths


def _members(builder: InventoryBuilder, name: str) -> tuple[str, ...]:
    """Hosts of a group and its descendants in Ansible's order: the group, its children, then
    deeper levels breadth-first (Ansible walks sets there; we keep declaration order)."""
    groups = builder.groups
    ordered = [name, *groups[name].children]
    seen = set(ordered)
    frontier = list(groups[name].children)
    while frontier:
        following: list[str] = []
        for group in frontier:
            for child in groups[group].children:
                if child not in seen:
                    seen.add(child)
                    ordered.append(child)
                    following.append(child)
        frontier = following
    hosts: list[str] = []
    taken: set[str] = set()
    for group in ordered:
        for host in groups[group].hosts:
            if host not in taken:
                taken.add(host)
                hosts.append(host)
    return tuple(hosts)


def _updated(target: dict[str, Any], layers: Iterable[dict[str, Any]]) -> None:
    for layer in layers:
        if layer:
            target.update(layer)


def _freeze(
    builder: InventoryBuilder, sources: tuple[str, ...], playbook_dir: str | None
) -> Inventory:
    depths = _depths(builder)
    reader = VarsFileReader()
    bases = [b for b in (vars_base_for_source(s) for s in sources) if b is not None]
    play_base = os.path.realpath(os.path.abspath(playbook_dir)) if playbook_dir else None
    all_bases = bases + ([play_base] if play_base else [])

    def sort_key(name: str) -> tuple[int, int, str]:
        return (depths[name], builder.groups[name].priority, name)

    groups: dict[str, Group] = {}
    for name, state in builder.groups.items():
        shown = dict(state.vars)
        _updated(shown, (reader.entity_vars(b, "group_vars", name) for b in all_bases))
        if state.priority != 1:
            shown["ansible_group_priority"] = state.priority
        groups[name] = Group(
            name=name,
            hosts=tuple(state.hosts),
            children=tuple(state.children),
            parents=tuple(state.parents),
            vars=frozen_mapping(_public(shown)),
            depth=depths[name],
            priority=state.priority,
        )

    members = {name: _members(builder, name) for name in builder.groups}
    memberships = builder.host_groups()
    all_vars = builder.groups["all"].vars
    # Group layers are the same for every host sharing a group set; most hosts share one.
    group_layer_cache: dict[frozenset[str], tuple[list[str], dict[str, Any]]] = {}

    def group_layers(names: set[str]) -> tuple[list[str], dict[str, Any]]:
        key = frozenset(names)
        cached = group_layer_cache.get(key)
        if cached is None:
            ordered = sorted((g for g in names if g != "all"), key=sort_key)
            merged: dict[str, Any] = dict(all_vars)
            # Ansible's default VARIABLE_PRECEDENCE: inventory 'all', inventory groups, then
            # group_vars/all beside sources and playbook, then group_vars/<group> likewise.
            _updated(merged, (builder.groups[g].vars for g in ordered))
            _updated(merged, (reader.entity_vars(b, "group_vars", "all") for b in bases))
            if play_base:
                merged.update(reader.entity_vars(play_base, "group_vars", "all"))
            for base in bases:
                _updated(merged, (reader.entity_vars(base, "group_vars", g) for g in ordered))
            if play_base:
                _updated(merged, (reader.entity_vars(play_base, "group_vars", g) for g in ordered))
            cached = group_layer_cache[key] = (ordered, merged)
        return cached

    hosts: dict[str, Host] = {}
    for name in members["all"]:
        state = builder.hosts[name]
        ordered, merged_groups = group_layers(memberships.get(name, set()))
        merged = merged_groups | state.vars
        for base in all_bases:
            from_files = reader.entity_vars(base, "host_vars", name)
            if from_files:
                merged.update(from_files)
        hosts[name] = Host(
            name=name,
            vars=MappingProxyType(_public(merged)),
            group_names=tuple(sorted(ordered)),
            inventory_vars=MappingProxyType(state.vars),
            source=state.source,
        )

    implicit = None
    localhost_names = [n for n in LOCALHOST_NAMES if n not in hosts]
    if localhost_names:
        _, base_vars = group_layers(set())
        local = dict(base_vars)
        local["ansible_python_interpreter"] = sys.executable or "/usr/bin/python"
        local["ansible_connection"] = "local"
        implicit = Host(name="localhost", vars=frozen_mapping(_public(local)), implicit=True)

    warnings = list(dict.fromkeys([*builder.warnings, *reader.warnings]))
    return Inventory(
        hosts=frozen_mapping(hosts),
        groups=frozen_mapping(groups),
        sources=sources,
        playbook_dir=play_base,
        warnings=tuple(warnings),
        group_members=frozen_mapping(members),
        implicit_localhost=implicit,
    )


def _public(variables: dict[str, Any]) -> dict[str, Any]:
    for key in INTERNAL_VARS.intersection(variables):
        del variables[key]
    return variables

"""Render an inventory as ansible-inventory and `ansible --list-hosts` print it."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import yaml

from orchestr.inventory.model import Inventory
from orchestr.inventory.values import UnsafeText, VaultText, dumps_like_ansible
from orchestr.vault.secret import VaultSecret


def list_data(inventory: Inventory, available: Collection[str] | None = None) -> dict[str, Any]:
    """The structure of `ansible-inventory --list` (hosts limited to `available` if given)."""
    allowed = set(inventory.hosts if available is None else available)
    result: dict[str, Any] = {}
    seen: set[str] = set()

    def visit(name: str) -> None:
        group = inventory.groups[name]
        entry: dict[str, Any] = {}
        if name != "all":
            hosts = [h for h in group.hosts if h in allowed]
            if hosts:
                entry["hosts"] = hosts
        if group.children:
            entry["children"] = list(group.children)
        if entry:
            result[name] = entry
        for child in group.children:
            if child not in seen:
                seen.add(child)
                visit(child)

    visit("all")
    hostvars = {
        name: dict(host.vars)
        for name, host in inventory.hosts.items()
        if name in allowed and host.vars
    }
    result["_meta"] = {"hostvars": hostvars, "profile": "inventory_legacy"}
    return result


def yaml_list_data(
    inventory: Inventory, available: Collection[str] | None = None
) -> dict[str, Any]:
    """The structure of `ansible-inventory --list --yaml`: nested groups, vars once per host."""
    allowed = set(inventory.hosts if available is None else available)
    seen_hosts: set[str] = set()
    seen_groups: set[str] = set()

    def visit(name: str) -> dict[str, Any]:
        group = inventory.groups[name]
        entry: dict[str, Any] = {}
        children: dict[str, Any] = {}
        for child in group.children:
            if child == "all":
                continue
            if child in seen_groups:
                children[child] = {}
            else:
                children.update(visit(child))
                seen_groups.add(child)
        if children:
            entry["children"] = children
        if name != "all":
            hosts: dict[str, Any] = {}
            for host in group.hosts:
                if host not in allowed:
                    continue
                host_vars: dict[str, Any] = {}
                if host not in seen_hosts:
                    seen_hosts.add(host)
                    host_vars = dict(inventory.hosts[host].vars)
                hosts[host] = host_vars
            if hosts:
                entry["hosts"] = hosts
        return {name: entry} if entry else {}

    return visit("all")


def dump_json(data: Any, markers: bool = True) -> str:
    return dumps_like_ansible(data, markers)


class _Dumper(yaml.SafeDumper):
    """Dumps our special strings and read-only mappings as plain YAML."""


_Dumper.add_representer(UnsafeText, lambda d, v: d.represent_scalar("!unsafe", str(v)))
_Dumper.add_representer(VaultText, lambda d, v: d.represent_scalar("!vault", str(v), style="|"))
_Dumper.add_multi_representer(Mapping, lambda d, v: d.represent_dict(dict(v)))


def _represent_vault_secret(dumper: yaml.SafeDumper, value: Any) -> yaml.Node:
    # A decrypted value (orchestr.vault.VaultSecret): inline !vault ones are shown encrypted,
    # values of a file encrypted whole as plain strings, as ansible-inventory shows them.
    ciphertext = getattr(value, "ciphertext", None)
    if ciphertext:
        return dumper.represent_scalar("!vault", ciphertext, style="|")
    return dumper.represent_str(str(value))


_Dumper.add_representer(VaultSecret, _represent_vault_secret)


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, default_flow_style=False, allow_unicode=True)


def _graph_line(text: str, depth: int) -> str:
    return "  |" * depth + "--" + text if depth else text


def _show_vars(variables: Mapping[str, Any], depth: int) -> list[str]:
    return [_graph_line(f"{{{k} = {_text(v)}}}", depth) for k, v in sorted(variables.items())]


def _text(value: Any) -> str:
    # Ansible formats with '%s', which prints containers with Python repr.
    return str(value)


def graph(inventory: Inventory, group: str = "all", show_vars: bool = False) -> str:
    """`ansible-inventory --graph [GROUP] [--vars]` text."""
    lines: list[str] = []

    def visit(name: str, depth: int) -> None:
        node = inventory.groups[name]
        lines.append(_graph_line(f"@{name}:", depth))
        for child in node.children:
            visit(child, depth + 1)
        if name != "all":
            for host in node.hosts:
                lines.append(_graph_line(host, depth + 1))
                if show_vars:
                    lines.extend(_show_vars(inventory.hosts[host].vars, depth + 2))
        if show_vars:
            lines.extend(_show_vars(node.vars, depth + 1))

    visit(group, 0)
    return "\n".join(lines)


def list_hosts(names: list[str]) -> str:
    """`ansible PATTERN --list-hosts` text."""
    return "\n".join([f"  hosts ({len(names)}):", *(f"    {name}" for name in names)])

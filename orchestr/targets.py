"""From command-line flags to the hosts a command acts on and how to reach them."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from orchestr.errors import OptionsError
from orchestr.transport.pool import DEFAULT_FORKS, DEFAULT_HANDSHAKES, PoolOptions
from orchestr.transport.settings import ConnectionSettings, settings_for
from orchestr.transport.ssh import HOST_KEY_POLICIES


def connection_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Flags every command that reaches hosts takes, named as Ansible names them."""
    decorators = [
        click.option("-i", "--inventory", "sources", multiple=True, metavar="SRC",
                     help="Inventory file, directory or 'h1,h2,' list (repeatable; "
                          "default $ORCHESTR_INVENTORY or $ANSIBLE_INVENTORY)."),
        click.option("-l", "--limit", metavar="SUBSET", help="Further limit hosts (@file too)."),
        click.option("-f", "--forks", type=click.IntRange(1), default=DEFAULT_FORKS,
                     show_default=True, help="Hosts worked on at once."),
        click.option("--handshakes", type=click.IntRange(1), default=DEFAULT_HANDSHAKES,
                     show_default=True, help="SSH handshakes in flight at once."),
        click.option("-T", "--timeout", type=click.FloatRange(0.1), default=None,
                     help="Connect timeout in seconds (default: inventory's, else 10)."),
        click.option("--host-key-policy", type=click.Choice(HOST_KEY_POLICIES), default=None,
                     help="strict (default), accept-new (trust on first use, recorded), off."),
        click.option("-b", "--become", is_flag=True, default=None, help="Run with sudo."),
        click.option("--become-user", metavar="USER", help="sudo -u USER (default root)."),
        click.option("-K", "--ask-become-pass", is_flag=True, help="Prompt for the sudo password."),
    ]  # fmt: skip
    for decorator in reversed(decorators):
        command = decorator(command)
    from orchestr.vault.options import vault_options

    return vault_options(command)  # group_vars/host_vars may be vault-encrypted


@dataclass(frozen=True)
class Targets:
    names: list[str]
    settings: list[ConnectionSettings]
    pool_options: PoolOptions
    warnings: list[str]
    inventory: Any = None


def resolve_targets(pattern: str, flags: dict[str, Any]) -> Targets:
    """Load the inventory, select hosts, build their connection settings: all before any host is
    touched, so bad input fails as one line with nothing half done."""
    from orchestr.inventory import load_inventory
    from orchestr.vault.options import keyring_from_flags

    sources = list(flags["sources"]) or _default_sources()
    keyring_from_flags(flags, inline="auto")  # vault passwords, before any file is read
    inventory = load_inventory(sources)
    selection = inventory.select(pattern, flags.get("limit"))
    warnings = [*inventory.warnings, *selection.warnings]
    settings = [settings_for(h.name, h.vars) for h in selection]
    for item in settings:
        warnings.extend(item.warnings)
    if flags.get("host_key_policy") == "off":
        warnings.append("host key checking is off: connections are open to man-in-the-middle")
    password = None
    if flags.get("ask_become_pass"):
        password = click.prompt("BECOME password", hide_input=True, err=True)
    options = PoolOptions(
        forks=flags["forks"],
        handshakes=flags["handshakes"],
        connect_timeout=flags.get("timeout"),
        host_key_policy=flags.get("host_key_policy"),
        become=True if flags.get("become") else None,
        become_user=flags.get("become_user"),
        become_password=password,
    )
    return Targets(
        [h.name for h in selection], settings, options, list(dict.fromkeys(warnings)), inventory
    )


def inventory_given(flags: dict[str, Any]) -> bool:
    """Whether -i or the environment names an inventory (resolve_targets would not refuse)."""
    return bool(flags.get("sources")) or any(
        os.environ.get(v) for v in ("ORCHESTR_INVENTORY", "ANSIBLE_INVENTORY"))  # fmt: skip


def _default_sources() -> list[str]:
    for variable in ("ORCHESTR_INVENTORY", "ANSIBLE_INVENTORY"):
        value = os.environ.get(variable)
        if value:
            return [s for s in value.split(",") if s] if not value.endswith(",") else [value]
    raise OptionsError(
        "no inventory given",
        hint="pass -i FILE (or set ORCHESTR_INVENTORY); for the lab: "
        "-i $(orchestr lab inventory | tail -1)",
    )


def warn(messages: list[str]) -> None:
    for message in messages:
        click.echo(f"[WARNING]: {message}", err=True)

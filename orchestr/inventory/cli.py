"""`orchestr inventory`: the ansible-inventory equivalent (--list, --graph, --host, --list-hosts)."""

from __future__ import annotations

from typing import Any

import click

from orchestr.errors import OptionsError
from orchestr.inventory.loader import load_inventory
from orchestr.inventory.model import Host, Inventory, Selection
from orchestr.inventory.patterns import PatternError
from orchestr.inventory.render import (
    dump_json,
    dump_yaml,
    graph,
    list_data,
    list_hosts,
    yaml_list_data,
)
from orchestr.vault.options import keyring_from_flags, vault_options


def _warn(messages: tuple[str, ...] | list[str]) -> None:
    for message in dict.fromkeys(messages):
        click.echo(f"[WARNING]: {message}", err=True)


@click.command(name="inventory")
@click.option("-i", "--inventory", "sources", multiple=True, help="Inventory source (repeatable).")
@click.option("--list", "do_list", is_flag=True, help="Print the whole inventory as JSON.")
@click.option("--graph", "do_graph", is_flag=True, help="Print a tree of groups from GROUP.")
@click.option("--host", "host", metavar="HOST", help="Print the variables of one host.")
@click.option("--list-hosts", "hosts_pattern", metavar="PATTERN", help="Print matching hosts.")
@click.option("-l", "--limit", "limit", metavar="SUBSET", help="Further limit hosts (@file too).")
@click.option("--playbook-dir", "playbook_dir", type=click.Path(file_okay=False), default=None)
@click.option("--vars", "show_vars", is_flag=True, help="With --graph: show variables.")
@click.option("-y", "--yaml", "as_yaml", is_flag=True, help="With --list/--host: YAML output.")
@click.argument("group", required=False)
@vault_options
def inventory_command(
    sources: tuple[str, ...],
    do_list: bool,
    do_graph: bool,
    host: str | None,
    hosts_pattern: str | None,
    limit: str | None,
    playbook_dir: str | None,
    show_vars: bool,
    as_yaml: bool,
    group: str | None,
    **vault_flags: Any,
) -> None:
    """Show an Ansible inventory as ansible-inventory would."""
    actions = sum([do_list, do_graph, host is not None, hosts_pattern is not None])
    if actions == 0:
        raise OptionsError(
            "No action selected, at least one of --host, --graph, --list or --list-hosts "
            "needs to be specified."
        )
    if actions > 1:
        raise OptionsError(
            "Conflicting options used, only one of --host, --graph, --list or --list-hosts "
            "can be used at the same time."
        )
    if show_vars and not do_graph:
        raise OptionsError("The --vars option can only be used with --graph")
    if not sources:
        raise OptionsError("no inventory source given", hint="pass -i FILE, -i DIR or -i 'h1,h2,'")

    # As ansible-inventory: files encrypted whole are decrypted; inline !vault values are
    # printed encrypted, except by --graph --vars, which shows them decrypted.
    keyring_from_flags(vault_flags, inline="decrypt" if do_graph and show_vars else "keep")
    inventory = load_inventory(list(sources), playbook_dir=playbook_dir)
    _warn(inventory.warnings)
    text = _run(inventory, do_list, do_graph, host, hosts_pattern, limit, show_vars, as_yaml, group)
    click.echo(text, nl=not text.endswith("\n"))  # YAML ends with its newline already


def _run(
    inventory: Inventory,
    do_list: bool,
    do_graph: bool,
    host: str | None,
    hosts_pattern: str | None,
    limit: str | None,
    show_vars: bool,
    as_yaml: bool,
    group: str | None,
) -> str:
    if host is not None:
        # Like ansible-inventory, --host is a pattern that must name exactly one host.
        selected = inventory.select(host)
        _warn(selected.warnings)
        if len(selected) != 1:
            raise OptionsError("You must pass a single valid host to --host parameter")
        host_vars = dict(selected[0].vars)
        return dump_yaml(host_vars) if as_yaml else dump_json(host_vars, markers=False)

    available = None
    if limit is not None:
        limited = inventory.select("all", limit)
        _warn(limited.warnings)
        available = [h.name for h in limited]

    if do_graph:
        start = group or "all"
        if start not in inventory.groups:
            raise OptionsError("Pattern must be valid group name when using --graph")
        return graph(inventory, start, show_vars)
    if do_list:
        if as_yaml:
            return dump_yaml(yaml_list_data(inventory, available))
        return dump_json(list_data(inventory, available))

    return list_hosts([h.name for h in hosts_to_target(inventory, hosts_pattern or "all", limit)])


def hosts_to_target(inventory: Inventory, pattern: str, limit: str | None) -> list[Host]:
    """Hosts for `ansible PATTERN -l LIMIT`, failing where the ansible CLI fails: a bad pattern
    or an empty result only warn, unless a --limit was given (and the inventory has hosts)."""
    try:
        selected = inventory.select(pattern, limit)
    except PatternError:
        if limit is not None:
            raise
        selected = Selection([])
    _warn(selected.warnings)
    if not selected:
        if limit is not None and inventory.hosts:
            raise PatternError(
                "Specified inventory, host pattern and/or --limit leaves us with no hosts to target."
            )
        _warn(["No hosts matched, nothing to do"])
    return list(selected)

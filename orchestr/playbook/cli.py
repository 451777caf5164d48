"""`orchestr apply PLAYBOOK` (alias `orchestr playbook`): ansible-playbook's command line."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import replace

import click

from orchestr.errors import (
    EXIT_HOSTS_FAILED,
    EXIT_HOSTS_UNREACHABLE,
    EXIT_OK,
    OptionsError,
)
from orchestr.targets import connection_options, warn


def parse_extra_vars(values: tuple[str, ...]) -> dict:
    """-e k=v (shell-style words), -e @file (YAML/JSON), -e '{"json": 1}': later wins."""
    import shlex

    import yaml

    from orchestr.vault.loading import load_vars_text

    merged: dict = {}
    for value in values:
        text = value.strip()
        if text.startswith("@"):
            try:
                with open(text[1:], encoding="utf-8") as handle:
                    data = load_vars_text(handle.read(), text[1:]) or {}
            except OSError as error:
                raise OptionsError(
                    f"cannot read extra vars file {text[1:]}: {error.strerror}"
                ) from None
        elif text.startswith(("{", "[")):
            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as error:
                raise OptionsError(f"bad extra vars {text!r}: {error}") from None
        else:
            data = {}
            for word in shlex.split(text):
                key, sep, raw = word.partition("=")
                if not sep:
                    raise OptionsError(
                        f"bad extra var {word!r}", hint="use -e key=value or -e @file"
                    )
                data[key] = raw
        if not isinstance(data, dict):
            raise OptionsError(f"extra vars must be a mapping: {value!r}")
        merged.update(data)
    return merged


def _tags(values: tuple[str, ...]) -> frozenset[str]:
    return frozenset(t.strip() for value in values for t in value.split(",") if t.strip())


@click.command(name="apply")
@click.argument("playbooks", nargs=-1, required=True, type=click.Path(dir_okay=False))
@connection_options
@click.option("-C", "--check", is_flag=True, help="Show what would change; change nothing.")
@click.option("-D", "--diff", is_flag=True, help="Show the differences a task makes.")
@click.option("-e", "--extra-vars", multiple=True, metavar="VARS", help="k=v, @file or JSON.")
@click.option("-t", "--tags", multiple=True, help="Only tasks with these tags.")
@click.option("--skip-tags", multiple=True, help="Not tasks with these tags.")
@click.option("--list-hosts", is_flag=True, help="List the hosts each play would run on.")
@click.option("--list-tasks", is_flag=True, help="List the tasks that would run.")
@click.option("--syntax-check", is_flag=True, help="Load and validate only.")
@click.option("--start-at-task", metavar="NAME", help="Start at the task with this name.")
@click.option("-v", "--verbose", count=True, help="Show task results (-v).")
@click.option("--json", "as_json", is_flag=True, help="One JSON event per line.")
@click.option(
    "--lock-wait",
    type=float,
    default=0.0,
    metavar="SECONDS",
    show_default=True,
    help="Wait this long for another run holding the store's lock (services).",
)
def apply_command(playbooks: tuple[str, ...], check: bool, diff: bool, extra_vars: tuple[str, ...],
                  tags: tuple[str, ...], skip_tags: tuple[str, ...], list_hosts: bool,
                  list_tasks: bool, syntax_check: bool, start_at_task: str | None, verbose: int,
                  as_json: bool, lock_wait: float, **flags) -> None:  # fmt: skip
    """Run Ansible playbooks on hosts that need only sh and docker.

    Exit codes as ansible-playbook: 0 ok, 2 a host failed, 4 a host was unreachable or a file
    could not be parsed, 5 bad options.
    """
    from orchestr.playbook.loader import load_playbook
    from orchestr.vault.options import keyring_from_flags

    # Vault values are decrypted as files load (orchestr.vault); checking and listing leave
    # inline ones encrypted, as ansible-playbook does not need them then.
    listing = syntax_check or list_hosts or list_tasks
    keyring_from_flags(flags, inline="keep" if listing else "decrypt")
    # Everything is loaded and checked before any host is touched.
    load_warnings: list[str] = []
    loaded = [load_playbook(path, load_warnings) for path in playbooks]
    warn(load_warnings)
    variables = parse_extra_vars(extra_vars)
    if syntax_check:
        for path in playbooks:
            click.echo(f"\nplaybook: {path}")
        return
    from orchestr.playbook.output import Console
    from orchestr.playbook.runner import RunOptions
    from orchestr.targets import resolve_targets

    # Every host of the inventory may be reached (plays pick their own); connections open lazily.
    targets = resolve_targets("all", flags)
    warn([w for w in targets.warnings if "No hosts matched" not in w])
    inventory = targets.inventory
    if list_hosts or list_tasks:
        _list(loaded, inventory, flags.get("limit"), list_hosts, list_tasks, variables,
              _tags(tags), _tags(skip_tags))  # fmt: skip
        return
    options = RunOptions(check=check, diff=diff, limit=flags.get("limit"), extra_vars=variables,
                         tags=_tags(tags), skip_tags=_tags(skip_tags),
                         start_at_task=start_at_task)  # fmt: skip
    console = Console(as_json=as_json, verbosity=verbose)
    runtime = _service_runtime(loaded, lock_wait, check, console)
    started = time.monotonic()
    try:
        stats = asyncio.run(_run(loaded, inventory, targets, options, console, runtime))
    finally:
        runtime.close()
    if as_json:
        click.echo(
            json.dumps({"event": "finished", "seconds": round(time.monotonic() - started, 3)})
        )
    sys.exit(exit_code(stats))


def _service_runtime(loaded, lock_wait: float, check: bool, console):  # noqa: ANN001
    """The store and lock for `service` tasks. A playbook that manages services takes the lock
    before any host is touched, so a second apply waits (--lock-wait) or stops at once."""
    from orchestr.cluster.runtime import ServiceRuntime
    from orchestr.store.store import command_line

    runtime = ServiceRuntime(lock_wait=lock_wait, purpose="check" if check else "apply",
                             command=command_line(),
                             warn=lambda message: console.event("warning", message=message))  # fmt: skip
    if any(_uses_services(playbook) for playbook in loaded):
        runtime.store()
    return runtime


def _uses_services(playbook) -> bool:  # noqa: ANN001
    from orchestr.playbook.model import Block

    def walk(items) -> bool:  # noqa: ANN001
        for item in items:
            if isinstance(item, Block):
                if walk((*item.block, *item.rescue, *item.always)):
                    return True
            elif item.module == "orchestr.cluster.service":
                return True
        return False

    return any(
        walk(play.pre_tasks) or walk(play.tasks) or walk(play.post_tasks) or walk(play.handlers)
        or any(walk(role.tasks) for role in play.roles)
        for play in playbook.plays
    )  # fmt: skip


async def _run(loaded, inventory, targets, options, console, runtime):  # noqa: ANN001
    from orchestr.cluster.world import Cluster
    from orchestr.discovery.publish import publisher_for
    from orchestr.playbook.runner import PlaybookRun
    from orchestr.transport.pool import Pool

    stats: dict = {}
    async with Pool(targets.settings, targets.pool_options) as pool:
        # The cluster handle, assembled once for every play: the store is opened (and locked)
        # on first use; a check run publishes nothing.
        cluster = Cluster(pool, inventory, open_store=runtime.store, command=runtime.command,
                          publisher=None if options.check else publisher_for(inventory),
                          log=lambda line: console.event("progress", message=line))  # fmt: skip
        options = replace(options, cluster=cluster)
        for playbook in loaded:
            run = PlaybookRun(playbook, inventory, pool, options, console)
            stats.update(await run.run())
    return stats


def exit_code(stats: dict) -> int:
    if any(s.unreachable for s in stats.values()):
        return EXIT_HOSTS_UNREACHABLE
    if any(s.failed for s in stats.values()):
        return EXIT_HOSTS_FAILED
    return EXIT_OK


def _play_name(play, variables: dict) -> str:  # noqa: ANN001
    """The play's name as ansible-playbook lists it: templated with the play's vars and the
    extra vars; a play without a name is named after its host pattern."""
    if not play.name:
        return play.hosts or ""
    if "{{" not in play.name and "{%" not in play.name:
        return play.name
    from orchestr.playbook.templar import Templar

    try:
        return str(Templar({**dict(play.vars or {}), **variables}).render(play.name))
    except Exception:  # noqa: BLE001 - listing shows the raw name rather than failing
        return play.name


def _list(loaded, inventory, limit, list_hosts: bool, list_tasks: bool,  # noqa: ANN001
          variables: dict | None = None, tags: frozenset[str] = frozenset(),
          skip_tags: frozenset[str] = frozenset()) -> None:  # fmt: skip
    """What `ansible-playbook --list-hosts / --list-tasks` prints, line for line: tags are
    inherited (play, role, block, import) and sorted; only a block's `block:` part is listed;
    a named role task is `role : name`; handlers are not listed."""
    from orchestr.playbook.model import Block
    from orchestr.playbook.runner import tags_selected

    for playbook in loaded:
        click.echo(f"\nplaybook: {playbook.path}")
        for index, play in enumerate(playbook.plays, 1):
            play_tags = frozenset(play.tags)
            name = _play_name(play, variables or {})
            header = (
                f"\n  play #{index} ({play.hosts}): {name}\tTAGS: [{','.join(sorted(play_tags))}]"
            )
            if list_hosts:
                hosts = inventory.select(play.hosts, limit)
                header += f"\n    pattern: {[play.hosts]!r}\n    hosts ({len(hosts)}):"
                header += "".join(f"\n      {host.name}" for host in hosts)
            click.echo(header)
            if not list_tasks:
                continue
            lines = ["    tasks:"]

            def walk(items, inherited: frozenset[str], lines: list[str] = lines) -> None:  # noqa: ANN001
                for item in items:
                    if isinstance(item, Block):
                        walk(item.block, inherited | item.tags)
                        continue
                    task_tags = inherited | item.tags
                    if not tags_selected(task_tags, tags, skip_tags):
                        continue
                    if item.name:
                        label = f"{item.role} : {item.name}" if item.role else item.name
                    else:
                        label = item.module
                    lines.append(f"      {label}\tTAGS: [{', '.join(sorted(task_tags))}]")

            walk(play.pre_tasks, play_tags)
            for role in play.roles:
                walk(role.tasks, play_tags | role.tags)
            walk(play.tasks, play_tags)
            walk(play.post_tasks, play_tags)
            click.echo("\n".join(lines))

"""The `orchestr` command line: parse flags, call one function, print; subcommands load lazily."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys

import click

from orchestr import __version__
from orchestr.errors import EXIT_BAD_OPTIONS, EXIT_INTERRUPTED, EXIT_UNEXPECTED, OrchestrError

# name -> "module:attribute". Loading a command's module only when it runs keeps start-up cheap:
# `orchestr exec` must not pay for jinja2 or the lab's docker code.
SUBCOMMANDS = {
    "lab": "orchestr.lab.cli:lab",
    "inventory": "orchestr.inventory.cli:inventory_command",
    "exec": "orchestr.adhoc.cli:exec_command",
    "image": "orchestr.images.cli:image",
    "facts": "orchestr.adhoc.facts_cli:facts_command",
    "apply": "orchestr.playbook.cli:apply_command",
    "playbook": "orchestr.playbook.cli:apply_command",
    "plan": "orchestr.cluster.cli:plan_command",
    "status": "orchestr.cluster.cli:status_command",
    "ps": "orchestr.cluster.cli:ps_command",
    "logs": "orchestr.cluster.cli:logs_command",
    "history": "orchestr.cluster.cli:history_command",
    "scale": "orchestr.cluster.cli:scale_command",
    "rollback": "orchestr.cluster.cli:rollback_command",
    "drain": "orchestr.cluster.cli:drain_command",
    "undrain": "orchestr.cluster.cli:undrain_command",
    "dns": "orchestr.discovery.dns_cli:dns",
    "sweep": "orchestr.health.cli:sweep_command",
    "watch": "orchestr.health.cli:watch_command",
    "cron": "orchestr.health.cli:cron_command",
    "events": "orchestr.health.cli:events_command",
    "scenario": "orchestr.scenario.cli:scenario",
    "vault": "orchestr.vault.cli:vault",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="orchestr")
def cli() -> None:
    """Agentless push orchestrator: Ansible inventories and playbooks, containers kept over SSH."""


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one line on stderr and Ansible's exit codes."""
    try:
        code = cli.main(args=argv, prog_name="orchestr", standalone_mode=False)
    except OrchestrError as error:
        from orchestr.vault.secret import mask

        for line in error.lines():
            click.echo(f"ERROR: {mask(line)}", err=True)
        sys.exit(error.exit_code)
    except click.exceptions.Abort:
        click.echo("ERROR: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("ERROR: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.UsageError as error:
        error.show()
        sys.exit(EXIT_BAD_OPTIONS)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except Exception as error:  # noqa: BLE001 - the last line of defence against tracebacks
        if os.environ.get("ORCHESTR_DEBUG"):
            raise
        click.echo(
            f"ERROR: unexpected {type(error).__name__}: {error} "
            "(hint: rerun with ORCHESTR_DEBUG=1 for a traceback and report it)",
            err=True,
        )
        sys.exit(EXIT_UNEXPECTED)
    sys.exit(code if isinstance(code, int) else 0)


def entry() -> None:
    """The console script: `main`, then leave without interpreter teardown. Finalizing the
    objects a run leaves (asyncssh connections, cryptography contexts, compiled templates) took
    ~0.15 s of every run on these machines, and the OS frees all of it anyway. Output is
    flushed first; orchestr registers no atexit work. Tests call `main` and are unaffected."""
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError):  # a closed pipe (`| head`) has nothing left to say
            stream.flush()
    os._exit(code)

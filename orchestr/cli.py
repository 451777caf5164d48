"""The `orchestr` command line: parse flags, call one function, print; subcommands load lazily."""

from __future__ import annotations

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
        for line in error.lines():
            click.echo(f"ERROR: {line}", err=True)
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

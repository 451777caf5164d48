"""What the docker_* modules share: reading one docker object from the target host."""

from __future__ import annotations

from typing import Any

from orchestr.docker.parse import ParseError, inspect_one, unexpected_errors
from orchestr.playbook.modules.base import ModuleContext, ModuleError
from orchestr.transport.command import Command


async def inspect_on_host(ctx: ModuleContext, command: Command, what: str) -> dict[str, Any] | None:
    """Run a `docker ... inspect` on the host: the object, or None when docker says it does not
    exist; any other complaint (no docker, daemon down) fails the task naming `what`."""
    result = await ctx.run(command)
    problems = unexpected_errors(result.stderr)
    if problems:
        raise ModuleError(f"docker {what} inspect failed on {ctx.host}: {' '.join(problems)}")
    try:
        return inspect_one(result.stdout)
    except ParseError as error:
        raise ModuleError(str(error)) from None

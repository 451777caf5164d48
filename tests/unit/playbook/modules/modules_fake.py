"""A scripted ModuleContext: records every command and put, answers with the Results given."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestr.playbook.modules.base import ModuleError
from orchestr.transport.base import Result
from orchestr.transport.command import Command, as_command


def ok(stdout: str = "", stderr: str = "", rc: int = 0) -> Result:
    return Result(rc, stdout, stderr, 0.25)


@dataclass
class FakeContext:
    host: str = "web1"
    check_mode: bool = False
    diff: bool = False
    variables: Mapping[str, Any] = field(default_factory=dict)
    verbosity: int = 0
    # Answers in order; a callable answers from the rendered command line.
    results: list[Result] | Callable[[str], Result] = field(default_factory=list)
    files: Mapping[str, str] = field(default_factory=dict)  # (kind/name) -> local path
    evaluator: Callable[[str], Any] | None = None
    commands: list[str] = field(default_factory=list)
    stdins: list[Any] = field(default_factory=list)
    puts: list[tuple[bytes, str, int]] = field(default_factory=list)

    async def run(self, command: Command | str | list[str], *, stdin: Any = None,
                  timeout: float | None = None) -> Result:  # fmt: skip
        line = as_command(command).render()
        self.commands.append(line)
        self.stdins.append(stdin)
        if callable(self.results):
            return self.results(line)
        if not self.results:
            raise AssertionError(f"unexpected command: {line}")
        return self.results.pop(0)

    async def put(self, data: bytes, remote_path: str, mode: int = 0o644) -> None:
        self.puts.append((data, remote_path, mode))

    def find_file(self, kind: str, name: str) -> str:
        try:
            return self.files[f"{kind}/{name}"]
        except KeyError:
            raise ModuleError(f"could not find {name} in {kind}/") from None

    def render_template(
        self, text: str, extra: Mapping[str, Any] | None = None,
        *, trim_blocks: bool = True, lstrip_blocks: bool = False,
    ) -> str:  # fmt: skip
        import jinja2

        self.template_options = {"trim_blocks": trim_blocks, "lstrip_blocks": lstrip_blocks}
        return jinja2.Template(
            text, keep_trailing_newline=True, trim_blocks=trim_blocks, lstrip_blocks=lstrip_blocks
        ).render({**self.variables, **(extra or {})})

    def evaluate(self, expression: str) -> Any:
        if self.evaluator is not None:
            return self.evaluator(expression)
        import jinja2

        env = jinja2.Environment(undefined=jinja2.StrictUndefined)
        return env.compile_expression(expression, undefined_to_none=False)(**self.variables)


@dataclass
class LocalContext(FakeContext):
    """Runs every command for real with the local `sh` (dash here), or with busybox alone when
    `path` holds only busybox applets: the scripts the modules send must work on both."""

    path: str | None = None

    async def run(self, command: Command | str | list[str], *, stdin: Any = None,
                  timeout: float | None = None) -> Result:  # fmt: skip
        import asyncio
        import os

        line = as_command(command).render()
        self.commands.append(line)
        env = dict(os.environ)
        shell = ["sh", "-c", line]
        if self.path is not None:
            env["PATH"] = self.path
            shell = [os.path.join(self.path, "sh"), "-c", line]
        process = await asyncio.create_subprocess_exec(
            *shell, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        out, err = await process.communicate(stdin)
        return Result(process.returncode or 0, out.decode(errors="replace"),
                      err.decode(errors="replace"), 0.0)  # fmt: skip

    async def put(self, data: bytes, remote_path: str, mode: int = 0o644) -> None:
        from orchestr.transport.base import put_command

        self.puts.append((data, remote_path, mode))
        result = await self.run(put_command(remote_path, mode), stdin=data)
        if not result.ok:
            raise OSError(result.stderr)


BUSYBOX_APPLETS = ("sh", "stat", "dirname", "readlink", "cut", "head", "cat", "sha1sum",
                   "sha256sum", "md5sum", "chmod", "chown", "chgrp", "mv", "cp", "rm", "mkdir",
                   "ln", "touch", "find", "rmdir", "id", "grep", "date", "sleep", "timeout",
                   "nc", "wc", "tr", "sed", "printf", "base64")  # fmt: skip


def busybox_path(folder: Any, without: tuple[str, ...] = ()) -> str | None:
    """A folder of busybox applets (None when busybox is not installed)."""
    import os
    import shutil

    busybox = shutil.which("busybox")
    if busybox is None:
        return None
    for applet in BUSYBOX_APPLETS:
        if applet in without:
            continue
        os.symlink(busybox, os.path.join(folder, applet))
    return str(folder)

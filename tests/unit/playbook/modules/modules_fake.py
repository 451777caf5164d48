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

    def render_template(self, text: str, extra: Mapping[str, Any] | None = None) -> str:
        import jinja2

        return jinja2.Template(text, keep_trailing_newline=True).render(
            {**self.variables, **(extra or {})}
        )

    def evaluate(self, expression: str) -> Any:
        if self.evaluator is not None:
            return self.evaluator(expression)
        import jinja2

        env = jinja2.Environment(undefined=jinja2.StrictUndefined)
        return env.compile_expression(expression, undefined_to_none=False)(**self.variables)

"""command, shell and raw: run what the task says on the host, as Ansible's modules of these names
(creates/removes short-circuit, chdir, stdin; check mode skips, as Ansible does)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any

from orchestr.playbook.modules.base import (
    Arg,
    ModuleContext,
    ModuleError,
    ModuleResult,
    as_bool,
    module,
)
from orchestr.playbook.modules.common import chain, now, timing
from orchestr.transport.command import Command, Part, Shell

WOULD_RUN = "Command would have run if not in check mode"

# $1 chdir, $2 creates glob, $3 removes glob: prints which globs match anything. IFS is emptied
# so a pattern is globbed but never split on spaces.
_GUARD = (
    'if [ -n "$1" ]; then cd -- "$1" || exit 2; fi; IFS=; '
    'if [ -n "$2" ]; then for f in $2; do '
    'if [ -e "$f" ] || [ -L "$f" ]; then echo creates; break; fi; done; fi; '
    'if [ -n "$3" ]; then for f in $3; do '
    'if [ -e "$f" ] || [ -L "$f" ]; then echo removes; break; fi; done; fi; exit 0'
)

_COMMON = {
    "_raw_params": Arg(),
    "cmd": Arg(),
    "chdir": Arg(type="path"),
    "creates": Arg(type="path"),
    "removes": Arg(type="path"),
    "stdin": Arg(),
    "stdin_add_newline": Arg(type="bool", default=True),
    "strip_empty_ends": Arg(type="bool", default=True),
    "expand_argument_vars": Arg(type="bool", default=True),
}


@dataclass(frozen=True)
class Invocation:
    """The command line to run, and what Ansible reports as `cmd` (a list for command, the text
    for shell)."""

    command: Command
    cmd: Any


def invocation(kind: str, args: dict[str, Any]) -> Invocation:
    """The remote command for `command` (argv, words quoted: no shell features) or `shell` (the
    text as written, run by /bin/sh or `executable`), in `chdir` when given."""
    text = args.get("_raw_params") or args.get("cmd")
    argv = args.get("argv")
    given = [name for name, value in (("free form", text), ("argv", argv)) if value]
    if kind == "command" and len(given) > 1:
        raise ModuleError("parameters are mutually exclusive: _raw_params|cmd|argv")
    if not given:
        raise ModuleError("no command given")
    chdir = args.get("chdir")
    if kind == "shell":
        text = str(text)
        executable = args.get("executable")
        if executable:
            run = Command.argv(str(executable), "-c", text)
        elif chdir:
            run = Command.argv("/bin/sh", "-c", text)
        else:
            run = Command.shell(text)
        cmd: Any = text
    else:
        words = [str(word) for word in argv] if argv else shlex.split(str(text))
        if not words:
            raise ModuleError("no command given")
        expand = as_bool(args.get("expand_argument_vars", True))
        run = Command(tuple(expanded(word) if expand else word for word in words))
        cmd = words
    if chdir:
        run = chain([Command.argv("cd", "--", str(chdir)), run])
    return Invocation(run, cmd)


_NAME = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*|\{[A-Za-z_][A-Za-z0-9_]*\})")


def expanded(word: str) -> Part:
    """One argv word with $NAME, ${NAME} and a leading ~ expanded by the host's shell and nothing
    else (no splitting, no globbing), as Ansible's command expands them (expand_argument_vars).
    One difference: an unset variable becomes empty, where Ansible leaves its name."""
    if "$" not in word and not word.startswith("~"):
        return word
    prefix, rest = "", word
    if word == "~" or word.startswith("~/"):
        prefix, rest = "${HOME}", word[1:]
    out, index = [], 0
    while index < len(rest):
        found = _NAME.match(rest, index)
        if found:
            out.append(found.group(0))
            index = found.end()
            continue
        char = rest[index]
        out.append("\\" + char if char in '"\\`$' else char)
        index += 1
    return Shell('"' + prefix + "".join(out) + '"')


def guard_command(args: dict[str, Any]) -> Command | None:
    """The round trip that checks creates/removes, or None when neither is given."""
    creates, removes = args.get("creates"), args.get("removes")
    if not creates and not removes:
        return None
    return Command.argv(
        "sh", "-c", _GUARD, "guard", str(args.get("chdir") or ""), str(creates or ""),
        str(removes or ""),
    )  # fmt: skip


def short_circuit(args: dict[str, Any], matched: set[str], check_mode: bool) -> ModuleResult | None:
    """Ansible's creates/removes: not running the command is an ok (unchanged) result."""
    shoulda = "Would" if check_mode else "Did"
    creates, removes = args.get("creates"), args.get("removes")
    if creates and "creates" in matched:
        return ModuleResult(
            msg=f"{shoulda} not run command since '{creates}' exists",
            data={"rc": 0, "stdout": f"skipped, since {creates} exists", "stderr": ""},
        )
    if removes and "removes" not in matched:
        return ModuleResult(
            msg=f"{shoulda} not run command since '{removes}' does not exist",
            data={"rc": 0, "stdout": f"skipped, since {removes} does not exist", "stderr": ""},
        )
    return None


def stdin_bytes(args: dict[str, Any]) -> bytes | None:
    stdin = args.get("stdin")
    if stdin is None:
        return None
    text = str(stdin)
    if as_bool(args.get("stdin_add_newline", True)):
        text += "\n"
    return text.encode()


async def run_command(kind: str, args: dict[str, Any], ctx: ModuleContext) -> ModuleResult:
    call = invocation(kind, args)
    guard = guard_command(args)
    if guard is not None:
        checked = await ctx.run(guard)
        if checked.rc == 2:
            return ModuleResult(
                failed=True,
                msg="Unable to change directory before execution.",
                data={"cmd": call.cmd, "rc": None, "stdout": "", "stderr": checked.stderr},
            )
        if not checked.ok:
            raise ModuleError(f"cannot check creates/removes: {checked.stderr.strip()}")
        skipped = short_circuit(args, set(checked.stdout.split()), ctx.check_mode)
        if skipped is not None:
            skipped.data["cmd"] = call.cmd
            return skipped
    if ctx.check_mode:
        # With creates/removes Ansible reports the change it would make; without, it skips.
        data = {"cmd": call.cmd, "rc": 0, "stdout": "", "stderr": ""}
        if guard is None:
            return ModuleResult(skipped=True, msg=WOULD_RUN, data=data)
        return ModuleResult(changed=True, msg=WOULD_RUN, data=data)
    start = now()
    result = await ctx.run(call.command, stdin=stdin_bytes(args))
    return finish(call.cmd, result.rc, result.stdout, result.stderr, result.duration, start,
                  strip=as_bool(args.get("strip_empty_ends", True)))  # fmt: skip


def finish(cmd: Any, rc: int, stdout: str, stderr: str, duration: float, start: Any,
           strip: bool = True) -> ModuleResult:  # fmt: skip
    if strip:
        stdout, stderr = stdout.rstrip("\r\n"), stderr.rstrip("\r\n")
    data = {"cmd": cmd, "rc": rc, "stdout": stdout, "stderr": stderr, **timing(start, duration)}
    if rc != 0:
        return ModuleResult(changed=True, failed=True, msg="non-zero return code", data=data)
    return ModuleResult(changed=True, data=data)


@module("command", args={**_COMMON, "argv": Arg(type="list")}, free_form=True)
async def command(args: dict[str, Any], ctx: ModuleContext) -> ModuleResult:
    return await run_command("command", args, ctx)


@module("shell", args={**_COMMON, "executable": Arg(type="path")}, free_form=True)
async def shell(args: dict[str, Any], ctx: ModuleContext) -> ModuleResult:
    return await run_command("shell", args, ctx)


@module("raw", args={"_raw_params": Arg(), "executable": Arg(type="path")}, free_form=True)
async def raw(args: dict[str, Any], ctx: ModuleContext) -> ModuleResult:
    """The line as is, through the login shell (or `executable -c`); never in check mode."""
    text = str(args.get("_raw_params") or "")
    if not text:
        raise ModuleError("no command given")
    if ctx.check_mode:
        return ModuleResult(skipped=True, msg="raw does not run in check mode")
    executable = args.get("executable")
    line = Command.argv(str(executable), "-c", text) if executable else Command.shell(text)
    start = now()
    result = await ctx.run(line)
    # raw keeps the output as it came (no stripping), as Ansible's raw does.
    return finish(
        text, result.rc, result.stdout, result.stderr, result.duration, start, strip=False
    )

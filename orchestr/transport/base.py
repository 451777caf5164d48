"""What every connection offers (ssh, local), and what a command's run returns."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestr.errors import OrchestrError
from orchestr.transport.command import Become, Command, as_command, mask

DEFAULT_COMMAND_TIMEOUT = 600.0

OnLine = Callable[[str, str], None]  # (stream name "stdout" | "stderr", line)
Input = bytes | AsyncIterable[bytes] | None  # a command's stdin: all at once, or streamed


def prepend(first: bytes, stdin: Input) -> Input:
    """stdin with `first` (a sudo password line) before it, keeping a stream a stream."""
    if stdin is None or isinstance(stdin, bytes | bytearray):
        return first + (stdin or b"")

    async def chained() -> AsyncIterator[bytes]:
        yield first
        async for chunk in stdin:
            yield chunk

    return chained()


@dataclass(frozen=True)
class Result:
    """What one remote command did."""

    rc: int
    stdout: str
    stderr: str
    duration: float

    @property
    def ok(self) -> bool:
        return self.rc == 0


async def exchange(
    writer: Any, end_input: Callable[[], None], stdout: Any, stderr: Any,
    stdin: Input, on_line: OnLine | None,
) -> tuple[str, str]:  # fmt: skip
    """Feed stdin while reading stdout and stderr, all at once: a command that writes a lot
    before it reads its input would otherwise block on a full pipe, and so would we."""

    async def feed() -> None:
        try:
            if isinstance(stdin, bytes | bytearray):
                writer.write(stdin)
                await writer.drain()
            elif stdin is not None:
                async for chunk in stdin:  # never more than one chunk of a stream in memory
                    writer.write(chunk)
                    await writer.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the command stopped reading; its exit status tells why
        finally:
            end_input()

    async def drain(stream: Any, name: str) -> str:
        if on_line is None:
            return (await stream.read()).decode(errors="replace")
        chunks = []
        async for raw in stream:
            if not raw:  # asyncssh can yield b"" at end of stream: not a line
                continue
            line = raw.decode(errors="replace")
            chunks.append(line)
            on_line(name, line.rstrip("\n"))
        return "".join(chunks)

    _, out, err = await asyncio.gather(feed(), drain(stdout, "stdout"), drain(stderr, "stderr"))
    return out, err


class Unreachable(OrchestrError):
    """The host could not be connected to, or the connection died (refused, timed out, host key,
    authentication). Ansible's UNREACHABLE."""

    def __init__(self, message: str, *, hint: str = "", transient: bool = False):
        super().__init__(message, hint=hint)
        # Worth another connect attempt (refused or dropped during the handshake)?
        self.transient = transient


class CommandTimeout(OrchestrError):
    """A command did not finish in time; it may still be running on the host."""


class Connection:
    """What every connection offers (ssh, local): run, put, get, close. This base holds what
    they share (become, secret masking, timing, put); a subclass says how a rendered command
    line is executed (`_execute`) and how a file is read (`get`)."""

    def __init__(self, name: str, become: Become | None = None):
        self.name = name
        self._become = become

    async def run(
        self,
        command: Command | str | list[str],
        *,
        stdin: Input = None,
        timeout: float | None = DEFAULT_COMMAND_TIMEOUT,
        on_line: OnLine | None = None,
        become: bool | Become | None = None,
    ) -> Result:
        """Run through the remote shell; `become` overrides the connection's become setting
        (True/False, or a Become for another user, as a task's become_user asks).
        Output never shows a secret the command carried, nor the sudo password."""
        final = as_command(command)
        secrets = final.secrets
        escalation = become if isinstance(become, Become) else self._become
        if isinstance(become, Become) or (self._become is not None if become is None else become):
            final, password = (escalation or Become()).wrap(final)
            if password is not None:
                stdin = prepend(password, stdin)
                secrets = (*secrets, password.decode().strip())
        started = time.monotonic()
        rc, out, err = await self._execute(final.render(), stdin, timeout, on_line)
        return Result(rc, mask(out, secrets), mask(err, secrets), time.monotonic() - started)

    async def _execute(
        self, line: str, stdin: Input, timeout: float | None, on_line: OnLine | None
    ) -> tuple[int, str, str]:
        raise NotImplementedError

    async def put(self, source: bytes | str, remote_path: str, mode: int = 0o644) -> None:
        """Write bytes (or a local file) to remote_path atomically, with the given mode."""
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        result = await self.run(put_command(remote_path, mode), stdin=data)
        if not result.ok:
            raise OSError(f"cannot write {remote_path}: {result.stderr.strip()}")

    async def get(self, remote_path: str) -> bytes:
        raise NotImplementedError

    async def close(self) -> None:
        return None


def put_command(remote_path: str, mode: int) -> Command:
    """Write stdin to a temporary file beside the target, then rename: readers never see half a
    file, and only `sh` is needed on the host (no sftp-server, no Python)."""
    return Command.argv(
        "sh", "-c",
        'set -e; umask 077; tmp="$1.orchestr-tmp.$$"; trap \'rm -f "$tmp"\' EXIT; '
        'cat > "$tmp"; chmod "$2" "$tmp"; mv -f "$tmp" "$1"; trap - EXIT',
        "put", remote_path, format(mode, "o"),
    )  # fmt: skip


def get_command(remote_path: str) -> Command:
    return Command.argv("cat", "--", remote_path)

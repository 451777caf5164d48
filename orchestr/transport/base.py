"""What every connection offers (ssh, local), and what a command's run returns."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from orchestr.errors import OrchestrError
from orchestr.transport.command import Command, mask

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


def masked_result(rc: int, out: str, err: str, duration: float, secrets: tuple[str, ...]) -> Result:
    """A Result whose output cannot show a secret the command carried, even if echoed."""
    return Result(rc, mask(out, secrets), mask(err, secrets), duration)


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


class Connection(Protocol):
    name: str

    async def run(
        self,
        command: Command | str | list[str],
        *,
        stdin: Input = None,
        timeout: float | None = DEFAULT_COMMAND_TIMEOUT,
        on_line: OnLine | None = None,
    ) -> Result:
        """Run a command through `sh -c`; with on_line, each output line is reported as it comes."""
        ...

    async def put(self, source: bytes | str, remote_path: str, mode: int = 0o644) -> None:
        """Write bytes (or a local file) to remote_path atomically, with the given mode."""
        ...

    async def get(self, remote_path: str) -> bytes: ...

    async def close(self) -> None: ...


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

"""The controller itself as a host (ansible_connection=local): same interface, no SSH."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

from orchestr.transport.base import (
    CommandTimeout,
    Connection,
    Input,
    OnLine,
    exchange,
    get_command,
)


class LocalConnection(Connection):
    """The controller itself, through /bin/sh."""

    async def _execute(
        self, line: str, stdin: Input, timeout: float | None, on_line: OnLine | None
    ) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            "/bin/sh", "-c", line,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )  # fmt: skip
        try:
            async with asyncio.timeout(timeout):
                out, err = await _communicate(process, stdin, on_line)
        except TimeoutError:
            # The whole session: sh forks even for `sh -c 'sleep 5'`, and a surviving child
            # would keep the pipes open (and the command running).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
            raise CommandTimeout(f"command did not finish within {timeout:g} s") from None
        return process.returncode or 0, out, err

    async def get(self, remote_path: str) -> bytes:
        process = await asyncio.create_subprocess_exec(
            "/bin/sh", "-c", get_command(remote_path).render(),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await process.communicate()
        if process.returncode:
            raise OSError(f"cannot read {remote_path}: {err.decode().strip()}")
        return out


async def _communicate(process, stdin: Input, on_line: OnLine | None) -> tuple[str, str]:
    out, err = await exchange(
        process.stdin, process.stdin.close, process.stdout, process.stderr, stdin, on_line
    )
    await process.wait()
    return out, err

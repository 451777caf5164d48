"""The controller itself as a host (ansible_connection=local): same interface, no SSH."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

from orchestr.transport.base import (
    DEFAULT_COMMAND_TIMEOUT,
    CommandTimeout,
    Input,
    OnLine,
    Result,
    exchange,
    get_command,
    masked_result,
    prepend,
    put_command,
)
from orchestr.transport.command import Become, Command, as_command


class LocalConnection:
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
        become: bool | None = None,
    ) -> Result:
        final = as_command(command)
        secrets = final.secrets
        if self._become is not None if become is None else become:
            final, password = (self._become or Become()).wrap(final)
            if password is not None:
                stdin = prepend(password, stdin)
                secrets = (*secrets, password.decode().strip())
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            "/bin/sh", "-c", final.render(),
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
        return masked_result(process.returncode or 0, out, err, time.monotonic() - started, secrets)

    async def put(self, source: bytes | str, remote_path: str, mode: int = 0o644) -> None:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        result = await self.run(put_command(remote_path, mode), stdin=data)
        if not result.ok:
            raise OSError(f"cannot write {remote_path}: {result.stderr.strip()}")

    async def get(self, remote_path: str) -> bytes:
        process = await asyncio.create_subprocess_exec(
            "/bin/sh", "-c", get_command(remote_path).render(),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await process.communicate()
        if process.returncode:
            raise OSError(f"cannot read {remote_path}: {err.decode().strip()}")
        return out

    async def close(self) -> None:
        return None


async def _communicate(process, stdin: Input, on_line: OnLine | None) -> tuple[str, str]:  # noqa: ANN001
    out, err = await exchange(
        process.stdin, process.stdin.close, process.stdout, process.stderr, stdin, on_line
    )
    await process.wait()
    return out, err

"""LocalConnection: the controller as a host, same interface as SSH."""

from __future__ import annotations

import os
import time

import pytest

from orchestr.transport.base import CommandTimeout
from orchestr.transport.command import Command
from orchestr.transport.local import LocalConnection


async def test_rc_stdout_stderr():
    result = await LocalConnection("l").run("echo out; echo err >&2; exit 7")
    assert (result.rc, result.stdout, result.stderr) == (7, "out\n", "err\n")
    assert not result.ok
    assert result.duration >= 0


async def test_stdin_bytes_and_stream():
    conn = LocalConnection("l")
    assert (await conn.run("wc -c", stdin=b"12345")).stdout.strip() == "5"

    async def chunks():
        for _ in range(16):
            yield b"z" * 65536

    assert (await conn.run(["wc", "-c"], stdin=chunks())).stdout.strip() == str(16 * 65536)


async def test_large_output_and_input_at_once():
    size = 2 << 20
    result = await LocalConnection("l").run(
        f"head -c {size} /dev/zero | tr '\\0' a; wc -c", stdin=b"b" * size, timeout=30
    )
    assert result.stdout == "a" * size + f"{size}\n"


async def test_on_line():
    seen = []
    await LocalConnection("l").run("echo 1; echo 2 >&2", on_line=lambda s, t: seen.append((s, t)))
    assert sorted(seen) == [("stderr", "2"), ("stdout", "1")]


async def test_put_and_get(tmp_path):
    conn = LocalConnection("l")
    target = tmp_path / "dir with space" / "f.bin"
    target.parent.mkdir()
    data = bytes(range(256)) * 40
    await conn.put(data, str(target), mode=0o600)
    assert target.read_bytes() == data
    assert target.stat().st_mode & 0o777 == 0o600
    assert await conn.get(str(target)) == data
    assert sorted(os.listdir(target.parent)) == ["f.bin"]
    with pytest.raises(OSError, match="cannot read"):
        await conn.get(str(tmp_path / "missing"))
    with pytest.raises(OSError, match="cannot write"):
        await conn.put(b"x", str(tmp_path / "no" / "such" / "dir" / "f"))


def _running(marker: str) -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode()
            with open(f"/proc/{pid}/stat") as handle:
                state = handle.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z":
            found.append(cmdline)
    return found


@pytest.mark.parametrize(
    "command",
    [Command.argv("sleep", "2.0417"), Command.shell("sleep 2.0417; echo done")],
    ids=["argv", "shell-line"],
)
async def test_timeout_kills_the_command_and_returns_in_time(command):
    marker = "sleep 2.0417"  # a sleep nobody else runs
    started = time.monotonic()
    with pytest.raises(CommandTimeout, match="0.5 s"):
        await LocalConnection("l").run(command, timeout=0.5)
    elapsed = time.monotonic() - started
    leftover = _running(marker)
    assert elapsed < 2, f"took {elapsed:.1f} s for a 0.5 s timeout"
    assert leftover == []


async def test_output_never_shows_a_secret_the_command_carried():
    from orchestr.transport.command import Secret

    result = await LocalConnection("l").run(
        Command.argv("sh", "-c", 'echo "token=$1"; echo "$1" >&2', "sh", Secret("hunter2"))
    )
    assert result.ok
    assert result.stdout == "token=***\n" and result.stderr == "***\n"

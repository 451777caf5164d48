"""wait_for: the decision from arguments, the result from the loop's output, and the loop run for
real under dash (bash's /dev/tcp), busybox with nc (Debian's, without -z) and busybox alone."""

from __future__ import annotations

import asyncio
import socket

import pytest
from modules_fake import FakeContext, LocalContext, busybox_path, ok

from orchestr.playbook.modules.base import ModuleError, lookup
from orchestr.playbook.modules.wait_for import outcome, wait_command, wait_mode


@pytest.mark.parametrize(
    ("args", "mode"),
    [
        ({"port": 80}, "connect"), ({"port": 80, "state": "stopped"}, "closed"),
        ({"port": 80, "state": "absent"}, "closed"), ({"port": 80, "state": "drained"}, "drained"),
        ({"path": "/f"}, "present"), ({"path": "/f", "state": "absent"}, "absent"),
        ({"path": "/f", "state": "stopped"}, "absent"),
        ({"path": "/f", "search_regex": "ready"}, "match"), ({}, "sleep"),
    ],
)  # fmt: skip
def test_wait_mode(args, mode):
    assert wait_mode(args) == mode


@pytest.mark.parametrize(
    ("args", "error"),
    [({"port": 1, "path": "/f"}, "both"), ({"path": "/f", "state": "drained"}, "drained"),
     ({"port": 1, "exclude_hosts": ["a"]}, "exclude_hosts"), ({"state": "up"}, "state")],
)  # fmt: skip
def test_wait_mode_errors(args, error):
    with pytest.raises(ModuleError, match=error):
        wait_mode(args)


def test_wait_command_arguments():
    line = wait_command({"port": 8080, "host": "db", "timeout": 20, "sleep": 2}).render()
    assert line.startswith("sh -c ")
    assert line.endswith(" wait_for connect db 8080 '' '' 20 2 5 1F90 '01 04 05 03 02 06'")


def test_outcome_timeout_message_and_custom_msg():
    timed_out = outcome({"port": 80}, "connect", 1, "elapsed:5\n", "", 5.2)
    assert timed_out.failed and timed_out.msg == "Timeout when waiting for 127.0.0.1:80"
    assert timed_out.data["elapsed"] == 5
    custom = outcome({"path": "/f", "msg": "no file"}, "present", 1, "", "", 1)
    assert custom.msg == "no file"


def test_outcome_match_groups():
    result = outcome({"path": "/log", "search_regex": r"listening on (\d+)"}, "match", 0,
                     "match:2024 listening on 8080\nelapsed:3\n", "", 3.1)  # fmt: skip
    assert not result.failed and not result.changed
    assert result.data["match_groups"] == ["8080"] and result.data["elapsed"] == 3


def test_outcome_cannot_probe():
    result = outcome({"port": 80}, "connect", 3, "", "wait_for: no bash, nc\n", 0)
    assert result.failed and result.msg.startswith("wait_for: no bash")


async def test_check_mode_is_skipped():
    result = await lookup("wait_for").run({"port": 22}, FakeContext(check_mode=True))
    assert result.skipped


async def test_runs_one_command_with_a_longer_transport_timeout():
    ctx = FakeContext(results=[ok("elapsed:0\n")])
    result = await lookup("wait_for").run({"path": "/tmp", "timeout": 10}, ctx)
    assert len(ctx.commands) == 1 and not result.failed


TOOLS = ("cat", "grep", "date", "sleep", "timeout", "head")


def tools_path(folder) -> str:
    """dash and a few coreutils, without bash or nc: only /proc/net/tcp is left to probe with."""
    import os
    import shutil

    os.symlink(shutil.which("dash") or "/bin/sh", folder / "sh")
    for tool in TOOLS:
        os.symlink(shutil.which(tool), folder / tool)
    return str(folder)


@pytest.fixture(params=["dash", "busybox-nc", "dash-proc"])
def shell(request, tmp_path_factory):
    """(name, PATH): dash finds bash (/dev/tcp); busybox sh runs its own applets whatever PATH
    says (its nc has no -z); dash-proc has neither bash nor nc."""
    if request.param == "dash":
        return request.param, None
    if request.param == "dash-proc":
        return request.param, tools_path(tmp_path_factory.mktemp("bin"))
    path = busybox_path(tmp_path_factory.mktemp("bin"))
    if path is None:
        pytest.skip("busybox is not installed")
    return request.param, path


@pytest.fixture
def listener():
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", 0))
    server.listen(8)
    yield server.getsockname()[1]
    server.close()


def free_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


async def run(shell, args):
    return await lookup("wait_for").run(args, LocalContext(path=shell[1]))


async def test_port_open(shell, listener):
    result = await run(shell, {"port": listener, "timeout": 3, "sleep": 0.2})
    assert not result.failed, result.msg


async def test_port_open_on_a_non_local_address(shell, listener):
    args = {"host": "127.0.0.2", "port": listener, "timeout": 2, "sleep": 0.2, "connect_timeout": 1}
    result = await run(shell, args)
    if shell[0] == "dash-proc":  # nothing can probe a remote address there: says so at once
        assert result.failed and "no bash, nc" in result.msg
    else:
        assert not result.failed, result.msg


async def test_port_closed_times_out_when_waiting_for_started(shell):
    port = free_port()
    result = await run(shell, {"port": port, "timeout": 1, "sleep": 0.3})
    assert result.failed and result.msg == f"Timeout when waiting for 127.0.0.1:{port}"
    stopped = await run(shell, {"port": port, "state": "stopped", "timeout": 2})
    assert not stopped.failed


async def test_file_appears_with_a_match(shell, tmp_path):
    log = tmp_path / "app.log"

    async def write_later():
        await asyncio.sleep(0.3)
        log.write_text("booting\nready on port 8080\n")

    writer = asyncio.create_task(write_later())
    args = {"path": str(log), "search_regex": r"ready on port (\d+)", "timeout": 3, "sleep": 0.2}
    result = await run(shell, args)
    await writer
    assert not result.failed and result.data["match_groups"] == ["8080"]
    gone = await run(shell, {"path": str(tmp_path / "none"), "state": "absent", "timeout": 2})
    assert not gone.failed


async def test_drained_without_connections(shell):
    result = await run(shell, {"port": free_port(), "state": "drained", "timeout": 2})
    assert not result.failed


@pytest.mark.parametrize(
    ("python", "posix"),
    [(r"port (\d+)", "port ([0-9]+)"), (r"\s*ok\S", "[[:space:]]*ok[^[:space:]]"),
     (r"[\d]x", r"[\d]x"), (r"a\.b\w", r"a\.b[[:alnum:]_]")],
)  # fmt: skip
def test_posix_regex(python, posix):
    from orchestr.playbook.modules.wait_for import posix_regex

    assert posix_regex(python) == posix

"""The transport's Python API against the lab: one connection per host reused by every command,
argv words arriving byte-exact, put/get, stdin and stdout at once, command timeouts, facts."""

from __future__ import annotations

import asyncio
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestr.inventory import load_inventory
from orchestr.transport.base import CommandTimeout
from orchestr.transport.command import Command
from orchestr.transport.facts import gather_facts
from orchestr.transport.pool import Pool
from orchestr.transport.settings import settings_for

WORD = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
TRICKY = st.sampled_from(
    ["", " ", "'", '"', "\\", "$(hostname)", "`id`", "$HOME", "a\nb", "*", "~", "-n", ";",
     "|", "&&", "{a,b}", "\t", "é", "日本語", "\r\n", "!", "%s", "\\0", "'\"'\"'"]
)  # fmt: skip


def lab_settings(lab):
    inventory = load_inventory([str(lab.inventory)])
    return [settings_for(host.name, host.vars) for host in inventory.select("all")]


async def test_one_connection_per_host_for_every_command(lab):
    async def three_commands(conn):
        seen = []
        for _ in range(3):
            result = await conn.run("echo $SSH_CONNECTION; hostname")
            assert result.ok, result.stderr
            seen.append(result.stdout)
        return seen

    async with Pool(lab_settings(lab)) as pool:
        outcomes = await pool.each(["node1", "node2"], three_commands)
        assert pool.handshake_count == 2
        # The same client port every time: the same TCP connection, seen from the host.
        for outcome, host in zip(outcomes, ["node1", "node2"], strict=True):
            assert outcome.error is None, outcome.error
            assert len(set(outcome.value)) == 1, outcome.value
            assert outcome.value[0].split("\n")[1] == host
        # Concurrent commands on one host share its connection too.
        again = await pool.each(["node1"] * 4 + ["node2"] * 4, three_commands)
        assert all(o.error is None for o in again)
        assert {o.value[0] for o in again} == {o.value[0] for o in outcomes}
        assert pool.handshake_count == 2


@pytest.fixture(scope="module")
def node1(lab):
    """(loop, connection): one pooled connection to node1 for every hypothesis example."""
    loop = asyncio.new_event_loop()
    pool = Pool([s for s in lab_settings(lab) if s.name == "node1"])

    async def connect():  # pool.connection needs a running loop
        return await pool.connection("node1")

    conn = loop.run_until_complete(connect())
    yield loop, conn, pool
    loop.run_until_complete(pool.close())
    loop.close()


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(words=st.lists(st.one_of(WORD, TRICKY), min_size=1, max_size=6))
def test_any_argv_arrives_byte_exact(node1, words):
    loop, conn, pool = node1
    result = loop.run_until_complete(conn.run(Command.argv("printf", "%s\\0", *words), timeout=30))
    assert result.rc == 0, result.stderr
    assert result.stdout.encode() == b"".join(w.encode() + b"\0" for w in words)
    assert pool.handshake_count == 1


def test_put_and_get_are_byte_exact(node1):
    loop, conn, _ = node1
    data = bytes(range(256)) * 513 + b"\r\n\0tail"
    path = "/tmp/orchestr test/put file.bin"

    async def roundtrip():
        await conn.run(["mkdir", "-p", "/tmp/orchestr test"])
        await conn.put(data, path, mode=0o640)
        mode = await conn.run(["stat", "-c", "%a %s", path])
        leftovers = await conn.run(["sh", "-c", 'ls -a "$1"', "ls", "/tmp/orchestr test"])
        return await conn.get(path), mode.stdout.split(), leftovers.stdout.splitlines()

    fetched, (mode, size), names = loop.run_until_complete(roundtrip())
    assert fetched == data
    assert (mode, int(size)) == ("640", len(data))
    assert names == [".", "..", "put file.bin"]  # no temporary file left behind


def test_get_of_a_missing_file_is_an_error(node1):
    loop, conn, _ = node1
    with pytest.raises(OSError, match="no-such-file"):
        loop.run_until_complete(conn.get("/tmp/no-such-file"))


def test_stdin_and_a_large_output_at_once(node1):
    """A command writing a lot before reading its input must not deadlock on full pipes."""
    loop, conn, _ = node1
    size = 4 << 20

    async def stream():
        for _ in range(8):
            yield b"x" * (512 << 10)

    result = loop.run_until_complete(
        conn.run(f"head -c {size} /dev/zero | tr '\\0' y; wc -c", stdin=stream(), timeout=60)
    )
    assert result.rc == 0, result.stderr
    assert result.stdout[:size] == "y" * size
    assert result.stdout[size:].strip() == str(8 * (512 << 10))


def test_command_timeout_leaves_the_connection_usable(node1):
    loop, conn, pool = node1
    started = time.monotonic()
    with pytest.raises(CommandTimeout):
        loop.run_until_complete(conn.run("sleep 30", timeout=1))
    assert time.monotonic() - started < 5
    after = loop.run_until_complete(conn.run("echo still here", timeout=10))
    assert after.stdout == "still here\n"
    assert pool.handshake_count == 1


def test_on_line_reports_each_line_as_it_comes(node1):
    loop, conn, _ = node1
    for _ in range(20):  # the spurious line comes with the timing of EOF: most runs, not all
        lines = []
        result = loop.run_until_complete(
            conn.run(
                "echo one; echo two >&2; printf three",
                on_line=lambda stream, text, lines=lines: lines.append((stream, text)),
            )
        )
        assert result.stdout == "one\nthree"
        assert result.stderr == "two\n"
        assert sorted(lines) == [("stderr", "two"), ("stdout", "one"), ("stdout", "three")]


def test_facts_of_a_lab_host(node1):
    loop, conn, _ = node1
    facts = loop.run_until_complete(gather_facts(conn))
    assert facts.hostname == "node1"
    assert facts.os_id == "debian"
    assert facts.docker_version
    assert facts.cpus >= 1
    assert facts.memory_mb > 0
    assert 22 in facts.ports_in_use

"""The Pool with local hosts (ansible_connection=local) and a counting fake for SSH opens."""

from __future__ import annotations

import asyncio
import os

import pytest

from orchestr.transport import pool as pool_module
from orchestr.transport.base import Unreachable
from orchestr.transport.command import Become, Secret
from orchestr.transport.local import LocalConnection
from orchestr.transport.pool import Pool, PoolOptions
from orchestr.transport.settings import ConnectionSettings, settings_for


def local_hosts(count: int) -> list[ConnectionSettings]:
    return [settings_for(f"h{i}", {"ansible_connection": "local"}) for i in range(count)]


class Gauge:
    """How many works run at once, at most."""

    def __init__(self) -> None:
        self.active = 0
        self.peak = 0

    async def hold(self, seconds: float = 0.02) -> None:
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await asyncio.sleep(seconds)
        finally:
            self.active -= 1


@pytest.mark.parametrize(("hosts", "forks", "peak"), [(10, 3, 3), (6, 1, 1), (5, 50, 5)])
async def test_each_is_concurrent_up_to_forks(hosts, forks, peak):
    gauge = Gauge()

    async def work(conn):
        await gauge.hold()
        return conn.name

    async with Pool(local_hosts(hosts), PoolOptions(forks=forks)) as pool:
        outcomes = await pool.each([f"h{i}" for i in range(hosts)], work)
    assert gauge.peak == peak
    assert [o.value for o in outcomes] == [f"h{i}" for i in range(hosts)]
    assert all(o.error is None for o in outcomes)


async def test_outcomes_come_back_in_input_order_whatever_finishes_first():
    names = ["h0", "h1", "h2", "h3"]

    async def work(conn):
        await asyncio.sleep(0.01 * (4 - int(conn.name[1:])))  # h3 finishes first
        return conn.name

    finished = []

    async def tracked(conn):
        value = await work(conn)
        finished.append(value)
        return value

    async with Pool(local_hosts(4)) as pool:
        outcomes = await pool.each(list(reversed(names)), tracked)
    assert finished == ["h3", "h2", "h1", "h0"]
    assert [o.host for o in outcomes] == ["h3", "h2", "h1", "h0"]
    assert [o.value for o in outcomes] == ["h3", "h2", "h1", "h0"]


async def test_one_failing_host_does_not_stop_the_others():
    async def work(conn):
        if conn.name == "h1":
            raise RuntimeError("h1 broke")
        result = await conn.run(["echo", conn.name])
        return result.stdout.strip()

    async with Pool(local_hosts(3)) as pool:
        outcomes = await pool.each(["h0", "h1", "h2"], work)
    assert [o.value for o in outcomes] == ["h0", None, "h2"]
    assert isinstance(outcomes[1].error, RuntimeError)
    assert str(outcomes[1].error) == "h1 broke"
    assert not outcomes[1].unreachable
    assert all(o.duration >= 0 for o in outcomes)


async def test_local_commands_really_run_here():
    async def work(conn):
        return await conn.run("echo $PPID; echo err >&2; exit 3")

    async with Pool(local_hosts(2)) as pool:
        outcomes = await pool.each(["h0", "h1"], work)
    for outcome in outcomes:
        assert outcome.value.rc == 3
        assert outcome.value.stderr == "err\n"
        assert int(outcome.value.stdout) == os.getpid()  # the shell's parent is this process


async def test_a_host_has_one_connection_for_the_whole_run():
    async with Pool(local_hosts(2)) as pool:
        first = await pool.connection("h0")
        again = await pool.connection("h0")
        seen = await pool.each(["h0", "h0", "h1"], lambda conn: asyncio.sleep(0, conn))
        assert isinstance(first, LocalConnection)
        assert first is again is seen[0].value is seen[1].value
        assert seen[2].value is not first


async def test_unsupported_connection_type_is_unreachable():
    settings = [settings_for("box", {"ansible_connection": "docker"})]

    async def work(conn):
        raise AssertionError("never reached")

    async with Pool(settings) as pool:
        (outcome,) = await pool.each(["box"], work)
    assert outcome.unreachable
    assert "docker" in str(outcome.error)
    assert pool.handshake_count == 0


def test_command_line_become_overrides_the_inventory():
    inventory = settings_for(
        "h", {"ansible_become": True, "ansible_become_user": "app",
              "ansible_become_password": "inv-pw", "ansible_become_flags": "-E"},
    )  # fmt: skip
    plain = settings_for("p", {})
    kept = Pool([inventory, plain]).settings
    assert kept["h"].become == Become("app", Secret("inv-pw"), "-E")
    assert kept["p"].become is None
    forced = Pool([inventory, plain], PoolOptions(become=True, become_user="ops",
                                                  become_password="cli-pw")).settings  # fmt: skip
    assert forced["h"].become == Become("ops", Secret("cli-pw"), "-E")
    assert forced["p"].become == Become("ops", Secret("cli-pw"), "-H")
    assert Pool([inventory], PoolOptions(become=True)).settings["h"].become == inventory.become
    assert Pool([inventory], PoolOptions(become=False)).settings["h"].become is None


class FakeOpen:
    """Stands in for open_ssh: fails as told, counts attempts and concurrent handshakes."""

    def __init__(self, failures: dict[str, list[Unreachable]]):
        self.failures = failures
        self.attempts: dict[str, int] = {}
        self.gauge = Gauge()
        self.policies: list[str] = []

    async def __call__(self, settings, cache, *, policy, timeout):
        self.attempts[settings.name] = self.attempts.get(settings.name, 0) + 1
        self.policies.append(policy)
        await self.gauge.hold(0.01)
        pending = self.failures.get(settings.name) or []
        if pending:
            raise pending.pop(0)
        return LocalConnection(settings.name)


@pytest.fixture
def fake_open(monkeypatch):
    def install(failures=None):
        fake = FakeOpen(failures or {})
        monkeypatch.setattr(pool_module, "open_ssh", fake)
        monkeypatch.setattr(pool_module, "RETRY_DELAY", 0.0)
        return fake

    return install


def ssh_hosts(count: int) -> list[ConnectionSettings]:
    return [settings_for(f"s{i}", {"ansible_host": f"192.0.2.{i + 1}"}) for i in range(count)]


async def test_handshakes_are_bounded_separately_from_forks(fake_open):
    fake = fake_open()
    async with Pool(ssh_hosts(12), PoolOptions(forks=12, handshakes=4)) as pool:
        outcomes = await pool.each([f"s{i}" for i in range(12)], lambda conn: asyncio.sleep(0, 1))
        assert pool.handshake_count == 12
    assert fake.gauge.peak == 4
    assert all(o.value == 1 for o in outcomes)


async def test_refused_connects_are_retried_then_reported(fake_open):
    refused = [Unreachable("refused", transient=True) for _ in range(10)]
    fake = fake_open({"s0": [Unreachable("refused", transient=True)], "s1": refused})
    async with Pool(ssh_hosts(2)) as pool:
        outcomes = await pool.each(["s0", "s1"], lambda conn: asyncio.sleep(0, "ran"))
        assert pool.handshake_count == 1
    assert outcomes[0].value == "ran"
    assert outcomes[1].unreachable
    assert fake.attempts == {"s0": 2, "s1": 1 + pool_module.CONNECT_RETRIES}


async def test_lasting_failures_are_not_retried_and_stay_failed(fake_open):
    fake = fake_open({"s0": [Unreachable("HOST KEY CHANGED")]})
    async with Pool(ssh_hosts(1)) as pool:
        first = await pool.each(["s0"], lambda conn: asyncio.sleep(0, "ran"))
        second = await pool.each(["s0", "s0"], lambda conn: asyncio.sleep(0, "ran"))
    assert all(o.unreachable for o in first + second)
    assert "HOST KEY CHANGED" in str(second[1].error)
    assert fake.attempts == {"s0": 1}


async def test_host_key_policy_command_line_beats_inventory(fake_open):
    fake = fake_open()
    inventory = settings_for("s0", {"ansible_ssh_common_args": "-o StrictHostKeyChecking=no"})
    async with Pool([inventory]) as pool:
        await pool.connection("s0")
    async with Pool([inventory], PoolOptions(host_key_policy="accept-new")) as pool:
        await pool.connection("s0")
    async with Pool(ssh_hosts(1)) as pool:
        await pool.connection("s0")
    assert fake.policies == ["off", "accept-new", "strict"]

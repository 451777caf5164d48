"""Bring a lab up, down, inspect it and break it: the effects, driven by the pure parts beside it."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from orchestr.errors import EnvironmentProblem, OptionsError
from orchestr.lab import commands
from orchestr.lab.docker_host import pipe, require_dockerd, run_local
from orchestr.lab.images import ensure_demo_image, ensure_host_image
from orchestr.lab.inventory_file import render_inventory
from orchestr.lab.model import (
    LABEL_HOST,
    LABEL_IMAGE,
    LABEL_LAB,
    LABEL_ROLE,
    LABEL_ZONE,
    NETWORK_NAME,
    LabHost,
    check_lab_name,
    check_shape,
    known_hosts_text,
    plan_hosts,
    volume_name,
)
from orchestr.transport.base import CommandTimeout, Result, Unreachable
from orchestr.transport.settings import ConnectionSettings
from orchestr.transport.ssh import KeyCache, open_ssh

Say = Callable[[str], None]
READY_TIMEOUT = 90.0


def state_root() -> Path:
    """Where orchestr keeps controller-side state; ORCHESTR_STATE_DIR moves it (tests do)."""
    configured = os.environ.get("ORCHESTR_STATE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(base) / "orchestr"


@dataclass(frozen=True)
class LabPaths:
    root: Path

    @classmethod
    def of(cls, lab: str) -> LabPaths:
        return cls(state_root() / "labs" / lab)

    @property
    def private_key(self) -> Path:
        return self.root / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    @property
    def inventory(self) -> Path:
        return self.root / "inventory.yml"

    def host_ssh_dir(self, host: str) -> Path:
        return self.root / "hosts" / host


@dataclass(frozen=True)
class Observed:
    """A lab container as docker reports it."""

    host: LabHost
    container_id: str
    state: str  # running, paused, exited, created...
    image: str


async def observe(lab: str | None) -> list[Observed]:
    """Every container of a lab (or of every lab), read back from docker's labels."""
    ids = (await run_local(commands.list_lab_containers(lab))).stdout.split()
    if not ids:
        return []
    records = json.loads((await run_local(commands.inspect(*ids))).stdout)
    found = [observed_from_inspect(record) for record in records]
    return sorted(found, key=lambda o: _host_order(o.host))


def observed_from_inspect(item: dict) -> Observed:
    """A lab host from one `docker inspect` record (pure)."""
    labels = item["Config"]["Labels"] or {}
    network = (item["NetworkSettings"]["Networks"] or {}).get(NETWORK_NAME) or {}
    # A stopped container shows no address: take the one it was created with.
    address = network.get("IPAddress") or (network.get("IPAMConfig") or {}).get("IPv4Address", "")
    state = item["State"]
    return Observed(
        host=LabHost(
            lab=labels[LABEL_LAB],
            name=labels[LABEL_HOST],
            role=labels.get(LABEL_ROLE, ""),
            address=address,
            zone=labels.get(LABEL_ZONE, ""),
        ),
        container_id=item["Id"],
        state="paused" if state.get("Paused") else state.get("Status", "unknown"),
        image=labels.get(LABEL_IMAGE, ""),
    )


def _host_order(host: LabHost) -> tuple:
    digits = "".join(c for c in host.name if c.isdigit())
    return (host.lab, host.role != "node", int(digits or 0), host.name)


async def require_lab(lab: str) -> list[Observed]:
    await require_dockerd()
    observed = await observe(lab)
    if not observed:
        raise EnvironmentProblem(
            f"no lab named {lab!r} is up", hint=f"start one with: orchestr lab up --name {lab}"
        )
    return observed


def _find(observed: list[Observed], host: str, lab: str) -> Observed:
    for item in observed:
        if item.host.name == host:
            return item
    names = ", ".join(o.host.name for o in observed)
    raise OptionsError(f"lab {lab!r} has no host {host!r}", hint=f"its hosts are: {names}")


# ---------------------------------------------------------------- keys and files


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _ensure_keys(paths: LabPaths, hosts: list[LabHost]) -> dict[str, str]:
    """The lab's client key and one host key per host, made once; returns address -> host key."""
    paths.root.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(paths.root, 0o700)
    if not paths.private_key.exists():
        key = asyncssh.generate_private_key("ssh-ed25519", comment="orchestr-lab")
        _write_private(paths.private_key, key.export_private_key())
        Path(f"{paths.private_key}.pub").write_bytes(key.export_public_key())
    client_public = Path(f"{paths.private_key}.pub").read_bytes()
    host_keys = {}
    for host in hosts:
        ssh_dir = paths.host_ssh_dir(host.name)
        key_path = ssh_dir / "ssh_host_ed25519_key"
        if not key_path.exists():
            key = asyncssh.generate_private_key("ssh-ed25519", comment=host.name)
            _write_private(key_path, key.export_private_key())
        # sshd reads authorized_keys as the user logging in: any user a test creates on a lab
        # host may log in with the lab key. The host key file itself stays 0600.
        ssh_dir.chmod(0o755)
        (ssh_dir / "authorized_keys").write_bytes(client_public)
        public = asyncssh.read_private_key(str(key_path)).export_public_key().decode()
        host_keys[host.address] = " ".join(public.split()[:2])
    return host_keys


def _write_lab_files(paths: LabPaths, lab: str, hosts: list[LabHost]) -> None:
    host_keys = _ensure_keys(paths, hosts)
    paths.known_hosts.write_text(known_hosts_text(host_keys))
    paths.inventory.write_text(
        render_inventory(lab, hosts, str(paths.private_key), str(paths.known_hosts))
    )
    for stale in (paths.root / "hosts").iterdir():
        if stale.name not in {h.name for h in hosts}:
            shutil.rmtree(stale)


def ssh_settings(lab: str, host: LabHost) -> ConnectionSettings:
    paths = LabPaths.of(lab)
    return ConnectionSettings(
        name=host.name,
        address=host.address,
        user="root",
        key_files=(str(paths.private_key),),
        known_hosts_files=(str(paths.known_hosts),),
        host_key_policy="strict",
    )


async def lab_run(lab: str, host: LabHost, keys: KeyCache, command: str, timeout: float) -> Result:
    """One command on a lab host over its own short-lived connection (readiness, status)."""
    conn = await open_ssh(ssh_settings(lab, host), keys, timeout=timeout)
    try:
        return await conn.run(command, timeout=timeout)
    finally:
        await conn.close()


# ---------------------------------------------------------------- up / down


async def _ensure_network() -> None:
    exists = await run_local(["docker", "network", "inspect", NETWORK_NAME], check=False)
    if exists.rc != 0:
        await run_local(commands.network_create())


async def up(lab: str, nodes: int, lb: bool, say: Say) -> list[LabHost]:
    """Bring the lab to the requested shape: add, remove, recreate or restart hosts; idempotent."""
    check_lab_name(lab)
    check_shape(nodes, lb)
    await require_dockerd()
    everything = await observe(None)
    mine = [o for o in everything if o.host.lab == lab]
    others = {o.host.address for o in everything if o.host.lab != lab}
    hosts = plan_hosts(lab, nodes, lb, {o.host.name: o.host.address for o in mine}, others)
    image = await ensure_host_image(say)
    await ensure_demo_image()
    await _ensure_network()
    paths = LabPaths.of(lab)
    _write_lab_files(paths, lab, hosts)

    wanted = {h.name for h in hosts}
    current = {o.host.name: o for o in mine}
    surplus = [o for o in mine if o.host.name not in wanted]
    outdated = [o for o in mine if o.host.name in wanted and o.image != image]
    if surplus or outdated:
        say(f"removing {', '.join(o.host.name for o in surplus + outdated)}")
        await _remove(lab, surplus + outdated, volumes=True)
    for item in outdated:
        current.pop(item.host.name)

    async def bring_up(host: LabHost) -> None:
        item = current.get(host.name)
        if item is None:
            await run_local(commands.run_host(host, image, str(paths.host_ssh_dir(host.name))))
            return
        if item.state == "paused":
            await run_local(["docker", "unpause", host.container])
        elif item.state != "running":
            await run_local(["docker", "start", host.container])
        await run_local(commands.docker_exec(host.container, commands.heal_script()))

    await asyncio.gather(*(bring_up(h) for h in hosts))
    await wait_ready(lab, hosts, READY_TIMEOUT)
    return hosts


async def wait_ready(lab: str, hosts: list[LabHost], timeout: float) -> None:
    """Return once every host answers `docker info` over SSH, checking its host key."""
    keys = KeyCache()
    deadline = time.monotonic() + timeout

    async def ready(host: LabHost) -> None:
        last = "no answer yet"
        while time.monotonic() < deadline:
            try:
                result = await lab_run(lab, host, keys, "docker info --format '{{.ID}}'", 3)
                if result.ok:
                    return
                last = result.stderr.strip() or f"docker info exited {result.rc}"
            except (Unreachable, CommandTimeout) as error:
                last = error.message
            await asyncio.sleep(0.3)
        raise EnvironmentProblem(
            f"lab host {host.name} ({host.address}) not ready after {timeout:g} s: {last}",
            hint=f"docker logs {host.container}; docker exec {host.container} "
            "cat /var/log/dockerd.log",
        )

    await asyncio.gather(*(ready(h) for h in hosts))


async def _remove(lab: str, items: list[Observed], *, volumes: bool) -> None:
    if not items:
        return
    await run_local(commands.remove_containers(*(o.host.container for o in items)))
    if volumes:
        await run_local(commands.remove_volumes(*(volume_name(lab, o.host.name) for o in items)))


async def down(lab: str, say: Say) -> int:
    """Remove every trace of a lab: containers, their volumes, keys, files; the network when no
    other lab uses it. Returns how many hosts were removed."""
    check_lab_name(lab)
    await require_dockerd()
    mine = await observe(lab)
    await _remove(lab, mine, volumes=True)
    # Volumes of hosts whose containers are already gone (an interrupted `up`).
    leftovers = await run_local(
        ["docker", "volume", "ls", "--quiet", "--filter", f"name=orchestr-{lab}-"]
    )
    if leftovers.stdout.split():
        await run_local(commands.remove_volumes(*leftovers.stdout.split()))
    if not await observe(None):
        await run_local(["docker", "network", "rm", NETWORK_NAME], check=False)
    shutil.rmtree(LabPaths.of(lab).root, ignore_errors=True)
    return len(mine)


# ---------------------------------------------------------------- status


@dataclass(frozen=True)
class HostStatus:
    name: str
    address: str
    role: str
    zone: str
    state: str
    ssh_ok: bool
    docker_ok: bool
    containers: int | None
    detail: str = ""


async def status(lab: str, timeout: float = 3.0) -> list[HostStatus]:
    observed = await require_lab(lab)
    keys = KeyCache()

    async def probe(item: Observed) -> HostStatus:
        host = item.host
        ssh_ok = docker_ok = False
        containers = None
        detail = ""
        state = item.state
        if state == "running":
            check = commands.docker_exec(host.container, commands.is_partitioned_script())
            if (await run_local(check, check=False)).rc == 0:
                state = "partitioned"
            try:
                result = await lab_run(
                    lab, host, keys, "docker info --format '{{.ContainersRunning}}'", timeout
                )
                ssh_ok = True
                docker_ok = result.ok
                text = result.stdout.strip()
                containers = int(text) if result.ok and text.isdigit() else None
                detail = "" if result.ok else result.stderr.strip()
            except (Unreachable, CommandTimeout) as error:
                detail = error.message
        return HostStatus(
            host.name, host.address, host.role, host.zone, state,
            ssh_ok, docker_ok, containers, detail,
        )  # fmt: skip

    return list(await asyncio.gather(*(probe(o) for o in observed)))


# ---------------------------------------------------------------- faults and images


async def fault(lab: str, host_name: str, kind: str) -> str:
    """Inject (or undo) a fault on one host; returns a one-line description of what happened."""
    item = _find(await require_lab(lab), host_name, lab)
    container = item.host.container
    action = FAULTS[kind]
    await action(item, container)
    return f"{kind}: {host_name} ({item.host.address})"


async def _kill(item: Observed, container: str) -> None:
    if item.state == "paused":
        await run_local(["docker", "unpause", container])
    if item.state in ("running", "paused"):
        await run_local(["docker", "kill", container])


async def _pause(item: Observed, container: str) -> None:
    if item.state == "running":
        await run_local(["docker", "pause", container])
    elif item.state != "paused":
        raise OptionsError(f"{item.host.name} is {item.state}, not running: cannot pause it")


async def _resume(item: Observed, container: str) -> None:
    if item.state == "paused":
        await run_local(["docker", "unpause", container])


def _running_or_fail(item: Observed) -> None:
    if item.state != "running":
        raise OptionsError(
            f"{item.host.name} is {item.state}, not running",
            hint=f"orchestr lab restart {item.host.name} --name {item.host.lab}",
        )


async def _partition(item: Observed, container: str) -> None:
    _running_or_fail(item)
    await run_local(commands.docker_exec(container, commands.partition_script(item.host.address)))


async def _heal(item: Observed, container: str) -> None:
    _running_or_fail(item)
    await run_local(commands.docker_exec(container, commands.heal_script()))


async def _restart(item: Observed, container: str) -> None:
    if item.state == "paused":
        await run_local(["docker", "unpause", container])
    await run_local(["docker", "restart", "--time", "1", container])
    await wait_ready(item.host.lab, [item.host], READY_TIMEOUT)


# Registry, not an if-chain: a new fault is one function and one line here.
FAULTS = {
    "kill": _kill,
    "pause": _pause,
    "resume": _resume,
    "partition": _partition,
    "heal": _heal,
    "restart": _restart,
}


async def load_image(lab: str, image: str, host_names: list[str]) -> list[str]:
    """Copy a controller image into lab hosts without a registry or SSH (a lab convenience)."""
    observed = await require_lab(lab)
    targets = [_find(observed, h, lab) for h in host_names] if host_names else observed
    if (await run_local(["docker", "image", "inspect", image], check=False)).rc != 0:
        raise OptionsError(f"no image {image!r} on this machine", hint="docker images lists them")
    await asyncio.gather(*(pipe(*commands.load_image_pipeline(image, t.host.container))
                           for t in targets))  # fmt: skip
    return [t.host.name for t in targets]


async def ssh_argv(lab: str, host_name: str, command: list[str]) -> list[str]:
    """OpenSSH argv reaching a lab host with the lab's key, checking its host key."""
    item = _find(await require_lab(lab), host_name, lab)
    paths = LabPaths.of(lab)
    return commands.openssh(
        item.host.address, str(paths.private_key), str(paths.known_hosts), command
    )

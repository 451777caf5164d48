"""Push a controller image to many hosts at once over their SSH connections."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from orchestr.errors import OptionsError
from orchestr.images.layers import (
    missing_layers,
    present_chains,
    read_saved_image,
    write_partial_archive,
)
from orchestr.transport.base import Connection
from orchestr.transport.command import Command
from orchestr.transport.pool import Outcome, Pool

CHUNK = 1 << 20
LOAD_TIMEOUT = 1800.0


@dataclass(frozen=True)
class HostImageState:
    image_id: str  # "" when the host does not have the image under this name
    chains: frozenset[tuple[str, ...]]


@dataclass(frozen=True)
class Pushed:
    """What a push did on one host."""

    skipped: bool
    layers_sent: int
    layers_total: int
    bytes_sent: int
    image_id: str


def probe_command(image: str) -> Command:
    """One round trip: the id the name resolves to, then every local image's layer list."""
    return Command.shell(
        f"docker image inspect --format '{{{{.Id}}}}' {shlex.quote(image)} 2>/dev/null"
        " || echo none; echo ---; docker image ls -aq --no-trunc | xargs -r docker image inspect"
        " --format '{{range .RootFS.Layers}}{{.}} {{end}}' 2>/dev/null; true"
    )


def parse_probe(text: str) -> HostImageState:
    head, _, rest = text.partition("---")
    image_id = head.strip()
    return HostImageState(
        image_id="" if image_id in ("", "none") else image_id,
        chains=frozenset(
            present_chains(line.split() for line in rest.splitlines() if line.strip())
        ),
    )


def load_command(image: str) -> Command:
    """Load from stdin, then report the id the name now points to (proof it landed whole)."""
    return Command.shell(
        f"docker load --quiet >/dev/null && docker image inspect --format '{{{{.Id}}}}' "
        f"{shlex.quote(image)}"
    )


@dataclass(frozen=True)
class LocalImage:
    image_id: str
    size: int  # bytes, roughly the archive's size: a progress total before the archive exists
    diff_ids: tuple[str, ...]


async def inspect_local(image: str) -> LocalImage:
    """The image on this machine; a missing image fails here, before any host is touched."""
    process = await asyncio.create_subprocess_exec(
        "docker", "image", "inspect", "--format",
        "{{.Id}} {{.Size}} {{range .RootFS.Layers}}{{.}} {{end}}", image,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    if process.returncode != 0:
        raise OptionsError(
            f"no image {image!r} on this machine: {err.decode().strip()}",
            hint="docker images lists the local images",
        )
    image_id, size, *layers = out.decode().split()
    return LocalImage(image_id, int(size), tuple(layers))


class Spool:
    """`docker save` written once to a file while any number of hosts stream it from the start,
    each at its own pace: the first host's transfer overlaps the save, as in
    `docker save | ssh host docker load`, and a late host never makes docker save again."""

    def __init__(self, image: str, path: str):
        self.image = image
        self.path = path
        self.written = 0
        self.done = False
        self.error: Exception | None = None
        self._progress = asyncio.Condition()
        self._process: asyncio.subprocess.Process | None = None
        self._task = asyncio.ensure_future(self._fill())

    async def _fill(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            "docker", "save", self.image,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        with open(self.path, "wb") as out:
            while chunk := await self._process.stdout.read(CHUNK):
                out.write(chunk)
                out.flush()  # readers open the file separately
                await self._advance(len(chunk))
        err = await self._process.stderr.read()
        if await self._process.wait() != 0:
            self.error = RuntimeError(f"docker save failed: {err.decode().strip()}")
        self.done = True
        await self._advance(0)

    async def _advance(self, count: int) -> None:
        async with self._progress:
            self.written += count
            self._progress.notify_all()

    async def stream(self, sent: Callable[[int], None]) -> AsyncIterator[bytes]:
        """The archive from its first byte, as fast as it is written and read."""
        with open(self.path, "rb") as handle:
            offset = 0
            while True:
                async with self._progress:
                    await self._progress.wait_for(lambda at=offset: self.written > at or self.done)
                if self.error is not None:
                    raise self.error
                if offset >= self.written:  # done, and all of it sent
                    return
                chunk = handle.read(min(CHUNK, self.written - offset))
                offset += len(chunk)
                sent(len(chunk))
                yield chunk

    async def complete(self) -> str:
        await asyncio.shield(self._task)
        if self.error is not None:
            raise self.error
        return self.path

    async def close(self) -> None:
        """Stop a save nobody needed (every host had the image)."""
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
        with contextlib.suppress(Exception):
            await self._task


async def push_image(
    pool: Pool,
    names: list[str],
    image: str,
    *,
    on_bytes: Callable[[str, int], None] = lambda host, n: None,
    on_planned: Callable[[str, int], None] = lambda host, total: None,
) -> list[Outcome]:
    """Send `image` to every host in `names` that lacks it, only the layers each one lacks."""
    local = await inspect_local(image)
    with tempfile.TemporaryDirectory(prefix="orchestr-push-", dir="/var/tmp") as spool_dir:
        # docker save starts at once, beside connecting and probing: a cold host then waits
        # for nothing but the transfer. Hosts lacking the same subset of layers share one
        # partial archive, cut from the complete one.
        spool = Spool(image, os.path.join(spool_dir, "image.tar"))
        partials: dict[tuple[int, ...], asyncio.Task[str]] = {}
        every_layer = tuple(range(len(local.diff_ids)))

        async def partial_archive(send: tuple[int, ...]) -> str:
            if send not in partials:
                full = await spool.complete()
                target = os.path.join(spool_dir, f"partial-{len(partials)}.tar")
                partials[send] = asyncio.ensure_future(
                    asyncio.to_thread(_write_partial, full, target, send)
                )
            return await asyncio.shield(partials[send])

        async def one(conn: Connection) -> Pushed:
            probe = await conn.run(probe_command(image), timeout=60)
            state = parse_probe(probe.stdout)
            total = len(local.diff_ids)
            if state.image_id == local.image_id:
                on_planned(conn.name, 0)
                return Pushed(True, 0, total, 0, local.image_id)
            send = missing_layers(local.diff_ids, state.chains)
            sent = [0]

            def count(n: int) -> None:
                sent[0] += n
                on_bytes(conn.name, n)

            if send == every_layer:
                on_planned(conn.name, local.size)
                source = spool.stream(count)
            else:
                path = await partial_archive(send)
                on_planned(conn.name, os.path.getsize(path))
                source = _file_chunks(path, count)
            result = await conn.run(load_command(image), stdin=source, timeout=LOAD_TIMEOUT)
            landed = result.stdout.strip()
            if not result.ok:
                raise RuntimeError(f"docker load failed: {result.stderr.strip() or result.rc}")
            if landed != local.image_id:
                raise RuntimeError(f"image landed as {landed}, expected {local.image_id}")
            return Pushed(False, len(send), total, sent[0], landed)

        try:
            return await pool.each(names, one)
        finally:
            await spool.close()


async def _file_chunks(path: str, sent: Callable[[int], None]) -> AsyncIterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            sent(len(chunk))
            yield chunk


def _write_partial(source: str, target: str, send: tuple[int, ...]) -> str:
    with open(source, "rb") as reader, open(target, "wb") as writer:
        saved = read_saved_image(reader)
        write_partial_archive(reader, writer, saved, send)
    return target


def describe(outcome: Outcome, seconds: float | None = None) -> str:
    """One line per host, Ansible-style."""
    from orchestr.adhoc.report import reason_of

    if outcome.error is not None:
        label = "UNREACHABLE!" if outcome.unreachable else "FAILED!"
        return f"{outcome.host} | {label} => {reason_of(outcome.error)}"
    pushed = outcome.value
    assert isinstance(pushed, Pushed)
    if pushed.skipped:
        return f"{outcome.host} | OK | already has {pushed.image_id[:19]}"
    took = seconds if seconds is not None else outcome.duration
    return (
        f"{outcome.host} | CHANGED | sent {pushed.layers_sent} of {pushed.layers_total} layers, "
        f"{human_bytes(pushed.bytes_sent)} in {took:.1f} s"
    )


def human_bytes(count: int) -> str:
    for unit in ("B", "kB", "MB"):
        if count < 1000:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} GB"

"""Push a controller image to many hosts at once over their SSH connections."""

from __future__ import annotations

import asyncio
import os
import shlex
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from orchestr.errors import OptionsError
from orchestr.images.layers import (
    SavedImage,
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


async def save_locally(image: str, directory: str) -> tuple[str, SavedImage]:
    """`docker save` once, into a spool file every host's stream is read from."""
    path = os.path.join(directory, "image.tar")
    process = await asyncio.create_subprocess_exec(
        "docker", "save", "--output", path, image,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await process.communicate()
    if process.returncode != 0:
        raise OptionsError(
            f"cannot save image {image!r} on this machine: {err.decode().strip()}",
            hint="docker images lists the local images",
        )
    with open(path, "rb") as handle:
        return path, read_saved_image(handle)


async def file_chunks(path: str, sent: Callable[[int], None]) -> AsyncIterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            sent(len(chunk))
            yield chunk


async def local_image_id(image: str) -> str:
    """The image's id on this machine; a missing image fails here, before any host is touched."""
    process = await asyncio.create_subprocess_exec(
        "docker", "image", "inspect", "--format", "{{.Id}}", image,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    if process.returncode != 0:
        raise OptionsError(
            f"no image {image!r} on this machine: {err.decode().strip()}",
            hint="docker images lists the local images",
        )
    return out.decode().strip()


async def push_image(
    pool: Pool,
    names: list[str],
    image: str,
    *,
    on_bytes: Callable[[str, int], None] = lambda host, n: None,
    on_planned: Callable[[str, int], None] = lambda host, total: None,
) -> list[Outcome]:
    """Send `image` to every host in `names` that lacks it, only the layers each one lacks."""
    image_id = await local_image_id(image)
    with tempfile.TemporaryDirectory(prefix="orchestr-push-", dir="/var/tmp") as spool:
        # Saved once, and only when some host needs it; hosts lacking the same layers share
        # one archive, written once.
        saving: list[asyncio.Task[tuple[str, SavedImage]]] = []
        partials: dict[tuple[int, ...], asyncio.Task[str]] = {}

        async def saved() -> tuple[str, SavedImage]:
            if not saving:
                saving.append(asyncio.ensure_future(save_locally(image, spool)))
            return await asyncio.shield(saving[0])

        async def archive_for(send: tuple[int, ...]) -> str:
            full_path, saved_image = await saved()
            if send == tuple(range(len(saved_image.diff_ids))):
                return full_path
            if send not in partials:
                target = os.path.join(spool, f"partial-{len(partials)}.tar")
                partials[send] = asyncio.ensure_future(
                    asyncio.to_thread(_write_partial, full_path, target, saved_image, send)
                )
            return await asyncio.shield(partials[send])

        async def one(conn: Connection) -> Pushed:
            probe = await conn.run(probe_command(image), timeout=60)
            state = parse_probe(probe.stdout)
            if state.image_id == image_id:
                on_planned(conn.name, 0)
                return Pushed(True, 0, 0, 0, image_id)
            _, saved_image = await saved()
            send = missing_layers(saved_image, set(state.chains))
            path = await archive_for(send)
            size = os.path.getsize(path)
            on_planned(conn.name, size)
            result = await conn.run(
                load_command(image),
                stdin=file_chunks(path, lambda n: on_bytes(conn.name, n)),
                timeout=LOAD_TIMEOUT,
            )
            landed = result.stdout.strip()
            if not result.ok:
                raise RuntimeError(f"docker load failed: {result.stderr.strip() or result.rc}")
            if landed != image_id:
                raise RuntimeError(f"image landed as {landed}, expected {image_id}")
            return Pushed(False, len(send), len(saved_image.diff_ids), size, landed)

        return await pool.each(names, one)


def _write_partial(source: str, target: str, saved: SavedImage, send: tuple[int, ...]) -> str:
    with open(source, "rb") as reader, open(target, "wb") as writer:
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

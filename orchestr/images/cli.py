"""`orchestr image push IMAGE PATTERN`: ship a local image to hosts without a registry."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import click

from orchestr.adhoc import report
from orchestr.images.push import Pushed, describe, human_bytes, push_image
from orchestr.targets import connection_options, resolve_targets, warn


@click.group(name="image")
def image() -> None:
    """Images without a registry."""


@image.command(name="push")
@click.argument("image_name", metavar="IMAGE")
@click.argument("pattern")
@connection_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object per host.")
def push(image_name: str, pattern: str, as_json: bool, **flags) -> None:
    """Send IMAGE from this machine's docker to every host matching PATTERN.

    docker save runs once; each host gets only the layers it lacks (none when it already has
    the image), all hosts at once; the image lands with the same id.
    """
    targets = resolve_targets(pattern, flags)
    warn(targets.warnings)
    started = time.monotonic()
    outcomes = asyncio.run(_push(targets, image_name, as_json))
    for outcome in outcomes:
        click.echo(_json(outcome) if as_json else describe(outcome))
    sent = sum(o.value.bytes_sent for o in outcomes if isinstance(o.value, Pushed))
    click.echo(
        f"{report.recap(outcomes, time.monotonic() - started)}, {human_bytes(sent)} sent", err=True
    )
    sys.exit(report.exit_code(outcomes))


def _json(outcome) -> str:
    record: dict = {"host": outcome.host, "status": report.status_of(outcome)}
    if isinstance(outcome.value, Pushed):
        pushed = outcome.value
        record.update(
            changed=not pushed.skipped, layers_sent=pushed.layers_sent,
            layers_total=pushed.layers_total, bytes_sent=pushed.bytes_sent,
            image_id=pushed.image_id, duration=round(outcome.duration, 3),
        )  # fmt: skip
    if outcome.error is not None:
        record["msg"] = report.reason_of(outcome.error)
    return json.dumps(record)


async def _push(targets, image_name: str, quiet: bool):
    from orchestr.transport.pool import Pool

    async with Pool(targets.settings, targets.pool_options) as pool:
        if quiet or not sys.stderr.isatty():
            return await push_image(pool, targets.names, image_name)
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

        with Progress(
            TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
            TextColumn("{task.fields[hosts]}"), transient=True,
        ) as progress:  # fmt: skip
            task = progress.add_task(f"push {image_name}", total=0, hosts="")
            planned: dict[str, int] = {}
            done = {"bytes": 0}

            def on_planned(host: str, size: int) -> None:
                planned[host] = size
                progress.update(task, total=sum(planned.values()),
                                hosts=f"{len(planned)}/{len(targets.names)} hosts")  # fmt: skip

            def on_bytes(host: str, count: int) -> None:
                done["bytes"] += count
                progress.update(task, completed=done["bytes"])

            return await push_image(
                pool, targets.names, image_name, on_bytes=on_bytes, on_planned=on_planned
            )

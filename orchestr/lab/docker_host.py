"""Run docker CLI commands on the controller machine (the effectful edge of the lab)."""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import dataclass

from orchestr.errors import EnvironmentProblem, OrchestrError

START_DOCKERD = "dockerd >/var/log/dockerd.log 2>&1 &"


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    rc: int
    stdout: str
    stderr: str


class DockerCommandFailed(OrchestrError):
    def __init__(self, done: Completed):
        reason = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"rc={done.rc}"
        super().__init__(f"`{' '.join(done.argv[:4])} ...` failed: {reason}")
        self.completed = done


async def run_local(
    argv: list[str], *, stdin: bytes | None = None, check: bool = True
) -> Completed:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(stdin)
    done = Completed(
        tuple(argv),
        process.returncode or 0,
        out.decode(errors="replace"),
        err.decode(errors="replace"),
    )
    if check and done.rc != 0:
        raise DockerCommandFailed(done)
    return done


async def pipe(first: list[str], second: list[str]) -> None:
    """first | second, streamed through an OS pipe (an image can be hundreds of MB)."""
    read_end, write_end = os.pipe()
    producer = await asyncio.create_subprocess_exec(
        *first, stdout=write_end, stderr=asyncio.subprocess.PIPE
    )
    consumer = await asyncio.create_subprocess_exec(
        *second, stdin=read_end, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    os.close(read_end)
    os.close(write_end)
    (_, err1), (out2, err2) = await asyncio.gather(producer.communicate(), consumer.communicate())
    for argv, proc, err in ((first, producer, err1), (second, consumer, err2)):
        if proc.returncode:
            raise DockerCommandFailed(Completed(tuple(argv), proc.returncode, "", err.decode()))


async def require_dockerd() -> None:
    """One clear line when docker cannot be used, instead of a failure deep in a command."""
    if shutil.which("docker") is None:
        raise EnvironmentProblem(
            "the docker CLI is not installed on this machine",
            hint="apt-get install -y docker.io (or run `make setup`)",
        )
    done = await run_local(["docker", "version", "--format", "{{.Server.Version}}"], check=False)
    if done.rc != 0:
        raise EnvironmentProblem(
            "dockerd is not running on this machine",
            hint=f"start it as root with: {START_DOCKERD}",
        )

"""The floor of the `service-deploy` and `service-steady` scenarios: a service's replicas started
(or looked at) with plain docker commands over asyncssh, with nothing an orchestrator adds (no
inventory, no store, no scheduler, no health gate).

    python bench/bare/service_deploy.py --key KEY --known-hosts FILE [--user root] \\
        [--service web] [--image orchestr-demo:1] [--per-host 2] [--port-base 30000] \\
        [--observe] NAME=ADDRESS...

One connection per host, all hosts at once, one command per host (host keys checked against
FILE only).

Deploy (the default): host number i (1-based, in the order given) gets slots
(i-1)*PER_HOST+1 .. i*PER_HOST, each a `docker run --detach` with the names, labels, variables
and published port (PORT_BASE + k, to the image's port 80) that `orchestr apply` gives a
replica; the host's runs go as one command joined by `&&`. Prints `NAME rc=0 ids=ID,ID` per
host, or `NAME rc=N ERROR`.

--observe: what a second apply must look at before it can say "no change", in one round trip
per host: `docker inspect` of every container labelled orchestr.managed-by=orchestr and the
image's id. Prints `NAME rc=0 running=K wanted=PER_HOST image=yes|no`; a host that does not
run exactly PER_HOST replicas of the service from the image (or lacks it) is a failure.

Exit 0 when every host did it (deploy) or is as wanted (observe), else 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys

import asyncssh

MANAGED_LABEL = "orchestr.managed-by"
SERVICE_LABEL = "orchestr.service"
IMAGES_MARK = "@@bench images"


def parse_target(text: str) -> tuple[str, str]:
    """NAME=ADDRESS (or just ADDRESS, used as the name too)."""
    name, sep, address = text.partition("=")
    if not sep:
        return text, text
    if not name or not address:
        raise ValueError(f"bad target {text!r}: NAME=ADDRESS")
    return name, address


def replica_argv(
    service: str, image: str, slot: int, port: int, host: str, epoch: int = 1
) -> list[str]:
    """One replica's `docker run`, with roughly the flags orchestr's replica_options gives one."""
    name = f"{service}.{slot}.e{epoch}"
    labels = {
        "orchestr.epoch": str(epoch),
        MANAGED_LABEL: "orchestr",
        "orchestr.ports": f"80:{port}",
        SERVICE_LABEL: service,
        "orchestr.slot": str(slot),
        "orchestr.spec": "bench",
    }
    words = ["docker", "run", "--detach", "--name", name, "--hostname", name.replace(".", "-")]
    for key, value in (("ORCHESTR_SERVICE", service), ("ORCHESTR_SLOT", str(slot)),
                       ("ORCHESTR_HOST", host)):  # fmt: skip
        words += ["--env", f"{key}={value}"]
    for key, value in labels.items():
        words += ["--label", f"{key}={value}"]
    words += ["--publish", f"{port}:80", "--restart", "unless-stopped", image]
    return words


def deploy_command(
    service: str, image: str, host_index: int, per_host: int, port_base: int, host: str
) -> str:
    """The host's replicas as one shell line: each `docker run` after the previous succeeded."""
    runs = []
    for k in range(per_host):
        slot = host_index * per_host + k + 1
        runs.append(shlex.join(replica_argv(service, image, slot, port_base + k, host)))
    return " && ".join(runs)


def observe_command(image: str) -> str:
    quoted = shlex.quote(image)
    return "\n".join([
        f"ids=$(docker ps -aq --no-trunc --filter label={MANAGED_LABEL}=orchestr)",
        '[ -z "$ids" ] || docker inspect $ids',
        f"echo '{IMAGES_MARK}'",
        f"docker image inspect -f '{{{{.Id}}}}' {quoted} 2>/dev/null || true",
    ])  # fmt: skip


def observed(stdout: str, service: str, image: str) -> tuple[int, bool]:
    """(running replicas of `service` from `image`, whether the host has the image) from
    observe_command's output."""
    inspect_text, _, image_text = stdout.partition(IMAGES_MARK)
    running = 0
    for item in json.loads(inspect_text) if inspect_text.strip() else []:
        config = item.get("Config") or {}
        labels = config.get("Labels") or {}
        state = (item.get("State") or {}).get("Status")
        if labels.get(SERVICE_LABEL) == service and config.get("Image") == image:
            running += state == "running"
    return running, image_text.strip().startswith("sha256:")


async def run_host(address: str, command: str, user: str, key, known_hosts) -> tuple[int, str]:
    """(exit status, stdout or the error) of `command` on one host."""
    try:
        async with asyncssh.connect(
            address,
            username=user,
            client_keys=[key],
            known_hosts=known_hosts,
            agent_path=None,
            config=None,
            connect_timeout=10,
        ) as conn:
            result = await conn.run(command, check=False)
    except (OSError, asyncssh.Error) as error:
        return 255, f"{type(error).__name__}: {error}"
    status = result.exit_status if result.exit_status is not None else 255
    if status != 0:
        return status, str(result.stderr or result.stdout).strip().replace("\n", " | ")
    return 0, str(result.stdout)


async def run_all(args: argparse.Namespace, targets: list[tuple[str, str]]) -> list[str]:
    key = asyncssh.read_private_key(args.key)
    known_hosts = asyncssh.read_known_hosts(args.known_hosts)

    async def one(index: int, name: str, address: str) -> str:
        if args.observe:
            command = observe_command(args.image)
        else:
            command = deploy_command(
                args.service, args.image, index, args.per_host, args.port_base, name
            )
        status, text = await run_host(address, command, args.user, key, known_hosts)
        if status != 0:
            return f"{name} rc={status} {text}"
        if not args.observe:
            return f"{name} rc=0 ids={','.join(text.split())}"
        try:
            running, has_image = observed(text, args.service, args.image)
        except ValueError as error:
            return f"{name} rc=1 unreadable docker inspect output: {error}"
        ok = running == args.per_host and has_image
        return (f"{name} rc={0 if ok else 1} running={running} wanted={args.per_host} "
                f"image={'yes' if has_image else 'no'}")  # fmt: skip

    return list(await asyncio.gather(*(one(i, n, a) for i, (n, a) in enumerate(targets))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key", required=True)
    parser.add_argument("--known-hosts", required=True)
    parser.add_argument("--user", default="root")
    parser.add_argument("--service", default="web")
    parser.add_argument("--image", default="orchestr-demo:1")
    parser.add_argument("--per-host", type=int, default=2)
    parser.add_argument("--port-base", type=int, default=30000)
    parser.add_argument(
        "--observe", action="store_true", help="look at the replicas instead of starting them"
    )
    parser.add_argument("targets", nargs="+", metavar="NAME=ADDRESS")
    args = parser.parse_args(argv)
    try:
        targets = [parse_target(t) for t in args.targets]
    except ValueError as error:
        parser.error(str(error))
    lines = asyncio.run(run_all(args, targets))
    for line in lines:
        print(line)
    return 0 if all(line.split(" ", 2)[1] == "rc=0" for line in lines) else 2


if __name__ == "__main__":
    sys.exit(main())

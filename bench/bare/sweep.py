"""The floor of the `sweep` scenario: one health sweep of a service's replicas over plain asyncssh,
with nothing an orchestrator adds (no store, no inventory, no verdicts kept between sweeps).

    python bench/bare/sweep.py --key KEY --known-hosts FILE [--user root] --service NAME \\
        [--loop N --interval S] NAME=ADDRESS...

One connection per host, all hosts at once; per host ONE command (SCRIPT): the managed
containers (`docker ps -aq --filter label=orchestr.managed-by=orchestr | xargs docker inspect`),
then, for each container of the service, curl of 127.0.0.1:PUBLISHED_PORT/healthz (all of a
host's probes at once). Prints per host `NAME rc=0 running=R healthy=H`, then `healthy=TOTAL`.
Exit 0 when every host answered.

With --loop N the connections stay open and N sweeps run over them, one every --interval
seconds; each prints a JSON line {"sweep": i, "seconds": s, "healthy": n} (s: the sweep alone).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

# The remote side, shared with bench/playbooks/sweep_ansible.yml (a copy, same text) and
# bench/pyinfra/sweep.py (imported). $SWEEP_SERVICE names the service whose replicas are probed.
# One line per replica of the service: NAME STATE PUBLISHED_PORT HTTP_CODE.
SCRIPT = """\
docker ps -aq --filter label=orchestr.managed-by=orchestr |
xargs -r docker inspect --format '{{.Name}} {{.State.Status}} {{index .Config.Labels "orchestr.service"}} {{range $p, $b := .NetworkSettings.Ports}}{{range $b}}{{.HostPort}} {{end}}{{end}}' |
{ while read -r name state service port rest; do
    if [ "$service" = "$SWEEP_SERVICE" ]; then
      ( code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$port/healthz"); echo "$name $state $port $code" ) &
    fi
  done; wait; }
"""


def remote_command(service: str) -> str:
    return f"SWEEP_SERVICE={service}\n{SCRIPT}"


def count_replicas(text: str) -> tuple[int, int]:
    """(running, healthy) replicas in SCRIPT's output: healthy is running and /healthz said 200."""
    rows = [line.split() for line in text.splitlines() if line.strip()]
    running = sum(1 for row in rows if len(row) == 4 and row[1] == "running")
    healthy = sum(1 for row in rows if len(row) == 4 and row[1] == "running" and row[3] == "200")
    return running, healthy


async def connect(address: str, user: str, key, known_hosts):  # noqa: ANN001, ANN201
    import asyncssh

    return await asyncssh.connect(address, username=user, client_keys=[key],
                                  known_hosts=known_hosts, agent_path=None, config=None,
                                  connect_timeout=10)  # fmt: skip


async def sweep_host(conn, command: str) -> tuple[int, int, int, str]:  # noqa: ANN001
    """(exit status, running, healthy, error) of one host's sweep over an open connection."""
    result = await conn.run(command, check=False)
    status = result.exit_status if result.exit_status is not None else 255
    running, healthy = count_replicas(str(result.stdout or ""))
    return status, running, healthy, str(result.stderr or "").strip()


async def once(hosts: dict[str, str], service: str, user: str, key_path: str,
               known_hosts_path: str) -> list[tuple[str, int, int, int, str]]:  # fmt: skip
    """A cold sweep: connect to every host, one command each, close."""
    import asyncssh

    key = asyncssh.read_private_key(key_path)
    known_hosts = asyncssh.read_known_hosts(known_hosts_path)
    command = remote_command(service)

    async def one(name: str, address: str) -> tuple[str, int, int, int, str]:
        try:
            conn = await connect(address, user, key, known_hosts)
            async with conn:
                return (name, *await sweep_host(conn, command))
        except (OSError, asyncssh.Error) as error:
            return name, 255, 0, 0, f"{type(error).__name__}: {error}"

    return list(await asyncio.gather(*(one(n, a) for n, a in hosts.items())))


async def loop(hosts: dict[str, str], service: str, user: str, key_path: str,
               known_hosts_path: str, count: int, interval: float) -> list[dict]:  # fmt: skip
    """`count` sweeps over connections opened once (the first sweep includes the connects)."""
    import asyncssh

    key = asyncssh.read_private_key(key_path)
    known_hosts = asyncssh.read_known_hosts(known_hosts_path)
    command = remote_command(service)
    conns: dict[str, object] = {}
    rows = []
    try:
        for index in range(1, count + 1):
            started = time.perf_counter()

            async def one(name: str, address: str) -> tuple[int, int, int, str]:
                if name not in conns:
                    conns[name] = await connect(address, user, key, known_hosts)
                return await sweep_host(conns[name], command)

            results = await asyncio.gather(*(one(n, a) for n, a in hosts.items()))
            seconds = time.perf_counter() - started
            rows.append({"sweep": index, "seconds": round(seconds, 4),
                         "healthy": sum(r[2] for r in results),
                         "failed_hosts": sum(1 for r in results if r[0] != 0)})  # fmt: skip
            print(json.dumps(rows[-1]), flush=True)
            if index < count:
                await asyncio.sleep(max(0.0, interval - seconds))
    finally:
        for conn in conns.values():
            conn.close()  # type: ignore[attr-defined]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key", required=True)
    parser.add_argument("--known-hosts", required=True)
    parser.add_argument("--user", default="root")
    parser.add_argument("--service", required=True)
    parser.add_argument("--loop", type=int, default=0, help="sweeps over kept-open connections")
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("hosts", nargs="+", metavar="NAME=ADDRESS")
    args = parser.parse_args(argv)
    hosts = dict(item.split("=", 1) for item in args.hosts)
    if args.loop:
        rows = asyncio.run(loop(hosts, args.service, args.user, args.key, args.known_hosts,
                                args.loop, args.interval))  # fmt: skip
        return 0 if all(row["failed_hosts"] == 0 for row in rows) else 2
    results = asyncio.run(once(hosts, args.service, args.user, args.key, args.known_hosts))
    for name, status, running, healthy, error in results:
        if status == 0:
            print(f"{name} rc=0 running={running} healthy={healthy}")
        else:
            print(f"{name} rc={status} {error}")
    print(f"healthy={sum(r[3] for r in results)}")
    return 0 if all(r[1] == 0 for r in results) else 2


if __name__ == "__main__":
    sys.exit(main())

"""The floor: the least a Python tool can do to run one command on many hosts over SSH.

    python bench/bare/ssh_run.py --key KEY --known-hosts FILE [--user root] HOST... -- COMMAND

Reads the key and known_hosts once, connects to every host at once with asyncssh (host keys
checked against that file only), runs COMMAND, prints `HOST rc=N OUTPUT` per host. Exit 0 when
every host ran it with exit status 0, else 2. No inventory, no templating, no retries.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import asyncssh


async def run_one(host: str, command: str, user: str, key, known_hosts) -> tuple[str, int, str]:
    try:
        async with asyncssh.connect(
            host,
            username=user,
            client_keys=[key],
            known_hosts=known_hosts,
            agent_path=None,
            config=None,
            connect_timeout=10,
        ) as conn:
            result = await conn.run(command, check=False)
    except (OSError, asyncssh.Error) as error:
        return host, 255, f"{type(error).__name__}: {error}"
    status = result.exit_status if result.exit_status is not None else 255
    text = str(result.stdout if status == 0 else result.stderr or result.stdout).strip()
    return host, status, text


async def run_all(
    hosts: list[str], command: str, user: str, key_path: str, known_hosts_path: str
) -> list[tuple[str, int, str]]:
    key = asyncssh.read_private_key(key_path)
    known_hosts = asyncssh.read_known_hosts(known_hosts_path)
    return list(await asyncio.gather(*(run_one(h, command, user, key, known_hosts) for h in hosts)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key", required=True)
    parser.add_argument("--known-hosts", required=True)
    parser.add_argument("--user", default="root")
    parser.add_argument("hosts", nargs="+")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    raw = list(sys.argv[1:] if argv is None else argv)
    if "--" not in raw:
        parser.error("give the command after --")
    split = raw.index("--")
    args = parser.parse_args(raw[:split])
    command = " ".join(raw[split + 1 :])
    if not command:
        parser.error("empty command")
    results = asyncio.run(run_all(args.hosts, command, args.user, args.key, args.known_hosts))
    for host, status, text in results:
        print(f"{host} rc={status} {text}")
    return 0 if all(status == 0 for _, status, _ in results) else 2


if __name__ == "__main__":
    sys.exit(main())

"""The floor of the `playbook` scenario: bench/playbooks/ten_tasks.yml's remote work as plain
shell commands over asyncssh, with nothing an orchestrator adds (no inventory, no templating
engine, no modules, no per-task results beyond a line per host).

    python bench/bare/ten_tasks.py --key KEY --known-hosts FILE [--user root] \\
        --workdir /tmp/bench-pb NAME=ADDRESS...

One connection per host, all hosts at once; on each host the ten steps run one after the other,
each as one command on that connection (host keys checked against FILE only). Each step is
idempotent in shell (look, then change only what differs) and prints `changed` when it changed
something, so a first run reports changed=5 per host and a second changed=0, as the playbook's
recap does. With --linear every host finishes a step before any host starts the next, as
orchestr and ansible-playbook run a play (strategy `linear`); without it each host goes at its
own pace (`free`), the true floor. Prints per host `NAME ok=10 changed=N` and the report line
(the playbook's `debug`), or `NAME failed step=K rc=N: ERROR`. Exit 0 when every host did all ten steps.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
from dataclasses import dataclass

import asyncssh

MOTD = "orchestr bench\nsecond line\n"
PEERS = ("alpha", "beta", "gamma")
SETTING = "max_conns=100"
SETTING_PREFIX = "max_conns="
STEPS = 10


def render_config(host: str, app_name: str = "bench", app_port: int = 8080) -> str:
    """bench/playbooks/templates/x.j2 rendered for `host`, byte for byte (trim_blocks, as
    Ansible's template module), without a template engine."""
    lines = [
        "# managed by the bench playbook (bench/playbooks/ten_tasks.yml)",
        "[app]",
        f"name = {app_name}",
        f"host = {host}",
        f"port = {app_port}",
        *(f"peer = {peer}" for peer in PEERS),
    ]
    return "\n".join(lines) + "\n"


def ensure_mode(path: str, mode: str) -> str:
    q = shlex.quote(path)
    return f'[ "$(stat -c %a {q})" = {mode} ] || {{ chmod {mode} {q} && echo changed; }}'


def directory_command(path: str, mode: str = "755") -> str:
    """file: state=directory, mode."""
    q = shlex.quote(path)
    return f"{{ [ -d {q} ] || {{ mkdir -p {q} && echo changed; }}; }} && {ensure_mode(path, mode)}"


def put_command(path: str, mode: str = "644") -> str:
    """copy/template: the content arrives on stdin; replaced only when it differs (written to a
    temporary file beside it, then renamed), then the mode."""
    q = shlex.quote(path)
    directory, _, name = path.rpartition("/")
    temp = shlex.quote(f"{directory or '.'}/.{name}.bench")
    return (
        f"cat > {temp} && if cmp -s {temp} {q}; then rm -f {temp}; "
        f"else mv {temp} {q} && echo changed; fi && {ensure_mode(path, mode)}"
    )


def line_command(path: str, line: str = SETTING, prefix: str = SETTING_PREFIX) -> str:
    """lineinfile: regexp ^PREFIX, line LINE, create: the line replaces a line starting with
    PREFIX, or is appended (the file created) when there is none."""
    q, ql = shlex.quote(path), shlex.quote(line)
    pattern = shlex.quote("^" + prefix)
    sed = shlex.quote(f"s|^{prefix}.*|{line}|")
    return (
        f"if grep -qxF {ql} {q} 2>/dev/null; then :; "
        f"elif grep -q {pattern} {q} 2>/dev/null; then sed -i {sed} {q} && echo changed; "
        f"else echo {ql} >> {q} && echo changed; fi"
    )


def touch_command(path: str, mode: str = "644") -> str:
    """file: state=touch with access_time/modification_time preserve: created when missing."""
    q = shlex.quote(path)
    return f"{{ [ -e {q} ] || {{ : > {q} && echo changed; }}; }} && {ensure_mode(path, mode)}"


@dataclass(frozen=True)
class Step:
    """One of the ten: a shell command (None: local only), its stdin, and the name its output
    is kept under for the report."""

    command: str | None
    stdin: str | None = None
    keep: str = ""


def steps(workdir: str, host: str) -> list[Step]:
    """The ten tasks of ten_tasks.yml for one host."""
    w = workdir.rstrip("/")
    return [
        Step(directory_command(w)),
        Step(put_command(f"{w}/motd"), stdin=MOTD),
        Step(put_command(f"{w}/app.conf"), stdin=render_config(host)),
        Step(line_command(f"{w}/settings.ini")),
        Step("uname -r", keep="kernel"),
        Step(f"cat {shlex.quote(w + '/motd')} | wc -l", keep="motd_lines"),
        Step(f"stat -c %s {shlex.quote(w + '/app.conf')}", keep="conf_size"),
        Step(touch_command(f"{w}/stamp")),
        Step(None),  # debug: the report, printed here
        Step("docker ps -q"),
    ]


def step_changed(stdout: str) -> bool:
    return any(line.strip() == "changed" for line in stdout.splitlines())


def report(kept: dict[str, str]) -> str:
    return (
        f"kernel {kept.get('kernel', '')}, motd {kept.get('motd_lines', '')} lines, "
        f"config {kept.get('conf_size', '')} bytes"
    )


async def run_host(
    name: str, address: str, workdir: str, user: str, key, known_hosts, barrier=None
) -> str:
    """The ten steps on one host. With `barrier` (an asyncio.Barrier of all hosts), every step
    waits for every host to finish the step before (the playbook's `linear` strategy); a host
    that failed keeps meeting the barrier so the others are not held up."""
    changed = 0
    kept: dict[str, str] = {}
    lines: list[str] = []
    index = 0
    met = 0

    async def next_step() -> None:
        nonlocal met
        if barrier is not None:
            met += 1
            await barrier.wait()

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
            for index, step in enumerate(steps(workdir, name), start=1):
                if index > 1:
                    await next_step()
                if step.command is None:
                    lines.append(f"{name} report: {report(kept)}")
                    continue
                result = await conn.run(step.command, input=step.stdin, check=False)
                if result.exit_status != 0:
                    error = str(result.stderr or result.stdout).strip()
                    return f"{name} failed step={index} rc={result.exit_status}: {error}"
                stdout = str(result.stdout)
                changed += step_changed(stdout)
                if step.keep:
                    kept[step.keep] = stdout.strip()
    except (OSError, asyncssh.Error) as error:
        return f"{name} failed step={index} rc=255: {type(error).__name__}: {error}"
    finally:
        while barrier is not None and met < STEPS - 1:
            await next_step()
    return "\n".join([f"{name} ok={STEPS} changed={changed}", *lines])


async def run_all(
    targets: list[tuple[str, str]],
    workdir: str,
    user: str,
    key_path: str,
    known_hosts_path: str,
    linear: bool = False,
) -> list[str]:
    key = asyncssh.read_private_key(key_path)
    known_hosts = asyncssh.read_known_hosts(known_hosts_path)
    barrier = asyncio.Barrier(len(targets)) if linear else None
    return list(
        await asyncio.gather(
            *(run_host(n, a, workdir, user, key, known_hosts, barrier) for n, a in targets)
        )
    )


def parse_target(text: str) -> tuple[str, str]:
    """NAME=ADDRESS (or just ADDRESS, used as the name too)."""
    name, sep, address = text.partition("=")
    if not sep:
        return text, text
    if not name or not address:
        raise ValueError(f"bad target {text!r}: NAME=ADDRESS")
    return name, address


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key", required=True)
    parser.add_argument("--known-hosts", required=True)
    parser.add_argument("--user", default="root")
    parser.add_argument("--workdir", default="/tmp/bench-pb")
    parser.add_argument(
        "--linear",
        action="store_true",
        help="every host finishes a step before any starts the next (as a linear play)",
    )
    parser.add_argument("targets", nargs="+", metavar="NAME=ADDRESS")
    args = parser.parse_args(argv)
    try:
        targets = [parse_target(t) for t in args.targets]
    except ValueError as error:
        parser.error(str(error))
    results = asyncio.run(
        run_all(targets, args.workdir, args.user, args.key, args.known_hosts, args.linear)
    )
    for text in results:
        print(text)
    return 0 if all(f" ok={STEPS} " in text.split("\n", 1)[0] for text in results) else 2


if __name__ == "__main__":
    sys.exit(main())

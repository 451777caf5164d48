"""`async`/`poll` and the async_status module, without Python on the host.

A task with `async: N` starts its command detached from the connection (setsid, else nohup) and
returns a job id at once. The job writes its result as JSON to ~/.ansible_async/<jid>, the file and
keys Ansible's async_wrapper and async_status use: {"started": true, "finished": false, ...} while
it runs, then the command module's result (changed, cmd, rc, stdout, stderr, start, end, delta,
msg), or {"failed": true, "msg": "Timeout exceeded"} when it outlived its N seconds.

Only the modules that run one command on the host (command, shell, raw) can run in the
background for now; any other module with `async:` fails with a message saying so.
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
from typing import Any

from orchestr.playbook.modules.base import (
    Arg,
    ModuleContext,
    ModuleError,
    ModuleResult,
    as_bool,
    module,
)
from orchestr.transport.command import Command, Nested

ASYNC_DIR = "$HOME/.ansible_async"
ASYNC_MODULES = ("command", "shell", "raw")
TIMEOUT_MESSAGE = "async task did not complete within the requested time - {seconds}s"

# Builds the job's final JSON from the command's output files ($o stdout, $e stderr). A byte loop:
# gsub's backslash handling differs between mawk, gawk and busybox awk. strip=1 drops trailing
# empty lines (Ansible's strip_empty_ends); strip=0 keeps every line's newline (raw).
_AWK = r"""
function esc(x,   i, n, c, out) {
  if (index(x, "\\") == 0 && index(x, "\"") == 0 && x ~ /^[ -~]*$/) return x
  out = ""; n = length(x)
  for (i = 1; i <= n; i++) {
    c = substr(x, i, 1)
    if (c == "\\") out = out "\\\\"
    else if (c == "\"") out = out "\\\""
    else if (c == "\t") out = out "\\t"
    else if (c == "\r") out = out "\\r"
    else if (c in ord) out = out sprintf("\\u%04x", ord[c])
    else out = out c
  }
  return out
}
function stamp(s,   a) { split(s, a, " "); return a[2] " " substr(a[3], 1, 15) }
function delta(s, t,   a, b, d, h, m) {
  split(s, a, " "); split(t, b, " "); d = b[1] - a[1]; if (d < 0) d = 0
  h = int(d / 3600); m = int((d - h * 3600) / 60)
  return sprintf("%d:%02d:%09.6f", h, m, d - h * 3600 - m * 60)
}
BEGIN {
  for (i = 1; i < 32; i++) ord[sprintf("%c", i)] = i
  gsub(/%?N/, "000000000", s); gsub(/%?N/, "000000000", t)  # a date without %N (busybox)
}
FILENAME == ARGV[1] {
  if (strip == 1 && $0 == "") { ob = ob "\\n"; next }
  out = out (on++ ? "\\n" : "") ob esc($0); ob = ""; next
}
{
  if (strip == 1 && $0 == "") { eb = eb "\\n"; next }
  err = err (en++ ? "\\n" : "") eb esc($0); eb = ""
}
END {
  if (strip != 1) { if (on) out = out "\\n"; if (en) err = err "\\n" }
  printf "{\"started\": true, \"finished\": true, \"ansible_job_id\": \"%s\", \"changed\": true, ", jid
  printf "\"cmd\": %s, \"rc\": %d, \"stdout\": \"%s\", \"stderr\": \"%s\", ", ENVIRON["ORCHESTR_CMD"], rc, out, err
  printf "\"start\": \"%s\", \"end\": \"%s\", \"delta\": \"%s\", ", stamp(s), stamp(t), delta(s, t)
  if (rc == 0) printf "\"msg\": \"\"}\n"
  else printf "\"failed\": true, \"msg\": \"non-zero return code\"}\n"
}
"""

# The job, detached: $1 results file, $2 jid, $3 time limit, $4 cmd as JSON, $5 the command
# line, $6 strip (1/0), $7 the awk program. Kills the command's process group after $3
# seconds (setsid gives it one; without setsid only the command's shell is killed).
JOB = (
    'f=$1; o="$f.out"; e="$f.err"; '
    "stamp() { date '+%s.%N %Y-%m-%d %H:%M:%S.%N'; }; "
    "s=$(stamp); "
    "if command -v setsid >/dev/null 2>&1; then "
    'setsid sh -c "$5" </dev/null >"$o" 2>"$e" & p=$!; g=-$p; '
    'else sh -c "$5" </dev/null >"$o" 2>"$e" & p=$!; g=$p; fi; '
    '( sleep "$3"; : >"$f.timeout"; kill -KILL -- "$g" 2>/dev/null ) >/dev/null 2>&1 & w=$!; '
    'wait "$p"; rc=$?; kill "$w" 2>/dev/null; t=$(stamp); '
    'if [ -e "$f.timeout" ]; then sleep 1; '
    'printf \'{"started": true, "finished": true, "ansible_job_id": "%s", "failed": true, '
    '"msg": "Timeout exceeded", "child_pid": %s}\\n\' "$2" "$p" >"$f.tmp"; '
    'else ORCHESTR_CMD=$4 LC_ALL=C awk -v rc="$rc" -v s="$s" -v t="$t" -v jid="$2" '
    '-v strip="$6" "$7" "$o" "$e" >"$f.tmp"; fi; '
    'mv -f "$f.tmp" "$f"; rm -f "$o" "$e" "$f.timeout"'
)

# Starts the job: $1 jid prefix, then the job's $3..$7. Prints the jid and the results file.
LAUNCH = (
    f'd="{ASYNC_DIR}"; mkdir -p "$d" || exit 1; jid="$1.$$"; f="$d/$jid"; shift; '
    'printf \'{"started": true, "finished": false, "ansible_job_id": "%s"}\\n\' "$jid" >"$f" '
    "|| exit 1; "
    "if command -v setsid >/dev/null 2>&1; then run=setsid; else run=nohup; fi; "
    '$run sh -c "$1" job "$f" "$jid" "$2" "$3" "$4" "$5" "$6" </dev/null >/dev/null 2>&1 & '
    'printf \'%s\\n%s\\n\' "$jid" "$f"'
)

# $1 jid: prints the results file, then its content; exit 3 when there is none.
STATUS = f'f="{ASYNC_DIR}/$1"; echo "$f"; [ -f "$f" ] || exit 3; cat "$f"'
CLEANUP = f'f="{ASYNC_DIR}/$1"; echo "$f"; rm -f -- "$f"'


def new_jid_prefix() -> str:
    """Ansible's job ids are j<random>.<pid of the wrapper on the host>; the pid is added there."""
    return f"j{secrets.randbelow(999999999999)}"


def kill_after(seconds: int) -> int | float:
    """When Ansible's async_wrapper kills a job: it checks every 5 seconds (every seconds/2 for
    5 or less), so a 7-second job dies at 10; it writes "Timeout exceeded" a second later."""
    if seconds <= 5:
        return seconds
    return math.ceil(seconds / 5) * 5


def launch_command(prefix: str, seconds: int, run: Command, cmd: Any, strip: bool) -> Command:
    """The one round trip that starts `run` in the background (killed after `seconds`)."""
    return Command((
        "sh", "-c", LAUNCH, "launch", prefix, JOB, str(kill_after(seconds)), json.dumps(cmd),
        Nested(run), "1" if strip else "0", _AWK,
    ))  # fmt: skip


def status_command(jid: str) -> Command:
    return Command.argv("sh", "-c", STATUS, "status", jid)


def cleanup_command(jid: str) -> Command:
    return Command.argv("sh", "-c", CLEANUP, "cleanup", jid)


def job_call(kind: str, args: dict[str, Any]) -> tuple[Command, Any, bool]:
    """What a backgrounded command/shell/raw runs: (command line, Ansible's `cmd`, strip)."""
    from orchestr.playbook.modules.command import invocation

    if args.get("creates") or args.get("removes") or args.get("stdin") is not None:
        raise ModuleError(
            "orchestr does not support creates, removes or stdin with async yet: "
            "guard the command in the shell, or drop async"
        )
    if kind == "raw":
        text = str(args.get("_raw_params") or "")
        if not text:
            raise ModuleError("no command given")
        executable = args.get("executable")
        line = Command.argv(str(executable), "-c", text) if executable else Command.shell(text)
        return line, text, False
    call = invocation(kind, args)
    return call.command, call.cmd, as_bool(args.get("strip_empty_ends", True))


async def start(kind: str, args: dict[str, Any], ctx: ModuleContext, seconds: int) -> ModuleResult:
    """Start the job; the result `async: N, poll: 0` registers."""
    if kind not in ASYNC_MODULES:
        raise ModuleError(
            f"orchestr runs only {', '.join(ASYNC_MODULES)} with async for now, not {kind}: "
            "remove async/poll from this task"
        )
    line, cmd, strip = job_call(kind, args)
    started = await ctx.run(launch_command(new_jid_prefix(), seconds, line, cmd, strip))
    lines = started.stdout.splitlines()
    if not started.ok or len(lines) < 2:
        raise ModuleError(
            f"could not start the async job: {(started.stderr or started.stdout).strip()}"
        )
    return ModuleResult(
        changed=True,
        data={"ansible_job_id": lines[0], "started": True, "finished": False,
              "results_file": lines[1]},
    )  # fmt: skip


def status_result(jid: str, rc: int, stdout: str) -> ModuleResult:
    """async_status's result from the status round trip's output (rc 3: no such job)."""
    path, _, content = stdout.partition("\n")
    base: dict[str, Any] = {"ansible_job_id": jid, "started": True, "finished": False,
                            "results_file": path, "stdout": "", "stderr": ""}  # fmt: skip
    if rc == 3:
        return ModuleResult(failed=True, msg="could not find job", data={**base, "finished": True})
    if rc != 0:
        raise ModuleError(f"could not read the job's results file {path}")
    try:
        data = json.loads(content)
    except ValueError:
        return ModuleResult(failed=True, msg=f"Could not parse job output: {content}",
                            data={**base, "finished": True})  # fmt: skip
    if not isinstance(data, dict):
        return ModuleResult(failed=True, msg=f"Could not parse job output: {content}",
                            data={**base, "finished": True})  # fmt: skip
    data = {**base, **data}
    data["started"], data["finished"] = bool(data["started"]), bool(data["finished"])
    changed, failed = bool(data.pop("changed", False)), bool(data.pop("failed", False))
    return ModuleResult(changed=changed, failed=failed, msg=str(data.get("msg") or ""), data=data)


async def job_status(ctx: ModuleContext, jid: str) -> ModuleResult:
    done = await ctx.run(status_command(jid))
    return status_result(jid, done.rc, done.stdout)


async def cleanup(ctx: ModuleContext, jid: str) -> ModuleResult:
    done = await ctx.run(cleanup_command(jid))
    if not done.ok:
        raise ModuleError(f"could not remove the job's results file: {done.stderr.strip()}")
    return ModuleResult(data={"ansible_job_id": jid, "erased": done.stdout.strip(),
                              "started": False, "finished": False, "stdout": "", "stderr": ""})  # fmt: skip


async def run_async(kind: str, args: dict[str, Any], ctx: ModuleContext, seconds: int,
                    poll: int) -> ModuleResult:  # fmt: skip
    """A task with `async: seconds`: started, then (poll > 0) checked every `poll` seconds until
    it finishes or `seconds` pass, as Ansible's task executor does."""
    started = await start(kind, args, ctx, seconds)
    if poll <= 0:
        return started
    jid = started.data["ansible_job_id"]
    status: ModuleResult | None = None
    left = seconds
    while left > 0:
        await asyncio.sleep(poll)
        status = await job_status(ctx, jid)
        if status.data.get("finished") or status.failed:
            break
        left -= poll
    if status is None or not status.data.get("finished"):
        last = status.registered() if status is not None else {}
        last.pop("changed", None)
        last.pop("failed", None)
        return ModuleResult(failed=True, msg=TIMEOUT_MESSAGE.format(seconds=seconds),
                            data={"async_result": last})  # fmt: skip
    await cleanup(ctx, jid)
    return status


@module(
    "async_status",
    args={"jid": Arg(required=True), "mode": Arg(default="status", choices=("status", "cleanup"))},
)
async def async_status(args: dict[str, Any], ctx: ModuleContext) -> ModuleResult:
    jid = str(args["jid"])
    if args.get("mode") == "cleanup":
        return await cleanup(ctx, jid)
    return await job_status(ctx, jid)

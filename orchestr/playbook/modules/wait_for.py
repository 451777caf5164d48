"""wait_for: a polling loop that runs *on the host* in plain `sh` (one round trip), for a TCP port
to open, close or drain, or a file to appear (holding a regex match) or go away.

How a port is probed, in this order, so Debian (bash is essential there) and busybox hosts both
work: bash's /dev/tcp (under `timeout` when there is one); `nc -z -w` where nc has -z; for local
addresses, a LISTEN entry in /proc/net/tcp{,6}; last, nc without -z (Debian's busybox nc: a
connection that ends well, or is still open when `timeout` stops it, counts as open).
`drained` reads /proc/net/tcp{,6}: it sees the host's own connections only, as Ansible's."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from orchestr.playbook.modules.base import Arg, ModuleContext, ModuleError, ModuleResult, module
from orchestr.transport.command import Command

STATES = ("started", "present", "stopped", "absent", "drained")
# /proc/net/tcp's hexadecimal state numbers for Ansible's connection state names.
TCP_STATES = {"ESTABLISHED": "01", "SYN_SENT": "02", "SYN_RECV": "03", "FIN_WAIT1": "04",
              "FIN_WAIT2": "05", "TIME_WAIT": "06", "CLOSE": "07", "CLOSE_WAIT": "08",
              "LAST_ACK": "09", "LISTEN": "0A", "CLOSING": "0B"}  # fmt: skip
ACTIVE = ("ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "SYN_RECV", "SYN_SENT", "TIME_WAIT")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "0.0.0.0", "::1", "::")

# Arguments: $1 mode (connect, closed, drained, present, absent, match), $2 host, $3 port,
# $4 path, $5 regex, $6 timeout, $7 sleep, $8 connect timeout, $9 hex port, ${10} states.
# Prints "elapsed:N" and, for match, "match:LINE"; exits 1 on timeout, 3 when it cannot probe.
_SCRIPT = r"""
mode=$1 host=$2 port=$3 path=$4 regex=$5 limit=$6 pause=$7 ct=$8 hexport=$9 states=${10}
listening() {
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | while read -r _ addr _ st _; do
    [ "$st" = 0A ] && [ "${addr##*:}" = "$hexport" ] && { echo yes; break; }
  done | grep -q yes
}
connects() {
  if command -v bash >/dev/null 2>&1; then
    $limiter bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null
  elif [ "$ncz" = 1 ]; then
    nc -z -w "$ct" "$host" "$port" </dev/null >/dev/null 2>&1
  elif [ "$islocal" = 1 ] && [ -r /proc/net/tcp ]; then
    listening
  elif command -v nc >/dev/null 2>&1; then
    # nc without -z (Debian's busybox): connected when it ends well or is still talking
    out=$($limiter nc -w "$ct" "$host" "$port" </dev/null 2>&1 >/dev/null); rc=$?
    [ "$rc" = 0 ] || { [ -n "$limiter" ] && [ "$rc" -ge 124 ] && [ -z "$out" ]; }
  else
    echo "wait_for: no bash, nc or /proc/net/tcp to probe $host:$port with" >&2; exit 3
  fi
}
active() {
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | while read -r _ addr _ st _; do
    [ "${addr##*:}" = "$hexport" ] || continue
    case " $states " in *" $st "*) echo yes; break ;; esac
  done | grep -q yes
}
case $host in 127.0.0.1|localhost|0.0.0.0|::1|::) islocal=1 ;; *) islocal=0 ;; esac
limiter=; command -v timeout >/dev/null 2>&1 && limiter="timeout $((ct + 1))"
ncz=0; command -v nc >/dev/null 2>&1 && nc -h 2>&1 | grep -q -e '-z' && ncz=1
start=$(date +%s)
while :; do
  case $mode in
    connect) connects && break ;;
    closed) connects || break ;;
    drained) active || break ;;
    present) [ -e "$path" ] && break ;;
    absent) [ -e "$path" ] || break ;;
    match)
      line=$(grep -E -e "$regex" -- "$path" 2>/dev/null | head -n 1)
      if [ -n "$line" ]; then printf 'match:%s\n' "$line"; break; fi ;;
  esac
  now=$(date +%s)
  if [ $((now - start)) -ge "$limit" ]; then echo "elapsed:$((now - start))"; exit 1; fi
  sleep "$pause"
done
echo "elapsed:$(( $(date +%s) - start ))"
"""


def wait_mode(args: dict[str, Any]) -> str:
    """What the host loop waits for, from port/path/state/search_regex (Ansible's rules)."""
    state = str(args.get("state") or "started")
    if state not in STATES:
        raise ModuleError(f"state must be one of {', '.join(STATES)}: {state}")
    port, path = args.get("port"), args.get("path")
    if port is not None and path:
        raise ModuleError("port and path parameter can not both be passed to wait_for")
    if path and state == "stopped":
        state = "absent"
    if path and state == "started":
        state = "present"
    if path:
        if state == "drained":
            raise ModuleError(
                "state=drained should only be used for checking a port in the wait_for module"
            )
        if args.get("search_regex") and state == "present":
            return "match"
        return state
    if args.get("exclude_hosts") and state != "drained":
        raise ModuleError("exclude_hosts should only be with state=drained")
    if port is None:
        return "sleep"
    if state in ("present", "started"):
        return "connect"
    if state in ("absent", "stopped"):
        return "closed"
    return "drained"


_CLASSES = {"d": "[0-9]", "D": "[^0-9]", "s": "[[:space:]]", "S": "[^[:space:]]",
            "w": "[[:alnum:]_]", "W": "[^[:alnum:]_]"}  # fmt: skip


def posix_regex(pattern: str) -> str:
    """Python's \\d, \\s, \\w (and their negations) as POSIX classes for `grep -E`, outside
    bracket expressions; the rest of a pattern is left as written."""
    out, index, in_brackets = [], 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            following = pattern[index + 1]
            if not in_brackets and following in _CLASSES:
                out.append(_CLASSES[following])
            else:
                out.append(char + following)
            index += 2
            continue
        if char == "[":
            in_brackets = True
        elif char == "]":
            in_brackets = False
        out.append(char)
        index += 1
    return "".join(out)


def wait_command(args: dict[str, Any]) -> Command:
    """The one `sh -c` loop for the arguments (not for mode sleep)."""
    mode = wait_mode(args)
    port = args.get("port")
    states = [TCP_STATES[name.upper()] for name in (args.get("active_connection_states") or ACTIVE)
              if name.upper() in TCP_STATES]  # fmt: skip
    return Command.argv(
        "sh", "-c", _SCRIPT.strip(), "wait_for", mode, str(args.get("host") or "127.0.0.1"),
        "" if port is None else str(int(port)), str(args.get("path") or ""),
        posix_regex(str(args.get("search_regex") or "")), str(int(float(args.get("timeout", 300)))),
        str(args.get("sleep", 1)), str(int(float(args.get("connect_timeout", 5)))),
        "" if port is None else f"{int(port):04X}", " ".join(states),
    )  # fmt: skip


def timeout_message(args: dict[str, Any], mode: str) -> str:
    host, port, path = args.get("host") or "127.0.0.1", args.get("port"), args.get("path")
    return {
        "connect": f"Timeout when waiting for {host}:{port}",
        "closed": f"Timeout when waiting for {host}:{port} to stop.",
        "drained": f"Timeout when waiting for {host}:{port} to drain",
        "present": f"Timeout when waiting for file {path}",
        "absent": f"Timeout when waiting for {path} to be absent.",
        "match": f"Timeout when waiting for search string {args.get('search_regex')} in {path}",
    }[mode]


def outcome(
    args: dict[str, Any], mode: str, rc: int, stdout: str, stderr: str, elapsed: float
) -> ModuleResult:
    """The module's result from the loop's exit status and output."""
    values = dict(line.partition(":")[::2] for line in stdout.splitlines() if ":" in line)
    data: dict[str, Any] = {
        "elapsed": int(values.get("elapsed") or elapsed),
        "state": args.get("state") or "started",
    }
    for name in ("port", "path", "search_regex"):
        if args.get(name) is not None:
            data[name] = args[name]
    if rc == 1:
        return ModuleResult(
            failed=True, msg=str(args.get("msg") or timeout_message(args, mode)), data=data
        )
    if rc != 0:
        return ModuleResult(
            failed=True, msg=(stderr or stdout).strip() or f"wait_for failed (rc={rc})", data=data
        )
    if mode == "match":
        found = re.search(str(args["search_regex"]), values.get("match", ""))
        data["match_groups"] = list(found.groups()) if found else []
        data["match_groupdict"] = found.groupdict() if found else {}
    return ModuleResult(data=data)


@module(
    "wait_for",
    args={
        "host": Arg(default="127.0.0.1"),
        "port": Arg(type="int"),
        "path": Arg(type="path"),
        "state": Arg(default="started", choices=STATES),
        "delay": Arg(type="float", default=0),
        "timeout": Arg(type="float", default=300),
        "sleep": Arg(type="float", default=1),
        "connect_timeout": Arg(type="int", default=5),
        "search_regex": Arg(),
        "exclude_hosts": Arg(type="list"),
        "active_connection_states": Arg(type="list"),
        "msg": Arg(),
    },
)
async def wait_for(args: dict[str, Any], ctx: ModuleContext) -> ModuleResult:
    """Never changes anything. Not in check mode: Ansible's wait_for does not support it."""
    if ctx.check_mode:
        return ModuleResult(
            skipped=True, msg="remote module (wait_for) does not support check mode"
        )
    mode = wait_mode(args)
    started = time.monotonic()
    delay = float(args.get("delay") or 0)
    timeout = float(args.get("timeout", 300))
    if delay:
        await asyncio.sleep(delay)
    if mode == "sleep":
        await asyncio.sleep(timeout)
        return ModuleResult(
            data={
                "elapsed": int(time.monotonic() - started),
                "state": args.get("state") or "started",
            }
        )
    result = await ctx.run(
        wait_command(args), timeout=timeout + float(args.get("connect_timeout", 5)) + 30
    )
    return outcome(args, mode, result.rc, result.stdout, result.stderr, time.monotonic() - started)

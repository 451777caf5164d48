"""uri: an HTTP request made *from the host* (never from the controller) with curl, or with wget
when the host has no curl (GET, HEAD and POST only), and the answer in Ansible's uri shape."""

from __future__ import annotations

import contextlib
import json
import shlex
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from orchestr.playbook.modules.base import (
    Arg,
    ModuleContext,
    ModuleError,
    ModuleResult,
    as_bool,
    module,
)
from orchestr.transport.command import Command, Nested, Secret

STATUS_MARK = "--orchestr-status--"
WGET_MARK = "--orchestr-wget--"
NO_CLIENT = 127
JSON_TYPES = ("json", "javascript")

# $1 the curl command, $2 the wget command: the first the host has runs (stdin is the body).
_CHOOSE = (
    'if command -v curl >/dev/null 2>&1; then eval "$1"; '
    "elif command -v wget >/dev/null 2>&1; then echo " + WGET_MARK + '; eval "$2"; '
    'else echo "uri: neither curl nor wget is installed on the host" >&2; exit 127; fi'
)


@dataclass
class Response:
    status: int
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    reason: str = ""
    redirects: int = 0
    # busybox wget only says "it worked" (some 2xx): the exact status is not known.
    some_success: bool = False


def request_body(args: dict[str, Any]) -> tuple[bytes | None, dict[str, str]]:
    """The bytes to send and the Content-Type they imply (Ansible's body_format)."""
    body = args.get("body")
    if body is None:
        return None, {}
    body_format = args.get("body_format") or "raw"
    if body_format == "json":
        text = body if isinstance(body, str) else json.dumps(body)
        return text.encode(), {"Content-Type": "application/json"}
    if body_format == "form-urlencoded":
        if isinstance(body, dict):
            body = urlencode(body, doseq=True)
        elif isinstance(body, list):
            body = urlencode(body)
        return str(body).encode(), {"Content-Type": "application/x-www-form-urlencoded"}
    if body_format == "form-multipart":
        raise ModuleError("body_format form-multipart is not supported")
    return (body if isinstance(body, bytes) else str(body).encode()), {}


def _headers(args: dict[str, Any], implied: dict[str, str]) -> list[tuple[str, str]]:
    given = {str(k): str(v) for k, v in (args.get("headers") or {}).items()}
    lowered = {name.lower() for name in given}
    merged = [(k, v) for k, v in implied.items() if k.lower() not in lowered]
    return merged + list(given.items())


def follows(args: dict[str, Any], method: str) -> bool:
    mode = str(args.get("follow_redirects", "safe")).lower()
    if mode in ("all", "yes", "true", "urllib2"):
        return True
    if mode == "safe":
        return method in ("GET", "HEAD")
    return False


def curl_command(args: dict[str, Any], has_body: bool, headers: list[tuple[str, str]]) -> Command:
    method = str(args.get("method") or "GET").upper()
    words: list[str | Secret] = [
        "curl",
        "-sS",
        "-D",
        "-",
        "--max-time",
        str(int(float(args.get("timeout", 30)))),
    ]
    words += ["--head"] if method == "HEAD" else ["-X", method]
    if follows(args, method):
        words += ["-L", "--max-redirs", "50"]
    if not as_bool(args.get("validate_certs", True)):
        words.append("-k")
    if args.get("unix_socket"):
        words += ["--unix-socket", str(args["unix_socket"])]
    if args.get("url_username"):
        words += ["--user", Secret(f"{args['url_username']}:{args.get('url_password') or ''}")]
    for name, value in headers:
        words += ["-H", f"{name}: {value}"]
    if has_body:
        words += ["--data-binary", "@-"]
    words += [
        "-w",
        f"\\n{STATUS_MARK}%{{http_code}} %{{num_redirects}} %{{url_effective}}",
        "--",
        str(args["url"]),
    ]
    return Command.argv(*words)


def wget_command(args: dict[str, Any], has_body: bool, headers: list[tuple[str, str]]) -> Command:
    """wget as a fallback: response headers first, then the mark, then the body. GNU wget shows
    its headers (-S); busybox's cannot (Debian's crashes on -S), so a success there is reported
    as the first 2xx of status_code (200 if none) with no headers, and an error by the status its
    message names."""
    method = str(args.get("method") or "GET").upper()
    if method not in ("GET", "HEAD", "POST") or args.get("unix_socket") or args.get("url_username"):
        return Command.shell("echo 'uri: this request needs curl on the host' >&2; exit 126")
    seconds = str(int(float(args.get("timeout", 30))))
    common = ["--spider"] if method == "HEAD" else []
    if not as_bool(args.get("validate_certs", True)):
        common.append("--no-check-certificate")
    for name, value in headers:
        common += ["--header", f"{name}: {value}"]
    post = ' --post-file "$b"' if has_body or method == "POST" else ""
    url = shlex.quote(str(args["url"]))
    gnu = ["-S", "-T", seconds] + ([] if follows(args, method) else ["--max-redirect", "0"])
    gnu_words = " ".join(shlex.quote(word) for word in gnu + common)
    busybox_words = " ".join(shlex.quote(word) for word in common)
    script = (
        't=$(mktemp) && b=$(mktemp) || exit 1; cat > "$b"; '
        "if wget --version 2>/dev/null | grep -q GNU; then "
        f'wget -O "$t" {gnu_words}{post} {url} 2>&1; rc=$?; '
        "else lim=; command -v timeout >/dev/null 2>&1 && lim='timeout " + seconds + "'; "
        f'$lim wget -O "$t" {busybox_words}{post} {url} 2>&1; rc=$?; '
        '[ "$rc" = 0 ] && echo "  HTTP/1.1 2xx"; fi; '
        f'echo {STATUS_MARK}; cat "$t"; rm -f "$t" "$b"; exit $rc'
    )
    return Command.shell(script)


def uri_command(args: dict[str, Any]) -> tuple[Command, bytes | None]:
    """The one round trip: curl if the host has it, else wget; and the body for its stdin."""
    if not args.get("url"):
        raise ModuleError("url is required")
    body, implied = request_body(args)
    headers = _headers(args, implied)
    curl = curl_command(args, body is not None, headers)
    wget = wget_command(args, body is not None, headers)
    choose = Command.argv("sh", "-c", _CHOOSE, "uri") + Command((Nested(curl), Nested(wget)))
    return choose, body


def _split_headers(text: str) -> tuple[list[tuple[str, dict[str, str]]], str]:
    """Header blocks (status line, fields) at the start of text, and what follows (the body)."""
    blocks = []
    while text.startswith("HTTP/"):
        end = text.find("\r\n\r\n")
        size = 4
        if end == -1:
            end, size = text.find("\n\n"), 2
        if end == -1:
            end, size = len(text), 0
        lines = text[:end].replace("\r\n", "\n").split("\n")
        fields: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name:
                fields[name.strip().lower()] = value.strip()
        blocks.append((lines[0], fields))
        text = text[end + size :]
    return blocks, text


def parse_curl(stdout: str, url: str) -> Response:
    head, mark, tail = stdout.rpartition("\n" + STATUS_MARK)
    if not mark:
        raise ModuleError("unexpected curl output (no status)")
    status, _, rest = tail.strip().partition(" ")
    redirects, _, effective = rest.partition(" ")
    blocks, body = _split_headers(head)
    status_line, headers = blocks[-1] if blocks else ("", {})
    reason = status_line.split(" ", 2)[2] if status_line.count(" ") >= 2 else ""
    return Response(int(status or 0), effective or url, headers, body, reason, int(redirects or 0))


def parse_wget(stdout: str, url: str) -> Response:
    head, _, body = stdout.partition(STATUS_MARK + "\n")
    status, reason, headers, redirects = 0, "", {}, -1
    for raw in head.splitlines():
        line = raw.strip()
        indented = raw.startswith("  ")  # GNU wget -S: response lines are indented, the rest not
        if indented and line == "HTTP/1.1 2xx":
            return Response(200, url, {}, body, "OK", 0, some_success=True)
        if indented and line.startswith("HTTP/"):
            parts = line.split(" ", 2)
            status, reason, headers = int(parts[1]), parts[2] if len(parts) > 2 else "", {}
            redirects += 1
        elif indented and ":" in line and status:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        elif "server returned error: HTTP/" in line:
            parts = line.split("HTTP/", 1)[1].split(" ", 2)
            status, reason = int(parts[1]), parts[2] if len(parts) > 2 else ""
    location = headers.get("location") if redirects > 0 else None
    return Response(status, location or url, headers, body, reason, max(redirects, 0))


def status_codes(value: Any) -> list[int]:
    """status_code as Ansible reads a list argument: a list, one value, or "200,201"."""
    if value is None or value == "" or value == []:
        return [200]
    if isinstance(value, str):
        value = value.split(",")
    elif not isinstance(value, list | tuple):
        value = [value]
    try:
        return [int(str(code).strip()) for code in value]
    except ValueError:
        raise ModuleError(f"status_code must be integers: {value!r}") from None


def uri_result(args: dict[str, Any], response: Response, elapsed: float) -> ModuleResult:
    """Ansible's uri return values, failed when the status is not one of status_code."""
    wanted = status_codes(args.get("status_code"))
    if response.some_success:
        response.status = next((code for code in wanted if 200 <= code < 300), 200)
    data: dict[str, Any] = {key.replace("-", "_"): value for key, value in response.headers.items()}
    data.update(status=response.status, url=response.url, redirected=response.redirects > 0,
                elapsed=int(elapsed), cookies={}, cookies_string="")  # fmt: skip
    content_type = response.headers.get("content-type", "")
    # Without headers (busybox wget) a body that parses as JSON is taken as JSON.
    maybe_json = response.some_success and response.body.lstrip()[:1] in ("{", "[")
    if (maybe_json or any(kind in content_type.lower() for kind in JSON_TYPES)) and response.body:
        with contextlib.suppress(ValueError):
            data["json"] = json.loads(response.body)
    return_content = as_bool(args.get("return_content", False))
    if return_content:
        data["content"] = response.body
    if response.status in wanted:
        length = response.headers.get("content-length", "unknown")
        return ModuleResult(msg=f"OK ({length} bytes)", data=data)
    detail = f"HTTP Error {response.status}: {response.reason}".rstrip(": ")
    if response.status <= 0:
        detail = f"Request failed: {response.reason}"
    return ModuleResult(
        failed=True, msg=f"Status code was {response.status} and not {wanted}: {detail}", data=data
    )


@module(
    "uri",
    args={
        "url": Arg(required=True),
        "method": Arg(default="GET"),
        "body": Arg(type="raw"),
        "body_format": Arg(
            default="raw", choices=("raw", "json", "form-urlencoded", "form-multipart")
        ),
        "headers": Arg(type="dict"),
        "status_code": Arg(type="list", default=[200]),
        "return_content": Arg(type="bool", default=False),
        "timeout": Arg(type="int", default=30),
        "validate_certs": Arg(type="bool", default=True),
        "follow_redirects": Arg(default="safe"),
        "url_username": Arg(aliases=("user",)),
        "url_password": Arg(aliases=("password",), secret=True),
        "force_basic_auth": Arg(type="bool", default=False),
        "unix_socket": Arg(type="path"),
    },
)
async def uri(args: dict[str, Any], ctx: ModuleContext) -> ModuleResult:
    """Never changes anything; not run in check mode (Ansible's uri does not support it)."""
    if ctx.check_mode:
        return ModuleResult(skipped=True, msg="remote module (uri) does not support check mode")
    command, body = uri_command(args)
    started = time.monotonic()
    result = await ctx.run(command, stdin=body if body is not None else b"",
                           timeout=float(args.get("timeout", 30)) + 30)  # fmt: skip
    elapsed = time.monotonic() - started
    if result.rc == NO_CLIENT or result.rc == 126:
        raise ModuleError(result.stderr.strip())
    url = str(args["url"])
    wget = result.stdout.startswith(WGET_MARK + "\n")
    try:
        if wget:
            response = parse_wget(result.stdout[len(WGET_MARK) + 1 :], url)
        else:
            response = parse_curl(result.stdout, url)
    except (ModuleError, ValueError, IndexError):
        response = Response(-1, url, reason=(result.stderr or result.stdout).strip())
    if response.status <= 0:
        response = Response(-1, url, reason=(result.stderr or "no response").strip())
    return uri_result(args, response, elapsed)

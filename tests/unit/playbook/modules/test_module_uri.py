"""uri: the curl line, parsing what comes back, Ansible's result; and real requests from this
machine's shells to a local server with curl, GNU wget and busybox wget."""

from __future__ import annotations

import json
import os
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from modules_fake import FakeContext, LocalContext, busybox_path, ok

from orchestr.playbook.modules.base import ModuleError, lookup
from orchestr.playbook.modules.uri import (
    STATUS_MARK,
    curl_command,
    parse_curl,
    parse_wget,
    request_body,
    uri_command,
    uri_result,
)


def test_curl_line():
    args = {"url": "https://api/x?a=1&b=2", "method": "post", "validate_certs": False, "timeout": 5,
            "headers": {"X-Token": "t"}}  # fmt: skip
    line = curl_command(
        args, True, [("Content-Type", "application/json"), ("X-Token", "t")]
    ).render()
    assert line == (
        "curl -sS -D - --max-time 5 -X POST -k -H 'Content-Type: application/json' -H 'X-Token: t' "
        f"--data-binary @- -w '\\n{STATUS_MARK}%{{http_code}} %{{num_redirects}} %{{url_effective}}' "
        "-- 'https://api/x?a=1&b=2'"
    )


def test_curl_follows_redirects_only_for_safe_methods():
    assert " -L " in curl_command({"url": "u"}, False, []).render()
    assert " -L " not in curl_command({"url": "u", "method": "DELETE"}, False, []).render()
    assert (
        " -L "
        in curl_command(
            {"url": "u", "method": "DELETE", "follow_redirects": "all"}, False, []
        ).render()
    )
    assert " --head " in curl_command({"url": "u", "method": "HEAD"}, False, []).render()


def test_password_is_secret_in_the_displayed_command():
    command, _ = uri_command(
        {"url": "http://h/", "url_username": "admin", "url_password": "s3cret"}
    )
    assert "s3cret" in command.render() and "s3cret" not in command.display()
    assert command.secrets == ("admin:s3cret",)


def test_body_formats():
    assert request_body({"body": {"a": 1}, "body_format": "json"}) == (
        b'{"a": 1}',
        {"Content-Type": "application/json"},
    )
    assert (
        request_body({"body": {"a": 1, "b": "x y"}, "body_format": "form-urlencoded"})[0]
        == b"a=1&b=x+y"
    )
    assert request_body({"body": "raw text"}) == (b"raw text", {})
    assert request_body({}) == (None, {})
    with pytest.raises(ModuleError):
        request_body({"body": {}, "body_format": "form-multipart"})


def test_json_content_type_is_not_doubled():
    command, body = uri_command({"url": "u", "body": {"a": 1}, "body_format": "json",
                                 "headers": {"content-type": "application/vnd+json"}})  # fmt: skip
    assert "application/json" not in command.render() and body == b'{"a": 1}'


def test_parse_curl_with_a_redirect():
    out = ("HTTP/1.1 301 Moved\r\nLocation: /b\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
           f'Content-Length: 9\r\n\r\n{{"a": 1}}\n\n{STATUS_MARK}200 1 http://h/b')  # fmt: skip
    response = parse_curl(out, "http://h/a")
    assert response.status == 200 and response.url == "http://h/b" and response.redirects == 1
    assert response.body == '{"a": 1}\n' and response.headers["content-type"] == "application/json"
    assert response.reason == "OK"


def test_parse_wget_gnu_and_busybox():
    gnu = ("--2024-- http://h/\nConnecting... connected.\n  HTTP/1.1 200 OK\n  Content-Type: text/plain\n"
           f"Length: 2 [text/plain]\n{STATUS_MARK}\nhi")  # fmt: skip
    response = parse_wget(gnu, "http://h/")
    assert (
        response.status == 200
        and response.headers == {"content-type": "text/plain"}
        and response.body == "hi"
    )
    busybox = f"Connecting to h (1.2.3.4:80)\nwget: server returned error: HTTP/1.1 404 Not Found\n{STATUS_MARK}\n"
    assert parse_wget(busybox, "http://h/").status == 404


def test_result_shapes():
    from orchestr.playbook.modules.uri import Response

    response = Response(200, "http://h/", {"content-type": "application/json", "x-request-id": "7",
                                           "content-length": "8"}, '{"a": 1}', "OK")  # fmt: skip
    result = uri_result({"return_content": True}, response, 0.3)
    assert not result.failed and not result.changed and result.msg == "OK (8 bytes)"
    assert result.data["json"] == {"a": 1} and result.data["x_request_id"] == "7"
    assert result.data["content"] == '{"a": 1}' and result.data["status"] == 200
    failed = uri_result({"status_code": [200, 201]}, Response(503, "u", {}, "", "Unavailable"), 1)
    assert (
        failed.failed
        and failed.msg == "Status code was 503 and not [200, 201]: HTTP Error 503: Unavailable"
    )
    assert uri_result({"status_code": ["503"]}, Response(503, "u"), 1).failed is False


async def test_check_mode_is_skipped():
    assert (await lookup("uri").run({"url": "http://x"}, FakeContext(check_mode=True))).skipped


async def test_no_client_on_the_host_is_an_error():
    ctx = FakeContext(
        results=[ok("", "uri: neither curl nor wget is installed on the host", rc=127)]
    )
    with pytest.raises(ModuleError, match="neither curl nor wget"):
        await lookup("uri").run({"url": "http://x"}, ctx)


async def test_connection_refused_is_status_minus_one():
    ctx = FakeContext(
        results=[ok(f"\n{STATUS_MARK}000 0 http://x/", "curl: (7) Failed to connect", rc=7)]
    )
    result = await lookup("uri").run({"url": "http://x/"}, ctx)
    assert result.failed and result.data["status"] == -1
    assert (
        result.msg
        == "Status code was -1 and not [200]: Request failed: curl: (7) Failed to connect"
    )


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        if self.path == "/json":
            self._answer(200, b'{"ok": true}', [("Content-Type", "application/json")])
        elif self.path == "/moved":
            self._answer(302, b"", [("Location", "/json")])
        else:
            self._answer(404, b"nope")

    do_HEAD = do_GET

    def do_POST(self):
        data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        echo = json.dumps({"got": data.decode(), "type": self.headers.get("Content-Type")}).encode()
        self._answer(201, echo, [("Content-Type", "application/json")])


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(params=["curl", "gnu-wget", "busybox-wget"])
def client(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bin")
    if request.param == "curl":
        if shutil.which("curl") is None:
            pytest.skip("no curl")
        return request.param, None
    if request.param == "busybox-wget":
        path = busybox_path(folder)
        if path is None:
            pytest.skip("busybox is not installed")
        return request.param, path
    if shutil.which("wget") is None:
        pytest.skip("no GNU wget")
    os.symlink(shutil.which("dash") or "/bin/sh", folder / "sh")
    for tool in ("wget", "mktemp", "cat", "rm", "grep", "timeout"):
        os.symlink(shutil.which(tool), folder / tool)
    return request.param, str(folder)


async def call(client, args):
    return await lookup("uri").run(args, LocalContext(path=client[1]))


async def test_get_json(client, server):
    result = await call(client, {"url": f"{server}/json", "return_content": True})
    assert not result.failed, result.msg
    assert result.data["status"] == 200 and result.data["content"] == '{"ok": true}'
    assert result.data["json"] == {"ok": True}


async def test_redirect_followed(client, server):
    result = await call(client, {"url": f"{server}/moved"})
    assert not result.failed and result.data["status"] == 200


async def test_not_found_fails(client, server):
    result = await call(client, {"url": f"{server}/missing"})
    assert result.failed and result.data["status"] == 404
    ok404 = await call(client, {"url": f"{server}/missing", "status_code": [404]})
    assert not ok404.failed


async def test_post_json_body(client, server):
    args = {"url": f"{server}/echo", "method": "POST", "body": {"n": 1}, "body_format": "json",
            "status_code": [201], "return_content": True}  # fmt: skip
    result = await call(client, args)
    assert not result.failed, result.msg
    assert result.data["status"] == 201
    assert result.data["json"] == {"got": '{"n": 1}', "type": "application/json"}


def test_status_code_forms():
    from orchestr.playbook.modules.uri import status_codes

    assert status_codes(None) == [200]
    assert status_codes(204) == [204]
    assert status_codes("200, 301") == [200, 301]
    assert status_codes(["201", 202]) == [201, 202]
    with pytest.raises(ModuleError):
        status_codes("ok")

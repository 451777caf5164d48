"""command, shell, raw: the exact lines they send, creates/removes, check mode, results."""

from __future__ import annotations

import pytest
from modules_fake import FakeContext, ok

from orchestr.playbook.modules.base import ModuleError, lookup
from orchestr.playbook.modules.command import WOULD_RUN, invocation


@pytest.mark.parametrize(
    ("kind", "args", "line", "cmd"),
    [
        ("command", {"_raw_params": "echo hello world"}, "echo hello world",
         ["echo", "hello", "world"]),
        ("command", {"_raw_params": "echo 'a b' $HOME; rm -rf /"},
         "echo 'a b' \"$HOME;\" rm -rf /", ["echo", "a b", "$HOME;", "rm", "-rf", "/"]),
        ("command", {"_raw_params": "echo $HOME", "expand_argument_vars": False},
         "echo '$HOME'", ["echo", "$HOME"]),
        ("command", {"argv": ["ls", "~/x y", "${A}$(id)`id`\\"]},
         "ls \"${HOME}/x y\" \"${A}\\$(id)\\`id\\`\\\\\"", ["ls", "~/x y", "${A}$(id)`id`\\"]),
        ("command", {"cmd": "ls -l"}, "ls -l", ["ls", "-l"]),
        ("command", {"argv": ["printf", "%s\n", "it's"]}, "printf '%s\n' 'it'\"'\"'s'",
         ["printf", "%s\n", "it's"]),
        ("command", {"_raw_params": "ls", "chdir": "/srv/my app"}, "cd -- '/srv/my app' && ls",
         ["ls"]),
        ("shell", {"_raw_params": "echo $HOME | wc -c > /tmp/x"},
         "echo $HOME | wc -c > /tmp/x", "echo $HOME | wc -c > /tmp/x"),
        ("shell", {"_raw_params": "a; b", "chdir": "/tmp"}, "cd -- /tmp && /bin/sh -c 'a; b'",
         "a; b"),
        ("shell", {"_raw_params": "echo ${X:-y}", "executable": "/bin/bash"},
         "/bin/bash -c 'echo ${X:-y}'", "echo ${X:-y}"),
    ],
)  # fmt: skip
def test_invocation_builds_the_exact_line(kind, args, line, cmd):
    call = invocation(kind, args)
    assert call.command.render() == line
    assert call.cmd == cmd


def test_command_rejects_free_form_with_argv():
    with pytest.raises(ModuleError, match="mutually exclusive"):
        invocation("command", {"_raw_params": "ls", "argv": ["ls"]})


def test_no_command_is_an_error():
    with pytest.raises(ModuleError, match="no command"):
        invocation("command", {"_raw_params": "  "})


async def run(name, args, ctx):
    spec = lookup(name)
    assert spec is not None and spec.free_form
    return await spec.run(args, ctx)


async def test_command_runs_and_reports_like_ansible():
    ctx = FakeContext(results=[ok("hi\n\n", "")])
    result = await run("command", {"_raw_params": "echo hi"}, ctx)
    assert ctx.commands == ["echo hi"]
    assert result.changed and not result.failed
    registered = result.registered()
    assert registered["stdout"] == "hi"  # strip_empty_ends
    assert registered["stdout_lines"] == ["hi"]
    assert registered["rc"] == 0 and registered["cmd"] == ["echo", "hi"]
    assert set(registered) >= {"start", "end", "delta"}
    assert registered["delta"] == "0:00:00.250000"


async def test_nonzero_rc_fails_with_ansibles_message():
    ctx = FakeContext(results=[ok("", "boom\n", rc=3)])
    result = await run("shell", {"_raw_params": "false"}, ctx)
    assert result.failed and result.msg == "non-zero return code"
    assert result.data["rc"] == 3 and result.data["stderr"] == "boom"


async def test_stdin_gets_a_newline_unless_told_not_to():
    ctx = FakeContext(results=[ok(), ok()])
    await run("command", {"_raw_params": "cat", "stdin": "data"}, ctx)
    await run("command", {"_raw_params": "cat", "stdin": "data", "stdin_add_newline": False}, ctx)
    assert ctx.stdins == [b"data\n", b"data"]


GUARD_PREFIX = 'sh -c \'if [ -n "$1" ]; then cd -- "$1"'


async def test_creates_that_exists_does_not_run():
    ctx = FakeContext(results=[ok("creates\n")])
    result = await run("command", {"_raw_params": "make", "creates": "/opt/app/bin*"}, ctx)
    assert len(ctx.commands) == 1 and ctx.commands[0].startswith(GUARD_PREFIX)
    assert ctx.commands[0].endswith(" guard '' '/opt/app/bin*' ''")
    assert not result.changed and not result.skipped
    assert result.msg == "Did not run command since '/opt/app/bin*' exists"
    assert result.data["stdout"] == "skipped, since /opt/app/bin* exists"


async def test_creates_missing_runs_the_command():
    ctx = FakeContext(results=[ok(""), ok("built")])
    result = await run(
        "command", {"_raw_params": "make", "creates": "/opt/app", "chdir": "/src"}, ctx
    )
    assert ctx.commands[0].endswith(" guard /src /opt/app ''")
    assert ctx.commands[1] == "cd -- /src && make"
    assert result.changed


async def test_removes_missing_does_not_run():
    ctx = FakeContext(results=[ok("")])
    result = await run("shell", {"_raw_params": "rm /tmp/x", "removes": "/tmp/x"}, ctx)
    assert not result.changed
    assert result.msg == "Did not run command since '/tmp/x' does not exist"


async def test_removes_present_runs():
    ctx = FakeContext(results=[ok("removes\n"), ok()])
    result = await run("shell", {"_raw_params": "rm /tmp/x", "removes": "/tmp/x"}, ctx)
    assert ctx.commands[1] == "rm /tmp/x" and result.changed


async def test_chdir_missing_fails_like_ansible():
    ctx = FakeContext(results=[ok("", "cd: /nope: No such file", rc=2)])
    result = await run("command", {"_raw_params": "ls", "chdir": "/nope", "creates": "x"}, ctx)
    assert result.failed and result.msg == "Unable to change directory before execution."


async def test_check_mode_skips_without_creates_or_removes():
    ctx = FakeContext(check_mode=True)
    result = await run("command", {"_raw_params": "reboot"}, ctx)
    assert ctx.commands == []
    assert result.skipped and not result.changed and result.msg == WOULD_RUN


async def test_check_mode_with_creates_reports_the_change_it_would_make():
    ctx = FakeContext(check_mode=True, results=[ok("")])
    result = await run("shell", {"_raw_params": "make install", "creates": "/usr/bin/app"}, ctx)
    assert len(ctx.commands) == 1  # only the guard ran
    assert result.changed and not result.skipped and result.msg == WOULD_RUN


async def test_check_mode_with_creates_present_says_would_not():
    ctx = FakeContext(check_mode=True, results=[ok("creates\n")])
    result = await run("command", {"_raw_params": "x", "creates": "/a"}, ctx)
    assert result.msg == "Would not run command since '/a' exists" and not result.changed


async def test_raw_sends_the_line_as_is_and_keeps_output():
    ctx = FakeContext(results=[ok("out\n")])
    result = await run("raw", {"_raw_params": "apt-get install -y python3 && echo ok"}, ctx)
    assert ctx.commands == ["apt-get install -y python3 && echo ok"]
    assert result.changed and result.data["stdout"] == "out\n"


async def test_raw_with_executable():
    ctx = FakeContext(results=[ok()])
    await run("raw", {"_raw_params": "echo $0", "executable": "/bin/bash"}, ctx)
    assert ctx.commands == ["/bin/bash -c 'echo $0'"]


async def test_raw_is_skipped_in_check_mode():
    ctx = FakeContext(check_mode=True)
    result = await run("raw", {"_raw_params": "reboot"}, ctx)
    assert result.skipped and ctx.commands == []


async def test_raw_failure():
    ctx = FakeContext(results=[ok("", "nope", rc=127)])
    result = await run("raw", {"_raw_params": "nope"}, ctx)
    assert result.failed and result.data["rc"] == 127


def test_prefixed_names_resolve():
    assert lookup("ansible.builtin.shell") is lookup("shell")
    assert lookup("ansible.legacy.command") is lookup("command")


async def test_expansion_for_real_expands_variables_only(tmp_path):
    from modules_fake import LocalContext

    (tmp_path / "a b").write_text("")
    ctx = LocalContext()
    word = f"$HOME|{tmp_path}/*|$(echo no)|`echo no`|${{HOME}}x|$1|a  b|$"
    result = await run("command", {"argv": ["printf", "%s\\n", word, "~/z"]}, ctx)
    import os

    home = os.environ["HOME"]
    expected = f"{home}|{tmp_path}/*|$(echo no)|`echo no`|{home}x|$1|a  b|$"
    assert result.data["stdout"].splitlines() == [expected, f"{home}/z"]

"""Command values: exact rendering for `sh -c`, secrets masked wherever a command is shown."""

from __future__ import annotations

import asyncio
import shlex

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestr.transport.command import (
    Become,
    Command,
    Nested,
    Secret,
    Shell,
    as_command,
    mask,
)
from orchestr.transport.local import LocalConnection

# Any text a user could put in an argv word: no NUL (argv cannot carry it), no lone surrogates
# (not encodable to bytes).
WORD = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
TRICKY = st.sampled_from(
    ["", " ", "'", '"', "\\", "$(id)", "`id`", "$HOME", "a\nb", "*", "~", "-n", "--", ";", "|",
     "&&", "{a,b}", "\t", "é", "日本", "'\"'\"'", "\r", "!"]
)  # fmt: skip
WORDS = st.lists(st.one_of(WORD, TRICKY), max_size=8)


@pytest.mark.parametrize(
    ("command", "rendered"),
    [
        (Command.argv("ls", "-l"), "ls -l"),
        (Command.argv("echo", "a b"), "echo 'a b'"),
        (Command.argv("echo", ""), "echo ''"),
        (Command.argv("echo", "it's"), "echo 'it'\"'\"'s'"),
        (Command.argv("echo", "$(id)"), "echo '$(id)'"),
        (Command.argv("echo", "`id`"), "echo '`id`'"),
        (Command.argv("echo", "a\nb"), "echo 'a\nb'"),
        (Command.argv("printf", "%s", "x=1,y@z:/p.q+r-s"), "printf %s x=1,y@z:/p.q+r-s"),
        (Command.argv("echo", "é"), "echo 'é'"),
        (Command.shell("docker ps | wc -l"), "docker ps | wc -l"),
        (Command.argv("echo", "a b") + Command.shell("| tr a A"), "echo 'a b' | tr a A"),
        (Command((Shell("cd /tmp &&"), "ls", "my dir")), "cd /tmp && ls 'my dir'"),
        (Command.argv("sh", "-c", Nested(Command.argv("echo", "a b"))),
         "sh -c 'echo '\"'\"'a b'\"'\"''"),
        (Command.argv(), ""),
    ],
)  # fmt: skip
def test_render_is_exact(command, rendered):
    assert command.render() == rendered


def test_secret_is_revealed_only_in_render():
    command = Command.argv("login", "--password", Secret("p@ss word"))
    assert command.render() == "login --password 'p@ss word'"
    assert command.display() == "login --password ***"
    assert command.secrets == ("p@ss word",)
    assert str(Secret("p@ss word")) == "***"
    assert f"{Secret('hunter2')}" == "***"


def test_nested_command_masks_its_secrets_in_display():
    inner = Command.argv("mysql", "-p", Secret("topsecret"), "-e", "select 1")
    outer = Command.argv("sh", "-c", Nested(inner))
    assert "topsecret" in outer.render()
    assert shlex.split(outer.render()) == ["sh", "-c", "mysql -p topsecret -e 'select 1'"]
    assert "topsecret" not in outer.display()
    assert shlex.split(outer.display()) == ["sh", "-c", "mysql -p *** -e 'select 1'"]
    assert outer.secrets == ("topsecret",)
    twice = Command.argv("sh", "-c", Nested(outer))
    assert twice.secrets == ("topsecret",)
    assert "topsecret" not in twice.display()
    assert "topsecret" in twice.render()


def test_become_without_password_never_prompts():
    wrapped, stdin = Become().wrap(Command.shell("docker ps | wc -l"))
    assert stdin is None
    assert wrapped.render() == "sudo -H -n -u root -- sh -c 'docker ps | wc -l'"


def test_become_with_password_feeds_it_on_stdin_never_argv():
    become = Become(user="app", password=Secret("s3cr3t!"), flags="-H -E")
    wrapped, stdin = become.wrap(Command.argv("id", "-u"))
    assert stdin == b"s3cr3t!\n"
    assert wrapped.render() == "sudo -H -E -S -p '' -u app -- sh -c 'id -u'"
    assert "s3cr3t" not in wrapped.render()
    assert "s3cr3t" not in wrapped.display()


def test_become_masks_secrets_of_the_wrapped_command():
    become = Become(password=Secret("sudo-pw"))
    wrapped, _ = become.wrap(Command.argv("echo", Secret("inner-pw")))
    assert "inner-pw" not in wrapped.display()
    assert "sudo-pw" not in wrapped.display()
    assert "***" in wrapped.display()
    assert shlex.split(wrapped.render())[-1] == "echo inner-pw"
    assert wrapped.secrets == ("inner-pw",)


def test_secret_value_not_in_repr():
    # repr() is what a traceback's locals, a log's %r, an assert message or a debugger show;
    # ConnectionSettings and Become embed Secrets and are dataclasses with generated reprs.
    assert "hunter2" not in repr(Secret("hunter2"))
    assert "hunter2" not in repr(Become(password=Secret("hunter2")))
    assert "hunter2" not in f"{Secret('hunter2')!r}"


def test_as_command():
    command = Command.argv("ls")
    assert as_command(command) is command
    assert as_command("a | b") == Command((Shell("a | b"),))
    assert as_command(["echo", "a b"]).render() == "echo 'a b'"
    assert as_command(("echo", "x")).parts == ("echo", "x")


@pytest.mark.parametrize(
    ("text", "secrets", "masked"),
    [
        ("password is hunter2", ["hunter2"], "password is ***"),
        ("a hunter2 b hunter2", ["hunter2"], "a *** b ***"),
        ("x y", ["x", "y"], "*** ***"),
        ("nothing here", ["absent"], "nothing here"),
        ("empty secret stays", [""], "empty secret stays"),
        ("none", [], "none"),
    ],
)
def test_mask(text, secrets, masked):
    assert mask(text, secrets) == masked


@given(WORDS)
def test_rendered_argv_splits_back_to_the_words(words):
    assert shlex.split(Command.argv(*words).render()) == words


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(WORD, TRICKY), min_size=1, max_size=6))
def test_rendered_argv_reaches_a_real_shell_byte_exact(words):
    async def run():
        conn = LocalConnection("local")
        return await conn.run(Command.argv("printf", "%s\\0", *words), timeout=10)

    result = asyncio.run(run())
    assert result.rc == 0, result.stderr
    assert result.stdout.encode() == b"".join(w.encode() + b"\0" for w in words)

"""copy and template at module level: sources, the observe line, stat's dictionary, modes."""

from __future__ import annotations

import pytest
from modules_fake import FakeContext, ok

from orchestr.playbook.modules.base import ModuleError, lookup
from orchestr.playbook.modules.common import FileFacts, observe_command, resolve_mode
from orchestr.playbook.modules.copy import destination, sha1
from orchestr.playbook.modules.stat import stat_dict

ABSENT = "path:/etc/app.ini\nparent:1\nabsent\n"


def test_observe_line_is_one_sh_call_with_quoted_arguments():
    line = observe_command("/etc/my app", append="x.ini", content=10, follow=True).render()
    assert line.startswith("sh -c 'p=$1; ")
    assert line.endswith(" observe '/etc/my app' x.ini sha1 10 1 ''")


def test_destination():
    assert destination("/etc/", "files/app.ini") == ("/etc/app.ini", "")
    assert destination("/etc", "app.ini") == ("/etc", "app.ini")
    assert destination("/etc/motd", None) == ("/etc/motd", "")


async def test_copy_src_reads_the_local_file(tmp_path):
    local = tmp_path / "app.ini"
    local.write_text("k=v\n")
    ctx = FakeContext(files={"files/app.ini": str(local)}, results=[ok(ABSENT)])
    result = await lookup("copy").run({"src": "app.ini", "dest": "/etc/app.ini"}, ctx)
    assert ctx.commands[0].endswith(" observe /etc/app.ini app.ini sha1 0 1 ''")
    assert ctx.puts == [(b"k=v\n", "/etc/app.ini", 0o644)]
    assert result.changed and result.data["checksum"] == sha1(b"k=v\n")


async def test_copy_needs_src_or_content():
    with pytest.raises(ModuleError, match="src"):
        await lookup("copy").run({"dest": "/x"}, FakeContext())
    with pytest.raises(ModuleError, match="mutually exclusive"):
        await lookup("copy").run({"dest": "/x", "src": "a", "content": "b"}, FakeContext())


async def test_copy_content_dict_is_json():
    ctx = FakeContext(results=[ok(ABSENT)])
    await lookup("copy").run({"dest": "/etc/app.ini", "content": {"a": [1]}}, ctx)
    assert ctx.puts[0][0] == b'{"a": [1]}'


async def test_copy_remote_src_copies_on_the_host():
    src = "path:/tmp/built\nparent:1\nstat:81ed|0|0|root|root|3|1|2|3|4|5|1\naccess:rwx\nchecksum:abc\n"
    ctx = FakeContext(results=[ok(src), ok(ABSENT), ok()])
    result = await lookup("copy").run(
        {"src": "/tmp/built", "dest": "/etc/app.ini", "remote_src": True}, ctx
    )
    assert ctx.commands[2] == "cp -- /tmp/built /etc/app.ini && chmod 0644 /etc/app.ini"
    assert result.changed and ctx.puts == []


async def test_template_renders_with_host_variables(tmp_path):
    local = tmp_path / "motd.j2"
    local.write_text("Welcome to {{ inventory_hostname }}\n")
    ctx = FakeContext(variables={"inventory_hostname": "web1"}, files={"templates/motd.j2": str(local)},
                      results=[ok(ABSENT.replace("app.ini", "motd"))], diff=True)  # fmt: skip
    result = await lookup("template").run({"src": "motd.j2", "dest": "/etc/motd"}, ctx)
    assert ctx.puts == [(b"Welcome to web1\n", "/etc/motd", 0o644)]
    assert result.diff == [{"before_header": "/etc/motd", "after_header": "motd.j2", "before": "",
                            "after": "Welcome to web1\n"}]  # fmt: skip


async def test_template_check_mode_observes_only(tmp_path):
    local = tmp_path / "t.j2"
    local.write_text("x\n")
    ctx = FakeContext(check_mode=True, files={"templates/t.j2": str(local)}, results=[ok(ABSENT)])
    result = await lookup("template").run(
        {"src": "t.j2", "dest": "/etc/app.ini", "newline_sequence": "\r\n"}, ctx
    )
    assert result.changed and ctx.puts == [] and len(ctx.commands) == 1


@pytest.mark.parametrize(
    ("mode", "current", "is_dir", "expected"),
    [
        ("0644", None, False, 0o644), ("644", None, False, 0o644), (0o600, None, False, 0o600),
        ("u=rw,g=r,o=", 0o777, False, 0o640), ("u+x", 0o644, False, 0o744),
        ("go-w", 0o666, False, 0o644), ("a+X", 0o644, True, 0o755), ("a+X", 0o644, False, 0o644),
        ("a+X", 0o744, False, 0o755), ("+x", 0o600, False, 0o711), ("g=u", 0o750, False, 0o770),
        ("u+s,o+t", 0o755, True, 0o5755), ("u=rwx,g=rx,o=rx", 0, True, 0o755),
    ],
)  # fmt: skip
def test_resolve_mode(mode, current, is_dir, expected):
    assert resolve_mode(mode, current, is_dir) == expected


@pytest.mark.parametrize("bad", ["rw", "u=q", "99999", "0o644"])
def test_resolve_mode_rejects(bad):
    with pytest.raises(ModuleError):
        resolve_mode(bad, 0o644)


def test_stat_dict():
    facts = FileFacts.of("/usr/bin/app", "link", mode=0o777, link_target="../lib/app",
                         resolved="/usr/lib/app", owner="root", group="root", access="rx")  # fmt: skip
    value = stat_dict(facts, True)
    assert value["islnk"] and not value["isreg"] and value["lnk_target"] == "../lib/app"
    assert value["lnk_source"] == "/usr/lib/app" and value["pw_name"] == "root"
    assert value["readable"] and not value["writeable"] and value["mode"] == "0777"
    assert "checksum" not in value
    regular = stat_dict(FileFacts.of("/f", "file", mode="4755", checksum="c0ffee"), True)
    assert regular["isuid"] and regular["xoth"] and regular["checksum"] == "c0ffee"
    assert "checksum" not in stat_dict(FileFacts.of("/f", "file", checksum="c0ffee"), False)


def test_plan_copy_tree():
    from orchestr.playbook.modules.copy import Entry, parse_tree, plan_copy_tree

    remote = parse_tree(
        "d|755|root|root|0|0|.\n"
        f"f|644|root|root|0|0|{sha1(b'same')}|./same.conf\n"
        "f|600|app|app|5|6|0000|./changed.conf\n"
    )
    assert remote is not None and remote["same.conf"] == Entry(
        "f", 0o644, "root", "root", 0, 0, sha1(b"same")
    )
    files = {
        "same.conf": (b"same", 0o644),
        "changed.conf": (b"new", 0o644),
        "sub/new.conf": (b"n", 0o755),
    }
    plan = plan_copy_tree(
        {"src": "conf.d/", "directory_mode": "0750"}, "/etc/app", ["", "sub"], files, remote
    )
    assert plan.rendered() == [
        "mkdir -p -- /etc/app/sub",
        "chmod 0750 /etc/app/sub",
        "put /etc/app/changed.conf mode=0600 (3 bytes)",
        "chown -- 5:6 /etc/app/changed.conf",
        "put /etc/app/sub/new.conf mode=0644 (1 bytes)",
    ]
    assert plan.changed and plan.diff == [
        {"prepared": "copied: /etc/app/changed.conf\ncopied: /etc/app/sub/new.conf\n"}
    ]
    assert parse_tree("nodir\n") is None
    unchanged = plan_copy_tree(
        {"src": "x/"}, "/etc/app", [""], {"same.conf": (b"same", 0o644)}, remote
    )
    assert not unchanged.changed and unchanged.steps == []

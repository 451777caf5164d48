"""lineinfile: the text edit against ansible-core's own results, and the plan around it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from modules_fake import FakeContext, ok

from orchestr.playbook.modules.base import ModuleError, lookup
from orchestr.playbook.modules.common import FileFacts
from orchestr.playbook.modules.copy import sha1
from orchestr.playbook.modules.lineinfile import edit_absent, edit_present, plan_lineinfile

ORACLE = json.loads((Path(__file__).parent / "cases" / "lineinfile_oracle.json").read_text())


def edit(text, args):
    args = dict(args)
    if args.pop("state", "present") == "absent":
        return edit_absent(text, **args)
    return edit_present(text, args.pop("line"), **args)


# Where orchestr deliberately differs: Ansible glues the new line onto a last line that lacks
# its newline ("bz"); orchestr ends that line first, as it does when appending at EOF.
DEVIATIONS = {"insertafter last line no newline": "a\nb\nz\n"}


@pytest.mark.parametrize("case", ORACLE, ids=[case["name"] for case in ORACLE])
def test_edit_matches_ansible(case):
    result = edit(case["text"], case["args"])
    assert result.text == DEVIATIONS.get(case["name"], case["expected"])
    assert result.changed == case["changed"]
    if case["changed"]:
        assert result.msg == case["msg"]


lines = st.lists(st.sampled_from(["a", "b", "Port 22", "#x", ""]), max_size=6)


@given(lines, st.sampled_from(["a", "b", "c", "Port 2"]), st.sampled_from([None, "^a", "^P", "^z"]))
def test_present_is_idempotent(existing, line, insertafter):
    text = "".join(item + "\n" for item in existing)
    once = edit_present(text, line, insertafter=insertafter)
    twice = edit_present(once.text, line, insertafter=insertafter)
    assert not twice.changed and twice.text == once.text
    assert line in once.text.splitlines()


@given(lines, st.sampled_from(["^a", "^P", "b"]))
def test_regexp_present_then_absent_leaves_no_match(existing, regexp):
    text = "".join(item + "\n" for item in existing)
    present = edit_present(text, "Port 9", regexp=regexp)
    gone = edit_absent(present.text, regexp=regexp)
    assert not edit_absent(gone.text, regexp=regexp).changed


def facts(content, **values):
    return FileFacts.of("/etc/app.conf", "file", mode="0640", uid=0, gid=0, owner="root",
                        group="root", content=content, checksum=sha1(content.encode()),
                        size=len(content), **values)  # fmt: skip


def test_plan_writes_the_edited_text_keeping_owner_and_mode():
    plan = plan_lineinfile({"path": "/etc/app.conf", "line": "b=2"}, facts("a=1\n"), diff=True)
    assert plan.changed and plan.msg == "line added"
    assert plan.rendered() == [
        "put /etc/app.conf mode=0640 (8 bytes)",
        "chown -- 0:0 /etc/app.conf",
    ]
    assert plan.steps[0].data == b"a=1\nb=2\n"
    assert plan.diff == [{"before_header": "/etc/app.conf (content)",
                          "after_header": "/etc/app.conf (content)",
                          "before": "a=1\n", "after": "a=1\nb=2\n"}]  # fmt: skip


def test_plan_unchanged_runs_nothing():
    plan = plan_lineinfile({"path": "/etc/app.conf", "line": "a=1"}, facts("a=1\n"))
    assert not plan.changed and plan.steps == []


def test_plan_mode_only_change_says_so():
    plan = plan_lineinfile({"path": "/etc/app.conf", "line": "a=1", "mode": "0600"}, facts("a=1\n"))
    assert plan.changed and plan.msg == "ownership, perms or SE linux context changed"
    assert plan.rendered() == ["chmod 0600 /etc/app.conf"]


def test_plan_backup():
    plan = plan_lineinfile({"path": "/etc/app.conf", "line": "x", "backup": True}, facts("a\n"),
                           backup_name="/etc/app.conf.1.2024-01-01@00:00:00~")  # fmt: skip
    assert plan.rendered()[0] == "cp -p -- /etc/app.conf '/etc/app.conf.1.2024-01-01@00:00:00~'"
    assert plan.data["backup"] == "/etc/app.conf.1.2024-01-01@00:00:00~"


def test_missing_file_without_create_fails_like_ansible():
    plan = plan_lineinfile({"path": "/nope", "line": "x"}, FileFacts.absent("/nope"))
    assert plan.failed and plan.msg == "Destination /nope does not exist !"


def test_missing_file_with_create():
    plan = plan_lineinfile({"path": "/d/new", "line": "x", "create": True},
                           FileFacts.absent("/d/new", parent_exists=False), diff=True)  # fmt: skip
    assert plan.changed and plan.msg == "line added"
    assert plan.rendered() == ["mkdir -p -- /d", "put /d/new mode=0644 (2 bytes)"]
    assert plan.diff[0]["before"] == "" and plan.diff[0]["after"] == "x\n"


def test_absent_on_missing_file():
    plan = plan_lineinfile(
        {"path": "/nope", "line": "x", "state": "absent"}, FileFacts.absent("/nope")
    )
    assert not plan.changed and plan.msg == "file not present"


def test_absent_counts_found():
    plan = plan_lineinfile({"path": "/etc/app.conf", "regexp": "^a", "state": "absent"},
                           facts("a\nab\nc\n"))  # fmt: skip
    assert plan.changed and plan.data["found"] == 2 and plan.msg == "2 line(s) removed"


def test_directory_fails():
    plan = plan_lineinfile({"path": "/etc", "line": "x"}, FileFacts.of("/etc", "directory"))
    assert plan.failed and plan.msg == "Path /etc is a directory !"


def test_argument_errors():
    with pytest.raises(ModuleError, match="backrefs"):
        plan_lineinfile({"path": "/f", "line": "x", "backrefs": True}, facts(""))
    with pytest.raises(ModuleError, match="mutually exclusive"):
        plan_lineinfile({"path": "/f", "line": "x", "regexp": "a", "search_string": "a"}, facts(""))
    with pytest.raises(ModuleError, match="regular expression"):
        plan_lineinfile({"path": "/f", "line": "x", "regexp": "("}, facts("a\n"))


async def test_module_observes_once_and_writes_in_check_mode_never():
    observed = "path:/etc/app.conf\nparent:1\nstat:81a4|0|0|root|root|4|1|2|3|10|20|1\naccess:rw\n"
    observed += f"checksum:{sha1(b'a=1' + bytes([10]))}\n--orchestr-content--\na=1\n"
    ctx = FakeContext(check_mode=True, diff=True, results=[ok(observed)])
    result = await lookup("lineinfile").run({"path": "/etc/app.conf", "line": "b=2"}, ctx)
    assert len(ctx.commands) == 1 and ctx.commands[0].startswith("sh -c ")
    assert " observe /etc/app.conf '' sha1 -1 1 ''" in ctx.commands[0]
    assert result.changed and ctx.puts == []
    assert result.diff[0]["after"] == "a=1\nb=2\n"
    ctx = FakeContext(results=[ok(observed), ok()])
    result = await lookup("lineinfile").run({"path": "/etc/app.conf", "line": "b=2"}, ctx)
    assert ctx.puts == [(b"a=1\nb=2\n", "/etc/app.conf", 0o644)]
    assert ctx.commands[1:] == ["chown -- 0:0 /etc/app.conf"]


def test_content_that_is_not_the_files_bytes_is_never_written_back():
    read = b"caf\xe9\n".decode(errors="replace")  # latin-1 bytes as the transport decodes them
    lossy = FileFacts.of("/etc/app.conf", "file", content=read, checksum=sha1(b"caf\xe9\n"))
    plan = plan_lineinfile({"path": "/etc/app.conf", "line": "x"}, lossy)
    assert plan.failed and "not UTF-8" in plan.msg and plan.steps == []


async def test_a_failing_step_fails_the_task_with_its_output():
    observed = "path:/etc/app.conf\nparent:1\nabsent\n"
    ctx = FakeContext(results=[ok(observed), ok("", "mkdir: Permission denied", rc=1)])
    args = {"path": "/etc/app.conf", "state": "touch", "mode": "0600"}
    with pytest.raises(
        ModuleError,
        match=r"touch -- /etc/app.conf && chmod 0600 /etc/app.conf failed \(rc=1\): mkdir: Permission denied",
    ):
        await lookup("file").run(args, ctx)

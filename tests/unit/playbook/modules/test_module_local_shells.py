"""The remote scripts run for real on this machine, under dash with coreutils and under busybox
alone: observation parses, copy/file/lineinfile converge, and a second run changes nothing."""

from __future__ import annotations

import hashlib
import os

import pytest
from modules_fake import LocalContext, busybox_path

from orchestr.playbook.modules.base import lookup
from orchestr.playbook.modules.common import observe


@pytest.fixture(params=["dash", "busybox"])
def make_ctx(request, tmp_path_factory):
    path = None
    if request.param == "busybox":
        path = busybox_path(tmp_path_factory.mktemp("bin"))
        if path is None:
            pytest.skip("busybox is not installed")

    def make(**options):
        return LocalContext(path=path, **options)

    return make


async def test_observe_a_file(make_ctx, tmp_path):
    target = tmp_path / "a file"
    target.write_bytes(b"hello\n")
    os.chmod(target, 0o640)
    facts = await observe(make_ctx(), str(target), content=-1)
    assert facts.kind == "file" and facts.mode == 0o640 and facts.size == 6
    assert facts.checksum == hashlib.sha1(b"hello\n").hexdigest()
    assert facts.content == "hello\n" and facts.uid == os.getuid() and facts.parent_exists
    assert "r" in facts.access


async def test_observe_absent_link_and_directory(make_ctx, tmp_path):
    ctx = make_ctx()
    missing = await observe(ctx, str(tmp_path / "none" / "x"))
    assert missing.kind == "absent" and not missing.parent_exists
    (tmp_path / "target").write_text("t")
    os.symlink("target", tmp_path / "link")
    link = await observe(ctx, str(tmp_path / "link"))
    assert link.kind == "link" and link.link_target == "target"
    followed = await observe(ctx, str(tmp_path / "link"), follow=True)
    assert followed.kind == "file" and followed.link_target == "target"
    os.symlink("nowhere", tmp_path / "dangling")
    dangling = await observe(ctx, str(tmp_path / "dangling"), follow=True)
    assert dangling.kind == "link"
    folder = await observe(ctx, str(tmp_path), append="target")
    assert folder.path == f"{tmp_path}/target" and folder.kind == "file"


async def test_observe_head_limits_content(make_ctx, tmp_path):
    (tmp_path / "big").write_text("x" * 100)
    facts = await observe(make_ctx(), str(tmp_path / "big"), content=10)
    assert facts.content == "x" * 10


async def twice(make_ctx, name, args):
    first = await lookup(name).run(dict(args), make_ctx())
    second = await lookup(name).run(dict(args), make_ctx())
    return first, second


async def test_copy_converges(make_ctx, tmp_path):
    dest = tmp_path / "conf"
    first, second = await twice(
        make_ctx, "copy", {"dest": str(dest), "content": "a=1\n", "mode": "0600"}
    )
    assert first.changed and not first.failed and not second.changed
    assert dest.read_text() == "a=1\n" and (dest.stat().st_mode & 0o777) == 0o600
    third = await lookup("copy").run(
        {"dest": str(dest), "content": "a=1\n", "mode": "0644"}, make_ctx()
    )
    assert third.changed and (dest.stat().st_mode & 0o777) == 0o644


async def test_copy_check_mode_writes_nothing(make_ctx, tmp_path):
    ctx = make_ctx(check_mode=True, diff=True)
    result = await lookup("copy").run({"dest": str(tmp_path / "x"), "content": "new\n"}, ctx)
    assert result.changed and not (tmp_path / "x").exists()
    assert result.diff[0]["after"] == "new\n" and len(ctx.commands) == 1


async def test_file_states_converge(make_ctx, tmp_path):
    folder = tmp_path / "d" / "e"
    first, second = await twice(
        make_ctx, "file", {"path": str(folder), "state": "directory", "mode": "0750"}
    )
    assert first.changed and not second.changed and folder.is_dir()
    assert (folder.stat().st_mode & 0o777) == 0o750
    (folder / "f").write_text("x")
    args = {"path": str(tmp_path / "d"), "state": "directory", "mode": "0700", "recurse": True}
    first, second = await twice(make_ctx, "file", args)
    assert first.changed and not second.changed
    assert (folder / "f").stat().st_mode & 0o777 == 0o700
    link = {"path": str(tmp_path / "l"), "state": "link", "src": "d/e/f"}
    first, second = await twice(make_ctx, "file", link)
    assert first.changed and not second.changed and os.readlink(tmp_path / "l") == "d/e/f"
    hard = {"path": str(tmp_path / "h"), "state": "hard", "src": str(folder / "f")}
    first, second = await twice(make_ctx, "file", hard)
    assert first.changed and not second.changed
    first, second = await twice(make_ctx, "file", {"path": str(tmp_path / "d"), "state": "absent"})
    assert first.changed and not second.changed and not (tmp_path / "d").exists()


async def test_lineinfile_converges(make_ctx, tmp_path):
    conf = tmp_path / "sshd_config"
    conf.write_text("Port 22\n#PermitRootLogin yes\n")
    args = {"path": str(conf), "regexp": "^#?PermitRootLogin", "line": "PermitRootLogin no"}
    first, second = await twice(make_ctx, "lineinfile", args)
    assert first.changed and not second.changed
    assert conf.read_text() == "Port 22\nPermitRootLogin no\n"


async def test_stat(make_ctx, tmp_path):
    (tmp_path / "f").write_bytes(b"abc")
    result = await lookup("stat").run(
        {"path": str(tmp_path / "f"), "checksum_algorithm": "sha256"}, make_ctx()
    )
    stat = result.data["stat"]
    assert stat["exists"] and stat["isreg"] and stat["size"] == 3 and not result.changed
    assert stat["checksum"] == hashlib.sha256(b"abc").hexdigest()
    missing = await lookup("stat").run({"path": str(tmp_path / "none")}, make_ctx())
    assert missing.data["stat"] == {"exists": False}


async def test_copy_a_directory_converges(make_ctx, tmp_path):
    source = tmp_path / "src" / "conf.d"
    (source / "sub").mkdir(parents=True)
    (source / "a.conf").write_text("a\n")
    (source / "sub" / "b conf").write_text("b\n")
    dest = tmp_path / "dest"
    files = {"files/conf.d": str(source), "files/conf.d/": str(source)}
    for src, root in (("conf.d/", dest), ("conf.d", dest / "conf.d")):
        args = {"src": src, "dest": str(dest), "mode": "0640"}
        first = await lookup("copy").run(dict(args), make_ctx(files=files))
        second = await lookup("copy").run(dict(args), make_ctx(files=files))
        assert first.changed and not first.failed and not second.changed, second
        assert (root / "sub" / "b conf").read_text() == "b\n"
        assert (root / "a.conf").stat().st_mode & 0o777 == 0o640
    (dest / "a.conf").write_text("edited\n")
    again = await lookup("copy").run({"src": "conf.d/", "dest": str(dest)}, make_ctx(files=files))
    assert again.changed and (dest / "a.conf").read_text() == "a\n"
    assert (dest / "a.conf").stat().st_mode & 0o777 == 0o640  # an existing file keeps its mode

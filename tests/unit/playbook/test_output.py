"""Ansible's output lines, exactly (pure)."""

import io
import json

from orchestr.playbook.output import Console, Stats, banner, diff_text, recap_line, result_line


def test_banner_pads_to_ansible_width():
    line = banner("TASK [copy the file]")
    assert line.startswith("TASK [copy the file] ***")
    assert len(line) == 81  # as ansible-playbook prints it when stdout is not a terminal


def test_result_lines():
    assert result_line("ok", "node1") == "ok: [node1]"
    assert result_line("changed", "node1", item="a") == "changed: [node1] => (item=a)"
    assert result_line("skipping", "node1", item={"k": 1}) == 'skipping: [node1] => (item={"k": 1})'
    assert result_line("ok", "node1", delegated="lb1") == "ok: [node1 -> lb1]"
    assert (
        result_line("failed", "node1", result={"msg": "boom", "changed": False})
        == 'fatal: [node1]: FAILED! => {"changed": false, "msg": "boom"}'
    )
    assert (
        result_line("failed", "node1", item=3, result={"msg": "x"})
        == 'failed: [node1] (item=3) => {"msg": "x"}'
    )
    assert result_line("unreachable", "n", result={"msg": "t"}).startswith(
        'fatal: [n]: UNREACHABLE! => {"msg": "t"}'
    )
    assert result_line("ok", "n", result={"msg": "hi"}) == 'ok: [n] => {\n    "msg": "hi"\n}'


def test_recap_line_format():
    stats = Stats(ok=3, changed=1, skipped=2)
    assert recap_line("node1", stats) == (
        "node1                      : ok=3    changed=1    unreachable=0    failed=0    "
        "skipped=2    rescued=0    ignored=0   "
    )


def test_diff_text_is_unified():
    text = diff_text([{"before": "a\nb\n", "after": "a\nc\n", "before_header": "/etc/x",
                       "after_header": "/etc/x"}])  # fmt: skip
    assert "--- before: /etc/x" in text and "+++ after: /etc/x" in text
    assert "-b" in text.splitlines() and "+c" in text.splitlines()


def test_console_json_events():
    out = io.StringIO()
    console = Console(as_json=True, stream=out)
    console.event("host_result", host="n1", status="ok")
    assert json.loads(out.getvalue()) == {"event": "host_result", "host": "n1", "status": "ok"}


def test_console_human_stream_without_color():
    out = io.StringIO()
    console = Console(stream=out, color=False)
    console.event("task_start", name="ping")
    console.event("host_result", host="n1", status="changed")
    console.event("recap", stats={"n1": Stats(ok=1, changed=1)})
    text = out.getvalue()
    assert "TASK [ping] *" in text and "changed: [n1]" in text and "PLAY RECAP *" in text
    assert "\033[" not in text


def test_progress_line_on_a_terminal_for_long_tasks_on_many_hosts(capsys):
    out = io.StringIO()
    console = Console(stream=out, color=True)
    console.PROGRESS_AFTER = 0.0
    console.event("task_start", name="slow", hosts=6)
    console.event("host_result", host="n1", status="ok")
    assert "1/6 hosts done" in capsys.readouterr().err
    plain = Console(stream=io.StringIO(), color=False)  # not a terminal: never
    plain.PROGRESS_AFTER = 0.0
    plain.event("task_start", name="slow", hosts=6)
    plain.event("host_result", host="n1", status="ok")
    assert capsys.readouterr().err == ""

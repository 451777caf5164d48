"""The `service` task at load time (a bad literal spec is a parse error with file:line:col,
before any host is touched) and the pure parts of its health gate and views."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from orchestr.cluster.spec_types import HealthSpec
from orchestr.cluster.views import render_ps, table
from orchestr.errors import ParseError, ParseErrors
from orchestr.health.gate import gate_deadline, parse_states, state_script
from orchestr.playbook.loader import load_playbook


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "site.yml"
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_a_bad_literal_spec_fails_at_load_time_with_its_location(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        - hosts: all
          tasks:
            - orchestr.cluster.service:
                name: api
                image: demo:1
                constraints: ["zone = a"]
        """)  # fmt: skip
    with pytest.raises((ParseError, ParseErrors)) as caught:
        load_playbook(path)
    text = "\n".join(caught.value.lines())
    assert f"{path}:6:" in text and "constraints[0]" in text and "did you mean" in text


def test_each_spec_problem_is_named_by_its_field(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        - hosts: all
          tasks:
            - orchestr.cluster.service: {name: api, image: demo:1, update: {order: sideways}}
        """)  # fmt: skip
    with pytest.raises((ParseError, ParseErrors)) as caught:
        load_playbook(path)
    assert "update.order: 'sideways' is not one of stop-first, start-first" in str(
        caught.value.lines()
    )


def test_a_templated_spec_waits_for_run_time(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        - hosts: all
          tasks:
            - orchestr.cluster.service:
                name: api
                image: "demo:{{ version }}"
                ports: ["{{ port }}:80"]
        """)  # fmt: skip
    (play,) = load_playbook(path).plays
    assert play.tasks[0].module == "orchestr.cluster.service"


def test_the_short_name_is_orchestrs_only_where_the_play_lists_the_collection(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, """\
        - hosts: all
          collections: [orchestr.cluster]
          tasks:
            - service: {name: api, image: demo:1}
            - block:
                - service: {name: web, image: demo:1}
        - hosts: all
          tasks:
            - block:
                - service: {name: db, image: demo:1}
              collections: [orchestr.cluster]
            - ansible.builtin.debug: {msg: hi}
        """)  # fmt: skip
    first, second = load_playbook(path).plays
    assert first.tasks[0].module == "orchestr.cluster.service"
    assert first.tasks[1].block[0].module == "orchestr.cluster.service"
    assert second.tasks[0].block[0].module == "orchestr.cluster.service"
    assert second.tasks[1].module == "debug"


def test_a_role_looks_short_names_up_in_its_own_meta_collections(tmp_path: Path) -> None:
    role = tmp_path / "roles" / "app"
    (role / "tasks").mkdir(parents=True)
    (role / "meta").mkdir()
    (role / "tasks" / "main.yml").write_text("- service: {name: app, image: demo:1}\n")
    (role / "meta" / "main.yml").write_text("collections: [orchestr.cluster]\n")
    path = write(tmp_path, """\
        - hosts: all
          roles: [app]
        """)  # fmt: skip
    (play,) = load_playbook(path).plays
    assert play.roles[0].tasks[0].module == "orchestr.cluster.service"


@pytest.mark.parametrize("key", ["service", "ansible.builtin.service"])
def test_a_service_task_with_orchestrs_arguments_and_no_collection_is_refused(
    tmp_path: Path, key: str
) -> None:
    path = write(tmp_path, f"""\
        - hosts: all
          tasks:
            - {key}: {{name: api, image: demo:1, replicas: 2}}
        """)  # fmt: skip
    with pytest.raises((ParseError, ParseErrors)) as caught:
        load_playbook(path)
    (line,) = caught.value.lines()
    assert f"{path}:3:" in line and "image, replicas" in line
    assert "orchestr.cluster.service:" in line and "collections: [orchestr.cluster]" in line


def test_ansibles_service_is_not_routed_to_orchestrs_task(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        - hosts: all
          collections: [orchestr.cluster]
          tasks:
            - ansible.builtin.service: name=nginx state=started enabled=yes
        """)  # fmt: skip
    with pytest.raises((ParseError, ParseErrors)) as caught:
        load_playbook(path)
    (line,) = caught.value.lines()
    assert "'ansible.builtin.service'" in line and "not implemented by orchestr yet" in line


def test_unknown_service_argument_gets_a_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        - hosts: all
          tasks:
            - orchestr.cluster.service: {name: api, image: demo:1, replica: 3}
        """)  # fmt: skip
    with pytest.raises((ParseError, ParseErrors)) as caught:
        load_playbook(path)
    assert "replicas" in str(caught.value.lines())


def test_gate_reads_container_states() -> None:
    text = (
        "noise\n"
        "@@state /api.1.e2 running 0 172.17.0.3 \n"
        "@@state /api.2.e2 exited 137 \n"
        "api.1.e2\tok\t200\n"
    )
    assert parse_states(text) == {
        "api.1.e2": ("running", 0, "172.17.0.3"),
        "api.2.e2": ("exited", 137, ""),
    }


def test_gate_state_script_quotes_names() -> None:
    script = state_script(["api.1.e2", "x'; rm -rf /"])
    assert "'x'\"'\"'; rm -rf /'" in script
    assert script.startswith("docker inspect -f '@@state {{.Name}}")


def test_gate_deadline_leaves_room_for_every_check() -> None:
    health = HealthSpec(kind="http", interval=2, timeout=1, fall=3, rise=2, start_period=10)
    # start period + (rise + fall + 1) rounds of interval + timeout + monitor + slack
    assert gate_deadline(health, monitor=5) == 10 + 6 * 3 + 5 + 15
    assert gate_deadline(None, monitor=5) == 20


def test_tables_align_columns() -> None:
    assert table(("A", "LONGER"), [("xx", 1), ("y", 22)]).splitlines() == [
        "A   LONGER",
        "xx  1",
        "y   22",
    ]


def test_ps_marks_stale_and_old_replicas() -> None:
    rows = [
        {"slot": "1", "epoch": 2, "name": "api.1.e2", "host": "n1", "state": "running",
         "health": "healthy", "current": True, "up_to_date": True, "ports": ["31000->80"]},
        {"slot": "1", "epoch": 1, "name": "api.1.e1", "host": "n2", "state": "running",
         "health": "", "current": False, "up_to_date": True, "ports": []},
        {"slot": "2", "epoch": 1, "name": "api.2.e1", "host": "n2", "state": "running",
         "health": "", "current": True, "up_to_date": False, "ports": []},
    ]  # fmt: skip
    lines = render_ps(rows).splitlines()
    assert lines[1].rstrip().endswith("31000->80")
    assert lines[2].rstrip().endswith("stale") and lines[3].rstrip().endswith("old spec")

"""`--syntax-check` reports every error of the files in one run, each once, at file:line:col;
problems only in files an include_tasks / include_role reads are warnings (Ansible reads
those when the include runs)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from orchestr.errors import ParseError, ParseErrors
from orchestr.playbook.loader import load_playbook
from orchestr.playbook.modules import base as modules

# Register the real modules at collection time: other test files swap the registry for a fake
# one while they run, and a first load_all() then would register into the fake.
modules.load_all()

FILES = {
    "play.yml": """
        - hosts: all
          roles:
            - r1
          tasks:
            - name: unknown argument
              copy:
                src: a
                dst: /tmp/b
            - name: bad keyword
              debug: msg=hi
              wen: true
            - name: bad literal template
              debug:
                msg: "{{ foo( }}"
            - file: path=/tmp/x stat=touch
            - import_tasks: inc.yml
              when: ansible_os_family == 'RedHat'
            - import_tasks: inc.yml
            - include_role:
                name: r1
        - hosts: all
          roles: [r1]
    """,
    "inc.yml": """
        - name: inc bad
          file:
            path: /x
            mode2: 1
    """,
    "roles/r1/tasks/main.yml": """
        - name: role bad
          file:
            path: x
            stat: present
    """,
    "dyn.yml": """
        - hosts: all
          tasks:
            - include_tasks: setup-RedHat.yml
              when: ansible_os_family == 'RedHat'
            - include_tasks: missing.yml
              when: false
    """,
    "setup-RedHat.yml": """
        - file: path=/x bogus=1
    """,
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name, text in FILES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return tmp_path


def _errors(path: Path) -> list[str]:
    with pytest.raises(ParseError) as caught:
        load_playbook(str(path))
    error = caught.value
    errors = error.errors if isinstance(error, ParseErrors) else [error]
    return [e.one_line() for e in errors]


def test_every_error_once_in_one_run(project: Path) -> None:
    lines = _errors(project / "play.yml")
    where = [line.split(": ", 1)[0].replace(str(project) + "/", "") for line in lines]
    assert where == [
        "play.yml:8:9",  # dst: one error, not also "missing required argument 'dest'"
        "play.yml:11:7",
        "play.yml:14:14",
        "play.yml:15:13",
        "roles/r1/tasks/main.yml:4:5",  # used by two plays and an include_role: once
        "inc.yml:4:5",  # imported twice, reported once
    ]
    assert len(set(lines)) == len(lines)
    assert "'dst'" in lines[0] and "did you mean 'dest'" in lines[0]
    assert "'wen'" in lines[1]
    assert "template error" in lines[2]
    assert "'stat'" in lines[3]


def test_cli_exit_code_and_output(project: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [str(Path(sys.executable).with_name("orchestr")), "apply", "--syntax-check", "play.yml", "-i",
         "localhost,"], cwd=project, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 4, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 6 and len(set(errors)) == 6, result.stderr


def test_errors_only_in_included_files_are_warnings(project: Path) -> None:
    warnings: list[str] = []
    playbook = load_playbook(str(project / "dyn.yml"), warnings)
    assert len(playbook.plays) == 1
    assert len(warnings) == 2
    assert any("setup-RedHat.yml:1:" in w and "'bogus'" in w for w in warnings)
    assert any("missing.yml" in w for w in warnings)

"""The loader against `ansible-playbook --syntax-check`: a corpus of small playbooks.

- playbooks/good: both accept.
- playbooks/bad: both refuse; we also assert our first error's file:line:col, message and hint
  (the `# expect: LINE:COL message | hint` first line of each file).
- playbooks/strict: we refuse on purpose what ansible only finds when the task runs (or never):
  module arguments, keyword value types, Jinja2 syntax, missing include/vars files, duplicate
  keys, keywords and modules orchestr does not implement. The oracle must accept these, so the
  list documents every divergence.
Playbooks using modules ansible-core lacks (docker_container...) skip the oracle.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestr.errors import ParseError, ParseErrors
from orchestr.playbook.loader import load_playbook
from orchestr.playbook.modules import base

HERE = Path(__file__).parent / "playbooks"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"


def corpus(kind: str) -> list[str]:
    return sorted(p.name for p in (HERE / kind).glob("*.yml"))


def fake_registry() -> dict[str, base.Module]:
    async def run(args: Any, context: Any) -> base.ModuleResult:
        return base.ModuleResult()

    specs = yaml.safe_load((HERE / "registry.yml").read_text(encoding="utf-8"))
    return {
        name: base.Module(
            name,
            run,
            {
                arg: base.Arg(
                    type=a.get("type", "str"),
                    required=a.get("required", False),
                    choices=tuple(a.get("choices", ())),
                    aliases=tuple(a.get("aliases", ())),
                )
                for arg, a in (spec.get("args") or {}).items()
            },
            free_form=spec.get("free_form", False),
        )
        for name, spec in specs.items()
    }


@pytest.fixture(autouse=True)
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "REGISTRY", fake_registry())


# One process imports ansible once and forks a child per playbook: ~30 ms each instead of ~0.7 s.
_ORACLE = r"""
import json, os, sys
from ansible.cli.playbook import PlaybookCLI
results, running = {}, {}
def reap():
    pid, status = os.wait()
    results[running.pop(pid)] = os.waitstatus_to_exitcode(status)
for path in sys.argv[1:]:
    if len(running) >= 2 * (os.cpu_count() or 1):
        reap()
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1); os.dup2(fd, 2)
        code = 250
        try:
            PlaybookCLI(["ansible-playbook", "--syntax-check", "-i", "localhost,", path]).run()
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 1
        except BaseException:
            code = 4
        os._exit(code)
    running[pid] = path
while running:
    reap()
print(json.dumps(results))
"""


@pytest.fixture(scope="session")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bool]:
    """Whether ansible-playbook --syntax-check accepts each corpus playbook."""
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip("ansible-core is not installed")
    home = tmp_path_factory.mktemp("ansible-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        HOME=str(home),
        ANSIBLE_LOCAL_TEMP=str(home / "tmp"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_CONFIG=str(home / "ansible.cfg"),
        ANSIBLE_LOCALHOST_WARNING="False",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="False",
    )
    (home / "ansible.cfg").write_text("[defaults]\n", encoding="utf-8")
    paths = [
        str(HERE / kind / name)
        for kind in ("good", "bad", "strict")
        for name in corpus(kind)
        if "docker" not in name
    ]
    done = subprocess.run(
        [sys.executable, "-c", _ORACLE, *paths],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return {path: code == 0 for path, code in json.loads(done.stdout.splitlines()[-1]).items()}


def our_errors(path: Path) -> list[ParseError]:
    try:
        load_playbook(str(path))
    except ParseErrors as errors:
        return list(errors.errors)
    except ParseError as error:
        return [error]
    return []


def expectation(path: Path) -> tuple[int, int, str, str]:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} lacks its `# expect:` line"
    where, _, rest = first[len("# expect: ") :].partition(" ")
    message, _, hint = rest.partition("|")
    line, column = (int(n) for n in where.split(":"))
    return line, column, message.strip(), hint.strip()


@pytest.mark.parametrize("name", corpus("good"))
def test_good_playbooks_load(name: str, oracle: dict[str, bool]) -> None:
    path = HERE / "good" / name
    assert our_errors(path) == []
    if "docker" not in name:  # ansible-core has no docker modules
        assert oracle[str(path)], f"ansible-playbook --syntax-check refuses {name}"


@pytest.mark.parametrize("kind", ["bad", "strict"])
def test_corpus_sizes(kind: str) -> None:
    assert len(corpus(kind)) >= (20 if kind == "bad" else 10)
    assert len(corpus("good")) >= 20


def check_first_error(path: Path) -> None:
    errors = our_errors(path)
    assert errors, f"{path.name} loaded without error"
    line, column, message, hint = expectation(path)
    first = errors[0]
    assert first.location is not None
    assert first.location.path == str(path) or first.location.path.startswith(str(HERE))
    assert (first.location.line, first.location.column) == (line, column), first.one_line()
    assert message in first.message, first.one_line()
    assert hint in first.hint, first.one_line()


@pytest.mark.parametrize("name", corpus("bad"))
def test_bad_playbooks_are_refused_by_both(name: str, oracle: dict[str, bool]) -> None:
    path = HERE / "bad" / name
    check_first_error(path)
    assert not oracle[str(path)], f"ansible-playbook --syntax-check accepts {name}"


@pytest.mark.parametrize("name", corpus("strict"))
def test_stricter_than_ansible_on_purpose(name: str, oracle: dict[str, bool]) -> None:
    path = HERE / "strict" / name
    check_first_error(path)
    if "docker" not in name:
        assert oracle[str(path)], f"ansible refuses {name} too: move it to playbooks/bad"

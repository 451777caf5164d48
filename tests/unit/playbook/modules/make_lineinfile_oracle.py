"""Regenerate cases/lineinfile_oracle.json: each case's file content, edited by ansible-core's own
lineinfile (run locally), is what edit_present/edit_absent must produce.

    .venv/bin/python tests/unit/playbook/modules/make_lineinfile_oracle.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).parent
ANSIBLE = Path(sys.executable).parent / "ansible"

TEXT = "# config\nPort 22\n#PermitRootLogin yes\nListen 80\nListen 8080\nUseDNS no\n"
CASES = [
    ("append at EOF", TEXT, {"line": "Banner none"}),
    ("already present", TEXT, {"line": "Port 22"}),
    ("no final newline", "a\nb", {"line": "c"}),
    ("no final newline, present", "a\nb", {"line": "b"}),
    ("empty file", "", {"line": "x"}),
    ("regexp replaces last match", TEXT, {"regexp": "^Listen ", "line": "Listen 443"}),
    ("regexp firstmatch", TEXT, {"regexp": "^Listen ", "line": "Listen 443", "firstmatch": True}),
    ("regexp already right", TEXT, {"regexp": "^Port", "line": "Port 22"}),
    ("regexp no match appends", TEXT, {"regexp": "^Banner", "line": "Banner none"}),
    (
        "regexp replaces uncommented",
        TEXT,
        {"regexp": "^#?PermitRootLogin", "line": "PermitRootLogin no"},
    ),
    ("backrefs", TEXT, {"regexp": "^(Port) (\\d+)$", "line": "\\1 2222", "backrefs": True}),
    ("backrefs no match", TEXT, {"regexp": "^Nope (.*)$", "line": "\\1", "backrefs": True}),
    ("backrefs no match line present", "x\n", {"regexp": "^y(.*)$", "line": "x", "backrefs": True}),
    ("insertafter regex", TEXT, {"line": "Listen 9090", "insertafter": "^Listen "}),
    (
        "insertafter regex firstmatch",
        TEXT,
        {"line": "Listen 9090", "insertafter": "^Listen ", "firstmatch": True},
    ),
    ("insertafter no match goes to EOF", TEXT, {"line": "X 1", "insertafter": "^Nothing"}),
    ("insertafter already after", "a\nb\nc\n", {"line": "b", "insertafter": "^a"}),
    ("insertafter last line", "a\nb\n", {"line": "z", "insertafter": "^b"}),
    ("insertafter last line no newline", "a\nb", {"line": "z", "insertafter": "^b"}),
    ("insertafter BOF", TEXT, {"line": "# top", "insertafter": "BOF"}),
    ("insertafter EOF", TEXT, {"line": "# end", "insertafter": "EOF"}),
    ("insertbefore regex", TEXT, {"line": "Protocol 2", "insertbefore": "^Port"}),
    ("insertbefore regex many", TEXT, {"line": "# listeners", "insertbefore": "^Listen"}),
    (
        "insertbefore firstmatch",
        TEXT,
        {"line": "# listeners", "insertbefore": "^Listen", "firstmatch": True},
    ),
    ("insertbefore BOF", TEXT, {"line": "# top", "insertbefore": "BOF"}),
    ("insertbefore no match", TEXT, {"line": "Q", "insertbefore": "^Nothing"}),
    ("insertbefore first line", "a\nb\n", {"line": "z", "insertbefore": "^a"}),
    (
        "regexp wins over insertafter",
        TEXT,
        {"regexp": "^UseDNS", "line": "UseDNS yes", "insertafter": "^Port"},
    ),
    ("search_string replaces", TEXT, {"search_string": "Listen 80", "line": "Listen 81"}),
    ("search_string no match", TEXT, {"search_string": "Zzz", "line": "Zzz 1"}),
    ("crlf line equal", "a\r\nb\r\n", {"line": "b"}),
    ("regexp replaces line without newline", "a\nb", {"regexp": "^b", "line": "B"}),
    ("absent by line", TEXT, {"state": "absent", "line": "Port 22"}),
    ("absent by regexp", TEXT, {"state": "absent", "regexp": "^Listen"}),
    ("absent by search_string", TEXT, {"state": "absent", "search_string": "DNS"}),
    ("absent nothing", TEXT, {"state": "absent", "regexp": "^Nope"}),
]


def run(case: tuple[str, str, dict]) -> dict:
    name, text, args = case
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "f")
        Path(path).write_text(text, newline="")
        env = {
            **os.environ,
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
            "ANSIBLE_NOCOLOR": "1",
        }
        out = subprocess.run(
            [
                str(ANSIBLE),
                "localhost",
                "-c",
                "local",
                "-m",
                "lineinfile",
                "-a",
                json.dumps({**args, "path": path}),
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        # ad-hoc output: "localhost | CHANGED => {...json...}"
        result = json.loads(out.stdout.partition("=>")[2])
        edited = Path(path).read_bytes().decode()
    return {
        "name": name,
        "text": text,
        "args": args,
        "expected": edited,
        "changed": result["changed"],
        "msg": result.get("msg", ""),
    }


def main() -> None:
    with ThreadPoolExecutor(8) as pool:
        cases = list(pool.map(run, CASES))
    (HERE / "cases" / "lineinfile_oracle.json").write_text(json.dumps(cases, indent=1) + "\n")
    print(f"{len(cases)} cases")


if __name__ == "__main__":
    main()

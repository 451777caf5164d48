"""A registered result is final text: `{{` in a command's output is never templated again when
changed_when, failed_when or until read it (as Ansible marks results unsafe)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PLAYBOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - command: printf '%s' '{{ "{{" }} x.y {{ "}}" }}'
      register: r
      changed_when: r.stdout | length > 0
      failed_when: "'x.y' not in r.stdout"
    - command: printf '%s' '{{ "{{" }} x.y {{ "}}" }}'
      register: u
      until: u.stdout | length > 0
      retries: 1
      delay: 0
"""


def test_output_holding_template_markers_is_plain_text(tmp_path: Path) -> None:
    (tmp_path / "site.yml").write_text(PLAYBOOK)
    (tmp_path / "hosts").write_text("local ansible_connection=local\n")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "orchestr"), "apply", "site.yml", "-i", "hosts"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok=2    changed=2    unreachable=0    failed=0" in done.stdout

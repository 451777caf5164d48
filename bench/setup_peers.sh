#!/usr/bin/env bash
# Create (or reuse) bench/.venv-peers: the tools orchestr is compared with, from PyPI, kept apart
# from the project's own venv so their dependencies never mix with orchestr's.
#
#   bash bench/setup_peers.sh            # idempotent; prints the versions in use
#   PEERS_PYTHON=python3.12 bash ...     # another interpreter for the peers venv
#
# The version ranges can be overridden (ANSIBLE_CORE_SPEC, PYINFRA_SPEC); whatever gets installed
# is printed here and recorded in every result file.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${PEERS_VENV:-$here/.venv-peers}"
python="${PEERS_PYTHON:-python3}"
ansible_spec="${ANSIBLE_CORE_SPEC:-ansible-core>=2.19,<2.20}"
pyinfra_spec="${PYINFRA_SPEC:-pyinfra>=3,<4}"

if [[ ! -x "$venv/bin/python" ]]; then
    echo "creating $venv with $("$python" --version 2>&1)" >&2
    "$python" -m venv "$venv"
fi

installed() {
    # True when both packages are importable and satisfy the requested ranges.
    "$venv/bin/python" - "$ansible_spec" "$pyinfra_spec" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
from packaging.requirements import Requirement

for spec in sys.argv[1:]:
    req = Requirement(spec)
    if not req.specifier.contains(version(req.name), prereleases=True):
        sys.exit(1)
PY
}

if ! installed; then
    echo "installing $ansible_spec and $pyinfra_spec into $venv" >&2
    "$venv/bin/python" -m pip install --quiet --upgrade pip packaging >&2
    "$venv/bin/python" -m pip install --quiet "$ansible_spec" "$pyinfra_spec" >&2
fi

# Sanity: the entry points the benchmark calls must run.
"$venv/bin/ansible" --version >/dev/null
"$venv/bin/pyinfra" --version >/dev/null

"$venv/bin/python" - <<'PY'
from importlib.metadata import version

for name in ("ansible-core", "pyinfra", "paramiko"):
    print(f"{name} {version(name)}")
PY

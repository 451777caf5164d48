"""A fork server for ansible-core's CLIs: import ansible once, fork a fresh child per request.

Each ansible CLI run costs ~0.7 s, almost all of it imports; forking an already-imported
process gives every request pristine module state (ansible caches a lot in globals) at a
fraction of the cost. Protocol: one JSON request per stdin line, one JSON reply per line.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile


def main() -> None:
    # Import before serving so children inherit the loaded modules.
    import ansible.cli.adhoc  # noqa: F401
    import ansible.cli.inventory  # noqa: F401
    import ansible.plugins.inventory.ini  # noqa: F401
    import ansible.plugins.inventory.yaml  # noqa: F401
    import ansible.plugins.vars.host_group_vars  # noqa: F401

    out = sys.stdout
    for line in sys.stdin:
        request = json.loads(line)
        with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
            pid = os.fork()
            if pid == 0:
                _child(request, stdout.fileno(), stderr.fileno())
            _, status = os.waitpid(pid, 0)
            stdout.seek(0)
            stderr.seek(0)
            reply = {
                "rc": os.waitstatus_to_exitcode(status),
                "stdout": stdout.read().decode("utf-8", "replace"),
                "stderr": stderr.read().decode("utf-8", "replace"),
            }
        out.write(json.dumps(reply) + "\n")
        out.flush()


def _child(request: dict, stdout_fd: int, stderr_fd: int) -> None:
    code = 250
    try:
        os.dup2(stdout_fd, 1)
        os.dup2(stderr_fd, 2)
        argv = request["argv"]
        if argv[0] == "ansible-inventory":
            from ansible.cli.inventory import main as run
        else:
            from ansible.cli.adhoc import main as run
        sys.argv = argv
        try:
            run(argv)
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    main()

"""The `sweep` scenario's health sweep as a pyinfra 3 deploy: per host one server.shell running
bench/bare/sweep.py's SCRIPT (docker ps -aq of the managed containers | xargs docker inspect,
then curl of each replica's 127.0.0.1:PUBLISHED_PORT/healthz), then a python.call callback
printing `[HOST] healthy=N` from that operation's stdout (running and /healthz answered 200).

    pyinfra -y --parallel 20 INVENTORY.py bench/pyinfra/sweep.py --data service=NAME
"""

import sys
from pathlib import Path

from pyinfra import host
from pyinfra.operations import python, server

REPO = Path(__file__).resolve().parent.parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.bare.sweep import count_replicas, remote_command  # noqa: E402

service = host.data.get("service", "web")

sweep = server.shell(name="observe and probe", commands=[remote_command(service)])


def report() -> None:
    _, healthy = count_replicas(sweep.stdout)
    print(f"[{host.name}] healthy={healthy}")


python.call(name="healthy replicas", function=report)

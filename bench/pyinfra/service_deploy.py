"""The `service-deploy` scenario's work as a pyinfra 3 deploy: on each host, PER_HOST `docker run
--detach` of the demo app with the names, labels, variables and published ports orchestr gives
its replicas, as one `server.shell` operation (its commands run one after the other).

    pyinfra -y --parallel 20 INVENTORY.py bench/pyinfra/service_deploy.py \\
        --data per_host=2 --data port_base=30000

Host number i (in the `nodes` group's order) runs slots (i-1)*per_host+1 .. i*per_host on ports
port_base, port_base+1, ... Not idempotent (a second run fails on the names): the scenario
removes the containers before every run.
"""

import shlex

from pyinfra import host, inventory
from pyinfra.operations import server

service = str(host.data.get("service", "web"))
image = str(host.data.get("image", "orchestr-demo:1"))
per_host = int(host.data.get("per_host", 2))
port_base = int(host.data.get("port_base", 30000))
epoch = 1

index = [h.name for h in inventory.get_group("nodes")].index(host.name)


def replica(slot: int, port: int) -> str:
    name = f"{service}.{slot}.e{epoch}"
    words = ["docker", "run", "--detach", "--name", name, "--hostname", name.replace(".", "-"),
             "--env", f"ORCHESTR_SERVICE={service}", "--env", f"ORCHESTR_SLOT={slot}",
             "--env", f"ORCHESTR_HOST={host.name}",
             "--label", f"orchestr.epoch={epoch}", "--label", "orchestr.managed-by=orchestr",
             "--label", f"orchestr.ports=80:{port}", "--label", f"orchestr.service={service}",
             "--label", f"orchestr.slot={slot}", "--label", "orchestr.spec=bench",
             "--publish", f"{port}:80", "--restart", "unless-stopped", image]  # fmt: skip
    return shlex.join(words)


server.shell(
    name="start the replicas",
    commands=[replica(index * per_host + k + 1, port_base + k) for k in range(per_host)],
)

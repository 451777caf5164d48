"""The `playbook` scenario's ten tasks as a pyinfra 3 deploy (bench/playbooks/ten_tasks.yml in
pyinfra's own operations): directory, put (content), template, line, two shell commands whose
output is used later, a stat (File fact), a file with its mode (created once, never re-touched),
a report and `docker ps -q`.

    pyinfra -y --parallel 20 INVENTORY.py bench/pyinfra/ten_tasks.py --data workdir=/tmp/bench-pb

Like the playbook it is idempotent: only the three shell commands run on every run (pyinfra
counts each as a change), the file operations change nothing once the state is there. The
"register" of the playbook is an operation's `stdout` read by a `python.call` callback at
execution time, the stat a `File` fact taken then, and `debug` a print from a callback.
"""

from io import StringIO
from pathlib import Path

from pyinfra import host
from pyinfra.facts.files import File
from pyinfra.operations import files, python, server

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE.parent / "playbooks" / "templates" / "x.j2"

workdir = host.data.get("workdir", "/tmp/bench-pb")
stat_result: dict = {}

files.directory(name="work directory", path=workdir, present=True, mode="755")

files.put(
    name="message of the day",
    src=StringIO("orchestr bench\nsecond line\n"),
    dest=f"{workdir}/motd",
    mode="644",
)

files.template(
    name="application config from a template",
    src=str(TEMPLATE),
    dest=f"{workdir}/app.conf",
    mode="644",
    jinja_env_kwargs={"trim_blocks": True},  # as Ansible's template module
    app_name="bench",
    app_port=8080,
    peers=["alpha", "beta", "gamma"],
    inventory_hostname=host.name,
)

files.line(
    name="a setting in an ini file",
    path=f"{workdir}/settings.ini",
    line="^max_conns=.*$",
    replace="max_conns=100",
)

kernel = server.shell(name="kernel release", commands=["uname -r"])

motd_lines = server.shell(name="lines of the message", commands=[f"cat {workdir}/motd | wc -l"])


def stat_conf() -> None:
    stat_result.update(host.get_fact(File, path=f"{workdir}/app.conf") or {})


python.call(name="stat the config", function=stat_conf)

files.file(name="stamp file", path=f"{workdir}/stamp", present=True, mode="644")


def report() -> None:
    print(
        f"[{host.name}] report: kernel {kernel.stdout.strip()}, motd "
        f"{motd_lines.stdout.strip()} lines, config {stat_result.get('size')} bytes"
    )


python.call(name="report", function=report)

server.shell(name="running containers", commands=["docker ps -q"])

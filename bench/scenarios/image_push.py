"""image-push: send a docker image from this machine to every node.

The image, `orchestr-bench-push:1`, is made once in the local docker (kept for later runs): one
layer holding 40 MiB of random bytes (incompressible, like real binaries), `docker import`ed
from a tar. Before every timed run that starts from hosts lacking it, one `orchestr exec` call
(untimed) removes it from every node and confirms it is gone.

Contenders:
  orchestr        orchestr image push IMAGE nodes -i INVENTORY --json, from nodes without it;
                  checked: every node ok, changed, all layers sent, the landed id = the local id
  save-load       the baseline: bench/bare/save_load.sh, `docker save IMAGE | ssh HOST docker
                  load` for every node at once (OpenSSH, the lab's key and known_hosts);
                  checked: every node printed "Loaded image: IMAGE"
  save-once-load  the same, but one `docker save` to a file, then `ssh HOST docker load < FILE`
                  for every node at once (a fairer baseline on few CPUs)
  orchestr-again  orchestr image push when every node already has it: checked to send 0 bytes
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import tarfile
from collections.abc import Sequence

from bench import lab
from bench.environment import BENCH_DIR
from bench.harness import Check, Contender
from bench.scenarios import Context, register
from bench.scenarios.common import LabScenario, RunCounter, expect_hosts, run_checked

IMAGE = "orchestr-bench-push:1"
PAYLOAD_BYTES = 40 * 1024 * 1024
SCRIPT = BENCH_DIR / "bare" / "save_load.sh"


def payload_tar(data: bytes, name: str = "payload.bin") -> bytes:
    """A tar archive with one file: what `docker import` turns into a one-layer image."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def local_image(image: str) -> dict | None:
    """`docker image inspect` of a local image, or None when there is none."""
    done = subprocess.run(["docker", "image", "inspect", image], capture_output=True, text=True)
    if done.returncode != 0:
        return None
    return json.loads(done.stdout)[0]


def ensure_image(image: str, size: int, say) -> tuple[dict, bool]:
    """The test image in the local docker, made when missing. Returns (inspect, made now)."""
    found = local_image(image)
    if found is not None:
        return found, False
    say(f"making {image}: one layer of {size // 2**20} MiB of random bytes (docker import)")
    tar = payload_tar(os.urandom(size))
    done = subprocess.run(["docker", "import", "-", image], input=tar, capture_output=True)
    if done.returncode != 0:
        raise SystemExit(f"docker import failed: {done.stderr.decode(errors='replace').strip()}")
    made = local_image(image)
    if made is None:
        raise SystemExit(f"{image} missing right after docker import")
    return made, True


def json_rows(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def push_problem(rows: Sequence[dict], hosts: int, image_id: str, cold: bool) -> str | None:
    """Why `orchestr image push --json` output is wrong (None when right). Cold (the nodes lacked
    the image): every node changed, got every layer, some bytes, and the image id. Warm (they
    all had it): nothing changed, 0 layers and 0 bytes sent, same id."""
    if len({row.get("host") for row in rows}) != hosts or len(rows) != hosts:
        return f"{len(rows)} JSON rows for {hosts} hosts"
    for row in rows:
        host = row.get("host")
        if row.get("status") != "ok":
            return f"{host}: status {row.get('status')} {row.get('msg', '')}".strip()
        if row.get("image_id") != image_id:
            return f"{host}: image id {row.get('image_id')}, expected {image_id}"
        if cold:
            if not row.get("changed") or not row.get("bytes_sent"):
                return f"{host}: nothing sent to a host that lacked the image"
            if row.get("layers_sent", 0) < 1 or row.get("layers_sent") != row.get("layers_total"):
                return f"{host}: {row.get('layers_sent')} of {row.get('layers_total')} layers sent"
        elif row.get("changed") or row.get("bytes_sent") != 0 or row.get("layers_sent") != 0:
            return (f"{host}: second push changed={row.get('changed')} "
                    f"bytes_sent={row.get('bytes_sent')} layers_sent={row.get('layers_sent')}")  # fmt: skip
    return None


def loaded_hosts(stdout: str, image: str) -> set[str]:
    """Hosts for which save_load.sh printed `HOST rc=0 Loaded image: IMAGE`."""
    pattern = re.compile(rf"^(\S+) rc=0 Loaded image: {re.escape(image)}\s*$", re.MULTILINE)
    return {m.group(1) for m in pattern.finditer(stdout)}


def remove_command(image: str) -> str:
    """Shell line: remove the image, then succeed only if it is really gone."""
    return f"docker image rm -f {image} >/dev/null 2>&1; ! docker image inspect {image} >/dev/null 2>&1"


@register
class ImagePush(LabScenario):
    name = "image-push"
    summary = "orchestr image push (cold, then again) vs docker save | ssh docker load"
    default_hosts = 10
    baseline = "orchestr"
    floor = "save-load"
    group = "nodes"

    def setup(self, ctx: Context) -> None:
        super().setup(ctx)
        self.image, self.image_made = ensure_image(IMAGE, PAYLOAD_BYTES, ctx.say)
        self.image_id = self.image["Id"]
        ctx.data["image"] = {
            "name": IMAGE,
            "id": self.image_id,
            "size_bytes": self.image.get("Size"),
            "layers": len(self.image.get("RootFS", {}).get("Layers", [])),
            "made_now": self.image_made,
        }

    # -------------------------------------------------------- untimed hooks

    def push_argv(self) -> list[str]:
        return [lab.orchestr_bin(), "image", "push", IMAGE, self.group,
                "-i", str(self.inventory_path), "--json"]  # fmt: skip

    def remove_everywhere(self) -> None:
        run_checked(self.orchestr_exec_argv(remove_command(IMAGE)), f"removing {IMAGE} (exec)")

    def ensure_everywhere(self) -> None:
        present = subprocess.run(
            self.orchestr_exec_argv(f"docker image inspect {IMAGE} >/dev/null"),
            capture_output=True, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        if present.returncode != 0:
            run_checked(self.push_argv(), f"pushing {IMAGE} before the second push")

    # -------------------------------------------------------- contenders

    def contenders(self, ctx: Context) -> list[Contender]:
        assert self.inventory is not None
        inv = self.inventory
        count = self.count
        self.counters = {name: RunCounter(ctx.warmup) for name in ("orchestr", "orchestr-again")}

        def push(name: str, cold: bool) -> Contender:
            counter = self.counters[name]
            prepare = self.remove_everywhere if cold else self.ensure_everywhere

            def before() -> None:
                counter.started()
                prepare()

            def check(done: subprocess.CompletedProcess) -> str | None:
                rows = json_rows(done.stdout)
                wrong = push_problem(rows, count, self.image_id, cold)
                if wrong is None:
                    counter.keep(sum(row["bytes_sent"] for row in rows))
                return wrong

            return Contender(name, self.push_argv(), before=before, check=check)

        def baseline(name: str, *flags: str) -> Contender:
            argv = ["bash", str(SCRIPT), *flags, inv.private_key, inv.known_hosts, inv.user,
                    IMAGE, *(t.address for t in inv.targets)]  # fmt: skip
            return Contender(name, argv, before=self.remove_everywhere,
                             check=check_loaded(count))  # fmt: skip

        return [
            push("orchestr", cold=True),
            baseline("save-load"),
            baseline("save-once-load", "--save-once"),
            push("orchestr-again", cold=False),
        ]

    def teardown(self, ctx: Context) -> None:
        for name, counter in getattr(self, "counters", {}).items():
            ctx.data[f"{name}_bytes_sent_per_run"] = counter.kept
            if counter.kept:
                ctx.notes.append(f"{name}: bytes sent to all nodes per measured run: "
                                 f"{counter.kept}")  # fmt: skip
        if self.inventory is not None and not (self.created and not ctx.keep_lab):
            try:  # leave a reused lab as found: without the test image
                self.remove_everywhere()
            except (RuntimeError, subprocess.TimeoutExpired) as error:
                ctx.say(f"could not remove {IMAGE} from the nodes: {error}")
        super().teardown(ctx)


def check_loaded(hosts: int) -> Check:
    def check(done: subprocess.CompletedProcess) -> str | None:
        return expect_hosts(hosts, loaded_hosts(done.stdout, IMAGE), "save_load.sh")

    return check

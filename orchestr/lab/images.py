"""Build the lab's images locally (no registry is reachable): the host image and the demo web app."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import time
from collections.abc import Callable
from importlib import resources

from orchestr.errors import EnvironmentProblem
from orchestr.lab.docker_host import run_local

DEBIAN_SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# python3 is there only so ansible-core can be compared against orchestr on the lab;
# orchestr itself needs nothing but sh and docker on a host.
HOST_PACKAGES = (
    "openssh-server", "docker.io", "iptables", "iproute2", "procps", "curl", "haproxy",
    "iputils-ping", "sudo", "python3",
)  # fmt: skip
HOST_IMAGE_REPO = "orchestr-lab-host"
DEMO_IMAGE = "orchestr-demo:1"
BUSYBOX = "/bin/busybox"


def _init_script() -> bytes:
    return resources.files("orchestr.lab").joinpath("files/host-init.sh").read_bytes()


def host_image_name() -> str:
    """Tagged with a hash of its recipe: a changed recipe builds a new image, else it is reused."""
    recipe = "\n".join([DEBIAN_SUITE, *HOST_PACKAGES]).encode() + _init_script()
    return f"{HOST_IMAGE_REPO}:{hashlib.sha256(recipe).hexdigest()[:12]}"


async def image_exists(name: str) -> bool:
    return (await run_local(["docker", "image", "inspect", name], check=False)).rc == 0


async def ensure_host_image(say: Callable[[str], None]) -> str:
    name = host_image_name()
    if await image_exists(name):
        return name
    if shutil.which("debootstrap") is None:
        raise EnvironmentProblem(
            "debootstrap is needed once to build the lab host image",
            hint="apt-get install -y debootstrap (or run `make setup`)",
        )
    mirror = os.environ.get("ORCHESTR_LAB_MIRROR", DEFAULT_MIRROR)
    say(f"building lab host image {name} with debootstrap from {mirror} (once, about a minute)")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="orchestr-lab-rootfs-", dir="/var/tmp") as root:
        done = await run_local(
            ["debootstrap", "--variant=minbase", f"--include={','.join(HOST_PACKAGES)}",
             DEBIAN_SUITE, root, mirror],
            check=False,
        )  # fmt: skip
        if done.rc != 0:
            tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
            raise EnvironmentProblem(
                f"debootstrap failed: {' / '.join(tail)}",
                hint="check that the Debian mirror is reachable (ORCHESTR_LAB_MIRROR sets it)",
            )
        _prepare_rootfs(root)
        await run_local(
            ["sh", "-c", 'tar -C "$0" -c . | docker import --change "$1" - "$2"', root,
             'CMD ["/usr/local/sbin/orchestr-lab-init"]', name],
        )  # fmt: skip
    say(f"built {name} in {time.monotonic() - started:.0f} s")
    return name


def _prepare_rootfs(root: str) -> None:
    # Host keys come from the lab at run time; baked-in ones would be shared by every host.
    ssh_dir = os.path.join(root, "etc/ssh")
    for entry in os.listdir(ssh_dir):
        if entry.startswith("ssh_host_"):
            os.remove(os.path.join(ssh_dir, entry))
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        shutil.rmtree(os.path.join(root, cache), ignore_errors=True)
    init = os.path.join(root, "usr/local/sbin/orchestr-lab-init")
    with open(init, "wb") as handle:
        handle.write(_init_script())
    os.chmod(init, 0o755)


# The demo web app: static busybox's httpd. `/` names the lab host (ORCHESTR_HOST, set by
# whoever starts it) and the container; `/healthz` answers 200 OK.
DEMO_START = b"""#!/bin/sh
mkdir -p /www
version=$(cat /version)
echo "host=${ORCHESTR_HOST:-unknown} container=$(hostname) version=$version" > /www/index.html
echo OK > /www/healthz
exec /bin/busybox httpd -f -v -p "${PORT:-80}" -h /www
"""


def demo_rootfs_tar(busybox: bytes, version: str) -> bytes:
    """The demo image's whole filesystem as a tar (pure: same input, same bytes)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:

        def add(path: str, data: bytes | None = None, mode: int = 0o644, link: str = "") -> None:
            info = tarfile.TarInfo(path)
            info.mtime = 0
            if link:
                info.type, info.linkname = tarfile.SYMTYPE, link
            elif data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            else:
                info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data) if data is not None else None)

        for directory in ("bin", "tmp", "www", "etc"):
            add(directory)
        add("bin/busybox", busybox, 0o755)
        add("bin/sh", link="busybox")
        add("start.sh", DEMO_START, 0o755)
        add("version", f"{version}\n".encode())
        add("etc/passwd", b"root:x:0:0:root:/:/bin/sh\n")
    return buffer.getvalue()


async def ensure_demo_image(version: str = "1", name: str = DEMO_IMAGE) -> str:
    if await image_exists(name):
        return name
    if not os.path.exists(BUSYBOX):
        raise EnvironmentProblem(
            f"{BUSYBOX} (static) is needed to build the demo image",
            hint="apt-get install -y busybox-static (or run `make setup`)",
        )
    with open(BUSYBOX, "rb") as handle:
        rootfs = demo_rootfs_tar(handle.read(), version)
    await run_local(
        ["docker", "import", "--change", 'CMD ["/bin/sh", "/start.sh"]', "--change",
         "EXPOSE 80", "-", name],
        stdin=rootfs,
    )  # fmt: skip
    return name

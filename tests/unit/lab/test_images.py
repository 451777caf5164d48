"""Lab images: the demo app's filesystem and the host image's cache key (pure)."""

import io
import tarfile

from orchestr.lab import images


def test_demo_rootfs_is_deterministic_and_complete():
    first = images.demo_rootfs_tar(b"\x7fELF fake busybox", "7")
    assert first == images.demo_rootfs_tar(b"\x7fELF fake busybox", "7")
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert members["bin/busybox"].mode == 0o755
        assert members["bin/sh"].issym() and members["bin/sh"].linkname == "busybox"
        assert members["start.sh"].mode == 0o755
        assert tar.extractfile("version").read() == b"7\n"
        start = tar.extractfile("start.sh").read().decode()
    assert "echo OK > /www/healthz" in start
    assert "httpd -f" in start and "ORCHESTR_HOST" in start


def test_demo_versions_differ():
    assert images.demo_rootfs_tar(b"x", "1") != images.demo_rootfs_tar(b"x", "2")


def test_host_image_name_follows_the_recipe(monkeypatch):
    name = images.host_image_name()
    assert name.startswith("orchestr-lab-host:") and len(name.split(":")[1]) == 12
    assert images.host_image_name() == name
    monkeypatch.setattr(images, "HOST_PACKAGES", (*images.HOST_PACKAGES, "vim"))
    assert images.host_image_name() != name


def test_host_image_has_what_hosts_need_and_python_only_for_ansible():
    for package in ("openssh-server", "docker.io", "iptables", "haproxy", "curl", "python3"):
        assert package in images.HOST_PACKAGES

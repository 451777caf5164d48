"""ansible_virtualization_* as Ansible's Linux "virtual" collector decides them: containers
first (cgroups, PID 1's environment, marker files), then hypervisors (Xen, DMI names, CPU model,
kernel modules, /dev/kvm). The first finding sets type and role; every finding adds its
technology to virtualization_tech_guest or _host."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from orchestr.playbook.facts.hardware import DMI_DIR
from orchestr.playbook.facts.system import first_line, key_values, multi_values

_KVM_PRODUCTS = ("KVM", "KVM Server", "Bochs", "AHV", "CloudStack KVM Hypervisor")
_KVM_VENDORS = ("QEMU", "Amazon EC2", "DigitalOcean", "Google", "Scaleway", "Nutanix")
_KVM_BIOS_VENDORS = ("Amazon EC2", "DigitalOcean", "Hetzner", "Linode")
_VENDOR_TYPES = {"oVirt": "oVirt", "KubeVirt": "KubeVirt", "Microsoft Corporation": "VirtualPC",
                 "Parallels Software International Inc.": "parallels",
                 "OpenStack Foundation": "openstack"}  # fmt: skip
_CPU_MODELS = (
    (r"^model name.*QEMU Virtual CPU", "kvm"),
    (r"^vendor_id.*User Mode Linux", "uml"),
    (r"^model name.*UML", "uml"),
    (r"^machine.*CHRP IBM pSeries .emulated by qemu.", "kvm"),
    (r"^vendor_id.*PowerVM Lx86", "powervm_lx86"),
    (r"^vendor_id.*IBM/S390", "PR/SM"),
)


class _Finding:
    def __init__(self) -> None:
        self.facts: dict[str, Any] = {}
        self.found = False
        self.guest: set[str] = set()
        self.host: set[str] = set()

    def guest_is(self, tech: str, kind: str | None = None, role: str | None = "guest") -> None:
        """A guest technology; the first finding also names the type (and role)."""
        self.guest.add(tech)
        self.first(kind or tech, role)

    def first(self, kind: str, role: str | None) -> None:
        if not self.found:
            self.facts["virtualization_type"] = kind
            if role is not None:
                self.facts["virtualization_role"] = role
            self.found = True


def virtual_facts(section: str | None, files: Mapping[str, str], environ: str | None,
                  cpuinfo: str | None) -> dict[str, Any]:  # fmt: skip
    if section is None:
        return {}
    values = key_values(section)
    present = set(multi_values(section, "exists"))
    v = _Finding()
    for line in (files.get("/proc/1/cgroup") or "").strip().splitlines():
        if re.search(r"/docker(/|-[0-9a-f]+\.scope)", line):
            v.guest_is("docker")
        if re.search("/lxc/", line) or re.search("/machine.slice/machine-lxc", line):
            v.guest_is("lxc")
        if re.search("/system.slice/containerd.service", line):
            v.guest_is("containerd")
    for line in (environ or "").strip().splitlines():
        if re.search("container=lxc", line):
            v.guest_is("lxc")
        if re.search("container=podman", line):
            v.guest_is("podman")
        if re.search("^container=.", line):
            v.guest_is("container")
    if "/proc/vz" in present and "/proc/lve" not in present:
        v.facts["virtualization_type"] = "openvz"
        if "/proc/bc" in present:
            v.host.add("openvz")
            if not v.found:
                v.facts["virtualization_role"] = "host"
        else:
            v.guest.add("openvz")
            if not v.found:
                v.facts["virtualization_role"] = "guest"
        v.found = True
    systemd_container = first_line(files.get("/run/systemd/container"))
    if systemd_container:
        v.guest_is(systemd_container)
    if "/.dockerenv" in present or "/.dockerinit" in present:
        v.guest_is("docker")
    if v.guest & {"docker", "lxc", "podman", "openvz", "containerd"} or systemd_container:
        v.guest.add("container")
    if "/proc/xen" in present:
        capabilities = files.get("/proc/xen/capabilities") or ""
        if "control_d" in capabilities:
            v.host.add("xen")
            v.first("xen", "host")
        else:
            v.first("xen", "guest")
        v.found = True
    if not v.found:
        v.facts["virtualization_role"] = "guest"
    _hypervisors(v, files)
    if not v.found:
        v.facts.pop("virtualization_role", None)
    for line in multi_values(section, "status"):
        if re.match(r"^VxID:\s+\d+", line):
            host = bool(re.match(r"^VxID:\s+0", line))
            (v.host if host else v.guest).add("linux_vserver")
            v.first("linux_vserver", "host" if host else "guest")
    _cpu_models(v, cpuinfo or "", values)
    _modules(v, values, present)
    product = values.get("dmidecode_product", "")
    if product.startswith("VMware"):
        v.guest_is("VMware")
    if "BHYVE" in product:
        v.guest_is("bhyve")
    if "/dev/kvm" in present:
        v.host.add("kvm")
        v.first("kvm", "host")
    if not v.found:
        v.facts.update(virtualization_type="NA", virtualization_role="NA")
    v.facts["virtualization_tech_guest"] = sorted(v.guest)
    v.facts["virtualization_tech_host"] = sorted(v.host)
    return v.facts


def _dmi(files: Mapping[str, str], name: str) -> str | None:
    value = files.get(f"{DMI_DIR}/{name}")
    return value.strip() if value is not None and value.strip() else None


def _hypervisors(v: _Finding, files: Mapping[str, str]) -> None:
    """DMI names (the role, "guest", was set before when nothing was found yet)."""
    product, vendor = _dmi(files, "product_name"), _dmi(files, "sys_vendor")
    family, bios = _dmi(files, "product_family"), _dmi(files, "bios_vendor")
    if product in _KVM_PRODUCTS:
        v.guest_is("kvm", role=None)
    if vendor == "oVirt":
        v.guest_is("oVirt", role=None)
    if vendor == "Red Hat":
        if family == "RHV":
            v.guest_is("RHV", role=None)
        elif product == "RHEV Hypervisor":
            v.guest_is("RHEV", role=None)
    if product and product.startswith("VMware"):
        v.guest_is("VMware", role=None)
    if product in ("OpenStack Compute", "OpenStack Nova"):
        v.guest_is("openstack", role=None)
    if bios == "Xen":
        v.guest_is("xen", role=None)
    if bios == "innotek GmbH":
        v.guest_is("virtualbox", role=None)
    if bios in _KVM_BIOS_VENDORS:
        v.guest_is("kvm", role=None)
    if vendor in _KVM_VENDORS:
        v.guest_is("kvm", role=None)
    if vendor in _VENDOR_TYPES:
        v.guest_is(_VENDOR_TYPES[vendor], role=None)


def _cpu_models(v: _Finding, cpuinfo: str, values: Mapping[str, str]) -> None:
    for line in cpuinfo.splitlines():
        tech = next((tech for pattern, tech in _CPU_MODELS if re.match(pattern, line)), None)
        if tech is None:
            continue
        if tech == "PR/SM":
            hypervisor = values.get("lscpu_hypervisor")
            if hypervisor is not None:
                tech = hypervisor or "PR/SM"
                v.guest.update({"PR/SM", tech} if hypervisor else {"PR/SM"})
            else:
                v.guest.update({"PR/SM", "ibm_systemz"})
                tech = "ibm_systemz"
        else:
            v.guest.add(tech)
        if not v.found:
            v.facts["virtualization_type"] = tech
            v.facts["virtualization_role"] = "LPAR" if tech == "PR/SM" else "guest"
            v.found = True


def _modules(v: _Finding, values: Mapping[str, str], present: set[str]) -> None:
    if "modules" not in values:
        return
    modules = values["modules"].split()
    if "kvm" in modules:
        v.host.add("kvm")
        kind = "kvm"
        if "/rhev/" in present and values.get("vdsm") == "1":
            v.host.add("RHEV")
            kind = "RHEV"
        if not v.found:
            v.facts.update(virtualization_type=kind, virtualization_role="host")
        v.found = True
    if "vboxdrv" in modules:
        v.host.add("virtualbox")
        v.first("virtualbox", "host")
    if "virtio" in modules:
        v.host.add("kvm")
        v.first("kvm", "guest")

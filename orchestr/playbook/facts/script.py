"""The one POSIX sh script that reads a host's facts: raw material only, parsed on the controller.

It runs as `/bin/sh -c SCRIPT sh COLLECTORS TIMEOUT FACT_PATH` (dash, bash, busybox ash; no
Python on the host) and prints sections, each opened by a line "\\036NAME": the content of files
("\\036file /etc/os-release"), command outputs and `key=value` lines. It only reads: no file is
written, no variable exported, so the environment it reports is the one a module would see.
A command that is missing or fails leaves its section out or empty; the parser says what Ansible
says in that case. COLLECTORS names the fact collectors wanted (Ansible's names), so a
`gather_subset: "!hardware"` does not stat every mount.
"""

from __future__ import annotations

# Ansible's package manager probes (module_utils/facts/system/pkg_mgr.py): a path, the name it
# means. The last one that exists wins, as in Ansible, before the family defaults apply.
PKG_MGR_PATHS: tuple[tuple[str, str], ...] = (
    ("/usr/bin/rpm-ostree", "atomic_container"),
    ("/usr/bin/yum", "dnf"),
    ("/usr/bin/dnf-3", "dnf"),
    ("/usr/bin/dnf5", "dnf5"),
    ("/usr/bin/apt-get", "apt"),
    ("/usr/bin/zypper", "zypper"),
    ("/usr/sbin/urpmi", "urpmi"),
    ("/usr/bin/pacman", "pacman"),
    ("/bin/opkg", "opkg"),
    ("/usr/pkg/bin/pkgin", "pkgin"),
    ("/opt/local/bin/pkgin", "pkgin"),
    ("/opt/tools/bin/pkgin", "pkgin"),
    ("/opt/local/bin/port", "macports"),
    ("/usr/local/bin/brew", "homebrew"),
    ("/opt/homebrew/bin/brew", "homebrew"),
    ("/sbin/apk", "apk"),
    ("/usr/sbin/pkg", "pkgng"),
    ("/usr/sbin/swlist", "swdepot"),
    ("/usr/bin/emerge", "portage"),
    ("/usr/sbin/pkgadd", "svr4pkg"),
    ("/usr/bin/pkg", "pkg5"),
    ("/usr/bin/xbps-install", "xbps"),
    ("/usr/local/sbin/pkg", "pkgng"),
    ("/usr/bin/swupd", "swupd"),
    ("/usr/sbin/sorcery", "sorcery"),
    ("/usr/bin/installp", "installp"),
)

# /sys/devices/virtual/dmi/id file -> fact, and the dmidecode keyword used when /sys has none.
DMI_FILES: tuple[tuple[str, str, str], ...] = (
    ("bios_date", "bios_date", "bios-release-date"),
    ("bios_vendor", "bios_vendor", "bios-vendor"),
    ("bios_version", "bios_version", "bios-version"),
    ("board_asset_tag", "board_asset_tag", "baseboard-asset-tag"),
    ("board_name", "board_name", "baseboard-product-name"),
    ("board_serial", "board_serial", "baseboard-serial-number"),
    ("board_vendor", "board_vendor", "baseboard-manufacturer"),
    ("board_version", "board_version", "baseboard-version"),
    ("chassis_asset_tag", "chassis_asset_tag", "chassis-asset-tag"),
    ("chassis_serial", "chassis_serial", "chassis-serial-number"),
    ("chassis_vendor", "chassis_vendor", "chassis-manufacturer"),
    ("chassis_version", "chassis_version", "chassis-version"),
    ("form_factor", "chassis_type", "chassis-type"),
    ("product_name", "product_name", "system-product-name"),
    ("product_serial", "product_serial", "system-serial-number"),
    ("product_uuid", "product_uuid", "system-uuid"),
    ("product_version", "product_version", "system-version"),
    ("system_vendor", "sys_vendor", "system-manufacturer"),
)

SSH_KEY_DIRS = ("/etc/ssh", "/etc/openssh", "/etc")
SSH_KEY_ALGOS = ("dsa", "rsa", "ecdsa", "ed25519")

# Ansible asks the kernel which route it would take to these (network/linux.py).
ROUTE_PROBE_V4 = "8.8.8.8"
ROUTE_PROBE_V6 = "2404:6800:400a:800::1012"

_BODY = r"""
W=" $1 "; T=${2:-10}; FP=$3
want() { case $W in *" $1 "*) return 0 ;; esac; return 1; }
sec() { printf '\036%s\n' "$*"; }
show() {
    for sh_f in "$@"; do
        if [ -f "$sh_f" ] && [ -r "$sh_f" ]; then sec "file $sh_f"; cat "$sh_f" 2>/dev/null; echo; fi
    done
}
bin() {
    sh_rest="$PATH:/sbin:/usr/sbin:/usr/local/sbin"
    while [ -n "$sh_rest" ]; do
        sh_d=${sh_rest%%:*}
        case $sh_rest in *:*) sh_rest=${sh_rest#*:} ;; *) sh_rest= ;; esac
        if [ -n "$sh_d" ] && [ -f "$sh_d/$1" ] && [ -x "$sh_d/$1" ]; then
            printf '%s\n' "$sh_d/$1"; return 0
        fi
    done
    return 1
}
pwent() {
    if command -v getent >/dev/null 2>&1; then getent passwd "$1" 2>/dev/null | head -n 1
    else awk -F: -v k="$1" -v n="$2" '$n == k { print; exit }' /etc/passwd 2>/dev/null
    fi
}
unoct() {
    case $1 in
        *\\*) printf '%b' "$(printf '%s' "$1" | sed 's/\\\([0-7][0-7][0-7]\)/\\0\1/g')" ;;
        *) printf '%s' "$1" ;;
    esac
}
TO=
command -v timeout >/dev/null 2>&1 && TO="timeout $T"

if want platform; then
    sec platform
    echo "system=$(uname -s)"
    echo "kernel=$(uname -r)"
    echo "kernel_version=$(uname -v)"
    echo "machine=$(uname -m)"
    echo "nodename=$(uname -n)"
    sh_o=$(getconf LONG_BIT 2>/dev/null) || sh_o=
    if [ -z "$sh_o" ]; then  # no getconf (busybox): the ELF class of /bin/sh
        case $(od -An -tu1 -j4 -N1 /bin/sh 2>/dev/null | tr -d ' ') in 1) sh_o=32 ;; 2) sh_o=64 ;; esac
    fi
    echo "long_bit=$sh_o"
    show /var/lib/dbus/machine-id /etc/machine-id
    sh_n=$(uname -n)
    if command -v getent >/dev/null 2>&1; then
        sh_a=$(getent ahosts "$sh_n" 2>/dev/null | awk 'NR == 1 { print $1 }')
        sec fqdn
        [ -n "$sh_a" ] && getent hosts "$sh_a" 2>/dev/null | head -n 1
    else
        sh_a=$(awk -v n="$sh_n" '{ sub(/#.*/, "") } { for (i = 2; i <= NF; i++) if ($i == n) { print $1; exit } }' /etc/hosts 2>/dev/null)
        sec fqdn
        [ -n "$sh_a" ] && awk -v a="$sh_a" '{ sub(/#.*/, "") } $1 == a && NF > 1 { print; exit }' /etc/hosts 2>/dev/null
    fi
fi

if want distribution || want lsb || want pkg_mgr || want service_mgr || want network; then
    show /etc/*[-_]release /etc/*[-_]version /usr/lib/os-release /etc/coreos/update.conf
    if sh_b=$(bin lsb_release); then sec lsb_release; "$sh_b" -a 2>/dev/null; fi
    if [ -L /etc/products.d/baseproduct ]; then
        sec suse_baseproduct; readlink -f /etc/products.d/baseproduct 2>/dev/null
    fi
    if [ -f /etc/debian_version ] && sh_b=$(bin dpkg); then
        sec tzdata; "$sh_b" --status tzdata 2>/dev/null | grep Provides | cut -f2 -d'-'
    fi
fi

if want pkg_mgr; then
    sec pkg_mgr
    for sh_p in @PKG_PATHS@; do [ -e "$sh_p" ] && echo "exists=$sh_p"; done
    [ -e /run/ostree-booted ] && echo "exists=/run/ostree-booted"
    for sh_p in /usr/bin/dnf /usr/bin/microdnf; do
        [ -e "$sh_p" ] && echo "realpath=$sh_p $(readlink -f "$sh_p" 2>/dev/null)"
    done
    if [ -e /usr/bin/rpm ] && [ -e /usr/bin/apt-get ]; then
        /usr/bin/rpm -q --whatprovides /usr/bin/apt-get >/dev/null 2>&1 && echo "apt_rpm=1"
    fi
fi

if want service_mgr || want systemd; then
    sec service_mgr
    if [ -r /proc/1/comm ]; then
        echo "comm=$(cat /proc/1/comm 2>/dev/null)"
    else
        sh_o=$(ps -p 1 -o comm 2>/dev/null | tail -n 1); echo "ps_rc=$?"; echo "ps=$sh_o"
    fi
    [ -L /sbin/init ] && echo "sbin_init=$(readlink /sbin/init)"
    bin systemctl >/dev/null && echo "systemctl=1"
    bin initctl >/dev/null && echo "initctl=1"
    for sh_p in /run/systemd/system/ /dev/.run/systemd/ /dev/.systemd/ /etc/init/ /sbin/openrc /etc/init.d/ /etc/dinit.d/; do
        [ -e "$sh_p" ] && echo "exists=$sh_p"
    done
    if want systemd && sh_b=$(bin systemctl); then sec systemctl_version; "$sh_b" --version 2>/dev/null; fi
fi

if want user; then
    sec user
    sh_u=${LOGNAME:-${USER:-${LNAME:-${USERNAME:-}}}}
    [ -n "$sh_u" ] || sh_u=$(id -run 2>/dev/null)
    echo "user_id=$sh_u"
    echo "euid=$(id -u)"; echo "ruid=$(id -ru)"; echo "egid=$(id -g)"; echo "rgid=$(id -rg)"
    sh_e=$(pwent "$sh_u" 1)
    [ -n "$sh_e" ] || sh_e=$(pwent "$(id -ru)" 3)
    echo "pwent=$sh_e"
fi

if want env; then
    sec env
    if [ -r /proc/self/environ ]; then tr '\000' '\037' < /proc/self/environ
    else awk 'BEGIN { for (k in ENVIRON) printf "%s=%s\037", k, ENVIRON[k] }'
    fi
    echo
fi

if want date_time; then
    sec date_time
    sh_d=$(LC_ALL=C date '+%s|%Y|%m|%A|%w|%W|%d|%H|%M|%S|%Z|%z|%N')
    echo "now=$sh_d"
    sh_t=${sh_d%%|*}
    case $sh_t in ''|*[!0-9]*) sh_t=0 ;; esac
    sh_t=$(( sh_t / 31557600 * 31557600 ))
    echo "jan=$(LC_ALL=C date -d "@$sh_t" '+%Z|%z' 2>/dev/null)"
    echo "jul=$(LC_ALL=C date -d "@$(( sh_t + 15778800 ))" '+%Z|%z' 2>/dev/null)"
fi

want dns && show /etc/resolv.conf
want cmdline && show /proc/cmdline
want fips && show /proc/sys/crypto/fips_enabled
want loadavg && show /proc/loadavg
if want apparmor; then sec apparmor; [ -e /sys/kernel/security/apparmor ] && echo enabled; fi
if want caps && sh_b=$(bin capsh); then sec capsh; "$sh_b" --print 2>/dev/null; echo "rc=$?"; fi
if want selinux; then
    show /sys/fs/selinux/enforce /sys/fs/selinux/policyvers /selinux/enforce /selinux/policyvers /etc/selinux/config
fi
if want ssh_pub_keys; then
    for sh_d in @SSH_KEY_DIRS@; do
        for sh_k in @SSH_KEY_ALGOS@; do show "$sh_d/ssh_host_${sh_k}_key.pub"; done
    done
fi
if want chroot; then
    sec chroot
    echo "debian_chroot=${debian_chroot:-}"
    echo "root=$(stat -c '%d %i' / 2>/dev/null)"
    echo "proc_root=$(stat -c '%d %i' /proc/1/root/. 2>/dev/null)"
    echo "fstype=$(stat -f -c %T / 2>/dev/null)"
fi
if want local && [ -n "$FP" ] && [ -e "$FP" ]; then
    for sh_f in "$FP"/*.fact; do
        [ -e "$sh_f" ] || continue
        if [ -x "$sh_f" ]; then
            sec "fact_run $sh_f"; sh_o=$("$sh_f" 2>/dev/null); echo "rc=$?"; printf '%s\n' "$sh_o"
        elif [ -r "$sh_f" ]; then
            sec "fact_file $sh_f"; cat "$sh_f"; echo
        else
            sec "fact_unreadable $sh_f"
        fi
    done
fi
want iscsi && show /etc/iscsi/initiatorname.iscsi
want nvme && show /etc/nvme/hostnqn
if want fibre_channel_wwn; then
    for sh_f in /sys/class/fc_host/*/port_name; do show "$sh_f"; done
fi

if want hardware || want virtual; then
    sec cpuinfo
    grep -v -e '^flags' -e '^bugs' -e '^vmx flags' /proc/cpuinfo 2>/dev/null
    grep '^flags' /proc/cpuinfo 2>/dev/null | tail -n 1
    [ -e /proc/xen ] && echo "@xen"
    show /sys/hypervisor/type
    sh_dmi=/sys/devices/virtual/dmi/id
    if [ -e $sh_dmi/product_name ]; then
        sec dmi_sys
        for sh_k in @DMI_FILES@ product_family; do show "$sh_dmi/$sh_k"; done
    elif sh_b=$(bin dmidecode); then
        for sh_k in @DMI_KEYWORDS@; do
            sh_o=$("$sh_b" -s "$sh_k" 2>/dev/null); sec "dmidecode $sh_k $?"; printf '%s\n' "$sh_o"
        done
    fi
fi

if want hardware; then
    show /proc/meminfo /proc/uptime /proc/sysinfo
    sec nproc; nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null
    if sh_b=$(bin vgs) && [ "$(id -u)" = 0 ]; then
        sh_lvm='--noheadings --nosuffix --units g --separator ,'
        sec lvm_vgs; "$sh_b" $sh_lvm 2>/dev/null
        if sh_b=$(bin lvs); then sec lvm_lvs; "$sh_b" $sh_lvm 2>/dev/null; fi
        if sh_b=$(bin pvs); then sec lvm_pvs; "$sh_b" $sh_lvm 2>/dev/null; fi
    fi
    sh_m=/etc/mtab
    [ -e $sh_m ] || sh_m=/proc/mounts
    sec mtab; cat $sh_m 2>/dev/null
    if sh_b=$(bin findmnt); then sec findmnt; "$sh_b" --list --noheadings --notruncate 2>/dev/null; fi
    if sh_b=$(bin lsblk); then
        sec lsblk; "$sh_b" --list --noheadings --paths --output NAME,UUID --exclude 2 2>/dev/null
    fi
    sh_udev=$(bin udevadm)
    sec statvfs
    while read -r sh_dev sh_mnt sh_fs sh_rest; do
        case $sh_dev in /*|\\*|*:/*) ;; *) continue ;; esac
        [ "$sh_fs" = none ] && continue
        sh_p=$(unoct "$sh_mnt")
        sh_s=$($TO stat -f -c '%S %b %a %s %c %d' "$sh_p" 2>/dev/null </dev/null)
        printf '%s\t%s\n' "$sh_mnt" "$sh_s"
    done < $sh_m
    if [ -n "$sh_udev" ]; then
        sec udevadm
        while read -r sh_dev sh_mnt sh_fs sh_rest; do
            case $sh_dev in /*|\\*|*:/*) ;; *) continue ;; esac
            sh_p=$(unoct "$sh_dev")
            sh_o=$("$sh_udev" info --query property --name "$sh_p" 2>/dev/null </dev/null | grep '^ID_FS_UUID=')
            printf '%s\t%s\n' "$sh_dev" "${sh_o#ID_FS_UUID=}"
        done < $sh_m
    fi
fi

if want network && sh_ip=$(bin ip); then
    sec route_v4; "$sh_ip" -4 route get @ROUTE_V4@ 2>/dev/null
    sec route_v6; "$sh_ip" -6 route get @ROUTE_V6@ 2>/dev/null
    sec route_local
    "$sh_ip" -4 route show table local 2>/dev/null
    "$sh_ip" -6 route show table local 2>/dev/null
    sh_n=/sys/class/net
    sec sysnet
    grep -sH '' $sh_n/*/address $sh_n/*/mtu $sh_n/*/operstate $sh_n/*/type $sh_n/*/flags $sh_n/*/speed \
        $sh_n/*/bridge/bridge_id $sh_n/*/bridge/stp_state $sh_n/*/bonding/* $sh_n/*/bonding_slave/perm_hwaddr 2>/dev/null
    sh_eth=$(bin ethtool)
    for sh_p in $(find $sh_n/ -mindepth 1 -maxdepth 1 2>/dev/null); do
        [ -d "$sh_p" ] || continue
        sh_i=${sh_p##*/}
        sec "iface $sh_i"
        for sh_k in address mtu operstate type flags speed bridge bonding bonding_slave device; do
            [ -e "$sh_p/$sh_k" ] && echo "has=$sh_k"
        done
        [ -e "$sh_p/device/driver/module" ] && echo "module=$(readlink -f "$sh_p/device/driver/module")"
        [ -e "$sh_p/device" ] && echo "pciid=$(readlink "$sh_p/device")"
        if [ -d "$sh_p/brif" ]; then
            for sh_f in $(find "$sh_p/brif/" -mindepth 1 -maxdepth 1 2>/dev/null); do echo "brif=${sh_f##*/}"; done
        fi
        sec "addr_primary $sh_i"
        "$sh_ip" addr show primary dev "$sh_i" 2>/dev/null || { echo "@fallback"; "$sh_ip" addr show dev "$sh_i" 2>/dev/null; }
        sec "addr_secondary $sh_i"
        "$sh_ip" addr show secondary dev "$sh_i" 2>/dev/null
        if [ -n "$sh_eth" ]; then
            sec "ethtool_k $sh_i"; "$sh_eth" -k "$sh_i" 2>/dev/null || echo "@failed"
            sec "ethtool_t $sh_i"; "$sh_eth" -T "$sh_i" 2>/dev/null || echo "@failed"
        fi
    done
fi

if want virtual; then
    sec virtual
    for sh_p in /proc/1/cgroup /proc/1/environ /proc/vz /proc/lve /proc/bc /.dockerenv /.dockerinit /proc/xen /dev/kvm /rhev/ /proc/modules; do
        [ -e "$sh_p" ] && echo "exists=$sh_p"
    done
    [ -r /proc/modules ] && echo "modules=$(cut -d' ' -f1 /proc/modules 2>/dev/null | tr '\n' ' ')"
    grep '^VxID:' /proc/self/status 2>/dev/null | sed 's/^/status=/'
    if [ -d /rhev/ ]; then
        cat /proc/[0-9]*/comm 2>/dev/null | grep -qx -e vdsm -e vdsmd && echo "vdsm=1"
    fi
    if grep -q 'IBM/S390' /proc/cpuinfo 2>/dev/null && sh_b=$(bin lscpu); then
        echo "lscpu_hypervisor=$("$sh_b" 2>/dev/null | sed -n 's/^Hypervisor:[[:space:]]*//p')"
    fi
    if sh_b=$(bin dmidecode); then
        sh_o=$("$sh_b" -s system-product-name 2>/dev/null) && echo "dmidecode_product=$(printf '%s' "$sh_o" | grep -v '^#' | tr -d '\n')"
    fi
    show /proc/1/cgroup /run/systemd/container /proc/xen/capabilities
    if [ -r /proc/1/environ ]; then sec proc1_environ; { tr '\000' '\n' < /proc/1/environ; } 2>/dev/null; echo; fi
fi
"""


def script() -> str:
    """The script's text (constant: what to gather comes as its first argument)."""
    return (
        _BODY.replace("@PKG_PATHS@", " ".join(path for path, _ in PKG_MGR_PATHS))
        .replace("@SSH_KEY_DIRS@", " ".join(SSH_KEY_DIRS))
        .replace("@SSH_KEY_ALGOS@", " ".join(SSH_KEY_ALGOS))
        .replace("@DMI_FILES@", " ".join(file for _, file, _ in DMI_FILES))
        .replace("@DMI_KEYWORDS@", " ".join(keyword for _, _, keyword in DMI_FILES))
        .replace("@ROUTE_V4@", ROUTE_PROBE_V4)
        .replace("@ROUTE_V6@", ROUTE_PROBE_V6)
    )


SCRIPT = script()

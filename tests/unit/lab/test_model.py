"""Lab shape: address allocation, names, zones (pure)."""

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestr.errors import OptionsError
from orchestr.lab.model import (
    LAB_GATEWAY,
    LAB_SUBNET,
    check_lab_name,
    known_hosts_text,
    plan_hosts,
    usable_addresses,
    zone_for,
)


def test_new_lab_takes_lowest_addresses_in_order():
    hosts = plan_hosts("t", 3, True, existing={}, taken=[])
    assert [(h.name, h.role, h.address, h.zone) for h in hosts] == [
        ("node1", "node", "198.18.0.2", "a"),
        ("node2", "node", "198.18.0.3", "b"),
        ("node3", "node", "198.18.0.4", "c"),
        ("lb1", "lb", "198.18.0.5", ""),
    ]
    assert hosts[0].container == "orchestr-t-node1"


def test_existing_hosts_keep_their_address_and_other_labs_are_skipped():
    hosts = plan_hosts(
        "t", 3, False, existing={"node2": "198.18.0.9"}, taken=["198.18.0.2", "198.18.0.4"]
    )
    assert [h.address for h in hosts] == ["198.18.0.3", "198.18.0.9", "198.18.0.5"]


def test_usable_addresses_exclude_gateway_network_and_broadcast():
    addresses = usable_addresses()
    assert len(addresses) == 253
    assert str(LAB_GATEWAY) not in addresses
    assert "198.18.0.0" not in addresses and "198.18.0.255" not in addresses


@pytest.mark.parametrize("nodes", [0, -1])
def test_host_count_below_one_is_refused(nodes):
    with pytest.raises(OptionsError, match="at least 1"):
        plan_hosts("t", nodes, False, {}, [])


def test_whole_range_fits_but_not_one_more():
    assert len(plan_hosts("t", 253, False, {}, [])) == 253
    with pytest.raises(OptionsError, match="room for 253"):
        plan_hosts("t", 253, True, {}, [])
    with pytest.raises(OptionsError, match="room for 3"):
        plan_hosts("t", 4, False, {}, usable_addresses()[3:])


@pytest.mark.parametrize("name", ["default", "ci-2", "a"])
def test_good_lab_names(name):
    assert check_lab_name(name) == name


@pytest.mark.parametrize("name", ["", "Default", "1lab", "a_b", "x" * 22, "a b", "../etc"])
def test_bad_lab_names(name):
    with pytest.raises(OptionsError, match="bad lab name"):
        check_lab_name(name)


def test_zones_round_robin_over_nodes_only():
    assert [zone_for(f"node{i}", "node") for i in range(1, 8)] == list("abcabca")
    assert zone_for("lb1", "lb") == ""


def test_known_hosts_lines_are_sorted_and_stripped():
    text = known_hosts_text({"198.18.0.3": "ssh-ed25519 BBB\n", "198.18.0.2": "ssh-ed25519 AAA"})
    assert text == "198.18.0.2 ssh-ed25519 AAA\n198.18.0.3 ssh-ed25519 BBB\n"


addresses = st.sampled_from(usable_addresses())


@given(
    nodes=st.integers(1, 260),
    lb=st.booleans(),
    taken=st.sets(addresses, max_size=120),
    keep=st.sets(st.integers(1, 260), max_size=20),
)
def test_plan_invariants(nodes, lb, taken, keep):
    """Addresses are unique, inside the subnet, never the gateway or another lab's, and a host
    that already exists keeps its address; a plan is refused exactly when it cannot fit."""
    free_for_existing = iter(a for a in usable_addresses() if a not in taken)
    existing = {}
    for index in sorted(keep):
        address = next(free_for_existing, None)
        if address is not None:
            existing[f"node{index}"] = address
    wanted = nodes + (1 if lb else 0)
    kept = sum(1 for name in existing if int(name[4:]) <= nodes)
    fits = wanted - kept <= 253 - len(taken) - kept
    if not fits:
        with pytest.raises(OptionsError):
            plan_hosts("p", nodes, lb, existing, taken)
        return
    hosts = plan_hosts("p", nodes, lb, existing, taken)
    assert len(hosts) == wanted
    assigned = [h.address for h in hosts]
    assert len(set(assigned)) == len(assigned)
    for host in hosts:
        address = ipaddress.IPv4Address(host.address)
        assert address in LAB_SUBNET and address != LAB_GATEWAY
        assert host.address not in taken
        if host.name in existing:
            assert host.address == existing[host.name]


def test_observed_from_inspect_running_and_stopped():
    from orchestr.lab.lab import observed_from_inspect

    def record(address, ipam, status="running", paused=False):
        return {
            "Id": "abc",
            "Config": {"Labels": {"orchestr.lab": "t", "orchestr.lab.host": "node2",
                                  "orchestr.lab.role": "node", "orchestr.lab.zone": "b",
                                  "orchestr.lab.image": "img:1"}},
            "NetworkSettings": {"Networks": {"orchestr-lab": {
                "IPAddress": address, "IPAMConfig": {"IPv4Address": ipam}}}},
            "State": {"Status": status, "Paused": paused},
        }  # fmt: skip

    running = observed_from_inspect(record("198.18.0.3", "198.18.0.3"))
    assert (running.host.name, running.host.address, running.state) == (
        "node2", "198.18.0.3", "running")  # fmt: skip
    assert running.host.zone == "b" and running.image == "img:1"
    stopped = observed_from_inspect(record("", "198.18.0.3", status="exited"))
    assert (stopped.host.address, stopped.state) == ("198.18.0.3", "exited")
    assert observed_from_inspect(record("198.18.0.3", "", paused=True)).state == "paused"

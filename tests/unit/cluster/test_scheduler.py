"""The scheduler: each filter and the reason it gives, the strategies and placement preferences on
examples, then properties over random hosts, usage and requests (hard rules never broken, spread
and preferences even, binpack packing, determinism, inputs untouched)."""

from __future__ import annotations

import copy
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestr.cluster.constraints import parse_constraint, satisfies
from orchestr.cluster.model import HostUsage, HostView, Resources
from orchestr.cluster.scheduler import (
    STRATEGIES,
    Assignment,
    Placement,
    PlacementRequest,
    eligible_hosts,
    place,
)
from orchestr.cluster.spec_types import Affinity, PortSpec

NOTHING = Resources()


def host(
    name: str, zone: str | None = "eu1", cpus: float = 4, memory: int = 4096, **kw
) -> HostView:
    attributes = {"inventory_hostname": name, **({"zone": zone} if zone is not None else {})}
    attributes.update(kw.pop("attributes", {}))
    return HostView(name, attributes, Resources(cpus, memory), **kw)


def used(*services: str, reserved: Resources = NOTHING, ports: set[int] | None = None) -> HostUsage:
    usage = HostUsage(ports=set(ports or ()))
    for service in services:
        usage.add(service, Resources())
    usage.reserved = reserved
    return usage


def hosts_of(placement: Placement) -> list[str]:
    return [assignment.host for assignment in placement.assignments]


# -- filters and their reasons ---------------------------------------------------------------


def test_the_message_names_every_cause() -> None:
    hosts = [
        host("us-1", zone="us1"),
        host("us-2", zone="us1"),
        host("us-3", zone="us1"),
        host("eu-port-1"),
        host("eu-port-2"),
        host("eu-down", up=False),
        host("eu-drained", schedulable=False),
        host("eu-full", memory=1024),
        host("eu-max"),
        host("eu-ok"),
    ]
    usage = {
        "eu-port-1": used(ports={8080}),
        "eu-port-2": used(ports={8080}),
        "eu-full": used("db", reserved=Resources(0, 768)),
        "eu-max": used("api"),
    }
    request = PlacementRequest(
        "api",
        3,
        resources=Resources(0, 512),
        ports=(PortSpec(80, 8080),),
        constraints=(parse_constraint("zone == eu1"),),
        max_per_host=1,
    )
    placement = place(request, hosts, usage)
    assert hosts_of(placement) == ["eu-ok"]
    assert placement.assignments[0].ports == ((80, 8080),)
    assert placement.unplaced == 2
    assert placement.message == (
        "2 of 3 replicas of api not placed: 3 hosts ruled out by zone == eu1, "
        "2 hosts ruled out by max_per_host 1, 2 hosts ruled out by port 8080 in use, "
        "1 host down, 1 host drained, 1 host ruled out by memory (needs 512 MB, 256 MB free)"
    )


def test_placed_message() -> None:
    placement = place(PlacementRequest("api", 2), [host("a")], {})
    assert placement.unplaced == 0 and placement.reasons == ()
    assert placement.message == "2 of 2 replicas of api placed"


def test_no_hosts() -> None:
    placement = place(PlacementRequest("api", 1), [], {})
    assert placement.reasons == ("no hosts",)
    assert placement.message == "1 of 1 replicas of api not placed: no hosts"


def test_a_host_counts_under_the_first_filter_that_rules_it_out() -> None:
    down_and_elsewhere = host("a", zone="us1", up=False)
    drained_and_elsewhere = host("b", zone="us1", schedulable=False)
    elsewhere_and_full = host("c", zone="us1", memory=0)
    request = PlacementRequest(
        "api", 1, resources=Resources(0, 64), constraints=(parse_constraint("zone == eu1"),)
    )
    placement = place(request, [down_and_elsewhere, drained_and_elsewhere, elsewhere_and_full], {})
    # Equal counts: in filter order.
    assert placement.reasons == ("1 host down", "1 host drained", "1 host ruled out by zone == eu1")


def test_constraints_each_by_its_own_text() -> None:
    request = PlacementRequest(
        "api",
        1,
        constraints=(
            parse_constraint("zone in [eu1, eu2]"),
            parse_constraint("ssd exists"),
            parse_constraint("facts.docker_version >= 20.10"),
        ),
    )
    hosts = [
        host("a", zone="us1"),
        host("b", attributes={"facts": {"docker_version": "24.0"}}),
        host("c", zone="eu2", attributes={"ssd": True, "facts": {"docker_version": "19.03"}}),
        host("d", zone="eu2", attributes={"ssd": True, "facts": {"docker_version": "20.10.1"}}),
    ]
    placement = place(request, hosts, {})
    assert hosts_of(placement) == ["d"]
    placement = place(request, hosts[:3], {})
    assert placement.reasons == (
        "1 host ruled out by zone in [eu1, eu2]",
        "1 host ruled out by ssd exists",
        "1 host ruled out by facts.docker_version >= 20.10",
    )


def test_hard_affinity_and_anti_affinity() -> None:
    hosts = [host("a"), host("b"), host("c")]
    usage = {"a": used("db"), "b": used("cache")}
    with_db = PlacementRequest("api", 3, affinity=(Affinity("db"),))
    placement = place(with_db, hosts, usage)
    assert hosts_of(placement) == ["a", "a", "a"]
    away = PlacementRequest(
        "api", 2, affinity=(Affinity("db", anti=True), Affinity("cache", anti=True))
    )
    placement = place(away, hosts, usage)
    assert hosts_of(placement) == ["c", "c"]
    placement = place(PlacementRequest("api", 1, affinity=(Affinity("db"),)), hosts[1:], usage)
    assert placement.reasons == ("2 hosts ruled out by affinity with db",)
    placement = place(away, hosts[:2], usage)
    assert placement.reasons == (  # in the order written
        "1 host ruled out by anti-affinity with db",
        "1 host ruled out by anti-affinity with cache",
    )


def test_anti_affinity_with_itself_is_one_replica_per_host() -> None:
    request = PlacementRequest("api", 4, affinity=(Affinity("api", anti=True),))
    placement = place(request, [host("a"), host("b"), host("c")], {"c": used("api")})
    assert sorted(hosts_of(placement)) == ["a", "b"]
    assert placement.reasons == ("3 hosts ruled out by anti-affinity with api",)


def test_affinity_with_itself_keeps_to_hosts_already_running_it() -> None:
    request = PlacementRequest("api", 3, affinity=(Affinity("api"),))
    placement = place(request, [host("a"), host("b")], {"b": used("api")})
    assert hosts_of(placement) == ["b", "b", "b"]


def test_max_per_host_counts_existing_replicas() -> None:
    request = PlacementRequest("api", 5, max_per_host=2)
    placement = place(request, [host("a"), host("b")], {"a": used("api", "api"), "b": used("api")})
    assert hosts_of(placement) == ["b"]
    assert placement.unplaced == 4
    assert placement.reasons == ("2 hosts ruled out by max_per_host 2",)


def test_resources_fill_hosts_then_say_what_is_free() -> None:
    request = PlacementRequest("api", 5, resources=Resources(1.5, 1000))
    hosts = [host("a", cpus=4, memory=8000), host("b", cpus=2, memory=2500)]
    placement = place(request, hosts, {})
    assert Counter(hosts_of(placement)) == {"a": 2, "b": 1}
    assert placement.reasons == ("2 hosts ruled out by cpus (needs 1.5 cpus, at most 1 cpu free)",)
    assert placement.usage["a"].reserved == Resources(3.0, 2000)
    memory_bound = PlacementRequest("api", 3, resources=Resources(0.5, 1000))
    placement = place(memory_bound, [host("b", cpus=2, memory=2500)], {})
    assert placement.reasons == ("1 host ruled out by memory (needs 1000 MB, 500 MB free)",)


def test_fractional_cpus_add_up_to_the_capacity() -> None:
    request = PlacementRequest("api", 3, resources=Resources(0.1, 0))
    placement = place(request, [host("a", cpus=0.3)], {})
    assert placement.unplaced == 0


def test_unknown_capacity_only_fits_requests_that_reserve_none_of_it() -> None:
    unknown = host("a", cpus=0, memory=0)
    assert place(PlacementRequest("api", 2), [unknown], {}).unplaced == 0
    cpu_only = PlacementRequest("api", 1, resources=Resources(1, 0))
    placement = place(cpu_only, [unknown], {})
    assert placement.reasons == ("1 host ruled out by cpus (needs 1 cpu, capacity unknown)",)
    memory_only = PlacementRequest("api", 1, resources=Resources(0, 256))
    assert place(memory_only, [host("b", cpus=0, memory=512)], {}).unplaced == 0
    placement = place(memory_only, [host("c", cpus=8, memory=0)], {})
    assert placement.reasons == ("1 host ruled out by memory (needs 256 MB, capacity unknown)",)


def test_a_request_reserving_nothing_fits_an_overcommitted_host() -> None:
    overcommitted = {"a": used("db", reserved=Resources(8, 9000))}
    assert place(PlacementRequest("api", 1), [host("a")], overcommitted).unplaced == 0


def test_fixed_ports_must_be_free() -> None:
    request = PlacementRequest("api", 3, ports=(PortSpec(80, 8080), PortSpec(443, 8443)))
    hosts = [host("a"), host("b"), host("c")]
    usage = {"a": used(ports={8443}), "c": used(ports={22})}
    placement = place(request, hosts, usage)
    assert sorted(hosts_of(placement)) == ["b", "c"]
    assert placement.assignments[0].ports == ((80, 8080), (443, 8443))
    assert placement.reasons == (
        "2 hosts ruled out by port 8080 in use",
        "1 host ruled out by port 8443 in use",
    )
    assert placement.usage["c"].ports == {22, 8080, 8443}


def test_port_ranges_take_the_lowest_free_port() -> None:
    request = PlacementRequest(
        "api",
        4,
        ports=(PortSpec(80, published_range=(30000, 30003)), PortSpec(9000)),
    )
    placement = place(request, [host("a")], {"a": used(ports={30000, 30002})})
    assert [assignment.ports for assignment in placement.assignments] == [
        ((80, 30001),),
        ((80, 30003),),
    ]
    assert placement.reasons == ("1 host ruled out by no free port in 30000-30003",)


def test_ports_of_one_replica_never_collide() -> None:
    request = PlacementRequest(
        "api",
        2,
        ports=(
            PortSpec(81, published_range=(8080, 8082)),
            PortSpec(80, 8080),
            PortSpec(82, published_range=(8080, 8082)),
        ),
    )
    placement = place(request, [host("a")], {})
    assert placement.assignments == (Assignment("a", ((81, 8081), (80, 8080), (82, 8082))),)
    assert placement.unplaced == 1
    same_port_twice = PlacementRequest("api", 1, ports=(PortSpec(80, 8080), PortSpec(81, 8080)))
    assert place(same_port_twice, [host("a")], {}).reasons == (
        "1 host ruled out by port 8080 in use",
    )


def test_unpublished_ports_take_no_host_port() -> None:
    placement = place(PlacementRequest("api", 2, ports=(PortSpec(80),)), [host("a")], {})
    assert [assignment.ports for assignment in placement.assignments] == [(), ()]


# -- strategies ------------------------------------------------------------------------------


def test_spread_evens_out_replicas_then_containers_then_name() -> None:
    hosts = [host("a"), host("b"), host("c")]
    usage = {"a": used("api"), "b": used("db", "db")}
    placement = place(PlacementRequest("api", 5), hosts, usage)
    # c (0 api, 0 containers), b (0 api), then a/b/c in turn by name
    assert hosts_of(placement) == ["c", "b", "a", "c", "b"]


def test_binpack_fills_the_fullest_host_first() -> None:
    hosts = [host("a", cpus=4), host("b", cpus=4), host("c", cpus=4)]
    usage = {"a": used("db", reserved=Resources(1, 0)), "b": used("db", reserved=Resources(2, 0))}
    request = PlacementRequest("api", 4, resources=Resources(1, 0), strategy="binpack")
    assert hosts_of(place(request, hosts, usage)) == ["b", "b", "a", "a"]


def test_binpack_prefers_a_used_host_even_with_nothing_reserved() -> None:
    hosts = [host("a"), host("b"), host("z")]
    placement = place(PlacementRequest("api", 2, strategy="binpack"), hosts, {"z": used("db")})
    assert hosts_of(placement) == ["z", "z"]


def test_random_is_repeatable_and_depends_on_seed_and_service() -> None:
    hosts = [host(f"h{number}") for number in range(20)]
    request = PlacementRequest("api", 30, strategy="random", seed=7)
    first = hosts_of(place(request, hosts, {}))
    assert first == hosts_of(place(request, list(reversed(hosts)), {}))
    assert len(set(first)) > 5
    other_seed = PlacementRequest("api", 30, strategy="random", seed=8)
    other_service = PlacementRequest("web", 30, strategy="random", seed=7)
    assert hosts_of(place(other_seed, hosts, {})) != first
    assert hosts_of(place(other_service, hosts, {})) != first


def test_random_only_draws_hosts_that_pass_the_filters() -> None:
    hosts = [host("a"), host("b", up=False), host("c", zone="us1"), host("d")]
    request = PlacementRequest(
        "api",
        20,
        strategy="random",
        max_per_host=5,
        constraints=(parse_constraint("zone == eu1"),),
    )
    placement = place(request, hosts, {})
    assert Counter(hosts_of(placement)) == {"a": 5, "d": 5}
    assert placement.unplaced == 10


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_soft_affinity_comes_before_the_strategy(strategy: str) -> None:
    hosts = [host("a"), host("b"), host("c")]
    usage = {"b": used("db"), "c": used("db", "cache")}
    near_db = PlacementRequest("api", 4, affinity=(Affinity("db", hard=False),), strategy=strategy)
    assert set(hosts_of(place(near_db, hosts, usage))) <= {"b", "c"}
    away_from_cache = PlacementRequest(
        "api",
        2,
        affinity=(Affinity("cache", anti=True, hard=False),),
        max_per_host=1,
        strategy=strategy,
    )
    assert sorted(hosts_of(place(away_from_cache, hosts, usage))) == ["a", "b"]
    # Soft: used when nothing better fits.
    placement = place(near_db, [host("a")], {})
    assert hosts_of(placement) == ["a"] * 4


def test_soft_anti_affinity_with_itself_spreads_first() -> None:
    request = PlacementRequest(
        "api", 4, affinity=(Affinity("api", anti=True, hard=False),), strategy="binpack"
    )
    placement = place(request, [host("a"), host("b"), host("c")], {"a": used("db")})
    assert hosts_of(placement)[:3] == ["a", "b", "c"]


def test_unknown_strategy_and_bad_input() -> None:
    with pytest.raises(ValueError, match="unknown placement strategy 'pack'; use one of binpack"):
        place(PlacementRequest("api", 1, strategy="pack"), [host("a")], {})
    with pytest.raises(ValueError, match="cannot place -1 replicas"):
        place(PlacementRequest("api", -1), [host("a")], {})
    with pytest.raises(ValueError, match="host a given twice"):
        place(PlacementRequest("api", 1), [host("a"), host("a")], {})


# -- placement preferences -------------------------------------------------------------------


def test_preferences_spread_over_values_counting_existing_replicas() -> None:
    hosts = [
        host("a1", zone="a"),
        host("a2", zone="a"),
        host("b1", zone="b"),
        host("none"),  # zone missing: its own group, after every value
    ]
    hosts[3] = host("none", zone=None)
    usage = {"a1": used("api", "api")}
    placement = place(PlacementRequest("api", 5, preferences=("zone",)), hosts, usage)
    assert hosts_of(placement) == ["b1", "none", "b1", "none", "a2"]


def test_preferences_skip_groups_that_cannot_take_a_replica() -> None:
    hosts = [host("a1", zone="a"), host("b1", zone="b", memory=100)]
    request = PlacementRequest("api", 3, resources=Resources(0, 200), preferences=("zone",))
    placement = place(request, hosts, {})
    assert hosts_of(placement) == ["a1", "a1", "a1"]


def test_preferences_are_hierarchical() -> None:
    hosts = [
        host(f"{zone}-{rack}-{number}", zone=zone, attributes={"rack": f"{zone}{rack}"})
        for zone in "ab"
        for rack in "xy"
        for number in range(3)
    ]
    hosts.append(host("c-x-0", zone="c", attributes={"rack": "cx"}))
    placement = place(PlacementRequest("api", 12, preferences=("zone", "rack")), hosts, {})
    zones = Counter(name.split("-")[0] for name in hosts_of(placement))
    racks = Counter(name.rsplit("-", 1)[0] for name in hosts_of(placement))
    assert zones == {"a": 4, "b": 4, "c": 4}
    assert racks == {"a-x": 2, "a-y": 2, "b-x": 2, "b-y": 2, "c-x": 4}


def test_preferences_count_only_hosts_that_pass_the_static_filters() -> None:
    hosts = [host("a1", zone="a", schedulable=False), host("a2", zone="a"), host("b1", zone="b")]
    usage = {"a1": used("api", "api", "api")}
    placement = place(PlacementRequest("api", 2, preferences=("zone",)), hosts, usage)
    assert hosts_of(placement) == ["a2", "b1"]


def test_list_attributes_group_by_all_their_items() -> None:
    hosts = [
        host("a", attributes={"group_names": ["web", "docker"]}),
        host("b", attributes={"group_names": ["docker", "web"]}),
        host("c", attributes={"group_names": ["docker"]}),
    ]
    placement = place(PlacementRequest("api", 2, preferences=("group_names",)), hosts, {})
    assert hosts_of(placement) == ["c", "a"]


# -- eligible hosts (global services) --------------------------------------------------------


def test_eligible_hosts() -> None:
    hosts = [host("b"), host("a", up=False), host("c", zone="us1"), host("d")]
    request = PlacementRequest(
        "agent",
        1,
        ports=(PortSpec(9100, 9100),),
        constraints=(parse_constraint("zone == eu1"),),
    )
    eligible, reasons = eligible_hosts(request, hosts, {"d": used(ports={9100})})
    assert eligible == ["b"]
    assert reasons == (
        "1 host down",
        "1 host ruled out by zone == eu1",
        "1 host ruled out by port 9100 in use",
    )
    assert eligible_hosts(request, [host("x")], {}) == (["x"], ())


# -- properties ------------------------------------------------------------------------------

SERVICES = ("api", "db", "web")
CONSTRAINTS = tuple(
    parse_constraint(text)
    for text in (
        "zone == a",
        "zone != b",
        "zone in [a, c]",
        "rack exists",
        "gpu missing",
        "ssd == true",
        "group_names contains web",
    )
)
PORT_CHOICES = (
    (),
    (PortSpec(80),),
    (PortSpec(80, 8080),),
    (PortSpec(80, published_range=(30000, 30003)),),
    (PortSpec(80, 8080), PortSpec(81, published_range=(8079, 8081))),
)


# Strategies built once: hypothesis spends most of these tests generating data.
_ATTRIBUTES = st.fixed_dictionaries(
    {"group_names": st.lists(st.sampled_from(["web", "db"]), unique=True)},
    optional={
        "zone": st.sampled_from("abc"),
        "rack": st.sampled_from(["r1", "r2"]),
        "ssd": st.booleans(),
    },
)
_HOST = st.tuples(
    _ATTRIBUTES,
    st.builds(Resources, st.sampled_from([4, 0, 1, 2, 8]), st.sampled_from([4096, 0, 512, 2048])),
    st.integers(0, 7).map(bool),  # up, mostly
    st.integers(0, 7).map(bool),  # schedulable, mostly
)
_HOSTS = st.lists(_HOST, min_size=1, max_size=10).map(
    lambda drawn: [
        HostView(f"h{number}", {"inventory_hostname": f"h{number}", **attributes}, capacity, up, ok)
        for number, (attributes, capacity, up, ok) in enumerate(drawn)
    ]
)
_CONTAINERS = st.lists(
    st.tuples(st.sampled_from(SERVICES), st.sampled_from([0, 0.5]), st.sampled_from([0, 256])),
    max_size=4,
)
_USAGE = st.none() | st.tuples(
    _CONTAINERS, st.sets(st.sampled_from([22, 8080, 8081, 30000, 30001]))
)
_REQUEST = {
    "service": st.sampled_from(SERVICES[:2]),
    "count": st.integers(0, 12),
    "resources": st.builds(
        Resources, st.sampled_from([0, 0, 0.5, 1]), st.sampled_from([0, 0, 256, 512])
    ),
    "ports": st.sampled_from(PORT_CHOICES),
    "constraints": st.lists(st.sampled_from(CONSTRAINTS), max_size=2).map(tuple),
    "preferences": st.lists(st.sampled_from(["zone", "rack"]), unique=True).map(tuple),
    "affinity": st.lists(
        st.builds(
            Affinity,
            st.sampled_from(SERVICES),
            st.booleans(),
            st.sampled_from([False, False, True]),  # hard, less often: hard rules place little
        ),
        max_size=2,
    ).map(tuple),
    "max_per_host": st.none() | st.integers(0, 4),
    "strategy": st.sampled_from(sorted(STRATEGIES)),
    "seed": st.integers(0, 3),
}


def requests(**fixed) -> st.SearchStrategy[PlacementRequest]:
    """Random requests; a field given is fixed, or drawn from the strategy given for it."""
    fields = dict(_REQUEST)
    for name, value in fixed.items():
        fields[name] = value if isinstance(value, st.SearchStrategy) else st.just(value)
    return st.builds(PlacementRequest, **fields)


@st.composite
def usages(draw: st.DrawFn, views: list[HostView]) -> dict[str, HostUsage]:
    usage: dict[str, HostUsage] = {}
    for view in views:
        drawn = draw(_USAGE)
        if drawn is None:
            continue
        containers, ports = drawn
        host_usage = HostUsage(ports=set(ports))
        for service, cpus, memory_mb in containers:
            host_usage.add(service, Resources(cpus, memory_mb))
        usage[view.name] = host_usage
    return usage


@st.composite
def scenarios(draw: st.DrawFn, fresh: bool = False, **fixed):
    views = draw(_HOSTS)
    usage = {} if fresh else draw(usages(views))
    return draw(requests(**fixed)), views, usage


def replay(
    usage: dict[str, HostUsage], request: PlacementRequest, assignments
) -> dict[str, HostUsage]:
    """The usage after the assignments, worked out independently of the scheduler."""
    result = {name: host_usage.copy() for name, host_usage in usage.items()}
    for assignment in assignments:
        ports = tuple(port for _, port in assignment.ports)
        result.setdefault(assignment.host, HostUsage()).add(
            request.service, request.resources, ports
        )
    return result


SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(scenarios())
def test_hard_rules_are_never_broken(scenario) -> None:
    request, views, usage = scenario
    before = copy.deepcopy(usage)
    placement = place(request, views, usage)
    assert usage == before  # the input is not mutated

    assert len(placement.assignments) + placement.unplaced == request.count
    assert placement.unplaced >= 0
    if placement.unplaced:
        assert placement.reasons
    else:
        assert placement.reasons == ()

    by_name = {view.name: view for view in views}
    new = Counter(hosts_of(placement))
    for name, added in new.items():
        view = by_name[name]
        old = usage.get(name, HostUsage())
        assert view.up and view.schedulable
        assert all(satisfies(constraint, view.attributes) for constraint in request.constraints)
        for affinity in request.affinity:
            if not affinity.hard:
                continue
            if affinity.anti and affinity.service == request.service:
                assert old.per_service.get(request.service, 0) == 0 and added == 1
            elif affinity.anti:
                assert old.per_service.get(affinity.service, 0) == 0
            else:
                assert old.per_service.get(affinity.service, 0) > 0
        if request.max_per_host is not None:
            assert old.per_service.get(request.service, 0) + added <= request.max_per_host
        need = request.resources
        if need.cpus:
            assert 0 < old.reserved.cpus + added * need.cpus <= view.capacity.cpus + 1e-9
        if need.memory_mb:
            assert 0 < old.reserved.memory_mb + added * need.memory_mb <= view.capacity.memory_mb

    taken = {name: set(host_usage.ports) for name, host_usage in usage.items()}
    published = [spec for spec in request.ports if spec.fixed or spec.published_range]
    for assignment in placement.assignments:
        assert [target for target, _ in assignment.ports] == [spec.target for spec in published]
        for spec, (_, port) in zip(published, assignment.ports, strict=True):
            if spec.fixed:
                assert port == spec.published
            else:
                low, high = spec.published_range
                assert low <= port <= high
            assert port not in taken.setdefault(assignment.host, set())
            taken[assignment.host].add(port)

    assert placement.usage == replay(usage, request, placement.assignments)
    if placement.unplaced:  # nothing more would fit anywhere
        assert eligible_hosts(request, views, placement.usage)[0] == []


@SETTINGS
@given(scenarios())
def test_same_input_same_output(scenario) -> None:
    request, views, usage = scenario
    first = place(request, views, usage)
    assert place(request, views, usage) == first
    assert place(request, list(reversed(views)), usage) == first
    assert first.message == place(request, views, usage).message


@SETTINGS
@given(
    scenarios(
        fresh=True,
        strategy="spread",
        preferences=(),
        resources=Resources(),
        ports=(),
        count=st.integers(0, 40),
    )
)
def test_spread_keeps_per_host_counts_within_one(scenario) -> None:
    request, views, usage = scenario
    # Affinity to the service itself is not spread's business.
    request = _without_self_affinity(request)
    eligible, _ = eligible_hosts(request, views, usage)
    placement = place(request, views, usage)
    counts = Counter(hosts_of(placement))
    per_host = [counts[name] for name in eligible]
    if per_host:
        assert max(per_host) - min(per_host) <= 1
    assert set(counts) <= set(eligible)


@SETTINGS
@given(
    scenarios(
        fresh=True,
        preferences=("zone", "rack"),
        resources=Resources(),
        ports=(),
        max_per_host=None,
    ),
    st.integers(0, 40),
)
def test_preferences_keep_per_value_counts_within_one(scenario, count: int) -> None:
    request, views, usage = scenario
    request = _without_self_affinity(request, count=count)
    eligible = set(eligible_hosts(request, views, usage)[0])
    placement = place(request, views, usage)
    assert set(hosts_of(placement)) <= eligible
    by_name = {view.name: view for view in views}

    def value(name: str, attribute: str) -> str | None:
        return by_name[name].attributes.get(attribute)

    zones = Counter(value(name, "zone") for name in hosts_of(placement))
    for zone in {value(name, "zone") for name in eligible}:
        zones.setdefault(zone, 0)
    if zones:
        assert max(zones.values()) - min(zones.values()) <= 1
    for zone in zones:
        racks = Counter(
            value(name, "rack") for name in hosts_of(placement) if value(name, "zone") == zone
        )
        for name in eligible:
            if value(name, "zone") == zone:
                racks.setdefault(value(name, "rack"), 0)
        assert max(racks.values()) - min(racks.values()) <= 1


@SETTINGS
@given(scenarios(strategy="binpack", preferences=()))
def test_binpack_never_opens_an_empty_host_while_a_used_one_fits(scenario) -> None:
    request, views, usage = scenario
    request = _without_soft_affinity(request)
    placement = place(request, views, usage)
    for step, assignment in enumerate(placement.assignments):
        before = replay(usage, request, placement.assignments[:step])
        if before.get(assignment.host, HostUsage()).containers:
            continue
        fitting = eligible_hosts(request, views, before)[0]
        assert all(before.get(name, HostUsage()).containers == 0 for name in fitting)


def _without_self_affinity(request: PlacementRequest, **changes) -> PlacementRequest:
    affinity = tuple(a for a in request.affinity if a.service != request.service)
    return PlacementRequest(**{**request.__dict__, "affinity": affinity, **changes})


def _without_soft_affinity(request: PlacementRequest) -> PlacementRequest:
    affinity = tuple(a for a in request.affinity if a.hard)
    return PlacementRequest(**{**request.__dict__, "affinity": affinity})

"""The store's record after a fault (issue 14). B2, deploy history after an interrupted deploy:
a command killed mid-rollout leaves its deploy "running" with its spec already stored. The next run of the same spec adopts and
finishes that deploy, so "last good" is what last ran healthy; a run of another spec closes it
as interrupted. A sweep that heals the stored spec to health adopts it too. B6, a lost store is
rebuilt from the replicas' labels."""

from __future__ import annotations

from orchestration_fakes import Fleet, spec

from orchestr.cluster.deploy import Change, converge
from orchestr.cluster.spec import spec_hash, spec_to_dict
from orchestr.health.sweep import Sweeper, SweepOptions

HOSTS = ("node1", "node2")


def ok(done) -> None:  # noqa: ANN001
    assert [r.message for r in done.reports if r.failed] == []


def interrupted(fleet: Fleet, new) -> None:  # noqa: ANN001
    """What a deploy killed right after it began leaves: its deploy record "running" and its
    spec stored as the service's (both are written before the rollout starts)."""
    store = fleet.store
    stored = store.get_service(new.name)
    deploy = store.begin_deploy(new.name, spec_to_dict(new), spec_hash(new), user="ops",
                                command="orchestr apply (killed)")  # fmt: skip
    store.set_service(new.name, spec_to_dict(new), spec_hash(new), deploy.id, list(stored.hosts))


def history(fleet: Fleet, name: str) -> list[tuple[int, str, str]]:
    return [(d.number, d.spec["image"], d.status) for d in fleet.store.deploys(name)]


async def test_a_rerun_adopts_the_interrupted_deploy(fleet: Fleet) -> None:
    v1 = spec("web", replicas=2, ports=["8080:80"])
    v2 = spec("web", image="app:2", replicas=2, ports=["8080:80"])
    ok(await converge(fleet.cluster(), [Change(v1, HOSTS)]))
    interrupted(fleet, v2)

    done = await converge(fleet.cluster(), [Change(v2, HOSTS)])
    ok(done)
    assert done.reports[0].deploy_number == 2
    assert history(fleet, "web") == [(1, "app:1", "succeeded"), (2, "app:2", "succeeded")]
    # What a failing third deploy would roll back to: the version that last ran healthy.
    assert fleet.store.last_good_deploy("web", before=3).number == 2
    images = {fleet.dockers[h].containers[n]["Config"]["Image"]
              for n, h in fleet.running("web").items()}  # fmt: skip
    assert images == {"app:2"}


async def test_a_run_of_another_spec_closes_the_interrupted_deploy(fleet: Fleet) -> None:
    v1 = spec("web", replicas=2, ports=["8080:80"])
    v2 = spec("web", image="app:2", replicas=2, ports=["8080:80"])
    ok(await converge(fleet.cluster(), [Change(v1, HOSTS)]))
    interrupted(fleet, v2)

    done = await converge(fleet.cluster(), [Change(v1, HOSTS)])
    ok(done)
    assert done.reports[0].deploy_number == 3
    assert history(fleet, "web") == [(1, "app:1", "succeeded"), (2, "app:2", "interrupted"),
                                     (3, "app:1", "succeeded")]  # fmt: skip
    # v2 never proved itself: it is never a rollback target.
    assert fleet.store.last_good_deploy("web", before=4).number == 3
    assert fleet.store.last_good_deploy("web", before=3).number == 1


async def test_a_rerun_with_nothing_left_to_do_still_finishes_the_deploy(fleet: Fleet) -> None:
    """Killed after the last replica was confirmed, before the deploy was finished."""
    v1 = spec("web", replicas=1, ports=["8080:80"])
    ok(await converge(fleet.cluster(), [Change(v1, HOSTS)]))
    deploy = fleet.store.deploys("web")[0]
    fleet.store._write("UPDATE deploys SET status = 'running' WHERE id = ?", (deploy.id,))

    done = await converge(fleet.cluster(), [Change(v1, HOSTS)])
    ok(done)
    assert done.reports[0].deploy_number == 1
    assert history(fleet, "web") == [(1, "app:1", "succeeded")]


async def test_a_sweep_that_heals_the_stored_spec_adopts_the_interrupted_deploy(
    fleet: Fleet,
) -> None:
    v1 = spec("web", replicas=2, ports=["8080:80"])
    v2 = spec("web", image="app:2", replicas=2, ports=["8080:80"])
    ok(await converge(fleet.cluster(), [Change(v1, HOSTS)]))
    interrupted(fleet, v2)

    await Sweeper(fleet.cluster(), SweepOptions(host_fall=1, grace=0)).sweep()
    assert history(fleet, "web") == [(1, "app:1", "succeeded"), (2, "app:2", "succeeded")]


async def test_a_lost_store_is_rebuilt_from_the_labels_before_a_reapply(fleet: Fleet) -> None:
    """B6: the store moved aside (as its damage message advises) and one playbook re-applied:
    the other playbook's service stays in discovery, its record and slots come back."""
    from orchestration_fakes import endpoints

    from orchestr.store.store import Store

    a = spec("a", ports=["8080:80"], lb_port=8091, env={"TOKEN": "s3cret"})
    b = spec("b", replicas=2, ports=["8080:80"], lb_port=8092)
    ok(await converge(fleet.cluster(), [Change(a, ("node1",))]))
    ok(await converge(fleet.cluster(), [Change(b, ("node2", "node3"))]))
    fleet.store.close()
    (fleet.root / "state.db").rename(fleet.root / "state.db.broken")
    fleet.store = Store.open(fleet.root / "state.db")
    first = len(fleet.snapshots)

    done = await converge(fleet.cluster(), [Change(a, ("node1",))])
    ok(done)
    assert not done.reports[0].changed  # a was rebuilt as it runs: nothing to do
    assert all(endpoints(s, "b") for s in fleet.snapshots[first:])
    assert {h for _, h, _ in endpoints(fleet.snapshots[-1], "b")} == {"node2", "node3"}
    stored = fleet.store.get_service("b")
    assert stored.hosts == ("node2", "node3")
    assert sorted(r.host for r in fleet.store.slots("b").values()) == ["node2", "node3"]
    assert dict(map(tuple, fleet.store.get_service("a").spec["env"])) == {"TOKEN": "s3cret"}
    assert [e.kind for e in fleet.store.events()].count("store rebuilt") == 1


async def test_an_older_store_restored_is_restored_by_gated_updates_not_all_at_once(
    fleet: Fleet,
) -> None:
    """An older copy of the store put back: a sweep adopts what runs (newer epochs) and brings
    it to the stored spec by the update policy's batches; nothing is removed and placed anew."""
    import shutil

    from orchestr.store.store import Store

    v1 = spec("web", replicas=3, ports=["8100-8109:80"])
    v2 = spec("web", image="app:2", replicas=3, ports=["8100-8109:80"])
    hosts = ("node1", "node2", "node3")
    ok(await converge(fleet.cluster(), [Change(v1, hosts)]))
    fleet.store.close()
    shutil.copy(fleet.root / "state.db", fleet.root / "backup.db")
    fleet.store = Store.open(fleet.root / "state.db")
    ok(await converge(fleet.cluster(), [Change(v2, hosts)]))
    fleet.store.close()
    shutil.copy(fleet.root / "backup.db", fleet.root / "state.db")
    fleet.store = Store.open(fleet.root / "state.db")

    first = len(fleet.entries)
    report = await Sweeper(fleet.cluster(), SweepOptions(host_fall=1, grace=0)).sweep()
    assert sorted(s.kind for s in report.steps) == ["update", "update", "update"]
    updates = [e.argv[1] for e in fleet.entries[first:]
               if e.argv[:2] in (("docker", "run"), ("docker", "rm"))]  # fmt: skip
    assert updates == ["run", "rm"] * 3  # one replica at a time (parallelism 1), gated
    images = {fleet.dockers[h].containers[n]["Config"]["Image"]
              for n, h in fleet.running("web").items()}  # fmt: skip
    assert images == {"app:1"}
    epochs = {r.epoch for r in fleet.store.slots("web").values()}
    assert epochs == {3}  # v1 at 1, v2 at 2, restored to v1 at 3: never back to 1

"""A lost store rebuilt from the replicas' labels (cluster/recover.py): any spec survives the
round trip through a replica's labels and environment with the same spec hash, the newest live
replica of each slot is its record, and what cannot be read back is said, never guessed."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from test_spec import service_args

from orchestr.cluster.commands import replica_options
from orchestr.cluster.model import LABEL_RECORD
from orchestr.cluster.recover import record_label, recover
from orchestr.cluster.spec import parse_service, spec_from_dict, spec_hash


def document(spec, slot: str, epoch: int, *, host: str = "node1", state: str = "running",
             candidates: tuple[str, ...] = ("node1", "node2")) -> dict[str, Any]:  # noqa: ANN001
    """What `docker inspect` shows of a replica orchestr started."""
    options = replica_options(spec, slot, epoch, (), host, record_label(spec, candidates))
    return {"Config": {"Labels": dict(options.labels),
                       "Env": ["PATH=/usr/bin", *(f"{k}={v}" for k, v in options.env)]},
            "State": {"Status": state}}  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(service_args())
def test_any_spec_is_rebuilt_from_its_replicas_labels_with_the_same_hash(args):
    spec = parse_service(args, location="play.yml:3")
    recovery = recover({"node1": [document(spec, "1", 2)]})
    assert recovery.problems == []
    (service,) = recovery.services
    back = spec_from_dict(service.spec)
    assert back == spec.__class__(**{**spec.__dict__, "location": ""})
    assert service.spec_hash == spec_hash(spec)
    assert service.hosts == ("node1", "node2")
    assert service.slots == {"1": (2, "node1")}


def test_no_env_value_is_written_into_a_label():
    spec = parse_service({"name": "db", "image": "pg:16",
                          "env": {"DB_PASSWORD": "hunter2", "MODE": "prod"}})  # fmt: skip
    labels = dict(replica_options(spec, "1", 1, (), "node1", record_label(spec, ["node1"])).labels)
    assert "hunter2" not in labels[LABEL_RECORD] and "prod" not in labels[LABEL_RECORD]
    (service,) = recover({"node1": [document(spec, "1", 1)]}).services
    assert dict(map(tuple, service.spec["env"])) == {"DB_PASSWORD": "hunter2", "MODE": "prod"}


def test_each_slot_is_its_newest_live_replica_across_hosts():
    web = parse_service({"name": "web", "image": "app:1", "replicas": 2})
    found = {
        "node1": [document(web, "1", 1, host="node1"),  # fenced copy left behind, stopped
                  document(web, "2", 4, host="node1", state="exited")],
        "node2": [document(web, "1", 3, host="node2"), document(web, "2", 2, host="node2")],
    }  # fmt: skip
    (service,) = recover(found).services
    assert service.slots == {"1": (3, "node2"), "2": (2, "node2")}


def test_several_services_and_foreign_containers():
    web = parse_service({"name": "web", "image": "app:1"})
    api = parse_service({"name": "api", "image": "app:2", "env": {"A": "1"}})
    foreign = {"Config": {"Labels": {"com.example": "x"}, "Env": []}, "State": {}}
    damaged = document(web, "9", 1)
    damaged["Config"]["Labels"]["orchestr.epoch"] = "not a number"
    recovery = recover({"node1": [document(web, "1", 1), foreign, damaged],
                        "node2": [document(api, "1", 5, host="node2")], "node3": []})  # fmt: skip
    assert [s.name for s in recovery.services] == ["api", "web"]
    assert recovery.services[1].slots == {"1": (1, "node1")}
    assert recovery.containers == 2


def test_what_cannot_be_read_back_is_a_problem_not_a_guess():
    web = parse_service({"name": "web", "image": "app:1"})
    old = document(web, "1", 1)
    del old["Config"]["Labels"][LABEL_RECORD]  # made before records existed
    garbled = document(parse_service({"name": "api", "image": "x"}), "1", 1)
    garbled["Config"]["Labels"][LABEL_RECORD] = "{not json"
    edited = document(parse_service({"name": "db", "image": "x", "env": {"K": "v"}}), "1", 1)
    edited["Config"]["Env"] = ["K=changed by hand"]  # no longer the spec its hash says
    recovery = recover({"node1": [old, garbled, edited]})
    assert recovery.services == []
    assert [p.split(":")[0] for p in recovery.problems] == ["api", "db", "web"]
    assert all("apply its playbook again" in p for p in recovery.problems)


def test_the_label_is_compact_json():
    spec = parse_service({"name": "web", "image": "app:1"})
    text = record_label(spec, ["node1"])
    assert json.loads(text)["hosts"] == ["node1"] and ", " not in text

"""serial: batches cut as Ansible cuts them (pure)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestr.playbook.runner import batches

HOSTS = [f"h{i}" for i in range(10)]


@pytest.mark.parametrize(
    ("serial", "sizes"),
    [
        ((), [10]),
        ((3,), [3, 3, 3, 1]),
        (("30%",), [3, 3, 3, 1]),
        ((1, 2, "50%"), [1, 2, 5, 2]),
        (("5%",), [1] * 10),  # rounds down, but never below one host
        ((100,), [10]),
    ],
)
def test_batch_sizes(serial, sizes):
    assert [len(b) for b in batches(HOSTS, serial)] == sizes


@given(
    hosts=st.lists(st.text(min_size=1, max_size=3), unique=True, max_size=30),
    serial=st.lists(
        st.one_of(st.integers(1, 12), st.integers(1, 100).map(lambda p: f"{p}%")), max_size=4
    ),  # fmt: skip
)
def test_batches_cover_every_host_once_in_order(hosts, serial):
    cut = batches(hosts, tuple(serial))
    assert [h for batch in cut for h in batch] == hosts
    assert all(batch for batch in cut)

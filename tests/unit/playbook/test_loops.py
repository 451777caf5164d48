"""with_<lookup> items as Ansible yields them (pure)."""

import pytest

from orchestr.playbook.loops import LoopError, loop_items, sequence_items


@pytest.mark.parametrize(
    ("lookup", "terms", "items"),
    [
        ("items", [[1, 2], 3, [4]], [1, 2, 3, 4]),
        ("items", "single", ["single"]),
        ("list", [[1, 2], 3], [[1, 2], 3]),
        ("dict", {"a": 1, "b": 2}, [{"key": "a", "value": 1}, {"key": "b", "value": 2}]),
        ("indexed_items", ["a", "b"], [[0, "a"], [1, "b"]]),
        ("nested", [[1, 2], ["x"]], [[1, "x"], [2, "x"]]),
        ("together", [[1, 2], ["a"]], [[1, "a"], [2, None]]),
        ("subelements", [[{"n": 1, "l": ["a", "b"]}], "l"],
         [[{"n": 1, "l": ["a", "b"]}, "a"], [{"n": 1, "l": ["a", "b"]}, "b"]]),
    ],
)  # fmt: skip
def test_lookups(lookup, terms, items):
    assert loop_items(lookup, terms) == items


@pytest.mark.parametrize(
    ("terms", "items"),
    [
        ("start=1 end=3", ["1", "2", "3"]),
        ("start=0 end=10 stride=5 format=web%02d", ["web00", "web05", "web10"]),
        ("count=3", ["1", "2", "3"]),
        ("start=4 count=2 stride=2", ["4", "6"]),
        ("1-3", ["1", "2", "3"]),
    ],
)
def test_sequence(terms, items):
    assert sequence_items(terms) == items


def test_with_dict_needs_a_dict():
    with pytest.raises(LoopError, match="with_dict expects a dict"):
        loop_items("dict", [1])


def test_unknown_lookup():
    with pytest.raises(LoopError, match="with_bogus is not supported"):
        loop_items("bogus", [])

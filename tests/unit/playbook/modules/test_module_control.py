"""debug, set_fact, assert, fail, pause: local decisions."""

from __future__ import annotations

import pytest
from modules_fake import FakeContext

from orchestr.playbook.modules.base import ModuleError, lookup
from orchestr.playbook.modules.control import NOT_DEFINED, pause_seconds


async def run(name, args, ctx=None):
    spec = lookup(name)
    assert spec is not None and spec.local
    return await spec.run(args, ctx or FakeContext())


async def test_debug_default_message():
    result = await run("debug", {})
    assert result.msg == "Hello world!" and not result.changed
    assert result.registered()["msg"] == "Hello world!"


async def test_debug_msg_keeps_its_type():
    result = await run("debug", {"msg": ["a", 1]})
    assert result.registered()["msg"] == ["a", 1]


async def test_debug_var_evaluates_an_expression():
    ctx = FakeContext(variables={"ports": [80, 443]})
    result = await run("debug", {"var": "ports | length"}, ctx)
    assert result.data == {"ports | length": 2}


async def test_debug_var_undefined():
    result = await run("debug", {"var": "nothing_here"})
    assert result.data == {"nothing_here": NOT_DEFINED} and not result.failed


async def test_debug_verbosity_threshold():
    result = await run("debug", {"msg": "x", "verbosity": 2}, FakeContext(verbosity=1))
    assert result.skipped and result.data["skipped_reason"] == "Verbosity threshold not met."
    shown = await run("debug", {"msg": "x", "verbosity": 2}, FakeContext(verbosity=2))
    assert not shown.skipped and shown.msg == "x"


async def test_debug_msg_and_var_are_exclusive():
    with pytest.raises(ModuleError, match="mutually exclusive"):
        await run("debug", {"msg": "a", "var": "b"})


async def test_set_fact_returns_facts_for_the_runner():
    result = await run("set_fact", {"a": 1, "b": {"c": [2]}, "cacheable": True})
    assert result.data["ansible_facts"] == {"a": 1, "b": {"c": [2]}}
    assert result.data["_ansible_facts_cacheable"] is True and not result.changed


@pytest.mark.parametrize("name", ["1abc", "a-b", "for", ""])
async def test_set_fact_rejects_bad_names(name):
    with pytest.raises(ModuleError, match="Invalid variable name"):
        await run("set_fact", {name: 1})


async def test_set_fact_needs_a_pair():
    with pytest.raises(ModuleError, match="No key/value pairs"):
        await run("set_fact", {"cacheable": False})


async def test_assert_passes():
    ctx = FakeContext(variables={"x": 3})
    result = await run("assert", {"that": ["x > 1", "x < 5"]}, ctx)
    assert not result.failed and result.msg == "All assertions passed"


async def test_assert_fails_on_first_false_condition():
    ctx = FakeContext(variables={"x": 3})
    result = await run(
        "assert", {"that": ["x > 1", "x > 5", "undefined_var"], "fail_msg": "too small"}, ctx
    )
    assert result.failed and result.msg == "too small"
    assert result.data["assertion"] == "x > 5" and result.data["evaluated_to"] is False


async def test_assert_single_condition_string_and_success_msg():
    ctx = FakeContext(variables={"x": 3})
    result = await run("assert", {"that": "x == 3", "success_msg": "fine", "quiet": True}, ctx)
    assert result.msg == "fine" and "_ansible_verbose_always" not in result.data


async def test_assert_condition_error_fails_the_task():
    with pytest.raises(ModuleError, match="conditional check"):
        await run("assert", {"that": ["missing > 1"]})


async def test_assert_without_evaluate_says_so():
    class Bare:
        check_mode = False

    with pytest.raises(ModuleError, match="evaluate"):
        await lookup("assert").run({"that": ["1"]}, Bare())  # type: ignore[arg-type]


async def test_fail():
    result = await run("fail", {})
    assert result.failed and result.msg == "Failed as requested from task"
    assert (await run("fail", {"msg": "stop"})).msg == "stop"


def test_pause_durations():
    assert pause_seconds({"seconds": "2"}) == 2
    assert pause_seconds({"minutes": 1.5}) == 90
    assert pause_seconds({"seconds": 5, "minutes": 1}) == 60
    assert pause_seconds({"prompt": "go?"}) is None
    with pytest.raises(ModuleError):
        pause_seconds({"seconds": "soon"})


async def test_pause_waits_and_reports():
    result = await run("pause", {"seconds": 0.01})
    assert result.data["stdout"] == "Paused for 0.01 seconds" and result.data["user_input"] == ""
    assert lookup("pause").run_once


async def test_pause_without_duration_does_not_block():
    result = await run("pause", {"prompt": "Continue?"})
    assert not result.failed


async def test_debug_var_undefined_through_the_real_templar_message():
    from orchestr.playbook.templar import TemplateError

    def evaluator(expression):
        raise TemplateError(f"'{expression}' is undefined")

    result = await run("debug", {"var": "ghost"}, FakeContext(evaluator=evaluator))
    assert result.data == {"ghost": NOT_DEFINED}

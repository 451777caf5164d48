"""debug, set_fact, assert, fail and pause: decided on the controller, no connection needed.
Conditions and `var` expressions go through the templar the runner provides as ctx.evaluate."""

from __future__ import annotations

import asyncio
import keyword
import time
from typing import Any

import jinja2

from orchestr.playbook.modules.base import (
    Arg,
    ModuleContext,
    ModuleError,
    ModuleResult,
    as_bool,
    module,
)

NOT_DEFINED = "VARIABLE IS NOT DEFINED!"


def _evaluator(ctx: ModuleContext) -> Any:
    evaluate = getattr(ctx, "evaluate", None)
    if evaluate is None:
        raise ModuleError("this runner's context cannot evaluate expressions (ctx.evaluate)")
    return evaluate


def _is_undefined_error(error: Exception) -> bool:
    """The templar reports an undefined name as a TemplateError saying "... is undefined"."""
    if any("Undefined" in kind.__name__ for kind in type(error).__mro__):
        return True
    return "undefined" in str(error).lower()


def _messages(value: Any) -> Any:
    """A msg argument as given: text, or a list of texts (assert's fail_msg/success_msg)."""
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    return value


@module("debug", args={"msg": Arg(type="raw"), "var": Arg(), "verbosity": Arg(type="int", default=0)},
        local=True)  # fmt: skip
async def debug(args: dict[str, Any], ctx: ModuleContext) -> ModuleResult:
    """msg (any value) or the value of a `var` expression, shown from the given verbosity on."""
    if args.get("msg") is not None and args.get("var"):
        raise ModuleError("parameters are mutually exclusive: msg|var")
    if int(args.get("verbosity") or 0) > int(getattr(ctx, "verbosity", 0) or 0):
        return ModuleResult(skipped=True, data={"skipped_reason": "Verbosity threshold not met."})
    expression = args.get("var")
    if expression:
        expression = str(expression)
        try:
            value = _evaluator(ctx)(expression)
        except ModuleError:
            raise
        except Exception as error:
            if not _is_undefined_error(error):
                raise ModuleError(
                    f"Error while resolving `var` expression {expression!r}: {error}"
                ) from error
            value = NOT_DEFINED
        if isinstance(value, jinja2.Undefined):
            value = NOT_DEFINED
        return ModuleResult(data={expression: value})
    message = args.get("msg", "Hello world!")
    if message is None:
        message = "Hello world!"
    # A message that is not text (a list, a dict) stays in data so `register` keeps its type.
    return ModuleResult(msg=message if isinstance(message, str) else "", data={"msg": message})


def fact_names(args: dict[str, Any]) -> dict[str, Any]:
    """set_fact's key/value pairs, their names checked as Ansible's validate_variable_name."""
    facts = {key: value for key, value in args.items() if key != "cacheable"}
    if not facts:
        raise ModuleError(
            "No key/value pairs provided, at least one is required for this action to succeed"
        )
    for name in facts:
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise ModuleError(f"Invalid variable name in 'set_fact' specified: {name!r}")
    return facts


@module("set_fact", args={"cacheable": Arg(type="bool", default=False)}, local=True, any_args=True)
async def set_fact(args: dict[str, Any], ctx: ModuleContext) -> ModuleResult:
    """Host variables from the task's arguments: the runner stores data["ansible_facts"]."""
    facts = fact_names(args)
    return ModuleResult(
        data={
            "ansible_facts": facts,
            "_ansible_facts_cacheable": as_bool(args.get("cacheable", False)),
        }
    )


@module(
    "assert",
    args={
        "that": Arg(type="list", required=True),
        "fail_msg": Arg(type="raw", default="Assertion failed", aliases=("msg",)),
        "success_msg": Arg(type="raw", default="All assertions passed"),
        "quiet": Arg(type="bool", default=False),
    },
    local=True,
)
async def assert_(args: dict[str, Any], ctx: ModuleContext) -> ModuleResult:
    """Every condition of `that` must hold; the first false one fails with fail_msg."""
    that = args.get("that")
    conditions = that if isinstance(that, list | tuple) else [that]
    evaluate = _evaluator(ctx)
    for condition in conditions:
        if isinstance(condition, bool):
            outcome: Any = condition
        else:
            try:
                outcome = evaluate(str(condition))
            except Exception as error:
                raise ModuleError(f"The conditional check {condition!r} failed: {error}") from error
        if not outcome:
            message = _messages(args.get("fail_msg", "Assertion failed"))
            return ModuleResult(
                failed=True,
                msg=message if isinstance(message, str) else "",
                data={"msg": message, "assertion": condition, "evaluated_to": outcome},
            )
    message = _messages(args.get("success_msg", "All assertions passed"))
    data: dict[str, Any] = {"msg": message}
    if not as_bool(args.get("quiet", False)):
        data["_ansible_verbose_always"] = True
    return ModuleResult(msg=message if isinstance(message, str) else "", data=data)


@module("fail", args={"msg": Arg(type="raw", default="Failed as requested from task")}, local=True)
async def fail(args: dict[str, Any], ctx: ModuleContext) -> ModuleResult:
    message = args.get("msg")
    if message is None:
        message = "Failed as requested from task"
    return ModuleResult(
        failed=True,
        msg=message if isinstance(message, str) else str(message),
        data={"msg": message},
    )


def pause_seconds(args: dict[str, Any]) -> float | None:
    """How long to wait (minutes win over seconds, as Ansible), or None to wait for Enter."""
    total: float | None = None
    for name, factor in (("seconds", 1), ("minutes", 60)):
        value = args.get(name)
        if value is not None and value != "":
            try:
                total = float(value) * factor
            except (TypeError, ValueError):
                raise ModuleError(
                    f"non-integer value given for prompt duration: {value!r}"
                ) from None
    if total is not None and total < 0:
        raise ModuleError("pause duration must not be negative")
    return total


@module(
    "pause",
    args={
        "seconds": Arg(type="raw"),
        "minutes": Arg(type="raw"),
        "prompt": Arg(),
        "echo": Arg(type="bool", default=True),
    },  # fmt: skip
    local=True,
    run_once=True,
)
async def pause(args: dict[str, Any], ctx: ModuleContext) -> ModuleResult:
    """Wait the given time. A prompt is never read: orchestr runs without a terminal to ask from
    (Ansible too skips prompts when stdin is not interactive), so a bare pause returns at once."""
    seconds = pause_seconds(args)
    started = time.time()
    if seconds:
        await asyncio.sleep(seconds)
    stopped = time.time()
    if args.get("minutes") not in (None, ""):
        shown = f"Paused for {float(args['minutes']):g} minutes"
    else:
        shown = f"Paused for {(seconds or 0):g} seconds"
    return ModuleResult(
        data={
            "start": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
            "stop": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stopped)),
            "delta": int(stopped - started),
            "echo": as_bool(args.get("echo", True)),
            "user_input": "",
            "stdout": shown,
        }
    )

"""Jinja2's immutable sandbox with limits on size and work, for templates admins write.

The sandbox already refuses unsafe attributes (`''.__class__.__mro__`); it does not stop a
template from building a 100 MB string (`{{ 'a' * 10**8 }}`, `'a'|center(10**8)`,
`'{:>100000000}'.format(1)`, a `~` or `+` repeated in a loop) or looping a billion times. Here
every number a template multiplies, raises or passes to a call or a filter is bounded, as is
every width in a format string; every string or list a `~`, `+` or `*` builds is at most
MAX_OUTPUT long; every `for` loop (over anything), `range` and every call (a macro,
a recursive `loop(...)`, a method) draws on one budget of steps per rendering; and the
renderer (`rendering._run`) stops at MAX_OUTPUT characters.
Each refusal is a SecurityError, which the editor shows as "unsafe operation blocked". What
no bound here can catch (a construct not foreseen), the editor's worker process stops by time
and memory (sending/render_pool.py).
"""

from __future__ import annotations

import functools
import math
import re
import string
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, safe_range

MAX_OUTPUT = 100_000  # characters of one rendering: a long email is about 10,000
MAX_NUMBER = 100_000  # the largest count a template may multiply by, pad to or pass on
MAX_POWER_BITS = 256
MAX_ITERATIONS = 10_000  # loop items and calls of one rendering, nested ones counted together

_budget: ContextVar[list[int]] = ContextVar("template_iteration_budget")


_PERCENT_WIDTH = re.compile(r"%[-+ #0]*(\d*)(?:\.(\d+))?")


class _Generator(CodeGenerator):
    """Jinja's code generator, with every `~` bounded."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded_text(")
        super().visit_Concat(node, frame)
        self.write(")")


class LimitedSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _Generator

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: _bounded_filter(f) for name, f in self.filters.items()}
        self.globals.pop("lipsum", None)  # megabytes of Latin in seconds; no message needs it

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):  # `for x in y` runs as `for x in counted_loop(y)`
            counter = nodes.EnvironmentAttribute("counted_loop", lineno=loop.lineno)
            loop.iter = nodes.Call(counter, [loop.iter], [], None, None, lineno=loop.lineno)
        return tree

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            _check_repeat(left, right)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "%" and isinstance(left, str):
            _check_percent_widths(left)
        result = super().call_binop(context, operator, left, right)
        if operator == "+":
            _check_length(result)
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """`str.format` as the sandbox wraps it, with its widths checked first."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        _check_format_widths(value.__self__)
        return wrapped

    def counted_loop(self, items: Any) -> Iterator[Any]:
        return _counted(items)

    def bounded_text(self, text: Any) -> Any:
        return _check_length(text)

    def call(
        __self,  # Jinja's own signature: `self` may be a keyword argument of the call
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        _check_numbers(args, kwargs)
        if __obj is safe_range:
            return _counted(safe_range(*args))
        if getattr(__obj, "__func__", None) is not LimitedSandbox.counted_loop:
            _spend("calls and loops")  # a macro or `loop(...)` calling itself twice per level
        return _check_length(super().call(__context, __obj, *args, **kwargs))


def start_budget() -> object:
    """Give the rendering about to run its own iteration budget; returns a reset token."""
    return _budget.set([MAX_ITERATIONS])


def end_budget(token: object) -> None:
    _budget.reset(token)  # type: ignore[arg-type]


def _counted(items: Any) -> Iterator[Any]:
    for item in items:
        _spend("loops")
        yield item


def _spend(what: str) -> None:
    """One step of the rendering's budget: loop iterations and calls draw on the same one."""
    budget = _budget.get(None)
    if budget is not None:
        budget[0] -= 1
        if budget[0] < 0:
            raise SecurityError(f"{what} ran past {MAX_ITERATIONS} steps")


def _check_repeat(left: Any, right: Any) -> None:
    for sequence, count in ((left, right), (right, left)):
        repeats = isinstance(sequence, str | list | tuple) and isinstance(count, int)
        if repeats and len(sequence) * count > MAX_OUTPUT:
            raise SecurityError(f"a repetition longer than {MAX_OUTPUT} items")


def _check_length(value: Any) -> Any:
    if isinstance(value, str | list | tuple) and len(value) > MAX_OUTPUT:
        raise SecurityError(f"a text or list longer than {MAX_OUTPUT} items")
    return value


def _check_format_widths(text: str) -> None:
    """`'{:>100000000}'.format(1)`: a width or precision in a str.format field."""
    try:
        fields = [spec for _, _, spec, _ in string.Formatter().parse(text) if spec]
    except ValueError:
        return  # a malformed format string fails on its own when formatted
    for spec in fields:
        if any(int(n) > MAX_NUMBER for n in re.findall(r"\d+", spec)):
            raise SecurityError(f"a format width above {MAX_NUMBER}")


def _check_percent_widths(text: str) -> None:
    """`'%100000000d' % 1` and the `format` filter: a width or precision after a `%`."""
    for width, precision in _PERCENT_WIDTH.findall(text):
        if any(n and int(n) > MAX_NUMBER for n in (width, precision)):
            raise SecurityError(f"a format width above {MAX_NUMBER}")


def _check_power(base: Any, exponent: Any) -> None:
    integers = isinstance(base, int) and isinstance(exponent, int) and abs(base) > 1
    if integers and exponent * math.log2(abs(base)) > MAX_POWER_BITS:
        raise SecurityError("a power too large")


def _check_numbers(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, int | float) and abs(value) > MAX_NUMBER:
            raise SecurityError(f"a number above {MAX_NUMBER} passed to a call")


def _bounded_filter(filter_: Callable[..., Any]) -> Callable[..., Any]:
    """The filter with its numeric arguments bounded (`center(10**8)`); Jinja's flags kept."""

    skip = 2 if hasattr(filter_, "jinja_pass_arg") else 1  # the context, then the value

    @functools.wraps(filter_)  # copies jinja_pass_arg, so context-taking filters still work
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _check_numbers(args[skip:], kwargs)
        if (
            filter_.__name__ == "do_format"
            and len(args) >= skip
            and isinstance(args[skip - 1], str)
        ):
            _check_percent_widths(args[skip - 1])
        return _check_length(filter_(*args, **kwargs))

    return bounded

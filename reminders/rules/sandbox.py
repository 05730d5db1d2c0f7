"""Jinja2's immutable sandbox with limits on size and work, for templates admins write.

The sandbox already refuses unsafe attributes (`''.__class__.__mro__`); it does not stop a
template from building a 100 MB string (`{{ 'a' * 10**8 }}`, `'a'|center(10**8)`) or looping
a billion times. Here every number a template multiplies, raises or passes to a call or a
filter is bounded, every `range` draws on one budget of iterations per rendering, and the
renderer (`rendering._run`) stops at `MAX_OUTPUT` characters. Each refusal is a SecurityError,
which the editor shows as "unsafe operation blocked".
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, safe_range

MAX_OUTPUT = 100_000  # characters of one rendering: a long email is about 10,000
MAX_NUMBER = 100_000  # the largest count a template may multiply by, pad to or pass on
MAX_POWER_BITS = 256
MAX_ITERATIONS = 10_000  # `range` items of one rendering, nested loops counted together

_budget: ContextVar[list[int]] = ContextVar("template_iteration_budget")


class LimitedSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: _bounded_filter(f) for name, f in self.filters.items()}

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            _check_repeat(left, right)
        elif operator == "**":
            _check_power(left, right)
        return super().call_binop(context, operator, left, right)

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
        return super().call(__context, __obj, *args, **kwargs)


def start_budget() -> object:
    """Give the rendering about to run its own iteration budget; returns a reset token."""
    return _budget.set([MAX_ITERATIONS])


def end_budget(token: object) -> None:
    _budget.reset(token)  # type: ignore[arg-type]


def _counted(items: range) -> Iterator[int]:
    budget = _budget.get(None)
    for item in items:
        if budget is not None:
            budget[0] -= 1
            if budget[0] < 0:
                raise SecurityError(f"loops ran past {MAX_ITERATIONS} iterations")
        yield item


def _check_repeat(left: Any, right: Any) -> None:
    for sequence, count in ((left, right), (right, left)):
        repeats = isinstance(sequence, str | list | tuple) and isinstance(count, int)
        if repeats and len(sequence) * count > MAX_OUTPUT:
            raise SecurityError(f"a repetition longer than {MAX_OUTPUT} items")


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
        return filter_(*args, **kwargs)

    return bounded

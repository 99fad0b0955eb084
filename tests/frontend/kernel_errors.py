"""The frontend tests' check of a refusal: a `KernelSyntaxError` with a message at the user's
file:line (no tests here)."""
import inspect

import pytest

import unrollkit as uk


def line_of(fn, marker: str) -> int:
    """The line number (in its file) of the first line of ``fn``'s source containing ``marker``."""
    lines, first = inspect.getsourcelines(fn)
    for i, ln in enumerate(lines):
        if marker in ln:
            return first + i
    raise AssertionError(f"no line of {fn.__name__} contains {marker!r}")


def refused_at(fn, here: str, message: str, call=None, marker: str = "# MARK"):
    """Defining kernel ``fn`` (then ``call(kernel)``, when given) raises a KernelSyntaxError
    containing ``message`` at the line of ``fn`` marked ``marker`` in file ``here``; the
    message starts with that ``file:line:``."""
    with pytest.raises(uk.KernelSyntaxError) as info:
        k = uk.kernel(fn)
        if call is not None:
            call(k)
    err = info.value
    assert (err.filename, err.lineno) == (here, line_of(fn, marker)), str(err)
    assert str(err).startswith(f"{here}:{err.lineno}: "), str(err)
    assert message in str(err), str(err)


def expecting(here: str):
    """``expect_error(fn, marker, message, call=None)``: `refused_at` for test file ``here``."""
    def expect_error(fn, marker, message, call=None):
        refused_at(fn, here, message, call=call, marker=marker)
    return expect_error

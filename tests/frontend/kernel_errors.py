"""The frontend tests' check of a refusal: a `KernelSyntaxError` with a message at the user's
file:line (no tests here)."""
import inspect

import pytest

import unrollkit as uk


def refused_at(fn, here: str, message: str, call=None, marker: str = "# MARK"):
    """Defining kernel ``fn`` (then ``call(kernel)``, when given) raises a KernelSyntaxError
    containing ``message`` at the line of ``fn`` marked ``marker`` in file ``here``."""
    with pytest.raises(uk.KernelSyntaxError) as info:
        k = uk.kernel(fn)
        if call is not None:
            call(k)
    lines, first = inspect.getsourcelines(fn)
    line = first + next(i for i, ln in enumerate(lines) if marker in ln)
    assert (info.value.filename, info.value.lineno) == (here, line), str(info.value)
    assert message in str(info.value), str(info.value)

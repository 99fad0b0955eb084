"""A kernel that returns a scalar, through the native fast path (`dispatch.fast_call`): called
with the user's arguments only, the `FastCall` passes a return slot of its own and returns the
value itself, so a call makes no array; with the return array passed (as tools do), that array
is checked like any output. Either way the result is the checked path's."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import unrollkit as uk
from unrollkit.runtime import dispatch
from unrollkit.runtime.interpreter import interpret

# (skipped only without the extension, and tests/runtime/test_dispatch.py::test_the_extension_is_built
# fails then: CI cannot pass with these tests skipped)
pytestmark = pytest.mark.skipif(dispatch.FastCall is None, reason="the _fastcall extension is not built")

N = uk.sizes("N")
DTYPES = ["f2", "f4", "f8", "i1", "u1", "i2", "i4", "i8"]


@uk.kernel
def running_max(a: uk.T[N]):
    acc = a[0]
    for i in range(1, N):
        acc = max(acc, a[i])
    return acc


@uk.kernel
def dot_ret(a: uk.T[N], b: uk.T[N]):
    acc = 0.0
    for i in range(N):
        acc += a[i] * b[i]
    return acc


@uk.kernel
def fill(x: uk.f64[N]):
    for i in range(N):
        x[i] = 2.0


def values(dtype: str) -> np.ndarray:
    # a maximum away from both ends, negative values (wrapping in u8: 251, 254)
    return ((np.arange(9) * 3 - 5) % 17).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_fast_path_returns_the_value_of_every_element_type(dtype):
    a = values(dtype)
    f = uk.jit(running_max, factor=2)
    checked = f(a)                               # the full checks; compiles
    fc = f._fast[0]
    own = fc((a,))                               # the FastCall's own slot
    assert own is not True and own is not False
    assert own == checked == interpret(running_max, a) == a.max().item()
    assert type(own) is type(a.max().item())     # float or int, as numpy's .item()
    given = np.full(1, 3, dtype)                 # a return array passed: checked, filled, read
    assert fc((a, given)) == checked == given[0]


def test_a_fast_call_makes_no_return_array(monkeypatch):
    rng = np.random.default_rng(0)
    a, b = rng.random(1000), rng.random(1000)
    f = uk.jit(dot_ret, factor=4)
    first = f(a, b)
    monkeypatch.setattr(f, "_slot", None)        # any use of the Python-side slot now fails
    for _ in range(3):
        assert f(a, b) == first == pytest.approx(float(a @ b), rel=1e-12)
    assert f(b=b, a=a) == first                  # keywords bind, then the fast path


def test_a_return_array_the_fast_path_cannot_take_gets_the_full_checks():
    a = np.ones(5)
    f = uk.jit(dot_ret)
    assert f(a, a) == 5.0
    fc = f._fast[0]
    assert fc((a, a, np.zeros(1, np.float32))) is False     # wrong dtype
    assert fc((a, a, np.zeros(2))) is False                  # wrong shape
    readonly = np.zeros(1)
    readonly.flags.writeable = False
    assert fc((a, a, readonly)) is False
    with pytest.raises(uk.ArgumentError, match="'return'"):
        f(a, a, np.zeros(2))
    x, y = np.ones(6), np.ones(5)                             # the return array is part of an input
    assert fc((x[:5], y, x[4:5])) is False
    assert f(x[:5], y, x[4:5]) == 5.0 == x[4]                 # the full path copies the input


def test_a_kernel_without_return_still_returns_none_fast():
    x = np.zeros(4)
    f = uk.jit(fill)
    assert f(x) is None
    assert f._fast[0]((x,)) is True
    assert f(np.zeros(4)) is None


def test_concurrent_fast_calls_each_get_their_own_slot():
    # the slot lives in the call, not in the FastCall: threads calling at once (the machine
    # code runs with the GIL released) never see each other's sums
    rng = np.random.default_rng(3)
    data = [(rng.random(20000), rng.random(20000)) for _ in range(4)]
    want = [float(a @ b) for a, b in data]
    f = uk.jit(dot_ret, factor=4)
    f(*data[0])
    got = [[] for _ in data]

    def work(k):
        for _ in range(200):
            got[k].append(f(*data[k]))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(data))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k, values in enumerate(got):
        assert len(values) == 200
        assert values == pytest.approx([want[k]] * 200, rel=1e-12)

"""`unrollkit.core.code_hash`: the digest of a user function, part of the disk-cache key.

A digest that misses something the function does serves stale machine code for new code (a
silent wrong answer); one that cannot see into a value must say so (None: no disk cache).
Each test pairs two functions that differ in one thing the digest covers (different digests)
or in nothing it should see (equal digests).
"""
from __future__ import annotations

import enum
import math
import re
import sys
import types

import numpy as np
import pytest

from unrollkit.core import code_hash
from unrollkit.core.code_hash import function_digest, function_digest_of_value, installed


def _reading(value):
    """A function whose only difference is the value its closure holds."""
    def f(module):
        return value
    return f


def _digest_of(value):
    return function_digest(_reading(value))


def test_equal_functions_have_equal_digests():
    assert _digest_of(1) == _digest_of(1)
    assert _digest_of({"a": [1, (2, 3)]}) == _digest_of({"a": [1, (2, 3)]})
    assert len(_digest_of(1)) == 64 and int(_digest_of(1), 16) >= 0


@pytest.mark.parametrize("a,b", [
    (1, 2), (1, 1.0), (1, True), ("a", "b"), (b"a", b"b"), (None, 0), (1 + 2j, 1 + 3j),
    ((1, 2), [1, 2]),                       # the container's type
    ([[1, 2], 3], [[1], 2, 3]),             # the nesting (lengths)
    ({"a": 1}, {"a": 2}), ({"a": 1}, {"b": 1}), ({"a": [1, 2]}, {"a": [1], "b": 2}),
    ({1, 2}, {1, 3}), ({1, 2}, frozenset({1, 2})),
    (int, float), (math, np), (math.sqrt, math.floor),
    (re.IGNORECASE, re.MULTILINE),
])
def test_every_value_the_function_holds_is_in_the_digest(a, b):
    assert _digest_of(a) is not None and _digest_of(b) is not None
    assert _digest_of(a) != _digest_of(b)


def test_order_free_containers_do_not_depend_on_order():
    assert _digest_of({"x": 1, "y": 2}) == _digest_of({"y": 2, "x": 1})
    assert _digest_of({"alpha", "beta", "gamma"}) == _digest_of({"gamma", "alpha", "beta"})
    assert _digest_of(frozenset({3, 1, 2})) == function_digest(_reading(frozenset({1, 2, 3})))


def test_code_names_variables_and_arguments_are_in_the_digest():
    def attr_x(a):
        return a.x

    def attr_y(a):
        return a.y

    def local_b(a):
        b = a
        return b

    def local_c(a):
        c = a
        return c

    def keyword(a, *, b=1):
        return a

    def positional(a, b=1):
        return a

    def posonly(a, /, b=1):
        return a

    digests = [function_digest(f) for f in (attr_x, attr_y, local_b, local_c, keyword, positional, posonly)]
    assert None not in digests and len(set(digests)) == len(digests)


def test_code_flags_and_nested_functions_are_in_the_digest():
    def gen(a):
        yield a

    def ret(a):
        return a

    assert function_digest(gen) != function_digest(ret)

    def outer_one(a):
        def inner():
            return 1
        return inner

    def outer_two(a):
        def inner():
            return 2
        return inner

    assert function_digest(outer_one) != function_digest(outer_two)


def test_free_and_cell_variables_are_in_the_digest():
    def cell_k(a):
        k = a

        def inner():
            return k
        return inner

    def cell_j(a):
        j = a

        def inner():
            return j
        return inner

    assert function_digest(cell_k) != function_digest(cell_j)


def test_defaults_and_keyword_defaults_are_in_the_digest():
    def d1(a, b=1):
        return b

    def d2(a, b=2):
        return b

    def k1(a, *, b=1):
        return b

    def k2(a, *, b=2):
        return b

    assert function_digest(d1) != function_digest(d2)
    assert function_digest(k1) != function_digest(k2)
    assert function_digest(d1) != function_digest(k1)


_G = 1
_UNUSED = 1


def _reads_g(module):
    return _G


def _calls_reads_g(module):
    return _reads_g(module)


def _inner_reads_g(module):
    def inner():
        return _G
    return inner


def test_only_the_globals_the_code_names_are_in_the_digest(monkeypatch):
    before = [function_digest(f) for f in (_reads_g, _calls_reads_g, _inner_reads_g)]
    monkeypatch.setattr(sys.modules[__name__], "_UNUSED", 2)
    assert [function_digest(f) for f in (_reads_g, _calls_reads_g, _inner_reads_g)] == before
    monkeypatch.setattr(sys.modules[__name__], "_G", 2)
    after = [function_digest(f) for f in (_reads_g, _calls_reads_g, _inner_reads_g)]
    assert None not in after and all(a != b for a, b in zip(before, after))


def _recursive(n):
    return n if n < 1 else _recursive(n - 1)


def _ping(n):
    return n and _pong(n - 1)


def _pong(n):
    return n and _ping(n - 1)


def test_recursive_functions_are_hashed_once():
    assert function_digest(_recursive) is not None
    assert function_digest(_ping) is not None and function_digest(_ping) != function_digest(_pong)
    # the same function twice in a value: the second is a back reference, not the same text
    assert _digest_of((_recursive, _recursive)) != _digest_of((_recursive, _ping))
    assert _digest_of((_ping, _pong)) != _digest_of((_pong, _ping))


def test_bound_methods_hash_the_function_and_the_object():
    m5, m6 = types.MethodType(_reads_g, 5), types.MethodType(_reads_g, 6)
    assert _digest_of(m5) == _digest_of(types.MethodType(_reads_g, 5))
    assert _digest_of(m5) != _digest_of(m6)
    assert _digest_of(m5) != _digest_of(types.MethodType(_recursive, 5))


def test_versions_of_installed_modules_are_in_the_digest(monkeypatch):
    first = _digest_of(np)
    monkeypatch.setattr(np, "__version__", "0.0.0-other")
    assert _digest_of(np) != first
    first = _digest_of(np.ndarray)
    monkeypatch.setattr(np, "__version__", "0.0.0-another")
    assert _digest_of(np.ndarray) != first


class _Mine:
    pass


@pytest.mark.parametrize("value", [
    object(), _Mine(), _Mine, types.ModuleType("not_installed_anywhere"), sys.modules[__name__],
    types.MethodType(_reads_g, object()), [1, object()], {"k": object()}, {"k": 1, object(): 2},
])
def test_what_the_digest_cannot_see_into_makes_it_none(value):
    assert _digest_of(value) is None


def test_an_empty_closure_cell_makes_it_none():
    def outer():
        def f(module):
            return later
        digest = function_digest(f)
        later = 1
        return digest, later

    assert outer()[0] is None


def test_too_deep_a_value_makes_it_none():
    deep = []
    for _ in range(sys.getrecursionlimit() + 10):
        deep = [deep]
    assert _digest_of(deep) is None


def test_a_set_holding_what_the_digest_cannot_see_into():
    # a set of values the digest cannot see into: the per-element digest raises, so the
    # whole function is unhashable
    assert _digest_of(frozenset({_Mine()})) is None
    with pytest.raises(code_hash.Unhashable):
        function_digest_of_value(_Mine())


def test_installed_modules():
    assert installed("unrollkit") and installed("unrollkit.no_such_submodule")
    assert installed("sys") and installed("math") and installed("numpy") and installed("numpy.linalg")
    assert installed("re") and installed("enum")
    assert not installed(__name__)          # the tests are the user's code here
    assert not installed("no_such_module_anywhere")
    mod = types.ModuleType("uk_test_fileless")
    sys.modules["uk_test_fileless"] = mod
    try:
        assert not installed("uk_test_fileless")
    finally:
        del sys.modules["uk_test_fileless"]


class _Color(enum.Enum):
    RED = 1
    BLUE = 2


def test_enum_members_of_the_users_own_enums_are_unhashable():
    assert _digest_of(_Color.RED) is None
    assert _digest_of(re.IGNORECASE) == _digest_of(re.IGNORECASE)

"""`unrollkit.core.code_hash`: each thing the digest covers, alone.

The pairs of `test_code_hash.py` are functions of different names, and the name is in the
digest: a pair there differs in its name *and* in the thing it tests, so a digest that dropped
the thing would still tell them apart (mutation testing found 94 such gaps). Here each pair is
two functions of one name (compiled from source text) that differ in exactly one thing: one
field of the code object, one default, one global, one element of a held value.
"""
from __future__ import annotations

import cmath
import math
import sys
import types
import uuid

import numpy as np
import pytest

from unrollkit.core.code_hash import function_digest, installed


def _compiled(source: str, **globals_) -> types.FunctionType:
    """The function ``f`` that ``source`` defines, with ``globals_`` as its module's globals."""
    namespace = dict(globals_)
    exec(compile(source, "<user>", "exec"), namespace)  # noqa: S102 - the test's own text
    return namespace["f"]


def _digests(*sources: str) -> list:
    return [function_digest(_compiled(s)) for s in sources]


def _holding(value):
    """A function of one fixed name whose only difference is the value its closure holds."""
    def f(module):
        return value
    return f


# one code-object field differs, nothing else (checked: the other fields are equal)
_CODE_PAIRS = {
    "co_code": ("def f(a):\n    return a + 1\n", "def f(a):\n    return a - 1\n"),
    "co_names": ("def f(a):\n    return a.x\n", "def f(a):\n    return a.y\n"),
    "co_varnames": ("def f(a):\n    b = a\n    return b\n", "def f(a):\n    c = a\n    return c\n"),
    "co_argcount": ("def f(a):\n    b = 1\n    return b\n", "def f(a, b):\n    b = 1\n    return b\n"),
    "co_posonlyargcount": ("def f(a, b):\n    return a\n", "def f(a, /, b):\n    return a\n"),
    "co_kwonlyargcount": ("def f(a):\n    b = 1\n    return b\n", "def f(a, *, b):\n    b = 1\n    return b\n"),
    "co_flags": ("def f(*a):\n    return a\n", "def f(**a):\n    return a\n"),
    "co_consts": ("def f(a):\n    return 1\n", "def f(a):\n    return 2\n"),
}
_FIELDS = ("co_code", "co_names", "co_varnames", "co_freevars", "co_cellvars", "co_argcount",
           "co_posonlyargcount", "co_kwonlyargcount", "co_flags", "co_consts")


@pytest.mark.parametrize("field", sorted(_CODE_PAIRS))
def test_each_code_field_alone_is_in_the_digest(field):
    one, other = (_compiled(s) for s in _CODE_PAIRS[field])
    differing = [k for k in _FIELDS if getattr(one.__code__, k) != getattr(other.__code__, k)]
    assert differing == [field] and one.__qualname__ == other.__qualname__
    assert None not in _digests(*_CODE_PAIRS[field])
    assert function_digest(one) != function_digest(other)


def test_free_variable_names_alone_are_in_the_digest():
    make = "def outer():\n    {v} = 1\n    def f():\n        return {v}\n    return f\nf = outer()\n"
    one, other = _compiled(make.format(v="k")), _compiled(make.format(v="j"))
    assert one.__code__.co_code == other.__code__.co_code
    assert function_digest(one) != function_digest(other)


def test_keyword_defaults_alone_are_in_the_digest():
    assert len(set(_digests("def f(a, *, b=1):\n    return b\n", "def f(a, *, b=2):\n    return b\n"))) == 2


def test_the_globals_present_are_in_the_digest_by_name():
    # the same code (it names both), one global bound: which one is what the function reads
    source = "def f():\n    return a if flag else b\n"
    one = function_digest(_compiled(source, flag=True, a=1))
    other = function_digest(_compiled(source, flag=True, b=1))
    assert None not in (one, other) and one != other


def test_the_outer_code_s_globals_count_beside_a_nested_function_s():
    source = "def f():\n    def g():\n        return 1\n    return A, g\n"
    assert function_digest(_compiled(source, A=1)) != function_digest(_compiled(source, A=2))


def test_the_function_s_name_is_in_the_digest():
    renamed = _compiled("def f(a):\n    return a\nf.__qualname__ = 'h'\n")
    assert function_digest(renamed) != function_digest(_compiled("def f(a):\n    return a\n"))


def test_a_held_function_seen_before_is_told_by_which_one():
    # the third element is a back reference: to the first function or to the second
    first, second = _compiled("def f():\n    return 1\n"), _compiled("def f():\n    return 2\n")
    assert function_digest(_holding((first, second, first))) != function_digest(_holding((first, second, second)))


def test_a_string_is_not_taken_for_a_container_header():
    # without each plain value's type in the stream, the str 'dict' then 1 read as a dict's header
    one = _holding([{"a": "b"}, "dict", 1, "c", "d"])
    other = _holding(["dict", 1, "a", "b", {"c": "d"}])
    assert function_digest(one) != function_digest(other)


def test_a_dict_s_length_separates_nested_dicts():
    # sorted by key, both streams read a, {b: 1 ...}, c: 2; only the lengths tell them apart
    assert function_digest(_holding({"a": {"b": 1, "c": 2}})) != function_digest(_holding({"a": {"b": 1}, "c": 2}))


def test_a_dict_is_ordered_by_its_keys_not_its_values():
    assert function_digest(_holding({"x": 1, "y": 1})) == function_digest(_holding({"y": 1, "x": 1}))


def test_an_installed_enum_s_member_is_in_the_digest():
    # uuid.SafeUUID is a plain Enum (not an int or str one, which hash as plain values)
    assert function_digest(_holding(uuid.SafeUUID.safe)) is not None
    assert function_digest(_holding(uuid.SafeUUID.safe)) != function_digest(_holding(uuid.SafeUUID.unsafe))


def test_a_class_or_builtin_is_told_by_its_module():
    assert math.sqrt.__qualname__ == cmath.sqrt.__qualname__
    assert function_digest(_holding(math.sqrt)) != function_digest(_holding(cmath.sqrt))


def test_a_submodule_carries_its_package_s_version(monkeypatch):
    first = function_digest(_holding(np.linalg))
    monkeypatch.setattr(np, "__version__", "0.0.0-other")
    assert function_digest(_holding(np.linalg)) != first


def test_installed_reads_the_submodule_itself_then_its_package(monkeypatch):
    # a namespace package (no __file__) whose submodule is a file of the standard library
    package, sub = types.ModuleType("uk_namespace_pkg"), types.ModuleType("uk_namespace_pkg.sub")
    sub.__file__ = math.__file__ if hasattr(math, "__file__") else types.__file__
    monkeypatch.setitem(sys.modules, "uk_namespace_pkg", package)
    monkeypatch.setitem(sys.modules, "uk_namespace_pkg.sub", sub)
    assert installed("uk_namespace_pkg.sub")
    assert not installed("uk_namespace_pkg")
    # a submodule not imported: its package's answer
    assert installed("numpy.no_such_submodule_imported")

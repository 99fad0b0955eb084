"""Every input of the compile-cache key changes the key: one test per field.

`compiler.cache_key` hashes what decides the machine code: the code-generation version, the
user's kernel, the call signature (types, shapes), the compiled descriptor, the pipeline, LLVM's
policy, the variant, the pragma counts, the tool versions, the host (triple, CPU, features) and
the target's vector width. Dropping any one of them serves one compile's code for another. The
unit tests change one field at a time; the end-to-end ones show a second compile that differs
only in that field is not a disk hit (each in its own cache folder, so no test order matters).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import unrollkit as uk
from unrollkit.codegen import compiler
from unrollkit.core import target
from unrollkit import passes as P
from unrollkit.codegen.backend import LLVMPolicy
from unrollkit.core.cache import make_key
from unrollkit.kernels import dot, mac
from unrollkit.codegen.pipeline import Pipeline
from unrollkit.runtime.jit_kernel import JitKernel
from unrollkit.tuning.variants import plan as make_plan


def _signature(kernel, n=64, dt=np.float32):
    args = [np.zeros(n, dt), np.zeros(n, dt), np.zeros(1 if kernel is dot else n, dt)]
    sig, _ = JitKernel(kernel).signature(args)
    return sig


@pytest.fixture
def base():
    """(kernel, signature, plan, key) of mac at n=64, f32, variant pragma, factor 4."""
    p = make_plan(mac, "pragma", 4)
    sig = _signature(mac)
    return mac, sig, p, compiler.cache_key(mac, sig, p)


def _changed(base, user_kernel=None, sig=None, **plan_fields):
    """Does the key change with the user's kernel, the signature or plan fields replaced?"""
    k, s, p, key = base
    p2 = dataclasses.replace(p, **plan_fields) if plan_fields else p
    other = compiler.cache_key(user_kernel or k, sig or s, p2)
    return other != key


def test_key_is_deterministic(base):
    k, s, p, key = base
    assert compiler.cache_key(k, s, make_plan(mac, "pragma", 4)) == key


def test_pragma_is_in_the_key(base):
    assert _changed(base, pragma=(("", 8),))
    assert _changed(base, pragma=())


def test_variant_is_in_the_key(base):
    assert _changed(base, variant="affine")


@pytest.mark.parametrize("field", ["opt", "unroll", "interleave", "vectorize", "slp"])
def test_every_llvm_policy_field_is_in_the_key(base, field):
    p = base[2].policy
    value = 2 if field == "opt" else not getattr(p, field)
    assert _changed(base, policy=dataclasses.replace(p, **{field: value}))


def test_pipeline_is_in_the_key(base):
    assert _changed(base, pipeline=Pipeline.parse("canonicalize"))
    assert _changed(base, pipeline=Pipeline.parse("unroll{factor=2}"))


def test_compiled_descriptor_is_in_the_key(base):
    """The descriptor the pipeline compiles (macro's rewrite) apart from the user's kernel."""
    macro = make_plan(mac, "macro", 4)
    assert macro.kernel != mac
    assert _changed(base, kernel=macro.kernel)


def test_user_kernel_is_in_the_key(base):
    other = dataclasses.replace(mac, name="mac2")
    assert _changed(base, user_kernel=other)


@pytest.mark.parametrize("what", ["shape", "dtype"])
def test_signature_is_in_the_key(base, what):
    sig = _signature(mac, n=65) if what == "shape" else _signature(mac, dt=np.float64)
    assert _changed(base, sig=sig)


def test_codegen_version_is_in_the_key(base, monkeypatch):
    monkeypatch.setattr(compiler, "CODEGEN_VERSION", compiler.CODEGEN_VERSION + "-next")
    assert _changed(base)


@pytest.mark.parametrize("field", ["unrollkit", "unrollkit_source", "mlir", "llvmlite", "llvmlite_llvm"])
def test_every_version_is_in_the_key(base, monkeypatch, field):
    real = compiler.versions()
    assert field in real
    monkeypatch.setattr(compiler, "versions", lambda: {**real, field: str(real[field]) + "+1"})
    assert _changed(base)


@pytest.mark.parametrize("part", [0, 1, 2])
def test_host_triple_cpu_and_features_are_in_the_key(base, monkeypatch, part):
    real = target.host()
    changed = tuple(x + "-other" if i == part else x for i, x in enumerate(real))
    monkeypatch.setattr(target, "host", lambda: changed)
    assert _changed(base)


def test_vector_width_is_in_the_key(base, monkeypatch):
    from unrollkit.core import target
    bits = target.host_target().vector_bits
    monkeypatch.setenv(target.ENV_VAR, '{"vector_bits": %d}' % (256 if bits != 256 else 128))
    assert _changed(base)


# ---------------------------------------------------------------- end to end, one folder each
# (conftest's ``cache_dir``: an empty, enabled cache per test)


def _run_mac(**jit_options):
    a, b, c = (np.full(37, 2, np.float32) for _ in range(3))
    f = uk.jit(mac, **jit_options)
    f(a, b, c)
    assert (c == 6).all()
    return f.last


def test_pragma_count_alone_separates_entries(cache_dir):
    """variant="pragma" at factors 4 and 8: same pipeline (none), same descriptor; only the
    unroll.count metadata differs, and the second must not be served the first's code."""
    first = _run_mac(variant="pragma", factor=4)
    again = _run_mac(variant="pragma", factor=4)
    assert again.from_cache and not first.from_cache
    other = _run_mac(variant="pragma", factor=8)
    assert not other.from_cache
    assert "llvm.loop.unroll.count" in other.ir("llvm")
    assert ", i32 8}" in other.ir("llvm") and ", i32 8}" not in first.ir("llvm")
    assert len(list(cache_dir.glob("*.ukc"))) == 2


def test_variant_alone_separates_entries(cache_dir):
    """none and pragma at factor 1 compile the same descriptor and pipeline."""
    _run_mac(variant="none")
    assert not _run_mac(variant="pragma").from_cache
    assert _run_mac(variant="none").from_cache


def test_vector_width_alone_separates_entries(cache_dir, monkeypatch):
    from unrollkit.core import target
    first = _run_mac(variant="vector-acc", factor=2)
    bits = target.host_target().vector_bits
    monkeypatch.setenv(target.ENV_VAR, '{"vector_bits": %d}' % (256 if bits != 256 else 128))
    other = _run_mac(variant="vector-acc", factor=2)
    assert not other.from_cache
    assert other.ir("transformed") != first.ir("transformed")


def test_versions_and_codegen_version_separate_entries(cache_dir, monkeypatch):
    _run_mac(factor=4)
    real = compiler.versions()
    monkeypatch.setattr(compiler, "versions", lambda: {**real, "mlir": real["mlir"] + "+1"})
    assert not _run_mac(factor=4).from_cache
    monkeypatch.setattr(compiler, "CODEGEN_VERSION", compiler.CODEGEN_VERSION + "-next")
    assert not _run_mac(factor=4).from_cache


def test_llvm_policy_alone_separates_entries(cache_dir):
    _run_mac(factor=4)
    assert not _run_mac(factor=4, llvm=LLVMPolicy(slp=False)).from_cache


# ---------------------------------------------------------------- the user passes and the hash


def test_user_pass_digest_is_in_the_key_and_an_unhashable_one_disables_the_cache(base):
    k, s, p, key = base

    def one(module):
        return None

    def other(module):
        return 1

    P.register_function("uk-test-key-pass", one)
    try:
        with_one = compiler.cache_key(k, s, dataclasses.replace(p, pipeline=Pipeline.parse("uk-test-key-pass")))
    finally:
        P.unregister("uk-test-key-pass")
    P.register_function("uk-test-key-pass", other)
    try:
        with_other = compiler.cache_key(k, s, dataclasses.replace(p, pipeline=Pipeline.parse("uk-test-key-pass")))
    finally:
        P.unregister("uk-test-key-pass")
    assert with_one is not None and with_other is not None and with_one != with_other != key
    opaque = object()

    def unhashable(module):
        return opaque

    P.register_function("uk-test-key-pass", unhashable)
    try:
        assert compiler.cache_key(k, s, dataclasses.replace(p, pipeline=Pipeline.parse("uk-test-key-pass"))) is None
    finally:
        P.unregister("uk-test-key-pass")


def test_make_key_separates_its_parts():
    assert make_key(1, 23) != make_key(12, 3)           # the reprs would concatenate alike
    assert make_key("a", "b") == make_key("a", "b") and len(make_key()) == 64
    assert make_key(("a",)) != make_key("a")

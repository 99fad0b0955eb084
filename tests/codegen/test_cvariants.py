"""The C variants (unrollkit.codegen.cvariants, kernels/c) against numpy, their errors, their disk cache,
and the native CMake build with its ctest suite."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import unrollkit.kernels
from unrollkit.codegen import cvariants as cv
from unrollkit.core.errors import ArgumentError, CompileError, ToolMissingError, TransformError
from conftest import OUTSIDE

REPO = Path(__file__).resolve().parents[2]  # tests/codegen/ → the repository
COMPILERS = [pytest.param("gcc", id="gcc", marks=pytest.mark.needs_cc),
             pytest.param("clang", id="clang", marks=[pytest.mark.needs_cc, pytest.mark.skipif(
                 "clang" not in cv.compilers(), reason="no clang-22 or clang on PATH")])]
FACTORS = (1, 2, 4, 8)
VECTOR_SIZES = (0, 1, 7, 64, 1027)
GEMM_SHAPES = ((0, 5, 3), (3, 0, 2), (2, 3, 0), (1, 1, 1), (7, 13, 5), (2, 1027, 3), (13, 7, 1))
GUARD = 16  # cells after each output that no kernel may write
EPS = {"f32": np.finfo(np.float32).eps, "f64": np.finfo(np.float64).eps}


@pytest.fixture(scope="module", autouse=True)
def fresh_cache(tmp_path_factory):
    """Build into an empty cache, so every test compiles what it tests at least once."""
    mp = pytest.MonkeyPatch()
    mp.setenv("UNROLLKIT_CACHE_DIR", str(tmp_path_factory.mktemp("unrollkit-cache")))
    mp.delenv("UNROLLKIT_CACHE", raising=False)
    yield
    mp.undo()


def _rng_arrays(rng, dtype, *shapes):
    return [rng.uniform(-1, 1, size=s).astype(cv.DTYPES[dtype][1]) for s in shapes]


def _guarded(array, sentinel=-12345.0):
    """``array`` copied into the front of a longer buffer whose tail holds ``sentinel``."""
    buf = np.full(array.size + GUARD, sentinel, dtype=array.dtype)
    buf[:array.size] = array.ravel()
    return buf, buf[:array.size].reshape(array.shape)


def _check(got, want, magnitude, terms, dtype):
    """Within the rounding bound of a `terms`-long sum in `dtype`, relative to the terms' size."""
    bound = (terms + 2) * EPS[dtype] * magnitude
    bad = ~(np.abs(got.astype(np.float64) - want) <= bound)  # a NaN is bad too
    assert not bad.any(), f"{bad.sum()} wrong values, first at {np.argwhere(bad)[0]}"


def _run_and_check(kernel, rng, dtype, size):
    if kernel.name in ("mac", "dot"):
        n = size
        a, b = _rng_arrays(rng, dtype, n, n)
        out = _rng_arrays(rng, dtype, n if kernel.name == "mac" else 1)[0]
        products = a.astype(np.float64) * b
        if kernel.name == "mac":
            want, magnitude, terms = out + products, np.abs(out) + np.abs(products), 1
        else:
            want = out + products.sum()
            magnitude, terms = np.abs(out) + np.abs(products).sum(), n
        inputs = (a, b)
    else:
        M, N, K = size
        A, B, out = _rng_arrays(rng, dtype, (M, K), (K, N), (M, N))
        A64, B64 = A.astype(np.float64), B.astype(np.float64)
        want = out + A64 @ B64
        magnitude, terms = np.abs(out) + np.abs(A64) @ np.abs(B64), K
        inputs = (A, B)
    buf, view = _guarded(out)
    kernel(*(_guarded(x, np.nan)[1] for x in inputs), view)  # reading past an input gives NaN
    _check(view, want, magnitude, terms, kernel.dtype)
    assert (buf[out.size:] == -12345.0).all(), f"{kernel} wrote past the end of its output"


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("factor", FACTORS)
@pytest.mark.parametrize("variant", cv.CVARIANTS)
@pytest.mark.parametrize("kernel_name", cv.C_KERNELS)
@pytest.mark.parametrize("compiler", COMPILERS)
def test_matches_numpy(compiler, kernel_name, variant, factor, dtype):
    kernel = cv.build(kernel_name, variant, factor, dtype, compiler=compiler)
    rng = np.random.default_rng(factor * 1000 + len(variant))
    for size in (GEMM_SHAPES if kernel_name == "gemm" else VECTOR_SIZES):
        _run_and_check(kernel, rng, dtype, size)


@pytest.mark.parametrize("compiler", COMPILERS)
def test_odd_factors_of_pragma_and_macro(compiler):
    rng = np.random.default_rng(3)
    for variant in ("c-pragma", "c-macro"):
        for factor in (3, 13):
            for name in cv.C_KERNELS:
                kernel = cv.build(name, variant, factor, "f64", compiler=compiler)
                for size in (GEMM_SHAPES if name == "gemm" else VECTOR_SIZES):
                    _run_and_check(kernel, rng, "f64", size)


@pytest.mark.parametrize("compiler", COMPILERS)
def test_odd_and_large_factors_of_the_cxx_template(compiler):
    rng = np.random.default_rng(5)
    for factor in (3, 13, 64):
        for name in cv.C_KERNELS:
            kernel = cv.build(name, "cxx-template", factor, "f64", compiler=compiler)
            for size in (GEMM_SHAPES if name == "gemm" else VECTOR_SIZES):
                _run_and_check(kernel, rng, "f64", size)


@pytest.mark.needs_cc
def test_cxx_template_is_a_compile_time_expansion_in_cxx():
    """The body is expanded by template instantiation (a fold over std::index_sequence), built
    by the C++ compiler with -std=c++17, behind C linkage for cffi."""
    k = cv.build("gemm", "cxx-template", 4, "f32")
    header = (cv.source_directory() / "unroll.hpp").read_text()
    assert "std::make_index_sequence" in header and "(body(i + static_cast<long>(K)), ...)" in header
    assert "for_unrolled<UNROLL>" in k.source and "extern" in header
    assert "-std=c++17" in k.flags and "-DUNROLL=4" in k.flags and "-fno-unroll-loops" in k.flags
    assert not any(f.startswith("-DUK_VARIANT") for f in k.flags)
    assert "g++" in Path(cv._cxx_path("gcc")).name or "c++" in Path(cv._cxx_path("gcc")).name


@pytest.mark.needs_cc
def test_cxx_template_errors(monkeypatch):
    with pytest.raises(TransformError, match="at most 256"):
        cv.build("mac", "cxx-template", 257)
    with pytest.raises(TransformError, match="cxx-template"):
        cv.build("mac", "c-template", 4)  # the error lists every variant, cxx-template too
    real_which = shutil.which
    monkeypatch.setattr(cv.shutil, "which", lambda cmd: None if cmd == "g++" else real_which(cmd))
    with pytest.raises(ToolMissingError, match="C\\+\\+ compiler of 'gcc'.*g\\+\\+"):
        cv.build("dot", "cxx-template", 4)


@pytest.mark.needs_cc
def test_macro_expands_the_body_once_per_offset():
    """UNROLL_N builds N copies from N's binary digits: the main loop must hold offsets 0..N-1."""
    for factor in (1, 3, 8, 13, 127):
        flags = [f for f in cv.compile_flags("c-macro", factor, "f32") if f.startswith("-D")]
        text = subprocess.run([cv.compilers()["gcc"], "-E", "-P", *flags,
                               str(cv.source_directory() / "mac.c")],
                              capture_output=True, text=True, check=True).stdout
        main_loop = re.search(r"i < uk_main_end_; i \+= (\d+)\) \{(.*?)\}", text, re.S)
        assert int(main_loop.group(1)) == factor
        offsets = [eval(e) for e in re.findall(r"c\[\(i\) \+ ([^\]]*)\] \+=", main_loop.group(2))]
        assert sorted(offsets) == list(range(factor))


@pytest.mark.parametrize("compiler", COMPILERS)
def test_pragma_is_spelled_for_the_compiler(compiler):
    path = cv.compilers()[compiler]
    flags = [f for f in cv.compile_flags("c-pragma", 6, "f32") if f.startswith("-D")]
    text = subprocess.run([path, "-E", *flags, str(cv.source_directory() / "dot.c")],
                          capture_output=True, text=True, check=True).stdout
    want = "#pragma clang loop unroll_count(6)" if compiler == "clang" else "#pragma GCC unroll 6"
    assert want in text


@pytest.mark.needs_cc
def test_flags_turn_the_compilers_unroller_off_except_for_plain():
    plain = cv.build("mac", "c-plain", 4)
    assert plain.flags[:2] == ["-O3", "-march=native"]
    assert "-fno-unroll-loops" not in plain.flags
    assert not any(f.startswith("-DUNROLL") for f in plain.flags)
    for variant in ("c-pragma", "c-manual", "c-macro"):
        k = cv.build("mac", variant, 4)
        assert k.flags[:3] == ["-O3", "-march=native", "-fno-unroll-loops"]
        assert "-DUNROLL=4" in k.flags and "-DREAL=float" in k.flags
    assert "-DREAL=double" in cv.build("mac", "c-macro", 4, "f64").flags
    assert plain.compiler_version.startswith("gcc")
    assert Path(plain.so_path).is_file() and "c[i] += a[i] * b[i]" in plain.source


@pytest.mark.needs_cc
def test_time_runs_reps_calls_inside_c():
    k = cv.build("mac", "c-pragma", 4, "f64")
    a, b, c = (np.arange(1, 65, dtype=np.float64) for _ in range(3))
    seconds = k.time(a, b, c, reps=5)
    assert isinstance(seconds, float) and seconds > 0
    np.testing.assert_array_equal(c, np.arange(1, 65) + 5 * np.arange(1, 65) ** 2)
    with pytest.raises(ArgumentError, match="reps"):
        k.time(a, b, c, reps=0)


def test_argument_order_follows_the_python_kernels():
    for name in cv.C_KERNELS:
        descriptor = unrollkit.kernels.ALL[name]
        c_names = [n for n, _ in cv.SIGNATURES[name].arrays]
        assert c_names == [p.name for p in descriptor.params]
        c_shapes = [tuple(s) for _, s in cv.SIGNATURES[name].arrays]
        assert c_shapes == [tuple(p.shape) for p in descriptor.params]


@pytest.mark.parametrize("args, match", [
    (("matmul", "c-plain", 1), "the C kernels are"),
    (("mac", "c-unroll", 4), "the C variants are"),
    (("mac", "pragma", 4), "c-pragma"),
    (("mac", "c-pragma", 0), ">= 1"),
    (("mac", "c-macro", -2), ">= 1"),
    (("mac", "c-pragma", 2.0), "positive integer"),
    (("mac", "c-pragma", True), "positive integer"),
    (("dot", "c-manual", 3), r"factors \[1, 2, 4, 8\]"),
    (("gemm", "c-manual", 16), r"factors \[1, 2, 4, 8\]"),
    (("mac", "c-macro", 128), "at most 127"),
    (("mac", "c-macro", 4, "f16"), r"\['f32', 'f64'\]"),
    (("mac", "c-macro", 4, "f32", "icc"), r"\['gcc', 'clang'\]"),
])
def test_invalid_choices(args, match):
    with pytest.raises(TransformError, match=match) as info:
        cv.build(*args)
    assert isinstance(info.value, ValueError)


def test_missing_compiler(monkeypatch):
    monkeypatch.setattr(cv.shutil, "which", lambda cmd: None)
    assert cv.compilers() == {}
    with pytest.raises(ToolMissingError, match="'gcc' is not installed"):
        cv.build("mac", "c-pragma", 4)
    monkeypatch.setattr(cv.shutil, "which", lambda cmd: "/usr/bin/gcc" if cmd == "gcc" else None)
    assert cv.compilers() == {"gcc": "/usr/bin/gcc"}
    with pytest.raises(ToolMissingError, match="clang-22"):
        cv.build("mac", "c-pragma", 4, compiler="clang")


@pytest.mark.needs_cc
def test_compile_error_is_reported(monkeypatch, tmp_path):
    broken = tmp_path / "c"
    broken.mkdir()
    shutil.copy(cv.source_directory() / "unroll.h", broken)
    (broken / "mac.c").write_text('#include "unroll.h"\nthis is not C;\n')
    monkeypatch.setattr(cv, "source_directory", lambda: broken)
    with pytest.raises(CompileError, match="this is not C"):
        cv.build("mac", "c-pragma", 4)


@pytest.mark.needs_cc
def test_argument_checks():
    mac = cv.build("mac", "c-manual", 2)
    gemm = cv.build("gemm", "c-manual", 2)
    dot = cv.build("dot", "c-manual", 2)
    v = [np.zeros(8, np.float32) for _ in range(3)]
    with pytest.raises(ArgumentError, match="takes 3 arrays"):
        mac(*v[:2])
    with pytest.raises(ArgumentError, match="dtype float32"):
        mac(v[0], v[1], np.zeros(8))
    with pytest.raises(ArgumentError, match="numpy array"):
        mac(v[0], [0.0] * 8, v[2])
    with pytest.raises(ArgumentError, match="size N"):
        mac(v[0], v[1], np.zeros(9, np.float32))
    with pytest.raises(ArgumentError, match="1-D"):
        mac(v[0], v[1], np.zeros((2, 4), np.float32))
    with pytest.raises(ArgumentError, match="C-contiguous"):
        mac(np.zeros(16, np.float32)[::2], v[1], v[2])
    read_only = np.zeros(8, np.float32)
    read_only.flags.writeable = False
    with pytest.raises(ArgumentError, match="read-only"):
        mac(v[0], v[1], read_only)
    with pytest.raises(ArgumentError, match="overlaps"):
        mac(v[0], v[2], v[2])
    with pytest.raises(ArgumentError, match="dimension 0 of 'out' must be 1"):
        dot(v[0], v[1], np.zeros(2, np.float32))
    with pytest.raises(ArgumentError, match="size K"):
        gemm(np.zeros((3, 4), np.float32), np.zeros((5, 6), np.float32), np.zeros((3, 6), np.float32))
    mac(v[0], v[0], v[2])  # two inputs may alias: both are only read
    mac(read_only, v[1], v[2])  # and an input may be read-only


@pytest.mark.needs_cc
def test_disk_cache_reuses_a_build(monkeypatch, tmp_path):
    monkeypatch.setenv("UNROLLKIT_CACHE_DIR", str(tmp_path))
    first = cv.build("dot", "c-macro", 4, "f64")
    second = cv.build("dot", "c-macro", 4, "f64")
    assert not first.cache_hit and second.cache_hit
    assert second.so_path == first.so_path and Path(first.so_path).parent == tmp_path / "c"
    assert second.compile_seconds == first.compile_seconds > 0
    other = cv.build("dot", "c-macro", 8, "f64")
    assert not other.cache_hit and other.so_path != first.so_path
    # c-plain does not depend on the factor: one shared object for all
    assert cv.build("dot", "c-plain", 1).so_path == cv.build("dot", "c-plain", 8).so_path
    assert not list((tmp_path / "c").glob(".tmp-*")), "a temporary file was left behind"


@pytest.mark.needs_cc
def test_damaged_cache_entry_is_rebuilt(monkeypatch, tmp_path):
    monkeypatch.setenv("UNROLLKIT_CACHE_DIR", str(tmp_path))
    # built by another process: a library loaded in this one must not be overwritten under it
    so_path = subprocess.run(
        [sys.executable, "-c", "from unrollkit.codegen import cvariants as cv; "
                               "print(cv.build('mac', 'c-pragma', 2, 'f64').so_path)"],
        capture_output=True, text=True, check=True, cwd=OUTSIDE).stdout.strip()
    Path(so_path).write_bytes(b"not an ELF file")
    rebuilt = cv.build("mac", "c-pragma", 2, "f64")
    assert not rebuilt.cache_hit
    _run_and_check(rebuilt, np.random.default_rng(0), "f64", 13)


@pytest.mark.needs_cc
def test_disabled_cache_leaves_it_alone(monkeypatch, tmp_path):
    monkeypatch.setenv("UNROLLKIT_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("UNROLLKIT_CACHE", "0")
    first, second = cv.build("mac", "c-plain", 1), cv.build("mac", "c-plain", 1)
    assert not first.cache_hit and not second.cache_hit
    assert not (tmp_path / "c").exists()
    _run_and_check(second, np.random.default_rng(0), "f32", 7)


@pytest.mark.needs_cc
def test_unwritable_cache_still_builds(monkeypatch, tmp_path):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    monkeypatch.setenv("UNROLLKIT_CACHE_DIR", str(not_a_folder / "cache"))
    kernel = cv.build("dot", "c-manual", 8, "f64")
    assert not kernel.cache_hit and Path(kernel.so_path).is_file()
    _run_and_check(kernel, np.random.default_rng(1), "f64", 1027)


@pytest.mark.skipif(shutil.which("cmake") is None or shutil.which("ctest") is None,
                    reason="cmake/ctest not installed: the native build cannot be checked")
@pytest.mark.parametrize("compiler", COMPILERS)
def test_cmake_build_and_ctest(compiler, tmp_path):
    build = tmp_path / "build"
    env = dict(os.environ, CC=cv.compilers()[compiler])
    try:
        env["CXX"] = cv._cxx_path(compiler)  # the cxx-template rows of the table
    except ToolMissingError:
        pass
    for command in (["cmake", "-S", str(REPO), "-B", str(build)],
                    ["cmake", "--build", str(build), "-j", "2"],
                    ["ctest", "--output-on-failure"]):
        done = subprocess.run(command, cwd=build if command[0] == "ctest" else REPO, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert "100% tests passed" in done.stdout
    assert (build / "unrollkit_cbench").is_file()
    if "CXX" in env:  # the C++ template variant is in the native table and its checks
        table = (build / "generated" / "registry_f32.inc").read_text()
        assert "UK_ENTRY(gemm, template, 4)" in table and "UK_ENTRY(mac, template, 3)" in table
        quick = subprocess.run([str(build / "unrollkit_cbench"), "--quick"], capture_output=True,
                               text=True, timeout=120)
        assert quick.returncode == 0 and "template" in quick.stdout

"""The 30 PolyBench/C 4.2.1 kernels (`unrollkit.kernels.polybench`) against their numpy
references: PolyBench's data at its SMALL and MEDIUM sizes, float32 and float64, compiled with
the default pipeline, and a few under unrolling variants.

Comparison: for each array the kernel writes, max |got - expected| <= rtol * max |expected|
(normwise: elementwise relative error means nothing where results cancel to ~0, as in
trisolv's x[0] or gramschmidt's residuals). The references compute in float64.

Tolerances (u = unit roundoff: 1.1e-16 in f64, 6e-8 in f32):
* f64 1e-12, f32 5e-5: the longest accumulation is 2000 terms (gemver/mvt MEDIUM); a sum's
  rounding error grows like sqrt(n) u typically, n u at worst (2.2e-13 and 1.2e-4 at
  n = 2000; observed <= 2e-15 and 3e-6);
* solvers, whose error is amplified by the condition number: f64 1e-10, f32 2e-4 (lu,
  ludcmp, gramschmidt: observed 1e-13 and 4e-5 at MEDIUM); trisolv's L (PolyBench's data:
  off-diagonal entries as large as the diagonal, condition number 722 at N = 400) f32 1e-3
  (observed 3e-4; cond * n * u = 1.7e-2 is the worst case); adi, 2 tridiagonal sweeps of N
  per time step, TSTEPS of them, f32 2e-4 (observed 7.3e-5 at MEDIUM; the same numpy
  reference computed in float32 is 1.5e-5 off the float64 one).
durbin and gramschmidt run on rescaled data (see their init functions): with PolyBench's own
data their f32 results are rounding noise.
"""
import numpy as np
import pytest

import unrollkit as uk
from unrollkit.kernels.polybench import REGISTRY

RTOL = {np.float64: 1e-12, np.float32: 5e-5, np.int32: 0}
SOLVER_RTOL = {np.float64: 1e-10, np.float32: 2e-4}
LOOSER = {"lu": SOLVER_RTOL, "ludcmp": SOLVER_RTOL, "gramschmidt": SOLVER_RTOL,
          "durbin": SOLVER_RTOL, "cholesky": SOLVER_RTOL, "adi": SOLVER_RTOL,
          "trisolv": {np.float64: 1e-10, np.float32: 1e-3}}
#: MEDIUM runs for all but seidel-2d, whose reference's row recurrence is a Python loop over
#: every cell (16 million iterations at MEDIUM)
NO_MEDIUM = {"seidel-2d"}
#: int in C (DATA_TYPE_IS_INT by default): also run in int32, where results are exact
INT_KERNELS = {"floyd-warshall", "nussinov"}
#: kernels on which PolyBench's data hides mistakes, so they also run on that data plus a
#: non-linear deterministic perturbation: the stencils' data is a fixed point of their update
#: (linear or bilinear fields reproduce themselves), correlation's and covariance's columns are
#: proportional (every correlation is 1), floyd-warshall's path is symmetric (path[k, j] and
#: path[j, k] agree)
WEAK_DATA = {"heat-3d", "jacobi-1d", "jacobi-2d", "seidel-2d", "correlation", "covariance",
             "floyd-warshall"}


def check(name, args, expected, dtype):
    """Every expected output matches (normwise, the tolerance of ``name`` in ``dtype``); an
    expected array smaller than its parameter is compared with the leading block."""
    kernel = REGISTRY[name].kernel
    params = [p.name for p in kernel.params]
    rtol = LOOSER.get(name, RTOL)[dtype]
    for out, want in expected.items():
        got = np.asarray(args[params.index(out)])[tuple(slice(0, n) for n in np.shape(want))]
        assert np.all(np.isfinite(got)), f"{name}: {out} has non-finite values"
        err = np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-300)
        assert err <= rtol, f"{name} {dtype.__name__}: {out} off by {err:.2e} of its scale (rtol {rtol})"


def run(name, size, dtype, perturb=False, **jit_options):
    """Generate the data, compute the reference, run the compiled kernel, compare."""
    kernel, reference, init, sizes = REGISTRY[name]
    args = init(sizes[size], dtype)
    if perturb:
        args = [a + 0.1 * np.sin(np.arange(a.size).reshape(a.shape) * 0.37).astype(a.dtype)
                if isinstance(a, np.ndarray) else a for a in args]
    expected = reference(*args)
    uk.jit(kernel, **jit_options)(*args)
    check(name, args, expected, dtype)


def cases():
    for name in REGISTRY:
        yield name, "SMALL", np.float64
        yield name, "SMALL", np.float32
        if name not in NO_MEDIUM:
            yield name, "MEDIUM", np.float64
        if name not in NO_MEDIUM:
            yield name, "MEDIUM", np.float32
        if name in INT_KERNELS:
            yield name, "SMALL", np.int32
            yield name, "MEDIUM", np.int32


@pytest.mark.parametrize("name,size,dtype", list(cases()), ids=lambda x: getattr(x, "__name__", x))
def test_polybench_matches_numpy(name, size, dtype):
    run(name, size, dtype)


@pytest.mark.parametrize("name", sorted(WEAK_DATA))
def test_on_perturbed_data(name):
    run(name, "SMALL", np.float64, perturb=True)


@pytest.mark.parametrize("dtype", [np.float64, np.int32])
def test_nussinov_on_random_sequences(dtype):
    """PolyBench's sequence is periodic ((i + 1) % 4), on which some wrong recurrences reach
    the same table (table[k, j] for table[k + 1, j] does): random bases tell them apart."""
    kernel, reference, init, sizes = REGISTRY["nussinov"]
    f = uk.jit(kernel)
    for seed in range(3):
        seq, table = init(sizes["SMALL"], dtype)
        seq = np.random.default_rng(seed).integers(0, 4, len(seq)).astype(np.int8)
        expected = reference(seq, table)
        f(seq, table)
        check("nussinov", [seq, table], expected, dtype)


@pytest.mark.parametrize("name,options", [
    ("gemm", {"factor": 4}), ("syrk", {"factor": 4}), ("trmm", {"factor": 8}),
    ("cholesky", {"factor": 4}), ("durbin", {"factor": 4}), ("ludcmp", {"factor": 4}),
    ("correlation", {"factor": 4, "variant": "macro"}), ("deriche", {"factor": 4}),
    ("nussinov", {"factor": 4}), ("floyd-warshall", {"factor": 4, "variant": "pragma"}),
    ("adi", {"factor": 2}), ("seidel-2d", {"factor": 4}), ("symm", {"factor": 4, "variant": "macro"}),
    ("gramschmidt", {"factor": 4, "variant": "multi-acc"}),
])
def test_polybench_unrolled(name, options):
    run(name, "SMALL", np.float64, **options)


def test_registry_is_polybench():
    """All 30 kernels, each with SMALL and MEDIUM sizes naming exactly its sizes and integer
    scalars."""
    assert len(REGISTRY) == 30
    for name, (kernel, _, _, sizes) in REGISTRY.items():
        names = {s for p in kernel.params if p.is_array for s in p.shape if isinstance(s, str)}
        names |= {p.name.upper() for p in kernel.params if not p.is_array and p.elem.name == "i32"}
        assert set(sizes) == {"SMALL", "MEDIUM"}, name
        assert set(sizes["SMALL"]) == set(sizes["MEDIUM"]) == names, name

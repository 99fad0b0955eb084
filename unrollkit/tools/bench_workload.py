"""What ``unrollkit bench`` runs for one kernel at one size: its arguments, numpy's equivalent,
the float64 reference every row is checked against, and the work it does (FLOPs, bytes).

Any kernel can be benchmarked: a built-in (`unrollkit.kernels.ALL`) or a user's
``file.py:function``. A size is named (``N=4096`` or ``M=64,N=32,K=16``) or, for a built-in,
a shorthand: one number for every size name, ``MxNxK`` for gemm.

numpy's equivalents (`NUMPY`) write into preallocated outputs (``out=``) so that no row pays for
an allocation the others do not; where numpy has no in-place form of the update, a
preallocated temporary and one extra pass (``np.matmul(A, B, out=tmp); C += tmp``) is the
exactly equivalent, fair form. ``iir`` and user kernels have no numpy equivalent.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from unrollkit.frontend import descriptor as d
from unrollkit.frontend.scalar_bounds import index_scalars
from unrollkit.core.errors import UnrollkitError
from unrollkit.kernels import ALL, MORE, layernorm_numpy, softmax_numpy
from unrollkit.tools import testdata
from unrollkit.runtime.interpreter import interpret

PAGE = 4096
ALIGN = 64


def aligned_empty(shape, dtype, align: int = ALIGN, offset: int = 0) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts ``offset`` bytes past an
    ``align``-byte boundary: an over-sized byte buffer, sliced at that point."""
    dtype = np.dtype(dtype)
    n = int(np.prod(shape)) * dtype.itemsize
    raw = np.empty(n + align + offset, dtype=np.uint8)
    off = (-raw.ctypes.data) % align + offset
    return raw[off:off + n].view(dtype).reshape(shape)


# ---------------------------------------------------------------- three-argument layout (cost_validate)


#: where each of three arguments' data starts within a 4 KiB page (output last, at 0); see
#: `Workload.place`, which generalises it to any kernel: two streams whose addresses agree
#: modulo 4096 stall on 4K aliasing, which alone can swing a memory-bound kernel by tens of %
PAGE_OFFSETS = (1024, 2048, 0)


def placed(k: int, shape, dtype) -> np.ndarray:
    """Buffer for argument ``k`` of three: 64-byte aligned, at its fixed offset in a page."""
    return aligned_empty(shape, dtype, PAGE, PAGE_OFFSETS[k % len(PAGE_OFFSETS)])


def alignment(a: np.ndarray) -> int:
    """The largest power of two (up to 4096) dividing the array's address."""
    addr = a.ctypes.data
    return min(PAGE, addr & -addr) if addr else PAGE


def fresh(arrays: list) -> list:
    """Copies, each placed like the original argument."""
    out = []
    for k, a in enumerate(arrays):
        b = placed(k, a.shape, a.dtype)
        b[...] = a
        out.append(b)
    return out


def size_names(kernel: d.Kernel) -> list:
    """The kernel's size names, in the order the parameters first use them, then its integer
    scalars used in bounds or subscripts (``tsteps``: given with ``--size`` like a size)."""
    names = []
    for p in kernel.arrays:
        for s in p.shape:
            if isinstance(s, str) and s not in names:
                names.append(s)
    return names + [n for n in index_scalars(kernel) if n not in names]


def parse_size(kernel: d.Kernel, text: str, builtin: bool = True) -> dict:
    """``"N=4096"``, ``"M=64,N=32,K=16"`` → named sizes (every name required, no other);
    for a built-in also ``"512"`` (every size 512) and gemm's ``"MxNxK"``."""
    names = size_names(kernel)
    text = text.strip()
    if "=" in text:
        dims = {}
        for item in text.split(","):
            key, sep, value = item.partition("=")
            if not sep:
                raise UnrollkitError(f"a size is NAME=VALUE pairs, got {item!r} in {text!r}")
            try:
                dims[key.strip()] = int(value)
            except ValueError:
                raise UnrollkitError(f"size {key.strip()} must be an integer, got {value!r}") from None
    elif builtin:
        try:
            parts = [int(p) for p in text.lower().split("x")]
        except ValueError:
            raise UnrollkitError(f"a size is a number, MxNxK (gemm) or NAME=VALUE pairs, got {text!r}") from None
        order = ["M", "N", "K"] if set(names) == {"M", "N", "K"} else names
        if len(parts) == 1:
            parts *= len(order)
        if len(parts) != len(order):
            form = "x".join(order)
            raise UnrollkitError(f"a {kernel.name} size is N or {form} ({', '.join(order)}), got {text!r}")
        dims = dict(zip(order, parts))
    else:
        raise UnrollkitError(f"give {kernel.name}'s sizes by name, e.g. --size "
                             + ",".join(f"{n}=1024" for n in names) + f"; got {text!r}")
    unknown = sorted(set(dims) - set(names))
    missing = [n for n in names if n not in dims]
    if unknown or missing:
        raise UnrollkitError(f"kernel {kernel.name!r} has sizes {names}; "
                             + (f"unknown {unknown}" if unknown else "")
                             + ("; " if unknown and missing else "")
                             + (f"missing {missing}" if missing else ""))
    if any(v < 1 for v in dims.values()):
        raise UnrollkitError(f"sizes must be positive, got {text!r}")
    return dims


# ---------------------------------------------------------------- numpy's equivalents


def _mac(args, tmp):
    a, b, c = args
    np.multiply(a, b, out=tmp)
    np.add(c, tmp, out=c)


def _dot(args, tmp):
    x, y, out = args
    out[0] += np.dot(x, y)


def _matmul_update(args, tmp):
    """gemm's C += A @ B and gemv's y += A @ x."""
    A, B, C = args
    np.matmul(A, B, out=tmp)
    np.add(C, tmp, out=C)


def _jacobi1d(args, tmp):
    a, b = args
    t = tmp[: len(a) - 2]
    np.add(a[:-2], a[1:-1], out=t)       # (a[i-1] + a[i]) + a[i+1], the kernel's order
    np.add(t, a[2:], out=t)
    np.divide(t, 3.0, out=b[1:-1])


def _prefix_sum(args, tmp):
    x, y = args
    np.copyto(y[1:], x[1:])              # y[t] = y[t-1] + x[t]: the same additions in the same order
    np.add.accumulate(y, out=y)


def _dot_scalar(args, tmp):
    x, y, ret = args
    ret[0] = np.dot(x, y)


def _layernorm(args, tmp):
    layernorm_numpy(*args, tmp=tmp)


#: built-in name → (function(args, tmp), what tmp is, how it is called): the numpy row
NUMPY = {
    "mac": (_mac, "c", "np.multiply(a, b, out=tmp); np.add(c, tmp, out=c)"),
    "dot": (_dot, None, "out[0] += np.dot(x, y)"),
    "gemm": (_matmul_update, "C", "np.matmul(A, B, out=tmp); np.add(C, tmp, out=C)"),
    "gemv": (_matmul_update, "y", "np.matmul(A, x, out=tmp); np.add(y, tmp, out=y)"),
    "jacobi1d": (_jacobi1d, "a", "np.add(a[:-2], a[1:-1], out=t); np.add(t, a[2:], out=t); "
                 "np.divide(t, 3.0, out=b[1:-1])"),
    "prefix_sum": (_prefix_sum, None, "np.copyto(y[1:], x[1:]); np.add.accumulate(y, out=y)"),
    "dot_scalar": (_dot_scalar, None, "np.dot(x, y)"),
    "softmax": (lambda args, tmp: softmax_numpy(*args), None,
                "np.subtract(x, x.max(axis=1, keepdims=True), out=y); np.exp(y, out=y); "
                "s = y.sum(axis=1, keepdims=True); np.divide(1.0, s, out=s); y *= s"),
    "layernorm": (_layernorm, "y", "kernels/layernorm.py: layernorm_numpy, every full-size "
                  "result in y or a preallocated tmp"),
}


def _softmax_ref(x, y):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    want = e / e.sum(axis=1, keepdims=True)
    return {1: (want, np.abs(want))}


def _layernorm_ref(x, gamma, beta, eps, y):
    c = x - x.mean(axis=1, keepdims=True)
    r = 1.0 / np.sqrt((c * c).mean(axis=1, keepdims=True) + eps)
    return {4: (c * r * gamma + beta, np.abs(c) * r * np.abs(gamma) + np.abs(beta))}


def _dot_scalar_ref(x, y, ret):
    return {2: (np.array([np.dot(x, y)]), np.array([np.dot(np.abs(x), np.abs(y))]))}


#: float64 references ({argument position: (expected, scale)}) of the `MORE` built-ins, in
#: numpy: the reference interpreter would take minutes at 1024 × 1024
MORE_REFERENCES = {"softmax": _softmax_ref, "layernorm": _layernorm_ref, "dot_scalar": _dot_scalar_ref}


def is_builtin(kernel: d.Kernel) -> bool:
    """``kernel`` is one of `unrollkit.kernels.ALL` or ``MORE`` (not a user kernel of the same
    name)."""
    return ALL.get(kernel.name) is kernel or MORE.get(kernel.name) is kernel


# ---------------------------------------------------------------- the work


def _trips(loop: d.Loop, env: dict) -> int:
    lo = max(d.aff_eval(e, env) for e in loop.lower)
    hi = min(d.aff_eval(e, env) for e in loop.upper)
    return max(0, -(-(hi - lo) // loop.step))


def _flops_of(e) -> int:
    return sum(1 for x in d.walk_expr(e) if isinstance(x, d.BinOp))


def count_flops(body, env: dict) -> float:
    """Floating-point operations (+ - * / min max, one each) of ``body`` under ``env``.
    A loop whose bounds use no enclosing loop variable is counted once and multiplied."""
    total = 0.0
    for s in body:
        if isinstance(s, (d.Store, d.Let)):
            total += _flops_of(s.value)
        elif isinstance(s, d.Loop):
            lo = max(d.aff_eval(e, env) for e in s.lower)
            n = _trips(s, env)
            inner = {x.var for x in d.walk(s.body) if isinstance(x, d.Loop)}
            uses_var = any(s.var in d.aff_vars(e) for x in d.walk(s.body) if isinstance(x, d.Loop)
                           for e in x.lower + x.upper)
            if not uses_var or not inner:
                total += n * count_flops(s.body, {**env, s.var: lo})
            else:
                total += sum(count_flops(s.body, {**env, s.var: lo + k * s.step}) for k in range(n))
    return total


@dataclasses.dataclass
class Workload:
    """One kernel at one size and element type."""
    kernel: d.Kernel
    label: str      # the size as given ("512", "N=4096")
    dims: dict
    dtype: str      # "f32" or "f64"

    @property
    def builtin(self) -> bool:
        """A built-in kernel (sizes may be given as shorthands; numpy may have its equivalent)."""
        return is_builtin(self.kernel)

    @property
    def name(self) -> str:
        """The kernel's name."""
        return self.kernel.name

    @property
    def np_dtype(self):
        """The numpy float type of ``dtype`` (float32 or float64)."""
        return np.float32 if self.dtype == "f32" else np.float64

    def _elem(self, p) -> np.dtype:
        return np.dtype(self.np_dtype) if p.elem.is_generic else np.dtype(p.elem.numpy)

    def shape(self, p) -> tuple:
        """The shape of array parameter ``p`` at this workload's sizes."""
        return tuple(s if isinstance(s, int) else self.dims[s] for s in p.shape)

    def outputs(self) -> list:
        """Indexes (in the argument list) of the arrays the kernel writes."""
        return [i for i, p in enumerate(self.kernel.params) if p.name in self.kernel.written]

    def place(self, i: int, shape, dtype) -> np.ndarray:
        """Buffer for argument ``i`` at its fixed offset in a page: outputs at 0 (then 512,
        ...), inputs at 1, 2, 3 KiB: the same layout for every row and every run."""
        arrays = [j for j, p in enumerate(self.kernel.params) if p.is_array]
        outs = [j for j in arrays if j in self.outputs()]
        ins = [j for j in arrays if j not in outs]
        off = 512 * outs.index(i) if i in outs else 1024 * (1 + ins.index(i))
        return aligned_empty(shape, dtype, PAGE, off % PAGE)

    def inputs(self, seed: int = 0) -> list:
        """Arguments in the kernel's order (`testdata.make_args`): placed arrays of values in
        [-0.5, 0.5) (integers in [-5, 5)), scalars 0.5 (integers 3)."""
        return testdata.make_args(self.kernel, self.dims, self.dtype, seed=seed, floats=(-0.5, 0.5),
                                  empty=self.place)

    def fresh(self, args: list) -> list:
        """Copies of ``args``, each placed like the original."""
        out = []
        for i, a in enumerate(args):
            if isinstance(a, np.ndarray):
                b = self.place(i, a.shape, a.dtype)
                b[...] = a
                out.append(b)
            else:
                out.append(a)
        return out

    # -- numpy
    def numpy_form(self):
        """(function(args), description) of numpy's equivalent, or None."""
        if not self.builtin or self.name not in NUMPY:
            return None
        fn, tmp_like, text = NUMPY[self.name]
        tmp = None
        if tmp_like is not None:
            p = self.kernel.param(tmp_like)
            tmp = np.empty(self.shape(p), self.np_dtype)
        return (lambda args: fn(args, tmp)), text

    # -- checking
    def reference(self, args: list) -> tuple:
        """(expected outputs, scale): the outputs concatenated in float64, by the built-in's
        numpy reference (`testdata.reference`) in float64, else by the reference interpreter
        (generic arrays in float64); the scale is the largest output of the same computation
        on the inputs' absolute values, the magnitude rounding errors are relative to."""
        if self.builtin and (self.name in testdata.REFERENCES or self.name in MORE_REFERENCES):
            expected = (testdata.reference(self.name, args) if self.name in testdata.REFERENCES
                        else MORE_REFERENCES[self.name](*[np.asarray(a, np.float64) for a in args]))
            want = np.concatenate([np.ravel(expected[i][0]) for i in self.outputs()])
            scale = max(float(np.max(expected[i][1], initial=0.0)) for i in self.outputs())
            return want, max(scale, float(np.max(np.abs(want), initial=0.0)), np.finfo(np.float64).tiny)
        want = self._run_reference(args, abs_values=False)
        scale = float(np.max(np.abs(self._run_reference(args, abs_values=True)), initial=0.0))
        return want, max(scale, float(np.max(np.abs(want), initial=0.0)), np.finfo(np.float64).tiny)

    def _run_reference(self, args: list, abs_values: bool) -> np.ndarray:
        def widen(p, a):
            if not isinstance(a, np.ndarray):
                return abs(a) if abs_values else a
            w = a.astype(np.float64) if p.elem.is_generic else a.copy()
            return np.abs(w) if abs_values else w
        wide = [widen(p, a) for p, a in zip(self.kernel.params, args)]
        interpret(self.kernel, *wide)
        return self.result(wide)

    def result(self, args: list) -> np.ndarray:
        """The outputs of ``args``, concatenated, in float64."""
        return np.concatenate([np.asarray(args[i], np.float64).ravel() for i in self.outputs()])

    def error(self, got: np.ndarray, want: np.ndarray, scale: float) -> float:
        """Largest difference, relative to the scale of the result."""
        return float(np.max(np.abs(got - want), initial=0.0)) / scale

    def tolerance(self) -> float:
        """`testdata.tolerance` of a chain as long as the longest loop."""
        return testdata.tolerance(self.dtype, max(self.dims.values(), default=1))

    # -- work
    def flops(self) -> float:
        """Floating-point operations of one call (`count_flops`)."""
        return count_flops(self.kernel.body, dict(self.dims))

    def bytes(self) -> float:
        """Every array once (the compulsory traffic of one call)."""
        return float(sum(int(np.prod(self.shape(p))) * self._elem(p).itemsize for p in self.kernel.arrays))

    def streaming(self) -> bool:
        """Rates in GB/s (a kernel doing at most 1 FLOP per element it touches) or GFLOP/s."""
        elements = self.bytes() / self._elem(self.kernel.arrays[0]).itemsize
        return self.flops() < 0.75 * elements

"""What a benchmark ran on, recorded with every result: the host (triple, CPU, features, model
name), the versions of the stack, pinning and timing settings, BLAS and its threads, and the C
compilers used.
"""
from __future__ import annotations

import os
import platform
import time

import numpy as np
from threadpoolctl import threadpool_info

from unrollkit.core.target import cpuinfo, host
from unrollkit.core.versions import versions
from unrollkit.tools.bench_workload import ALIGN, PAGE_OFFSETS
from unrollkit.codegen import cvariants


def environment(pin, repeat: int, sample_seconds: float, compilers: dict) -> dict:
    """What a benchmark ran on: host triple, CPU and features, versions, pinning, timing settings,
    BLAS, and the path and version of each C compiler in ``compilers``."""
    triple, cpu, features = host()
    env = {"cpu": cpu, "cpu_model": _cpu_model(), "triple": triple, "features": features,
           "versions": versions(), "numpy": np.__version__, "python": platform.python_version(),
           "machine": platform.machine(), "cpus": os.cpu_count(), "pinned_cpu": pin,
           "repeat": repeat, "target_sample_s": sample_seconds, "alignment_bytes": ALIGN,
           "page_offsets": PAGE_OFFSETS,
           "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "blas": blas_info(), "compilers": {}}
    for name, path in compilers.items():
        env["compilers"][name] = {"path": path, "version": cvariants.compiler_version(path)}
    return env


def _cpu_model() -> str:
    """The CPU's marketing name (/proc/cpuinfo), else what `platform` says."""
    return cpuinfo().get("model name") or platform.processor()


def blas_info() -> list:
    """Each BLAS/OpenMP library numpy loaded: its API, version, thread count and, for OpenBLAS,
    the kernels it runs (``architecture``), with the ``OPENBLAS_*`` variables in force."""
    forced = {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_")}
    return [{**{k: i.get(k) for k in ("internal_api", "version", "num_threads", "architecture")},
             **({"environment": forced} if i.get("internal_api") == "openblas" and forced else {})}
            for i in threadpool_info()]


def blas_text(blas: list) -> str:
    """`blas_info`'s entries in a few words, e.g. ``openblas 0.3.31 (SkylakeX kernels)``, with
    any ``OPENBLAS_*`` variables that chose them."""
    return "; ".join(f"{b.get('internal_api')} {b.get('version')}"
                     + (f" ({b['architecture']} kernels)" if b.get("architecture") else "")
                     + "".join(f", {k}={v}" for k, v in (b.get("environment") or {}).items())
                     for b in blas if b.get("internal_api") != "openmp") or "none found"


def blas_forced() -> str | None:
    """A warning when the environment chooses OpenBLAS's kernels for it (``OPENBLAS_CORETYPE``):
    OpenBLAS then runs those, whatever the CPU is. Seen on this project's Zen 5 machines, where
    ``OPENBLAS_CORETYPE=Haswell`` was set for every process: numpy ran its 256-bit kernels at half
    the speed of the AVX-512 ones OpenBLAS picks itself, and every ratio against numpy doubled."""
    forced = os.environ.get("OPENBLAS_CORETYPE")
    if not forced:
        return None
    return (f"OPENBLAS_CORETYPE={forced} in the environment makes numpy's OpenBLAS run its "
            f"{forced} kernels, not the ones it would choose for this CPU: the "
            "ratios against numpy are against that choice. Unset it (`env -u OPENBLAS_CORETYPE "
            "unrollkit bench ...`) to compare with numpy at its best.")

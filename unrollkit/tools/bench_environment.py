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
           "blas": _blas_info(), "compilers": {}}
    for name, path in compilers.items():
        env["compilers"][name] = {"path": path, "version": cvariants.compiler_version(path)}
    return env


def _cpu_model() -> str:
    """The CPU's marketing name (/proc/cpuinfo), else what `platform` says."""
    return cpuinfo().get("model name") or platform.processor()


def _blas_info() -> list:
    """Each BLAS/OpenMP library numpy loaded: its API, version and thread count."""
    return [{k: i.get(k) for k in ("internal_api", "version", "num_threads")} for i in threadpool_info()]

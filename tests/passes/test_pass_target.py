"""A pass reads the machine only from its pipeline's target (issue 16): the same pipeline on
the same module gives the output of the target it is run for, wherever it runs."""
from __future__ import annotations

import dataclasses

from mlir import ir

from unrollkit.codegen.pipeline import Pipeline, lower_kernel
from unrollkit.core.target import host_target
from unrollkit.kernels import mac
from unrollkit.passes.base import current_target, target_context


def _vectorized(bits: int) -> str:
    module = lower_kernel(mac, {"N": 1000}, "f32")
    target = dataclasses.replace(host_target(), vector_bits=bits)
    with module.context, ir.Location.unknown():
        Pipeline.parse("vectorize{registers=1}").run(module, target=target)
    return str(module)


def test_vector_width_follows_the_pipelines_target_not_the_host():
    assert "vector<8xf32>" in _vectorized(256)
    assert "vector<16xf32>" not in _vectorized(256)
    assert "vector<16xf32>" in _vectorized(512)
    assert "vector<4xf32>" in _vectorized(128)


def test_the_target_context_is_scoped():
    narrow = dataclasses.replace(host_target(), vector_bits=128)
    with target_context(narrow):
        assert current_target().vector_bits == 128
    assert current_target() == host_target()  # a pass applied by hand, outside any pipeline

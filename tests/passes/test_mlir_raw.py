"""FileCheck tests of the ``mlir{...} (raw upstream steps)`` pass: the IR it makes (``# CHECK`` lines next to the code
that builds it) and the input it must refuse, with an error naming the loop."""
import pytest

from differential import transformed
from unrollkit.core.errors import TransformError
from unrollkit.kernels import mac


def test_mlir_step_runs_an_upstream_pipeline(check_ir):
    check_ir(transformed(mac, "tile{i=4},mlir{func.func(affine-loop-normalize)}", N=12))
    # CHECK: affine.for %{{.*}} = 0 to 3 {
    # CHECK: } {uk.name = "i.tile"}


def test_mlir_step_rejects_a_bad_pipeline_when_parsed():
    from unrollkit.codegen.pipeline import Pipeline
    with pytest.raises(TransformError, match="invalid MLIR pass pipeline 'no-such-pass'"):
        Pipeline.parse("unroll,mlir{no-such-pass}")
    with pytest.raises(TransformError, match="needs a pass pipeline"):
        Pipeline.parse("mlir{}")

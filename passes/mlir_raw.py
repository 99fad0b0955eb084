"""``mlir``: a raw upstream MLIR pass pipeline, for passes unrollkit does not wrap.

Options: the text between the braces is the pipeline, anchored on the module, exactly as
``mlir-opt --pass-pipeline='builtin.module(...)'`` takes it; nested braces are allowed.

Example: ``tile{i=32},mlir{func.func(affine-loop-normalize,affine-scalrep)},unroll{loop=i}``.
The pipeline is parsed (and rejected with MLIR's message) when the pipeline is built, before
anything runs. Upstream passes know nothing of ``uk.name``: loops they create are unnamed, and
a name survives only on loops they modify in place. Upstream passes are not bounded by the
code-size budget beyond the check after them.

Before → after (``mlir{func.func(affine-loop-normalize)}``)::

    affine.for %i = 2 to 10 step 2 { S(%i) }   →   affine.for %n = 0 to 4 { S(2 * %n + 2) }
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

from unrollkit.errors import TransformError
from unrollkit.ir_utils import count_ops
from unrollkit.pipeline import check_mlir_pipeline, run_mlir_passes

from .base import Pass, check_code_size, register


@register
@dataclasses.dataclass(frozen=True)
class MLIRPasses(Pass):
    name: ClassVar[str] = "mlir"
    removes_loops: ClassVar[bool] = True
    pipeline: str = ""

    def __post_init__(self):
        if not self.pipeline.strip():
            raise TransformError("mlir{...} needs a pass pipeline between the braces, e.g. "
                                 "mlir{func.func(affine-loop-normalize)}")
        check_mlir_pipeline(self.pipeline)

    @classmethod
    def options(cls) -> dict:
        return {"<pipeline>": (str, None)}

    @classmethod
    def from_text(cls, body: str) -> "MLIRPasses":
        return cls(body.strip())

    def text(self) -> str:
        return "mlir{" + self.pipeline + "}"

    def apply(self, module) -> None:
        run_mlir_passes(module, self.pipeline)
        check_code_size(f"MLIR pipeline {self.pipeline!r}", "<all>", count_ops(module.operation))

"""A `Plan`: everything one compile of a kernel is made of (the pipeline, LLVM's policy, the
variant and its factors), chosen by `unrollkit.tuning.variants.plan` or the cost model and
carried out by `unrollkit.codegen.compiler`. The compiler never picks a strategy: it is given one.
"""
from __future__ import annotations

import dataclasses

from unrollkit.codegen.backend import LLVMPolicy
from unrollkit.codegen.pipeline import Pipeline
from unrollkit.frontend import descriptor as d


@dataclasses.dataclass(frozen=True)
class Plan:
    """What to compile: the kernel (maybe macro-expanded), its pass pipeline, LLVM's policy,
    the variant's name and the factors as requested."""
    kernel: d.Kernel
    pipeline: Pipeline
    policy: LLVMPolicy
    variant: str
    factors: tuple  # ((loop name or "", factor), ...) as requested
    #: ((loop name or "", n), ...): llvm.loop.unroll.count metadata put on those loops' latches
    pragma: tuple = ()
    accumulators: int = 1

    def describe(self) -> str:
        """One line: what unrolls where, for tables and JSON."""
        parts = [self.variant]
        f = ",".join(f"{n or '*'}={x}" for n, x in self.factors)
        parts.append(f"factor {f}")
        if self.accumulators > 1:
            parts.append(f"{self.accumulators} accumulators")
        if self.pipeline.passes:
            parts.append(f"passes {self.pipeline.text()}")
        if self.pragma:
            parts.append("unroll.count " + ",".join(f"{n or '*'}={x}" for n, x in self.pragma))
        parts.append(f"LLVM {self.policy.describe()}")
        return "; ".join(parts)

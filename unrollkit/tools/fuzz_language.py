"""The fuzzer's kernels of the language constructs the other shapes leave out (issue 13):
a local array (``w = uk.zeros(M + 1, uk.T)``, a recurrence along it), loops unrolled in the
source (``uk.unroll(range(3))``, ``uk.range(M, unroll=k)``), ``log``/``ceil``/``exp``/``sqrt``,
``x ** y`` by a value (``math.powf``), ``uk.T(j)`` conversions, a backward outer loop, and a
``return`` of a scalar summed over the rows (the hidden return slot is compared like an array).

Every access stays in bounds by construction (``w`` has M + 1 elements, ``j`` runs below M);
conditions compare loads and scalars only, as in `unrollkit.tools.fuzz`'s language shape.
"""
from __future__ import annotations

import textwrap

from unrollkit.tools.fuzz_case import Case, choose_variant, lit, pipeline_steps

#: float terms (the base of a power kept positive; exponents from the data, in [-1, 1), or
#: an index below M <= 9)
_FLOAT_TERMS = ("x[i]", "z[i, j]", "uk.log(uk.abs(x[i]) + 1.0)", "uk.ceil(z[i, j] * 4.0)",
                "(uk.abs(y[i]) + 0.5) ** z[i, j]", "x[i] ** j", "2.0 ** -y[i]", "uk.exp(z[i, j])",
                "uk.sqrt(uk.abs(x[i]))", "uk.T(j) * s", "uk.floor(y[i] * 3.0)")
_INT_TERMS = ("x[i]", "z[i, j]", "abs(x[i])", "max(x[i], z[i, j])", "x[i] * j", "x[i] ** 2",
              "uk.T(j)", "min(s, z[i, j])")


def gen_language_more(ch) -> Case:
    """A generic-typed (``uk.T``) kernel of the constructs above, the case's dtype binding T."""
    dtype = ch.choice(("f32", "f64", "i32"))
    terms = _INT_TERMS if dtype == "i32" else _FLOAT_TERMS

    def term(inner=True):
        return ch.choice(terms if inner else tuple(t for t in terms if "j" not in t))

    outer = ch.choice(("range(N)", f"uk.range(N, unroll={ch.int(2, 4)})", "range(N - 1, -1, -1)"))
    inner = ch.choice(("range(M)", "uk.unroll(range(3))", f"uk.range(M, unroll={ch.int(2, 5)})",
                       "range(1, M, 2)"))
    local = ch.int(0, 3) != 0
    update = ch.choice((f"acc += {term()}", f"acc = max(acc, {term()})",
                        f"acc += w[j + 1] * {lit(ch, dtype)}" if local else f"acc += {term()}"))
    lines = ["total = " + ("0" if dtype == "i32" else "0.0")]
    if local:
        lines.append("w = uk.zeros(M + 1, uk.T)")
    lines += [f"for i in {outer}:", f"    acc = {term(False)}", f"    for j in {inner}:"]
    if local:
        lines.append(f"        w[j + 1] = w[j] + {term()}")
    if ch.int(0, 2) == 0:
        lines += [f"        if x[i] > s:", f"            {update}", "        else:",
                  f"            acc = acc - {lit(ch, dtype)}"]
    else:
        lines.append(f"        {update}")
    result = ch.choice(("acc", f"acc + {term(False)}", "acc + w[M]" if local else "acc"))
    lines += [f"    out[i] = {result}", "    total += out[i]"]
    returns = ch.int(0, 1) == 0
    if returns:
        lines.append("return total")
    else:
        lines = [ln for ln in lines if "total" not in ln]
    params = 'x: uk.T["N"], y: uk.T["N"], z: uk.T["N", "M"], s: uk.T, out: uk.T["N"]'
    src = f"def fuzz_kernel({params}):\n" + textwrap.indent("\n".join(lines), "    ") + "\n"
    variant, factor = choose_variant(ch)
    if "uk." in inner:  # the source's unrolling of j is the factor: no other factor for j
        variant, factor = (variant, 1) if variant != "vector-acc" else ("affine", 1)
    if "uk." in outer + inner and variant == "none":  # (no unrolling at all)
        variant = "affine"
    return Case(src, dtype, (("N", ch.int(1, 9)), ("M", ch.int(3, 9))),
                # half without pipeline steps: most passes refuse loops that carry values
                pipeline_steps(ch, ["i", "j"]) if ch.int(0, 1) else "", variant, ch.int(0, 2**16), factor)

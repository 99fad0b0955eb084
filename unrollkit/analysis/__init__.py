"""Exact affine analysis on isl (the integer set library behind Polly, Pluto and PPCG).

One layer answers "is this access in bounds" for both the user's kernel descriptor and the
transformed MLIR, with no enumeration and no budget:

* `nest` — iteration domains (`Nest`): isl sets over the enclosing loop variables;
* `affine_to_isl` — MLIR index values, affine maps and integer sets as isl functions;
* `memory_ops` — which operations touch memory, and which elements;
* `module_bounds` — the proof over an MLIR module (`first_refusal`, `transfers_in_bounds`);
* `kernel_bounds` — the proof over a descriptor (`first_out_of_bounds`);
* `dependence` — exact dependence relations (flow, anti, output) between statement instances,
  their distance and direction vectors (`Model`);
* `legality` — the rules of unroll-and-jam, interchange, tiling, vectorisation and accumulator
  splitting over those dependences (each question returns the `Violation` or None);
* `trip_counts` — the span of a loop's bounds over where it is reached (`bound_span`).

It also answers "is this transformation legal": the passes raise the errors.

Modules here import the MLIR bindings, islpy and the descriptor only, never the passes or
the compiler.
"""

"""Session 7's verdicts on mutmut's survivors (merged into `mutation_verdicts`' tables, whose
meaning they share). The survivors are those of session 6's passes run
(``/tmp/unrollkit-mutation-s6-passes``: split_accumulators, tile, macro_unroll, gemm_schedule)
and of session 7's bounds and legality runs (``/tmp/unrollkit-mutation-s7-{bounds,legality}``).
Every KILLED_BY_HAND entry was checked with ``tools/mutation.py check <mutants> --group <g>
--tests <file>`` in a fresh process: the file passes on the unmutated code and fails with the
mutant."""


def _each(function: str, numbers: str, why: str) -> dict:
    """{mutant name: why} for the mutants ``numbers`` (space-separated) of ``function``
    (``<module under unrollkit>.<mutmut's function name>``)."""
    return {f"unrollkit.{function}__mutmut_{k}": why for k in numbers.split()}


_SA = "test_split_accumulators_rules.py (checked with the file)"
_TILE = "test_tile_edges.py (checked with the file)"
_MU = "test_macro_unroll_copies.py (checked with it and test_macro_unroll.py)"
_BOUNDS = "test_bounds_refusal_text.py / test_nest_values.py (checked with them and the bounds unit tests)"
_FORMS = "test_bounds_index_forms.py (checked with it and test_bounds_refusal_text.py)"
_FRESH = ("a survivor of mutmut's fork (the memo was filled at import, before the mutant was switched on): "
          "killed by the bounds unit tests in check's fresh process")
_KB = "test_iteration_counts.py / test_frontend_errors.py (loop_domain serves iteration_counts; outside the selection)"
_SIGNS = "test_dependence_signs.py::test_signs_over_no_loops"
_KC = "test_gemm_schedule_steps.py::test_derive_kc_falls_back_to_the_cap_as_an_integer (KC became 680.0)"
_CONV = "tests/tuning/test_conv_contractions.py (the convolution schedules; outside the passes group's selection)"
_PROMOTE = "test_promote_registers.py (access_domains serves promote-to-registers alone; outside the run's selection)"
_PEEL_SIDE = "peel_loop's side None / default / another text: peel_loop peels at the front only for 'front'"
_NAME_KEPT = ("split_loop's name None (or its default): the parts keep the tile loop's own name, which is "
              "already name.tile")
_SAME_VAL = ("the choice between isl's int_from_si and read_from_str for an integer both represent "
             "(|v| < 2^63): the same isl value")
_TRIPS = "the (hi - lo + step - 1) // step trip count for step 1 too: the same number"
_MEMO_KEY = ("the range memo keyed by the coefficients' SSA values instead of range_key's dimensions: values "
             "never collide, only sibling copies stop sharing a range (slower, the same answers)")

_COARSER = ("a coarser memo shape (the value itself as an opaque term): `linear` is only a memo key, the "
            "range is found from the value's exact form (sibling copies share less, the same answers)")
_NONZERO = "'<= 0' / '< 1' for '< 0': the divisor is a nonzero integer here (_div_by refused 0)"
_FALSY = "positive=None: falsy, as False"

#: mutants that behave like the original for every input (name → why)
EQUIVALENT = {
    # split_accumulators
    **_each("passes.split_accumulators.x__split", "164",
            "clone_into(..., None) inside 'with after': the same insertion point (as _split 113)"),
    **_each("passes.split_accumulators.x_find_reductions", "35",
            "[3:] not [2:] in the induction-variable test: a store whose first index is the variable "
            "is skipped already by the forms test (its form depends on the loop)"),
    **_each("passes.split_accumulators.xǁSplitAccumulatorsǁapply", "54 57 58 59", _PEEL_SIDE),
    # tile
    **_each("passes.tile.x__is_constant", "3",
            "True for every expression: only asked when the last tile starts at a constant, so its loop has a "
            "constant lower bound and trip count and its upper bounds are constants too"),
    **_each("passes.tile.x__separate", "46 47 50 51", _NAME_KEPT),
    **_each("passes.tile.x__separate", "60", "'or' in the partial tile's point-loop filter: as _separate 19"),
    **_each("passes.tile.x__strip_mine", "4 5",
            "the '<unnamed>' text: tile strip-mines only loops it selected by their name"),
    **_each("passes.tile.x__strip_mine", "87", "shifted(ubm, None): an offset of None is no shift, as 0"),
    **_each("passes.tile.x_module_of", "1",
            "the band's parent instead of the module: the fresh tile loops and their separated copies all lie in it"),
    **_each("passes.tile.xǁTileǁ_tile_band", "89 91",
            "new.get(('tile', 0), None): a band starts at its head, a tiled loop, so ('tile', 0) always exists"),
    **_each("passes.tile.xǁTileǁ_tile_band", "116", "_separate's size argument: _separate does not use it"),
    # macro_unroll
    **_each("codegen.macro_unroll.x_shift_aff", "2", "var + 0 substituted at k = 0: aff_add folds the 0 away"),
    **_each("codegen.macro_unroll.x_split_carried", "17", "found.append(None): found is only tested for emptiness"),
    **_each("codegen.macro_unroll.x_split_loop", "16 38", _TRIPS),
    # gemm_schedule
    **_each("tuning.gemm_schedule.x_derive", "58 59",
            "'/' for '//' in NC's cap: floor(floor(x) / nr) = floor(x / nr), so the cap is the same multiple of "
            "NR as a float; _balanced then returns N or a multiple of NR at most the cap, integers either way"),
    # affine_to_isl
    **_each("analysis.affine_to_isl.x__arith", "39 60", _FALSY),
    **_each("analysis.affine_to_isl.x__floordiv", "4", _FALSY),
    **_each("analysis.affine_to_isl.x__arith", "44 45", _NONZERO),
    **_each("analysis.affine_to_isl.x__floordiv", "9 10", _NONZERO),
    **_each("analysis.affine_to_isl.x__div_by", "9 10", _NONZERO),
    **_each("analysis.affine_to_isl.x__expr_template", "1 3 10", _COARSER),
    **_each("analysis.affine_to_isl.xǁValueFormsǁ_linear_of", "3 6 7 13 14 19 31 32 33 34 35 36 38 39 42",
            _COARSER),
    **_each("analysis.affine_to_isl.xǁValueFormsǁ_linear_of", "51",
            "None for a product of two variables (such an index is refused by its form before its range is "
            "asked), a coarser shape for the rest: " + _COARSER),
    **_each("analysis.affine_to_isl.xǁValueFormsǁexpr", "64",
            "the reason for an unknown affine expression: every kind (dim, symbol, constant, +, *, floordiv, "
            "ceildiv, mod) is handled above"),
    **_each("analysis.affine_to_isl.xǁValueFormsǁresult_linear", "18 22", _COARSER),
    **_each("analysis.affine_to_isl.xǁValueFormsǁrange_key", "3", _COARSER),
    **_each("analysis.affine_to_isl.xǁValueFormsǁrange_key", "5 6", "the 'dim' tag renamed: every key uses the same text"),
    **_each("analysis.affine_to_isl.xǁValueFormsǁresult_linear", "6 7",
            "the probe's 'operand' tag renamed: the template reads it back under the same text"),
    **_each("analysis.affine_to_isl.xǁValueFormsǁresult_linear", "1 2", "the template memo never hits: read again"),
    **_each("analysis.affine_to_isl.xǁValueFormsǁlinear", "1 2", "the shape memo never hits: found again"),
    **_each("analysis.affine_to_isl.xǁValueFormsǁconst", "1 2", "the constant memo never hits: made again"),
    **_each("analysis.affine_to_isl.xǁValueFormsǁbind", "2",
            "dims recorded only for binds without one (dependence's Model, which never asks range_key): "
            "module_bounds' variables are then keyed by value, " + _MEMO_KEY.split(": ", 1)[1]),
    **_each("analysis.affine_to_isl.x__split_top", "13 17",
            "the depth reset at every character: it differs only for a comma right after ')', and every "
            "printed constraint ends in '>= 0' or '== 0'"),
    **_each("analysis.affine_to_isl.xǁValueFormsǁ_of", "6 9 10",
            "the text for a block argument of a block without an owner op: every block here has one"),
    **_each("analysis.affine_to_isl.xǁValueFormsǁ_of", "25",
            "the reason for a non-integer constant index: an index-typed arith.constant holds an integer (verifier)"),
    **_each("analysis.affine_to_isl.xǁValueFormsǁ_of", "63 64", "_fold takes any 'how' but 'min' as max"),
    **_each("analysis.affine_to_isl.xǁValueFormsǁ_of", "72", "_BINARY's function (_arith) does not use self"),
    **_each("analysis.affine_to_isl.xǁValueFormsǁ_of", "109", "'<=' for '<': src == dst is taken by the clause before"),
    **_each("analysis.affine_to_isl.xǁValueFormsǁinteger_set", "3", "rpartition: a set's text holds one ' : '"),
    **_each("analysis.affine_to_isl.xǁValueFormsǁinteger_set", "23",
            "the reason for an unreadable constraint: MLIR prints every constraint ending in '>= 0' or '== 0'"),
    # the bounds proofs
    **_each("analysis.nest.x_val", "1 7 8 10 11 12 13 15", _SAME_VAL),
    **_each("analysis.nest.x_align", "10", "lift to an equal depth returns the value itself"),
    **_each("analysis.nest.x_lift", "4", "'>=' for '>': lift returned already when have == depth"),
    **_each("analysis.nest.xǁNestǁ_loops", "9 10",
            "the first Nest only gives the band's variables (var reads the domain's space alone); the one "
            "returned is made anew with the context and the depth"),
    **_each("analysis.nest.xǁNestǁ_loops", "37", "the step constraint for step 1 too: (v - first) mod 1 = 0 always"),
    **_each("analysis.nest.xǁNestǁlinear_range", "2 4",
            "the key None kept: the only caller (_Walk.index_range) always passes one"),
    **_each("analysis.nest.xǁNestǁlinear_range", "3", _MEMO_KEY),
    **_each("analysis.nest.xǁNestǁlinear_range", "6", "the memo looked up under None never hits: found again (slower)"),
    **_each("analysis.nest.xǁNestǁloops", "5 6",
            "the band memo never hits: sibling bands get equal Nests of their own (slower, the same domains)"),
    **_each("analysis.module_bounds.x_access_domains", "14 16",
            "_Walk(visit, None): the walk enters every region; visit records the wanted ops alone"),
    **_each("passes.dependence.x_signs", "15",
            "the empty-relation shortcut skipped: the distances of an empty relation give no sign vector either"),
    **_each("analysis.module_bounds.xǁ_Walkǁ__init__", "3",
            "only = None: the walk enters every region; access_domains' visit records the wanted ops alone"),
    **_each("analysis.module_bounds.xǁ_Walkǁ__init__", "6",
            "type_facts = None: access_of then memoises per call, the same facts (as __init__ 5)"),
    **_each("analysis.module_bounds.xǁ_Walkǁindex_range", "25 28", _MEMO_KEY),
    **_each("analysis.module_bounds.xǁ_Walkǁloop_body", "19 22",
            "bind without a dimension: range_key names the variable by its value, " + _MEMO_KEY.split(": ", 1)[1]),
    **_each("analysis.module_bounds.xǁ_Walkǁop", "24", "access_of(op) without the walk's memo: as op 18 / 20"),
    **_each("analysis.module_bounds.xǁ_Walkǁop", "39",
            "visit(..., None) for an op the proof cannot see: prove refuses it before looking at the nest (as op 35)"),
}

#: survivors of the runs killed by a test added after them (checked by hand, see the docstring)
KILLED_BY_HAND = {
    # split_accumulators
    **_each("passes.split_accumulators.x__defined_outside", "1 3 4 6 7", _SA),
    **_each("passes.split_accumulators.x_find_reductions", "1 2 4 5 18 19 20 24 27 29 36 44 45 48 49 "
                                                           "50 51 52 53 78 79 84 85 86 87 91 92 93 94 "
                                                           "95 96 97 98 99 100", _SA),
    **_each("passes.split_accumulators.xǁSplitAccumulatorsǁ__post_init__", "3 6 7", _SA),
    **_each("passes.split_accumulators.xǁSplitAccumulatorsǁapply", "14 15 17 34 35 36 38 39 40 42 43 "
                                                                   "44 45 60", _SA),
    # tile
    **_each("passes.tile.x__is_constant", "1 2", _TILE),
    **_each("passes.tile.x__strip_mine", "14 15 16 17 28 36", _TILE),
    **_each("passes.tile.xǁTileǁ_tile_band", "11 17 18 19 20 21 22 48 56 61", _TILE),
    **_each("passes.tile.xǁTileǁapply", "4 5 6 9 10 11 14 37 38 43 44 46", _TILE),
    **_each("passes.tile.xǁTileǁoptions", "1 2 3 4 5 6 7", _TILE),
    **_each("passes.tile.x__separate", "40", _TILE),
    # macro_unroll
    **_each("codegen.macro_unroll.x__split_reductions", "32 33 44 48 53 67 101 104 116 134 141 150 "
                                                        "151 152 204", _MU),
    **_each("codegen.macro_unroll.x_macro_unroll", "23 24 30 31 32 33 35 37 39 40 46", _MU),
    **_each("codegen.macro_unroll.x_map_loops", "2 9 10 12 13 18 19", _MU),
    **_each("codegen.macro_unroll.x_shift_body", "43 52 53 58 59 60 66 67 72 73 74 105 116 117 125 "
                                                 "131 132 133", _MU),
    **_each("codegen.macro_unroll.x_split_loop", "34 37 49 77", _MU),
    # the bounds proofs
    **_each("analysis.ir_bounds.x__array", "4 9 11", _BOUNDS),
    **_each("analysis.ir_bounds.x__location", "1 6 7 8 9 11 12 13 14", _BOUNDS),
    **_each("analysis.ir_bounds.x__message", "16 18 19 21 24", _BOUNDS),
    **_each("analysis.nest.x_constant_of", "3", _BOUNDS),
    **_each("analysis.nest.x_lift", "5", _BOUNDS),
    **_each("analysis.nest.x_lift_set", "3 4 5 6 7 8 9 10", _BOUNDS),
    **_each("analysis.nest.x_val", "2 9 14 16 17 18 19 20 21", _BOUNDS),
    **_each("analysis.memory_ops.x__memory_typeids", "1 2 3", _FRESH),
    **_each("analysis.module_bounds.xǁ_Walkǁloop_body", "25", _FORMS),
    **_each("analysis.memory_ops.x_is_pure", "1", _FORMS),
    **_each("analysis.memory_ops.x__memref_facts", "2", _FORMS),
    # affine_to_isl
    **_each("analysis.affine_to_isl.x__arith", "20 38 59 65 69 70", _FORMS),
    **_each("analysis.affine_to_isl.x__div_by", "12 14 15", _FORMS),
    **_each("analysis.affine_to_isl.x__expr_template", "2 6 14", _FORMS),
    **_each("analysis.affine_to_isl.x__fold", "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16", _FORMS),
    **_each("analysis.affine_to_isl.x__split_top", "2 5 6 7 8 9 10 11 12 14 15 16 18 19 20", _FORMS),
    **_each("analysis.affine_to_isl.xǁValueFormsǁ_condition", "27 28 29 30 31 32 33 34 35 36 37 38 39 "
                                                              "40 41 42 43 44 45 46 47 48 49 50 51 52 "
                                                              "53 54 55 56 57 58 59 60 61 62 63 64 65 "
                                                              "66 67 68 69 70 71 72 73 74 75 76 77 78 "
                                                              "79 80 81 82 83 84 85 86 87 88 89", _FORMS),
    **_each("analysis.affine_to_isl.xǁValueFormsǁ_linear_of", "28", _FORMS),
    **_each("analysis.affine_to_isl.xǁValueFormsǁ_of", "29 30 31 32 33 34 35 36 37 38 40 41 42 43 44 "
                                                       "45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 "
                                                       "60 61 62 87 88 89 90 91 92 98 100 101 102 103 "
                                                       "108 113 114 115 124 158", _FORMS),
    **_each("analysis.affine_to_isl.xǁValueFormsǁexpr", "2 24 28 31 35 38 39 43 44 52 53 57 58", _FORMS),
    **_each("analysis.affine_to_isl.xǁValueFormsǁinteger_set", "16 17 21 28 34 68", _FORMS),
    **_each("analysis.affine_to_isl.xǁValueFormsǁmap_results", "5", _FORMS),
    **_each("analysis.affine_to_isl.xǁValueFormsǁresult_linear", "14", _FORMS),
    **_each("analysis.affine_to_isl.x__combine", "11 26", _FORMS),
    # module_bounds.access_domains (promote-to-registers)
    **_each("analysis.module_bounds.x_access_domains", "1 2 3 4 5 6 7 8 9 10 11 12 13 15 17", _PROMOTE),
    **_each("analysis.module_bounds.xǁ_Walkǁop", "9", _PROMOTE),
    # kernel_bounds
    **_each("analysis.kernel_bounds.x_check_bounds", "15 18", _KB),
    **_each("analysis.kernel_bounds.x_loop_domain", "1 2 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 "
                                                    "21 22 23 24 25 26", _KB),
    # passes/dependence
    **_each("passes.dependence.x_signs", "4", _SIGNS),
    # gemm_schedule
    **_each("tuning.gemm_schedule.x_gemm_schedule", "4 6 7", _CONV),
    **_each("tuning.gemm_schedule.x_derive", "40", _KC),
}

#: survivors on a defensive path no test input reaches (counted as survivors)
NOT_REACHED = {
}


# ---------------------------------------------------------------- after the merges (session 7b/c/d)
#: functions the session's merges changed after the runs above (the proof's memo, the transfer
#: attributes, the triangular GEMM schedule): re-run in /tmp/unrollkit-mutation-s7{b,c,d}. Earlier
#: verdicts on their mutants name other mutations (mutmut numbers a function's mutants from its
#: text), so `mutation_verdicts` drops them before adding the ones below.
RERUN = (
    "analysis.memory_ops.x_access_of", "analysis.memory_ops.x__vec_shape", "analysis.memory_ops.x__transfer_lanes",
    "analysis.affine_to_isl.xǁValueFormsǁ__init__", "analysis.affine_to_isl.xǁValueFormsǁresult_linear",
    "analysis.affine_to_isl.xǁValueFormsǁkeyed", "analysis.affine_to_isl.xǁValueFormsǁkeyed_result",
    "analysis.affine_to_isl.xǁValueFormsǁ_frozen", "analysis.module_bounds.xǁ_Walkǁop",
    "analysis.module_bounds.xǁ_Walkǁ__init__", "analysis.module_bounds.xǁ_Walkǁindex_range",
    "tuning.gemm_schedule.x_match_gemm", "tuning.gemm_schedule.x_gemm_schedule",
    "tuning.gemm_schedule.x_triangular_schedule", "tuning.gemm_schedule.xǁTriangularScheduleǁpipeline",
    "tuning.gemm_schedule.xǁTriangularScheduleǁnest", "tuning.gemm_schedule.xǁGemmScheduleǁpipeline",
    "tuning.gemm_schedule.xǁGemmScheduleǁ_cache_blocks", "tuning.gemm_schedule.xǁTriangularScheduleǁwhy",
    "tuning.gemm_schedule.xǁTriangularScheduleǁdescribe",
)

_SLOWER = "the memo never hits: found again (slower, the same answer)"
_EXACT = ("the memo's answer taken as 'divides' (None): the index goes through isl's exact form "
          "instead of the linear memo (slower, the same range)")
EQUIVALENT_RERUN = {
    **_each("analysis.memory_ops.x__vec_shape", "2 3",
            "the memo key's tag renamed: the memo's other keys are types, never this tuple"),
    **_each("analysis.memory_ops.x__vec_shape", "4 5", _SLOWER),
    **_each("analysis.memory_ops.x_access_of", "9 67", _SLOWER),
    **_each("analysis.memory_ops.x_access_of", "54",
            "one operand more in indices: only the map's inputs (mapped) or the first rank indices "
            "(unmapped) are read; a mapped access's operands end with its indices"),
    **_each("analysis.affine_to_isl.xǁValueFormsǁresult_linear", "1 2", _SLOWER),
    **_each("analysis.affine_to_isl.xǁValueFormsǁresult_linear", "6 7",
            "the probe's tag renamed: the template is read by operand position only"),
    **_each("analysis.affine_to_isl.xǁValueFormsǁkeyed", "1 2", _SLOWER),
    **_each("analysis.affine_to_isl.xǁValueFormsǁkeyed_result", "4", _SLOWER),
    **_each("analysis.affine_to_isl.xǁValueFormsǁkeyed_result", "3 5 6 7 11 18 20", _EXACT),
    **_each("analysis.affine_to_isl.xǁValueFormsǁ_frozen", "3 4", _SLOWER),
    **_each("analysis.affine_to_isl.xǁValueFormsǁ_frozen", "5 6", _MEMO_KEY),
    **_each("analysis.module_bounds.xǁ_Walkǁindex_range", "4", _EXACT),
    **_each("analysis.module_bounds.xǁ_Walkǁindex_range", "25 28", _MEMO_KEY),
    **_each("analysis.module_bounds.xǁ_Walkǁ__init__", "3",
            "only = None: the walk enters every region; access_domains' visit records the wanted ops alone"),
    **_each("analysis.module_bounds.xǁ_Walkǁ__init__", "6",
            "type_facts = None: access_of then memoises per call, the same facts"),
    **_each("analysis.module_bounds.xǁ_Walkǁop", "3 4", _SLOWER),
    **_each("analysis.module_bounds.xǁ_Walkǁop", "5 6",
            "no op is passed by: a pure op is walked, holds no access, no region, is not foreign (the same proof)"),
    **_each("analysis.module_bounds.xǁ_Walkǁop", "26 28", "access_of without the walk's memo: a fresh one per call"),
    **_each("analysis.module_bounds.xǁ_Walkǁop", "43",
            "visit(..., None) for an op the proof cannot see: prove refuses it before looking at the nest"),
    **_each("tuning.gemm_schedule.xǁGemmScheduleǁpipeline", "75",
            "',pad=0' written for an unpadded B: 0 is pack's default, the same pass"),
    **_each("tuning.gemm_schedule.x_triangular_schedule", "24 29",
            "register_tile's minimum sizes 3 for 2: they differ only for N < 3, where the whole triangle is "
            "the corner's dot products whatever the block"),
    **_each("tuning.gemm_schedule.x_triangular_schedule", "47",
            "derive(sizes=None): the rewritten nests' trip counts are constants, derive reads no size"),
}
_TRI = "test_triangular.py::"
_CONV7 = "tests/tuning/test_conv_contractions.py (the convolution schedules; checked with the file)"
KILLED_BY_HAND_RERUN = {
    **_each("tuning.gemm_schedule.xǁTriangularScheduleǁdescribe", "4 5 6 9 10 11",
            _TRI + "test_describe_names_each_nest_and_the_corner_only_when_there_is_one"),
    **_each("tuning.gemm_schedule.x_triangular_schedule", "66",
            _TRI + "test_describe_names_each_nest_and_the_corner_only_when_there_is_one"),
    **_each("tuning.gemm_schedule.x_triangular_schedule", "33 35 49 53",
            _TRI + "test_the_block_is_the_given_targets_register_tile"),
    **_each("tuning.gemm_schedule.x_gemm_schedule", "29 33", _TRI + "test_the_block_is_the_given_targets_register_tile"),
    **_each("tuning.gemm_schedule.x_gemm_schedule", "23",
            _TRI + "test_a_double_precision_update_is_scheduled_for_8_byte_elements"),
    **_each("tuning.gemm_schedule.x_match_gemm", "6", _TRI + "test_variant_blas_takes_a_triangular_update"),
    **_each("tuning.gemm_schedule.x_gemm_schedule", "4 6 7", _CONV7),
    **_each("tuning.gemm_schedule.xǁGemmScheduleǁ_cache_blocks", "25 26", _CONV7),
    **_each("tuning.gemm_schedule.xǁGemmScheduleǁpipeline", "7 62", _CONV7),
    **_each("analysis.affine_to_isl.xǁValueFormsǁresult_linear", "29",
            "test_transfer_attributes.py::test_a_map_whose_operands_share_a_loop_variable_sums_their_coefficients"),
}

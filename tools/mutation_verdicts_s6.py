"""Session 6's verdicts on mutmut's survivors (merged into `mutation_verdicts`' tables, whose
meaning they share; kept in their own file so that one stays under 500 lines)."""

_CH = "unrollkit.core.code_hash."
_MU = "unrollkit.codegen.macro_unroll."
_DIG = _CH + "xǁ_Digestǁ"
_TAG_RENAMED = ("a kind's tag renamed (None, XX..XX, upper case): it sits at a fixed place of its kind's "
                "stream, and no other kind uses the new text there, so the digest separates the same values")
_TAG_DROPPED = ("a kind's tag dropped: the kind's stream still starts with a token no other kind starts "
                "with (a bare int, bytes or the value after it), so the digest separates the same values")
_GS = "unrollkit.tuning.gemm_schedule."
_MESSAGE = "the Unhashable message: function_digest catches it and returns None, nobody reads it"

#: mutants that behave like the original for every digest the cache key takes (name → why)
EQUIVALENT = {
    **{_CH + f"x__installed_roots__mutmut_{k}":
       "one of sysconfig's platstdlib / purelib / platlib left out: purelib and platlib are one folder, "
       "platstdlib a prefix of it (in a venv) or stdlib itself, so the roots accept the same files"
       for k in range(6, 12)},
    _DIG + "put__mutmut_4": "separator b'XX\\0XX' not b'\\0': repr never writes a NUL byte, so either separates",
    "unrollkit.core.cache.x_make_key__mutmut_5":
        "separator b'XX\\0XX' not b'\\0': repr never writes a NUL byte, so either separates the parts",
    **{_DIG + f"value__mutmut_{k}":
       "plain values without their type name (or all as NoneType): the reprs of None, bool, int, float, "
       "complex, str, bytes and Ellipsis never coincide across types" for k in (1, 5)},
    **{_DIG + f"value__mutmut_{k}": _TAG_RENAMED for k in (19, 23, 24, 41, 47, 48, 49, 55)},
    _DIG + "value__mutmut_21": _TAG_DROPPED,
    _DIG + "value__mutmut_43": "a module's name passed None: it is also passed as the module, the same text",
    _DIG + "value__mutmut_61": "getattr(v, '__module__') with no default: every class and builtin has one",
    _DIG + "value__mutmut_64": "'XXXX' not '' for a builtin without a module: neither is installed, Unhashable both",
    **{_DIG + f"value__mutmut_{k}": _MESSAGE for k in (65, 66)},
    _DIG + "named__mutmut_3": _MESSAGE,
    **{_DIG + f"named__mutmut_{k}":
       "the text for a package without __version__ (None / 'XXXX' / ''): a constant, the same for every digest"
       for k in (7, 18)},
    **{_DIG + f"named__mutmut_{k}":
       "the kind of a named value dropped or None: the module and qualified name that follow name one object"
       for k in (19, 23)},
    **{_DIG + f"function__mutmut_{k}": _TAG_RENAMED for k in (3, 7, 8, 12, 16, 17, 33, 37, 38)},
    **{_DIG + f"function__mutmut_{k}": _TAG_DROPPED for k in (5, 14, 35)},
    **{_DIG + f"function__mutmut_{k}": _MESSAGE for k in (25, 26, 27)},
    **{_DIG + f"code__mutmut_{k}": _TAG_RENAMED for k in (1, 21, 22)},
    _DIG + "code__mutmut_11": _TAG_DROPPED,
    **{_DIG + f"code__mutmut_{k}":
       "co_cellvars left out: a cell variable exists only for a nested function, whose code (a constant, "
       "hashed) names it in co_freevars" for k in (6, 16)},
    # macro_unroll
    _MU + "x__split_reductions__mutmut_57": "an extra name for u = 0: the inits and copies only look up u ≥ 1",
    **{_MU + f"x__split_reductions__mutmut_{k}": "the (hi - lo + step - 1) // step trip count for step 1 too: "
       "the same number" for k in (83, 105)},
    # gemm_schedule
    _GS + "xǁGemmScheduleǁpipeline__mutmut_59": "',pad=0' written for an unpadded B: 0 is pack's default, the "
                                                   "parsed pipeline is the same",
    _GS + "x_register_tile__mutmut_10": "> 257 not > 256 bits: vector widths are 128, 256 or 512",
    **{_GS + f"x_register_tile__mutmut_{k}": "nv or mr from 0: a tile of 0 accumulators is below every FMA chain "
       "count (≥ 1) and skipped" for k in (16, 22)},
    _GS + "x_derive__mutmut_65": "N < nc_max not <=: at N == nc_max (a multiple of NR) _balanced returns N itself",
    _GS + "x_derive__mutmut_84": ">= not > against LOOP_OVERHEAD: 2 / (body · ku) = 0.03 needs a body of 66.7 uops",
    _GS + "x__balanced__mutmut_14": "size < cap not <=: size is a multiple of `multiple`, so at size == cap the "
                                    "cap's largest multiple is size itself",
}

_FIELDS = "test_code_hash_fields.py::"
_STEPS = "test_gemm_schedule_steps.py (checked with it and test_gemm_tiles.py)"
#: survivors of this session's runs killed by a test added after the run: `check` run with the
#: test's file alone (the test named is the one written for the mutant)
KILLED_BY_HAND = {
    **{_CH + f"x__installed_roots__mutmut_{k}":
       _FIELDS + "test_installed_reads_the_submodule_itself_then_its_package (a fresh process: mutmut's "
       "forks kept the roots computed at import, before the mutant was switched on)"
       for k in (1, 2, 3, 4, 5, 12, 13, 14)},
    **{_CH + f"x_installed__mutmut_{k}": _FIELDS + "test_installed_reads_the_submodule_itself_then_its_package"
       for k in (13, 14, 15)},
    _DIG + "value__mutmut_3": _FIELDS + "test_a_string_is_not_taken_for_a_container_header",
    **{_DIG + f"value__mutmut_{k}": _FIELDS + "test_a_dict_s_length_separates_nested_dicts" for k in (20, 22)},
    _DIG + "value__mutmut_31": _FIELDS + "test_a_dict_is_ordered_by_its_keys_not_its_values",
    _DIG + "value__mutmut_40": _FIELDS + "test_an_installed_enum_s_member_is_in_the_digest",
    _DIG + "named__mutmut_14": _FIELDS + "test_a_submodule_carries_its_package_s_version",
    **{_DIG + f"named__mutmut_{k}": _FIELDS + "test_a_class_or_builtin_is_told_by_its_module" for k in (20, 24)},
    **{_DIG + f"function__mutmut_{k}": _FIELDS + "test_a_held_function_seen_before_is_told_by_which_one"
       for k in (4, 6, 10)},
    **{_DIG + f"function__mutmut_{k}": _FIELDS + "test_the_function_s_name_is_in_the_digest" for k in (13, 15)},
    _DIG + "function__mutmut_20": _FIELDS + "test_keyword_defaults_alone_are_in_the_digest",
    **{_DIG + f"function__mutmut_{k}": _FIELDS + "test_the_globals_present_are_in_the_digest_by_name"
       for k in (34, 36)},
    **{_DIG + f"code__mutmut_{k}": _FIELDS + "test_each_code_field_alone_is_in_the_digest"
       for k in (2, 3, 4, 7, 8, 9, 10, 12, 13, 14, 17, 18, 19, 20, 23)},
    **{_DIG + f"code__mutmut_{k}": _FIELDS + "test_free_variable_names_alone_are_in_the_digest" for k in (5, 15)},
    _CH + "x__global_names__mutmut_3": _FIELDS + "test_the_outer_code_s_globals_count_beside_a_nested_function_s",
    **{f"unrollkit.passes.tile.xǁTileǁ__post_init____mutmut_{k}":
       "test_tile_text.py::test_fields_are_normalised_to_tuples_of_strings" for k in (7, 8, 17, 18)},
    **{f"unrollkit.passes.tile.xǁTileǁfrom_text__mutmut_{k}": "test_tile_text.py (checked with the file)"
       for k in (15, 16, 18, 26, 32, 33, 40, 42, 43, 45, 49, 50)},
    **{_MU + f"x__split_reductions__mutmut_{k}":
       "test_macro_unroll_edges.py::test_split_carried_from_a_nonzero_start_with_step_one" for k in range(107, 116)},
    **{_GS + f"xǁGemmScheduleǁdescribe__mutmut_{k}": _STEPS
       for k in (4, 5, 7, 8, 9, 10, 11, 12, 13, 15, 16, 17, 18, 20, 21, 22, 23, 24, 25, 26, 27, 28)},
    **{_GS + f"xǁGemmScheduleǁ_cache_blocks__mutmut_{k}": _STEPS for k in (5,)},
    **{_GS + f"xǁGemmScheduleǁ_vector_steps__mutmut_{k}": _STEPS for k in (2, 3, 6, 7, 8, 9, 12, 21)},
    **{_GS + f"xǁGemmScheduleǁpipeline__mutmut_{k}": _STEPS
       for k in (6, 9, 38, 48, 50, 51, 53, 55, 56, 58, 64, 65, 66, 70, 71, 72, 81, 82)},
    **{_GS + f"x_register_tile__mutmut_{k}": _STEPS
       for k in (7, 18, 19, 24, 25, 59, 67, 69, 80, 81, 82, 83, 84, 85, 87, 88, 89)},
    **{_GS + f"x_derive__mutmut_{k}": _STEPS for k in (9, 10, 14, 38, 39, 73, 79, 85, 86, 91, 101, 121, 145)},
    **{_GS + f"xǁSchedulesǁdescribe__mutmut_{k}": _STEPS for k in (1, 2, 3, 4, 5, 6)},
    **{_GS + f"xǁSchedulesǁpipeline__mutmut_{k}": _STEPS for k in (1, 2, 3, 4, 5)},
    **{_GS + f"x_gemm_schedule__mutmut_{k}": _STEPS for k in (30, 34, 35)},
    **{_GS + f"x_gemm_pipeline__mutmut_{k}": _STEPS for k in (1, 2, 3, 5, 6, 8, 9)},
    **{_GS + f"x_gemm_plan__mutmut_{k}": _STEPS for k in (4, 7, 13, 19)},
}

#: survivors on a defensive path no test input reaches (counted as survivors)
NOT_REACHED = {
    _GS + "x_register_tile__mutmut_71": "> not >= against best · (1 - TIE): differs only for a tile scoring "
                                        "exactly 0.99 of the best, which no size gives",
}

"""Mutation testing of the modules whose mistakes are silent (issue 18); not part of CI.

    python tools/mutation.py seeded              # the hand-seeded bugs: each applied, tests run, killed?
    python tools/mutation.py mutmut [--max-children 1] [--workdir DIR]
                                                  # mutmut 3 over [tool.mutmut] only_mutate
    python tools/mutation.py report [--workdir DIR] [--out bench/MUTATION.md]

Everything runs in a *staged copy*, never in the checkout (other work goes on there): the
committed tree (``git archive HEAD``; ``--worktree`` takes the working tree instead) laid out as
``src/unrollkit/`` with ``kernels/`` and ``passes/`` moved under it, the layout mutmut and a plain
``PYTHONPATH`` understand, so the copy imports as ``unrollkit`` ahead of the installed package.
Run it with the development venv's Python (it needs pytest, hypothesis and mutmut), e.g.
``/work/devvenv/bin/python tools/mutation.py mutmut``; `tools/mutation.sh` is the one command.
"""
from __future__ import annotations

import argparse
import ast
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

# (run as a script: its folder, tools/, is on sys.path)
from mutation_verdicts import EQUIVALENT, KILLED_BY_HAND, NOT_REACHED

ROOT = Path(__file__).resolve().parent.parent
#: repository folder → where it goes in the staged src layout
LAYOUT = {"unrollkit": "src/unrollkit", "kernels": "src/unrollkit/kernels",
          "passes": "src/unrollkit/passes", "tests": "tests", "pyproject.toml": "pyproject.toml"}


def stage(dest: Path, worktree: bool = False, rev: str = "HEAD") -> Path:
    """Copy the package and its tests (at commit ``rev``, or the working tree) into ``dest`` in
    the src layout; returns ``dest``."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    if worktree:
        for name, to in LAYOUT.items():
            src = ROOT / name
            if src.is_dir():
                shutil.copytree(src, dest / to, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyc"))
            else:
                shutil.copy2(src, dest / to)
        return dest
    raw = subprocess.run(["git", "archive", "--format=tar", rev, *LAYOUT], cwd=ROOT,
                         check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            top, _, rest = member.name.partition("/")
            out = dest / LAYOUT[top] / rest if rest else dest / LAYOUT[top]
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(tar.extractfile(member).read())
    return dest


def _env(staged: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(staged / "src")
    env["UNROLLKIT_CACHE_DIR"] = tempfile.mkdtemp(prefix="unrollkit-mutation-cache-")
    # the disk cache off: mutmut switches mutants at run time inside one source text (one cache
    # key for all of them), so a cached compile would hide every mutant of the compiler
    env["UNROLLKIT_CACHE"] = "0"
    env.pop("CI", None)
    env["HYPOTHESIS_PROFILE"] = "dev"
    return env


# ---------------------------------------------------------------- seeded bugs

#: the transformed-IR proof's tests
_PROOF_TESTS = ["tests/analysis", "tests/test_bounds_end_to_end.py"]

#: (what, repository file, text, mutated text, test selection). Each text occurs once in the file.
SEEDED = [
    ("unroll-and-jam legality: the zero-direction / statement-order clause dropped (survivor 1)",
     "unrollkit/analysis/legality.py",
     "if rest < 0 or (rest == 0 and src.op != snk.op and _text_reversed(src, snk)):",
     "if rest < 0:",
     ["tests/analysis/test_legality_jam_siblings.py", "tests/analysis/test_legality_rules.py",
      "tests/passes/test_legality.py", "tests/passes",
      "tests/tools/test_fuzz_classes.py::test_sibling_loops_across_the_outer_loop"]),
    ("GEMM remainder widths: w >= 2 -> w > 2 (survivor 3)",
     "unrollkit/tuning/gemm_schedule.py", "while rem and w >= 2 and", "while rem and w > 2 and",
     ["tests/passes/test_remainders.py", "tests/tuning/test_gemm_schedule.py", "tests/tuning/test_gemm_tiles.py",
      "tests/tuning/test_gemm_schedule_steps.py", "tests/tools/test_fuzz_classes.py::test_gemm_remainder_classes"]),
    ("frontend bounds proof off by one: hi >= n -> hi > n (single kill)",
     "unrollkit/analysis/kernel_bounds.py", "if rng[0] < 0 or rng[1] >= n:",
     "if rng[0] < 0 or rng[1] > n:",
     ["tests/analysis/test_kernel_bounds.py", "tests/passes/test_remainders.py",
      "tests/frontend/test_frontend_errors.py", "tests/runtime/test_arguments.py",
      "tests/analysis/test_bounds_proof.py"]),
    ("transformed-IR bounds proof off by one: hi >= n -> hi > n (survivor 2)",
     "unrollkit/analysis/module_bounds.py", "if lo < 0 or hi >= n:", "if lo < 0 or hi > n:",
     ["tests/analysis/test_bounds_proof.py", "tests/test_bounds_end_to_end.py", "tests/analysis/test_bounds_mutants.py"]),
    ("tile: the last partial tile starts one tile late (single kill)",
     "passes/tile.py", "e = lbm.results[0] + (trips - 1) * step_of(tile)",
     "e = lbm.results[0] + trips * step_of(tile)",
     ["tests/passes/test_remainders.py", "tests/passes", "tests/tuning/test_gemm_schedule.py"]),
    ("tile: the last partial tile starts one tile early (variant of the above)",
     "passes/tile.py", "e = lbm.results[0] + (trips - 1) * step_of(tile)",
     "e = lbm.results[0] + (trips - 2) * step_of(tile)",
     ["tests/passes/test_remainders.py", "tests/passes", "tests/tuning/test_gemm_schedule.py"]),
    ("split-accumulators: the balanced tree drops the odd accumulator (single kill)",
     "passes/split_accumulators.py",
     "                if len(parts) % 2:\n                    nxt.append(parts[-1])\n", "",
     ["tests/passes/test_remainders.py", "tests/passes", "tests/cli/test_cli_passes.py"]),
    ("session 8 proof: an affine access's offset taken with the wrong sign",
     "unrollkit/analysis/affine_to_isl.py",
     "offset += c * entries[i][1]", "offset -= c * entries[i][1]", _PROOF_TESTS),
    ("session 8 proof: an access's plan memoised per map only, not per operand shapes",
     "unrollkit/analysis/affine_to_isl.py", "memo = tuple(memo)",
     "memo = amap", _PROOF_TESTS),
    ("session 8 proof: linear shapes interned by their values only, not their coefficients",
     "unrollkit/analysis/affine_to_isl.py", "frozen = frozenset(coeffs.items())",
     "frozen = frozenset(coeffs)", _PROOF_TESTS),
    ("session 8 proof: an affine.vector_load taken for a one-element access",
     "unrollkit/analysis/memory_ops.py", '_SCALAR = frozenset(("affine.load",',
     '_SCALAR = frozenset(("affine.vector_load", "affine.load",', _PROOF_TESTS),
    ("session 9 proof: a transfer's lanes memoised without its in_bounds attribute",
     "unrollkit/analysis/memory_ops.py", 'attrs.get("permutation_map"), attrs.get("in_bounds"))',
     'attrs.get("permutation_map"), None)', _PROOF_TESTS),
    ("session 9 pack: a transposed copy's square ends one element short",
     "passes/pack.py", "ends = [d0 + block] + ", "ends = [d0 + block - 1] + ",
     ["tests/passes/test_pack_transpose.py", "tests/tuning/test_contractions.py"]),
    ("session 9 pack: a row-by-row copy drops each row's last column",
     "passes/pack_rows.py", "_map(n + 1, const(W), j0_r + extents[1] - r * W)",
     "_map(n + 1, const(W - 1), j0_r + extents[1] - r * W)",
     ["tests/passes/test_pack_iterations.py", "tests/tuning/test_contractions.py"]),
    ("session 9 proof: the collector left paused after a proof",
     "unrollkit/analysis/module_bounds.py", "        if was:\n            gc.enable()\n",
     "        if was:\n            pass\n",
     ["tests/analysis/test_bounds_proof.py"]),
    ("cache key: plan.pragma dropped (single kill, test-order dependent)",
     "unrollkit/codegen/compiler.py", "plan.policy, plan.variant, plan.pragma,", "plan.policy, plan.variant,",
     ["tests/codegen/test_cache_key.py", "tests/core/test_code_hash.py", "tests/core/test_cache.py",
                   "tests/core/test_safety_cache.py"]),
]


def _staged_path(staged: Path, repo_file: str) -> Path:
    top, _, rest = repo_file.partition("/")
    return staged / LAYOUT[top] / rest


def _failing_tests(staged: Path, selection: list, env: dict) -> tuple:
    """(exit code, [failing test ids]) of pytest over ``selection`` in the staged copy."""
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf",
                          "--tb=no", *selection], cwd=staged, env=env, capture_output=True,
                         text=True, timeout=3600)
    failed = re.findall(r"^FAILED (\S+)", out.stdout, re.M)
    return out.returncode, failed, out.stdout.strip().splitlines()[-1:] if out.stdout.strip() else []


def seeded(worktree: bool, only: str | None) -> int:
    staged = stage(Path(tempfile.mkdtemp(prefix="unrollkit-seeded-")) / "stage", worktree)
    env = _env(staged)
    chosen = [m for m in SEEDED if not only or only in m[0]]
    # the unmutated copy first: a test failing already proves nothing about a mutant
    union = sorted({t for m in chosen for t in m[4]})
    _, already, tail = _failing_tests(staged, union, env)
    print(f"unmutated: {tail[0] if tail else '?'}; failing already: {already or 'none'}", flush=True)
    rows, bad = [], 0
    for what, repo_file, text, mutated, selection in chosen:
        path = _staged_path(staged, repo_file)
        original = path.read_text()
        if original.count(text) != 1:
            rows.append((what, repo_file, "not applied: the text is not in the file once", []))
            bad += 1
            continue
        path.write_text(original.replace(text, mutated))
        try:
            code, failed, tail = _failing_tests(staged, selection, env)
            failed = [t for t in failed if t not in already]
        finally:
            path.write_text(original)
        assert path.read_text() == original
        units = [t for t in failed if "test_legality" in t or "test_remainders" in t or "test_gemm_" in t
                 or "test_cache_key" in t or "test_bounds" in t or "test_kernel_bounds" in t]
        killed = len(failed) >= 2
        bad += not killed
        verdict = (f"KILLED by {len(failed)} tests ({len(units)} in the new guarantee tests)"
                   if killed else f"SURVIVED (exit {code}, {len(failed)} failing) {tail}")
        rows.append((what, repo_file, verdict, failed))
    for what, repo_file, verdict, failed in rows:
        print(f"- {what}\n  {repo_file}: {verdict}")
        for t in failed[:12]:
            print(f"    {t}")
        if len(failed) > 12:
            print(f"    ... and {len(failed) - 12} more")
    shutil.rmtree(staged.parent, ignore_errors=True)
    return 1 if bad else 0


# ---------------------------------------------------------------- mutmut


#: the passes group's tests: the unit and differential tests of each pass's remainders, not all
#: of tests/passes (a surviving mutant then costs seconds, not the whole folder)
PASSES_TESTS = ["tests/passes/" + f + ".py" for f in (
    "test_remainders", "test_peel_remainders", "test_unroll_remainders", "test_tile_remainders", "test_tile_text",
    "test_tile_edges", "test_split_accumulators_rules", "test_split_accumulators", "test_tile", "test_unroll",
    "test_peel", "test_pad", "test_triangular_unroll")] + [
        "tests/tuning/test_gemm_tiles.py", "tests/tuning/test_gemm_schedule_steps.py",
        "tests/tuning/test_gemm_schedule.py", "tests/tuning/test_triangular.py",
        "tests/codegen/test_macro_unroll_edges.py",
        "tests/codegen/test_macro_unroll_copies.py", "tests/codegen/test_macro_unroll.py"]
#: the modules whose mistakes are silent, in groups: (modules to mutate, the tests that target
#: them). Each group has its own staged copy (``<workdir>-<group>``) whose pyproject.toml gets a
#: ``[tool.mutmut]`` section (mutmut only understands the src layout there): mutmut runs, per
#: mutant, the group's tests that executed the mutated function, so a narrow selection keeps a
#: surviving mutant's cost in seconds, not in minutes.
GROUPS = {
    "bounds": (["unrollkit/analysis/nest.py", "unrollkit/analysis/affine_to_isl.py",
                "unrollkit/analysis/memory_ops.py", "unrollkit/analysis/module_bounds.py",
                "unrollkit/analysis/kernel_bounds.py", "unrollkit/analysis/ir_bounds.py"],
               ["tests/analysis/test_bounds_index_forms.py", "tests/analysis/test_bounds_refusal_text.py",
                "tests/analysis/test_nest_values.py", "tests/analysis/test_bounds_proof.py",
                "tests/analysis/test_transfer_attributes.py",
                "tests/analysis/test_bounds_mutants.py", "tests/analysis/test_kernel_bounds.py",
                # `access_domains` serves promote-to-registers alone
                "tests/passes/test_promote_registers.py", "tests/test_bounds_end_to_end.py"]),
    # the exact dependence relations, the legality rules over them, and the passes' wrappers
    "legality": (["unrollkit/analysis/dependence.py", "unrollkit/analysis/legality.py",
                  "passes/dependence.py"],
                 ["tests/analysis/test_legality_rules.py", "tests/analysis/test_legality_jam_siblings.py",
                  "tests/analysis/test_dependence_model.py",
                  "tests/passes/test_legality.py", "tests/passes/test_dependence_isl.py"]),
    "passes": (["passes/split_accumulators.py", "unrollkit/tuning/gemm_schedule.py",
                "passes/tile.py", "passes/unroll.py", "passes/peel.py", "passes/pad.py",
                "unrollkit/codegen/macro_unroll.py"],
               PASSES_TESTS),
    "cache_key": (["unrollkit/codegen/compiler.py", "unrollkit/core/cache.py", "unrollkit/core/code_hash.py"],
                  ["tests/codegen/test_cache_key.py", "tests/core/test_code_hash_fields.py",
                   "tests/core/test_code_hash.py", "tests/core/test_cache.py",
                   "tests/core/test_safety_cache.py"]),
}
#: what `tools/mutation.sh` runs with no arguments: group → mutant-name globs (the functions that
#: carry the proof, remainder and key logic; see bench/MUTATION.md for what was not run)
DEFAULT_GLOBS = {
    "bounds": ["unrollkit.*"],
    "legality": ["unrollkit.*"],
    "passes": ["unrollkit.*"],
    "cache_key": ["unrollkit.codegen.compiler.x_cache_key*", "unrollkit.core.cache.x_make_key*",
                  "unrollkit.core.code_hash.*"],
}


def mutmut_config(group: str) -> str:
    def toml_list(xs):
        return "[" + ", ".join(f'"{x}"' for x in xs) + "]"
    modules, tests = GROUPS[group]
    staged = [str(LAYOUT[m.split("/")[0]] + "/" + m.split("/", 1)[1]) for m in modules]
    return ("\n[tool.mutmut]\n"
            "# written by tools/mutation.py into its staged copy (src/ layout); not part of CI\n"
            'source_paths = ["src/unrollkit"]\n'
            f"only_mutate = {toml_list(staged)}\n"
            'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q"]\n'
            f"pytest_add_cli_args_test_selection = {toml_list(tests)}\n"
            "use_git_change_detection = false\n")


def group_dir(workdir: Path, group: str) -> Path:
    return workdir.with_name(f"{workdir.name}-{group}")


def run_mutmut(workdir: Path, group: str, worktree: bool, max_children: int, names: list) -> int:
    wd = group_dir(workdir, group)
    if not (wd / "mutants").exists():
        stage(wd, worktree)
        with open(wd / "pyproject.toml", "a") as f:
            f.write(mutmut_config(group))
    env = _env(wd)
    env.pop("PYTHONPATH")  # mutmut puts its mutated copy (mutants/src) first itself
    mutmut = Path(sys.executable).with_name("mutmut")
    cmd = [str(mutmut), "run", "--max-children", str(max_children), *(names or DEFAULT_GLOBS[group])]
    print("in", wd, ":", " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=wd, env=env).returncode


def results(workdir: Path) -> dict:
    """mutant name → status, from ``mutmut results --all true`` in ``workdir``."""
    mutmut = Path(sys.executable).with_name("mutmut")
    out = subprocess.run([str(mutmut), "results", "--all", "true"], cwd=workdir,
                         capture_output=True, text=True, env=_env(workdir)).stdout
    found = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+__mutmut_\d+): (.+)$", line)
        if m:
            found[m.group(1)] = m.group(2).strip()
    return found


def _module_source(workdir: Path, module: str) -> bytes | None:
    path = workdir / "src" / (module.replace(".", "/") + ".py")
    return path.read_bytes() if path.exists() else None


def _checkout_source(module: str) -> bytes | None:
    """The checkout's source of ``module`` (the staged layout mapped back: passes/, kernels/)."""
    parts = module.split(".")
    top = {"passes": "passes", "kernels": "kernels"}.get(parts[1] if len(parts) > 2 else "", None)
    path = ROOT / top / "/".join(parts[2:]) if top else ROOT / "/".join(parts)
    path = path.with_suffix(".py")
    return path.read_bytes() if path.exists() else None


def _function_of(source: bytes | None, mutant: str) -> str | None:
    """The AST (no positions) of the function a mutant of ``source`` mutates, or None.

    mutmut names a mutant ``<module>.x_<function>__mutmut_<n>`` or
    ``<module>.xǁ<class>ǁ<method>__mutmut_<n>`` and numbers the mutants of one function by
    walking that function alone: an unchanged function has the same mutants under the same names."""
    if source is None:
        return None
    where = re.sub(r"__mutmut_\d+$", "", mutant.split(".x", 1)[1])
    path = where.strip("ǁ").split("ǁ") if where.startswith("ǁ") else [where[1:]]
    body = ast.parse(source).body
    for part in path:
        node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                     and n.name == part), None)
        if node is None:
            return None
        body = node.body
    return ast.dump(node, include_attributes=False)


def _same_function(now: bytes | None, then: bytes | None, mutant: str) -> bool:
    """Is the function ``mutant`` mutates the same in both sources (so are its mutants)?"""
    a = _function_of(now, mutant)
    return a is not None and a == _function_of(then, mutant)


def results_modules(workdir: Path) -> set:
    """The modules a group folder's mutmut run mutated (empty if it never ran)."""
    meta = workdir / "mutants" / "src"
    return {str(p.relative_to(meta))[:-len(".py.meta")].replace("/", ".")
            for p in meta.rglob("*.py.meta")} if meta.exists() else set()


def merged_results(workdirs: list, earlier: list) -> dict:
    """module → {status: [mutant names]} over the group folders ``workdirs``; a mutant they did
    not check takes its status from an ``earlier`` run's folder, but only when that run
    mutated a byte-identical source file, or one whose mutated function is unchanged (its
    mutants then have the same names and texts): compared with the group folder's copy, or the
    checkout's when no group folder mutated the module."""
    status = {}
    for wd in workdirs:
        if (wd / "mutants").exists():
            status.update(results(wd))
    for old in earlier:
        for name, st in results(old).items():
            module = name.split(".x")[0]
            here = next((wd for wd in workdirs if module in results_modules(wd)), None)
            now = _module_source(here, module) if here else _checkout_source(module)
            then = _module_source(old, module)
            if now != then and not _same_function(now, then, name):
                continue
            if status.get(name, "not checked") == "not checked" and (st != "not checked" or here is None):
                status[name] = st
    by_module: dict = {}
    for name, st in status.items():
        by_module.setdefault(name.split(".x")[0], {}).setdefault(st, []).append(name)
    return by_module


def check_by_hand(workdir: Path, group: str, names: list, tests: list) -> int:
    """Run ``tests`` (test files of the checkout, copied into the group's mutant tree first)
    against each mutant of ``names`` (mutmut's trampolines pick the mutant named by
    ``MUTANT_UNDER_TEST``): the check behind `KILLED_BY_HAND`. Prints killed/survived."""
    # a private copy of the group's mutant tree: a mutmut run may be using the tree itself
    mutants = Path(tempfile.mkdtemp(prefix="unrollkit-mutation-check-")) / "mutants"
    shutil.copytree(group_dir(workdir, group) / "mutants", mutants,
                    ignore=shutil.ignore_patterns("__pycache__", "mutmut-stats.json"))
    for t in tests:
        shutil.copy2(ROOT / t.split("::")[0], mutants / t.split("::")[0])
    env = _env(mutants)
    env["MUTANT_UNDER_TEST"] = ""  # the original code: the tests must pass on it first
    base = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--tb=short",
                           *tests], cwd=mutants, env=env, capture_output=True, text=True, timeout=1800)
    if base.returncode != 0:
        print(f"the tests fail on the unmutated code; nothing to check:\n{base.stdout[-2000:]}")
        return 2
    survived = 0
    for name in names:
        env["MUTANT_UNDER_TEST"] = name
        code = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                               "--tb=no", *tests], cwd=mutants, env=env, capture_output=True,
                              timeout=1800).returncode
        survived += code == 0
        print(f"{name}: {'survived' if code == 0 else 'killed'}", flush=True)
    shutil.rmtree(mutants.parent, ignore_errors=True)
    return 1 if survived else 0


DETECTED = ("killed", "timeout", "suspicious", "segfault", "caught by type check")


def _functions(source: bytes | None) -> set:
    """mutmut's names (``x_f``, ``xǁCǁm``) of the functions and methods of ``source``."""
    if source is None:
        return set()
    out = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.add("x_" + node.name)
        elif isinstance(node, ast.ClassDef):
            out |= {f"xǁ{node.name}ǁ{m.name}" for m in node.body
                    if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))}
    return out


def _unrun_functions(module: str, by: dict) -> int:
    """How many functions of the checkout's ``module`` no folder has a result for (changed
    since the run that checked them, or never run; a function mutmut finds nothing to mutate
    in counts too)."""
    seen = {re.sub(r"__mutmut_\d+$", "", n.split(".", module.count(".") + 1)[-1])
            for st, names in by.items() if st != "not checked" for n in names}
    return len(_functions(_checkout_source(module)) - seen)


def report(workdir: Path, earlier: list) -> int:
    """Print the score table and the verdicts on the survivors (markdown, for bench/MUTATION.md)."""
    rows = merged_results([group_dir(workdir, g) for g in GROUPS], earlier)
    print("| module | mutants | checked | killed | survived | equivalent | not checked | score | "
          "score w/o equivalents | functions without a result |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    lists = {"equivalent": [], "by hand": [], "not reached": [], "survivor": []}
    for module, by in sorted(rows.items()):
        n = sum(len(v) for v in by.values())
        unchecked = len(by.get("not checked", []))
        checked = n - unchecked
        detected = sum(len(by.get(k, [])) for k in DETECTED)
        # "survived", "no tests" (no selected test runs the function), ...
        alive = [m for st, ms in by.items() if st not in DETECTED and st != "not checked" for m in ms]
        equivalent = [m for m in alive if m in EQUIVALENT]
        by_hand = [m for m in alive if m in KILLED_BY_HAND]
        rest = [m for m in alive if m not in EQUIVALENT and m not in KILLED_BY_HAND]
        lists["equivalent"] += [(m, EQUIVALENT[m]) for m in equivalent]
        lists["by hand"] += [(m, KILLED_BY_HAND[m]) for m in by_hand]
        lists["not reached"] += [(m, NOT_REACHED[m]) for m in rest if m in NOT_REACHED]
        lists["survivor"] += [(m, "") for m in rest if m not in NOT_REACHED]
        killed = detected + len(by_hand)
        score = f"{killed / checked:.1%}" if checked else "-"
        net = checked - len(equivalent)
        score2 = f"{killed / net:.1%}" if net else "-"
        print(f"| {module} | {n} | {checked} | {killed} | {len(rest)} | {len(equivalent)} | {unchecked} | "
              f"{score} | {score2} | {_unrun_functions(module, by)} |")
    titles = {"equivalent": "Equivalent mutants (left out of the second score)",
              "by hand": "Survivors of a run killed by a test added after it (checked by hand)",
              "not reached": "Survivors on a defensive path no test input reaches (counted as survivors)",
              "survivor": "Other survivors"}
    for key, title in titles.items():
        if lists[key]:
            print(f"\n### {title}\n\n| mutant | why |\n|---|---|")
            for m, why in lists[key]:
                print(f"| `{m.replace('unrollkit.', '', 1)}` | {why} |")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=["seeded", "mutmut", "report", "stage", "check"])
    ap.add_argument("names", nargs="*", help="mutmut: mutant names or globs to run; check: names")
    ap.add_argument("--tests", nargs="+", default=[], help="check: the test files to run")
    ap.add_argument("--worktree", action="store_true", help="stage the working tree, not HEAD")
    ap.add_argument("--rev", default="HEAD", help="stage: the commit to stage")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "unrollkit-mutation")
    ap.add_argument("--max-children", type=int, default=1)
    ap.add_argument("--group", choices=sorted(GROUPS), default="bounds",
                    help="mutmut: the group of modules and tests (its own folder <workdir>-<group>)")
    ap.add_argument("--earlier", type=Path, action="append", default=[],
                    help="report: also count an earlier run's folder (for unchanged sources)")
    ap.add_argument("--only", help="seeded: only the bugs whose description contains this")
    a = ap.parse_intermixed_args(argv)
    if a.command == "seeded":
        return seeded(a.worktree, a.only)
    if a.command == "stage":
        print(stage(a.workdir, a.worktree, a.rev))
        return 0
    if a.command == "check":
        return check_by_hand(a.workdir, a.group, a.names, a.tests)
    if a.command == "mutmut":
        return run_mutmut(a.workdir, a.group, a.worktree, a.max_children, a.names)
    return report(a.workdir, a.earlier)


if __name__ == "__main__":
    sys.exit(main())

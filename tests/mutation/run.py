"""Mutation testing of the core modules, one module at a time (mutmut 3, under `nice`).

Each module is mutated against the fast test modules that cover it (MODULES below; never the
trainer's or Beam's). A module runs in its own workspace, a snapshot of the package and the
tests, so a run never touches the working tree and the other modules' results stay apart.
Shared settings (timeouts, pytest options) are in pyproject.toml's [tool.mutmut]; this script
adds, per module, which file to mutate and which tests to run.

    python tests/mutation/run.py                  # every module, smallest first
    python tests/mutation/run.py tfrconv/wire.py  # one module
    python tests/mutation/run.py --list           # the mapping, nothing run

Prints killed/survived/timeout counts and the score per module; writes each module's
surviving mutants (with their diffs) to <workdir>/<module>-survivors.txt. Slow by design
(minutes per module): not part of CI. See docs/testing.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent

# Module → the test modules that cover it (fast ones only), and any other pytest arguments.
MODULES: dict[str, list[str]] = {
    "tfrconv/problems.py": ["tests/test_tally.py", "tests/test_policies.py",
                            "tests/test_problem_kinds.py"],
    "tfrconv/tally.py": ["tests/test_tally.py", "tests/test_policies.py",
                         "tests/test_duplicate_ids.py", "tests/test_tally_rules.py"],
    # (inspect's tests of the COCO key set and of memory take ~30 s of the module's ~31 s)
    "tfrconv/features.py": ["tests/test_inspect.py", "tests/test_typed_features.py",
                            "tests/test_decode_canonical.py", "-k",
                            "not memory_does_not_grow and not every_converters_key_set"],
    "tfrconv/sharding.py": ["tests/test_sharding.py", "tests/test_publish.py",
                            "tests/test_shard_names.py"],
    # Known answers only: test_wire.py's 300 generated Examples cost about a minute of CPU per
    # mutant they run against (every call goes through mutmut's trampoline), and the cache
    # mutants that survive the known answers are equivalent (docs/testing.md). Run it against
    # the survivors with --recheck tests/test_wire.py.
    "tfrconv/wire.py": ["tests/test_wire_known.py"],
    # (TensorFlow's bytes are test_wire.py's protobuf comparison again, and the OD API decoder
    # runs in a subprocess: together ~30 s per surviving mutant)
    "tfrconv/example.py": ["tests/test_example_known.py", "tests/test_example.py",
                           "tests/test_core_api.py", "-k",
                           "not byte_identical_to_tensorflow and not odapi_decoder_spec"],
    "tfrconv/labelmap.py": ["tests/test_labelmap_known.py", "tests/test_labelmap.py"],
}

# What the tests read besides the package: copied into each workspace.
ALSO_COPY = ["tests", "plugins", "label_maps", "samples"]

# The workspace's own conftest.py (beside tests/, so pytest loads it before any test module): a
# failing example is enough to kill a mutant, so shrinking it would be wasted (and slow under
# mutmut's trampoline).
WORKSPACE_CONFTEST = '''"""Mutation runs only (tests/mutation/run.py): no shrinking."""
from hypothesis import Phase, settings

settings.register_profile("mutation", phases=[Phase.explicit, Phase.reuse, Phase.generate])
settings.load_profile("mutation")
'''

# mutmut's exit-code meanings (mutmut.stats.status_by_exit_code), folded into our columns.
STATUS = {1: "killed", 3: "killed", 0: "survived", 36: "timeout", 24: "timeout",
          -24: "timeout", 152: "timeout", 255: "timeout", 5: "no tests", 33: "no tests",
          34: "skipped", None: "not checked"}
COLUMNS = ("killed", "survived", "timeout", "no tests", "other")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="modules to mutate (default: all)")
    parser.add_argument("--workdir", default=str(ROOT / "build" / "mutation"),
                        help="where workspaces and survivor lists go (default: %(default)s)")
    parser.add_argument("--keep", action="store_true",
                        help="reuse an existing workspace (mutmut's cached results)")
    parser.add_argument("--report-only", action="store_true",
                        help="summarise the workspaces' results without running mutmut")
    parser.add_argument("--recheck", nargs="+", metavar="TEST",
                        help="run only these test modules against one module's recorded "
                             "survivors (after writing a test for them)")
    parser.add_argument("--list", action="store_true", help="print the mapping and exit")
    args = parser.parse_args(argv)

    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        parser.error(f"not a mapped module: {', '.join(unknown)} (see --list)")
    chosen = args.modules or sorted(MODULES, key=lambda m: (ROOT / m).stat().st_size)
    if args.list:
        for module in chosen:
            print(f"{module}: {' '.join(MODULES[module])}")
        return 0

    workdir = Path(args.workdir)
    if args.recheck:
        if len(chosen) != 1:
            parser.error("--recheck needs exactly one module")
        return recheck(chosen[0], workdir, args.recheck)
    rows = []
    for module in chosen:
        counts, survivors = run_module(module, workdir, keep=args.keep,
                                       run=not args.report_only)
        path = workdir / f"{Path(module).stem}-survivors.txt"
        path.write_text("".join(survivors), encoding="utf-8")
        rows.append((module, counts))
        print(f"{module}: {format_counts(counts)}; survivors in {path}", flush=True)
    print()
    print(table(rows))
    return 0


def run_module(module: str, workdir: Path, *, keep: bool,
               run: bool = True) -> tuple[Counter, list[str]]:
    """Mutate one module in its own workspace (unless not `run`); its counts and its
    survivors' diffs."""
    space = workdir / Path(module).stem
    if run:
        if space.exists() and not keep:
            shutil.rmtree(space)
        if not space.exists():
            make_workspace(space, module)
        # One child: the CPU is shared. nice: everything else on the machine goes first.
        subprocess.run(["nice", "-n", "19", str(VENV_BIN / "mutmut"), "run", "--max-children",
                        "1"], cwd=space, check=False)
    results = read_results(space / "mutants" / f"{module}.meta")
    counts = Counter(status_column(code) for code in results.values())
    survived = [name for name, code in sorted(results.items()) if STATUS.get(code) == "survived"]
    return counts, [f"# {name}\n{diff}\n\n" for name, diff in diffs(space, module, survived)]


def diffs(space: Path, module: str, names: list[str]) -> list[tuple[str, str]]:
    """Each mutant's diff, as `mutmut show` prints it (in this process: one `mutmut show` per
    mutant costs a second or two of start-up)."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    previous = Path.cwd()
    os.chdir(space)                      # mutmut reads its config and files from the cwd
    try:
        return [(name, get_diff_for_mutant(name, path=module)) for name in names]
    finally:
        os.chdir(previous)


def recheck(module: str, workdir: Path, tests: list[str]) -> int:
    """Run `tests` (copied fresh into the workspace) against each recorded survivor (and
    mutant no test reached) of `module`, selected the way mutmut does (its MUTANT_UNDER_TEST
    variable); print which still survive. Much cheaper than a new run, which repeats every
    mutant."""
    space = workdir / Path(module).stem
    results = read_results(space / "mutants" / f"{module}.meta")
    survivors = [name for name, code in sorted(results.items())
                 if STATUS.get(code) in ("survived", "no tests")]
    for test in tests:
        shutil.copy2(ROOT / test, space / "mutants" / test)
    still = []
    for name in [""] + survivors:                       # "": the unmutated code must pass
        outcome = subprocess.run(
            ["nice", "-n", "19", sys.executable, "-m", "pytest", "-x", "-q", "-p",
             "no:cacheprovider", *tests], cwd=space / "mutants", capture_output=True,
            env={**os.environ, "MUTANT_UNDER_TEST": name}, check=False)
        if not name and outcome.returncode != 0:
            sys.exit(f"error: {', '.join(tests)} fail on the unmutated code")
        if name and outcome.returncode == 0:
            still.append(name)
    print(f"{module}: {len(survivors) - len(still)} of {len(survivors)} survivors (or untested) "
          "now killed")
    for name in still:
        print(f"  still survives: {name}")
    return 0


def make_workspace(space: Path, module: str) -> None:
    """A snapshot of the package and the tests with a pyproject.toml that points mutmut at
    one module and its tests."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", "mutants")
    space.mkdir(parents=True)
    shutil.copytree(ROOT / "tfrconv", space / "tfrconv", ignore=ignore)
    for name in ALSO_COPY:
        shutil.copytree(ROOT / name, space / name, ignore=ignore)
    (space / "conftest.py").write_text(WORKSPACE_CONFTEST, encoding="utf-8")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    settings = dict(project.get("tool", {}).get("mutmut", {}))
    settings.update(source_paths=["tfrconv"], only_mutate=[module],
                    pytest_add_cli_args_test_selection=existing(MODULES[module]),
                    also_copy=[*ALSO_COPY, "conftest.py"])
    pytest_options = project["tool"]["pytest"]["ini_options"]
    (space / "pyproject.toml").write_text(
        toml_table("tool.mutmut", settings) + "\n" + toml_table("tool.pytest.ini_options",
                                                                pytest_options),
        encoding="utf-8")


def existing(arguments: list[str]) -> list[str]:
    """The arguments without the mapped test modules that do not exist (yet)."""
    return [a for a in arguments if not a.endswith(".py") or (ROOT / a).is_file()]


def toml_table(name: str, values: dict) -> str:
    """A TOML table of strings, numbers, booleans and lists of them (JSON spells those the
    same way TOML does)."""
    lines = [f"[{name}]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def read_results(meta: Path) -> dict[str, int | None]:
    if not meta.is_file():
        sys.exit(f"error: {meta}: mutmut wrote no results (see its output above)")
    return json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]


def status_column(code: int | None) -> str:
    status = STATUS.get(code, "other")
    return status if status in COLUMNS else "other"


def score(counts: Counter) -> float:
    """Killed (timeouts included: a mutant that hangs is caught) over the mutants tested."""
    tested = counts["killed"] + counts["timeout"] + counts["survived"]
    return 100.0 * (counts["killed"] + counts["timeout"]) / tested if tested else 0.0


def format_counts(counts: Counter) -> str:
    parts = [f"{column} {counts[column]}" for column in COLUMNS if counts[column]]
    return ", ".join(parts) + f"; score {score(counts):.1f}%"


def table(rows: list[tuple[str, Counter]]) -> str:
    head = f"{'module':24} {'killed':>7} {'survived':>9} {'timeout':>8} {'no tests':>9} " \
           f"{'score':>7}"
    lines = [head, "-" * len(head)]
    total: Counter = Counter()
    for module, counts in rows:
        total.update(counts)
        lines.append(f"{module:24} {counts['killed']:7} {counts['survived']:9} "
                     f"{counts['timeout']:8} {counts['no tests']:9} {score(counts):6.1f}%")
    if len(rows) > 1:
        lines.append(f"{'all':24} {total['killed']:7} {total['survived']:9} "
                     f"{total['timeout']:8} {total['no tests']:9} {score(total):6.1f}%")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Mutation check of domain/ (issue 9): mutmut mutates only domain/*.py and runs only the
# fast unit tests that exercise the domain. Not part of `make test` or CI; run by hand:
#
#     MUTATION_MODULES="money months state" bash scripts/mutation-check.sh
#                                               # only these domain modules (these three:
#                                               # ~15 min on 2 cores), then the summary
#     bash scripts/mutation-check.sh            # all of domain/ (~3840 mutants: hours on
#                                               # 2 cores; priority modules first)
#     bash scripts/mutation-check.sh --keep     # reuse the previous run's copy and results
#     bash scripts/mutation-check.sh --keep domain.money.x_round_half_up__mutmut_3 ...
#                                               # re-run these mutants (fnmatch patterns)
#                                               # against the current tests (a new
#                                               # test_mutants_*.py changes the test list,
#                                               # so mutmut resets every verdict and
#                                               # recollects its stats; the summary keeps
#                                               # the earlier verdicts of the rest)
#     bash scripts/mutation-check.sh --resume   # finish an interrupted run: the mutants
#                                               # without a verdict (and its timeouts),
#                                               # priority modules first, same tests
#                                               # (MUTATION_MODULES="money months": only
#                                               # these, in this order)
#     bash scripts/mutation-check.sh --summary  # only print the previous run's summary
#
# Everything lives under .cache/ (git-ignored): the tool's venv in .cache/mutation-venv
# (the hash-checked requirements.lock, then mutmut, never the project's .venv), and a
# copy of the checkout in .cache/mutation-work where mutmut writes its mutants/ tree and
# results. The repository itself is only read. Runs under `nice -n 19`, two workers.
# The summary is also written to .cache/mutation-work/summary.txt and the surviving
# mutants' names to .cache/mutation-work/survivors.txt.
# Survivors: `cd .cache/mutation-work && ../mutation-venv/bin/python -m mutmut show NAME`.
#
# Three things this script has to get right (each made an earlier run useless):
# - tests/unit/test_domain_imports.py is not in the list: it reads domain/'s sources and
#   asserts they import only the standard library, and every mutated file imports
#   mutmut's trampoline, so under mutmut it fails and the stats phase ends in "failed to
#   collect stats" (behind a spinner that only moves when pytest prints: the ~20 s of
#   silent test_accounts in the instrumented stats run before it look like a hang).
# - domain's memos (months._POSITIONS / _SPANS, state._ROUNDED_MRR) are emptied before
#   every test. mutmut forks each mutant's worker from the process that ran the stats
#   and clean runs, so the memos already held the right answers and a mutant of
#   months._month_position was never even called (`k = None` "survived"). The copy gets a
#   tests/unit/conftest.py (the repository has none) that clears them; it fails loudly
#   if one is renamed. (mutmut's process_isolation = forkserver avoids the inheritance
#   too, but does not run a mutant's fastest tests first, so kills take longer.)
# - mutmut is started as `python -m mutmut`: a copied venv's bin/mutmut keeps the
#   shebang of the venv it was built in.
# And one that made it slow: a mutant that makes a Hypothesis test raise on every example
# was shrunk until the timeout (26 such "timeouts" in the first 620 mutants). The same
# conftest loads a profile that does not shrink and keeps no example database (so
# verdicts do not depend on earlier mutants).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ROOT}/.cache/mutation-venv"
WORK="${ROOT}/.cache/mutation-work"
MUTMUT_VERSION="3.8.1"
CHILDREN="${MUTATION_CHILDREN:-2}"
PYTHON="${PYTHON:-python3}"

# Modules whose rules a billing user sees (money, months, proration, operations, fold,
# snapshot, accounts, state) run first, so a partial run still says the most.
# shellcheck disable=SC2034 # read through `declare -n`
PRIORITY_MODULES=(money months operations fold fold_pass snapshot state accounts voids)
# shellcheck disable=SC2034
OTHER_MODULES=(ledger events ledger_types snapshot_types idempotency reasons errors)
TIMEOUT_MULTIPLIER="${MUTATION_TIMEOUT_MULTIPLIER:-5}"

keep=0
summary_only=0
resume=0
if [[ "${1:-}" == "--summary" ]]; then
    summary_only=1
elif [[ "${1:-}" == "--resume" ]]; then
    resume=1
elif [[ "${1:-}" == "--keep" ]]; then
    keep=1
    shift
fi
mutants=("$@")

# The domain's own unit tests and the unit tests that drive it through replay and the
# output schemas (test_agents / test_streams_plumbing exercise the worker, not the rules;
# test_domain_imports cannot pass on mutated files, see above). The whole list takes
# ~20 s plain, ~50 s in mutmut's instrumented stats run; each mutant runs only the tests
# that reached its function.
TESTS=(
    tests/unit/test_accounts.py
    tests/unit/test_fold_rules.py
    tests/unit/test_ledger.py
    tests/unit/test_months_and_money.py
    tests/unit/test_records.py
    tests/unit/test_replay_engine.py
    tests/unit/test_scenarios_replay.py
    tests/unit/test_schemas_decode.py
    tests/unit/test_schemas_outputs.py
    tests/unit/test_section9_fold.py
    tests/unit/test_section9_ledger.py
    tests/unit/test_state_at_date.py
    tests/unit/test_web_models.py
    tests/unit/test_web_state.py
)
for extra in "${ROOT}"/tests/unit/test_mutants_*.py; do
    [[ -e "${extra}" ]] && TESTS+=("tests/unit/$(basename "${extra}")")
done

pip_quiet() { nice -n 19 "${VENV}/bin/python" -m pip --quiet --disable-pip-version-check "$@"; }
if ! "${VENV}/bin/python" -c "import mutmut, sys; sys.exit(mutmut.__version__ != '${MUTMUT_VERSION}')" \
    2>/dev/null; then
    echo "[mutation] installing mutmut ${MUTMUT_VERSION} into ${VENV#"${ROOT}"/}" >&2
    rm -rf "${VENV}"
    "${PYTHON}" -m venv "${VENV}"
    pip_quiet install --require-hashes -r "${ROOT}/requirements.lock"
    # mutmut wants click ≥ 8.4.2, the lock has faust's click < 8.4: pip warns about the
    # conflict; faust's command line is never started by these tests.
    pip_quiet install "mutmut==${MUTMUT_VERSION}" 2>&1 | grep -v "dependency\|faust-streaming" || true
fi

summary() {
    (cd "${WORK}" && "${VENV}/bin/python" - <<'PY'
import collections, json, pathlib, re

status = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests",
          36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout",
          37: "type check", None: "not checked"}
columns = ["total", "killed", "survived", "timeout", "no tests", "not checked", "other"]
# A --keep run whose test list changed (a new tests/unit/test_mutants_*.py) makes mutmut
# reset every verdict; the verdicts from before it are kept in previous-results.json and
# stand for the mutants it did not run again (tests were only added: a kill stays a kill,
# a survivor not re-run is still counted as one).
previous_file = pathlib.Path("previous-results.json")
previous = json.loads(previous_file.read_text()) if previous_file.exists() else {}
rows, survivors = {}, []
for meta in sorted(pathlib.Path("mutants/domain").glob("*.py.meta")):
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    codes = {n: previous.get(n) if c is None else c for n, c in codes.items()}
    if not codes:
        continue
    counts = collections.Counter(status.get(code, "other") for code in codes.values())
    counts["total"] = len(codes)
    rows[meta.name.removesuffix(".py.meta")] = counts
    survivors += sorted((n for n, c in codes.items() if c == 0),
                        key=lambda n: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", n)])
total = sum(rows.values(), collections.Counter())
lines = ["module".ljust(16) + "".join(c.rjust(12) for c in columns)]
for name, counts in [*rows.items(), ("TOTAL", total)]:
    lines.append(name.ljust(16) + "".join(str(counts[c]).rjust(12) for c in columns))
pathlib.Path("summary.txt").write_text("\n".join(lines) + "\n")
pathlib.Path("survivors.txt").write_text("".join(f"{n}\n" for n in survivors))
print("\n".join(lines))
print(f"[mutation] {len(survivors)} survivors listed in .cache/mutation-work/survivors.txt")
PY
    )
}

if ((summary_only)); then
    summary
    exit 0
fi

if ((keep)) && [[ -d "${WORK}/mutants/domain" ]]; then
    (cd "${WORK}" && "${VENV}/bin/python" - <<'PY'
import json, pathlib

previous_file = pathlib.Path("previous-results.json")
previous = json.loads(previous_file.read_text()) if previous_file.exists() else {}
for meta in pathlib.Path("mutants/domain").glob("*.py.meta"):
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    previous.update({n: c for n, c in codes.items() if c is not None})
previous_file.write_text(json.dumps(previous, indent=0, sort_keys=True))
PY
    )
fi

write_profile() {
    cat >"${WORK}/tests/unit/conftest.py" <<'PY'
"""Written by scripts/mutation-check.sh into its copy of the checkout only (not in git)."""

from collections.abc import Iterator

import pytest
from hypothesis import Phase, settings

from domain import months, state

settings.register_profile(
    "mutation",
    database=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    print_blob=False,
)
settings.load_profile("mutation")

MEMOS = (months._POSITIONS, months._SPANS, state._ROUNDED_MRR)


@pytest.fixture(autouse=True)
def _empty_domain_memos() -> Iterator[None]:
    """A mutant's worker is forked from a process whose memos the original code filled."""
    for memo in MEMOS:
        memo.clear()
    yield
PY
}

mutmut_run() {
    local status=0
    echo "[mutation] mutmut run $(printf '%s\n' "$@" | head -n 12 | tr '\n' ' ')($# arguments)" >&2
    (cd "${WORK}" && nice -n 19 "${VENV}/bin/python" -m mutmut run --max-children "${CHILDREN}" \
        "$@" >>mutmut-run.log 2>&1) || status=$?
    tail -c 2000 "${WORK}/mutmut-run.log" | tr '\r' '\n' | grep -a . | tail -n 2
    if ((status != 0)); then
        echo "[mutation] mutmut run failed (exit ${status}); see ${WORK#"${ROOT}"/}/mutmut-run.log" >&2
        exit "${status}"
    fi
}

if ((resume)); then
    [[ -f "${WORK}/mutants/mutmut-stats.json" ]] || {
        echo "[mutation] nothing to resume in ${WORK#"${ROOT}"/}" >&2
        exit 1
    }
    write_profile
    groups=(PRIORITY_MODULES OTHER_MODULES)
    if [[ -n "${MUTATION_MODULES:-}" ]]; then
        # shellcheck disable=SC2034
        read -r -a SELECTED_MODULES <<<"${MUTATION_MODULES}"
        groups=(SELECTED_MODULES)
    fi
    for group in "${groups[@]}"; do
        declare -n modules="${group}"
        mapfile -t names < <(cd "${WORK}" && "${VENV}/bin/python" - "${modules[@]}" <<'PY'
import json, pathlib, sys

unfinished = {None, 24, -24, 152, 255, 36}  # no verdict yet, or a timeout
for module in sys.argv[1:]:
    meta = pathlib.Path(f"mutants/domain/{module}.py.meta")
    if meta.exists():
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        print("\n".join(n for n, c in codes.items() if c in unfinished))
PY
        )
        unset -n modules
        mapfile -t names < <(printf '%s\n' "${names[@]}" | grep .)
        if ((${#names[@]})); then mutmut_run "${names[@]}"; fi
    done
    summary
    exit 0
fi

# A copy of the checkout as it is (tracked and untracked, not ignored files), so
# uncommitted work is checked too and nothing is written into the repository.
if ((keep == 0)); then
    rm -rf "${WORK}"
fi
mkdir -p "${WORK}"
while IFS= read -r -d '' path; do
    if [[ -f "${ROOT}/${path}" ]]; then printf '%s\0' "${path}"; fi
done < <(git -C "${ROOT}" ls-files -z --cached --others --exclude-standard -- \
    domain schemas service streams tests pyproject.toml) |
    tar -C "${ROOT}" --null -T - -cf - | tar -C "${WORK}" -xf -

{
    echo "[mutmut]"
    echo "source_paths = domain/"
    echo "timeout_multiplier = ${TIMEOUT_MULTIPLIER}"
    echo "also_copy ="
    for package in schemas service streams; do echo "    ${package}/"; done
    echo "pytest_add_cli_args_test_selection ="
    for test in "${TESTS[@]}"; do echo "    ${test}"; done
    echo "pytest_add_cli_args ="
    echo "    -p"
    echo "    no:cacheprovider"
    echo "    --hypothesis-seed=0"
    echo "    -q"
} >"${WORK}/setup.cfg"

write_profile
: >"${WORK}/mutmut-run.log"
if ((${#mutants[@]})); then
    mutmut_run "${mutants[@]}"
elif [[ -n "${MUTATION_MODULES:-}" ]]; then
    read -r -a selected <<<"${MUTATION_MODULES}"
    patterns=()
    for module in "${selected[@]}"; do patterns+=("domain.${module}.*"); done
    mutmut_run "${patterns[@]}"
elif ((keep)); then
    mutmut_run # only mutants without a result (new or changed functions)
else
    # Two passes, priority modules first; a module with no functions has no mutants and
    # would make mutmut refuse the filter, so only modules that have some are named.
    for group in PRIORITY_MODULES OTHER_MODULES; do
        declare -n modules="${group}"
        patterns=()
        for module in "${modules[@]}"; do
            if grep -qE '^\s*(async )?def ' "${ROOT}/domain/${module}.py"; then
                patterns+=("domain.${module}.*")
            fi
        done
        unset -n modules
        mutmut_run "${patterns[@]}"
    done
fi
summary

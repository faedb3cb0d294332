#!/usr/bin/env python
"""Benchmark of the batch path and of the engine alone.

1. Batch throughput of ``manage.py evaluate --jsonl --format json`` on one core (``taskset -c 0``
   where available): the command runs on N synthetic cases and on 1 case; the difference of the
   wall times over N - 1 is the cost per case with start-up (Python, Django, loading the rule
   set) excluded. The median of several runs is reported.
2. The in-process cost per case of the engine alone (parse + evaluate, and evaluate only), and of
   the JSON encoding, measured with timeit (best of several repeats).

Usage: ``python bench/bench_evaluate.py [--cases 100000] [--runs 5]``. Needs a migrated database.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eligibility.rules import (  # noqa: E402
    CATALOGUE,
    OPTIONAL_GROUPS,
    Engine,
    RuleSetData,
    default_ruleset,
    group_add,
    rules_enable,
    ruleset_to_file,
    synthetic_cases,
)

#: Values for the thresholds the catalogue leaves "to be entered", so that a rule set enabling every
#: rule can run. Benchmark values only: they are not clinical values and no rule set ships them.
BENCHMARK_VALUES = {"alc_max_age_days": 14, "pre_lymphodepletion_tests_max_days": 7,
                    "fludarabine_reduce_below_crcl_ml_min": 30}


def every_rule_ruleset() -> RuleSetData:
    """Version 1 with every rule of the catalogue enabled and every optional group held."""
    data = rules_enable(default_ruleset(), [entry.code for entry in CATALOGUE])
    for group in OPTIONAL_GROUPS:
        data = group_add(data, group)
    thresholds = {key: (Decimal(BENCHMARK_VALUES[key]) if value is None else value)
                  for key, value in data.thresholds.items()}
    return replace(data, name="Benchmark: every rule enabled", thresholds=thresholds)


def run_command(path: Path, ruleset_file: Path | None = None) -> float:
    """Wall time of one ``evaluate --jsonl --format json`` run over ``path`` (under the rule set of
    ``ruleset_file`` when given), output discarded."""
    command = [sys.executable, "manage.py", "evaluate", "--jsonl", "--format", "json", str(path)]
    if ruleset_file is not None:
        command += ["--ruleset-file", str(ruleset_file)]
    if shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"evaluate failed ({result.returncode}): {result.stderr.decode()[-2000:]}")
    return elapsed


def batch_throughput(cases: list[dict], runs: int, ruleset: RuleSetData | None = None) -> tuple[float, float]:
    """Cases per second of the batch path (median of ``runs``) and the start-up time, under the
    active rule set or ``ruleset`` (given to the command as a rule-set file)."""
    with tempfile.TemporaryDirectory() as folder:
        many, one = Path(folder, "many.jsonl"), Path(folder, "one.jsonl")
        many.write_bytes(b"".join(orjson.dumps(case, option=orjson.OPT_APPEND_NEWLINE) for case in cases))
        one.write_bytes(orjson.dumps(cases[0], option=orjson.OPT_APPEND_NEWLINE))
        ruleset_file = None
        if ruleset is not None:
            ruleset_file = Path(folder, "ruleset.json")
            ruleset_file.write_bytes(ruleset_to_file(ruleset, None))
        run_command(one, ruleset_file)  # warm the file cache and the bytecode
        startup = statistics.median(run_command(one, ruleset_file) for _ in range(runs))
        totals = [run_command(many, ruleset_file) for _ in range(runs)]
    per_case = (statistics.median(totals) - startup) / (len(cases) - 1)
    return 1 / per_case, startup


def engine_costs(cases: list[dict], ruleset: RuleSetData) -> dict[str, float]:
    """Microseconds per case in process: parse+evaluate, evaluate only, encode only."""
    engine = Engine(ruleset)
    raws = [orjson.dumps(case) for case in cases]
    parsed = [engine.parse_json(raw) for raw in raws]
    checklists = [engine.evaluate(case) for case in parsed]

    def best(function) -> float:
        return min(timeit.repeat(function, number=1, repeat=5)) / len(cases) * 1e6

    return {
        "parse (validate JSON)": best(lambda: [engine.parse_json(raw) for raw in raws]),
        f"evaluate ({len(engine.rules)} rules)": best(lambda: [engine.evaluate(case) for case in parsed]),
        "encode (as_json)": best(lambda: [checklist.as_json() for checklist in checklists]),
        "parse + evaluate + encode": best(lambda: [engine.evaluate(engine.parse_json(raw)).as_json()
                                                   for raw in raws]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--criteria-v2", action="store_true",
                        help="about half of the cases also carry the keys of criteria-v2 (labs, dates, washout...)")
    parser.add_argument("--every-rule", action="store_true",
                        help="evaluate with every rule of the catalogue enabled and every optional group held "
                             "(a rule-set file given to the command), not under the active version")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    cases = synthetic_cases(args.cases, seed=2026, criteria_v2=args.criteria_v2)
    print(f"Synthetic cases: {len(cases):,} (seed 2026{', criteria-v2 keys' if args.criteria_v2 else ''}); "
          f"machine: {os.cpu_count()} cores")
    ruleset = every_rule_ruleset() if args.every_rule else None
    if ruleset is not None:
        print(f"Rule set: every rule enabled ({len(ruleset.enabled_rules)}), every optional group held")
    for name, micros in engine_costs(cases[:20_000], ruleset or default_ruleset()).items():
        print(f"  in process, {name:28s} {micros:8.1f} us/case")
    rate, startup = batch_throughput(cases, args.runs, ruleset)
    print(f"Batch `evaluate --jsonl --format json`, one core: {rate:,.0f} cases/s "
          f"(start-up {startup:.2f} s excluded; median of {args.runs} runs)")


if __name__ == "__main__":
    main()

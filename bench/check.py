"""`make bench-check`: compares a fresh bench/email_campaign.py run with the committed baseline and fails when a
cost rose by more than the tolerance (25% by default).

    .venv/bin/python bench/check.py bench/baseline.json bench/out/bench_check.json [--tolerance 0.25]
    .venv/bin/python bench/check.py --promote bench/out/bench_check.json bench/baseline.json   # make bench-baseline

Only costs measured against a calibration of the same run are compared, because those hold from one machine to
another where rates (msg/s, rows/s) do not. The calibration is a bare csv.reader loop over the recipient file in the
benchmark's own thread (CPU time, the least of five passes): CPU-bound work of the interpreter, it read the same
within 6% in every run, quiet or busy.

- email: the pipeline's CPU per recipient (every service, PostgreSQL, RabbitMQ, the sink), plain campaign, divided by
  the calibration's CPU per row;
- upload: the upload's CPU per row (every process, PUT and processing) divided by the calibration's CPU per row.

The issue's headline ratio, the pipeline's CPU per recipient over the bare smtplib loop's CPU per message, is printed
but not guarded: the bare loop is a ping-pong between two processes whose CPU per message depends on whether the
cores idle between messages, and it read 0.30, 0.22, 0.12 and 0.07 ms per message in runs of the same tree as other
work on the machine came and went, which would fail or pass the check at random.

A run whose send shared the machine with other work (the whole machine's CPU, /proc/stat, above its measured
processes' by more than 25%) is not compared: contention raises the pipeline's own CPU too.

Exit status: 0 within the tolerance, 1 when a figure rose above it, 2 when a file is missing or malformed, 3 when a
run was made on a busy machine (not comparable: run it again when the machine is quiet).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TOLERANCE = 0.25
BUSY_LIMIT = 0.25  # others' CPU as a share of the measured processes' CPU, beyond which a run is not comparable
EMAIL_FIGURE = "email: CPU per recipient / bare csv.reader loop's CPU per row"
UPLOAD_FIGURE = "upload: CPU per row / bare csv.reader loop's CPU per row"


class CheckError(Exception):
    """A results file that cannot be compared: missing, not JSON, or without the figures."""


class BusyMachine(Exception):
    """A run made while other work kept the machine busy: its ratios are not comparable."""


@dataclass(frozen=True)
class Comparison:
    figure: str
    baseline: float
    now: float
    tolerance: float

    @property
    def limit(self) -> float:
        return self.baseline * (1 + self.tolerance)

    @property
    def passed(self) -> bool:
        return self.now <= self.limit

    @property
    def change(self) -> float:
        return self.now / self.baseline - 1

    def describe(self) -> str:
        verdict = "ok" if self.passed else "FAILED"
        return (f"{verdict}: {self.figure}: baseline {self.baseline:.3f}, now {self.now:.3f} ({self.change:+.0%}), "
                f"allowed up to {self.limit:.3f} (+{self.tolerance:.0%})")


def _number(value: Any, where: str, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise CheckError(f"{source}: {where} is {value!r}, not a positive number")
    return float(value)


def _plain(run: Any, source: str) -> dict[str, Any]:
    if not isinstance(run, dict):
        raise CheckError(f"{source}: not a JSON object")
    deliveries = run.get("deliveries")
    plain = [d for d in deliveries if isinstance(d, dict) and d.get("label") == "plain"] \
        if isinstance(deliveries, list) else []
    if not plain:
        raise CheckError(f"{source}: no deliveries[label=plain] (not a bench/email_campaign.py result?)")
    return dict(plain[0])


def busy_shares(run: Any, source: str) -> dict[str, float]:
    """How much CPU other work used during the send, as a share of the measured processes' CPU: (whole machine -
    measured) / measured."""
    plain = _plain(run, source)
    send = _number(plain.get("cpu_ms_per_recipient"), "deliveries[plain].cpu_ms_per_recipient", source)
    by_process = plain.get("cpu_ms_per_recipient_by_process")
    send_machine = _number(by_process.get("machine") if isinstance(by_process, dict) else None,
                           "deliveries[plain].cpu_ms_per_recipient_by_process.machine", source)
    return {"the send": send_machine / send - 1}


def check_quiet(run: Any, source: str, limit: float = BUSY_LIMIT) -> None:
    for window, share in busy_shares(run, source).items():
        if share > limit:
            raise BusyMachine(f"{source}: the machine was busy with other work during {window} (its CPU exceeded "
                              f"the measured processes' by {share:.0%}, more than {limit:.0%}): not comparable; "
                              "run it again on a quiet machine")


def _figures(run: Any, source: str) -> dict[str, float]:
    """The guarded figures of one run (bench/out/<name>.json as bench/email_campaign.py writes it)."""
    plain = _plain(run, source)
    upload = run.get("upload")
    if not isinstance(upload, dict):
        raise CheckError(f"{source}: no upload figures (not a bench/email_campaign.py result?)")
    calibration = _number(upload.get("bare_csv_cpu_ms_per_row"), "upload.bare_csv_cpu_ms_per_row", source)
    return {
        EMAIL_FIGURE: _number(plain.get("cpu_ms_per_recipient"), "deliveries[plain].cpu_ms_per_recipient", source)
        / calibration,
        UPLOAD_FIGURE: _number(upload.get("cpu_ms_per_row"), "upload.cpu_ms_per_row", source) / calibration,
    }


def bare_loop_ratio(run: dict[str, Any]) -> str:
    """The issue's headline ratio (not guarded), or "?"."""
    value = _plain(run, "run").get("cpu_vs_bare_loop")
    return f"{value:.2f}" if isinstance(value, (int, float)) else "?"


def load(path: Path) -> dict[str, Any]:
    try:
        run = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckError(f"{path}: missing (make bench-baseline writes the baseline)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckError(f"{path}: cannot be read as JSON ({error})") from None
    _figures(run, str(path))
    busy_shares(run, str(path))
    return dict(run)


def compare(baseline: dict[str, Any], fresh: dict[str, Any], tolerance: float = TOLERANCE,
            baseline_source: str = "baseline", fresh_source: str = "fresh run") -> list[Comparison]:
    before = _figures(baseline, baseline_source)
    now = _figures(fresh, fresh_source)
    sizes = [(run.get("parameters") or {}).get("recipients") for run in (baseline, fresh)]
    if sizes[0] != sizes[1]:
        raise CheckError(f"the runs differ in size ({baseline_source}: {sizes[0]} recipients, {fresh_source}: "
                         f"{sizes[1]}); fixed costs weigh differently: run with BENCH_CHECK_RECIPIENTS={sizes[0]}")
    return [Comparison(figure, before[figure], now[figure], tolerance) for figure in before]


def notes(baseline: dict[str, Any], fresh: dict[str, Any]) -> list[str]:
    """What to keep in mind reading the comparison: the runs' provenance and sizes."""
    def describe(run: dict[str, Any]) -> str:
        machine = run.get("machine") or {}
        return (f"{run.get('date', '?')}, commit {run.get('commit', '?')}, "
                f"{(run.get('parameters') or {}).get('recipients', '?')} recipients, {machine.get('cores', '?')} "
                f"cores, Python {machine.get('python', '?')}")

    lines = [f"baseline: {describe(baseline)}", f"now:      {describe(fresh)}",
             f"not guarded: CPU per recipient / bare smtplib loop's CPU per message: baseline "
             f"{bare_loop_ratio(baseline)}, now {bare_loop_ratio(fresh)} "
             "(moves with other activity on the machine, see bench/check.py)"]
    return lines


def promote(run_path: Path, baseline_path: Path) -> int:
    """Writes a fresh run as the new baseline, when it is complete and was made on a quiet machine."""
    try:
        run = load(run_path)
        check_quiet(run, str(run_path))
    except CheckError as error:
        print(f"bench-baseline: not written: {error}", file=sys.stderr)
        return 2
    except BusyMachine as error:
        print(f"bench-baseline: not written: {error}", file=sys.stderr)
        return 3
    baseline_path.write_text(json.dumps(run, indent=2) + "\n")
    figures = _figures(run, str(run_path))
    print(f"bench-baseline: wrote {baseline_path} ({run.get('date')}, commit {run.get('commit')}): "
          + "; ".join(f"{figure} {value:.3f}" for figure, value in figures.items()))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("baseline", type=Path)
    parser.add_argument("fresh", type=Path)
    parser.add_argument("--tolerance", type=float, default=TOLERANCE,
                        help="largest allowed rise, as a fraction (0.25: 25%%)")
    parser.add_argument("--promote", action="store_true",
                        help="instead: check that the first file (a fresh run) is complete and was made on a quiet "
                             "machine, and write it as the second (the baseline)")
    args = parser.parse_args(argv)
    if args.promote:
        return promote(args.baseline, args.fresh)
    try:
        baseline, fresh = load(args.baseline), load(args.fresh)
        comparisons = compare(baseline, fresh, args.tolerance, str(args.baseline), str(args.fresh))
    except CheckError as error:
        print(f"bench-check: cannot compare: {error}", file=sys.stderr)
        return 2
    for line in notes(baseline, fresh):
        print(f"bench-check: {line}")
    try:
        check_quiet(baseline, str(args.baseline))
        check_quiet(fresh, str(args.fresh))
    except BusyMachine as error:
        print(f"bench-check: NOT COMPARED: {error}", file=sys.stderr)
        return 3
    for comparison in comparisons:
        print(f"bench-check: {comparison.describe()}")
    failed = [c for c in comparisons if not c.passed]
    if failed:
        print(f"bench-check: FAILED: {', '.join(c.figure for c in failed)} rose more than {args.tolerance:.0%} "
              "above the baseline", file=sys.stderr)
        return 1
    improved = [c for c in comparisons if c.now < c.baseline / (1 + args.tolerance)]
    if improved:
        print("bench-check: costs fell well below the baseline; if that is the new normal, refresh it "
              "(make bench-baseline) so the check guards the new level")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""bench/check.py, what `make bench-check` runs: a fresh benchmark's costs against the committed baseline's. The
benchmark itself never runs here; these feed it results files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from bench import check
from bench.email_campaign import BareLoop, Delivery, UploadCost, backend_database, figures

EMAIL = "email: CPU per recipient / bare csv.reader loop's CPU per row"
UPLOAD = "upload: CPU per row / bare csv.reader loop's CPU per row"
CALIBRATION = 0.0005  # ms of CPU per row of the bare csv.reader loop


def result(email_ratio: float, upload_ratio: float, recipients: int = 100_000, busy: float = 0.0) -> dict[str, Any]:
    """A run as bench/email_campaign.py writes it (the figures the check reads), its costs ``email_ratio`` and
    ``upload_ratio`` times the calibration's; the whole machine's CPU during the send ``busy`` above the measured
    processes'."""
    cpu = email_ratio * CALIBRATION
    return {
        "benchmark": "email_campaign", "date": "2026-12-05T07:00:00Z", "commit": "abc1234",
        "machine": {"cores": 2, "python": "3.11.7"}, "parameters": {"recipients": recipients},
        "bare_smtplib": {"cpu_ms_per_message": 0.3, "machine_cpu_ms_per_message": 0.2},
        "upload": {"rows": recipients, "cpu_ms_per_row": upload_ratio * CALIBRATION,
                   "bare_csv_cpu_ms_per_row": CALIBRATION},
        "deliveries": [{"label": "plain", "cpu_vs_bare_loop": 2.8, "cpu_ms_per_recipient": cpu,
                        "cpu_ms_per_recipient_by_process": {"sender-email": cpu / 3, "machine": cpu * (1 + busy)}},
                       {"label": "10% suppressed", "cpu_ms_per_recipient": 99.0}],
    }


def write(folder: Path, name: str, content: Any) -> Path:
    path = folder / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def run_check(tmp_path: Path, baseline: Any, fresh: Any) -> int:
    return check.main([str(write(tmp_path, "baseline.json", baseline)), str(write(tmp_path, "fresh.json", fresh))])


def test_costs_within_a_quarter_of_the_baseline_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_check(tmp_path, result(10.0, 20.0), result(12.4, 24.9)) == 0
    out = capsys.readouterr().out
    assert f"ok: {EMAIL}: baseline 10.000, now 12.400 (+24%), allowed up to 12.500" in out
    assert f"ok: {UPLOAD}: baseline 20.000, now 24.900" in out


def test_a_cheaper_run_passes_and_suggests_refreshing_the_baseline(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert run_check(tmp_path, result(10.0, 20.0), result(6.0, 20.0)) == 0
    assert "make bench-baseline" in capsys.readouterr().out


def test_email_cpu_per_message_rising_more_than_a_quarter_fails_naming_the_figure(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_check(tmp_path, result(10.0, 20.0), result(12.6, 20.0)) == 1
    captured = capsys.readouterr()
    assert f"FAILED: {EMAIL}: baseline 10.000, now 12.600 (+26%), allowed up to 12.500 (+25%)" in captured.out
    assert f"ok: {UPLOAD}" in captured.out
    assert f"FAILED: {EMAIL} rose more than 25%" in captured.err


def test_upload_cost_per_row_rising_more_than_a_quarter_fails(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert run_check(tmp_path, result(10.0, 20.0), result(10.0, 25.2)) == 1
    captured = capsys.readouterr()
    assert f"FAILED: {UPLOAD}: baseline 20.000, now 25.200" in captured.out
    assert f"ok: {EMAIL}" in captured.out


def test_only_the_plain_campaign_is_compared(tmp_path: Path) -> None:
    fresh = result(10.0, 20.0)
    fresh["deliveries"].reverse()  # the suppressed campaign's 99.0 first: still the plain one is read
    assert run_check(tmp_path, result(10.0, 20.0), fresh) == 0


def test_the_tolerance_can_be_set(tmp_path: Path) -> None:
    baseline = write(tmp_path, "b.json", result(10.0, 20.0))
    fresh = write(tmp_path, "f.json", result(11.0, 20.0))
    assert check.main([str(baseline), str(fresh), "--tolerance", "0.05"]) == 1
    assert check.main([str(baseline), str(fresh), "--tolerance", "0.15"]) == 0


def test_a_missing_baseline_fails_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fresh = write(tmp_path, "fresh.json", result(10.0, 20.0))
    assert check.main([str(tmp_path / "baseline.json"), str(fresh)]) == 2
    assert f"cannot compare: {tmp_path / 'baseline.json'}: missing" in capsys.readouterr().err


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "cannot be read as JSON"),
    ([1, 2], "not a JSON object"),
    ({"upload": {"cpu_ms_per_row": 2.0}}, "no deliveries[label=plain]"),
    ({"deliveries": [{"label": "plain", "cpu_ms_per_recipient": 3.0}]}, "no upload figures"),
    ({**result(10.0, 20.0), "upload": {"cpu_ms_per_row": "fast", "bare_csv_cpu_ms_per_row": 0.1}},
     "upload.cpu_ms_per_row is 'fast', not a positive number"),
    ({**result(10.0, 20.0), "upload": {"cpu_ms_per_row": 0.01}}, "upload.bare_csv_cpu_ms_per_row is None"),
    ({**result(10.0, 20.0), "deliveries": [{"label": "plain"}]},
     "deliveries[plain].cpu_ms_per_recipient is None, not a positive number"),
    ({**result(10.0, 20.0), "deliveries": [{"label": "plain", "cpu_ms_per_recipient": 0}]}, "not a positive number"),
    ({**result(10.0, 20.0), "deliveries": [{"label": "plain", "cpu_ms_per_recipient": 0.005}]},
     "deliveries[plain].cpu_ms_per_recipient_by_process.machine is None"),
])
def test_a_malformed_fresh_result_fails_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: Any,
                                                message: str) -> None:
    assert run_check(tmp_path, result(10.0, 20.0), content) == 2
    err = capsys.readouterr().err
    assert "cannot compare" in err and "fresh.json" in err and message in err


def test_the_benchmark_writes_what_the_check_reads() -> None:
    """bench/email_campaign.py's figures() (what it writes to bench/out/<name>.json) carries the two guarded
    ratios, computed from the same run's calibrations."""
    args = argparse.Namespace(recipients=1000, bare=500, smtp_connections=4, suppressed_share=0.1, log_level="INFO")
    bare = BareLoop(messages=500, seconds=0.2, client_cpu=0.03, sink_cpu=0.02, machine_cpu=0.06)  # 0.1 ms each
    upload = UploadCost(rows=1000, put_seconds=0.1, processing_seconds=0.05,
                        cpu={"campaign": 0.03, "PostgreSQL": 0.01, "machine": 0.5}, bare_csv_cpu_per_row=1e-6)
    deliveries = [Delivery("plain", 1000, 0, 2.0, {"sender-email": 0.2, "RabbitMQ": 0.1, "machine": 0.4}),
                  Delivery("10% suppressed", 900, 100, 2.0, {"sender-email": 0.5, "machine": 0.9})]
    run = json.loads(json.dumps(figures(args, bare, upload, deliveries, {"campaign": 100.0})))
    assert check._figures(run, "run") == {EMAIL: pytest.approx(300.0), UPLOAD: pytest.approx(40.0)}
    assert run["deliveries"][0]["cpu_ms_per_recipient"] == pytest.approx(0.3)  # the machine's total left out
    assert run["deliveries"][0]["cpu_vs_bare_loop"] == pytest.approx(3.0)  # 0.3 ms / the loop's 0.1 ms
    assert run["deliveries"][0]["cpu_vs_bare_csv_row"] == pytest.approx(300.0)
    assert run["bare_smtplib"]["cpu_ms_per_message"] == pytest.approx(0.1)
    assert check.busy_shares(run, "run") == {"the send": pytest.approx(1 / 3)}


@pytest.mark.parametrize(("title", "database"), [
    ("postgres: 15/main: postgres postman_test_1_abc 127.0.0.1(51234) idle", "postman_test_1_abc"),
    ("postgres: 15/main: postgres postman_test_2_def [local] COPY", "postman_test_2_def"),
    ("postgres: 15/main: checkpointer", None),
    ("postgres: 15/main: logical replication launcher", None),
    ("postgres: 15/main: autovacuum worker postman_test_3", None),
    ("/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main", None),
])
def test_only_backends_name_a_database(title: str, database: str | None) -> None:
    """The benchmark leaves out PostgreSQL backends of other databases (another run's on the shared server); the
    postmaster and the shared background processes always count."""
    assert backend_database(title) == database


@pytest.mark.parametrize(("baseline", "fresh", "busy"), [
    (result(10.0, 20.0), result(10.0, 20.0, busy=0.3), "fresh.json"),
    (result(10.0, 20.0, busy=0.8), result(10.0, 20.0), "baseline.json"),
])
def test_a_run_on_a_busy_machine_is_not_compared(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 baseline: dict[str, Any], fresh: dict[str, Any],
                                                 busy: str) -> None:
    """Other work on the machine during the send (its CPU well above the measured processes') raises the pipeline's
    own CPU by contention: exit 3, saying which run, even when the ratios would pass."""
    assert run_check(tmp_path, baseline, fresh) == 3
    err = capsys.readouterr().err
    assert "NOT COMPARED" in err and busy in err and "busy with other work during the send (" in err


def test_a_run_with_a_little_other_work_still_compares(tmp_path: Path) -> None:
    assert run_check(tmp_path, result(10.0, 20.0, busy=-0.1), result(10.0, 20.0, busy=0.2)) == 0


def test_the_bare_smtplib_ratio_is_shown_but_not_guarded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fresh = result(10.0, 20.0)
    fresh["deliveries"][0]["cpu_vs_bare_loop"] = 14.0  # five times the baseline's 2.8: a busy bare loop
    assert run_check(tmp_path, result(10.0, 20.0), fresh) == 0
    assert "not guarded: CPU per recipient / bare smtplib loop's CPU per message: baseline 2.80, now 14.00" \
        in capsys.readouterr().out


def test_promote_writes_a_quiet_complete_run_as_the_baseline(tmp_path: Path) -> None:
    fresh = write(tmp_path, "fresh.json", result(10.0, 20.0))
    baseline = tmp_path / "baseline.json"
    assert check.main(["--promote", str(fresh), str(baseline)]) == 0
    assert json.loads(baseline.read_text()) == result(10.0, 20.0)


@pytest.mark.parametrize(("content", "status"), [(result(10.0, 20.0, busy=1.0), 3), ("{", 2),
                                                 ({"deliveries": []}, 2)])
def test_promote_refuses_a_busy_or_malformed_run(tmp_path: Path, content: Any, status: int) -> None:
    fresh = write(tmp_path, "fresh.json", content)
    baseline = write(tmp_path, "baseline.json", result(1.0, 1.0))
    assert check.main(["--promote", str(fresh), str(baseline)]) == status
    assert json.loads(baseline.read_text()) == result(1.0, 1.0)  # the old baseline is kept


def test_runs_of_different_sizes_are_not_compared(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_check(tmp_path, result(10.0, 20.0), result(10.0, 20.0, recipients=20_000)) == 2
    assert "differ in size" in capsys.readouterr().err

"""Benchmark: the recipient file reader plus the email or phone validator on a generated CSV held in memory.

    .venv/bin/python bench/recipient_file.py            # 100,000 rows, best of 3
    .venv/bin/python bench/recipient_file.py --rows 1000000
    .venv/bin/python bench/recipient_file.py --channel sms   # Singapore phone numbers, written several ways

Prints the reader's rows/s next to a bare csv.reader loop over the same bytes, to show what the reading, checking,
normalising and validating add to parsing alone. Writes bench/out/recipient_file.md and .json.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import run_facts, write_results  # noqa: E402
from postman_campaign.recipient_file import RecipientFile  # noqa: E402


def recipients_csv(count: int) -> bytes:
    """An Excel-like export: BOM, CRLF, mixed-case addresses, a quoted field with a comma, some invalid rows."""
    lines = ["Recipient,Name,Appointment,Clinic,Ref"]
    for i in range(count):
        address = f"Officer.{i}@Example.GOV.SG" if i % 50 else f"officer {i} at example"
        lines.append(f'{address},"Tan, Ah Kow {i}",2026-12-{i % 28 + 1:02d} 10:00,Clinic {i % 7},REF{i:08d}')
    return b"\xef\xbb\xbf" + ("\r\n".join(lines) + "\r\n").encode()


def phone_recipients_csv(count: int) -> bytes:
    """Like recipients_csv with Singapore numbers written as people do: national, spaced, with +65 or 65, a
    foreign one now and then, and some invalid rows."""
    lines = ["Recipient,Name,Appointment,Clinic,Ref"]
    for i in range(count):
        national = f"{8 + i % 2}{(i * 7919) % 9_000_000 + 1_000_000:07d}"
        number = (
            national, f"+65 {national[:4]} {national[4:]}", f"65{national}", "+44 7911 123456", f"{i % 10_000}",
        )[i % 5] if i % 50 else f"call {i}"
        lines.append(f'{number},"Tan, Ah Kow {i}",2026-12-{i % 28 + 1:02d} 10:00,Clinic {i % 7},REF{i:08d}')
    return b"\xef\xbb\xbf" + ("\r\n".join(lines) + "\r\n").encode()


def rows_per_second(data: bytes, repeat: int, channel: str = "EMAIL") -> tuple[float, int, int]:
    best, rows, invalid = 0.0, 0, 0
    for _ in range(repeat):
        started = time.perf_counter()
        rows = invalid = 0
        for row in RecipientFile(io.BytesIO(data), "bench.csv", channel).rows():
            rows += 1
            invalid += not row.valid
        best = max(best, rows / (time.perf_counter() - started))
    return best, rows, invalid


def bare_csv_rows_per_second(data: bytes, repeat: int) -> float:
    best = 0.0
    for _ in range(repeat):
        started = time.perf_counter()
        rows = sum(1 for _ in csv.reader(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")))
        best = max(best, (rows - 1) / (time.perf_counter() - started))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is reported")
    parser.add_argument("--channel", choices=("email", "sms"), default="email")
    args = parser.parse_args()
    facts = run_facts()
    data = recipients_csv(args.rows) if args.channel == "email" else phone_recipients_csv(args.rows)
    reader_rate, rows, invalid = rows_per_second(data, args.repeat, args.channel.upper())
    bare_rate = bare_csv_rows_per_second(data, args.repeat)
    print(f"file: {rows:,} rows ({invalid:,} invalid), {len(data) / 1e6:.1f} MB")
    print(f"RecipientFile (read, check, normalise, validate): {reader_rate:,.0f} rows/s")
    print(f"bare csv.reader loop:                             {bare_rate:,.0f} rows/s")
    write_results(f"recipient_file_{args.channel}", facts, {
        "benchmark": "recipient_file",
        "parameters": {"rows": args.rows, "repeat": args.repeat, "channel": args.channel},
        "rows": rows, "invalid": invalid, "megabytes": round(len(data) / 1e6, 2),
        "reader_rows_per_second": round(reader_rate, 1), "bare_csv_rows_per_second": round(bare_rate, 1),
        "reader_vs_bare_csv": round(reader_rate / bare_rate, 3),
    }, f"{args.channel} file: {rows:,} rows ({invalid:,} invalid), {len(data) / 1e6:.1f} MB; RecipientFile "
       f"**{reader_rate:,.0f} rows/s**, bare csv.reader loop {bare_rate:,.0f} rows/s "
       f"({reader_rate / bare_rate:.2f} of it).")


if __name__ == "__main__":
    main()

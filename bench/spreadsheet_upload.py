"""Benchmark: reading a recipient file as CSV, Excel (.xlsx) and OpenDocument (.ods), the same recipients in each.

    .venv/bin/python bench/spreadsheet_upload.py                       # 100,000 and 1,000,000 rows
    .venv/bin/python bench/spreadsheet_upload.py --rows 100000

Each file is written to a temporary folder first, in a child process (the .xlsx by openpyxl's write-only mode, with
inline strings; the "xlsx-sst" one as Excel saves it, every text in the shared-strings table; the .ods row by row),
then read by ``RecipientFile`` (reading, checking, normalising and validating each recipient, as the upload worker
does) in a child process of its own, so that its peak RSS is the reader's alone. Prints rows/s, the ratio to CSV
(issue 18's target: within 3x) in wall time and in CPU time, and the peak RSS per format and size (flat: the same
for 100,000 and 1,000,000 rows, but for the shared strings an .xlsx holds). Writes bench/out/spreadsheet_upload.md
and .json.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import run_facts, write_results  # noqa: E402

FORMATS = ("csv", "xlsx", "xlsx-sst", "ods")
HEADER = ["Recipient", "Name", "Appointment", "Clinic", "Ref"]


def recipient(i: int) -> list[str]:
    address = f"Officer.{i}@Example.GOV.SG" if i % 50 else f"officer {i} at example"
    return [address, f"Tan, Ah Kow {i}", f"2026-12-{i % 28 + 1:02d} 10:00", f"Clinic {i % 7}", f"REF{i:08d}"]


def write_csv(path: Path, count: int) -> None:
    import csv

    with path.open("w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        writer.writerows(recipient(i) for i in range(count))


def write_xlsx(path: Path, count: int) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(HEADER)
    for i in range(count):
        sheet.append(recipient(i))
    workbook.save(path)


def write_xlsx_shared(path: Path, count: int) -> None:
    """An .xlsx as Excel saves it: every text in the shared-strings table (read whole before the sheet), the cells
    giving its index. Written directly: openpyxl's write-only mode writes inline strings."""
    import zipfile
    from xml.sax.saxutils import escape

    main = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    relationships = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    index: dict[str, int] = {}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", f'<workbook {main} xmlns:r="{relationships}"><sheets>'
                                            '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
        archive.writestr("xl/_rels/workbook.xml.rels",
                         '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                         f'<Relationship Id="rId1" Type="{relationships}/worksheet" Target="worksheets/sheet1.xml"/>'
                         f'<Relationship Id="rId2" Type="{relationships}/sharedStrings" Target="sharedStrings.xml"/>'
                         "</Relationships>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(f"<worksheet {main}><sheetData>".encode())
            for number, cells in enumerate((HEADER, *(recipient(i) for i in range(count))), start=1):
                sheet.write(f'<row r="{number}">'.encode() + "".join(
                    f'<c r="{chr(65 + column)}{number}" t="s"><v>{index.setdefault(cell, len(index))}</v></c>'
                    for column, cell in enumerate(cells)).encode() + b"</row>")
            sheet.write(b"</sheetData></worksheet>")
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as strings:
            strings.write(f'<sst {main} uniqueCount="{len(index)}">'.encode())
            for text in index:
                strings.write(f"<si><t>{escape(text)}</t></si>".encode())
            strings.write(b"</sst>")


def write_ods(path: Path, count: int) -> None:
    import zipfile
    from xml.sax.saxutils import escape

    def row(cells: list[str]) -> bytes:
        return ("<table:table-row>" + "".join(
            f'<table:table-cell office:value-type="string"><text:p>{escape(cell)}</text:p></table:table-cell>'
            for cell in cells) + "</table:table-row>").encode()

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        with archive.open("content.xml", "w", force_zip64=True) as content:
            content.write(
                b'<?xml version="1.0" encoding="UTF-8"?><office:document-content '
                b'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
                b'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
                b'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body>'
                b'<office:spreadsheet><table:table table:name="Sheet1">')
            content.write(row(HEADER))
            for i in range(count):
                content.write(row(recipient(i)))
            content.write(b"</table:table></office:spreadsheet></office:body></office:document-content>")


def read_in_child(path: Path) -> dict[str, float]:
    """Reads ``path`` in this (child) process: rows, seconds, CPU seconds (the process's user + system time: on a
    busy machine the wall time follows the other work, the CPU time much less), peak RSS in MiB."""
    from postman_campaign.recipient_file import RecipientFile

    started, started_cpu = time.perf_counter(), time.process_time()
    rows = 0
    with path.open("rb") as stream:
        for _ in RecipientFile(stream, path.name, "EMAIL").rows():
            rows += 1
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - started_cpu
    return {"rows": rows, "seconds": seconds, "cpu_seconds": cpu_seconds,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def measure(path: Path) -> dict[str, float]:
    output = subprocess.run([sys.executable, __file__, "--child", str(path)], check=True, capture_output=True,
                            text=True).stdout
    return json.loads(output.strip().splitlines()[-1])  # type: ignore[no-any-return]


def write_in_child(kind: str, path: Path, count: int) -> None:
    """Writes the file in a process of its own: a child's peak RSS starts from its parent's at the fork, so the
    parent stays small (the shared-strings writer holds every distinct text)."""
    subprocess.run([sys.executable, __file__, "--write", kind, "--rows", str(count), str(path)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000,1000000", help="comma-separated sizes")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--write", choices=FORMATS, help=argparse.SUPPRESS)
    parser.add_argument("path", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(read_in_child(Path(args.child))))
        return
    writers = {"csv": write_csv, "xlsx": write_xlsx, "xlsx-sst": write_xlsx_shared, "ods": write_ods}
    if args.write:
        writers[args.write](Path(args.path), int(args.rows))
        return
    facts = run_facts()
    results: dict[str, dict[str, dict[str, float]]] = {}
    lines = ["| rows | format | file MB | rows/s | x CSV time | CPU s | x CSV CPU | peak RSS MiB |",
             "|---|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as folder:
        for count in (int(size) for size in args.rows.split(",")):
            for kind in FORMATS:
                path = Path(folder) / f"recipients-{count}.{kind.partition('-')[0]}"
                write_in_child(kind, path, count)
                figures = measure(path)
                figures["megabytes"] = path.stat().st_size / 1e6
                figures["rows_per_second"] = figures["rows"] / figures["seconds"]
                path.unlink()
                results.setdefault(str(count), {})[kind] = figures
                csv_figures = results[str(count)]["csv"]
                ratio = figures["time_vs_csv"] = figures["seconds"] / csv_figures["seconds"]
                cpu_ratio = figures["cpu_vs_csv"] = figures["cpu_seconds"] / csv_figures["cpu_seconds"]
                line = (f"| {count:,} | {kind} | {figures['megabytes']:.1f} | {figures['rows_per_second']:,.0f} | "
                        f"{ratio:.1f} | {figures['cpu_seconds']:.2f} | {cpu_ratio:.1f} | "
                        f"{figures['peak_rss_mib']:.0f} |")
                lines.append(line)
                print(line, flush=True)
    write_results("spreadsheet_upload", facts, {"benchmark": "spreadsheet_upload", "results": results},
                  "\n".join(lines))


if __name__ == "__main__":
    main()

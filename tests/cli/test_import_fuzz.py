"""Property: `aftercare import` of any mix of good and bad rows imports all of the file or none.

Its contract (reminders/cli/import_csv.py): every row is checked before any is written, every
bad row is reported with the line it starts on, and one bad row imports nothing. Hypothesis
writes files of good rows, rows broken in a known way (a treatment no plan has, a phone that
is no number, a bad flag or patient_id, a missing or extra column) and rows with one column of
any Unicode (quotes, line breaks, NUL). Whatever the file, the command must end without a
traceback; a failure must have written nothing and named each known-bad line; a success must
have reported a session for every row. A row naming a patient number no patient has (some past
PostgreSQL's integer ids) must fail the file too, though it is named only once every row reads.
One database serves every example of a test, so later files meet the patients of earlier ones
(clashes, re-imports).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, example, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from tests.support.cli import Aftercare

COLUMNS = (
    "name",
    "phone",
    "email",
    "treatment",
    "completed_at",
    "timezone",
    "language",
    "no_sms",
    "no_email",
    "patient_id",
)
# Completed before the CLI's clock (2026-06-16 12:00 UTC, 05:00 in Los Angeles), in the clinic's
# zone, recently enough that some step is still ahead.
COMPLETED = ("2026-06-15 14:00", "2026-06-15 09:30", "2026-06-14 16:45")
TREATMENTS = ("asclera", "sts", "test-dose", "laser")
BROKEN = {  # a column, and a value no row may have there
    "treatment": "no-such-treatment",
    "phone": "not a phone",
    "completed_at": "after lunch",
    "no_sms": "maybe",
    "patient_id": "twelve",
    "timezone": "Mars/Olympus_Mons",
}
ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=25)
KINDS = ("good", "broken", "fuzzed", "short", "long", "stranger")
# Patient numbers no patient has, some past PostgreSQL's integer ids (more than 18 digits are
# refused as no patient's number before any look-up)
STRANGERS = ("999999", str(2**31), "9" * 18)
FUZZ = examples(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass(frozen=True)
class Row:
    cells: list[str]
    bad: bool  # broken in a known way: it must be reported
    refused: bool = False  # valid, but names no patient on file: the file must fail


@st.composite
def rows(draw: st.DrawFn, kinds: tuple[str, ...] = KINDS) -> Row:
    number = draw(st.integers(min_value=100, max_value=199))  # few: phones recur across rows
    good = {
        "name": f"Patient {number}",  # a phone's patient keeps one name, so good rows agree
        "phone": f"+1310555{number:04d}",
        "email": draw(st.sampled_from(["", f"p{number}@example.com"])),
        "treatment": draw(st.sampled_from(TREATMENTS)),
        "completed_at": draw(st.sampled_from(COMPLETED)),
        "timezone": "",
        "language": draw(st.sampled_from(["", "en", "es"])),
        "no_sms": draw(st.sampled_from(["", "no", "yes"])),  # "yes" only with an email: below
        "no_email": "",
        "patient_id": "",
    }
    if good["no_sms"] == "yes" and not good["email"]:
        good["no_sms"] = "no"  # no consent to SMS and no email: nothing would be sent, refused
    kind = draw(st.sampled_from(kinds))
    if kind == "broken":
        column = draw(st.sampled_from(sorted(BROKEN)))
        good[column] = BROKEN[column]
    elif kind == "fuzzed":
        good[draw(st.sampled_from(COLUMNS))] = draw(ANY_TEXT)
    elif kind == "stranger":
        good["patient_id"] = draw(st.sampled_from(STRANGERS))
    cells = [good[column] for column in COLUMNS]
    if kind == "short":
        cells = cells[: draw(st.integers(min_value=1, max_value=len(COLUMNS) - 1))]
    elif kind == "long":
        cells = [*cells, draw(ANY_TEXT)]
    return Row(cells, bad=kind in ("broken", "short", "long"), refused=kind == "stranger")


FILES = st.one_of(  # all good half the time, or the odd bad row would sink nearly every file
    st.lists(rows(("good",)), min_size=1, max_size=8),
    st.lists(rows(), min_size=1, max_size=8),
)


def csv_file(table: list[Row]) -> tuple[str, list[int]]:
    """The file's text, and the line each row starts on (line breaks inside quotes count)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    starts = []
    for row in table:
        starts.append(len(re.findall(r"\r\n|\r|\n", out.getvalue())) + 1)
        writer.writerow(row.cells)
    return out.getvalue(), starts


def run(aftercare: Aftercare, text: str, path: Path) -> tuple[int, str]:
    path.write_text(text, encoding="utf-8", newline="")
    result = aftercare.result("import", str(path))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result.exit_code, result.output


@FUZZ
@given(table=FILES)
@example(table=[Row(["Patient 100", "+13105550100", "", "asclera", "2026-06-15 14:00"], bad=True)])
def test_a_file_of_good_and_bad_rows_imports_every_row_or_none(aftercare, tmp_path, table):
    text, starts = csv_file(table)
    before = aftercare.row_counts()
    code, output = run(aftercare, text, tmp_path / "sessions.csv")
    reported = {int(line) for line in re.findall(r"^line (\d+): (?!note:)", output, re.M)}
    if code == 0:
        assert not any(row.bad or row.refused for row in table), output
        sessions = re.search(r"^(\d+) sessions?: ", output, re.M)
        assert sessions and int(sessions.group(1)) == len(table), output
        return
    assert "nothing was imported" in output
    assert aftercare.row_counts() == before, output
    bad_lines = {start for start, row in zip(starts, table, strict=True) if row.bad}
    if reported != {1}:  # a file unreadable as a whole (line 1) is reported as such
        assert bad_lines <= reported, output


@FUZZ
@given(raw=st.binary(max_size=200), header=st.booleans())
def test_any_bytes_at_all_are_imported_or_refused_without_a_traceback(
    aftercare, tmp_path, raw, header
):
    path = tmp_path / "sessions.csv"
    path.write_bytes((",".join(COLUMNS).encode() + b"\n" if header else b"") + raw)
    before = aftercare.row_counts()
    result = aftercare.result("import", str(path))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    if result.exit_code != 0:
        assert aftercare.row_counts() == before, result.output


def test_a_row_naming_a_patient_number_past_any_id_fails_the_file_and_writes_nothing(
    aftercare, tmp_path
):
    maria = ["Patient 100", "+13105550100", "", "asclera", "2026-06-15 14:00", *[""] * 5]
    assert run(aftercare, csv_file([Row(maria, bad=False)])[0], tmp_path / "first.csv")[0] == 0
    before = aftercare.row_counts()
    for number in STRANGERS:  # a traceback on PostgreSQL before the fix (DataError)
        stranger = Row([*maria[:-1], number], bad=False, refused=True)
        code, output = run(aftercare, csv_file([stranger])[0], tmp_path / "again.csv")
        assert code == 1
        assert f"line 2: there is no patient {number}" in output
    assert aftercare.row_counts() == before

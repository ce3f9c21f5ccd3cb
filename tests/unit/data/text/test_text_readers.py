from pathlib import Path

import pytest

from trainlab.data.text.examples import criterion_text
from trainlab.data.text.readers import normalise_status, read_annotations, read_posts
from trainlab.errors import DataError

HEADER = "post_id,sentence_id,sentence_text,DSM5_symptom,status,explanation\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("positive", 1),
        ("Present", 1),
        ("TRUE", 1),
        ("1", 1),
        ("1.0", 1),
        (" yes ", 1),
        ("negative", 0),
        ("absent", 0),
        ("false", 0),
        ("0", 0),
        (0, 0),
        (1, 1),
    ],
)
def test_status_spellings_are_normalised(value, expected):
    assert normalise_status(value) == expected


def test_unknown_status_names_file_row_and_value(tmp_path):
    path = write(tmp_path / "a.csv", HEADER + "p1,s1,I am sad.,DEPRESSED_MOOD,maybe,\n")
    with pytest.raises(DataError, match=r"a\.csv, line 2: status value 'maybe'"):
        read_annotations(path)


def test_posts_are_read_in_order_with_case_insensitive_headers(tmp_path):
    path = write(tmp_path / "p.csv", 'Post_ID, Text \np2,"Hello, world."\np1,Second\n')
    assert read_posts(path) == {"p2": "Hello, world.", "p1": "Second"}


def test_missing_columns_are_named(tmp_path):
    path = write(tmp_path / "p.csv", "id,text\n1,x\n")
    with pytest.raises(DataError, match=r"missing column\(s\) \['post_id'\]"):
        read_posts(path)


def test_duplicate_post_id_is_an_error(tmp_path):
    path = write(tmp_path / "p.csv", "post_id,text\np1,a\np1,b\n")
    with pytest.raises(DataError, match="line 3: duplicate post_id 'p1'"):
        read_posts(path)


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_posts(tmp_path / "nope.csv")


def test_annotations_without_explanation_and_with_unknown_post(tmp_path):
    no_expl = "post_id,sentence_id,sentence_text,DSM5_symptom,status\n"
    path = write(tmp_path / "a.csv", no_expl + "p1,s1,I am sad.,DEPRESSED_MOOD,present\n")
    (row,) = read_annotations(path, posts={"p1": "I am sad."})
    assert (row.criterion, row.status, row.explanation) == ("DEPRESSED_MOOD", 1, "")
    with pytest.raises(DataError, match=r"not in the posts file, e\.g\. \['p1'\]"):
        read_annotations(path, posts={"p2": "x"})


def test_empty_sentence_is_an_error(tmp_path):
    path = write(tmp_path / "a.csv", HEADER + "p1,s1,,DEPRESSED_MOOD,1,\n")
    with pytest.raises(DataError, match="must not be empty"):
        read_annotations(path)


def test_posts_saved_by_excel_in_cp1252_are_refused_with_the_byte_and_line(tmp_path):
    path = tmp_path / "posts.csv"
    path.write_bytes("post_id,text\np1,fine\np2,caf\u00e9 \u2013 tired\n".encode("cp1252"))
    with pytest.raises(DataError) as err:
        read_posts(path)
    message = str(err.value)
    # the real offset in the file (pandas reports one inside its own buffer) and the fix
    assert "byte 0xe9 at byte offset 27 (line 3)" in message, message
    assert "Re-save it as UTF-8" in message and "iconv" in message


def test_utf8_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "posts.csv"
    path.write_bytes("\ufeffpost_id,text\np1,caf\u00e9\n".encode())
    assert read_posts(path) == {"p1": "caf\u00e9"}


def test_symptom_spellings_are_one_criterion_with_a_warning(tmp_path, caplog):
    rows = (
        "p1,s1,I am sad.,depressed_mood,1,\n"
        "p1,s2,So empty.,Depressed Mood,1,\n"
        "p1,s3,I cannot sleep.,sleep-issues ,0,\n"
        "p1,s4,I am proud.,SPECIAL_CASE,1,\n"
    )
    path = write(tmp_path / "a.csv", HEADER + rows)
    with caplog.at_level("WARNING"):
        read = read_annotations(path)
    # one criterion per symptom, so each keeps its description (not its own humanised name)
    assert [a.criterion for a in read] == [
        "DEPRESSED_MOOD",
        "DEPRESSED_MOOD",
        "SLEEP_ISSUES",
        "SPECIAL_CASE",
    ]
    assert "'Depressed Mood' (1 rows)" in caplog.text and "-> DEPRESSED_MOOD" in caplog.text
    # the public data set's tenth label has a description too
    assert criterion_text("SPECIAL_CASE") != "special case"


def test_a_repeated_row_is_read_once_and_a_conflicting_one_stops(tmp_path, caplog):
    row = "p1,s1,I am sad.,DEPRESSED_MOOD,{},\n"
    path = write(tmp_path / "a.csv", HEADER + row.format(1) + row.format("present"))
    with caplog.at_level("WARNING"):
        assert len(read_annotations(path)) == 1
    assert "1 row(s) repeat an earlier row exactly" in caplog.text and "lines [3]" in caplog.text
    path = write(tmp_path / "b.csv", HEADER + row.format(1) + row.format(0))
    with pytest.raises(DataError, match=r"lines 2 and 3 \(post 'p1', sentence 's1'.*1 and 0"):
        read_annotations(path)


def test_numeric_status_spellings_of_spreadsheets():
    assert (normalise_status("1.00"), normalise_status(" 0.000 "), normalise_status("1e0")) == (
        1,
        0,
        1,
    )
    with pytest.raises(DataError, match=r"'0\.5'"):
        normalise_status("0.5")


@pytest.mark.parametrize(("post_id", "annotated"), [("007", "7"), ("12", "12.0")])
def test_ids_that_a_spreadsheet_made_numeric_are_named_in_the_error(tmp_path, post_id, annotated):
    path = write(tmp_path / "a.csv", HEADER + f"{annotated},s1,I am sad.,DEPRESSED_MOOD,1,\n")
    with pytest.raises(DataError) as err:
        read_annotations(path, posts={post_id: "I am sad.", "8": "x"})
    assert f"'{annotated}' ~ '{post_id}'" in str(err.value) and "ids as text" in str(err.value)


def test_a_semicolon_separated_file_is_named_as_such(tmp_path):
    path = write(tmp_path / "p.csv", "post_id;text\np1;hello\n")
    with pytest.raises(DataError, match="separated by ';', not commas"):
        read_posts(path)


def test_a_sentence_of_only_invisible_characters_is_empty(tmp_path):
    path = write(tmp_path / "a.csv", HEADER + "p1,s1,\u200b\u00a0,DEPRESSED_MOOD,1,\n")
    with pytest.raises(DataError, match=r"line 2: .*must not be empty"):
        read_annotations(path)


def test_a_row_longer_than_the_header_stops_instead_of_shifting_the_columns(tmp_path):
    # pandas reads this with the first column as index: post ids 'I feel sad' and 'Bye'
    path = write(tmp_path / "p.csv", "post_id,text\np1,I feel sad, so sad.\np2,Bye\n")
    with pytest.raises(DataError, match=r"1 row\(s\) have more fields than the header's 2"):
        read_posts(path)


def test_trailing_commas_are_read_as_nothing(tmp_path):
    # pandas alone: {'I feel sad.': '', 'Bye': ''}, every column shifted
    path = write(tmp_path / "p.csv", "post_id,text\r\np1,I feel sad.,\r\np2,Bye,\r\n")
    assert read_posts(path) == {"p1": "I feel sad.", "p2": "Bye"}
    path = write(tmp_path / "q.csv", "post_id,text\r\np1,I feel sad.,\r\np2,Bye,,\r\n")
    assert read_posts(path) == {"p1": "I feel sad.", "p2": "Bye"}


@pytest.mark.parametrize(
    ("encoding", "named"),
    [("utf-16", "utf-16"), ("utf-16-le", "utf-16le"), ("utf-16-be", "utf-16be")],
)
def test_a_utf16_export_is_named_with_its_fix(tmp_path, encoding, named):
    # Excel's "Unicode Text" and Notepad's "Unicode": before, "not UTF-8" with a cp1252 fix
    # (BOM) or "missing column(s)" with NUL bytes in the names (no BOM)
    path = tmp_path / "posts.csv"
    path.write_bytes("post_id,text\np1,I can't sleep.\n".encode(encoding))
    with pytest.raises(DataError, match=rf"posts.csv is UTF-16 text .*`iconv -f {named} -t utf-8"):
        read_posts(path)


def test_a_column_named_twice_stops_with_the_names(tmp_path):
    path = tmp_path / "posts.csv"
    path.write_text("post_id,text,Text\np1,a,b\n")  # before: ValueError from zip()
    with pytest.raises(DataError, match=r"the header names \['text'\] more than once"):
        read_posts(path)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("post_id,text\np1,hel\x00lo\np2,world\n", 2),  # before: "is UTF-16 text", iconv fix
        ("post_id,text\n" + "q,padding\n" * 60 + "p\x001,hello\n", 62),  # before: id 'p\x001'
    ],
    ids=["near_the_start", "further_on"],
)
def test_a_nul_byte_in_a_utf8_csv_is_refused_with_its_line(tmp_path, text, line):
    path = write(tmp_path / "posts.csv", text)
    with pytest.raises(DataError, match=rf"posts.csv, line {line}: a NUL byte") as caught:
        read_posts(path)
    assert "UTF-16" not in str(caught.value)

"""MS1/MS2 pairing by acquisition whatever the stored order, nativeID scan numbers, and the
convert report's plausibility checks."""

import json
import re

import numpy as np
import pytest
from spectra_files import THERMO_ID, acquisition, ms1, ms1_first, ms2, write_mgf, write_mzml

from trainlab.data.spectra.convert import convert_files
from trainlab.data.spectra.instrument import NUMERIC_SETTINGS, STANDARDIZATION_FILE
from trainlab.data.spectra.native_ids import NativeId, parse_native_id, scan_from_title
from trainlab.data.spectra.store import read_spectra

SECONDS = NUMERIC_SETTINGS.index("seconds_since_ms1")
SCANS_SINCE = NUMERIC_SETTINGS.index("scans_since_ms1")


@pytest.mark.parametrize(
    "text,expected",
    [
        ("controllerType=0 controllerNumber=1 scan=1234", NativeId("thermo", 1234)),
        ("scan=77", NativeId("scan", 77)),
        ("spectrum=12", NativeId("spectrum", 12)),
        ("index=5", NativeId("index", 5)),
        ("scanId=3001", NativeId("scanId", 3001)),
        ("function=2 process=0 scan=41", NativeId("waters", 41)),
        ("frame=120 scan=400", NativeId("frame", 120)),
        ("file=sample_12", NativeId("file", None)),
        ("sample=1 period=1 cycle=33 experiment=2", NativeId("sample", None)),
        ("42", NativeId("scan", 42)),
        ("not an id", None),
    ],
)
def test_native_id_forms(text, expected):
    assert parse_native_id(text) == expected


def test_scan_numbers_from_mgf_titles():
    native = "controllerType=0 controllerNumber=1 scan=1041"
    title = f'run1.1041.1041.2 File:"run1.raw", NativeID:"{native}"'
    assert scan_from_title(title) == NativeId("thermo", 1041)
    assert scan_from_title("run1.00512.00512.3") == NativeId("scan", 512)
    assert scan_from_title("spectrum 7 scan=19") == NativeId("scan", 19)
    assert scan_from_title("unnamed") is None


def _rows(root, table="train_data"):
    return read_spectra(root, table).to_pylist()


def test_ms1_first_file_pairs_like_the_interleaved_one(tmp_path):
    scans = acquisition(cycles=4, per_cycle=3)
    interleaved = write_mzml(tmp_path / "interleaved.mzML", scans)
    stored = write_mzml(tmp_path / "ms1_first.mzML", ms1_first(scans))
    a = convert_files([interleaved], tmp_path / "a")
    b = convert_files([stored], tmp_path / "b")
    expected = [s["ms1"] for s in scans if s["level"] == 2]
    for report, root in ((a, tmp_path / "a"), (b, tmp_path / "b")):
        rows = _rows(root)
        assert [r["ms1_scan_number"] for r in rows] == expected
        assert report.files[0].warnings == []
    pairing = b.files[0].pairing
    assert pairing["stored_in_acquisition_order"] is False
    assert pairing["paired_by"]["scan start time"] == 12
    assert a.files[0].pairing["stored_in_acquisition_order"] is True
    checks = b.files[0].checks
    assert checks["negative_seconds_since_ms1"] == 0 and checks["distinct_ms1_scans"] == 4
    assert checks["seconds_since_ms1"] == {"min": 0.4, "median": 0.8, "max": 1.2}
    rows_a, rows_b = _rows(tmp_path / "a"), _rows(tmp_path / "b")
    for x, y in zip(rows_a, rows_b, strict=True):
        assert x["instrument_settings"] == pytest.approx(y["instrument_settings"])
        assert x["mz_array"] == y["mz_array"]


def test_precursor_spectrum_ref_wins_over_time(tmp_path):
    scans = acquisition(cycles=3, per_cycle=2)
    # the second cycle's MS2 scans name the FIRST MS1 scan as their precursor's source
    for s in scans:
        if s["level"] == 2 and s["ms1"] == 4:
            s["ms1"] = 1
    path = write_mzml(tmp_path / "refs.mzML", ms1_first(scans), refs=True)
    report = convert_files([path], tmp_path / "root")
    rows = _rows(tmp_path / "root")
    assert [r["ms1_scan_number"] for r in rows] == [1, 1, 1, 1, 7, 7]
    assert report.files[0].pairing["paired_by"]["precursor spectrumRef"] == 6


def test_negative_times_and_one_ms1_for_all_rows_are_flagged(tmp_path):
    scans = acquisition(cycles=3, per_cycle=4)
    for s in scans:  # every MS2 names the LAST MS1 scan, acquired after most of them
        if s["level"] == 2:
            s["ms1"] = 11
    path = write_mzml(tmp_path / "wrong.mzML", scans, refs=True)
    report = convert_files([path], tmp_path / "root")
    checks = report.files[0].checks
    assert checks["negative_seconds_since_ms1"] == 8
    assert checks["distinct_ms1_scans"] == 1
    assert "ms1_retention_time_min" in checks["constant_settings"]
    text = " | ".join(report.files[0].warnings)
    assert "8 row(s) have a negative time since their MS1 scan" in text
    assert "all 12 rows got the same MS1 scan although the file has 3 MS1 scans" in text
    assert "zero variance over 12 rows" in text and "ms1_retention_time_min" in text
    assert report.rows_written == 12  # flagged, not rejected
    assert "warning: 8 row(s)" in report.summary()


@pytest.mark.parametrize(
    "id_format",
    [
        THERMO_ID,
        "scan={scan}",
        "spectrum={scan}",
        "scanId={scan}",
        "index={index}",
        "function=1 process=0 scan={scan}",
    ],
)
def test_native_id_forms_give_scan_numbers_and_scans_since_ms1(tmp_path, id_format):
    scans = acquisition(cycles=2, per_cycle=3)
    scans[3]["scan"] = 40  # a gap in numbering: MS2 #3 of cycle 1
    path = write_mzml(tmp_path / "run.mzML", ms1_first(scans), id_format=id_format)
    convert_files([path], tmp_path / "root")
    rows = _rows(tmp_path / "root")
    numbers = [r["ms2_scan_number"] for r in rows]
    if "index" in id_format:  # the 0-based position in the (MS1-first) file
        assert numbers == [2, 3, 4, 5, 6, 7]
    else:
        assert numbers == [2, 3, 40, 6, 7, 8]
    raw = np.array([r["instrument_settings"] for r in rows])
    assert np.all(np.diff(raw[:3, SCANS_SINCE]) > 0)  # standardised, still increasing


def test_scans_since_ms1_counts_acquisitions_when_numbers_do_not(tmp_path):
    scans = acquisition(cycles=2, per_cycle=3)
    root = tmp_path / "root"
    convert_files(
        [write_mzml(tmp_path / "idx.mzML", ms1_first(scans), id_format="index={index}")], root
    )
    assert read_spectra(root, "train_data").num_rows == 6
    saved = json.loads((root / STANDARDIZATION_FILE).read_text())
    assert saved["mean"][SCANS_SINCE] == pytest.approx(2.0)  # 1, 2, 3 in each cycle


def test_mgf_without_times_pairs_in_file_order(tmp_path):
    scans = [ms1(1, [100.0], [5.0]), ms2(2, 100.0), ms1(3, [200.0], [7.0]), ms2(4, 200.0)]
    path = write_mgf(tmp_path / "run.mgf", scans)
    text = path.read_text().replace("RTINSECONDS", "X_RT")
    path.write_text(text)
    report = convert_files([path], tmp_path / "root")
    assert [r["ms1_scan_number"] for r in _rows(tmp_path / "root")] == [1, 3]
    assert report.files[0].pairing["paired_by"]["file order"] == 2
    assert report.files[0].pairing["stored_in_acquisition_order"] is None


def test_baseline_features_are_settings_and_precursor(tmp_path):
    from trainlab.data.spectra.features import FEATURE_NAMES, baseline_features

    scans = acquisition(cycles=2, per_cycle=3)
    scans[5]["polarity"] = "negative"  # an MS2 without a negative MS1: pairs with none
    root = tmp_path / "root"
    convert_files([write_mzml(tmp_path / "run.mzML", scans)], root, on_bad_row="skip")
    x, y = baseline_features(root, "train_data")
    rows = _rows(root)
    assert x.shape == (len(rows), len(FEATURE_NAMES)) == (5, 23)
    assert x[:, -1].tolist() == pytest.approx([r["precursor_mz"] for r in rows])
    np.testing.assert_allclose(x[:, :22], [r["instrument_settings"] for r in rows])
    assert y.tolist() == [0.0] * 5
    assert baseline_features(root, "train_data", polarity=0)[0].shape == (0, 23)


@pytest.mark.parametrize("times", [True, False])
@pytest.mark.parametrize("fmt", ["mgf", "mzML"])
def test_ms1_scans_without_polarity_pair_with_ms2_scans_of_either(tmp_path, fmt, times):
    # MGF survey scans have no CHARGE and often no IONMODE, while an MS2 entry's CHARGE=2+
    # gives its polarity; mzML writers may leave the polarity term off MS1 spectra
    scans = acquisition(cycles=2, per_cycle=2)
    scans[2]["polarity"] = "negative"  # scan 3; the file has no MS1 of either polarity
    path = tmp_path / f"run.{fmt}"
    if fmt == "mgf":
        text = write_mgf(path, scans).read_text().replace("\nIONMODE=positive\n", "\n")
        path.write_text(text.replace("\nIONMODE=negative\n", "\n"))
    else:
        text = write_mzml(path, scans).read_text()
        spectra = text.split("<spectrum ")
        for i, s in enumerate(spectra):
            if 'name="ms level" value="1"' in s:
                spectra[i] = re.sub(r'<cvParam[^>]*name="positive scan"[^>]*/>', "", s)
        path.write_text("<spectrum ".join(spectra))
    if not times:  # pairing falls back to file order
        text = re.sub(r'<cvParam[^>]*name="scan start time"[^>]*/>', "", path.read_text())
        text = text.replace("RTINSECONDS", "X_RT")
        path.write_text(text)
    report = convert_files([path], tmp_path / "root", dataset_id="x")
    assert not report.failed, report.summary()
    rows = _rows(tmp_path / "root")
    assert [r["ms1_scan_number"] for r in rows] == [1, 1, 4, 4]
    settings = np.array([r["instrument_settings"] for r in rows])
    assert settings[:, 15].tolist() == [1.0, 0.0, 1.0, 1.0]  # polarity positive (slot 15)

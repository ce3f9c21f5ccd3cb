"""MGF and mzML files written here -> spectra tables; bad files and rows; append safety."""

import json

import numpy as np
import pytest
from spectra_files import ms1, ms2, write_mgf, write_mzml

from trainlab.data.spectra.convert import convert_files, load_identified_scans
from trainlab.data.spectra.instrument import SETTING_NAMES, STANDARDIZATION_FILE
from trainlab.data.spectra.scans import filter_peaks
from trainlab.data.spectra.schema import polarity_of
from trainlab.data.spectra.store import open_spectra, read_spectra
from trainlab.errors import DataError

MS1_MZ = [100.0, 200.0, 300.0, 400.0]
MS1_INTENSITY = [10.0, 1000.0, 5.0, 250.0]  # 5 is below 1 % of the base peak


def run_scans(label_two: str | None = "1") -> list[dict]:
    return [
        ms1(1, MS1_MZ, MS1_INTENSITY),
        ms2(2, 200.0, label=label_two, name="caffeine"),
        ms2(3, 400.0, label="0"),
        ms1(4, [150.0, 250.0], [4.0, 16.0], polarity="negative", rt_min=1.1),
        ms2(5, 250.0, polarity="negative", rt_min=1.12),
        ms2(6, 210.0, rt_min=1.13),  # positive: pairs with scan 1, not the negative scan 4
    ]


def test_filter_peaks_limits_count_and_relative_intensity():
    rng = np.random.default_rng(0)
    mz = rng.uniform(100, 1000, 1000)
    intensity = rng.uniform(0, 100, 1000)
    intensity[:10] = 0.5  # below 1 % of ~100
    kept_mz, kept = filter_peaks(mz, intensity)
    assert len(kept_mz) == 400
    assert np.all(np.diff(kept_mz) >= 0)
    assert kept.max() == pytest.approx(1.0)
    assert kept.min() ** 2 >= 0.01
    top = np.sort(intensity)[-400:] / intensity.max()
    assert np.allclose(np.sort(kept**2), np.sort(top), atol=1e-6)


@pytest.mark.parametrize("fmt", ["mzML", "mgf"])
def test_convert_reads_peaks_polarity_labels_and_settings(tmp_path, fmt):
    path = tmp_path / f"run1.{fmt}"
    if fmt == "mzML":
        write_mzml(path, run_scans(), label_param="LABEL")
    else:
        write_mgf(path, run_scans())
    report = convert_files([path], tmp_path / "root", label_column="LABEL", dataset_id="MSV01")
    assert report.rows_written == 4 and not report.failed, report.summary()
    table = read_spectra(tmp_path / "root", "train_data").to_pylist()
    assert [r["ms2_scan_number"] for r in table] == [2, 3, 5, 6]
    assert [r["ms1_scan_number"] for r in table] == [1, 1, 4, 1]
    assert [r["label"] for r in table] == [1.0, 0.0, 0.0, 0.0]
    assert table[0]["mz_array"] == [100.0, 200.0, 400.0]
    assert table[0]["intensity_array"] == pytest.approx(np.sqrt([0.01, 1.0, 0.25]))
    assert table[2]["intensity_array"] == pytest.approx([0.5, 1.0])
    assert table[0]["precursor_mz"] == 200.0
    assert {r["source_file"] for r in table} == {path.name}
    assert {r["dataset_id"] for r in table} == {"MSV01"}
    assert table[0]["mzml_filepath"] == str(path.resolve())
    if fmt == "mgf":
        assert table[0]["compound_name"] == "caffeine"
    settings = np.array([r["instrument_settings"] for r in table])
    assert polarity_of(settings).tolist() == [1, 1, 0, 1]
    hcd = SETTING_NAMES.index("activation_hcd")
    assert settings[:, hcd].tolist() == [1.0] * 4
    stats = json.loads((tmp_path / "root" / STANDARDIZATION_FILE).read_text())
    scans_since = stats["settings"].index("scans_since_ms1")
    assert stats["mean"][scans_since] == pytest.approx((1 + 2 + 1 + 5) / 4)


def test_labels_from_csv_of_identified_scans(tmp_path):
    write_mzml(tmp_path / "run1.mzML", run_scans(label_two=None))
    csv = tmp_path / "ids.csv"
    csv.write_text("filename,scan,compound_name\nrun1.mzXML,5,taurine\nother.mzML,2,x\n")
    assert load_identified_scans(csv) == {("run1", 5): "taurine", ("other", 2): "x"}
    convert_files([tmp_path / "run1.mzML"], tmp_path / "root", labels_csv=csv)
    table = read_spectra(tmp_path / "root", "train_data")
    assert table.column("label").to_pylist() == [0.0, 0.0, 1.0, 0.0]
    assert table.column("compound_name").to_pylist()[2] == "taurine"
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("name,value\na,1\n")
    with pytest.raises(DataError, match="needs a file column"):
        convert_files([tmp_path / "run1.mzML"], tmp_path / "other", labels_csv=bad_csv)


def test_labels_csv_as_spreadsheets_export_it(tmp_path):
    # Excel's "CSV UTF-8": a byte-order mark, CRLF, padded cells, scans as floats, other case,
    # and trailing rows of empty cells
    write_mzml(tmp_path / "Run1.mzML", run_scans(label_two=None))
    csv = tmp_path / "ids.csv"
    text = (
        "Source_File , Scan ,compound_name\r\n run1.RAW , 5.0 , taurine \r\nRun1.mzML,2,\r\n,,\r\n"
    )
    csv.write_bytes(text.encode("utf-8-sig"))
    report = convert_files([tmp_path / "Run1.mzML"], tmp_path / "root", labels_csv=csv)
    table = read_spectra(tmp_path / "root", "train_data")
    assert table.column("label").to_pylist() == [1.0, 0.0, 1.0, 0.0]
    assert table.column("compound_name").to_pylist()[2] == "taurine"
    assert report.files[0].warnings == []


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_labels_csv_with_semicolons_or_tabs(tmp_path, delimiter):
    # spreadsheets in locales with a decimal comma export ';'; search tools write TSV
    csv = tmp_path / "ids.csv"
    text = delimiter.join(["file", "scan", "compound_name"]) + "\n"
    text += delimiter.join(["run1.mzML", "5", "taurine, a sulfonic acid"]) + "\n"
    csv.write_bytes(text.encode("utf-8-sig"))
    assert load_identified_scans(csv) == {("run1", 5): "taurine, a sulfonic acid"}


def test_labels_csv_scans_missing_from_the_file_are_warned(tmp_path):
    write_mzml(tmp_path / "run1.mzML", run_scans(label_two=None))
    write_mzml(tmp_path / "run2.mzML", run_scans(label_two=None))
    csv = tmp_path / "ids.csv"
    csv.write_text("file,scan\nrun1.mzML,5\nrun1.mzML,99\nrun1.mzML,1\nrun3.mzML,2\n")
    paths = [tmp_path / "run1.mzML", tmp_path / "run2.mzML"]
    report = convert_files(paths, tmp_path / "root", labels_csv=csv)
    one, two = (f.warnings for f in report.files)
    assert len(one) == 1 and "2 scan(s) that ids.csv names for run1" in one[0]
    assert "[1, 99]" in one[0] and "not MS2 scans" in one[0]
    assert len(two) == 2 and "ids.csv names no scan of run2.mzML" in two[0]
    assert "run1, run3" in two[0] and "every row is unlabeled" in two[0]
    assert "4 spectra identical to rows of earlier files of this conversion" in two[1]  # a copy


def test_bad_file_is_reported_and_earlier_rows_stay(tmp_path):
    root = tmp_path / "root"
    good = write_mgf(tmp_path / "good.mgf", run_scans())
    convert_files([good], root, label_column="LABEL")
    broken = tmp_path / "broken.mzML"
    write_mzml(broken, run_scans())
    broken.write_text(broken.read_text()[:-300])  # cut off mid-spectrum
    later = write_mzml(tmp_path / "later.mzML", run_scans())
    report = convert_files([broken, later, tmp_path / "notes.txt"], root)
    statuses = {f.path.name: f.status for f in report.files}
    assert statuses == {"broken.mzML": "rejected", "later.mzML": "written", "notes.txt": "rejected"}
    assert "broken.mzML: cannot read spectrum #" in report.failed[0].problems[0]
    assert "unknown format '.txt'" in report.failed[1].problems[0]
    names = read_spectra(root, "train_data").column("source_file").to_pylist()
    assert names == ["good.mgf"] * 4 + ["later.mzML"] * 4


def test_ms1_peak_line_without_intensity_names_the_spectrum(tmp_path):
    # pyteomics keeps the m/z of a peak line without intensity: the arrays no longer align
    path = write_mgf(tmp_path / "run.mgf", run_scans())
    blocks = path.read_text().split("END IONS")
    blocks[3] = blocks[3].replace("\n250.0 16.0\n", "\n250.0\n")  # MS1 scan 4
    path.write_text("END IONS".join(blocks))
    report = convert_files([path], tmp_path / "root")
    assert [f.status for f in report.files] == ["rejected"]
    message = report.files[0].problems[0]
    assert "cannot read spectrum #3 (scan 4: 2 m/z values but 1 intensities" in message, message


def test_bad_rows_reject_the_file_with_positions_or_are_skipped(tmp_path):
    root = tmp_path / "root"
    scans = run_scans(label_two="maybe")
    scans.insert(0, ms2(7, 300.0, rt_min=0.5))  # position 0: acquired before any MS1 scan
    scans[3]["precursor"] = None  # position 3 = scan 3: no precursor m/z
    path = write_mgf(tmp_path / "bad_rows.mgf", scans)
    report = convert_files([path], root, label_column="LABEL")
    assert report.rows_written == 0
    message = report.failed[0].problems[0]
    assert "bad_rows.mgf" in message and "3 row(s)" in message
    assert "row 0, column 'mz_array': scan 7: no MS1 scan of its polarity" in message
    assert "row 2, column 'label': scan 2: 'maybe' is not 1/0" in message
    assert "row 3, column 'precursor_mz': scan 3" in message
    assert message.endswith("convert with on_bad_row=skip to write it without these rows")
    assert not (root / "train_data").exists()
    report = convert_files([path], root, label_column="LABEL", on_bad_row="skip")
    assert report.rows_written == 2 and "skipped" in report.files[0].problems[0]
    assert read_spectra(root, "train_data").column("ms2_scan_number").to_pylist() == [5, 6]


def test_schema_problems_name_the_ms2_and_ms1_scans(tmp_path):
    scans = run_scans()
    scans[3]["mz"], scans[3]["intensity"] = [150.0, 250.0], [0.0, 0.0]  # MS1 scan 4: no peaks
    path = write_mzml(tmp_path / "run.mzML", scans)
    report = convert_files([path], tmp_path / "root")
    message = report.failed[0].problems[0]
    assert "row 4, column 'mz_array': scan 5 (MS1 scan 4): the MS1 spectrum has no peaks" in message


def test_rerun_skips_files_already_in_the_table(tmp_path):
    root = tmp_path / "root"
    path = write_mzml(tmp_path / "run1.mzML", run_scans())
    convert_files([path], root)
    before = json.loads((root / STANDARDIZATION_FILE).read_text())
    report = convert_files([path, write_mgf(tmp_path / "run2.mgf", run_scans())], root)
    assert [f.status for f in report.files] == ["already present", "written"]
    assert open_spectra(root, "train_data").count_rows() == 8
    assert json.loads((root / STANDARDIZATION_FILE).read_text()) == before  # stats reused


def test_inputs_with_the_same_file_name_are_refused(tmp_path):
    # source_file tells a table's files apart: two runs named run.mzML in other folders would
    # share labels from a CSV and be skipped together on a rerun
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first = write_mzml(tmp_path / "a" / "run.mzML", run_scans())
    second = write_mzml(tmp_path / "b" / "run.mzML", run_scans()[:3])
    report = convert_files([first, second, first], tmp_path / "root")
    assert [f.status for f in report.files] == ["written", "rejected", "already present"]
    message = report.files[1].problems[0]
    assert str(first) in message and "same file name" in message and "rename" in message
    assert read_spectra(tmp_path / "root", "train_data").num_rows == 4


def test_given_standardization_is_kept_for_later_appends(tmp_path):
    train = tmp_path / "train"
    convert_files([write_mzml(tmp_path / "run1.mzML", run_scans())], train)
    given = train / STANDARDIZATION_FILE
    new = tmp_path / "new"
    other = run_scans()
    for s in other:
        s["rt_min"] += 30.0  # a later run: another retention time scale
    convert_files([write_mzml(tmp_path / "run2.mzML", other)], new, standardization=given)
    # a later append without standardization= must reuse the same statistics, not fit new ones
    report = convert_files([write_mzml(tmp_path / "run3.mzML", other)], new)
    assert report.standardization == new / STANDARDIZATION_FILE
    assert json.loads((new / STANDARDIZATION_FILE).read_text()) == json.loads(given.read_text())
    settings = read_spectra(new, "train_data").column("instrument_settings").to_pylist()
    assert settings[:4] == settings[4:]  # run2 and run3 are the same scans on one scale
    refit = tmp_path / "refit"
    convert_files([write_mzml(tmp_path / "refit.mzML", other)], refit)
    run4 = write_mzml(tmp_path / "run4.mzML", run_scans())
    with pytest.raises(DataError, match="other statistics"):
        convert_files([run4], new, standardization=refit / STANDARDIZATION_FILE)


def test_conflicting_options_are_refused(tmp_path):
    with pytest.raises(DataError, match="not both label_column and labels_csv"):
        convert_files([], tmp_path, label_column="L", labels_csv="x.csv")
    with pytest.raises(DataError, match="on_bad_row"):
        convert_files([], tmp_path, on_bad_row="ignore")


def test_profile_ms1_spectra_are_refused_unless_kept(tmp_path):
    """A row keeps the MS1 spectrum's 400 most intense points: on profile data those are a few
    peaks sampled many times, so a file flagged profile is rejected with the fix."""
    path = write_mzml(tmp_path / "run1.mzML", run_scans(), label_param="LABEL")
    text = path.read_text().replace(
        'accession="MS:1000127" name="centroid spectrum"',
        'accession="MS:1000128" name="profile spectrum"',
    )
    path.write_text(text)
    report = convert_files([path], tmp_path / "root", label_column="LABEL")
    (problem,) = report.files[0].problems
    assert report.files[0].status == "rejected"
    assert f"{path}: 2 of the 2 MS1 spectra its rows use are profile spectra" in problem
    # msconvert's "vendor" picker reads raw files only: on this mzML it would fall back to a
    # local-maximum picker, so the fix for the file in hand is "cwt", named with its path
    assert 'msconvert <raw file> --filter "peakPicking vendor msLevel=1-" (the first' in problem
    assert f'from this file, msconvert {path} --filter "peakPicking cwt msLevel=1-"' in problem
    assert "on_profile=keep" in problem
    kept = convert_files([path], tmp_path / "kept", label_column="LABEL", on_profile="keep")
    assert kept.files[0].status == "written"
    assert any("written anyway: on_profile=keep" in w for w in kept.files[0].warnings)


def test_unflagged_profile_looking_ms1_is_a_warning(tmp_path):
    """MGF has no centroid/profile flag: peaks 5 mDa apart are profile data all the same."""
    centre = np.repeat([300.0, 450.0, 600.0], 20) + np.tile(np.arange(20) * 0.005, 3)
    shape = np.tile(np.exp(-0.5 * ((np.arange(20) - 9.5) / 3) ** 2), 3) * 1000
    scans = [ms1(1, centre.tolist(), shape.tolist()), ms2(2, 450.05)]
    report = convert_files([write_mgf(tmp_path / "run1.mgf", scans)], tmp_path / "root")
    assert report.files[0].status == "written"
    (warning,) = report.files[0].warnings
    assert "1 of the 1 MS1 spectra the rows use give no centroid/profile flag" in warning
    assert f'msconvert {tmp_path / "run1.mgf"} --filter "peakPicking cwt msLevel=1-"' in warning


def test_repeated_mz_values_are_one_peak(tmp_path):
    """An m/z given twice (spectra appended by a converter) is one peak: its intensities are
    summed, instead of two tokens that each look weaker than the peak against the base peak."""
    scans = [ms1(1, [100.0, 200.0, 200.0, 300.0], [10.0, 600.0, 400.0, 250.0]), ms2(2, 200.0)]
    report = convert_files([write_mzml(tmp_path / "run1.mzML", scans)], tmp_path / "root")
    (row,) = read_spectra(tmp_path / "root", "train_data").to_pylist()
    assert row["mz_array"] == [100.0, 200.0, 300.0]
    assert row["intensity_array"] == pytest.approx(np.sqrt([0.01, 1.0, 0.25]))
    (warning,) = report.files[0].warnings
    assert "1 MS1 spectra give 1 m/z values more than once" in warning


def test_an_ms2_spectrum_without_ms_level_is_not_read_as_ms1(tmp_path):
    """Read as MS1 (the old default), its fragment peaks became the 'MS1 spectrum' of the two
    MS2 scans after it: 8 rows written, two of them wrong, without a word."""
    from spectra_files import dda_run

    text = write_mzml(tmp_path / "run.mzML", dda_run(3, per_cycle=3, seed=1)).read_text()
    level = '<cvParam cvRef="MS" accession="MS:1000511" name="ms level" value="2"/>'
    msn = '<cvParam cvRef="MS" accession="MS:1000580" name="MSn spectrum" value=""/>'
    (tmp_path / "run.mzML").write_text(text.replace(level, msn, 1))
    report = convert_files([tmp_path / "run.mzML"], tmp_path / "root")
    assert report.files[0].status == "rejected"
    (problem,) = report.files[0].problems
    assert "run.mzML: cannot read spectrum #1 (spectrum 'controllerType=0" in problem
    assert "scan=2' gives no 'ms level' (MS:1000511) but has a precursor" in problem
    assert not (tmp_path / "root" / "train_data").exists()


def test_identical_spectra_are_reported_at_convert(tmp_path):
    # one spectrum of run1 (same MS1 peaks and precursor) in another run, under other scan
    # numbers: too few rows for the run check; training would refuse train_data with test_1
    root = tmp_path / "root"
    convert_files([write_mzml(tmp_path / "run1.mzML", run_scans())], root)
    other = [
        ms1(10, MS1_MZ, MS1_INTENSITY),
        ms2(11, 200.0),  # = run1's scan 2
        ms1(12, [120.0, 220.0], [3.0, 9.0], rt_min=1.1),
        ms2(13, 220.0, rt_min=1.12),
        ms2(14, 120.0, rt_min=1.13),
        ms2(15, 125.0, rt_min=1.14),
    ]
    report = convert_files([write_mzml(tmp_path / "run2.mzML", other)], root, "test_1")
    assert report.rows_written == 4, report.summary()
    checks = report.files[0].checks
    assert checks["identical_spectra"]["train_data"] == 1
    warning = " ".join(checks["warnings"])
    assert "1 spectra identical to rows of train_data" in warning
    assert "train_data row 0 (run1.mzML, MS2 scan 2) = run2.mzML, MS2 scan 11" in warning
    assert "data.allow_identical_spectra=true" in warning
    # renamed copies of a run converted into its table: each counts twice in training
    copies = [write_mzml(tmp_path / f"copy{i}.mzML", run_scans()) for i in (1, 2)]
    report = convert_files(copies, root, "train_data")
    first, second = (f.checks["identical_spectra"] for f in report.files)
    assert first["train_data (rows already there)"] == 4 and first["test_1"] == 1
    assert second["earlier files of this conversion"] == 4 and second["within the file"] == 0
    assert "4 spectra identical to rows already in train_data" in report.summary()


def test_labels_csv_scan_numbers_shared_by_several_ms2_spectra_are_refused(tmp_path):
    # Bruker TDF nativeIDs (frame=F scan=S) number spectra by frame; a PASEF frame holds
    # several precursors: the CSV's frame 2 labelled both of its MS2 spectra before
    scans = [
        ms1(1, [200.0, 400.0, 600.0], [100.0, 50.0, 20.0]),
        ms2(2, 200.0),
        ms2(2, 400.0),
        ms1(3, [210.0, 410.0], [80.0, 40.0], rt_min=1.02),
        ms2(4, 210.0, rt_min=1.03),
    ]
    path = write_mzml(tmp_path / "run.mzML", scans, id_format="frame={scan} scan={index}")
    csv = tmp_path / "ids.csv"
    csv.write_text("file,scan\nrun.mzML,2\n")
    report = convert_files([path], tmp_path / "root", labels_csv=csv)
    assert [f.status for f in report.files] == ["rejected"]
    message = report.files[0].problems[0]
    assert "1 MS2 scan number(s) that ids.csv names belong to several MS2 spectra" in message
    assert "e.g. 2: 2 spectra, frame=2 scan=1 (m/z 200.0), frame=2 scan=2 (m/z 400.0)" in message
    assert "identifications=[...]" in message
    csv.write_text("file,scan\nrun.mzML,4\n")  # a frame of one precursor labels it
    report = convert_files([path], tmp_path / "root", labels_csv=csv)
    assert report.rows_written == 3 and report.files[0].labelled == 1

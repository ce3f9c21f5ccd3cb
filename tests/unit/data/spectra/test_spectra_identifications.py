"""Identification import: idXML, mzIdentML, pepXML and mzTab written here, linked to the MS2
scans of an mzML stored out of acquisition order, by spectrum reference or by time and m/z."""

import numpy as np
import pytest
from id_files import psm, write_identifications
from spectra_files import acquisition, ms1_first, write_mzml

from trainlab.data.spectra.convert import convert_files
from trainlab.data.spectra.id_formats import file_name, read_psms
from trainlab.data.spectra.identifications import target_decoy_qvalues
from trainlab.data.spectra.store import read_spectra
from trainlab.errors import DataError

FORMATS = ["idXML", "mzid", "pepXML", "mzTab"]
IDENTIFIED = {2: "PEPTIDEA", 7: "PEPTIDEC", 11: "PEPTIDED", 16: "PEPTIDEE"}


def run_and_psms(ambiguous: bool = False) -> tuple[list[dict], list[dict]]:
    """A 4-cycle run (12 MS2 scans) and its PSMs: 4 identified scans, one target whose spectrum
    is not in the file, one target above the q-value threshold and one decoy."""
    scans = acquisition(cycles=4, per_cycle=3)
    ms2 = [s for s in scans if s["level"] == 2]
    if ambiguous:  # scan 6 has the precursor m/z of scan 2, 1.6 s later
        ms2[3]["precursor"] = ms2[0]["precursor"]
    where = {s["scan"]: (i, s["rt_min"] * 60 + 0.05, s["precursor"] * (1 + 2e-6)) for i, s in
             enumerate(ms2)}  # fmt: skip

    def at(peptide, scan, **kw):
        index, rt, mz = where[scan]
        return psm(peptide, scan, rt, mz, index=index, **kw)

    psms = [at(p, s, q=0.001 * (i + 1), score=10.0 ** -(8 - i)) for i, (s, p) in
            enumerate(IDENTIFIED.items())]  # fmt: skip
    psms += [
        psm("PEPTIDEX", 99, 200.0, 999.0, q=0.002, score=1e-7, index=50),
        at("PEPTIDEB", 3, q=0.2, score=0.5),
        at("KEDITPEP", 4, q=0.5, score=0.1, decoy=True),
    ]
    return scans, psms


@pytest.mark.parametrize("refs", [True, False], ids=["with_refs", "without_refs"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_identifications_label_the_scans_they_identify(tmp_path, fmt, refs):
    scans, psms = run_and_psms()
    mzml = write_mzml(tmp_path / "run1.mzML", ms1_first(scans), refs=True)
    ids = write_identifications(tmp_path, fmt, psms, "run1.mzML", refs)
    report = convert_files([mzml], tmp_path / "root", identifications=[ids])
    rows = read_spectra(tmp_path / "root", "train_data").to_pylist()
    labelled = {r["ms2_scan_number"]: r["compound_name"] for r in rows if r["label"] == 1.0}
    assert labelled == IDENTIFIED
    assert report.files[0].labelled == 4
    counts = report.identifications[0]
    assert (counts["psms"], counts["decoys"], counts["passing"]) == (7, 1, 5), counts
    assert (counts["matched"], counts["unmatched"], counts["ambiguous"]) == (4, 1, 0), counts
    how = "matched_by_reference" if refs else "matched_by_rt_mz"
    assert counts[how] == 4, counts
    if fmt == "pepXML":  # expect scores only: q-values by target-decoy competition
        assert counts["filter"] == "q-value <= 0.01 (target-decoy on expect)"
    else:
        assert counts["filter"] == "q-value <= 0.01 (the file's q-values)"
    reasons = counts["unmatched_reasons"]
    assert reasons == {"no MS2 scan within the retention time and m/z tolerances": 1}, reasons
    assert "PEPTIDEX" in counts["examples"]["unmatched"][0]


def test_nearest_scan_wins_and_ambiguity_is_counted(tmp_path):
    scans, psms = run_and_psms(ambiguous=True)
    mzml = write_mzml(tmp_path / "run1.mzML", ms1_first(scans))
    ids = write_identifications(tmp_path, "idXML", psms, "run1.mzML", refs=False)
    report = convert_files([mzml], tmp_path / "root", identifications=[ids])
    rows = read_spectra(tmp_path / "root", "train_data").to_pylist()
    assert {r["ms2_scan_number"] for r in rows if r["label"] == 1.0} == set(IDENTIFIED)
    counts = report.identifications[0]
    assert counts["ambiguous"] == 1 and counts["matched"] == 4
    assert "PEPTIDEA" in counts["examples"]["ambiguous"][0]
    # tighter time tolerance: only one candidate left
    report = convert_files(
        [mzml],
        tmp_path / "tight",
        identifications=[ids],
        identification_matching={"rt_tolerance_s": 1.0},
    )
    assert report.identifications[0]["ambiguous"] == 0


def test_identification_files_link_to_their_spectra_file_by_name(tmp_path):
    scans, psms = run_and_psms()
    one = write_mzml(tmp_path / "run1.mzML", ms1_first(scans))
    two = write_mzml(tmp_path / "run2.mzML", scans)
    named = write_identifications(tmp_path, "idXML", psms, "run1.mzML", False, name="run2")
    anonymous = write_identifications(tmp_path, "idXML", psms[:1], "x", False, name="search")
    report = convert_files([one, two], tmp_path / "root", identifications=[named, anonymous])
    assert [f.labelled for f in report.files] == [0, 4]  # run2.idXML -> run2.mzML
    assert report.identifications[1]["unmatched"] == 1
    assert "names no spectra file" in next(iter(report.identifications[1]["unmatched_reasons"]))


def test_score_threshold_and_unfiltered_files(tmp_path):
    scans, psms = run_and_psms()
    mzml = write_mzml(tmp_path / "run1.mzML", scans)
    ids = write_identifications(tmp_path, "pepXML", psms, "run1.mzML", refs=True)
    report = convert_files(
        [mzml],
        tmp_path / "a",
        identifications=[ids],
        identification_filter={"score": "expect", "score_threshold": 1e-6},
    )
    assert report.identifications[0]["filter"] == "expect <= 1e-06"
    assert report.files[0].labelled == 3  # expects 1e-8, 1e-7, 1e-6 (+1e-7 not in the file)
    targets_only = [p for p in psms if not p["decoy"]]
    clean = write_identifications(tmp_path, "pepXML", targets_only, "run1.mzML", True, "t")
    with pytest.raises(DataError, match="no q-values and no decoy PSMs"):
        convert_files([mzml], tmp_path / "b", identifications=[clean])
    report = convert_files(
        [mzml], tmp_path / "c", identifications=[clean], identification_filter={"max_qvalue": None}
    )
    assert report.files[0].labelled == 5
    with pytest.raises(DataError, match=r"identification_filter\.maxq is not a setting"):
        convert_files(
            [mzml], tmp_path / "d", identifications=[ids], identification_filter={"maxq": 1}
        )


def test_target_decoy_qvalues():
    scores = np.array([9.0, 8.0, 7.0, 6.0, 5.0, 4.0])
    decoy = np.array([False, False, True, False, False, True])
    q = target_decoy_qvalues(scores, decoy, higher=True)
    # FDR along the list: 0, 0, 1/2, 1/3, 1/4, 2/4 -> running minimum from the end
    assert q.tolist() == pytest.approx([0.0, 0.0, 0.25, 0.25, 0.25, 0.5])
    assert target_decoy_qvalues(-scores, decoy, higher=False).tolist() == pytest.approx(q)


@pytest.mark.parametrize("fmt", FORMATS)
def test_readers_keep_run_reference_time_and_mz(tmp_path, fmt):
    _, psms = run_and_psms()
    path = write_identifications(tmp_path, fmt, psms, "run1.mzML", refs=True)
    kind, read = read_psms(path)
    assert len(read) == 7 and kind in ("idXML", "mzIdentML", "pepXML", "mzTab")
    first = read[0]
    assert first.peptide == "PEPTIDEA" and first.run in ("run1.mzML", "run1")
    assert first.ref == "controllerType=0 controllerNumber=1 scan=2"
    assert first.rt_s == pytest.approx(psms[0]["rt_s"])
    assert first.mz == pytest.approx(psms[0]["mz"], rel=1e-6)
    assert [p.decoy for p in read].count(True) == (1 if fmt != "pepXML" else 0)


def test_file_names_from_paths_and_urls():
    assert file_name("file:///C:/data/run%201.mzML") == "run 1.mzML"
    assert file_name("C:\\data\\run1.mzML") == "run1.mzML"
    assert file_name("/data/run1.mgf") == "run1.mgf"
    assert file_name("null") is None


def test_psms_of_files_not_written_are_unmatched(tmp_path):
    scans, psms = run_and_psms()
    mzml = write_mzml(tmp_path / "run1.mzML", ms1_first(scans))
    ids = write_identifications(tmp_path, "idXML", psms, "run1.mzML", refs=True)
    convert_files([mzml], tmp_path / "root", identifications=[ids])
    again = convert_files([mzml], tmp_path / "root", identifications=[ids])
    counts = again.identifications[0]
    assert (counts["matched"], counts["unmatched"]) == (0, 5)
    assert counts["unmatched_reasons"] == {"spectra file already present": 5}
    scans[-1]["precursor"] = None  # a bad row: the whole file is rejected after linking
    broken = write_mzml(tmp_path / "run1.mzML", ms1_first(scans))
    report = convert_files([broken], tmp_path / "other", identifications=[ids])
    counts = report.identifications[0]
    assert report.files[0].status == "rejected"
    assert (counts["matched"], counts["matched_by_reference"], counts["unmatched"]) == (0, 0, 5)
    assert counts["unmatched_reasons"] == {"spectra file rejected": 5}


def _without_direction(path, score_type: str | None = None):
    text = path.read_text().replace(' higher_score_better="false"', "", 1)
    if score_type is not None:
        text = text.replace('score_type="q-value"', f'score_type="{score_type}"')
    path.write_text(text)
    return path


def test_idxml_without_score_direction_is_refused_unless_the_score_type_tells(tmp_path):
    """higher_score_better is required by the IdXML schema; assuming "higher" inverted the
    choice of the best hit for lower-better scores (an e-value, here)."""
    _, psms = run_and_psms()
    ids = write_identifications(tmp_path, "idXML", psms, "run1.mzML", refs=True)
    text = ids.read_text()
    # two hits on the first spectrum: e-values 1e-9 (the better one) and 5.0
    first = text.index("<PeptideHit ")
    worse = '<PeptideHit score="5.0" sequence="WRONGK" charge="2" protein_refs="PH_0"/>'
    ids.write_text(text[:first] + worse + text[first:])
    _without_direction(ids, score_type="OMSSA")
    line = 1 + ids.read_text()[: ids.read_text().index("<PeptideIdentification")].count("\n")
    with pytest.raises(DataError) as err:
        read_psms(ids)
    message = str(err.value)
    assert f"{ids}, line {line}: PeptideIdentification #1 (score_type='OMSSA')" in message
    assert 'higher_score_better="true" or "false"' in message
    # a q-value is lower-better by definition: read as such, the best hit is the lowest
    ids.write_text(ids.read_text().replace('score_type="OMSSA"', 'score_type="q-value"'))
    _, read = read_psms(ids)
    assert read[0].peptide == "PEPTIDEA" and read[0].higher_better is False


@pytest.mark.parametrize(
    "param, seconds",
    [
        ('<cvParam cvRef="PSI-MS" accession="MS:1000894" name="retention time" value="{m}" '
         'unitCvRef="UO" unitAccession="UO:0000031" unitName="minute"/>', True),
        ('<cvParam cvRef="PSI-MS" accession="MS:1001114" name="retention time(s)" value="{s}" '
         'unitCvRef="UO" unitAccession="UO:0000010" unitName="second"/>', True),
        ('<cvParam cvRef="PSI-MS" accession="MS:1000016" name="scan start time" value="{m}" '
         'unitAccession="UO:0000031"/>', True),
        ('<userParam name="retention time" value="{s}" unitName="second"/>', True),
        ('<cvParam cvRef="PSI-MS" accession="MS:1000894" name="retention time" value="{s}"/>',
         False),
    ],
    ids=["retention_time_min", "obsolete_rt_s", "unit_accession_only", "user_param", "no_unit"],
)  # fmt: skip
def test_mzid_retention_time_terms_and_units(tmp_path, param, seconds):
    """Without a usable reference (index=N of an MGF), PSMs are linked to the mzML's scans by
    time and m/z: a time given by another term than "scan start time" used to be dropped, so
    they were all unmatched and their scans unlabeled."""
    import re

    scans, psms = run_and_psms()
    mzml = write_mzml(tmp_path / "run1.mzML", ms1_first(scans))
    ids = write_identifications(tmp_path, "mzid", psms, "run1.mzML", refs=False)
    text = ids.read_text()
    by_value = {}
    for p in psms:
        found = re.search(rf'<cvParam [^>]*name="scan start time" value="{p["rt_s"]}"[^>]*/>', text)
        by_value[found.group(0)] = p["rt_s"]
    for old, rt in by_value.items():
        text = text.replace(old, param.format(s=rt, m=rt / 60))
    ids.write_text(text)
    _, read = read_psms(ids)
    report = convert_files([mzml], tmp_path / "root", identifications=[ids])
    counts = report.identifications[0]
    if seconds:
        assert read[0].rt_s == pytest.approx(psms[0]["rt_s"])
        assert counts["matched_by_rt_mz"] == 4, counts
    else:
        assert read[0].rt_s is None and "has no unit" in read[0].rt_problem
        assert counts["matched"] == 0
        (reason,) = [r for r in counts["unmatched_reasons"] if "has no unit" in r]
        assert "'retention time' has no unit" in reason and "give the time's unit" in reason


def test_idxml_of_several_spectra_files_needs_each_psms_id_merge_index(tmp_path):
    # two spectra files in one run's spectra_data: without id_merge_index, run2's PSMs were
    # taken for run1 (the idXML's name) and labelled run1's scans with run2's peptides
    import re

    from id_files import write_idxml

    psms = [psm("PEPTIDEA", 2, 60.0, 500.0), psm("PEPTIDEB", 3, 61.0, 600.0)]
    ids = write_idxml(tmp_path / "run1.idXML", psms, "/d/run1.mzML, file:///d/run2.mzML", True)
    with pytest.raises(DataError) as error:
        read_psms(ids)
    message = str(error.value)
    assert (
        "run1.idXML, line " in message
        and "PeptideIdentification #1 has no id_merge_index" in message
    )
    assert "lists 2 spectra files (run1.mzML, run2.mzML)" in message and "IDRipper" in message
    merged = iter(["0", "1"])  # OpenMS writes it as a UserParam of the PeptideIdentification

    def annotated(match):
        index = next(merged)
        return match.group(0) + f'<UserParam type="int" name="id_merge_index" value="{index}"/>'

    ids.write_text(re.sub(r"<PeptideIdentification [^>]*>", annotated, ids.read_text()))
    _, read = read_psms(ids)
    assert [(p.peptide, p.run) for p in read] == [
        ("PEPTIDEA", "run1.mzML"),
        ("PEPTIDEB", "run2.mzML"),
    ]
    ids.write_text(ids.read_text().replace('value="1"/>', 'value="2"/>'))
    with pytest.raises(DataError, match=r"#2 has id_merge_index=2, but .* lists 2 file"):
        read_psms(ids)

"""MGF and mzML readers: parameters as real files write them."""

import pytest

from trainlab.data.spectra.scans import read_mgf, read_mzml

MGF = """BEGIN IONS
TITLE=run.1.1.0
MSLEVEL=1
SCANS=1
RTINSECONDS=60
300.0 100
END IONS
BEGIN IONS
TITLE=run.2.2.2
SCANS={scans}
RTINSECONDS={rt}
PEPMASS=300.0 1234.5
CHARGE=2+ and 3+
50 1
END IONS
"""


@pytest.mark.parametrize("rt", ["60.5-61.1", "60.5 - 61.1", "60.5", "60.5-61.1,62,63-64"])
@pytest.mark.parametrize("numbers", ["2", "2-4", "2,5-6"])
def test_mgf_ranges_and_lists_of_summed_scans_read_their_start(tmp_path, rt, numbers):
    # Matrix Science's MGF: for summed spectra RTINSECONDS and SCANS are a range or list
    path = tmp_path / "run.mgf"
    path.write_text(MGF.format(rt=rt, scans=numbers))
    scans = list(read_mgf(path))
    assert [s.retention_time_s for s in scans] == [60.0, 60.5]
    assert [(s.scan_number, s.number_ordered) for s in scans] == [(1, True), (2, True)]
    assert scans[1].precursor_charge == 2 and scans[1].precursor_intensity == 1234.5


def test_mgf_bad_retention_time_names_the_value(tmp_path):
    path = tmp_path / "run.mgf"
    path.write_text(MGF.format(rt="1:02", scans="2"))
    with pytest.raises(ValueError, match="RTINSECONDS"):
        list(read_mgf(path))


@pytest.mark.parametrize(
    "term,activation",
    [
        (("MS:1000422", "beam-type collision-induced dissociation"), "hcd"),
        (("MS:1002481", "higher energy beam-type collision-induced dissociation"), "hcd"),
        (("MS:1000133", "collision-induced dissociation"), "cid"),
        (("MS:1002472", "trap-type collision-induced dissociation"), "cid"),
        (("MS:1000598", "electron transfer dissociation"), None),
    ],
)
def test_mzml_activation_terms_and_their_children(tmp_path, term, activation):
    from spectra_files import acquisition, write_mzml

    text = write_mzml(tmp_path / "run.mzML", acquisition(1, 1)).read_text()
    text = text.replace(
        'accession="MS:1000422" name="beam-type collision-induced dissociation"',
        f'accession="{term[0]}" name="{term[1]}"',
    )
    (tmp_path / "run.mzML").write_text(text)
    assert [s.activation for s in read_mzml(tmp_path / "run.mzML")] == [None, activation]


@pytest.mark.parametrize(
    "accession,name",
    [
        ("MS:1002312", "MS-Numpress linear prediction compression"),
        ("MS:1002746", "MS-Numpress linear prediction compression followed by zlib compression"),
    ],
)
def test_mzml_arrays_in_an_undecodable_compression_are_refused(tmp_path, accession, name):
    # without the pynumpress package pyteomics reads MS-Numpress bytes as plain floats
    from spectra_files import acquisition, write_mzml

    try:
        import pynumpress  # noqa: F401

        pytest.skip("pynumpress decodes MS-Numpress here")
    except ImportError:
        pass
    text = write_mzml(tmp_path / "run.mzML", acquisition(1, 1)).read_text()
    text = text.replace(
        'accession="MS:1000576" name="no compression"', f'accession="{accession}" name="{name}"'
    )
    (tmp_path / "run.mzML").write_text(text)
    with pytest.raises(ValueError, match=f"{name}.*pynumpress"):
        list(read_mzml(tmp_path / "run.mzML"))


MINUTES = 'unitCvRef="UO" unitAccession="UO:0000031" unitName="minute"'


@pytest.mark.parametrize(
    ("unit", "factor"),
    [
        (MINUTES, 60.0),
        ('unitCvRef="UO" unitAccession="UO:0000010" unitName="second"', 1.0),
        # accession only (schema-valid): pyteomics returns no unit for these
        ('unitAccession="UO:0000010"', 1.0),
        ('unitAccession="UO:0000031"', 60.0),
        ('unitAccession="UO:0000032"', 3600.0),
    ],
)
def test_mzml_scan_start_times_are_read_in_their_unit(tmp_path, unit, factor):
    from spectra_files import acquisition, write_mzml

    scans = acquisition(cycles=2, per_cycle=1)
    path = write_mzml(tmp_path / "run.mzML", scans)
    path.write_text(path.read_text().replace(MINUTES, unit))
    times = [s.retention_time_s for s in read_mzml(path)]
    assert times == pytest.approx([s["rt_min"] * factor for s in scans])


def test_mzml_scan_start_time_in_another_unit_is_refused(tmp_path):
    from spectra_files import acquisition, write_mzml

    path = write_mzml(tmp_path / "run.mzML", acquisition(cycles=1, per_cycle=1))
    path.write_text(
        path.read_text().replace(MINUTES, 'unitAccession="UO:0000028" unitName="millisecond"')
    )
    with pytest.raises(ValueError, match="'millisecond', not seconds, minutes or hours"):
        list(read_mzml(path))


def test_a_zlib_array_that_inflates_past_the_limit_is_refused(tmp_path):
    # a 0.6 MB array of zeros that inflates to 2**24 + 1 doubles (128 MiB): before, decoded
    # whole (a 0.5 MB file held 400 MB); a file of a few MB could take all memory
    import base64
    import re
    import zlib

    from spectra_files import acquisition, write_mzml

    deflater = zlib.compressobj(1)
    chunk = bytes(1 << 20)
    data = b"".join(deflater.compress(chunk) for _ in range(128))  # scans.MAX_ARRAY_BYTES
    data += deflater.compress(bytes(8)) + deflater.flush()
    encoded = base64.b64encode(data).decode()
    text = write_mzml(tmp_path / "run.mzML", acquisition(1, 1)).read_text()
    text = re.sub(
        r'name="no compression" value=""/>(<cvParam[^>]*/>)<binary>[^<]*</binary>',
        rf'name="zlib compression" value=""/>\1<binary>{encoded}</binary>',
        text.replace('accession="MS:1000576"', 'accession="MS:1000574"', 1),
        count=1,
    )
    (tmp_path / "run.mzML").write_text(text)
    with pytest.raises(ValueError, match="inflates to more than 16 M values"):
        list(read_mzml(tmp_path / "run.mzML"))


def test_zlib_arrays_below_the_limit_read_as_before(tmp_path):
    import base64
    import re
    import zlib

    from spectra_files import acquisition, write_mzml

    path = write_mzml(tmp_path / "run.mzML", acquisition(1, 1))
    plain = list(read_mzml(path))

    def deflate(found: re.Match) -> str:
        packed = base64.b64encode(zlib.compress(base64.b64decode(found.group(2)))).decode()
        return f'name="zlib compression" value=""/>{found.group(1)}<binary>{packed}</binary>'

    text = path.read_text().replace('accession="MS:1000576"', 'accession="MS:1000574"')
    text = re.sub(
        r'name="no compression" value=""/>(<cvParam[^>]*/>)<binary>([^<]*)</binary>', deflate, text
    )
    path.write_text(text)
    assert "zlib compression" in text and "no compression" not in text
    read = list(read_mzml(path))
    assert [list(s.mz) for s in read] == [list(s.mz) for s in plain]
    assert [list(s.intensity) for s in read] == [list(s.intensity) for s in plain]


def test_an_mgf_cut_short_inside_an_entry_is_named_as_such(tmp_path):
    # before: AttributeError "'NoneType' object has no attribute 'get'" (pyteomics yields None)
    entry = "BEGIN IONS\nTITLE=s{n}\nMSLEVEL=1\nPEPMASS=500.0\nSCANS={n}\n100.0 10.0\n"
    path = tmp_path / "cut.mgf"
    path.write_text(entry.format(n=1) + "END IONS\n" + entry.format(n=2))
    with pytest.raises(ValueError, match=r"ends inside an entry \(BEGIN IONS without END IONS"):
        list(read_mgf(path))

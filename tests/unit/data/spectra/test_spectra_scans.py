"""MGF and mzML readers: parameters as real files write them."""

import pytest

from trainlab.data.spectra.scans import read_mgf

MGF = """BEGIN IONS
TITLE=run.1.1.0
MSLEVEL=1
SCANS=1
RTINSECONDS=60
300.0 100
END IONS
BEGIN IONS
TITLE=run.2.2.2
SCANS=2
RTINSECONDS={rt}
PEPMASS=300.0 1234.5
CHARGE=2+ and 3+
50 1
END IONS
"""


@pytest.mark.parametrize("rt", ["60.5-61.1", "60.5 - 61.1", "60.5"])
def test_mgf_retention_time_range_reads_its_start(tmp_path, rt):
    # Matrix Science's MGF: RTINSECONDS is a retention time "or range" (summed spectra)
    path = tmp_path / "run.mgf"
    path.write_text(MGF.format(rt=rt))
    scans = list(read_mgf(path))
    assert [s.retention_time_s for s in scans] == [60.0, 60.5]
    assert scans[1].precursor_charge == 2 and scans[1].precursor_intensity == 1234.5


def test_mgf_bad_retention_time_names_the_value(tmp_path):
    path = tmp_path / "run.mgf"
    path.write_text(MGF.format(rt="1:02"))
    with pytest.raises(ValueError, match="RTINSECONDS"):
        list(read_mgf(path))

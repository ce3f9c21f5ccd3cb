"""XML from elsewhere must not read other files or expand without limit (a guard: lxml >= 5,
as pinned, resolves no external entity and caps entity amplification; pyteomics parses with
lxml's defaults; with resolve_entities=True the mzIdentML peptide below would read the file).
Probed on mzML, idXML, mzIdentML and pepXML: all refuse the same way."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from id_files import psms_of, write_mzid
from spectra_files import dda_run, write_mzml

from trainlab.data.spectra.id_formats import read_psms
from trainlab.data.spectra.scans import read_mzml

SECRET = "NOT-FOR-THE-MODEL"
REFUSED = r"Entity 'x' not defined|amplification"


def _with_doctype(path: Path, entities: str, inject: tuple[str, str]) -> Path:
    text = path.read_text()
    declaration = re.match(r"<\?xml[^>]*\?>\s*", text).group(0)
    root = re.match(r"<([A-Za-z]+)", text[len(declaration) :]).group(1)
    body = text[len(declaration) :].replace(*inject, 1)
    path.write_text(f"{declaration}<!DOCTYPE {root} [{entities}]>\n{body}")
    return path


LAUGHS = (
    '<!ENTITY a "'
    + "A" * 100
    + '">'
    + "".join(
        f'<!ENTITY {c} "{("&" + p + ";") * 10}">'
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
)  # 10**8 x 100 bytes once expanded


@pytest.mark.parametrize("kind", ["external", "laughs"])
def test_entities_in_spectra_and_identification_files_are_refused(tmp_path, kind) -> None:
    (tmp_path / "secret.txt").write_text(SECRET)
    entities = (
        f'<!ENTITY x SYSTEM "file://{tmp_path}/secret.txt">'
        if kind == "external"
        else LAUGHS + '<!ENTITY x "&i;">'
    )
    scans = dda_run(2, per_cycle=2, seed=1)
    run = _with_doctype(
        write_mzml(tmp_path / "run.mzML", scans), entities, ('id="controller', 'id="&x;controller')
    )
    # in element text, where lxml with resolve_entities=True would put the file's content
    ids = _with_doctype(
        write_mzid(tmp_path / "run.mzid", psms_of(scans), "run.mzML", refs=True),
        entities,
        ("<PeptideSequence>", "<PeptideSequence>&x;"),
    )
    with pytest.raises(Exception, match=REFUSED) as caught:
        list(read_mzml(run))
    assert SECRET not in str(caught.value)
    with pytest.raises(Exception, match=REFUSED) as caught:
        read_psms(ids)
    assert SECRET not in str(caught.value)

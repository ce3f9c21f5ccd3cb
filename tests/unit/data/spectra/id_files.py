"""Small identification files written by the tests: mzIdentML with psims' writer, idXML, pepXML
and mzTab by hand following their specifications (no writer exists for them in pyteomics/psims).

A PSM is a dict: ``peptide``, ``decoy``, ``q`` (q-value), ``score`` (an e-value, lower is
better), ``rt_s``, ``mz``, ``charge``, ``scan`` (its MS2 scan number) and ``index`` (the 0-based
position of its spectrum in the search engine's input file).
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

PROTON = 1.007276467
THERMO = "controllerType=0 controllerNumber=1 scan={}"


def psm(peptide, scan, rt_s, mz, q=0.001, score=1e-6, decoy=False, charge=2, index=0) -> dict:
    """One PSM description."""
    return dict(
        peptide=peptide, scan=scan, rt_s=rt_s, mz=mz, q=q, score=score, decoy=decoy,
        charge=charge, index=index,
    )  # fmt: skip


def _protein(p: dict) -> str:
    return ("DECOY_" if p["decoy"] else "") + f"PROT_{p['peptide'][:3]}"


def write_idxml(path: Path, psms: list[dict], spectra: str | None, refs: bool) -> Path:
    """OpenMS idXML 1.5: a q-value PeptideIdentification per PSM; ``spectra`` goes into the
    run's ``spectra_data``; with ``refs`` each carries ``spectrum_reference``."""
    proteins = sorted({_protein(p) for p in psms})
    hits = "\n".join(
        f'<ProteinHit id="PH_{i}" accession="{a}" score="0" sequence=""/>'
        for i, a in enumerate(proteins)
    )
    spectra_data = (
        f'<UserParam type="stringList" name="spectra_data" value="[file://{spectra}]"/>'
        if spectra
        else ""
    )
    idents = []
    for p in psms:
        ref = f' spectrum_reference="{THERMO.format(p["scan"])}"' if refs else ""
        idents.append(
            '<PeptideIdentification score_type="q-value" higher_score_better="false" '
            f'significance_threshold="0" MZ="{p["mz"]}" RT="{p["rt_s"]}"{ref}>'
            f'<PeptideHit score="{p["q"]}" sequence="{p["peptide"]}" charge="{p["charge"]}" '
            f'protein_refs="PH_{proteins.index(_protein(p))}">'
            '<UserParam type="string" name="target_decoy" '
            f'value="{"decoy" if p["decoy"] else "target"}"/>'
            f'<UserParam type="float" name="MS:1002049" value="{p["score"]}"/>'
            "</PeptideHit></PeptideIdentification>"
        )
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<IdXML version="1.5" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:noNamespaceSchemaLocation="https://www.openms.de/xml-schema/IdXML_1_5.xsd">\n'
        '<SearchParameters id="SP_0" db="db.fasta" db_version="" taxonomy="" '
        'mass_type="monoisotopic" charges="+2" enzyme="trypsin" missed_cleavages="1" '
        'precursor_peak_tolerance="10" precursor_peak_tolerance_ppm="true" '
        'peak_mass_tolerance="0.02" peak_mass_tolerance_ppm="false"/>\n'
        '<IdentificationRun date="2024-01-01T00:00:00" search_engine="MSGFPlus" '
        'search_engine_version="1" search_parameters_ref="SP_0">\n'
        '<ProteinIdentification score_type="" higher_score_better="true" '
        f'significance_threshold="0">\n{hits}\n{spectra_data}\n</ProteinIdentification>\n'
        + "\n".join(idents)
        + "\n</IdentificationRun>\n</IdXML>\n"
    )
    return path


def write_mzid(path: Path, psms: list[dict], spectra: str, refs: bool) -> Path:
    """mzIdentML 1.1 with psims: ``spectrumID`` is the Thermo nativeID with ``refs``, else
    ``index=N`` of ``spectra`` (as for a search on an MGF file); PSM-level q-values."""
    from psims.mzid import MzIdentMLWriter

    with open(path, "wb") as handle, MzIdentMLWriter(handle, close=False) as writer:
        writer.controlled_vocabularies()
        writer.provenance(software=[{"name": "trainlab tests", "version": "1"}])
        for kind in ("SpectraData", "SearchDatabase", "SpectrumIdentificationList"):
            writer.register(kind, 1)
        writer.register("SpectrumIdentificationProtocol", 1)
        with writer.sequence_collection():
            for i, p in enumerate(psms, start=1):
                writer.write_db_sequence(
                    accession=_protein(p), id=i, search_database_id=1, sequence=p["peptide"]
                )
                writer.write_peptide(id=i, peptide_sequence=p["peptide"])
                writer.write_peptide_evidence(
                    id=i, peptide_id=i, db_sequence_id=i, start_position=1,
                    end_position=len(p["peptide"]), is_decoy=p["decoy"],
                )  # fmt: skip
        with writer.analysis_collection():
            writer.SpectrumIdentification([1], [1]).write(writer)
        with writer.analysis_protocol_collection():
            writer.spectrum_identification_protocol(
                id=1, enzymes=[{"name": "trypsin", "id": 1, "missed_cleavages": 1}],
                modification_params=[], fragment_tolerance=(10, None, "parts per million"),
            )  # fmt: skip
        id_format = "Thermo nativeID format" if refs else "multiple peak list nativeID format"
        with writer.data_collection():
            writer.inputs(
                source_files=[],
                search_databases=[
                    {
                        "file_format": "fasta format",
                        "id": 1,
                        "location": "file:///db.fasta",
                        "name": "db",
                    }
                ],
                spectra_data=[
                    {
                        "file_format": "mzML format" if refs else "Mascot MGF format",
                        "id": 1,
                        "location": f"file://{spectra}",
                        "spectrum_id_format": id_format,
                    }
                ],
            )
            with writer.analysis_data(), writer.spectrum_identification_list(id=1):
                for i, p in enumerate(psms, start=1):
                    spectrum_id = THERMO.format(p["scan"]) if refs else f"index={p['index']}"
                    time = {"name": "scan start time", "value": p["rt_s"], "unit_name": "second"}
                    with writer.spectrum_identification_result(
                        id=i, spectrum_id=spectrum_id, spectra_data_id=1, params=[time]
                    ):
                        writer.write_spectrum_identification_item(
                            id=i, calculated_mass_to_charge=p["mz"],
                            experimental_mass_to_charge=p["mz"], charge_state=p["charge"],
                            peptide_id=i, peptide_evidence_id=i,
                            score={"name": "MS-GF:SpecEValue", "value": p["score"]},
                            params=[{"name": "PSM-level q-value", "value": p["q"]}],
                        )  # fmt: skip
    return path


def write_pepxml(path: Path, psms: list[dict], base: str, refs: bool) -> Path:
    """pepXML (TPP schema): ``expect`` scores only, no q-values (so target-decoy on expect).
    With ``refs`` the query carries ``start_scan`` and ``spectrumNativeID``; without, scan 0."""
    queries = []
    for i, p in enumerate(psms, start=1):
        scan = p["scan"] if refs else 0
        native = f" spectrumNativeID={quoteattr(THERMO.format(p['scan']))}" if refs else ""
        mass = p["mz"] * p["charge"] - p["charge"] * PROTON
        queries.append(
            f'<spectrum_query spectrum="{base}.{scan:05d}.{scan:05d}.{p["charge"]}"{native} '
            f'start_scan="{scan}" end_scan="{scan}" precursor_neutral_mass="{mass:.6f}" '
            f'assumed_charge="{p["charge"]}" index="{i}" retention_time_sec="{p["rt_s"]}">'
            f'<search_result><search_hit hit_rank="1" peptide="{p["peptide"]}" '
            f'protein="{_protein(p)}" num_tot_proteins="1" calc_neutral_pep_mass="{mass:.6f}" '
            f'massdiff="0.0"><search_score name="expect" value="{p["score"]}"/>'
            "</search_hit></search_result></spectrum_query>"
        )
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<msms_pipeline_analysis date="2024-01-01T00:00:00" '
        'xmlns="http://regis-web.systemsbiology.net/pepXML" summary_xml="x.pep.xml">\n'
        f'<msms_run_summary base_name="/data/{base}" raw_data_type="mzML" raw_data=".mzML">\n'
        f'<search_summary base_name="/data/{base}" search_engine="Comet" '
        'precursor_mass_type="monoisotopic" fragment_mass_type="monoisotopic" search_id="1">'
        '<search_database local_path="db.fasta" type="AA"/></search_summary>\n'
        + "\n".join(queries)
        + "\n</msms_run_summary>\n</msms_pipeline_analysis>\n"
    )
    return path


def write_mztab(path: Path, psms: list[dict], spectra: str, refs: bool) -> Path:
    """mzTab 1.0 (identification, summary): q-values in search_engine_score[1], decoys in
    ``opt_global_cv_MS:1002217_decoy_peptide``; spectra_ref a nativeID or ``index=N``."""
    head = [
        "MTD\tmzTab-version\t1.0.0",
        "MTD\tmzTab-mode\tSummary",
        "MTD\tmzTab-type\tIdentification",
        "MTD\tdescription\ttrainlab test",
        f"MTD\tms_run[1]-location\tfile://{spectra}",
        "MTD\tpsm_search_engine_score[1]\t[MS, MS:1002354, PSM-level q-value, ]",
        "MTD\tpsm_search_engine_score[2]\t[MS, MS:1002049, MS-GF:SpecEValue, ]",
        "",
    ]
    columns = [
        "sequence",
        "PSM_ID",
        "accession",
        "unique",
        "database",
        "database_version",
        "search_engine",
        "search_engine_score[1]",
        "search_engine_score[2]",
        "modifications",
        "retention_time",
        "charge",
        "exp_mass_to_charge",
        "calc_mass_to_charge",
        "spectra_ref",
        "pre",
        "post",
        "start",
        "end",
        "opt_global_cv_MS:1002217_decoy_peptide",
    ]
    lines = ["PSH\t" + "\t".join(columns)]
    for i, p in enumerate(psms, start=1):
        ref = THERMO.format(p["scan"]) if refs else f"index={p['index']}"
        values = [
            p["peptide"], i, _protein(p), "null", "db", "null", "[MS, MS:1002048, MS-GF+, ]",
            p["q"], p["score"], "null", p["rt_s"], p["charge"], p["mz"], p["mz"],
            f"ms_run[1]:{ref}", "K", "A", 1, len(p["peptide"]), int(p["decoy"]),
        ]  # fmt: skip
        lines.append("PSM\t" + "\t".join(map(str, values)))
    path.write_text("\n".join(head + lines) + "\n")
    return path


WRITERS = {"idXML": write_idxml, "mzid": write_mzid, "pepXML": write_pepxml, "mzTab": write_mztab}
SUFFIX = {"idXML": ".idXML", "mzid": ".mzid", "pepXML": ".pep.xml", "mzTab": ".mzTab"}


def write_identifications(
    folder: Path, fmt: str, psms: list[dict], run: str, refs: bool, name: str = "search"
) -> Path:
    """Write ``psms`` of spectra file ``run`` (e.g. ``run1.mzML``) in format ``fmt``.

    Without ``refs``, mzid and mzTab reference ``index=N`` of an MGF of the same run (so the
    converter cannot use them for the mzML and must match by time and m/z) and idXML names no
    spectra file (it is linked through the only input).
    """
    stem = run.split(".")[0]
    path = folder / f"{name}{SUFFIX[fmt]}"
    target = {
        "idXML": f"/data/{run}" if refs else None,
        "mzid": f"/data/{run}" if refs else f"/data/{stem}.mgf",
        "pepXML": stem,
        "mzTab": f"/data/{run}" if refs else f"/data/{stem}.mgf",
    }[fmt]
    return WRITERS[fmt](path, psms, target, refs)


def psms_of(scans: list[dict], seed: int = 0) -> list[dict]:
    """PSMs of a :func:`spectra_files.dda_run`: each identified scan at q <= 0.01, and on a
    tenth of the other scans a decoy or a target above the threshold (the filter drops them)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    psms = []
    for index, s in enumerate(x for x in scans if x["level"] == 2):
        rt, mz = s["rt_min"] * 60 + 0.01, s["precursor"]
        charge = s.get("charge", 2)
        if s.get("peptide"):
            q = float(rng.uniform(0, 0.01))
            psms.append(psm(s["peptide"], s["scan"], rt, mz, q=q, charge=charge, index=index))
        elif rng.random() < 0.1:
            decoy = bool(rng.random() < 0.5)
            q = float(rng.uniform(0.02, 0.5))
            psms.append(psm("DECOYPEPK", s["scan"], rt, mz, q=q, decoy=decoy, index=index))
    return psms

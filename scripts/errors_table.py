"""Write docs/errors.md from the messages test_bad_inputs.py recorded.

TRAINLAB_ERRORS_DOC=docs/errors.md pytest tests/integration/test_bad_inputs.py
python scripts/errors_table.py docs/errors.jsonl docs/errors.md
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HEADER = """# Bad inputs and what trainlab answers

Every case below was run through the real command line by
`tests/integration/test_bad_inputs.py` (one parametrized case each). Each one exits with status 2
and the message shown (printed after `error: `), never a traceback, and leaves an existing run
folder byte for byte as it was. Configuration problems stop the run before it writes its config
or reads any data; problems inside data files are found when the file is read, and name the file,
the line or byte offset and the fix. Temporary paths are shortened to `<tmp>`.

Where the checks live: key and type checks in `trainlab/core/schema.py`; value checks (sizes,
numbers, folds, modes, accelerator and precision names, data files that must exist) in the rule
table of `trainlab/core/config_checks.py` (a dotted pattern, a test and the fix: add a rule
there); unknown top-level keys on the command line, with "did you mean" and the `+key=` form, in
`config_checks.unknown_override_keys`, before Hydra composes; nnPU priors against the tables in
`trainlab/core/pu_priors.py`; problems inside files in the readers (`data/kmer/metadata.py`,
`data/kmer/matrix.py`, `data/kmer/text_matrix.py`, `data/kmer/fof.py`, `data/spectra/convert.py`).

Regenerate after changing a message:

```bash
TRAINLAB_ERRORS_DOC=docs/errors.md .venv/bin/python -m pytest tests/integration/test_bad_inputs.py
.venv/bin/python scripts/errors_table.py docs/errors.jsonl docs/errors.md && rm docs/errors.jsonl
```

| case | input | message |
|---|---|---|
"""


def _cell(text: str) -> str:
    text = re.sub(r"/tmp/pytest-of-[^/]+/pytest-\d+/[^/\s]+", "<tmp>", text)
    for lead in ("invalid configuration:\n  - ", "invalid command line:\n  - "):
        text = text.replace(lead, "")
    return text.replace("|", "\\|").replace("\n", "<br>")


KMER_FILES = {
    "kmer": "a valid matrix.npz and metadata TSV",
    "kmer:meta_latin1.tsv": "metadata TSV saved as Latin-1, brûlé on line 3",
    "kmer_text:fof_latin1": "MUSET text matrix whose kmtricks.fof is Latin-1 on line 2",
    "kmer:nan": "matrix.npz with NaN at row 3, column 2",
    "kmer:inf": "matrix.npz with inf at row 1, column 0",
    "kmer:missing": "data.matrix_path naming a file that does not exist",
    "kmer_text:inf": "MUSET text matrix with inf on line 2",
    "kmer_text:nan": "MUSET text matrix with nan on line 3",
    "kmer_text:text_empty": "an empty unitigs.frac.mat",
    "kmer_text:text_gzip": "unitigs.frac.mat gzip-compressed",
    "kmer_text:text_blank": "MUSET text matrix with a blank line 3",
    "kmer_text:text_short": "MUSET text matrix whose line 2 has 11 of 12 values",
    "kmer_text:text_spaces": "MUSET text matrix with two spaces in a row on line 1",
    "kmer_text:text_negative": "unitigs.frac.mat with -0.2 on line 2",
    "kmer_text:text_above_1": "unitigs.frac.mat with 1.5 on line 3",
    "kmer_text:text_word": "unitigs.frac.mat with the word abc on line 3",
    "kmer_text:text_comment": "unitigs.frac.mat whose line 1 is a comment, # MUSET output",
    "kmer_text:text_header_order": "MUSET text matrix whose header swaps the fof's first two ids",
    "kmer_text:text_header_other": "MUSET text matrix whose header names samples not in the fof",
    "kmer_text:text_no_id": "MUSET text matrix whose line 2 starts with a space (no unitig id)",
    "kmer_text:text_joined": "two MUSET text matrices joined with cat (ids u0-u4 twice)",
    "kmer_text:text_combined": "MUSET's old combined unitigs.mat, abundance;fraction cells",
    "kmer_text:text_header_only": "MUSET's TSV header line and no unitig row",
    "kmer_text:text_mac": "MUSET text matrix whose lines end in CR alone",
    "kmer_text:unitigs_not_fasta": "MUSET text matrix whose unitigs.fa is no FASTA file",
    "kmer:npz_joined_features": "two matrix.npz joined column-wise (feature ids u0-u4 twice)",
    "kmer:meta_empty.tsv": "an empty metadata TSV",
    "kmer:meta_longer.tsv": "metadata TSV whose line 4 has one field more than the header",
    "kmer:meta_empty_id.tsv": "metadata TSV whose line 4 has no Run_accession",
    "kmer:meta_case.tsv": "metadata TSV with sample_type labels Soil and soil",
    "kmer:meta_one_class.tsv": "metadata TSV whose sample_type is soil on every row",
    "kmer:meta_no_labels.tsv": "metadata TSV whose sample_type is NA on every row",
    "kmer:npz_object_ids": "matrix.npz whose sample_ids were saved as an object array",
    "kmer:npz_duplicated_ids": "matrix.npz whose sample_ids hold S01 twice",
    "kmer:npz_cut_short": "an .npz whose values header declares 12 x 10^6 floats over 16 bytes",
}
CONVERT_FILES = {
    "empty.mgf": "an empty MGF",
    "ms1.mgf": "an MGF with two MS1 scans only",
    "nothing_here": "a folder without .mgf/.mzML",
    "run.mzML": "a small DDA mzML run",
    "profile.mzML": "an mzML run whose spectra are flagged profile (MS:1000128)",
}
SPECTRA_ROOTS = {
    "leaky": "a root whose validation_data repeats train_data's run",
    "foreign:settings_24": "a train_data another pipeline wrote with 24 instrument settings a row",
    "foreign:mz_1e30": "a train_data another pipeline wrote with a peak at m/z 1e30 in row 4",
    "foreign:all_unlabeled": "a train_data another pipeline wrote with every label 0",
    "foreign:named_test1": "a root whose test table is named test1",
    "foreign:no_test": "a root with train_data and validation_data only",
}


def command(args: list[str]) -> str:
    """The case's command line, with its fixture placeholders described."""
    first, rest = args[0], " ".join(args[1:]).replace("{files}/", "")
    place = first.strip("{}")
    if first == "{cv}":
        head = "trainlab cv"
    elif first == "{prior}":
        head = "trainlab prior"
    elif first == "{spectra}":
        head = "trainlab train experiment=spectra/nnpu"
    elif first == "{measured}":
        head = (
            "trainlab train experiment=spectra/nnpu data.root=<measured tables> data.synthetic=null"
        )
    elif place in SPECTRA_ROOTS:
        head = f"trainlab train experiment=spectra/bce_pos (data.root: {SPECTRA_ROOTS[place]})"
    elif place in KMER_FILES:
        head = f"trainlab train experiment=kmer/diana (data: {KMER_FILES[place]})"
    elif place.startswith("convert:"):
        head = f"trainlab convert inputs=[{CONVERT_FILES[place.split(':')[1]]}]"
    else:
        head, rest = "trainlab train", " ".join(args)
    return f"{head} {rest}".strip()


def main(source: str, target: str) -> None:
    rows = [json.loads(line) for line in Path(source).read_text().splitlines() if line.strip()]
    seen: dict[str, dict] = {row["id"]: row for row in rows}
    lines = [
        f"| {row['id']} | `{command(row['args'])}` | {_cell(row['message'])} |"
        for row in seen.values()
    ]
    Path(target).write_text(HEADER + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])

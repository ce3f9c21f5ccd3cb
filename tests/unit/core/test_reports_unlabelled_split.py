"""Classification reports of a split in which a task has no labelled row."""

from pathlib import Path

import numpy as np

from trainlab.core.reports import write_classification_reports


def test_a_task_without_labelled_rows_in_the_split_is_skipped(tmp_path: Path) -> None:
    tasks = {"sample_type": ["gut", "soil"], "host": ["dog", "human"]}
    predictions = {
        "sample_type": (np.array([0, 1, 1]), np.array([0, 1, 0])),
        # every host label of these test rows was missing (-1), so none is left
        "host": (np.array([], dtype=np.int64), np.array([], dtype=np.int64)),
    }
    # before: sklearn "Found empty input array" ValueError after training, a traceback
    written = write_classification_reports(tmp_path, "test", tasks, predictions)
    names = sorted(p.name for p in written)
    assert "test_sample_type_classification_report.txt" in names
    assert not any("host" in n for n in names)

"""notebooks/results.ipynb runs top to bottom on a fresh run folder and draws its figures."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook test needs the `dev` extra")
nbclient = pytest.importorskip("nbclient", reason="the notebook test needs the `dev` extra")
pytest.importorskip("ipykernel", reason="the notebook test needs the `dev` extra")

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "results.ipynb"


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short digits run (2 epochs of 5 batches) written through `trainlab train`."""
    from hydra.core.global_hydra import GlobalHydra

    from trainlab.cli.main import main
    from trainlab.data.images.digits import write_digits
    from trainlab.data.images.split import split_folder

    root = tmp_path_factory.mktemp("notebook")
    data_dir = root / "digits"
    write_digits(data_dir)
    split_folder(data_dir, folds=3, test_ratio=0.15, seed=0)
    patch = pytest.MonkeyPatch()
    patch.setenv("TRAINLAB_LOG_DIR", str(root / "logs"))
    GlobalHydra.instance().clear()
    argv = sys.argv
    try:
        main(
            [
                "train",
                f"data.data_dir={data_dir}",
                "data.embedded=null",
                "trainer.max_epochs=2",
                "+trainer.limit_train_batches=5",
                "extras.print_config=false",
                "callbacks.progress_bar=null",
                "callbacks.model_summary=null",
                "logger=[csv,tensorboard]",
                "run_name=for_notebook",
            ]
        )
    finally:
        sys.argv = argv
        GlobalHydra.instance().clear()
        patch.undo()
    return root / "logs" / "train" / "runs" / "for_notebook"


def _execute(run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list:
    """Run the notebook in a kernel of this interpreter (sys.executable), return its outputs."""
    from ipykernel.kernelspec import write_kernel_spec
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    # A kernelspec of our own, so no system-wide "python3" kernel of another Python is used.
    kernels = tmp_path / "kernels"
    write_kernel_spec(kernels / "python3")
    manager = KernelManager(
        kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)])
    )
    monkeypatch.setenv("TRAINLAB_RUN_DIR", str(run_dir))  # inherited by the kernel
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook, km=manager, timeout=180, resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    return [output for cell in notebook.cells for output in cell.get("outputs", [])]


def _text(outputs: list) -> str:
    return "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")


def test_notebook_shows_curves_confusion_matrices_and_summary(finished_run, tmp_path, monkeypatch):
    outputs = _execute(finished_run, tmp_path, monkeypatch)
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    # the learning curves + one confusion matrix per split (train, val, test)
    assert len(images) >= 4
    text = _text(outputs)
    assert "from the CSV logger" in text
    assert "status: finished" in text


def test_notebook_falls_back_to_tensorboard_events(finished_run, tmp_path, monkeypatch):
    run_dir = tmp_path / "run_without_csv"
    shutil.copytree(finished_run, run_dir)
    shutil.rmtree(run_dir / "csv")
    outputs = _execute(run_dir, tmp_path, monkeypatch)
    assert "from TensorBoard event files" in _text(outputs)
    assert any("image/png" in o.get("data", {}) for o in outputs)

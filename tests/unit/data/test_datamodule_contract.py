"""Every DataModule config (configs/data/*.yaml) builds a DataModule that keeps the contract.

Each one is composed from its real config through an experiment that uses it, on its embedded
or synthetic data made small, and built the way a run builds it (``build_datamodule``). The
contract (``trainlab.data.contract``) is what the core relies on: the spec, class counts that
agree with the training rows, report loaders that yield every row, baseline features, and the
shared ``data.loader`` settings reaching the DataLoaders.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from omegaconf import DictConfig
from tests.conftest import REPO

from trainlab.core.build import build_datamodule
from trainlab.data.contract import DataModuleContract, PredictingDataModule, missing_members
from trainlab.data.loader_settings import LoaderSettings

CONFIGS = REPO / "configs"
DATA_CONFIGS = sorted(p.stem for p in (CONFIGS / "data").glob("*.yaml"))
# an experiment that uses each data config, and overrides that make its data small
SMALL: dict[str, tuple[str, list[str]]] = {
    "images": ("images/digits", []),  # the digits folder comes from the session fixture
    "kmer": (
        "kmer/diana",
        [
            "data.synthetic.n_samples=120",
            "data.synthetic.n_unitigs=40",
            "data.synthetic.n_projects=8",
        ],
    ),
    "spectra": (
        "spectra/bce_pos",
        [
            "data.synthetic.n_train=240",
            "data.synthetic.n_validation=60",
            "data.synthetic.n_test=60",
            "data.synthetic.max_peaks=12",
        ],
    ),
    **{
        f"text_{task}": (
            f"text/{task}",
            ["model.net.encoder=tiny", "data.synthetic_posts=60", "data.tiny_vocab_size=300"],
        )
        for task in ("criteria", "evidence", "joint")
    },
}


def _compose(overrides: list[str]) -> DictConfig:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from trainlab.cli.app import register_resolvers

    register_resolvers()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
            return compose("train", overrides=overrides)
    finally:
        GlobalHydra.instance().clear()


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("contract-data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRAINLAB_DATA_DIR", str(root))
        yield root


def build(name: str, digits_dir: Path, *extra: str, defaults: dict | None = None) -> Any:
    """The DataModule of ``configs/data/<name>.yaml``, prepared and set up as a run does."""
    experiment, small = SMALL[name]
    overrides = [f"experiment={experiment}", f"data={name}", *small, *extra]
    if name == "images":
        overrides += [f"data.data_dir={digits_dir}", "data.embedded=null"]
    cfg = _compose(overrides)
    datamodule = build_datamodule(cfg.data, defaults)
    datamodule.prepare_data()
    datamodule.setup("fit")
    datamodule.setup("test")
    return datamodule


def rows_in(batch: Any) -> int:
    """Rows of a batch of any of the DataModules' shapes (tuple, dict, nested)."""
    if isinstance(batch, torch.Tensor):
        return len(batch)
    if isinstance(batch, dict):
        return rows_in(batch.get("index", next(iter(batch.values()))))
    return rows_in(batch[0])


def test_every_data_config_is_checked() -> None:
    assert set(DATA_CONFIGS) == set(SMALL), set(DATA_CONFIGS) ^ set(SMALL)


@pytest.mark.parametrize("name", DATA_CONFIGS)
def test_datamodule_keeps_the_contract(name: str, data_root: Path, digits_dir: Path) -> None:
    dm = build(name, digits_dir)
    assert isinstance(dm, DataModuleContract), missing_members(dm)
    assert isinstance(dm, PredictingDataModule), missing_members(dm, PredictingDataModule)
    assert isinstance(dm.loader_settings, LoaderSettings)

    tasks = dm.spec()["tasks"]
    counts = dm.class_counts()
    assert set(counts) == set(tasks)
    assert all(len(counts[task]) == len(classes) for task, classes in tasks.items())

    loaders = dm.report_dataloaders()
    assert {"train", "val", "test"} <= set(loaders)
    rows = {}
    for split, loader in loaders.items():
        sizes = [rows_in(batch) for batch in loader]
        assert sizes and min(sizes) > 0, f"{split}: no batches"
        rows[split] = sum(sizes)

    features = dm.baseline_features("train")
    assert features is not None
    kind, x, labels, description = features
    assert len(x) == rows["train"] and description
    if kind == "pu":
        labels = {"label": np.asarray(labels)}
    for task, per_class in counts.items():
        expected = [int((labels[task] == c).sum()) for c in range(len(per_class))]
        assert per_class == expected, task
    labelled = min(int((labels[task] >= 0).sum()) for task in counts)
    if name != "kmer":  # k-mer metadata may miss a task's label (-1): it is not counted
        assert sum(next(iter(counts.values()))) == rows["train"] == labelled


# the hardware defaults below ask for pinned memory, which a machine without a GPU ignores
@pytest.mark.filterwarnings("ignore:'pin_memory' argument is set as true")
@pytest.mark.parametrize("name", DATA_CONFIGS)
def test_loader_settings_reach_the_dataloaders(
    name: str, data_root: Path, digits_dir: Path
) -> None:
    in_memory = ["data.in_memory=false"] if name == "kmer" else []  # else no DataLoader at all
    hardware = {"num_workers": 3, "pin_memory": True, "persistent_workers": True}
    main = build(name, digits_dir, *in_memory, "data.loader.num_workers=0", defaults=hardware)
    loader = main.train_dataloader()
    assert isinstance(loader, torch.utils.data.DataLoader)
    # the config's 0 wins over the hardware's 3; what the config left null comes from it
    assert loader.num_workers == 0 and loader.pin_memory is True
    assert loader.persistent_workers is False  # torch refuses persistent workers without any
    assert rows_in(next(iter(loader))) > 0

    overrides = ["data.loader.num_workers=1", "data.loader.prefetch_factor=3"]
    workers = build(name, digits_dir, *in_memory, *overrides, "data.loader.pin_memory=false")
    for loader in (workers.train_dataloader(), workers.val_dataloader()):
        assert loader.num_workers == 1 and loader.prefetch_factor == 3
        assert loader.pin_memory is False

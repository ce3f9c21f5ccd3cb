"""What the rest of trainlab needs of a DataModule, in one place.

Training, evaluation, reports and baselines rely on these members beside Lightning's own
(``prepare_data``, ``setup``, the ``*_dataloader`` methods). Every trainlab DataModule has them;
``tests/unit/data/test_datamodule_contract.py`` builds each one from its config and checks them.
A DataModule of one's own that lacks some still trains; the core then skips what needs them
(hardware loader defaults, classification reports, baselines) and says so once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

from trainlab.data.loader_settings import LoaderSettings

# (kind, features (n, d), labels, description): kind "classification" gives {task: (n,)}
# labels, kind "pu" one (n,) array of 0 (unlabelled) / 1 (labelled positive)
BaselineFeatures = tuple[str, Any, Any, str]


@runtime_checkable
class DataModuleContract(Protocol):
    """The members of a DataModule the core calls.

    Attributes:
        loader_settings: the ``data.loader`` node; the core fills its None values from the
            hardware before the first loader is made.
    """

    loader_settings: LoaderSettings

    def spec(self) -> dict[str, Any]:
        """What the model builder and checkpoints need: ``{"tasks": {task: [classes]}, ...}``."""
        ...

    def class_counts(self) -> dict[str, list[int]]:
        """Labelled training rows per class of each task (inverse-frequency class weights)."""
        ...

    def report_dataloaders(self) -> dict[str, Iterable[Any]]:
        """Unshuffled, unaugmented batches of every split set up, for reports."""
        ...

    def baseline_features(self, split: str) -> BaselineFeatures | None:
        """A split's rows as plain arrays for the trivial and linear baselines (None: none)."""
        ...


@runtime_checkable
class PredictingDataModule(Protocol):
    """The members ``trainlab predict`` needs: read new inputs, batch them, write the results."""

    def setup_predict(self, input_path: str, spec: dict[str, Any]) -> None: ...

    def predict_dataloader(self) -> Iterable[Any]: ...

    def write_predictions(self, outputs: list[Any], out_dir: Any, spec: dict[str, Any]) -> Any: ...


def missing_members(datamodule: Any, contract: type = DataModuleContract) -> list[str]:
    """The members of ``contract`` that ``datamodule`` lacks (empty when it satisfies it)."""
    names = sorted(getattr(contract, "__protocol_attrs__", None) or _protocol_members(contract))
    return [name for name in names if not hasattr(datamodule, name)]


def _protocol_members(contract: type) -> set[str]:
    # Python 3.11 keeps the member names only behind a private helper; read them from the class
    members = set(getattr(contract, "__annotations__", {}))
    members |= {
        name
        for name, value in vars(contract).items()
        if callable(value) and not name.startswith("_")
    }
    return members

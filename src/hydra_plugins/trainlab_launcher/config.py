"""Config of `hydra/launcher=trainlab_slurm`: every SLURM setting, plus `container`."""

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore
from hydra_plugins.hydra_submitit_launcher.config import SlurmQueueConf


@dataclass
class ContainerConf:
    """Run each job's Python inside this image; `image: null` runs on the host."""

    # path of the .sif image (docker/build.sh --singularity builds one)
    image: str | None = None
    # apptainer or singularity
    runtime: str = "apptainer"
    # extra flags; --nv makes the node's NVIDIA GPUs and driver visible in the container
    options: list[str] = field(default_factory=lambda: ["--nv"])
    # host paths bound at the same path inside; the launch folder and the sweep folder are
    # always bound, so the pickled job finds its configs, data and results where it expects
    binds: list[str] = field(default_factory=list)
    # the interpreter inside the image
    python: str = "python"


@dataclass
class TrainlabSlurmConf(SlurmQueueConf):
    """hydra-submitit-launcher's SLURM settings (partition, qos, account, gres, ...)."""

    _target_: str = "hydra_plugins.trainlab_launcher.launcher.TrainlabSlurmLauncher"
    container: ContainerConf = field(default_factory=ContainerConf)


ConfigStore.instance().store(
    group="hydra/launcher", name="trainlab_slurm", node=TrainlabSlurmConf, provider="trainlab"
)

"""trainlab: research training pipelines on Hydra and PyTorch Lightning."""

__version__ = "0.1.0"

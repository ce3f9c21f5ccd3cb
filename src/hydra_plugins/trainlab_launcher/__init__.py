"""trainlab's SLURM launcher for Hydra: `hydra/launcher=trainlab_slurm`.

hydra-submitit-launcher's SLURM launcher plus `container`: each job's Python runs inside an
Apptainer/Singularity image. Public modules import nothing heavy (Hydra scans them all).
"""

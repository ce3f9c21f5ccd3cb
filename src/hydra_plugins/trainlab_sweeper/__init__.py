"""trainlab's Optuna sweeper for Hydra: `hydra/sweeper=trainlab_optuna`.

Hydra imports every public module of this package when it scans for plugins, so the
public modules import nothing heavy; the work lives in the `_`-prefixed modules.
"""

"""The search stack both the sweeper plugin and the CV pipeline use.

- `space`: Hydra's override grammar -> Optuna distributions, and values -> overrides.
- `samplers`: samplers by name or `_target_`, with the resume rule for seeds.
- `trials`: asking for a trial that repeats no finished parameter set; interrupted trials.
- `settings`: the fixed settings a study was made with, and the check on resume.
- `aggregate`: one parameter set from several searches (outer folds), by distribution.

Storage and pruners live in `trainlab.core.optuna_study` (the pruning callback needs them in
every job).
"""

"""Exception types. Every message names the file, key or value at fault and the fix."""


class TrainlabError(Exception):
    """Base class of every error trainlab raises on purpose."""


class ConfigError(TrainlabError):
    """The composed configuration is wrong: unknown key, wrong type, missing value."""


class DataError(TrainlabError):
    """Input data is missing, unreadable or inconsistent."""


class CheckpointError(TrainlabError):
    """A checkpoint cannot be used for the requested purpose."""


class RunFolderError(TrainlabError):
    """A run folder is in a state that forbids the requested action."""


class TrainingDiverged(TrainlabError):
    """Training produced non-finite weights: nothing after that point can be reported."""

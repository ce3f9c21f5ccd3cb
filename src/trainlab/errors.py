"""Exception types of trainlab: every error names the file/key/value and the fix."""


class TrainlabError(Exception):
    """Base class of all errors trainlab raises on purpose."""


class ConfigError(TrainlabError):
    """A config value is missing, unknown, of the wrong type or inconsistent."""


class DataError(TrainlabError):
    """Input data is missing or malformed."""


class CheckpointError(TrainlabError):
    """A checkpoint is missing, unreadable or does not fit the config."""

"""Exception types of trainlab: every error we raise names the file/key/value and the fix."""


class TrainlabError(Exception):
    """Base class of all errors raised by trainlab."""


class ConfigError(TrainlabError):
    """A configuration value is missing, unknown or has the wrong type or range."""


class DataError(TrainlabError):
    """Input data cannot be read, is malformed or does not align."""


class CheckpointError(TrainlabError):
    """A checkpoint is missing, incomplete or does not match the run."""

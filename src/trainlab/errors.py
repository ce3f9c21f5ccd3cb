"""Exception types raised by trainlab; messages name the file/key/value and the fix."""


class TrainlabError(Exception):
    """Base class of every error trainlab raises on purpose."""


class ConfigError(TrainlabError):
    """A configuration value is missing, unknown or inconsistent."""


class DataError(TrainlabError):
    """Input data cannot be read or does not have the expected shape."""


class CheckpointError(TrainlabError):
    """A checkpoint or weights file cannot be read or does not fit the model."""

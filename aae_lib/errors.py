"""User-facing errors: the CLI prints these as one line and exits non-zero."""


class AAEError(Exception):
    """A problem the user can fix (bad flag, bad data, mismatched checkpoint)."""


class DataError(AAEError):
    """MNIST is missing, corrupt or could not be fetched."""


class CheckpointError(AAEError):
    """A checkpoint is missing, damaged or belongs to another configuration."""


class TrainingDiverged(AAEError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""

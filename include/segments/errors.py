"""Errors that retrying cannot fix: the DAG fails them at once instead of retrying."""


class PermanentError(RuntimeError):
    """A failure that needs a person (bad data, bad parameters, a refused model), not a retry."""


class InvalidParameterError(PermanentError, ValueError):
    """A run parameter is out of range; nothing has been done."""


class SourceError(PermanentError):
    """The source cannot be extracted from; nothing has been changed in the warehouse."""


class QualityGateError(PermanentError):
    """The fitted model failed the quality gate and was not published."""


class InsufficientDataError(PermanentError, ValueError):
    """The data cannot give a snapshot (too few customers, nothing to segment); nothing was published."""


class SnapshotDateError(PermanentError, ValueError):
    """The snapshot date is not one the pipeline may publish (in the future); nothing has been done."""


class LockTimeoutError(RuntimeError):
    """Another run held the warehouse write lock too long; a retry later may succeed."""


class ConnectionLostError(ConnectionError):
    """A database connection broke mid-task (server restarted or unreachable); its open transaction rolled back."""


class RunInterruptedError(RuntimeError):
    """Airflow's metadata database went away under `segments run`: the run could not go on."""


class RunConflictError(RuntimeError):
    """Another run of the same snapshot date is in progress; this one did nothing."""


def first_line(error: BaseException) -> str:
    """An error's message in one line for people (drivers add detail lines and context below it)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__

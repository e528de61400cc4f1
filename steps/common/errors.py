"""The two ways a step can fail, each with its exit status (workspace.md §1.4)."""


class StepError(Exception):
    """A runtime failure: bad input file, unreachable server, nothing produced. Exit 1."""

    exit_code = 1


class UsageError(StepError):
    """A usage error: bad flag, missing flag, unknown command. Exit 2, before any write."""

    exit_code = 2


class WriteFailure(StepError):
    """A file could not be written (ENOSPC, EIO, EROFS...): fatal for the step, never a failed model.

    `path` is the file; a step that assembles its output in a staging folder reports the place
    the file was going to (`relocated`), which is what the user knows.
    """

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"cannot write {path}: {reason}")
        self.path = path
        self.reason = reason

    @classmethod
    def of(cls, failure: OSError, path: object = None) -> "WriteFailure":
        return cls(path if path is not None else (failure.filename or "?"), failure.strerror or str(failure))

    def relocated(self, public: object) -> "WriteFailure":
        return WriteFailure(public, self.reason)

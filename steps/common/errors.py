"""The two ways a step can fail, each with its exit status (workspace.md §1.4)."""


class StepError(Exception):
    """A runtime failure: bad input file, unreachable server, nothing produced. Exit 1."""

    exit_code = 1


class UsageError(StepError):
    """A usage error: bad flag, missing flag, unknown command. Exit 2, before any write."""

    exit_code = 2

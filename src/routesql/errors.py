"""Errors that the CLI reports as one clear line (file or key, then the problem)."""


class RouteSQLError(Exception):
    """A user-facing error: its message is printed on one line and the command exits with 2."""


class InputError(RouteSQLError):
    """Bad input: a missing or malformed file, an unknown key, a wrong type."""

    def __init__(self, where: object, problem: str) -> None:
        self.where = str(where)
        self.problem = problem
        super().__init__(f"{where}: {problem}")

"""Errors a user can cause, each carrying where it happened, a hint and Ansible's exit code."""

from __future__ import annotations

from dataclasses import dataclass

# Exit codes as ansible / ansible-playbook use them, so scripts written for Ansible keep working.
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_HOSTS_FAILED = 2
EXIT_HOSTS_UNREACHABLE = 4
EXIT_PARSER_ERROR = 4
EXIT_BAD_OPTIONS = 5
EXIT_INTERRUPTED = 99
EXIT_UNEXPECTED = 250


@dataclass(frozen=True)
class Location:
    """Where in a user's file a problem is; line and column are 1-based, 0 when unknown."""

    path: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        text = self.path
        if self.line:
            text += f":{self.line}"
            if self.column:
                text += f":{self.column}"
        return text


class OrchestrError(Exception):
    """An error meant for the operator: rendered as one line, never as a traceback."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str, *, hint: str = "", location: Location | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.location = location

    def one_line(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.hint:
            text += f" (hint: {self.hint})"
        return text.replace("\n", " ")

    def lines(self) -> list[str]:
        """What the CLI prints, one `ERROR:` line each."""
        return [self.one_line()]


class ParseError(OrchestrError):
    """Bad input file: inventory, playbook, template."""

    exit_code = EXIT_PARSER_ERROR


class ParseErrors(ParseError):
    """Every problem found in the input at once, so the operator fixes them in one go."""

    def __init__(self, errors: list[ParseError]):
        super().__init__(f"{len(errors)} errors", location=None)
        self.errors = errors

    def lines(self) -> list[str]:
        return [error.one_line() for error in self.errors]


class OptionsError(OrchestrError):
    """Bad or contradictory command-line options."""

    exit_code = EXIT_BAD_OPTIONS


class EnvironmentProblem(OrchestrError):
    """The controller machine lacks something orchestr needs (dockerd not running, a lab not up)."""

    exit_code = EXIT_ERROR

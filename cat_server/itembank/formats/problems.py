"""BankFormatError: every problem of a bank file, each with its file, row and column."""

from __future__ import annotations

from dataclasses import dataclass

MAX_PROBLEMS = 50


@dataclass(frozen=True)
class BankFormatProblem:
    """One problem in a bank file; ``row`` and ``column`` are None when the whole file is meant.

    ``unit`` is how ``row`` is shown: "row" in CSV/XLSX (the header is row 1),
    "item" in JSON (1-based index in the item list).
    """

    file: str
    row: int | None
    column: str | None
    message: str
    unit: str = "row"

    def __post_init__(self):
        # A message may quote the file (a lone surrogate from JSON, say): keep it printable,
        # so the page and the terminal that show the problem list can always encode it.
        for field in ("file", "column", "message"):
            value = getattr(self, field)
            if isinstance(value, str):
                object.__setattr__(self, field, _printable(value))

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"{self.unit} {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}"


def _printable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class BankFormatError(ValueError):
    """A bank file that cannot be used as it is.

    ``errors`` holds the BankFormatProblem list (at most MAX_PROBLEMS);
    ``n_problems`` counts them all. ``str(e)`` lists them, one a line.
    """

    def __init__(self, errors: list[BankFormatProblem], n_problems: int | None = None):
        self.errors = list(errors)
        self.n_problems = len(self.errors) if n_problems is None else n_problems
        lines = [str(p) for p in self.errors]
        if self.n_problems > len(self.errors):
            lines.append(f"... and {self.n_problems - len(self.errors)} more problems")
        super().__init__("\n".join(lines))


class Problems:
    """Collects problems for one file; raises them all at the end."""

    def __init__(self, file: str, unit: str = "row"):
        self.file = file
        self.unit = unit
        self.errors: list[BankFormatProblem] = []
        self.count = 0

    def add(self, row: int | None, column: str | None, message: str) -> None:
        self.count += 1
        if len(self.errors) < MAX_PROBLEMS:
            self.errors.append(BankFormatProblem(self.file, row, column, message, self.unit))

    def fail(self, message: str) -> BankFormatError:
        """A problem with the whole file that stops reading at once."""
        self.add(None, None, message)
        return self.error()

    def error(self) -> BankFormatError:
        return BankFormatError(self.errors, self.count)

    def raise_if_any(self) -> None:
        if self.count:
            raise self.error()

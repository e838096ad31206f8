"""`python -m labkit.classroom.exercises`: rewrite the exercise table in README.md (between its two markers)
from the declarations, `readme_table()`. tests/test_exercises.py fails when the README's table is stale."""

from __future__ import annotations

from pathlib import Path

from labkit.classroom.exercises import readme_table
from labkit.core.paths import REPO_DIR

BEGIN = ("<!-- exercises:begin (written by `python -m labkit.classroom.exercises` from "
         "labkit/classroom/exercises/nbNN.py) -->")
END = "<!-- exercises:end -->"
README = REPO_DIR / "README.md"


def with_table(text: str) -> str:
    """`text` with what stands between BEGIN and END replaced by the generated table; ValueError without them."""
    head, begin, rest = text.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not (begin and end):
        raise ValueError(f"the README needs the lines {BEGIN!r} and {END!r} around the exercise table")
    return f"{head}{BEGIN}\n{readme_table()}\n{END}{tail}"


def main(readme: Path = README) -> None:
    """Rewrite the table in `readme`, and say whether it changed."""
    text = readme.read_text()
    new = with_table(text)
    if new != text:
        readme.write_text(new)
    print(f"{readme}: the exercise table {'was rewritten' if new != text else 'is up to date'}")


if __name__ == "__main__":
    main()

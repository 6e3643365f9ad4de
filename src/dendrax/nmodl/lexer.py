"""NMODL text as tokens: names, numbers, operators and braces, each with its line."""

from __future__ import annotations

import re
from dataclasses import dataclass


class ModError(ValueError):
    """A .mod file dendrax cannot read, with the file and line."""

    def __init__(self, source: str, line: int, message: str):
        super().__init__(f"{source}, line {line}: {message}")


@dataclass(frozen=True)
class Token:
    kind: str
    """"name", "number", "string", "prime" (a state's derivative, `m'`), "op" or "end"."""
    text: str
    line: int


_TOKEN = re.compile(
    r"""
    (?P<string>"[^"]*")
    |(?P<number>(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)
    |(?P<prime>[A-Za-z_][A-Za-z_0-9]*')
    |(?P<name>[A-Za-z_][A-Za-z_0-9]*)
    |(?P<op><->|<<|==|!=|<=|>=|&&|\|\||[-+*/^(){}<>=,!~\[\]:])
    """,
    re.VERBOSE,
)

_VERBATIM = re.compile(r"\bVERBATIM\b")
RETURN_0 = "return 0;"
"""The one VERBATIM text read: a PROCEDURE's `return 0;` (older NEURON needed it for a
SOLVEd PROCEDURE; the parser accepts it as a PROCEDURE's last statement, where NEURON's
generated C returns 0 anyway)."""


def tokens(text: str, source: str) -> list[Token]:
    """The tokens of `text`, without comments (`:` and `?` to the end of a line, COMMENT
    ... ENDCOMMENT) and TITLE lines. A VERBATIM block (C code) is a ModError at its line,
    before its C text is read as NMODL, unless its text is `return 0;` alone (a token of
    kind "verbatim" then, which the parser places)."""
    found = []
    in_comment = False
    lines = text.splitlines()
    skip_to = 0
    for number, line in enumerate(lines, start=1):
        if number <= skip_to:
            continue
        stripped = line.strip()
        if in_comment:
            in_comment = not stripped.startswith("ENDCOMMENT")
            continue
        if stripped.startswith("COMMENT"):
            in_comment = True
            continue
        if stripped.startswith("TITLE"):
            continue
        if _VERBATIM.search(_without_comment(line)):  # C code: its text is not NMODL's
            end = _verbatim_return(lines, number)
            if end is None:
                raise ModError(
                    source, number, "VERBATIM C code is not supported by dendrax's NMODL import"
                )
            found.append(Token("verbatim", RETURN_0, number))
            skip_to = end
            continue
        line = _without_comment(line)
        position = 0
        while position < len(line):
            if line[position].isspace():
                position += 1
                continue
            match = _TOKEN.match(line, position)
            if match is None:
                raise ModError(source, number, f"unexpected character {line[position]!r}")
            kind = match.lastgroup
            found.append(Token(kind, match.group(), number))
            position = match.end()
    last = found[-1].line if found else 1
    found.append(Token("end", "", last))
    return found


def _without_comment(line: str) -> str:
    """The line up to a `:` or `?` comment (not one inside a string)."""
    inside = False
    for position, character in enumerate(line):
        if character == '"':
            inside = not inside
        elif character in ":?" and not inside:
            return line[:position]
    return line


def _verbatim_return(lines: list[str], number: int) -> int | None:
    """The line number of ENDVERBATIM where the VERBATIM block on line `number` (1-based)
    stands on lines of its own and holds `return 0;` alone; None otherwise."""
    if lines[number - 1].strip() != "VERBATIM":
        return None
    body = []
    for end in range(number + 1, len(lines) + 1):
        if lines[end - 1].strip() == "ENDVERBATIM":
            return end if " ".join(body) == RETURN_0 else None
        if lines[end - 1].strip():
            body.append(lines[end - 1].strip())
    return None

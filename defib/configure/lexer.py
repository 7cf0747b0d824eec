"""Split configure text into statements of located tokens.

A statement is one logical line: physical lines ending in a backslash continue it. A line whose
first non-blank character is ``#`` is a comment, unless it continues a statement (``#uname`` is an
attribute name there). Quotes group words and are removed; ``quoted`` remembers that they
were there.
"""

from __future__ import annotations

from dataclasses import dataclass

from defib.configure.report import Location, Problem


@dataclass(frozen=True)
class Token:
    text: str
    line: int
    column: int
    quoted: bool = False

    @property
    def location(self) -> Location:
        return Location(self.line, self.column)


@dataclass(frozen=True)
class Statement:
    tokens: tuple[Token, ...]
    line: int
    text: str


def split_statements(text: str) -> tuple[list[Statement], list[Problem]]:
    """Return the statements of ``text`` and problems such as an unterminated quote."""
    statements: list[Statement] = []
    problems: list[Problem] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        start = index
        stripped = lines[index].strip()
        if not stripped or stripped.startswith("#"):
            index += 1
            continue
        parts: list[tuple[int, str]] = []
        while True:
            raw = lines[index]
            continued = raw.rstrip().endswith("\\") and not raw.rstrip().endswith("\\\\")
            body = raw.rstrip()[:-1] if continued else raw
            parts.append((index + 1, body))
            index += 1
            if not continued or index >= len(lines):
                break
        tokens, problem = _tokenize(parts)
        if problem is not None:
            problems.append(problem)  # the statement is not read at all
        elif tokens:
            joined = " ".join(body.strip() for _, body in parts)
            statements.append(Statement(tuple(tokens), start + 1, joined))
    return statements, problems


def _tokenize(parts: list[tuple[int, str]]) -> tuple[list[Token], Problem | None]:
    tokens: list[Token] = []
    for lineno, body in parts:
        pos = 0
        n = len(body)
        while pos < n:
            if body[pos].isspace():
                pos += 1
                continue
            start = pos
            chars: list[str] = []
            quoted = False
            while pos < n and not body[pos].isspace():
                ch = body[pos]
                if ch in "\"'":
                    quoted = True
                    end = pos + 1
                    while end < n and body[end] != ch:
                        if ch == '"' and body[end] == "\\" and end + 1 < n:
                            end += 1
                        chars.append(body[end])
                        end += 1
                    if end >= n:
                        return tokens, Problem(
                            "syntax", "unterminated quote", Location(lineno, pos + 1)
                        )
                    pos = end + 1
                    continue
                chars.append(ch)
                pos += 1
            tokens.append(Token("".join(chars), lineno, start + 1, quoted))
    return tokens, None

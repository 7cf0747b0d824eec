"""Configure fuzz: mutated scripts of the configure language against a CIB file.

The statements are crmsh's own regression scripts (../shared/crmsh-cases) and the
``defib configure`` lines of defib's docs. A script is 1-4 of them, each mutated 0-3 times
at the token level (a typo, a token dropped, doubled, swapped, replaced by another of the
corpus or by a hostile one: huge and non-finite numbers, quotes, backslashes, control
characters, unbalanced brackets, empty values), and run by ``apply_script`` on a CIB file
holding a small configuration. A script passes when it is applied, or refused with every
error located (line and column) and the file byte for byte unchanged; anything raised is a
crash. ``save``/``load`` statements (files named by the script) are left out.

Reproducible: script ``i`` of seed ``s`` depends on ``(s, i)`` alone.
"""

from __future__ import annotations

import random
import re
import shlex
import traceback
from dataclasses import dataclass
from pathlib import Path

from defib.commands.env import FileEnv
from defib.configure.agents import LocalAgents
from defib.configure.commands import apply_script
from defib.configure.report import errors
from defib.errors import DefibError

SHARED = Path(__file__).resolve().parents[3] / "shared"
DOCS = Path(__file__).resolve().parents[2] / "docs"
BASE = """\
node node1
node node2
primitive vip ocf:heartbeat:IPaddr2 params ip=198.18.0.10 cidr_netmask=24 \\
    op monitor interval=10s timeout=20s
primitive db ocf:heartbeat:Dummy params state=/run/db.state meta target-role=Started
primitive fs ocf:heartbeat:Dummy
group web vip fs
clone cl-db db meta interleave=true
location loc-web web 100: node1
order o-web Mandatory: cl-db web
property stonith-enabled=false
"""
HOSTILE = ["", "=", ":", "::", "\\", "'", '"', "inf:", "-inf:", "INFINITY:", "1e999:",
           "99999999999999999999999", "-0", "nan", "NaN:", "1e308", "-1e999", "0x10",
           "$id-ref=", "@x", "params", "meta", "op", "rule", "#uname", "and", "or", "not",
           "(", ")", "[", "]", "{", "}", "\x01", "\x7f", "\u00fc\u00f1\u00ef", "a" * 300,
           "id=", "role=", "date", "gt", "in_range", "start=", "end=", "years=99999999999",
           "interval=-1s", "timeout=1e99", "P1Y2M99999999D", "node1", "cl-db", "web", "db",
           "x=y=z", "a:b:c:d", "ocf::", "stonith:", "<cib>", "&amp;", "]]>", "\t", ";"]
SKIP_WORDS = {"save", "load", "edit", "cd", "up", "end", "configure", "quit", "exit", "bye"}


def _statements(text: str) -> list[str]:
    out: list[str] = []
    for raw in re.sub(r"\\\n\s*", " ", text).splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "%", ".")):
            continue
        words = line.split()
        if words[0].lower() in SKIP_WORDS:
            continue
        out.append(line)
    return out


def corpus(shared: Path = SHARED, docs: Path = DOCS) -> list[str]:
    """Every statement of crmsh's scripts and of the docs' ``defib configure`` lines."""
    found: list[str] = []
    cases = shared / "crmsh-cases"
    for path in sorted(cases.iterdir()) if cases.is_dir() else []:
        if path.is_file() and "." not in path.name and path.name != "basicset":
            found += _statements(path.read_text(errors="replace"))
    for path in sorted(docs.glob("*.md")):
        for line in path.read_text().splitlines():
            _, sep, rest = line.partition("defib configure ")
            if not sep:
                continue
            try:
                words = shlex.split(rest.split("#", 1)[0])
            except ValueError:
                continue
            if words and not words[0].startswith("-") and words[0] not in SKIP_WORDS:
                found.append(" ".join(shlex.quote(w) for w in words))
    return list(dict.fromkeys(found))


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 2:
        return word + rng.choice("xz=:")
    i = rng.randrange(1, len(word))
    return rng.choice([
        word[:i - 1] + word[i] + word[i - 1] + word[i + 1:],
        word[:i] + word[i + 1:],
        word[:i] + word[i] * 2 + word[i + 1:],
        word[:i] + rng.choice("x\"'\\=:,;0 ") + word[i + 1:],
    ])


def mutate(rng: random.Random, statement: str, vocabulary: list[str]) -> str:
    tokens = statement.split(" ")
    i = rng.randrange(len(tokens))
    kind = rng.randrange(7)
    if kind == 0:
        tokens[i] = _typo(rng, tokens[i])
    elif kind == 1 and len(tokens) > 1:
        del tokens[i]
    elif kind == 2:
        tokens.insert(i, tokens[i])
    elif kind == 3 and i + 1 < len(tokens):
        tokens[i], tokens[i + 1] = tokens[i + 1], tokens[i]
    elif kind == 4:
        tokens[i] = rng.choice(vocabulary)
    elif kind == 5:
        tokens.insert(i, rng.choice(HOSTILE))
    else:
        tokens = tokens[:max(1, i)]
    return " ".join(tokens)


def script(seed: int, index: int, statements: list[str], vocabulary: list[str]) -> str:
    rng = random.Random(f"{seed}:{index}")
    lines = []
    for _ in range(rng.randint(1, 4)):
        line = rng.choice(statements)
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            line = mutate(rng, line, vocabulary)
        lines.append(line)
    text = "\n".join(lines)
    # Never a statement that reads or writes a file the script names.
    return "\n".join(x for x in text.split("\n")
                     if not x.strip() or x.split()[0].lower() not in SKIP_WORDS)


@dataclass
class Outcome:
    kind: str  # "applied", "refused", "crash", "unlocated", "changed"
    detail: str = ""


class Fuzzer:
    """Runs scripts on ``cib`` (a file it resets to the base configuration after each)."""

    def __init__(self, cib: Path, agents: LocalAgents | None = None) -> None:
        self.cib = cib
        self.agents = agents or LocalAgents()
        result = apply_script(FileEnv(cib, create=True), BASE, self.agents)
        if not result.ok:
            raise AssertionError([str(p) for p in result.problems])
        self.base = cib.read_bytes()
        self.statements = corpus()
        self.vocabulary = sorted({w for s in self.statements for w in s.split(" ")})

    def script(self, seed: int, index: int) -> str:
        return script(seed, index, self.statements, self.vocabulary)

    def run(self, text: str) -> Outcome:
        self.cib.write_bytes(self.base)
        try:
            result = apply_script(FileEnv(self.cib), text, self.agents)
        except DefibError as exc:
            outcome = Outcome("unlocated", f"raised {type(exc).__name__}: {exc}")
        except Exception:  # noqa: BLE001 - what the fuzz looks for
            return Outcome("crash", traceback.format_exc())
        else:
            errs = errors(list(result.problems))
            if result.ok:
                return Outcome("applied")
            unlocated = [str(e) for e in errs if e.location is None]
            outcome = Outcome("unlocated", "; ".join(unlocated)) if unlocated \
                else Outcome("refused")
        if self.cib.read_bytes() != self.base:
            return Outcome("changed", outcome.detail)
        return outcome

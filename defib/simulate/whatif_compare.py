"""Measuring ``defib simulate``'s what-if options against the reference ``crm_simulate``.

For a reference case, ``scenarios`` derives injections that make sense for its cluster (fail,
take down or bring up a node it has, flip quorum, grant or revoke the tickets its constraints
name, inject a monitor failure of a resource that runs, fail a start that the case performs).
``compare`` runs crm_simulate and defib (in this process, through the same option parser as the
command line) with the same options, and compares the whole output as Pacemaker's own test
runner does (white space and blank lines ignored). Two things differ by nature and are masked:
the clock time crm_simulate stamps injected failures with, and the number of the graph action
in "Pretending action N failed" (each scheduler numbers its graph's actions its own way).
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from defib.simulate.conformance import squeezed

_STAMP = re.compile(r"=\d{9,11}\b")
_PRETEND = re.compile(r"^Pretending action \d+ ")
_ACTION = re.compile(r"^\s*\* Resource action: (\S+)\s+(\S+) on (\S+)$")


def normalised(text: str) -> list[str]:
    return squeezed("\n".join(_PRETEND.sub("Pretending action N ", _STAMP.sub("=TS", line))
                              for line in text.splitlines()))


@dataclass(frozen=True)
class Scenario:
    kind: str  # what it exercises: node-fail, op-inject, ...
    options: tuple[str, ...]


def _online(state: ET.Element) -> bool:
    return state.get("in_ccm") == "true" and state.get("crmd") == "online"


def scenarios(xml: str | bytes, summary: str = "") -> list[Scenario]:
    """What-if scenarios for one case (``summary``: its reference output, for a start to fail)."""
    root = ET.fromstring(xml)
    nodes = [n.get("uname", "") for n in root.iterfind("configuration/nodes/node")
             if n.get("type") in (None, "member", "normal") and n.get("uname")]
    states = {s.get("uname"): s for s in root.iterfind("status/node_state")}
    online = [n for n in nodes if n in states and _online(states[n])]
    offline = [n for n in nodes if n not in online]
    out: list[Scenario] = []
    if online:
        out += [Scenario("node-fail", ("-f", online[0])),
                Scenario("node-down", ("-d", online[-1]))]
    if offline:
        out.append(Scenario("node-up", ("-u", offline[0])))
    quorate = root.get("have-quorum", "").lower() in ("1", "true", "yes")
    out.append(Scenario("quorum", ("-q", "0" if quorate else "1")))
    out.append(Scenario("watchdog", ("-w", "1")))
    tickets = sorted({t.get("ticket", "") for t in root.iter("rsc_ticket") if t.get("ticket")})
    for ticket in tickets[:1]:
        out += [Scenario("ticket-grant", ("-g", ticket)),
                Scenario("ticket-revoke", ("-r", ticket)),
                Scenario("ticket-standby", ("-b", ticket)),
                Scenario("ticket-activate", ("-e", ticket))]
    spec = _running_monitor(root, online)
    if spec is not None:
        out.append(Scenario("op-inject", ("-i", spec)))
        if online:
            out.append(Scenario("combined", ("-i", spec, "-u", online[0], "-q", "1")))
    for task in ("start", "stop"):
        for line in summary.splitlines():
            match = _ACTION.match(line)
            if match and match[2] == task:
                spec = f"{match[1]}_{task}_0@{match[3]}=1"
                out.append(Scenario(f"op-fail-{task}", ("-F", spec)))
                break
    return out


def _running_monitor(root: ET.Element, online: list[str]) -> str | None:
    """A configured recurring monitor of a primitive that last started successfully on an
    online node: ``rsc_monitor_INTERVAL@node=7`` (it found the resource stopped)."""
    intervals: dict[str, int] = {}
    for prim in root.iterfind(".//resources//primitive"):
        for op in prim.iterfind("operations/op"):
            ms = _interval_ms(op.get("interval", "0"))
            if op.get("name") == "monitor" and ms > 0 and op.get("role") in (None, "Started"):
                intervals.setdefault(prim.get("id", ""), ms)
                break
    for state in root.iterfind("status/node_state"):
        if state.get("uname") not in online:
            continue
        for entry in state.iter("lrm_resource"):
            base = entry.get("id", "").split(":", 1)[0]
            ops = sorted(entry.iter("lrm_rsc_op"), key=lambda o: int(o.get("call-id", "0")))
            last = [o for o in ops if o.get("interval", "0") == "0"][-1:]
            if (base in intervals and last and last[0].get("operation") == "start"
                    and last[0].get("rc-code") == "0"):
                return f"{entry.get('id')}_monitor_{intervals[base]}@{state.get('uname')}=7"
    return None


def _interval_ms(text: str) -> int:
    from defib.cib.timespec import parse_ms

    try:
        return parse_ms(text) or 0
    except (ValueError, TypeError):
        return 0


@dataclass(frozen=True)
class Outcome:
    case: str
    scenario: Scenario
    ok: bool
    detail: str = ""  # the first lines that differ


def reference(path: Path, options: list[str], timeout: float = 60) -> str:
    res = subprocess.run(["crm_simulate", "-x", str(path), *options], capture_output=True,
                         text=True, timeout=timeout, check=False)
    return res.stdout


def ours(path: Path, options: list[str]) -> str:
    from defib.cli.main import build_parser
    from defib.cli.simulate_cmd import injections_from
    from defib.scheduler.dates import parse_datetime
    from defib.simulate.whatif import run_what_if

    args = build_parser().parse_args(["simulate", "-x", str(path), *options])
    now = parse_datetime(args.set_datetime) if args.set_datetime else None
    clock = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    result = run_what_if(path.read_bytes(), injections_from(args), now, clock,
                         int(time.time()), run=args.run, execute=args.simulate,
                         scores=args.show_scores, quiet=args.quiet,
                         date_text=args.set_datetime)
    return "\n".join(result.lines) + "\n"


def compare(case: str, path: Path, scenario: Scenario, datetime: str | None = None
            ) -> Outcome:
    options = ["-S", *scenario.options] + (["-t", datetime] if datetime else [])
    want = normalised(reference(path, options))
    try:
        got = normalised(ours(path, options))
    except Exception as exc:  # noqa: BLE001 - a crash is a mismatch to report, not to raise
        return Outcome(case, scenario, False, f"defib raised {type(exc).__name__}: {exc}")
    if want == got:
        return Outcome(case, scenario, True)
    first = next((i for i, (a, b) in enumerate(zip(want, got, strict=False)) if a != b),
                 min(len(want), len(got)))
    detail = (f"line {first}: want {want[first] if first < len(want) else '<end>'!r}, "
              f"got {got[first] if first < len(got) else '<end>'!r}")
    return Outcome(case, scenario, False, detail)


def case_jobs(cases_dir: Path, names: list[str]) -> list[tuple[str, Path, Scenario, str | None]]:
    """(case, CIB file, scenario, date/time) for every scenario of the named cases."""
    dates = {}
    for line in (cases_dir / "cases.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        fields = line.split("\t")
        if len(fields) >= 3 and fields[2]:
            dates[fields[0]] = fields[2]
    jobs = []
    for name in names:
        path = cases_dir / "xml" / f"{name}.xml"
        summary = cases_dir / "summary" / f"{name}.summary"
        text = summary.read_text(encoding="utf-8") if summary.is_file() else ""
        jobs += [(name, path, s, dates.get(name)) for s in scenarios(path.read_bytes(), text)]
    return jobs


def rates(outcomes: list[Outcome]) -> dict[str, tuple[int, int]]:
    """kind -> (matching, total)."""
    out: dict[str, tuple[int, int]] = {}
    for o in outcomes:
        ok, total = out.get(o.scenario.kind, (0, 0))
        out[o.scenario.kind] = (ok + o.ok, total + 1)
    return dict(sorted(out.items()))


def report(outcomes: list[Outcome]) -> str:
    lines = [f"  {kind:<16} {ok:>4}/{total:<4} ({100 * ok / total:5.1f} %)"
             for kind, (ok, total) in rates(outcomes).items()]
    ok = sum(o.ok for o in outcomes)
    lines.append(f"  {'all':<16} {ok:>4}/{len(outcomes):<4} "
                 f"({100 * ok / max(1, len(outcomes)):5.1f} %)")
    lines += [f"  differs: {o.case} {' '.join(o.scenario.options)}: {o.detail}"
              for o in outcomes if not o.ok]
    return "\n".join(lines)

"""Unfencing: nodes never unfenced are fenced "on" before they probe or start what needs it."""

from __future__ import annotations

from defib.cib.parse import parse_cib
from defib.scheduler import schedule
from tests.unit.test_scheduler_core import DUMMY, NODE_STATE

FENCE = ('<primitive id="scsi" class="stonith" type="fence_scsi"><meta_attributes id="m">'
         '<nvpair id="m1" name="provides" value="unfencing"/></meta_attributes></primitive>')


def _cib(unfenced: tuple[str, ...], fence: str = FENCE) -> str:
    nodes = "".join(f'<node id="{n}" uname="{n}"/>' for n in ("n1", "n2"))
    states = ""
    for n in ("n1", "n2"):
        attrs = (f'<transient_attributes id="{n}"><instance_attributes id="t{n}">'
                 f'<nvpair id="u{n}" name="#node-unfenced" value="1234"/>'
                 f'</instance_attributes></transient_attributes>') if n in unfenced else ""
        states += NODE_STATE.format(n=n, lrm=attrs)
    return ('<cib have-quorum="true" epoch="1"><configuration><crm_config/>'
            f'<nodes>{nodes}</nodes><resources>{fence}{DUMMY.format(r="d")}</resources>'
            f'<constraints/></configuration><status>{states}</status></cib>')


def _fences(summary: list[str]) -> list[str]:
    return [line.strip() for line in summary if "Fence (on)" in line]


def test_a_node_never_unfenced_is_unfenced_before_its_first_probe() -> None:
    t = schedule(parse_cib(_cib(unfenced=("n1",))))
    assert _fences(t.summary) == ["* Fence (on) n2 'required by scsi monitor'"]
    unfence = next(a for a in t.actions.actions if a.uuid == "stonith-n2-on")
    probes = [a for a in t.actions.actions
              if a.node is not None and a.node.uname == "n2" and "probe" in a.extra]
    assert probes and all(any(f is unfence for f, _ in p.before) for p in probes)


def test_no_unfencing_once_every_node_was_unfenced() -> None:
    assert _fences(schedule(parse_cib(_cib(unfenced=("n1", "n2")))).summary) == []


def test_no_unfencing_without_a_device_that_provides_it() -> None:
    plain = FENCE.replace("unfencing", "nothing-special")
    assert _fences(schedule(parse_cib(_cib(unfenced=(), fence=plain))).summary) == []

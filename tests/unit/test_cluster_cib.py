from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from defib.cluster.cibstore import KEEP_BACKUPS, CibStore, render, verify
from defib.cluster.cibxml import EMPTY_CIB, CibCopy, apply_change
from defib.errors import CibConflictError, CibParseError

LOG = logging.LoggerAdapter(logging.getLogger("test"), {"node": "t"})
RES = '<resources><primitive id="a" class="ocf" provider="heartbeat" type="Dummy"/></resources>'


def test_config_change_bumps_epoch_status_change_bumps_num_updates() -> None:
    cib = CibCopy.of(EMPTY_CIB)
    cib = apply_change(cib, {"op": "patch_status", "xml": '<node_state id="1" uname="n1"/>'})
    assert cib.version == (0, 0, 1)
    cib = apply_change(cib, {"op": "replace_section", "section": "resources", "xml": RES})
    assert cib.version == (0, 1, 0) and 'id="a"' in cib.xml
    cib = apply_change(cib, {"op": "patch_status", "xml": '<node_state id="1" uname="n1" x="2"/>'})
    assert cib.version == (0, 1, 1) and cib.xml.count("<node_state") == 1 and 'x="2"' in cib.xml


def test_replace_keeps_versions_moving_forward() -> None:
    cib = CibCopy.of(EMPTY_CIB.replace(' epoch="0"', ' epoch="5"'))
    older = EMPTY_CIB.replace(' epoch="0"', ' epoch="2"')
    assert apply_change(cib, {"op": "replace", "xml": older}).version == (0, 6, 0)
    admin = EMPTY_CIB.replace('admin_epoch="0"', 'admin_epoch="3"')
    assert apply_change(cib, {"op": "replace", "xml": admin}).version == (3, 0, 0)


@pytest.mark.parametrize(
    "change",
    [
        {"op": "replace", "xml": "<cib"},
        {"op": "replace", "xml": "<notcib/>"},
        {"op": "replace_section", "section": "bogus", "xml": "<bogus/>"},
        {"op": "replace_section", "section": "resources", "xml": "<constraints/>"},
        {"op": "patch_status", "xml": "<node_state/>"},
        {"op": "explode"},
    ],
)
def test_bad_changes_raise(change: dict) -> None:
    with pytest.raises(CibParseError):
        apply_change(CibCopy.of(EMPTY_CIB), change)


def test_trailer_detects_truncation_and_alteration() -> None:
    data = render(CibCopy.of(EMPTY_CIB))
    assert verify(data).version == (0, 0, 0)
    with pytest.raises(CibParseError, match="trailer missing"):
        verify(data[:-10])
    with pytest.raises(CibParseError, match="checksum mismatch"):
        verify(data.replace(b'epoch="0"', b'epoch="9"', 1))


def test_store_keeps_bounded_backups_and_falls_back_loudly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = CibStore(tmp_path, LOG)
    cib = CibCopy.of(EMPTY_CIB)
    for i in range(KEEP_BACKUPS + 5):
        cib = apply_change(cib, {"op": "patch_status", "xml": f'<node_state id="1" n="{i}"/>'})
        store.save(cib)
    assert len(list((tmp_path / "cib-backups").glob("cib-*.xml"))) == KEEP_BACKUPS
    assert store.load().copy == cib
    store.path.write_bytes(store.path.read_bytes()[:100])
    with caplog.at_level(logging.ERROR):
        report = store.load()
    assert report.copy is not None and report.copy.version == (0, 0, cib.version[2] - 1)
    assert "CORRUPT CIB COPY" in caplog.text and "USING BACKUP" in caplog.text
    assert not store.path.exists() and list(tmp_path.glob("cib.xml.corrupt-*"))
    store.save(report.copy)
    assert store.load().source == store.path


def test_store_with_nothing_valid_reports_no_copy(tmp_path: Path) -> None:
    (tmp_path / "cib.xml").write_text("<cib/>")
    report = CibStore(tmp_path, LOG).load()
    assert report.copy is None and report.problems


def test_status_update_replaces_one_entry_in_place_and_leaves_the_old_copy_alone() -> None:
    base = apply_change(CibCopy.of(EMPTY_CIB), {"op": "patch_status", "xml": (
        '<node_state id="1" uname="n1" in_ccm="true"><lrm id="1"><lrm_resources>'
        '<lrm_resource id="a"><lrm_rsc_op id="a_start_0" rc-code="0"/></lrm_resource>'
        '<lrm_resource id="b"/></lrm_resources></lrm></node_state>')})
    before = base.xml
    new = apply_change(base, {"op": "update_status", "updates": [
        {"id": "1", "uname": "n1", "lrm_resource": '<lrm_resource id="a"><lrm_rsc_op'
         ' id="a_stop_0" rc-code="0"/></lrm_resource>'},
        {"id": "2", "uname": "n2", "lrm_resource": '<lrm_resource id="c"/>'},
        {"id": "1", "uname": "n1", "child": '<transient_attributes id="1"/>'},
    ]})
    assert new.version == (0, 0, 2) and base.xml == before  # copy-on-write
    root = ET.fromstring(new.xml)
    n1 = root.find("status/node_state[@id='1']")
    assert n1 is not None and n1.get("in_ccm") == "true"
    assert [c.tag for c in n1] == ["transient_attributes", "lrm"]
    assert [e.get("id") for e in n1.iter("lrm_resource")] == ["a", "b"]
    assert [o.get("id") for o in n1.iter("lrm_rsc_op")] == ["a_stop_0"]
    n2 = root.find("status/node_state[@id='2']")
    assert n2 is not None and n2.get("uname") == "n2"
    assert [e.get("id") for e in n2.iter("lrm_resource")] == ["c"]
    # Replayed from the same base by another member, the same change gives the same text.
    again = apply_change(CibCopy.of(base.xml), {"op": "update_status", "updates": [
        {"id": "1", "uname": "n1", "lrm_resource": '<lrm_resource id="a"><lrm_rsc_op'
         ' id="a_stop_0" rc-code="0"/></lrm_resource>'},
        {"id": "2", "uname": "n2", "lrm_resource": '<lrm_resource id="c"/>'},
        {"id": "1", "uname": "n1", "child": '<transient_attributes id="1"/>'},
    ]})
    assert again.xml == new.xml and again.digest == new.digest


def test_change_with_a_stale_base_is_a_conflict() -> None:
    cib = apply_change(CibCopy.of(EMPTY_CIB), {"op": "replace_section", "section": "resources",
                                               "xml": RES, "base": [0, 0]})
    with pytest.raises(CibConflictError, match=r"read at 0\.0, now 0\.1"):
        apply_change(cib, {"op": "replace_section", "section": "resources", "xml": RES,
                           "base": [0, 0]})
    with pytest.raises(CibParseError, match="bad base"):
        apply_change(cib, {"op": "replace", "xml": EMPTY_CIB, "base": "x"})


def test_ticket_states_replace_the_tickets_of_the_status_only() -> None:
    base = CibCopy(EMPTY_CIB, (0, 3, 7))
    tickets = '<tickets><ticket_state id="site-a" granted="true"/></tickets>'
    new = apply_change(base, {"op": "replace_tickets", "xml": tickets})
    assert new.version == (0, 3, 8)  # a status change: num_updates only
    states = new.root.findall("status/tickets/ticket_state")
    assert [(t.get("id"), t.get("granted")) for t in states] == [("site-a", "true")]
    assert base.root.find("status/tickets") is None  # the old copy is untouched
    with pytest.raises(CibParseError):
        apply_change(base, {"op": "replace_tickets", "xml": "<nodes/>"})

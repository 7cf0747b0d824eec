"""Recording results in the CIB status as Pacemaker's controller does (pure XML)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from defib.cib.digest import DigestPolicy, ParamInfo, op_digest
from defib.executor import (
    ExecStatus,
    OcfRc,
    Operation,
    OpResult,
    ResourceInfo,
    forget_resource,
    record_op,
    record_pending,
)

RSC = ResourceInfo("web", "ocf", "Dummy", "heartbeat")
TK = "12:3:{}:5b7a9f0e-0000-4000-8000-000000000001"
POLICY = DigestPolicy((ParamInfo("state", unique=True), ParamInfo("fake"),
                       ParamInfo("passwd", private=True)), supports_legacy_reload=True)


def node_state() -> ET.Element:
    return ET.Element("node_state", {"id": "2", "uname": "n2"})


def result(action: str, interval: int = 0, rc: int = 0, target: int = 0,
           status: ExecStatus = ExecStatus.DONE, call_id: int = 7, **kw: object) -> OpResult:
    op = Operation(RSC, action, interval, 20000, {"fake": "x", "passwd": "s3cret"},
                   transition_key=TK.format(target))
    return OpResult(op, rc, status, call_id=call_id, started=1700000000.4, exec_ms=12,
                    queue_ms=1, **kw)  # type: ignore[arg-type]


def ops(ns: ET.Element) -> dict[str, ET.Element]:
    return {el.get("id", ""): el for el in ns.iter("lrm_rsc_op")}


def test_entry_layout_and_attributes() -> None:
    ns = node_state()
    [el] = record_op(ns, RSC, result("start"), policy=POLICY)
    lrm = ns.find("lrm")
    assert lrm is not None and lrm.get("id") == "2"
    rsc_el = ns.find("lrm/lrm_resources/lrm_resource")
    assert rsc_el is not None
    assert rsc_el.attrib == {"id": "web", "type": "Dummy", "class": "ocf",
                             "provider": "heartbeat"}
    assert list(el.attrib) == [
        "id", "operation_key", "operation", "crm-debug-origin", "crm_feature_set",
        "transition-key", "transition-magic", "exit-reason", "on_node", "call-id", "rc-code",
        "op-status", "interval", "last-rc-change", "exec-time", "queue-time", "op-digest",
        "op-force-restart", "op-restart-digest", "op-secure-params", "op-secure-digest"]
    assert el.get("id") == "web_last_0"
    assert el.get("operation_key") == "web_start_0"
    assert el.get("crm_feature_set") == "3.16.2"
    assert el.get("transition-magic") == "0:0;" + TK.format(0)
    assert el.get("on_node") == "n2"
    assert (el.get("call-id"), el.get("rc-code"), el.get("op-status")) == ("7", "0", "0")
    assert el.get("last-rc-change") == "1700000000"
    assert (el.get("exec-time"), el.get("queue-time")) == ("12", "1")
    assert el.get("op-digest") == op_digest({"fake": "x", "passwd": "s3cret"})
    assert el.get("op-force-restart") == "  state  "
    assert el.get("op-restart-digest") == op_digest({})
    assert el.get("op-secure-params") == "  passwd  "
    assert el.get("op-secure-digest") == op_digest({"fake": "x"})


def test_latest_only_failures_and_recurring() -> None:
    ns = node_state()
    record_op(ns, RSC, result("monitor", rc=7, target=7, call_id=1))
    record_op(ns, RSC, result("start", call_id=2))
    assert ops(ns)["web_last_0"].get("operation") == "start"
    record_op(ns, RSC, result("monitor", 10000, call_id=3))
    assert set(ops(ns)) == {"web_last_0", "web_monitor_10000"}
    # A failed recurring monitor: last_failure only; the monitor's own entry stays.
    record_op(ns, RSC, result("monitor", 10000, rc=7, call_id=4, exit_reason="gone"))
    assert set(ops(ns)) == {"web_last_0", "web_monitor_10000", "web_last_failure_0"}
    failure = ops(ns)["web_last_failure_0"]
    assert failure.get("operation_key") == "web_monitor_10000"
    assert failure.get("exit-reason") == "gone"
    assert ops(ns)["web_monitor_10000"].get("rc-code") == "0"
    # A stop cancels the recurring monitor: its entry goes.
    record_op(ns, RSC, result("stop", call_id=5))
    assert set(ops(ns)) == {"web_last_0", "web_last_failure_0"}
    # A failed start: both last_failure and last.
    record_op(ns, RSC, result("start", rc=1, call_id=6, exit_reason="boom"))
    assert ops(ns)["web_last_0"].get("rc-code") == "1"
    assert ops(ns)["web_last_failure_0"].get("operation") == "start"
    assert len(list(ns.iter("lrm_resource"))) == 1
    assert forget_resource(ns, "web") and list(ns.iter("lrm_resource")) == []


def test_timeout_magic_and_fake_transition_key() -> None:
    ns = node_state()
    op = Operation(RSC, "start", timeout_ms=1000)
    res = OpResult(op, int(OcfRc.UNKNOWN_ERROR), ExecStatus.TIMEOUT, "timed out", call_id=9,
                   started=1.0)
    record_op(ns, RSC, res)
    el = ops(ns)["web_last_failure_0"]
    key = "9:-1:0:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
    assert el.get("transition-key") == key
    assert el.get("transition-magic") == "2:1;" + key
    assert (el.get("rc-code"), el.get("op-status")) == ("1", "2")


def test_probe_found_stopped_is_not_a_failure_and_pending() -> None:
    ns = node_state()
    record_op(ns, RSC, result("monitor", rc=7, target=7))
    assert set(ops(ns)) == {"web_last_0"}
    record_pending(ns, RSC, Operation(RSC, "start", transition_key=TK.format(0)), 5.0)
    el = ops(ns)["web_last_0"]
    assert (el.get("call-id"), el.get("rc-code"), el.get("op-status")) == ("-1", "193", "-1")
    assert el.get("transition-magic") == "-1:193;" + TK.format(0)


def test_reload_is_recorded_as_start_and_cancel_removes() -> None:
    ns = node_state()
    record_op(ns, RSC, result("reload"))
    assert ops(ns)["web_last_0"].get("operation") == "start"
    record_op(ns, RSC, result("monitor", 5000))
    record_op(ns, RSC, result("monitor", 5000, status=ExecStatus.CANCELLED))
    assert "web_monitor_5000" not in ops(ns)


def test_operation_from_graph_attributes_round_trips() -> None:
    attrs = {"CRM_meta_interval": "10000", "CRM_meta_timeout": "30000",
             "CRM_meta_name": "monitor", "CRM_meta_on_node": "n2", "fake": "x",
             "crm_feature_set": "3.16.2"}
    op = Operation.from_attributes(RSC, "monitor", attrs, TK.format(0))
    assert (op.interval_ms, op.timeout_ms, op.target_rc) == (10000, 30000, 0)
    assert op.meta == {"on_node": "n2"}
    assert op.params == {"fake": "x", "crm_feature_set": "3.16.2"}
    assert op.all_params() == attrs
    assert op.key == "web_monitor_10000"
    assert op_digest(op.all_params()) == op_digest({"fake": "x"}, 10000, 30000)

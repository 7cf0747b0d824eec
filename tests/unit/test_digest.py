"""The digest text format and filtering (the case-based proof is test_digest_cases.py)."""

from __future__ import annotations

import hashlib

from defib.cib.digest import (
    DigestPolicy,
    ParamInfo,
    canonical_text,
    escape_value,
    filter_for_digest,
    op_digest,
    restart_digest,
    secure_digest,
)


def test_known_values() -> None:
    # Values seen in Pacemaker's own CIBs: no parameters; a recurring op with a 20 s timeout.
    assert op_digest({}) == "f2317cad3d54cec5d7d7aa7d0bf35cf8"
    assert op_digest({}, interval_ms=60000, timeout_ms=20000) == \
        "4811cef7f7f94e3a35a70be7916cb2fd"


def test_canonical_text_sorts_and_escapes() -> None:
    text = canonical_text({"b": "2", "a": 'x"<&>\'', "B": "\t\n"})
    assert text == ' <parameters B="    \\n" a="x&quot;&lt;&amp;&gt;&apos;" b="2"/>\n'
    assert escape_value("caf\u00e9") == "caf\u00e9"
    assert escape_value("\x01") == "\\001"


def test_filter() -> None:
    params = {"ip": "1", "CRM_meta_timeout": "20000", "CRM_meta_interval": "0",
              "CRM_meta_name": "start", "crm_feature_set": "3.16.2", "pcmk_external_ip": "x",
              "on_node": "n1"}
    assert filter_for_digest(params) == {"ip": "1"}
    params["CRM_meta_interval"] = "10000"
    assert filter_for_digest(params) == {"ip": "1", "CRM_meta_timeout": "20000"}
    assert op_digest(params) == op_digest({"ip": "1"}, 10000, 20000)
    assert op_digest({"ip": "1"}, 0, 20000) == op_digest({"ip": "1"})
    raw = ' <parameters CRM_meta_timeout="20000" ip="1"/>\n'
    assert op_digest(params) == hashlib.md5(raw.encode()).hexdigest()


def test_restart_and_secure() -> None:
    policy = DigestPolicy((ParamInfo("a", unique=True), ParamInfo("b", reloadable=True),
                           ParamInfo("pw", private=True)), supports_reload_agent=True)
    params = {"a": "1", "b": "2", "pw": "x", "CRM_meta_timeout": "5000"}
    names, digest = restart_digest(params, policy)  # type: ignore[misc]
    assert names == "  a pw  "
    assert digest == op_digest({"a": "1", "pw": "x"})
    assert restart_digest(params, policy, interval_ms=10000) is None
    legacy = DigestPolicy(policy.params, supports_legacy_reload=True)
    assert restart_digest(params, legacy) == ("  a  ", op_digest({"a": "1"}))
    assert restart_digest(params, DigestPolicy(policy.params)) is None
    secure = secure_digest(params, policy, interval_ms=10000, timeout_ms=5000)
    assert secure == ("  pw  ", op_digest({"a": "1", "b": "2"}, 10000, 5000))
    assert secure_digest(params, DigestPolicy((ParamInfo("a"),))) is None

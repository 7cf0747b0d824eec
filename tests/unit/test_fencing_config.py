"""Fencing devices and topology read from a CIB."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from defib.fencing import LocalFencer, fencing_from_cib
from tests.unit.test_fencing_topology import FakeRunner

CASE = (Path(__file__).resolve().parents[2] / ".." / "shared" / "scheduler-cases" / "xml"
        / "dc-fence-ordering.xml")


def test_reads_a_pacemaker_cts_configuration() -> None:
    if not CASE.exists():
        pytest.skip(f"reference case not found at {CASE}")
    config = fencing_from_cib(ET.parse(CASE).getroot())
    by_id = {d.device_id: d for d in config.devices}
    assert set(by_id) == {"Fencing", "FencingPass", "FencingFail"}
    assert by_id["FencingPass"].agent == "fence_dummy"
    assert by_id["FencingPass"].host_list() == ["rhel7-5", "remote-rhel7-5"]
    assert by_id["FencingFail"].params["mode"] == "fail"
    assert [lv.index for lv in config.levels] == sorted(lv.index for lv in config.levels)
    attr_levels = [lv for lv in config.levels if lv.target_attribute]
    assert attr_levels[0].target_value == "levels-and"
    assert attr_levels[0].devices == ("FencingPass", "Fencing")
    # rhel7-5 carries cts-fencing=levels-and: its level is the attribute-selected one.
    fencer = LocalFencer(config.devices, config.levels, runner=FakeRunner(),
                         node_attributes={"rhel7-5": {"cts-fencing": "levels-and"}})
    assert [lv.devices for lv in fencer.levels_for("rhel7-5")] == [("FencingPass", "Fencing")]
    assert [lv.devices for lv in fencer.levels_for("rhel7-4")] == [("FencingFail",),
                                                                   ("Fencing",)]
    result = asyncio.run(fencer.fence("rhel7-4", "off"))
    assert result.ok and result.level == 1


def test_properties_and_rules() -> None:
    cib = ET.fromstring("""<cib><configuration>
      <crm_config><cluster_property_set id="o">
        <nvpair id="o1" name="stonith-timeout" value="90s"/>
        <nvpair id="o2" name="stonith-enabled" value="false"/>
      </cluster_property_set></crm_config>
      <resources><primitive id="f" class="stonith" type="fence_dummy">
        <instance_attributes id="r"><rule id="r-r" score="0"/>
          <nvpair id="r1" name="x" value="by-rule"/></instance_attributes>
        <instance_attributes id="p"><nvpair id="p1" name="x" value="plain"/></instance_attributes>
      </primitive></resources>
    </configuration></cib>""")
    config = fencing_from_cib(cib)
    assert config.timeout_s == 90 and not config.enabled
    assert config.devices[0].params == {"x": "plain"}
    assert config.levels == ()

"""Configure commands through the real ``defib`` CLI (subprocess) on a CIB file, plus imports."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from defib.commands.env import FileEnv
from defib.configure.commands import delete, load, rename, show
from defib.configure.heartbeat import convert

DEFIB = [sys.executable, "-m", "defib.cli.main"]


def run(cib: Path, *args: str, stdin: str | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ, CIB_file=str(cib), **(env or {}))
    return subprocess.run(DEFIB + list(args), input=stdin, capture_output=True, text=True,
                          env=full_env, timeout=60, check=False)


WEB = """\
node node1
node node2
primitive vip ocf:heartbeat:IPaddr2 params ip=198.18.0.10 cidr_netmask=24
primitive www ocf:heartbeat:apache params configfile=/etc/apache2/apache2.conf
colocation www-with-vip inf: www vip
order vip-before-www Mandatory: vip www
location www-prefers-node1 www 100: node1
"""


def test_cli_web_service_script_show_and_xml(tmp_path: Path) -> None:
    cib = tmp_path / "cib.xml"
    (tmp_path / "web.crm").write_text(WEB)
    r = run(cib, "configure", "-f", str(tmp_path / "web.crm"))
    assert r.returncode == 0, r.stderr
    shown = run(cib, "configure", "show", "www").stdout
    assert shown.startswith("primitive www apache \\\n\tparams configfile=/etc/apache2/apache2")
    assert "op monitor timeout=20s interval=10s" in shown  # default op from real metadata
    xml = run(cib, "configure", "show", "xml").stdout
    root = ET.fromstring(xml)
    order = root.find(".//rsc_order")
    assert order is not None and order.get("first") == "vip" and order.get("then") == "www"
    # As crm_verify: fencing is on by default and there is no fence device: nothing starts.
    r = run(cib, "configure", "verify")
    assert r.returncode == 1 and "stonith enabled without a device" in r.stderr
    assert run(cib, "configure", "property", "stonith-enabled=false").returncode == 0
    assert run(cib, "configure", "verify").returncode == 0


def test_cli_script_on_stdin(tmp_path: Path) -> None:
    cib = tmp_path / "cib.xml"
    r = run(cib, "configure", stdin="primitive a Dummy\nprimitive b Dummy\ngroup g a b\n")
    assert r.returncode == 0, r.stderr
    assert "group g a b" in run(cib, "configure", "show").stdout


def test_cli_one_shot_typo_is_refused_with_location(tmp_path: Path) -> None:
    cib = tmp_path / "cib.xml"
    assert run(cib, "configure", "primitive", "ip1", "ocf:heartbeat:IPaddr2", "params",
               "ip=198.18.0.10").returncode == 0
    before = cib.read_text()
    r = run(cib, "configure", "colocation", "c", "inf:", "ip1", "ipp2")
    assert r.returncode == 1
    assert "line 1, column 23: colocation c refers to missing resource 'ipp2'" in r.stderr
    assert "did you mean 'ip1'?" in r.stderr
    assert cib.read_text() == before


def test_cli_load_delete_rename(tmp_path: Path) -> None:
    cib = tmp_path / "cib.xml"
    script = tmp_path / "s.crm"
    script.write_text("primitive a Dummy\nprimitive b Dummy\ngroup g a b\n"
                      "location l g 100: node1\ntag t a\n")
    assert run(cib, "configure", "load", "replace", str(script)).returncode == 0
    r = run(cib, "configure", "rename", "g", "grp")
    assert r.returncode == 0 and "modified location:l from g to grp" in r.stdout
    assert "location l grp 100: node1" in run(cib, "configure", "show").stdout
    assert run(cib, "configure", "delete", "a").returncode == 0
    text = run(cib, "configure", "show").stdout
    assert "group grp b" in text and "tag" not in text.split("group")[0]
    # load update replaces same-id objects where they stand and keeps the rest
    script.write_text("primitive b Dummy params state=2\nprimitive c Dummy\n")
    assert run(cib, "configure", "load", "update", str(script)).returncode == 0
    text = run(cib, "configure", "show").stdout
    assert "primitive b Dummy \\\n\tparams state=2" in text
    assert "group grp b\n" in text and "location l grp 100: node1" in text
    assert "primitive c Dummy" in text


def test_cli_edit_with_editor(tmp_path: Path) -> None:
    cib = tmp_path / "cib.xml"
    assert run(cib, "configure", "primitive", "a", "Dummy").returncode == 0
    editor = tmp_path / "ed.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/primitive a Dummy/primitive a Dummy params "
                      "state=7/' \"$1\"\n")
    editor.chmod(0o755)
    r = run(cib, "configure", "edit", env={"EDITOR": str(editor)})
    assert r.returncode == 0, r.stderr
    assert "state=7" in run(cib, "configure", "show").stdout
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/bin/sh\necho 'colocaton x inf: a b' >> \"$1\"\n")
    bad.chmod(0o755)
    before = cib.read_text()
    r = run(cib, "configure", "edit", env={"EDITOR": str(bad)})
    assert r.returncode == 1 and "did you mean 'colocation'?" in r.stderr
    assert cib.read_text() == before


def test_rename_updates_references_and_derived_ids(tmp_path: Path) -> None:
    store = FileEnv(tmp_path / "cib.xml", create=True)
    assert load(store, "replace", "primitive p Dummy params x=1\nprimitive q Dummy\n"
                                  "order o p q\ncolocation c inf: ( p q )\n").ok
    assert rename(store, "p", "p2").ok
    text = show(store).output
    assert "primitive p2 Dummy \\\n\tparams x=1" in text
    assert "order o p2 q" in text and "( p2 q )" in text
    assert delete(store, ["q"]).ok
    assert "order" not in show(store).output


def test_cib_import_export(tmp_path: Path) -> None:
    cib = tmp_path / "cib.xml"
    src = tmp_path / "in.xml"
    src.write_text('<cib epoch="3"><configuration><crm_config/><nodes/><resources>'
                   '<primitive id="d" class="ocf" provider="heartbeat" type="Dummy"/>'
                   "</resources><constraints/></configuration><status/></cib>")
    assert run(cib, "cib", "import", str(src)).returncode == 0
    out = run(cib, "cib", "export").stdout
    assert ET.fromstring(out).find(".//primitive").get("id") == "d"
    dup = tmp_path / "dup.xml"
    dup.write_text('<cib><configuration><resources><primitive id="d" class="ocf" type="x"/>'
                   '<primitive id="d" class="ocf" type="y"/></resources></configuration></cib>')
    r = run(cib, "cib", "import", str(dup))
    assert r.returncode == 1 and "duplicate-id" not in r.stdout and "'d' is used 2" in r.stderr
    bad = tmp_path / "bad.xml"
    bad.write_text("<configuration/>")
    assert run(cib, "cib", "import", str(bad)).returncode == 1


HA_CF = "node alpha\nnode beta\nauto_failback on\nkeepalive 1\n"
HARESOURCES = ("alpha IPaddr::198.18.0.5/24/eth0 Filesystem::/dev/sda1::/data::ext4 httpd\n"
               "beta IPaddr::198.18.0.6 \\\n  mysql\n")


def test_heartbeat_conversion() -> None:
    result = convert(HA_CF, HARESOURCES)
    lines = result.text.splitlines()
    assert 'primitive ip_198.18.0.5 ocf:heartbeat:IPaddr2 params ip="198.18.0.5" ' \
           'cidr_netmask="24" nic="eth0"' in lines
    assert 'primitive fs_data ocf:heartbeat:Filesystem params device="/dev/sda1" ' \
           'directory="/data" fstype="ext4"' in lines
    assert "group group_1 ip_198.18.0.5 fs_data httpd" in lines
    assert "location group_2-on-beta group_2 100: beta" in lines
    assert "rsc_defaults resource-stickiness=0" in lines
    off = convert(HA_CF.replace("on", "off"), HARESOURCES)
    assert "rsc_defaults resource-stickiness=INFINITY" in off.text


def test_cli_import_heartbeat(tmp_path: Path) -> None:
    cib = tmp_path / "cib.xml"
    (tmp_path / "ha.cf").write_text(HA_CF)
    (tmp_path / "haresources").write_text(HARESOURCES)
    r = run(cib, "cib", "import-heartbeat", "--ha-cf", str(tmp_path / "ha.cf"),
            "--haresources", str(tmp_path / "haresources"))
    assert r.returncode == 0, r.stderr
    root = ET.fromstring(cib.read_text())
    group = root.find(".//group[@id='group_1']")
    assert group is not None
    assert [p.get("type") for p in group] == ["IPaddr2", "Filesystem", "httpd"]
    assert root.find(".//rsc_location[@id='group_1-on-alpha']").get("node") == "alpha"


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_scripts(tmp_path: Path, shell: str) -> None:
    r = run(tmp_path / "cib.xml", "completion", shell)
    assert r.returncode == 0 and "configure" in r.stdout
    if shell == "bash":
        check = subprocess.run(["bash", "-c", r.stdout + "\nCOMP_WORDS=(defib con); "
                                "COMP_CWORD=1; _defib; echo ${COMPREPLY[@]}"],
                               capture_output=True, text=True, check=False)
        assert check.stdout.split() == ["configure"]

"""One option table, one duration parser, one typed ClusterOptions."""

from __future__ import annotations

import pytest

from defib.cib.options import OPTIONS, ClusterOptions, duration_s, problem
from defib.commands.options import validate
from defib.errors import CommandError


@pytest.mark.parametrize(("text", "seconds"), [
    ("PT5M", 300.0), ("P1DT1H", 90000.0), ("90s", 90.0), ("5min", 300.0), ("1h", 3600.0),
    ("500ms", 0.5), ("10", 10.0), ("2m", 120.0), ("1.5s", 1.5),
])
def test_one_duration_parser_reads_iso_8601_and_pacemaker_forms(text: str,
                                                                  seconds: float) -> None:
    assert duration_s(text) == seconds


def test_recheck_interval_in_iso_8601_is_not_the_default_any_more() -> None:
    options = ClusterOptions.read({"cluster-recheck-interval": "PT5M"})
    assert options.cluster_recheck_interval_s == 300.0 and options.problems == ()


def test_defaults_and_typed_values() -> None:
    options = ClusterOptions.read({"dc-deadtime": "5s", "stonith-max-attempts": "3",
                                   "pe-input-series-max": "-1", "batch-limit": "30",
                                   "transition-delay": "PT2S", "enable-startup-probes": "no"})
    assert options.dc_deadtime_s == 5.0 and options.stonith_max_attempts == 3
    assert options.pe_input_series_max == -1 and options.batch_limit == 30
    assert options.transition_delay_s == 2.0 and options.enable_startup_probes is False
    defaults = ClusterOptions.read({})
    assert defaults.cluster_recheck_interval_s == 900.0 and defaults.stonith_timeout_s == 60.0
    assert defaults.cluster_delay_s == 60.0 and defaults.pe_input_series_max == 4000


def test_unreadable_and_unsupported_values_are_named() -> None:
    options = ClusterOptions.read({"cluster-recheck-interval": "often",
                                   "election-timeout": "5min", "migration-limit": "-1"})
    assert options.cluster_recheck_interval_s == 900.0
    assert len(options.problems) == 2
    assert options.problems[0].startswith("invalid value 'often' for cluster-recheck-interval")
    assert "the default is used" in options.problems[0]
    assert options.problems[1].startswith("election-timeout=5min is not supported by defib")


def test_every_option_is_honoured_or_says_why_not() -> None:
    for name, option in OPTIONS.items():
        assert problem(name, option.default) is None, name
        if option.unsupported:
            assert option.unsupported.strip(), name


def test_property_set_refuses_what_is_not_honoured() -> None:
    assert validate("cluster-recheck-interval", "PT5M") == "PT5M"
    assert validate("migration-limit", "-1") == "-1"  # the default: accepted
    with pytest.raises(CommandError, match="stonith-watchdog-timeout=10s is not supported"):
        validate("stonith-watchdog-timeout", "10s")
    with pytest.raises(CommandError, match="invalid value 'x' for dc-deadtime"):
        validate("dc-deadtime", "x")

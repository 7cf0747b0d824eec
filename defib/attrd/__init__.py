"""Transient node attributes and fail counts, kept in the CIB status as Pacemaker's attrd does."""

from defib.attrd.store import (
    cleanup,
    fail_count_name,
    get_attrs,
    last_failure_name,
    record_failure,
    set_attr,
)

__all__ = ["cleanup", "fail_count_name", "get_attrs", "last_failure_name", "record_failure",
           "set_attr"]

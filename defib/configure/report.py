"""Problems found in configure text or a CIB: the command library's reports
(``defib.commands.report``) under the names the configure modules use."""

from __future__ import annotations

from defib.commands.report import Location, Report, Severity, errors

Problem = Report

__all__ = ["Location", "Problem", "Report", "Severity", "errors"]

"""defib's command library: what the CLI, the web interface and sandboxes call.

Entry points (keep them small and stable):

- ``defib.commands.env.open_env(file=..., directory=..., node=..., create=...)`` -> a
  ``CommandEnv``: a CIB file (``FileEnv``), a running local cluster (``LiveEnv``, through one
  ``defib.commands.connection.Connection``), or ``MemoryEnv`` for tests and trial runs.
- Commands are functions ``command(env, ...) -> defib.commands.result.Result``; they never
  print. A ``Result`` holds ``reports`` (``defib.commands.report.Report``: code, severity,
  ids, message), ``output`` (what a query shows), ``changed`` and ``data``;
  ``Result.to_dict()`` is what ``--json`` prints. A refused command raises a
  ``defib.errors.DefibError`` carrying a ``code`` (``ReportedError`` carries every report);
  ``defib.commands.result.reports_of(exc)`` turns it into reports.
- Modules: ``resource``, ``rsc_info`` (param/meta/utilization, list, operations, refresh,
  why), ``node``, ``cluster_property``, ``attribute`` (crm_attribute), ``ticket``, ``ra``,
  ``cib`` (import/export), ``status``, ``wait`` (``--wait``), ``danger`` (what needs a
  confirmation); ``defib.configure.commands`` is the configure language on the same
  environments.
"""

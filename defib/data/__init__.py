"""Package data: sample CIBs (demo-cluster.xml is the `defib demo` cluster)."""

"""The Corosync 3 stack under defib (``stack = "corosync"`` in the cluster file)."""

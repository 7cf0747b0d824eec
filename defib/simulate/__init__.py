"""Simulation: run the scheduler on a CIB, execute its graph with simulated results, and
print what crm_simulate prints (status, transition summary, executed actions, revised status)."""

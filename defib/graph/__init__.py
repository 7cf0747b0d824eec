"""Transition graphs: model, building from a scheduler run, XML, and the one executor."""

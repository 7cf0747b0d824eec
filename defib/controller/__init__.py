"""The live controller: DC loop (scheduler + graph execution), executor service, fencing."""

"""Side-by-side benchmarks of fluxion and torch (``python -m benchmarks --against torch``)."""

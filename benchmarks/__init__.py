"""Speed benchmarks (not tests): ``python -m benchmarks`` prints and records the ratios, see ``run.py``."""

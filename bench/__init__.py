"""Reproducible benchmarks of opscom-bridge; `python -m bench` runs them (see README.md)."""

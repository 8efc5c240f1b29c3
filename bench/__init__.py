"""Benchmarks (not tests): run with `.venv/bin/python bench/ingest.py`."""

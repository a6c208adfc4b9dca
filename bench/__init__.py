"""Benchmarks of rez-guard against plain rez-env; see docs/benchmarks.md."""

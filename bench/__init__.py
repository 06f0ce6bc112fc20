"""Benchmarks of the ingestion path (`make bench`); see bench/README.md."""

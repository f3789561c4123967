"""Benchmarks (`make bench`, never in CI). Each module here defines ``run(args) -> None`` and prints
its figures as ratios to a baseline measured in the same run on the same database."""

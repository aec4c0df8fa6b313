"""`make bench`: the benchmark harness (issue 5).

It starts its own receivers, API server and delivery workers against a database and a Redis db of
its own, loads data, runs every scenario and prints one table. See docs/benchmarks.md.
"""

"""`missions bench`: throughput, history size, API latency, worker memory and timer catch-up.

A benchmark, not a test: it prints figures and writes them under `bench/results/`, and
asserts no threshold. `docs/performance.md` compares the latest full run with the targets.
"""

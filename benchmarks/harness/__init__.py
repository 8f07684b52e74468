"""The SPECint-style benchmark driver's modules (benchmarks/run is the entry point)."""

"""Speed benchmarks of aae_lib's training against a typical public implementation."""

"""What every trained method's training shares: the loop (harness), its data, resuming, job limits,
the memory estimate, progress, and binding a config block to a method's settings."""

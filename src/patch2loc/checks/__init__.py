"""Input checks: what a file, a flag or a setting claims, bounded and checked before any work is
done on it (sizes, ranges, intensities, devices, bounded JSON/YAML, scan lists, archives)."""

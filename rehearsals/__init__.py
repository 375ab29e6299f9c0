"""Rehearsals: the pipeline and its tools run end to end on stand-ins for what this machine lacks
(the real datasets' servers, conda, a SLURM cluster, a trained run for predict)."""

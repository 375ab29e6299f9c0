"""The env rehearsal: each job of the workflow in an isolated environment built from its env file (docs/env-rehearsal.md)."""

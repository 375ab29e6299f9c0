"""The workflow tests' fixtures: `workdir` (a copy of the workflow under tmp_path)."""

from tests.helpers.workflow import workdir  # noqa: F401 (a fixture)

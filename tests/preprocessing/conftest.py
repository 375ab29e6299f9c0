"""The preprocessing tests' fixtures: `atlas` (the phantom in atlas space, once per module)."""

from tests.helpers.phantom import atlas  # noqa: F401 (a fixture)

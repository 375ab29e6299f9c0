"""Suite-wide fixtures."""

import locale

import pytest


def pytest_collection_modifyitems(config, items):
    """Files with a test marked `starts_first`, then files with a `slow` one, run before the rest:
    `make test` hands out whole files (--dist loadfile --no-loadscope-reorder), so the minutes-long
    tests start early and the run ends on short ones, both workers busy. Tests marked `gpu` need a
    CUDA device: skipped with the reason where there is none."""

    def file(item) -> str:
        return item.nodeid.split("::")[0]

    rank: dict[str, int] = {}
    for item in items:
        weight = 0 if item.get_closest_marker("starts_first") else 1 if item.get_closest_marker("slow") else 2
        rank[file(item)] = min(weight, rank.get(file(item), 2))
    items.sort(key=lambda item: rank[file(item)])  # stable: the collection order kept within a rank
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (tests/gpu; make test-gpu on a GPU machine)")
    for item in items:
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)


@pytest.fixture()
def c(tmp_path):
    """make_case's scan, brain mask and tiny checkpoint in tmp_path/in (the CLI's safety tests)."""
    from tests.helpers.safety import make_case

    return make_case(tmp_path / "in")


@pytest.fixture(autouse=True)
def _restore_locale():
    """GDCM's DICOM writer (used by the DICOM tests to make series) sets the process locale to "C",
    which turns Python's default encoding into ASCII for every later test that decodes UTF-8
    output; each test gets the locale back as it was."""
    saved = locale.setlocale(locale.LC_CTYPE)
    yield
    locale.setlocale(locale.LC_CTYPE, saved)


# Dry runs planned once a session for the files that read them (tests/helpers/workflow.py).
@pytest.fixture(scope="session")
def paper_dry_run(tmp_path_factory):
    from tests.helpers.workflow import PAPER_DRY_RUN, shared_dry_run

    return shared_dry_run(tmp_path_factory, *PAPER_DRY_RUN, manual_data=True)


@pytest.fixture(scope="session")
def demo_dry_run(tmp_path_factory):
    from tests.helpers.workflow import DEMO_DRY_RUN, shared_dry_run

    return shared_dry_run(tmp_path_factory, *DEMO_DRY_RUN)


@pytest.fixture(scope="session")
def demo_long_dry_run(tmp_path_factory):
    from tests.helpers.workflow import DEMO_LONG_DRY_RUN, shared_dry_run

    return shared_dry_run(tmp_path_factory, *DEMO_LONG_DRY_RUN)


@pytest.fixture(scope="session")
def hostile_cli(tmp_path_factory):
    """The hostile CLI tests' shared inputs (a finished run, a preprocessed case, train lists, the
    bombs), built once a session (about a minute), and the judge their cases run through."""
    from tests.helpers.hostile_cli import CliBattery

    return CliBattery(tmp_path_factory.mktemp("hostile_cli"))


@pytest.fixture(scope="session")
def hostile_entry(tmp_path_factory):
    """The hostile entry-point tests' shared inputs (the demo BIDS set, bundles of a tiny run),
    built lazily, and the child-process judge their cases run through."""
    from tests.helpers.hostile_child import EntryBattery

    return EntryBattery(tmp_path_factory.mktemp("hostile_entry"))

"""`patch2loc --help` stays fast: building the parser imports none of the heavy libraries
(each command imports them when it runs), and cli/parser.py only gathers the commands' parsers,
each of which lives beside its command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import patch2loc.cli.parser

HEAVY = ("numpy", "scipy", "pandas", "nibabel", "torch", "torchvision", "SimpleITK", "matplotlib", "monai")


def test_the_parser_imports_no_heavy_library():
    code = (
        "import sys\nfrom patch2loc.cli import build_parser\nbuild_parser()\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"`patch2loc --help` imports {out.strip()}: import them where they are used"


def test_cli_parser_only_gathers_the_commands():
    source = Path(patch2loc.cli.parser.__file__).read_text(encoding="utf-8")
    assert "add_argument(" not in source  # a command's flags live beside the command
    parser = patch2loc.cli.parser.build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert list(commands) == ["train", "export", "predict", "bids"]  # --help lists them in this order

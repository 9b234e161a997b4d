"""Shared fixtures. Keep this small and general; module-specific fixtures live in the tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# tests/ is not a package: make its helpers (kaggle_files) importable from every test module
TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

from kaggle_files import KaggleFiles, write_country  # noqa: E402


@pytest.fixture
def kaggle(tmp_path: Path):
    """Factory writing a synthetic Kaggle country into ``tmp_path/"data"``.

    ``kaggle("JP", n_videos=4, days=12, gaps=["2017-11-17"], compression=".xz")`` returns a
    :class:`kaggle_files.KaggleFiles` (folder, videos, categories, rows written).
    """

    def make(country: str = "US", **kw) -> KaggleFiles:
        return write_country(tmp_path / "data", country, **kw)

    return make


@pytest.fixture
def run_cli(capsys):
    """Run ``ytlstm.cli.main`` in-process; returns ``(exit_code, stdout, stderr)``."""
    from ytlstm.cli import main

    def run(*argv: object) -> tuple[int, str, str]:
        capsys.readouterr()  # drop anything printed before
        code = main([str(a) for a in argv])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The real data folder from ``$YTLSTM_DATA_DIR``; fails (never skips) when it is unset."""
    value = os.environ.get("YTLSTM_DATA_DIR")
    if not value:
        pytest.fail("YTLSTM_DATA_DIR is not set: integration tests need the folder holding "
                    "USvideos.csv(.xz) and US_category_id.json "
                    "(locally: YTLSTM_DATA_DIR=/work/shared/data/youtube-new)")
    path = Path(value)
    if not path.is_dir():
        pytest.fail(f"YTLSTM_DATA_DIR={value} is not a folder")
    return path

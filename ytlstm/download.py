"""Fetch the Kaggle dataset into the data folder (``ytlstm download``)."""

from __future__ import annotations

import shutil
from pathlib import Path

from ytlstm.errors import DataError

KAGGLE_DATASET = "datasnaek/youtube-new"
COUNTRIES = ("US", "GB", "CA", "DE", "FR", "IN", "JP", "KR", "MX", "RU")

MANUAL_STEPS = (
    "download the dataset by hand from https://www.kaggle.com/datasets/datasnaek/youtube-new "
    "and place XXvideos.csv (or .csv.xz/.gz/.zip) and XX_category_id.json in {dest}"
)


def download(dest: str | Path) -> list[Path]:
    """Download every country file of ``datasnaek/youtube-new`` into ``dest``.

    Uses ``kagglehub`` (Kaggle credentials are needed only if Kaggle asks for them).
    Raises :class:`DataError` with the manual steps when the download fails (offline).
    """
    dest = Path(dest)
    try:
        import kagglehub

        source = Path(kagglehub.dataset_download(KAGGLE_DATASET))
    except Exception as e:  # network errors, missing credentials, ...: all end the same way
        raise DataError(KAGGLE_DATASET, f"download failed ({type(e).__name__}: {e})",
                        expected=MANUAL_STEPS.format(dest=dest)) from None
    dest.mkdir(parents=True, exist_ok=True)
    copied = []
    for f in sorted(source.iterdir()):
        if f.is_file() and (f.name.endswith("videos.csv") or f.name.endswith("_category_id.json")):
            target = dest / f.name
            shutil.copyfile(f, target)
            copied.append(target)
    if not copied:
        raise DataError(source, "the download holds no XXvideos.csv files",
                        expected=MANUAL_STEPS.format(dest=dest))
    return copied


def ensure_data(data_dir: str | Path, country: str = "US") -> Path:
    """Download the dataset into ``data_dir`` unless the country's files are already there."""
    from ytlstm.data import find_country_files

    data_dir = Path(data_dir)
    try:
        find_country_files(data_dir, country)
    except DataError:
        print(f"ytlstm: {country} files not found in {data_dir}; downloading {KAGGLE_DATASET} "
              "from Kaggle", flush=True)
        download(data_dir)
        find_country_files(data_dir, country)
    return data_dir

"""Two countries in one build (the book's US study and its GB replication), on small synthetic
Kaggle-format files: each writes its own folder, neither overwrites the other, and the joined
tables and the answers in words come from each country's own tables."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from kaggle_files import write_country
from test_study_small import CONFIG, N_VIDEOS
from ytlstm import answers as A
from ytlstm.countries import book_dirs, ensure_countries
from ytlstm.evaluate import VERDICTS
from ytlstm.outputs import BOOK_COUNTRIES, default_results_dir
from ytlstm.study import run_study

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    root = tmp_path_factory.mktemp("two")
    for i, country in enumerate(BOOK_COUNTRIES):
        rng = np.random.default_rng(100 + i)
        write_country(root / "data", country, n_videos=N_VIDEOS,
                      days=rng.integers(8, 16, size=N_VIDEOS).tolist(),
                      first_day=rng.integers(0, 31, size=N_VIDEOS).tolist())
    here = os.getcwd()
    os.chdir(root)
    try:
        studies = {c: run_study(CONFIG.replace(country=c, v3_bootstrap_reps=500), data_dir=root / "data",
                                cache_dir=root / "cache", results_dir=default_results_dir(c),
                                verbose=False, jobs=1)
                   for c in BOOK_COUNTRIES}
        written = ensure_countries()
        again = ensure_countries()
        tables = {c: {n: pd.read_csv(d / f"{n}.csv") for n in ("metrics", "equivalence", "mcs")}
                  for c, d in book_dirs().items()}
        joined = pd.read_csv(default_results_dir("US") / "countries.csv")
        verdicts = pd.read_csv(default_results_dir("US") / "countries_verdicts.csv")
    finally:
        os.chdir(here)
    return root, studies, written, again, tables, joined, verdicts


def test_each_country_has_its_own_folder_and_study(book):
    root, studies, *_ = book
    assert studies["US"].key != studies["GB"].key
    us = pd.read_csv(root / "_build/results/predictions.csv.gz")
    gb = pd.read_csv(root / "_build/results/GB/predictions.csv.gz")
    assert not set(us["video_id"]) & set(gb["video_id"])       # the synthetic ids carry the country
    assert (root / "_build/results/GB/metrics.csv").is_file()


def test_joined_tables_hold_both_countries_from_their_own_tables(book):
    _, _, written, again, tables, joined, verdicts = book
    assert len(written) == 2 and again == []                  # written once, then unchanged
    assert set(joined["country"]) == set(BOOK_COUNTRIES) == set(verdicts["country"])
    for c in BOOK_COUNTRIES:
        m = tables[c]["metrics"]
        m = m[m.split == "test"].set_index("model")
        j = joined[joined.country == c].set_index("model")
        np.testing.assert_allclose(j["mae"], m.loc[j.index, "mae"])
        np.testing.assert_allclose(j["mase"], m.loc[j.index, "mase"])
    assert set(verdicts["verdict"]) <= set(VERDICTS)


def test_answers_are_worded_from_each_countrys_tables(book):
    root, *_ = book
    read = {c: (lambda n, d=d: pd.read_csv(d / f"{n}.csv"))
            for c, d in {c: root / default_results_dir(c) for c in BOOK_COUNTRIES}.items()}
    a = {c: A.day8(read[c]) for c in BOOK_COUNTRIES}
    v = {c: A.version3(read[c]) for c in BOOK_COUNTRIES}
    for c in BOOK_COUNTRIES:
        s = A.day8_sentence(c, a[c])
        assert A.country_name(c) in s and f"{a[c]['ratio']:.3f}" in s
        s3 = A.version3_sentence(v[c])
        assert v[c]["mae"]["verdict"] in s3 and v[c]["mase"]["verdict"] in s3
    words = A.agreement(a, v)
    assert ("agree" in words) and all(v[c]["mae"]["verdict"] in words for c in BOOK_COUNTRIES)

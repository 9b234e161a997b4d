"""The whole study runs on other countries' files (synthetic, in the Kaggle format)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kaggle_files import write_country
from test_study_small import CONFIG
from ytlstm.cli import main
from ytlstm.study import run_study

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("country", ["GB", "JP"])
def test_study_runs_on_another_country(tmp_path, country, capsys):
    rng = np.random.default_rng(7)
    n = 120
    files = write_country(tmp_path / "data", country, n_videos=n,
                          days=rng.integers(8, 14, size=n).tolist(),
                          first_day=rng.integers(0, 25, size=n).tolist(),
                          compression=".xz" if country == "JP" else "")
    # the data command reads the other country's files
    assert main(["data", "--data-dir", str(files.folder), "--country", country, "--json"]) == 0
    assert f'"country": "{country}"' in capsys.readouterr().out
    study = run_study(CONFIG.replace(country=country, max_epochs=2, cluster_k_grid=(2,),
                                     min_cluster_train_windows=50),
                      data_dir=files.folder, cache_dir=tmp_path / "cache",
                      results_dir=tmp_path / "results", verbose=False, jobs=1)
    assert study.dataset.country == country
    metrics = pd.read_csv(tmp_path / "results" / "metrics.csv")
    test = metrics[metrics.split == "test"]
    assert {"naive", "drift", "lstm_univariate", "lstm_multivariate", "lstm_transfer",
            "lstm_cluster"} <= set(test.model)
    assert np.isfinite(test[["mae", "rmse", "mape", "rel_mae"]].to_numpy()).all()

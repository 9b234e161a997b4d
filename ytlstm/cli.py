"""The ``ytlstm`` command line.

Exit statuses: 0 success; 1 a forecast could not be made for every video (``predict``);
2 bad input (a missing or malformed file, a bad option), with a one-line message on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ytlstm.config import DATA_DIR_ENV, resolve_data_dir
from ytlstm.errors import DataError, ModelError

EPILOG = """\
exit status: 0 success, 1 some videos could not be forecast (predict), 2 bad input.
data folder: --data-dir, else $YTLSTM_DATA_DIR, else data/raw/.
"""


def _add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=None,
                   help=f"folder with XXvideos.csv and XX_category_id.json "
                        f"(default: ${DATA_DIR_ENV} or data/raw/)")
    p.add_argument("--country", default="US", help="two-letter country code (default: US)")


def _scheduler(address: str) -> str:
    """--scheduler: training jobs go to this Dask cluster (ytlstm.executor reads the variable)."""
    import os

    from ytlstm.executor import SCHEDULER_ENV

    os.environ[SCHEDULER_ENV] = address
    return address


def _add_study_options(p: argparse.ArgumentParser, models_help: str) -> None:
    """Options shared by the commands that run (or load) the cached study."""
    _add_data_options(p)
    p.add_argument("--scheduler", default=None, metavar="ADDRESS", type=_scheduler,
                   help="train on an existing Dask cluster, e.g. tcp://scheduler-host:8786 "
                        "(default: $YTLSTM_SCHEDULER, else local worker processes)")
    p.add_argument("--seeds", default=None, metavar="N",
                   help="number of seeds per neural model, 1 or more: the seeds 0..N-1 "
                        "(default: the configuration's 5)")
    p.add_argument("--cache-dir", default=None,
                   help="result cache (default: $YTLSTM_CACHE_DIR or _build/cache)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--models-dir", default=None, help=models_help)
    p.add_argument("--config", default=None, metavar="JSON",
                   help="a JSON file of StudyConfig fields to change (e.g. "
                        '{"max_epochs": 3, "seeds": [0]}); --country and --seeds win over it')
    p.add_argument("--force", action="store_true",
                   help="replace outputs of a run on another country or other data "
                        "(refused otherwise; see run.json in the output folders)")


def cmd_data(args: argparse.Namespace) -> int:
    from ytlstm.data import load_dataset

    ds = load_dataset(resolve_data_dir(args.data_dir), args.country)
    if args.json:
        out = ds.report.to_dict()
        out["country"] = ds.country
        out["sha256"] = ds.sha256
        out["runs"] = ds.runs.to_dict()
        print(json.dumps(out, indent=2))
        return 0
    r = ds.report
    print(f"{ds.country}: {r.file}")
    print(ds.report.table().to_string(index=False))
    s = ds.runs
    print(f"\n{s.n_videos} videos, {s.n_runs} runs of consecutive trending dates, "
          f"{s.n_trending_dates} trending dates ({s.first_date} .. {s.last_date})")
    print(f"{s.videos_with_full_window} videos have a run of at least {s.window + 1} days; "
          f"{s.windows_possible} windows of {s.window}+1 days, {s.windows_with_decrease} of them "
          f"hold a views decrease and are excluded: {s.windows_usable} usable windows")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    from ytlstm.download import download, ensure_data

    dest = resolve_data_dir(args.data_dir)
    if args.if_missing:
        ensure_data(dest, args.country)
        print(f"ytlstm: {args.country} data is in {dest}")
        return 0
    files = download(dest)
    print(f"downloaded {len(files)} files into {dest}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    from ytlstm.outputs import (check_folder, default_models_dir, default_results_dir,
                                stamp_current, write_run)
    from ytlstm.report import ensure_results
    from ytlstm.study import run_study

    config = _study_config(args)
    data_dir = resolve_data_dir(args.data_dir)
    dhash = _data_hash(data_dir, config.country)
    out = Path(args.out) if args.out else default_results_dir(config.country)
    models = Path(args.models_dir) if args.models_dir else default_models_dir(config.country)
    # refuse before anything is computed: never replace another run's outputs unasked
    check_folder(out, config.country, dhash, what="results", option="--out", force=args.force)
    if not args.no_models:
        check_folder(models, config.country, dhash, what="models", option="--models-dir",
                     force=args.force)
    study = run_study(config, data_dir=data_dir, cache_dir=args.cache_dir,
                      verbose=not args.quiet)
    say = (lambda s: None) if args.quiet else print
    export = not args.no_models and not stamp_current(models, study.key)
    if not args.no_models and not export:
        say(f"models in {models} are up to date")
    # The models are exported while the tables are written (Keras and scikit-learn work
    # largely outside the GIL, the tables in pandas). One BLAS thread for both, set before
    # the thread starts: the limit is process-wide, and the export's fits set and restore it.
    with threadpool_limits(limits=1), ThreadPoolExecutor(1) as pool:
        pending = pool.submit(_export, study, models, None if args.quiet else print) \
            if export else None
        written = ensure_results(study, out)
        say(f"tables in {out} are up to date" if written is None else
            f"wrote {len(written)} tables to {out}")
        write_run(out, config.country, study.dataset.data_hash, "results")
        if pending is not None:
            pending.result()
    return 0


def _export(study, models: Path, say) -> dict[str, Path]:
    """Export the study's final models into ``models``, then its run.json and stamp."""
    from ytlstm.outputs import write_run, write_stamp
    from ytlstm.saved import export_models

    written = export_models(study, models, say=say)
    write_run(models, study.config.country, study.dataset.data_hash, "models")
    write_stamp(models, study.key, [f for folder in written.values()
                                    for f in sorted(Path(folder).rglob("*")) if f.is_file()])
    return written


def _data_hash(data_dir: Path, country: str) -> str:
    from ytlstm.data import data_hash, find_country_files

    return data_hash(find_country_files(data_dir, country))


def _study_config(args: argparse.Namespace):
    """The configuration of ``run`` and ``export-models`` (--config, --country, --seeds),
    checked field by field before any work: a one-line DataError naming the file and field
    or the option otherwise."""
    from ytlstm.config import ConfigError, StudyConfig

    config = _config_file(Path(args.config), "--config") if args.config else StudyConfig()
    changes = {"country": args.country.upper()}
    if args.seeds is not None:
        changes["seeds"] = tuple(range(_whole(args.seeds, "--seeds", 1)))
    try:
        return config.replace(**changes)
    except ConfigError as e:
        option = {"country": "--country", "seeds": "--seeds"}[e.field]
        raise DataError(None, f"{option} {getattr(args, e.field)}: {e.problem}",
                        expected=e.expected) from None


def _config_file(path: Path, source: str):
    """The StudyConfig of a JSON file of fields (``source``: the option or variable naming
    it), or a one-line DataError naming the file and the field."""
    from ytlstm.config import ConfigError, StudyConfig

    expected = f'a JSON object of StudyConfig fields like {{"max_epochs": 3}} ({source})'
    try:
        fields = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(path, "file not found", expected=expected) from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise DataError(path, f"unusable configuration ({' '.join(str(e).split())})",
                        expected=expected) from None
    if not isinstance(fields, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", int: "a number",
                float: "a number"}.get(type(fields), "null")
        raise DataError(path, f"{kind}, not a JSON object", expected=expected)
    try:
        return StudyConfig.from_dict(fields)
    except ConfigError as e:
        raise DataError(path, e.problem, where=e.field, expected=e.expected) from None


def _whole(value: str, option: str, least: int) -> int:
    """An option's whole number >= ``least`` (a one-line DataError otherwise)."""
    try:
        n = int(str(value).strip())
    except ValueError:
        n = None
    if n is None or n < least:
        raise DataError(None, f"{option} {value}", expected=f"a whole number >= {least}")
    return n


def cmd_export_models(args: argparse.Namespace) -> int:
    from ytlstm.outputs import check_folder, default_models_dir
    from ytlstm.study import run_study

    config = _study_config(args)
    data_dir = resolve_data_dir(args.data_dir)
    models = Path(args.models_dir) if args.models_dir else default_models_dir(config.country)
    check_folder(models, config.country, _data_hash(data_dir, config.country), what="models",
                 option="--models-dir", force=args.force)
    study = run_study(config, data_dir=data_dir, cache_dir=args.cache_dir,
                      verbose=not args.quiet)
    written = _export(study, models, None)
    for name, path in written.items():
        print(f"{name}\t{path}")
    return 0


#: ``ytlstm predict --horizon``: the horizons of the study (day 8 to day 14).
MAX_HORIZON = 7


def _horizon(value: str) -> int:
    """--horizon: a whole number 1..MAX_HORIZON (a one-line DataError otherwise)."""
    try:
        h = int(str(value).strip())
    except ValueError:
        h = None
    if h is None or not 1 <= h <= MAX_HORIZON:
        raise DataError(None, f"--horizon {value}",
                        expected=f"a whole number from 1 to {MAX_HORIZON}: the number of days "
                                 "after each video's last day to forecast (1: the next day)")
    return h


def _csv_target(value: str, option: str) -> Path:
    """--out / --skipped: a CSV file in an existing folder (checked before any work)."""
    out = Path(value)
    if out.is_dir() or not out.parent.is_dir():
        raise DataError(out, "is a folder" if out.is_dir() else "its folder does not exist",
                        expected=f"{option} naming a CSV file in an existing folder")
    return out


def cmd_predict(args: argparse.Namespace) -> int:
    from ytlstm.predict import _model_call, forecast_csv, skip_summary, skipped_table
    from ytlstm.outputs import default_models_dir
    from ytlstm.saved import find_model, load_model

    horizon = _horizon(args.horizon)
    country = args.country.upper()
    skipped_file = _csv_target(args.skipped, "--skipped") if args.skipped else None
    out_file = None if args.out in (None, "-") else _csv_target(args.out, "--out")
    models = Path(args.models_dir) if args.models_dir else default_models_dir(country)
    model = load_model(find_model(args.model, models))
    if horizon != 1 or args.intervals:
        _model_call(model, lambda: model.load_horizon(horizon, args.intervals))
    trained_on = model.metadata.get("country")
    if trained_on and str(trained_on).upper() != country:
        print(f"ytlstm: note: {model.name} was trained on {str(trained_on).upper()} data, "
              f"not {country} (--country)", file=sys.stderr)
    result = forecast_csv(model, args.csv, horizon, args.intervals)
    removed = {k: n for k, n in result.report.removed.items() if n} if result.report else {}
    if removed:
        print(f"ytlstm: note: cleaning removed {sum(removed.values())} of "
              f"{result.report.rows_in} rows ("
              + ", ".join(f"{k}: {n}" for k, n in removed.items()) + ")", file=sys.stderr)
    for line in skip_summary(result.skipped):
        print(f"ytlstm: note: cannot forecast {line}", file=sys.stderr)
    if skipped_file is not None:
        skipped_table(result.skipped).to_csv(skipped_file, index=False)
        print(f"ytlstm: note: {len(result.skipped)} videos not forecast, each with its reason "
              f"-> {skipped_file}", file=sys.stderr)
    elif result.skipped:
        print("ytlstm: note: every video not forecast and its reason: --skipped FILE",
              file=sys.stderr)
    if out_file is None:
        result.table.to_csv(sys.stdout, index=False)
    else:
        result.table.to_csv(out_file, index=False)
    ahead = "" if horizon == 1 else f", {horizon} days after their last day"
    if args.intervals:
        ahead += ", with " + " and ".join(f"{round(100 * lv):d}%" for lv in model.levels) + \
            " intervals"
    print(f"ytlstm: forecast {len(result.table)} of {result.n_videos} videos with "
          f"{model.name}{ahead}" + ("" if args.out in (None, "-") else f" -> {args.out}"),
          file=sys.stderr)
    return 0 if not result.skipped else 1


def cmd_book(args: argparse.Namespace) -> int:
    import os

    from ytlstm.build import build_book
    from ytlstm.chapter import CONFIG_ENV

    if os.environ.get(CONFIG_ENV):      # the book's study configuration: checked before work
        _config_file(Path(os.environ[CONFIG_ENV]), f"${CONFIG_ENV}")

    return build_book(".", strict=args.strict, builder=args.builder, data_dir=args.data_dir)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ytlstm",
        description="Forecast next-day views of trending YouTube videos with LSTM models.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("data", help="load and clean a country's file; print the cleaning report",
                       epilog="example: ytlstm data --data-dir ../shared/data/youtube-new --json",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_data_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("download", help="download the Kaggle dataset into the data folder",
                       epilog="example: ytlstm download --data-dir data/raw",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=None,
                   help="destination (default: $YTLSTM_DATA_DIR or data/raw/)")
    p.add_argument("--country", default="US", help="with --if-missing: the country to check")
    p.add_argument("--if-missing", action="store_true",
                   help="download only if the country's files are not already there")
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("run", help="run the study (cached) and write its tables as CSV",
                       epilog="example: ytlstm run --country US --seeds 2 --out /tmp/results",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_study_options(p, "where to save the final models (default: _build/models/<CC>)")
    p.add_argument("--out", default=None,
                   help="folder for the CSV tables (default: _build/results for US, the "
                        "book's country; _build/results/<CC> for the others)")
    p.add_argument("--no-models", action="store_true", help="do not save the final models")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("book", help="build the book into _build/html (run from the repository)",
                       epilog="example: ytlstm book --strict",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=None, help="data folder (default: $YTLSTM_DATA_DIR "
                                                    "or data/raw/)")
    p.add_argument("--strict", action="store_true", help="warnings are errors (-W -n --keep-going)")
    p.add_argument("--builder", default="html", help="jupyter-book builder (default: html)")
    p.set_defaults(func=cmd_book)

    p = sub.add_parser("export-models",
                       help="save the study's final models (cached run) for `ytlstm predict`",
                       epilog="example: ytlstm export-models --country GB",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_study_options(p, "where to write one folder per model (default: "
                          "_build/models/<CC>)")
    p.set_defaults(func=cmd_export_models)

    p = sub.add_parser("predict", help="forecast tomorrow's views of videos with a saved model "
                                       "(or up to 7 days ahead, with intervals)",
                       epilog="examples:\n"
                              "  ytlstm predict --model lstm_multivariate --csv new_days.csv "
                              "--out forecasts.csv\n"
                              "  ytlstm predict --horizon 3 --intervals --model lstm_transfer_h "
                              "--csv new_days.csv --out day3.csv\n"
                              "horizon models: naive, drift, szabo_huberman, linear_ar, gbm, "
                              "combination,\n  lstm_univariate_h, lstm_transfer_h (saved by "
                              "`ytlstm run` when the study has horizons).\n"
                              "exit status: 0 every video forecast, 1 some could not be "
                              "(one line per reason on stderr,\n  every video with "
                              "--skipped FILE), 2 bad input or model (one line).",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True,
                   help="a model name in --models-dir (e.g. lstm_multivariate, naive) or the "
                        "path of a saved model folder")
    p.add_argument("--csv", required=True,
                   help="daily statistics in the Kaggle format (the columns of XXvideos.csv); "
                        "each video's last 7 consecutive trending days are the inputs")
    p.add_argument("--out", default=None, help="output CSV (default: standard output)")
    p.add_argument("--skipped", default=None, metavar="FILE",
                   help="write every video that could not be forecast, with its reason, to "
                        "this CSV (video_id, reason_kind, reason); stderr shows one line per "
                        "kind of reason with a count and examples")
    p.add_argument("--country", default="US",
                   help="the country of the videos (default: US); chooses the default "
                        "--models-dir, and a model trained on another country is named")
    p.add_argument("--models-dir", default=None,
                   help="folder of saved models (default: _build/models/<country>)")
    p.add_argument("--horizon", default="1", metavar="H",
                   help=f"forecast the views of H days after each video's last day (1 to "
                        f"{MAX_HORIZON}; default 1, the next day). H > 1 uses the model's "
                        "horizon-H model from the study's horizon stage")
    p.add_argument("--intervals", action="store_true",
                   help="add forecast intervals: columns lower_80, upper_80, lower_95, "
                        "upper_95 (split-conformal, calibrated on the study's test forecasts "
                        "of every origin at that horizon, scaled by each window's recent "
                        "daily movement of views; the lower end is at least the last day's "
                        "views)")
    p.set_defaults(func=cmd_predict)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (DataError, ModelError) as e:
        print(f"ytlstm: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ytlstm: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

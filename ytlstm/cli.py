"""The ``ytlstm`` command line.

Exit statuses: 0 success; 1 a forecast could not be made for every video (``predict``);
2 bad input (a missing or malformed file, a bad option), with a one-line message on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ytlstm.config import DATA_DIR_ENV, DEFAULT_RESULTS_DIR, resolve_data_dir
from ytlstm.errors import DataError, ModelError
from ytlstm.saved import DEFAULT_MODELS_DIR

EPILOG = """\
exit status: 0 success, 1 some videos could not be forecast (predict), 2 bad input.
data folder: --data-dir, else $YTLSTM_DATA_DIR, else data/raw/.
"""


def _add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=None,
                   help=f"folder with XXvideos.csv and XX_category_id.json "
                        f"(default: ${DATA_DIR_ENV} or data/raw/)")
    p.add_argument("--country", default="US", help="two-letter country code (default: US)")


def _add_study_options(p: argparse.ArgumentParser, models_help: str) -> None:
    """Options shared by the commands that run (or load) the cached study."""
    _add_data_options(p)
    p.add_argument("--seeds", type=int, default=None,
                   help="number of seeds per neural model (default: the configuration's 5)")
    p.add_argument("--cache-dir", default=None,
                   help="result cache (default: $YTLSTM_CACHE_DIR or _build/cache)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--models-dir", default=str(DEFAULT_MODELS_DIR), help=models_help)


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
    from ytlstm.config import StudyConfig
    from ytlstm.study import run_study

    config = StudyConfig(country=args.country.upper())
    if args.seeds is not None:
        if args.seeds < 1:
            raise DataError(None, f"--seeds {args.seeds}", expected="a whole number >= 1")
        config = config.replace(seeds=tuple(range(args.seeds)))
    study = run_study(config, data_dir=resolve_data_dir(args.data_dir),
                      results_dir=Path(args.out), cache_dir=args.cache_dir,
                      verbose=not args.quiet)
    if not args.no_models:
        from ytlstm.saved import export_models

        export_models(study, args.models_dir, say=None if args.quiet else print)
    return 0


def _study_config(args: argparse.Namespace):
    """The configuration of ``run`` and ``export-models`` (country, number of seeds)."""
    from ytlstm.config import StudyConfig

    config = StudyConfig(country=args.country.upper())
    if args.seeds is not None:
        if args.seeds < 1:
            raise DataError(None, f"--seeds {args.seeds}", expected="a whole number >= 1")
        config = config.replace(seeds=tuple(range(args.seeds)))
    return config


def cmd_export_models(args: argparse.Namespace) -> int:
    from ytlstm.saved import export_models
    from ytlstm.study import run_study

    study = run_study(_study_config(args), data_dir=resolve_data_dir(args.data_dir),
                      cache_dir=args.cache_dir, verbose=not args.quiet)
    written = export_models(study, args.models_dir)
    for name, path in written.items():
        print(f"{name}\t{path}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from ytlstm.predict import forecast_csv
    from ytlstm.saved import find_model, load_model

    model = load_model(find_model(args.model, args.models_dir))
    result = forecast_csv(model, args.csv)
    removed = {k: n for k, n in result.report.removed.items() if n} if result.report else {}
    if removed:
        print(f"ytlstm: note: cleaning removed {sum(removed.values())} of "
              f"{result.report.rows_in} rows ("
              + ", ".join(f"{k}: {n}" for k, n in removed.items()) + ")", file=sys.stderr)
    for video, reason in result.skipped.items():
        print(f"ytlstm: cannot forecast video {video}: {reason}", file=sys.stderr)
    if args.out in (None, "-"):
        result.table.to_csv(sys.stdout, index=False)
    else:
        out = Path(args.out)
        if out.is_dir() or not out.parent.is_dir():
            raise DataError(out, "is a folder" if out.is_dir() else "its folder does not exist",
                            expected="--out naming a CSV file in an existing folder")
        result.table.to_csv(out, index=False)
    print(f"ytlstm: forecast {len(result.table)} of {result.n_videos} videos with "
          f"{model.name}" + ("" if args.out in (None, "-") else f" -> {args.out}"),
          file=sys.stderr)
    return 0 if not result.skipped else 1


def cmd_book(args: argparse.Namespace) -> int:
    from ytlstm.build import build_book

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
    _add_study_options(p, "where to save the final models (default: _build/models)")
    p.add_argument("--out", default=str(DEFAULT_RESULTS_DIR),
                   help="folder for the CSV tables (default: _build/results)")
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
                       epilog="example: ytlstm export-models --models-dir _build/models",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_study_options(p, "where to write one folder per model (default: _build/models)")
    p.set_defaults(func=cmd_export_models)

    p = sub.add_parser("predict", help="forecast tomorrow's views of videos with a saved model",
                       epilog="example: ytlstm predict --model lstm_multivariate "
                              "--csv new_days.csv --out forecasts.csv\n"
                              "exit status: 0 every video forecast, 1 some could not be "
                              "(reasons on stderr), 2 bad input or model.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True,
                   help="a model name in --models-dir (e.g. lstm_multivariate, naive) or the "
                        "path of a saved model folder")
    p.add_argument("--csv", required=True,
                   help="daily statistics in the Kaggle format (the columns of XXvideos.csv); "
                        "each video's last 7 consecutive trending days are the inputs")
    p.add_argument("--out", default=None, help="output CSV (default: standard output)")
    p.add_argument("--models-dir", default=str(DEFAULT_MODELS_DIR),
                   help="folder of saved models (default: _build/models)")
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

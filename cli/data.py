"""`python -m ml data load|read`: load an IDX set into the tables, read a table back."""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from cli.app import Report
from ml.context import Context
from ml.data.loader import VALID_SIZE, load, prepare
from ml.data.reader import read_table
from ml.data.sources import MIRRORS, SourceSet, default_cache_dir, download, from_directory
from ml.errors import DataError
from ml.records import JsonObject


def load_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mnist-dir", type=Path, help="folder with the four IDX files (.gz or not); default: download")
    parser.add_argument(
        "--mirror", action="append", help="mirror URL to try (repeatable; default: the public MNIST mirrors)"
    )
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir(), help="where downloads are kept")
    parser.add_argument("--valid-size", type=int, default=VALID_SIZE, help="training images held out for `valid`")
    parser.add_argument("--classes", type=int, help="number of classes (default: the largest training label + 1)")


def load_tables(args: argparse.Namespace, context: Context) -> Report:
    started = time.monotonic()
    sources: SourceSet
    if args.mnist_dir is not None:
        sources = from_directory(args.mnist_dir)
    else:
        sources = download(args.mirror or MIRRORS, args.cache_dir)
    splits = prepare(sources, valid_size=args.valid_size, classes=args.classes)
    tables: dict[str, JsonObject] = {}
    lines = []
    for loaded in load(context, splits):
        m = loaded.manifest
        tables[m.table.rsplit(".", 1)[-1]] = {
            "table": m.table,
            "rows": m.rows,
            "digest": m.digest,
            "manifest": loaded.manifest_uri,
            "seconds": loaded.seconds,
        }
        lines.append(f"{m.table:<40} {m.rows:>7} rows  sha256 {m.digest}  ({loaded.seconds} s)")
    seconds = round(time.monotonic() - started, 2)
    image_shape, classes = splits[0].rows.image_shape, splits[0].classes
    lines.append(f"loaded {image_shape[0]}x{image_shape[1]} images of {classes} classes in {seconds} s")
    report = {
        "env": context.env.name,
        "tables": tables,
        "image_shape": list(image_shape),
        "classes": classes,
        "sources": [{"name": f.name, "origin": f.origin, "sha256": f.array.sha256} for f in sources.files],
        "seconds": seconds,
    }
    return Report(report, lines)


def read_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("table", choices=("train", "valid", "test"))
    parser.add_argument("--limit", type=int)
    parser.add_argument("--filter", dest="row_filter", help="row restriction, e.g. 'key < 1000'")
    parser.add_argument("--as-of", type=datetime.fromisoformat, help="snapshot time (ISO 8601)")


def read(args: argparse.Namespace, context: Context) -> Report:
    if args.as_of is not None and args.as_of.tzinfo is None:
        raise DataError(f"--as-of {args.as_of.isoformat()} has no time zone; add one, e.g. +00:00")
    started = time.monotonic()
    data = read_table(context, args.table, limit=args.limit, row_filter=args.row_filter, snapshot_time=args.as_of)
    report = {
        **asdict(data.lineage),
        "classes": data.classes,
        "image_shape": list(data.rows.image_shape),
        "seconds": round(time.monotonic() - started, 2),
    }
    return Report(report, [f"{k}: {v}" for k, v in report.items()])

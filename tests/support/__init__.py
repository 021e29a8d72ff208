"""Helpers the tests share (fixtures stay in conftest.py): paths, local-cloud variables, data, fakes."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

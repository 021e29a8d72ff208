"""Serving: the predict function (deployed from `function/`) and what it reads."""

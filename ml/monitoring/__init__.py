"""Watching the served model: its traffic, drift and online accuracy from the prediction log."""

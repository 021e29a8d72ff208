"""Publishing a training run: artifacts, registry version, champion/challenger gate, serving manifest."""

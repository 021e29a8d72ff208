"""The pipeline's command line, `python -m ml`: the top layer, which nothing imports.

`app.py` parses, builds one `Context` per command and prints; `commands.py` is the one table
of commands; each other module holds the commands of one part of the pipeline.
"""

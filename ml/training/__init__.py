"""`python -m ml train`: read the tables, run the AdaNet search, evaluate, export, report."""

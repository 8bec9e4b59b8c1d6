"""Tools that load a snapshot or run and reuse the models and evaluation code."""

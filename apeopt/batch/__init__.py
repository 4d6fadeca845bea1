"""Overnight batches: a plan of optimize/compare jobs shared by workers through one Optuna storage."""

"""YAML search spaces sampled by Optuna."""

from apeopt.search_spaces.format import Format
from apeopt.search_spaces.space import Param, SearchSpace, builtin_space_names, load_space, parse_space

__all__ = ["Format", "Param", "SearchSpace", "builtin_space_names", "load_space", "parse_space"]

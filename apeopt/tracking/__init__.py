"""Experiment tracking: mirror apeopt runs into a tracker (MLflow) besides their run folders.

``TrackingConfig`` says where (``--track mlflow``, a plan's ``tracking:``); ``open_tracker`` gives
a :class:`SafeTracker` (failures reported once, never fatal); :mod:`apeopt.tracking.runs` maps an
optimize run onto it and :mod:`apeopt.tracking.batch` a batch plan (a parent run, a child per job).
"""

from apeopt.tracking.base import TRACKERS, NullTracker, SafeTracker, Tracker, TrackingConfig, open_tracker, scrub

__all__ = ["TRACKERS", "NullTracker", "SafeTracker", "Tracker", "TrackingConfig", "open_tracker", "scrub"]

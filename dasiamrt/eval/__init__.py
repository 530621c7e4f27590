"""Evaluation: dataset readers, metrics, runs and reports, and synthetic sequences with ground truth.

Light to import: submodules load OpenCV and matplotlib only when used.
"""
from __future__ import annotations

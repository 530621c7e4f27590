"""Distractor-aware training (paper Sec. 3.2, 4.1): pair sampling, SiamRPN targets and loss, the loop.

Uses torch (like ``model/``); the runtime never imports this package.
"""
from __future__ import annotations

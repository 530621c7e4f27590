"""Adapters that let the harnesses trackers are judged by run dasiamrt.

* :mod:`.trax_server`: a TraX server, so the VOT toolkit (``vot test``/``vot evaluate``) runs
  ``dasiamrt trax`` as a tracker (needs ``vot-trax``: ``pip install 'dasiamrt[trax]'``).
* :mod:`.vot_workspace`: a VOT-toolkit workspace (sequences, stack, ``trackers.ini``) from any
  dataset dasiamrt reads, generated sequences included.
* :mod:`.got10k`: a ``got10k.trackers.Tracker`` subclass for the got10k toolkit's experiments.

Each imports its toolkit lazily: importing this package needs nothing beyond numpy.
"""
from __future__ import annotations

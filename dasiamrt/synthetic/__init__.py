"""Synthetic tracking data, one package for evaluation, training and calibration.

:mod:`.sequences` renders sequences with exact ground truth from a seed (``make_sequence``, ``make_set``,
``write_otb_layout``; scenes from :mod:`.scene`, :mod:`.motion` and :mod:`.textures`, drawn by :mod:`.render`):
``dasiamrt eval --dataset synthetic:...``, ``dasiamrt calibrate --source synthetic:...`` and the ``synthetic``
training source read it. :mod:`.composite` moves photo patches over photo backgrounds (the ``composite``
training source of the bundled model's recipe). numpy and OpenCV only.
"""

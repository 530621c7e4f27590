"""``dasiamrt bench``: FPS and per-stage latency of the tracking loop (:mod:`.run`), what the machine is
(:mod:`.env`), and one table and chart from the reports of several machines (:mod:`.merge`)."""

"""``dasiamrt track``: a tracker over a frame source (:mod:`.run`): boxes to CSV, annotated video, progress, FPS."""

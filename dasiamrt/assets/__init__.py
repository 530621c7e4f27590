"""Files shipped inside the package: the demo clip and the bundled model (when present)."""
from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parent
#: A real clip (OpenCV sample data ``box.mp4``, 480x360, shortened): a printed box moved by hand.
DEMO_CLIP = ASSETS / "box.mp4"
#: Initial box of the printed box on the demo clip's first frame (x, y, w, h, 0-based pixels).
DEMO_INIT_XYWH = (221.0, 11.0, 225.0, 169.0)
#: Exported model folder of the bundled, self-trained network (preset ``mobile``: ImageNet MobileNetV2 blocks
#: under SiamRPN heads, trained on real video; issue #18, ``train_logs/real/``).
BUNDLED_MODEL = ASSETS / "models" / "mobile"
#: The checkpoint the bundled model was exported from (its sha256 is in the model's ``model.json``).
BUNDLED_WEIGHTS = ASSETS / "mobile.pt"

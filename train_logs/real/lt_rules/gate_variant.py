"""How lt_rules/L2.md was made: benchmarks/real_validation.py with the long-term update gate of pysot's
SiamRPNLTTracker (a result moves the box when its score >= enter_threshold, in both states) patched in
for the run. Since 2026-11-30 that gate is the product's rule (dasiamrt.runtime.longterm.accept_result);
"hold" is the rule before it (a result moves the box only when the state after it is ``tracking``). Usage:

    python train_logs/real/lt_rules/gate_variant.py pysot --part train --starts 5 --variants plain,+LT --out OUT
    python train_logs/real/lt_rules/gate_variant.py hold ...   # the earlier rule (L0.md, mobile_patience1.md)
"""
import runpy
import sys
from pathlib import Path

from dasiamrt.runtime import longterm as lt
from dasiamrt.runtime import tracker as T

GATE = sys.argv.pop(1)


def _update_state(self, state, sel, scale_z):
    cfg = self.config
    new = lt.next_state(state.mode, sel.score, cfg.long_term, state.low_run)
    if GATE == "pysot":
        ok = (not cfg.long_term.enabled) or sel.score >= cfg.long_term.enter_threshold
    else:
        ok = new == lt.TRACKING
    if ok:
        self._update_box(state, sel.box_crop, sel.score * sel.penalty * cfg.lr, scale_z)
    state.mode = new
    state.low_run = lt.low_run(state.low_run, sel.score, cfg.long_term)
    state.score = sel.score


T.Tracker._update_state = _update_state
sys.argv = ["real_validation.py"] + sys.argv[1:]
runpy.run_path(str(Path(__file__).resolve().parents[3] / "benchmarks" / "real_validation.py"), run_name="__main__")

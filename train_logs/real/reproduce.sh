#!/bin/sh
# Rebuilds the bundled tiny model of issue #18 from the synthetic-trained model it was fine-tuned from.
# Run from the repository root with ../shared/data/real present and torch installed (~2.8 h on 2 cores).
# See train_logs/real/README.md for what each step did in the recorded run.
set -e
mkdir -p runs
git show f9bb8a3:dasiamrt/assets/tiny.pt > runs/tiny_synthetic.pt            # the model before #18
python -m dasiamrt.cli train --config configs/train_real_part1.json --max-steps 1321   # part 1 (schedule of 40 epochs)
python -m dasiamrt.cli train --config configs/train_real.json --resume        # part 2 (16 epochs), to step 4000
cp runs/real/best.pt dasiamrt/assets/tiny.pt                                  # chosen on validation AUC (step 3500)
python benchmarks/real_validation.py --weights dasiamrt/assets/tiny.pt --variants plain \
    --label "thresholds of the new weights" --out runs/real/thresholds       # prints enter/leave/h: into configs/tiny_tracker.json
python -m dasiamrt.cli export --weights dasiamrt/assets/tiny.pt --preset tiny \
    --tracker configs/tiny_tracker.json --out dasiamrt/assets/models/tiny

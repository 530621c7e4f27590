#!/bin/sh
# Rebuilds the tiny model of issue #18 (bundled until the mobile model replaced it: reproduce_mobile.sh) from the
# synthetic-trained model it was fine-tuned from; `git show 7d5d906:dasiamrt/assets/tiny.pt` is the recorded result.
# Run from the repository root with ../shared/data/real present and torch installed (11000 steps: 5.8 h recorded on the shared 2-core machine, ~2.5 h on a quiet one).
# See train_logs/real/README.md for what each step did in the recorded runs.
set -e
mkdir -p runs
git show f9bb8a3:dasiamrt/assets/tiny.pt > runs/tiny_synthetic.pt            # the model before #18
python -m dasiamrt.cli train --config configs/train_real_part1.json --max-steps 1321   # stage 1 part 1 (schedule of 40 epochs)
python -m dasiamrt.cli train --config configs/train_real.json --resume        # stage 1 part 2 (16 epochs), to step 4000; best: 3500
python -m dasiamrt.cli train --config configs/train_real_stage2.json         # stage 2 (2500 steps, max_gap 2000); best: step 2000
python -m dasiamrt.cli train --config configs/train_real_stage3.json         # stage 3 (2500 steps, shift 64, 5-start validation); best: 1500
python -m dasiamrt.cli train --config configs/train_real_stage4b.json        # stage 4b (2000 steps, stage 1's aspect stretch back); best: 2000
python -m dasiamrt.cli export --weights runs/real-stage4b/best.pt --preset tiny \
    --tracker configs/tiny_tracker.json --out runs/real-stage4b/model        # chosen on 5-start validation AUC
python benchmarks/real_validation.py --model runs/real-stage4b/model --variants plain \
    --label "thresholds of the new weights" --out runs/real-stage4b/thresholds  # prints enter/leave/h: into configs/tiny_tracker.json, then export again

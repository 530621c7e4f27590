"""Test-only: put the strict fake TensorRT and CUDA device into a ``dasiamrt`` CLI subprocess.

Active only when ``DASIAMRT_FAKE_TRT`` names a TensorRT version (e.g. ``10.3.0.30``) and this
folder is first on ``PYTHONPATH``: ``import tensorrt`` then gives the fake of
:mod:`tests.engine.fake_trt` (builder and runtime, one plan format) and every CUDA device the
package opens is a :class:`tests.runtime.fake_gpu.FakeDevice`, so ``dasiamrt build`` ->
``dasiamrt track --backend trt`` runs end to end without a GPU.
"""

import os
import sys

_VERSION = os.environ.get("DASIAMRT_FAKE_TRT")
if _VERSION:
    from dasiamrt.trt import cuda_device
    from tests.engine.fake_trt import make_fake_trt
    from tests.runtime.fake_gpu import FakeDevice

    _trt = make_fake_trt(_VERSION)
    sys.modules["tensorrt"] = _trt

    def _open_device(binding=None, index=0):
        device = FakeDevice()
        _trt.device = device
        return device

    cuda_device.open_device = _open_device

"""dasiamrt: DaSiamRPN visual object tracking for the edge (PyTorch -> ONNX -> TensorRT)."""
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent
version = {}
exec((ROOT / "dasiamrt" / "__init__.py").read_text().split("__all__")[0], version)

# OpenCV is NOT a hard requirement: JetPack ships an OpenCV built with GStreamer (needed for CSI
# cameras and hardware decoding), and a pip opencv wheel installed over it would shadow it without
# GStreamer. On a Jetson install with `--no-deps` or without the `opencv` extra; elsewhere add it.
# TensorRT is not listed either: it comes with JetPack (or NVIDIA's own index), never from PyPI
# here. onnxruntime and onnxruntime-gpu both provide the `onnxruntime` module and must never be
# installed together, so each is its own extra: choose `ort` OR `ort-gpu`.
EXTRAS = {
    "opencv": ["opencv-python-headless>=4.6"],
    "ort": ["onnxruntime>=1.16"],
    "ort-gpu": ["onnxruntime-gpu>=1.16"],
    "export": ["torch>=1.13", "onnx>=1.14"],
    "train": ["torch>=1.13"],
    "eval": ["matplotlib>=3.5"],
    # The CUDA binding of the TensorRT backend's buffers. cuda-python's major version must match the
    # DRIVER's CUDA major: JetPack 5.1 (CUDA 11.4) needs `cuda-jetpack5` (11.x; >= 11.6 because 11.5
    # rejects plain-int stream handles) or `pycuda`; CUDA 12/13 drivers take `cuda`. The runtime
    # falls back to pycuda whenever cuda-python cannot open the GPU.
    "cuda": ["cuda-python>=12.0"],
    "cuda-jetpack5": ["cuda-python>=11.6,<12"],
    "pycuda": ["pycuda>=2022.1"],
    # `live --mavlink`: 2.4.40 is the first pymavlink whose common dialect has both CAMERA_TRACKING_IMAGE_STATUS
    # and GIMBAL_MANAGER_SET_PITCHYAW (tested with 2.4.40 and 2.4.50); pyserial for serial links.
    "mavlink": ["pymavlink>=2.4.40", "pyserial>=3.5"],
    # `dasiamrt trax` (a VOT-toolkit tracker over TraX): the TraX binding, with libtrax inside the wheel.
    "trax": ["vot-trax>=4.0.2"],
    # `dasiamrt eval --ray`: workers on a Ray cluster.
    "ray": ["ray>=2.0"],
    # The VOT toolkit itself (`vot test`, `vot evaluate`; the tests drive it). attributee is capped
    # because vot-toolkit 0.9.0 fails at import with attributee 0.1.10 on Python 3.11 ("TypeError:
    # dataclass_transform() takes 0 positional arguments"); 0.1.9 works. It requires opencv-python,
    # which installs a second copy of the cv2 module next to opencv-python-headless: keep this extra
    # off a Jetson (JetPack's GStreamer OpenCV), where the TraX server needs only the `trax` extra.
    "vot": ["vot-toolkit>=0.9.0", "attributee>=0.1.8,<0.1.10", "vot-trax>=4.0.2"],
}
# `all` is everything to track, benchmark and evaluate (numpy, OpenCV, ONNX Runtime, matplotlib) and
# deliberately NOT torch: the demo does not need it, and on a PC with a GPU pip resolves a bare torch to
# the multi-GB CUDA build. torch comes with `export`/`train` and with the README's test line (`dev`).
EXTRAS["all"] = sorted({r for k in ("opencv", "ort", "eval") for r in EXTRAS[k]})
EXTRAS["dev"] = sorted({*EXTRAS["all"], *EXTRAS["export"], *EXTRAS["mavlink"], *EXTRAS["ray"], *EXTRAS["trax"],
                        "pytest>=7", "mypy>=1.0", "ruff>=0.4", "got10k>=0.1.3", "six>=1.16"})

setup(
    name="dasiamrt",
    version=version["__version__"],
    description="DaSiamRPN tracking for the edge: split ONNX, TensorRT FP16/INT8 engines, distractor-aware "
    "and long-term runtime without torch",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8") if (ROOT / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.8",
    packages=find_packages(exclude=("tests*", "benchmarks*")),
    package_data={"dasiamrt": ["assets/*.mp4", "assets/models/*/*", "assets/textures/*", "assets/*.pt"]},
    install_requires=["numpy>=1.21"],
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["dasiamrt=dasiamrt.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Image Recognition",
        "License :: OSI Approved :: MIT License",
    ],
)

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
    "cuda": ["cuda-python>=12.0"],
    "pycuda": ["pycuda>=2022.1"],
}
# `all` is everything to track, benchmark and evaluate (numpy, OpenCV, ONNX Runtime, matplotlib) and
# deliberately NOT torch: the demo does not need it, and on a PC with a GPU pip resolves a bare torch to
# the multi-GB CUDA build. torch comes with `export`/`train` and with the README's test line (`dev`).
EXTRAS["all"] = sorted({r for k in ("opencv", "ort", "eval") for r in EXTRAS[k]})
EXTRAS["dev"] = sorted({*EXTRAS["all"], *EXTRAS["export"],
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

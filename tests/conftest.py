"""Test configuration: Qt runs offscreen so CI needs no screen; shared data lives in ../shared."""

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared" / "datasets" / "mnist"


@pytest.fixture
def mnist_dir() -> Path:
    """The real MNIST t10k IDX pair, read where CI has it; never copied into the repository."""
    if not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists():
        pytest.fail(f"{SHARED_MNIST} is missing: the integration tests need ../shared/datasets/mnist")
    return SHARED_MNIST

"""Shared fixtures: the shipped sample data; every test leaves the kernel choice on auto."""
from pathlib import Path

import numpy as np
import pytest
import vectro

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


@pytest.fixture(autouse=True)
def _auto_backend():
    yield
    vectro.set_backend("auto")


@pytest.fixture(scope="session")
def sample():
    corpus = np.load(SAMPLE / "corpus.npy")
    queries = np.load(SAMPLE / "queries.npy")
    return corpus, queries

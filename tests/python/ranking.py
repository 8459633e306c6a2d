"""Comparing a database's top k with a reference ranking when scores can tie or differ in the last
bits: positions whose reference score is clear of both neighbours must hold the same id."""

import numpy as np


def determined(ref_scores: np.ndarray, k: int, tol: float) -> np.ndarray:
    """(nq, k) mask of positions fixed by the reference: ``ref_scores`` holds k + 1 columns, best
    first, so the k-th position's gap to the next candidate is known too."""
    gaps = np.abs(np.diff(ref_scores[:, :k + 1], axis=1)) > tol  # gap after position p, (nq, k)
    before = np.concatenate([np.ones((len(gaps), 1), bool), gaps[:, :k - 1]], axis=1)
    return before & gaps


def agree(got_ids: np.ndarray, ref_ids: np.ndarray, ref_scores: np.ndarray, tol: float) -> bool:
    """True when ``got_ids`` (nq, k) holds the reference's id at every determined position, and
    at least half the positions are determined (else the check would say little)."""
    k = got_ids.shape[1]
    mask = determined(ref_scores, k, tol)
    return bool(mask.mean() >= 0.5 and (got_ids[mask] == ref_ids[:, :k][mask]).all())

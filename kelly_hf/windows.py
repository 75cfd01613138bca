"""Per-window reductions over sorted event times, vectorised with numpy (no per-note loops).

A window is ``[start, end)``; :func:`window_pairs` lists every (window, event) pair,
the reductions aggregate values over those pairs with ``bincount``.
"""

from __future__ import annotations

import numpy as np


def window_pairs(times: np.ndarray, starts: np.ndarray, ends: np.ndarray, close_last: bool = True):
    """Every (window, event) pair with the event time in ``[start, end)``; with ``close_last`` the last
    window is ``[start, inf)`` (a performance's last window ends at its last note: nothing is after it).

    ``times`` sorted ascending. Returns ``(window index, event index, events per window)``.
    """
    stops = ends.astype(np.float64).copy()
    if len(stops) and close_last:
        stops[-1] = np.inf
    lo = np.searchsorted(times, starts, "left")
    hi = np.maximum(np.searchsorted(times, stops, "left"), lo)
    counts = hi - lo
    if len(starts) == 1:    # one window (a whole piece): the same pairs without the bookkeeping
        return np.zeros(int(counts[0]), np.int64), np.arange(lo[0], hi[0]), counts
    win = np.repeat(np.arange(len(starts)), counts)
    first = np.cumsum(counts) - counts
    idx = np.arange(int(counts.sum())) - np.repeat(first, counts) + np.repeat(lo, counts)
    return win, idx, counts


def window_quantile(win: np.ndarray, values: np.ndarray, k: int, q: float, default: float) -> np.ndarray:
    """Nearest-rank ``q`` quantile of ``values`` per window (NaN values ignored; ``default`` if none)."""
    ok = np.isfinite(values)
    win, values = win[ok], values[ok]
    if k == 1:              # one window: a partition finds the same element without sorting
        rank = max(int(np.ceil(q * len(values))), 1) - 1
        return np.array([np.partition(values, rank)[rank] if len(values) else default], dtype=np.float64)
    order = np.lexsort((values, win))
    ordered = values[order]
    n = np.bincount(win, minlength=k)
    first = np.cumsum(n) - n
    rank = np.maximum(np.ceil(q * n).astype(np.int64), 1) - 1
    out = np.full(k, default, dtype=np.float64)
    has = n > 0
    out[has] = ordered[first[has] + rank[has]]
    return out


def window_mean(win: np.ndarray, values: np.ndarray, k: int, default: float) -> np.ndarray:
    n = np.bincount(win, minlength=k)
    s = np.bincount(win, weights=values, minlength=k)
    return np.where(n > 0, s / np.maximum(n, 1), default)


def window_std(win: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """Population std per window (0 for empty windows)."""
    n = np.bincount(win, minlength=k)
    mean = window_mean(win, values, k, 0.0)
    dev = values - mean[win]
    var = np.bincount(win, weights=dev * dev, minlength=k) / np.maximum(n, 1)
    return np.sqrt(var)


def onsets(start: np.ndarray, cluster_s: float) -> np.ndarray:
    """Onset (cluster) index of every note: onsets within ``cluster_s`` of the previous note join it."""
    new = np.ones(len(start), dtype=bool)
    new[1:] = np.diff(start) > cluster_s
    return np.cumsum(new) - 1


#: most windows a file may be cut into (the features count them in int32); past it the
#: file is skipped: 2**31 15 s windows are 500 years of music
MAX_WINDOWS = 2**31 - 1


def occupied(times: np.ndarray, hop: float, width: float, count: int) -> np.ndarray:
    """Sorted indices of the windows ``[i * hop, i * hop + width)``, ``0 <= i < count``, that can
    hold one of ``times`` (a superset of the non-empty ones, by one window each side).

    Features are computed for these only, so a file costs in proportion to its notes, not
    to its time span: one note after a huge delta time would otherwise ask for millions
    of empty windows.
    """
    if count > MAX_WINDOWS:
        raise ValueError(f"{count} windows: more than MAX_WINDOWS")
    if count <= 0 or not len(times):
        return np.zeros(0, np.int64)
    last = float(count - 1)
    base = np.clip(np.floor(np.asarray(times, np.float64) / hop), -1.0, last + 1.0).astype(np.int64)
    reach = np.arange(-1, int(np.ceil(width / hop)) + 1)
    index = np.unique((base[:, None] - reach[None, :]).ravel())
    return index[(index >= 0) & (index <= count - 1)]

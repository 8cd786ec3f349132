"""Calibration of the paired test by simulation (slow: about 10 minutes on 2 busy cores).

    .venv/bin/python -m pytest -q -m slow tests/test_paired_calibration.py
"""

from __future__ import annotations

import pytest

from ganeval.paired.calibration import gaussian_calibration

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]


def test_paired_intervals_cover_and_null_p_values_are_uniform():
    c = gaussian_calibration(200, n_bootstrap=400, seed=0)
    assert 0.93 <= c.coverage <= 0.97, c.text()
    assert c.ks_pvalue > 0.05, c.text()

"""Metric functions against numpy-financial and against hand-computed values."""

from __future__ import annotations

import numpy as np
import numpy_financial as npf
import pytest

from baozhang_finance.measures import stats as mx
from baozhang_finance.engine.instruments import annuity_payment


def test_vectorised_irr_matches_numpy_financial_on_conventional_flows():
    rng = np.random.default_rng(0)
    flows = rng.normal(1.0, 1.0, (400, 31))
    flows[:, 0] = -rng.uniform(5, 30, 400)
    ours = mx.irr(flows)
    ref = np.array([npf.irr(row) for row in flows])
    assert np.array_equal(np.isnan(ours), np.isnan(ref))
    ok = ~np.isnan(ref)
    np.testing.assert_allclose(ours[ok], ref[ok], atol=1e-10)


def test_irr_documented_examples_and_undefined_case():
    # the examples of numpy_financial.irr's docstring, several with more than one sign change
    cases = [[-100, 39, 59, 55, 20], [-100, 0, 0, 74], [-100, 100, 0, -7], [-100, 100, 0, 7], [-5, 10.5, 1, -8, 1]]
    for c in cases:
        assert mx.irr(np.array([c]))[0] == pytest.approx(npf.irr(c), abs=1e-9)
    # flows that never turn positive have no IRR: NaN, as numpy-financial says
    assert np.isnan(mx.irr(np.array([[-100.0, -1.0, -1.0]]))[0])


def test_compiled_irr_edge_cases_and_rows_independent():
    """All-zero flows: every rate is a root, 0 is taken; a root exactly on the grid (0 %); multiple roots: the one
    nearest zero; monthly flows against numpy-financial; a row's IRR does not depend on the other rows."""
    assert mx.irr(np.zeros((1, 5)))[0] == 0.0
    assert mx.irr(np.array([[-100.0, 50.0, 50.0]]))[0] == 0.0  # NPV(0) = 0 exactly
    two = np.array([[-100.0, 230.0, -132.0]])  # roots 10 % and 20 %
    assert mx.irr(two)[0] == pytest.approx(0.1, abs=1e-12)
    rng = np.random.default_rng(3)
    m = rng.normal(0.6, 1.0, (300, 120))
    m[:, :12] = -rng.uniform(2, 6, (300, 12))
    ours = mx.irr_periodic(m)
    ref = np.array([npf.irr(row) for row in m])
    ok = ~np.isnan(ref) & (ref > -0.2) & (ref < 0.3)
    np.testing.assert_allclose(ours[ok], ref[ok], atol=1e-12)
    assert np.array_equal(mx.irr_periodic(m[7:9]), ours[7:9])


def test_irr_reads_column_major_flows_in_place_with_the_same_bits():
    """The engine's monthly equity flows are (paths, months) views of (months, paths) arrays: the IRR reads them in
    place (no transposing copy) and returns the row-major answer to the bit; a strided slice is copied first."""
    rng = np.random.default_rng(5)
    m = rng.normal(0.6, 1.0, (120, 200)).T  # F-ordered (200 paths, 120 months)
    m[:, :12] = -rng.uniform(2, 6, (200, 12))
    assert m.flags.f_contiguous and not m.flags.c_contiguous
    c = np.ascontiguousarray(m)
    assert mx.irr_periodic(m).tobytes() == mx.irr_periodic(c).tobytes()
    assert mx.irr(m[:, :31]).tobytes() == mx.irr(c[:, :31]).tobytes()  # a non-contiguous slice


def test_npv_is_end_of_year_discounting():
    f = np.array([[10.0, 20.0, 30.0]])
    hand = 10 / 1.05 + 20 / 1.05**2 + 30 / 1.05**3
    assert mx.npv(0.05, f)[0] == pytest.approx(hand)
    # numpy-financial's npv takes the first flow at t = 0: ours equals it with a zero flow in front, / (1 + r)^0
    assert mx.npv(0.05, f)[0] == pytest.approx(npf.npv(0.05, [0.0, 10.0, 20.0, 30.0]))


def test_annuity_payment_matches_numpy_financial_pmt():
    for rate, n, b in ((0.03, 360, 1e6), (0.0225, 60, 5e7), (0.0, 12, 1200.0)):
        assert annuity_payment(b, rate / 12, n) == pytest.approx(-npf.pmt(rate / 12, n, b))


def test_dscr_min_dscr_and_llcr_by_hand():
    cf = np.array([[120.0, 90.0, 150.0, 0.0]])
    ds = np.array([[100.0, 100.0, 100.0, 0.0]])
    d = mx.dscr(cf, ds)
    assert d[0, :3].tolist() == [1.2, 0.9, 1.5] and np.isnan(d[0, 3])
    assert mx.min_dscr(cf, ds)[0] == pytest.approx(0.9)
    assert np.isnan(mx.min_dscr(np.zeros((1, 0)), np.zeros((1, 0)))[0])
    # LLCR: CFADS 100 a month for 3 months at 1 % a month over a 250 loan
    llcr = mx.llcr(np.array([100.0, 100.0, 100.0]), 0.01, 250.0)
    assert llcr == pytest.approx((100 + 100 / 1.01 + 100 / 1.01**2) / 250)


def test_bond_coverage_ratio_as_approvals_compute_it():
    # 本息覆盖倍数: net revenue 1.2 m a year for 10 years over a 10 m bond at 2 % paid yearly with a bullet
    revenue = np.full(10, 1.2e6)
    interest = np.full(10, 0.2e6)
    principal = np.zeros(10)
    principal[-1] = 10e6
    assert mx.bond_coverage_ratio(revenue, principal, interest) == pytest.approx(12e6 / 12e6)


def test_peak_funding_need_and_var_cvar():
    assert mx.peak_funding_need([10.0, 0.0, 5.0, 0.0], [0.0, 3.0, 0.0, 0.0], [0.0, 0.0, 4.0, 20.0]) == 14.0
    losses = np.r_[np.zeros(95), [10.0, 20.0, 30.0, 40.0, 50.0]]
    var, cvar = mx.var_cvar(losses, 0.95)
    assert var == 0.0 and cvar == pytest.approx(30.0)  # the mean of the worst 5 paths
    var99, cvar99 = mx.var_cvar(losses, 0.99)
    assert var99 == 40.0 and cvar99 == pytest.approx(50.0)


def test_monte_carlo_standard_errors():
    assert mx.mc_standard_error_prob(0.1, 900) == pytest.approx(0.01)
    x = np.array([1.0, 2.0, 3.0, 4.0])
    assert mx.mc_standard_error_mean(x) == pytest.approx(x.std(ddof=1) / 2)

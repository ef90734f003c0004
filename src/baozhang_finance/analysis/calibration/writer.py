"""The ``[market]`` block of a calibration as TOML text (the CLI writes it; no I/O here).

The text is ready to paste into a scenario: the field names are the scenario's own, every value is finite and
inside its field's range, each line's comment gives the standard error and how the value was obtained, the
header states the data window and source. A ``[market.parameter_uncertainty]`` table lists the SEs, so a run
can draw the parameters per chunk (see :mod:`baozhang_finance.run.uncertainty`).
"""

from __future__ import annotations

from baozhang_finance.analysis.calibration.estimate import Calibration
from baozhang_finance.model.scenario import DRIVERS


def _fmt(x: float) -> str:
    return repr(round(float(x), 6)) if x != 0 else "0.0"


def market_toml(cal: Calibration, uncertainty: bool = True, paths_per_draw: int = 500) -> str:
    """The ``[market]`` table (and, with ``uncertainty``, its ``[market.parameter_uncertainty]``) as TOML text."""
    lo, hi = cal.window
    lines = [
        f"# [market] calibrated by `baozhang calibrate` from {cal.source}"
        + (f", city {cal.city}" if cal.city else ""),
        f"# data window {lo} – {hi}; each comment: SE (standard error) and how the value was obtained.",
        "# Values without an SE are not estimated from the data (assumptions, or given): review them.",
    ]
    if cal.break_info:
        b = cal.break_info
        lines.append(f"# house-price break at {b['date']} (95 % interval {b['ci'][0]} – {b['ci'][1]}, sup-F "
                     f"{b['sup_f']:.1f}); drift before {b['mu_before']:+.4f} (SE {b['se_before']:.4f}), "
                     f"after {b['mu_after']:+.4f} (SE {b['se_after']:.4f}), per year")
    for n in cal.notes:
        lines.append(f"# note: {n}")
    lines.append("[market]")
    width = max(len(k) for k in cal.params) + 3 + 10
    for k, e in cal.params.items():
        left = f"{k} = {_fmt(e.value)}"
        se = f"SE {e.se:.3g}" if e.se is not None else "no SE"
        n = f", n = {e.n}" if e.n > 1 else ""
        lines.append(f"{left:<{width}}# {se}{n}; {e.how}")
    lines.append(f"# order: {', '.join(DRIVERS)}; innovations' correlation, pairwise then nearest valid matrix")
    lines.append("correlation = [")
    for i, row in enumerate(cal.correlation):
        cells = ", ".join(f"{x:.4f}" for x in row)
        ses = ", ".join(f"{s:.2f}" if cal.correlation_n[i, j] else "—" for j, s in enumerate(cal.correlation_se[i]))
        lines.append(f"  [{cells}],  # SE [{ses}]")
    lines.append("]")
    se = cal.standard_errors()
    if uncertainty and se:
        lines += ["", "# sampling uncertainty of the estimates: a run draws these per chunk (enabled = false to switch off)",
                  "[market.parameter_uncertainty]", "enabled = true",
                  f"paths_per_draw = {int(paths_per_draw)}                 # one draw per chunk of this many paths",
                  "[market.parameter_uncertainty.se]"]
        for k, v in se.items():
            lines.append(f"{k} = {_fmt(v)}")
    return "\n".join(lines) + "\n"

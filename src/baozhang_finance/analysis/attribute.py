"""What the answer rests on: the conventions, switched from the ``legacy`` preset to the scenario's settings.

On common random numbers (the same seed, paths and chunk size for every run), each convention that the scenario sets
differently from the legacy preset is a *factor*:

* ``soe_pays`` — what SOE money may pay (legacy: everything in the waterfall's order, special bonds included);
* ``distributions_return`` — the programme's distributions refill the SOE's pot (legacy: only when
  ``waterfall.soe_support_revolving``, up to the stated capacity);
* ``yearly_capacity`` — the SOE's other business adds to the pot each year (legacy: nothing);
* ``relending_repricing`` — each loan's ``relending.reprice_probability`` (legacy: the rate steps up automatically
  when relending ends, i.e. probability 1);
* ``fiscal_discount`` — fiscal costs at the local-bond yield (legacy: at the SOE's rate), only when the scenario
  leaves ``programme.fiscal_discount_rate`` out;
* ``cure_<name>`` — each ``[cures]`` table present (legacy: no cure);
* ``materiality`` — a call counts only above ``policy.materiality_share_of_investment`` × investment (legacy: any
  yuan is a call); it needs no run of its own.

The measures are P(call) = P(PV of hidden-debt calls > materiality) (any yuan when materiality is off) and E[PV of
material calls] = mean over paths of PV × 1{material}. With v(S) the measure when the factors in S are at the
scenario's setting and the others at legacy, the answer is attributed three ways:

* **one at a time** from the legacy preset: v({i}) − v(∅);
* **waterfall**, in the listed order: v({1..i}) − v({1..i−1}), summing to v(N) − v(∅);
* **Shapley**, order-free: φ_i = Σ_{S ⊆ N∖{i}} |S|! (k − |S| − 1)! / k! · (v(S ∪ {i}) − v(S)); Σ φ_i = v(N) − v(∅).

Shapley needs v on every subset: 2^k' runs for the k' factors that change the simulation (materiality is free).
v(∅) is run with ``support.conventions = "default"`` and every factor at its legacy value, and is checked against
the legacy conventions themselves (:func:`legacy_gap`, tested to be zero on the bundled demo).

Optionally the ``inputs`` most uncertain inputs (ranked by their P(call) swing on the same seed) are swung low → high on the
scenario's settings, one at a time, beside the conventions.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from typing import TYPE_CHECKING as _TC  # noqa: E402
if _TC:  # pandas is imported where used (start-up time)
    import pandas as pd

from baozhang_finance.analysis.output import Writer, save_folder, write_json
from baozhang_finance.engine.instruments.base import SENIORITY_PRESETS
from baozhang_finance.model.scenario import Scenario, total_uses_yuan
from baozhang_finance.analysis.inputs import make_inputs, typed
from baozhang_finance.model.fields import apply_overrides
from baozhang_finance.model.support import LOCAL_BOND_YIELD, with_conventions
from baozhang_finance.run.settings import RunSettings
from baozhang_finance.run.simulate import simulate

ATTRIBUTE_PATHS = 2000
MEASURES = ("p_call", "expected_pv")
#: a tranche kind of the engine → the name ``support.soe_pays`` gives it
_PAYS = {"bank_loan": "bank_debt", "special_bond": "special_bonds", "soe_bond": "soe_bonds"}
_CURES = ("extension", "refinancing", "sinking_fund", "disposal")


@dataclass(frozen=True)
class Factor:
    """One convention: its name, labels, and how to put a scenario back to the legacy setting of it."""

    name: str
    en: str
    zh: str
    to_legacy: Callable[[Scenario], Scenario]
    simulated: bool = True  # False: acts on the measure only (materiality)


def _update(sc: Scenario, table: str, **kw) -> Scenario:
    return sc.model_copy(update={table: getattr(sc, table).model_copy(update=kw)})


def legacy_soe_pays(sc: Scenario) -> list[str]:
    """What SOE money pays under legacy: operating costs, then every tranche in the waterfall's rank order."""
    ranks = [k for k, _ in sorted(SENIORITY_PRESETS[sc.waterfall.seniority].items(), key=lambda kv: kv[1])]
    return ["operating_costs", *[_PAYS[k] for k in ranks if k in _PAYS]]


def _relending_to_legacy(sc: Scenario) -> Scenario:
    projects = []
    for p in sc.projects:
        loans = [ln.model_copy(update={"relending": ln.relending.model_copy(update={"reprice_probability": 1.0})})
                 if ln.relending is not None else ln for ln in p.financing.loans]
        projects.append(p.model_copy(update={"financing": p.financing.model_copy(update={"loans": loans})}))
    return sc.model_copy(update={"projects": projects})


def _reprice_differs(sc: Scenario) -> bool:
    return any(ln.relending is not None and ln.relending.reprice_probability != 1.0
               for p in sc.projects for ln in p.financing.loans)


def factors(sc: Scenario) -> list[Factor]:
    """The factors on which the scenario's settings differ from the legacy preset, in waterfall order."""
    out = []
    sp, w = sc.support, sc.waterfall
    if list(sp.soe_pays) != legacy_soe_pays(sc):
        out.append(Factor("soe_pays", "what SOE money pays (special bonds or not)", "国企资金支付范围(是否含专项债)",
                          lambda s: _update(s, "support", soe_pays=legacy_soe_pays(s))))
    legacy_returns = w.soe_support_revolving
    if (sp.distributions_return or legacy_returns) != legacy_returns or (legacy_returns and sp.pot_cap_yuan != w.soe_support_capacity_yuan):
        out.append(Factor("distributions_return", "distributions return to the SOE's pot", "分配资金回流国企资金池",
                          lambda s: _update(s, "support", distributions_return=False,
                                            pot_cap_yuan=s.waterfall.soe_support_capacity_yuan
                                            if s.waterfall.soe_support_revolving else s.support.pot_cap_yuan)))
    if sp.yearly_capacity_yuan > 0:
        out.append(Factor("yearly_capacity", "the SOE's yearly capacity from other business", "国企其他业务年度支持能力",
                          lambda s: _update(s, "support", yearly_capacity_yuan=0.0)))
    if _reprice_differs(sc):
        out.append(Factor("relending_repricing", "relending repricing (probability, not automatic step-up)",
                          "再贷款到期重定价(概率,而非自动上调)", _relending_to_legacy))
    if sc.programme.fiscal_discount_rate is None and sc.programme.discount_rate != _local_bond_yield():
        out.append(Factor("fiscal_discount", "fiscal costs at the local-bond yield", "财政成本按地方债收益率折现",
                          lambda s: _update(s, "programme", fiscal_discount_rate=s.programme.discount_rate)))
    for name in _CURES:
        if getattr(sc.cures, name) is not None:
            out.append(Factor(f"cure_{name}", f"cure: {name.replace('_', ' ')}", f"化解措施: {_CURE_ZH[name]}",
                              lambda s, n=name: _update(s, "cures", **{n: None})))
    if sc.policy.materiality_share_of_investment > 0:
        out.append(Factor("materiality", "materiality threshold", "重要性门槛", lambda s: s, simulated=False))
    return out


_CURE_ZH = {"extension": "银行贷款展期", "refinancing": "再融资专项债券", "sinking_fund": "偿债基金",
            "disposal": "整体转让(REITs/国有主体)"}


def _local_bond_yield() -> float:
    return LOCAL_BOND_YIELD


def configure(sc: Scenario, on: Iterable[str], fs: Sequence[Factor]) -> Scenario:
    """The scenario (default conventions) with the factors in ``on`` at the scenario's setting, the rest at legacy."""
    on = set(on)
    out = with_conventions(sc, "default")
    for f in fs:
        if f.simulated and f.name not in on:
            out = f.to_legacy(out)
    return out


def measures(pv: np.ndarray, called: np.ndarray, threshold: float) -> dict[str, float]:
    """P(call) and E[PV of material calls] of one run: threshold 0 = any yuan (the engine's call flag)."""
    material = called if threshold <= 0 else pv > threshold
    return {"p_call": float(material.mean()), "expected_pv": float(np.where(material, pv, 0.0).mean())}


def shapley(values: dict[frozenset, float], names: Sequence[str]) -> dict[str, float]:
    """Shapley values φ_i = Σ_{S ⊆ N∖{i}} |S|!(k−|S|−1)!/k! (v(S∪{i}) − v(S)) from v on every subset of ``names``."""
    k = len(names)
    out = {}
    for i in names:
        rest = [n for n in names if n != i]
        phi = 0.0
        for r in range(k):
            wgt = math.factorial(r) * math.factorial(k - r - 1) / math.factorial(k)
            for S in itertools.combinations(rest, r):
                s = frozenset(S)
                phi += wgt * (values[s | {i}] - values[s])
        out[i] = phi
    return out


def _empty_frame():
    """An empty table (pandas is imported where used: start-up time)."""
    import pandas as pd
    return pd.DataFrame()


@dataclass
class AttributionResult:
    """``table``: one row per factor (one-at-a-time, waterfall and Shapley contribution to each measure);
    ``waterfall``: the steps from legacy to the scenario; ``inputs``: the uncertain inputs swung (may be empty);
    ``settings``: paths, seed, chunk size, runs, the legacy and scenario values."""

    table: pd.DataFrame
    waterfall: pd.DataFrame
    settings: dict[str, Any]
    inputs: pd.DataFrame = field(default_factory=_empty_frame)
    source: str | None = None

    def save(self, out: str | Path, extra_writers: Iterable[Writer] = (), overwrite: bool = False) -> Path:
        """attribute.csv, attribute_waterfall.csv, attribute_inputs.csv (if any) and attribute.json."""
        def write(tmp: Path) -> None:
            self.table.to_csv(tmp / "attribute.csv", index=False)
            self.waterfall.to_csv(tmp / "attribute_waterfall.csv", index=False)
            if len(self.inputs):
                self.inputs.to_csv(tmp / "attribute_inputs.csv", index=False)
            write_json(tmp / "attribute.json", {"scenario": self.source, **self.settings,
                                                "factors": self.table.to_dict(orient="records"),
                                                "waterfall": self.waterfall.to_dict(orient="records")})

        return save_folder(self, out, write, extra_writers, overwrite)


def _run(sc: Scenario, settings: RunSettings):
    r = simulate(sc, **settings.simulate_kwargs())
    return r.paths["hidden_debt_pv"].to_numpy(float), r.paths["hidden_call"].to_numpy(bool)


def legacy_gap(scenario: Scenario, paths: int = 200, seed: int | None = None) -> dict[str, float]:
    """|v(∅) − legacy| for both measures: the all-legacy configuration under default conventions against the legacy
    conventions themselves, on the same random numbers (0 when the factors cover every difference)."""
    settings = RunSettings(paths=paths, seed=seed).resolved(scenario)
    fs = factors(with_conventions(scenario, "default"))
    a = measures(*_run(configure(scenario, (), fs), settings), 0.0)
    b = measures(*_run(with_conventions(scenario, "legacy"), settings), 0.0)
    return {m: abs(a[m] - b[m]) for m in MEASURES}


def attribute(scenario: Scenario, paths: int = ATTRIBUTE_PATHS, seed: int | None = None, chunk_size: int | None = None,
              inputs: int = 0, progress=None, source: str | None = None, max_factors: int = 10) -> AttributionResult:
    """Attribute P(call) and E[PV] from the legacy preset to the scenario's settings (see the module docstring).

    ``inputs`` > 0 also swings that many of the most uncertain inputs (ranked by a tornado on the same seed) low →
    high on the scenario. ``max_factors`` bounds 2^k runs: beyond it the simulated factors are merged in order
    (raise it to attribute them all).
    """
    import pandas as pd
    sc = with_conventions(scenario, "default") if scenario.support.conventions == "legacy" else scenario
    fs = factors(sc)
    settings = RunSettings(paths=paths, seed=seed, chunk_size=chunk_size).resolved(sc)
    sim = [f.name for f in fs if f.simulated]
    if len(sim) > max_factors:
        raise ValueError(f"attribute: {len(sim)} simulated factors need 2^{len(sim)} runs; raise max_factors")
    thr_on = sc.policy.materiality_share_of_investment * float(sum(total_uses_yuan(p) for p in sc.projects))
    names = [f.name for f in fs]
    runs: dict[frozenset, tuple[np.ndarray, np.ndarray]] = {}
    subsets = [frozenset(S) for r in range(len(sim) + 1) for S in itertools.combinations(sim, r)]
    for j, S in enumerate(subsets):
        runs[S] = _run(configure(sc, S, fs), settings)
        if progress is not None:
            progress(j + 1, len(subsets))
    v = {m: {} for m in MEASURES}
    for r in range(len(names) + 1):
        for S in itertools.combinations(names, r):
            s = frozenset(S)
            vals = measures(*runs[s - {"materiality"}], thr_on if "materiality" in s else 0.0)
            for m in MEASURES:
                v[m][s] = vals[m]
    empty, full = frozenset(), frozenset(names)
    phi = {m: shapley(v[m], names) for m in MEASURES}
    rows, steps = [], []
    prefix = frozenset()
    for f in fs:
        row = {"factor": f.name, "label_en": f.en, "label_zh": f.zh}
        nxt = prefix | {f.name}
        for m in MEASURES:
            row[f"{m}_one_at_a_time"] = v[m][frozenset({f.name})] - v[m][empty]
            row[f"{m}_waterfall"] = v[m][nxt] - v[m][prefix]
            row[f"{m}_shapley"] = phi[m][f.name]
        rows.append(row)
        steps.append({"step": f.name, "label_en": f.en, "label_zh": f.zh,
                      **{f"{m}_after": v[m][nxt] for m in MEASURES}})
        prefix = nxt
    table = pd.DataFrame(rows, columns=["factor", "label_en", "label_zh",
                                        *[f"{m}_{k}" for m in MEASURES for k in ("one_at_a_time", "waterfall", "shapley")]])
    waterfall = pd.DataFrame([{"step": "legacy", "label_en": "legacy preset", "label_zh": "旧版约定",
                               **{f"{m}_after": v[m][empty] for m in MEASURES}}] + steps)
    inp = _inputs_table(sc, settings, inputs, thr_on) if inputs > 0 else pd.DataFrame()
    settings_out = {"paths": settings.paths, "seed": settings.seed, "chunk_size": settings.chunk_size,
                    "runs": len(subsets), "factors": names, "materiality_yuan": thr_on,
                    "legacy": {m: v[m][empty] for m in MEASURES}, "scenario": {m: v[m][full] for m in MEASURES},
                    "total_change": {m: v[m][full] - v[m][empty] for m in MEASURES}}
    return AttributionResult(table, waterfall, settings_out, inp, source)


def _inputs_table(sc: Scenario, settings: RunSettings, top: int, threshold: float) -> pd.DataFrame:
    """The ``top`` uncertain inputs by their P(call) swing, each swung low → high on the scenario (CRN)."""
    import pandas as pd
    rows = []
    for inp in make_inputs(sc, 0.2, None):
        lo = measures(*_run(apply_overrides(sc, {inp.field: typed(inp, inp.low)}), settings), threshold)
        hi = measures(*_run(apply_overrides(sc, {inp.field: typed(inp, inp.high)}), settings), threshold)
        rows.append({"field": inp.field, "label": inp.label, "low": inp.low, "high": inp.high,
                     **{f"{m}_low": lo[m] for m in MEASURES}, **{f"{m}_high": hi[m] for m in MEASURES},
                     **{f"{m}_swing": hi[m] - lo[m] for m in MEASURES}})
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df = df.reindex(df["p_call_swing"].abs().sort_values(ascending=False, kind="mergesort").index)
    return df.head(top).reset_index(drop=True)

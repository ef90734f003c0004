"""The catalogue of named outputs: every number a user reads, with its English and Chinese label and its unit.

One registry for the four families of outputs, each in its own key space:

* ``hidden_debt.p_call``, ``bank.pd_cumulative``, ``soe.equity_irr.p50`` … — keys of :attr:`Result.summary`
  (``summary.json``), dotted; list indices are dropped (``fiscal.classification[2].share`` →
  ``fiscal.classification.share``);
* ``paths.<column>`` — the per-path columns of :attr:`Result.paths` (``paths.parquet``);
* ``yearly.<quantity>`` — the yearly ledgers (``ledgers.npz``, :meth:`Result.ledger`) and fan quantities
  (``yearly.csv``); ``flow.<item>`` — the median path's yearly cash-flow items (report.xlsx, sheet "Median path");
* ``metric.<name>`` — the sensitivity / solver metrics (:data:`measures.metrics.METRICS`), and
  ``lever.<name>`` — the levers ``baozhang solve --find`` solves for.

The table is data: ``(key, unit, English, Chinese[, digits])`` rows, some with the statistics the summary keeps of
them (``p05``, ``p50`` … expand to ``key.p05`` with the label "…, p05"). :func:`entry` looks a key up and fails
with the closest known keys for an unknown one. Formatting (万元, %, ×) is :mod:`baozhang_finance.report.format`'s
job; this module only says what a number is.

Units: ``yuan`` (money; shown in 万元), ``share`` (a probability or fraction; shown in %), ``ratio`` (a coverage
multiple, ×), ``index`` (a price index, 1 = start), ``years`` (a duration), ``year`` (a programme year number,
1 = the first), ``months``, ``count``, ``yuan_per_m2``, ``text`` and ``flag`` (yes / no).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

UNITS = ("yuan", "yuan_per_m2", "share", "ratio", "index", "years", "year", "months", "count", "text", "flag")

#: default display digits per unit (money in 万元 with no decimals, shares in % with one …)
DIGITS = {"yuan": 0, "yuan_per_m2": 0, "share": 1, "ratio": 2, "index": 3, "years": 1, "year": 0, "months": 0,
          "count": 0}


@dataclass(frozen=True)
class Entry:
    """One named output."""

    key: str
    unit: str
    en: str
    zh: str
    digits: int | None = None  # display digits (None: the unit's default)

    @property
    def places(self) -> int:
        return DIGITS.get(self.unit, 0) if self.digits is None else self.digits


#: statistics of a distribution across paths, as the summary names them
Q3 = ("p05", "p50", "p95")
Q2 = ("p50", "p95")
FAN = ("mean", "p05", "p25", "p50", "p75", "p95")
_STAT_EN = {"mean": "mean", "p05": "p05", "p25": "p25", "p50": "median", "p75": "p75", "p95": "p95", "p99": "p99",
            "max": "max"}
_STAT_ZH = {"mean": "均值", "p05": "5%分位", "p25": "25%分位", "p50": "中位数", "p75": "75%分位", "p95": "95%分位",
            "p99": "99%分位", "max": "最大值"}

# (key, unit, English, Chinese[, digits][, statistics])
_ROWS: tuple[tuple, ...] = (
    # ------------------------------------------------------------------ summary: programme and run
    ("programme.name", "text", "programme", "项目名称"),
    ("programme.city", "text", "city", "城市"),
    ("programme.total_investment_yuan", "yuan", "total investment", "总投资"),
    ("programme.projects.name", "text", "project", "子项目"),
    ("programme.projects.type", "text", "project type", "项目类型"),
    ("programme.projects.units", "count", "units", "套数"),
    ("programme.projects.total_investment_yuan", "yuan", "project investment", "项目总投资"),
    ("programme.projects.equity_share", "share", "equity share", "资本金比例"),
    ("programme.projects.capital_share", "share", "capital share (equity + qualifying bonds)", "资本金(含专项债)比例"),
    ("run.paths", "count", "Monte Carlo paths", "模拟路径数"),
    ("run.seed", "count", "master seed", "随机种子"),
    ("run.chunk_size", "count", "paths per chunk", "每块路径数"),
    ("run.stress", "text", "stress overlay", "压力情景"),
    ("run.deterministic", "flag", "deterministic (expected market path)", "确定性路径"),
    ("run.standard_errors.p_call", "share", "SE of P(hidden-debt call)", "隐性债务触发概率标准误", 2),
    ("run.standard_errors.expected_pv", "yuan", "SE of expected hidden-debt PV", "隐性债务现值期望标准误"),
    ("run.standard_errors.p_self_financing", "share", "SE of P(self-financing)", "自求平衡概率标准误", 2),
    # ------------------------------------------------------------------ summary: fiscal lens
    ("hidden_debt.p_call", "share", "P(hidden-debt call)", "隐性债务触发概率"),
    ("hidden_debt.expected_pv", "yuan", "expected hidden debt, PV", "隐性债务现值期望"),
    ("hidden_debt.var95_pv", "yuan", "hidden-debt PV, VaR95", "隐性债务现值 VaR95"),
    ("hidden_debt.cvar95_pv", "yuan", "hidden-debt PV, CVaR95", "隐性债务现值 CVaR95"),
    ("hidden_debt.var99_pv", "yuan", "hidden-debt PV, VaR99", "隐性债务现值 VaR99"),
    ("hidden_debt.cvar99_pv", "yuan", "hidden-debt PV, CVaR99", "隐性债务现值 CVaR99"),
    ("hidden_debt.pv_given_call", "yuan", "hidden-debt PV given a call", "触发时隐性债务现值", None, Q2),
    ("hidden_debt.p_call_by_year", "share", "P(hidden-debt call) in the year", "当年隐性债务触发概率"),
    ("hidden_debt.p_call_cumulative", "share", "P(hidden-debt call) by the year", "累计隐性债务触发概率"),
    ("hidden_debt.first_call_year", "year", "first call year (paths with a call)", "首次触发年份", None, Q3),
    ("hidden_debt.first_call_year.n_calls", "count", "paths with a call", "触发路径数"),
    ("hidden_debt.first_call_year.share_by_year", "share", "share of paths first called in the year",
     "当年首次触发路径占比"),
    ("hidden_debt.peak_share_of_fiscal_revenue", "share", "peak yearly call ÷ fiscal revenue",
     "年度代偿峰值占财政收入比", 3, ("p50", "p95", "p99", "max")),
    ("coverage.p_self_financing", "share", "P(self-financing: no support at all)", "完全自求平衡概率"),
    ("coverage.bond_coverage_ratio", "ratio", "bond coverage ratio", "本息覆盖倍数", None, ("mean", "p05", "p50")),
    ("coverage.bond_coverage_after_bank", "ratio", "bond coverage after bank service", "扣除银行本息后本息覆盖倍数",
     None, ("p05", "p50")),
    ("coverage.dscr_min", "ratio", "minimum DSCR (bank + bonds, operating window)", "最低偿债覆盖率 DSCR", None, Q3),
    ("coverage.llcr", "ratio", "LLCR", "贷款寿命覆盖率 LLCR", None, ("p05", "p50")),
    ("fiscal.classification.class", "text", "payer class", "承担方类别"),
    ("fiscal.classification.label", "text", "payer", "承担方"),
    ("fiscal.classification.expected_pv_yuan", "yuan", "expected PV paid", "承担金额现值期望"),
    ("fiscal.classification.probability", "share", "P(pays anything)", "承担概率"),
    ("fiscal.classification.share", "share", "share of the gap", "缺口占比"),
    ("fiscal.explicit_bond_burden.p_call", "share", "P(explicit special-bond burden)", "专项债显性负担概率"),
    ("fiscal.explicit_bond_burden.expected_pv", "yuan", "explicit special-bond burden, expected PV",
     "专项债显性负担现值期望"),
    ("fiscal.explicit_bond_burden.var95_pv", "yuan", "explicit bond burden PV, VaR95", "专项债显性负担 VaR95"),
    ("fiscal.explicit_bond_burden.cvar95_pv", "yuan", "explicit bond burden PV, CVaR95", "专项债显性负担 CVaR95"),
    ("fiscal.explicit_bond_burden.p_call_by_year", "share", "P(explicit bond burden) in the year",
     "当年专项债显性负担概率"),
    ("fiscal.soe_support.p_support", "share", "P(SOE support)", "国企支持概率"),
    ("fiscal.soe_support.expected_pv", "yuan", "SOE support, expected PV", "国企支持现值期望"),
    ("fiscal.soe_support.p95_pv", "yuan", "SOE support PV, p95", "国企支持现值 95%分位"),
    # ------------------------------------------------------------------ summary: bank lens
    ("bank.has_bank_debt", "flag", "has bank debt", "有银行贷款"),
    ("bank.bank_principal_yuan", "yuan", "bank principal", "银行贷款本金"),
    ("bank.loan_life_years", "years", "loan life", "贷款期限"),
    ("bank.pd_lifetime", "share", "PD over the loan life (standalone)", "违约概率 PD(贷款期)"),
    ("bank.pd_annualised", "share", "PD, annualised", "年化违约概率 PD", 2),
    ("bank.pd_cumulative", "share", "cumulative PD by year", "累计违约概率 PD"),
    ("bank.time_to_default.mean_years", "years", "years to default, mean", "违约时间 均值"),
    ("bank.time_to_default.p05_years", "years", "years to default, p05", "违约时间 5%分位"),
    ("bank.time_to_default.p50_years", "years", "years to default, median", "违约时间 中位数"),
    ("bank.time_to_default.p95_years", "years", "years to default, p95", "违约时间 95%分位"),
    ("bank.time_to_default.n_defaults", "count", "defaulted paths", "违约路径数"),
    ("bank.time_to_default.pd_by_year", "share", "PD in the year", "当年违约概率"),
    ("bank.lgd_mean", "share", "LGD, mean (defaulted paths)", "违约损失率 LGD 均值"),
    ("bank.lgd", "share", "LGD", "违约损失率 LGD", None, Q2),
    ("bank.lgd_price_basis", "text", "LGD price basis", "LGD 价格基准"),
    ("bank.ead", "yuan", "EAD", "违约风险暴露 EAD", None, ("mean", "p50", "p95")),
    ("bank.collateral_at_sale.mean", "yuan", "collateral value at sale, mean", "处置时抵押物价值 均值"),
    ("bank.expected_loss", "yuan", "expected loss", "预期损失"),
    ("bank.expected_loss_se", "yuan", "SE of expected loss", "预期损失标准误"),
    ("bank.expected_loss_rate", "share", "EL rate (EL ÷ principal)", "预期损失率", 2),
    ("bank.regulatory_el_rate", "share", "regulatory EL rate (slotting)", "监管预期损失率", 2),
    ("bank.dscr_test_years", "year", "bank DSCR test years", "DSCR 测试年份"),
    ("bank.dscr_bank_min", "ratio", "minimum bank DSCR", "银行最低偿债覆盖率 DSCR", None, Q3),
    ("bank.dscr_bank_by_year", "ratio", "bank DSCR by year", "银行年度偿债覆盖率 DSCR", None, Q3),
    ("bank.p_dscr_bank_min_below_1", "share", "P(minimum bank DSCR < 1)", "银行 DSCR 低于 1 的概率"),
    ("bank.ltv_peak", "share", "peak LTV", "峰值抵押率 LTV", None, Q2),
    ("bank.ltv_by_year", "share", "LTV by year", "年度抵押率 LTV", None, Q3),
    ("bank.grade", "text", "slotting grade", "监管分类等级"),
    ("bank.risk_weight", "share", "risk weight", "风险权重", 0),
    ("bank.grade_criteria.pd_annualised.value", "share", "grade criterion: annualised PD", "分级依据: 年化 PD", 2),
    ("bank.grade_criteria.pd_annualised.category", "text", "grade by annualised PD", "按年化 PD 分级"),
    ("bank.grade_criteria.dscr_min_p50.value", "ratio", "grade criterion: median minimum DSCR", "分级依据: DSCR 中位数"),
    ("bank.grade_criteria.dscr_min_p50.category", "text", "grade by DSCR", "按 DSCR 分级"),
    ("bank.grade_criteria.ltv_peak_p50.value", "share", "grade criterion: median peak LTV", "分级依据: LTV 中位数"),
    ("bank.grade_criteria.ltv_peak_p50.category", "text", "grade by LTV", "按 LTV 分级"),
    # ------------------------------------------------------------------ summary: SOE lens
    ("soe.equity_irr", "share", "equity IRR", "资本金内部收益率 IRR", None, Q3),
    ("soe.equity_irr_undefined_share", "share", "share of paths with no equity IRR", "IRR 无定义路径占比"),
    ("soe.project_irr", "share", "project IRR", "项目内部收益率 IRR", None, Q3),
    ("soe.npv", "yuan", "equity NPV", "资本金净现值 NPV", None, Q3),
    ("soe.p_npv_negative", "share", "P(equity NPV < 0)", "净现值为负的概率"),
    ("soe.peak_funding_need", "yuan", "peak funding need", "峰值资金需求", None, ("mean", "p50", "p95")),
    ("soe.lockup_years", "years", "years of distribution lock-up", "分配锁定年数", None, ("mean",) + Q3),
    ("soe.lockup_years.p_any", "share", "P(any lock-up)", "出现分配锁定的概率"),
    ("soe.lockup_years.share_locked_by_year", "share", "share of paths locked up in the year", "当年锁定路径占比"),
    ("soe.cash_balance_fan", "yuan", "reserves + retained cash at year end", "年末准备金及留存现金", None, FAN),
    ("soe.exhaustion_year.p_exhausted", "share", "P(SOE support exhausted)", "国企支持能力耗尽概率"),
    ("soe.exhaustion_year.p50", "year", "year SOE support is exhausted, median", "国企支持耗尽年份中位数"),
    ("hidden_debt.first_shortfall_year.p_shortfall", "share", "P(a project falls short after cures)", "项目出现资金缺口的概率"),
    ("hidden_debt.first_shortfall_year.p50", "year", "first shortfall year, median", "首次资金缺口年份中位数"),
    ("paths.first_shortfall_year", "year", "first shortfall year", "首次资金缺口年份"),
    ("paths.soe_exhausted", "flag", "SOE support exhausted", "国企支持耗尽"),
    ("paths.soe_exhaustion_year", "year", "year SOE support is exhausted", "国企支持耗尽年份"),
    ("cures.extension.p_used", "share", "P(bank-loan extension used)", "银行贷款展期使用概率"),
    ("cures.extension.expected_yuan", "yuan", "bank-loan extension: expected amount", "银行贷款展期期望金额"),
    ("cures.extension.p95_yuan", "yuan", "bank-loan extension: amount, p95", "银行贷款展期金额95%分位"),
    ("paths.cure_extension_yuan", "yuan", "bank-loan extension: amount", "银行贷款展期金额"),
    ("cures.refinancing.p_used", "share", "P(refinancing bonds used)", "再融资专项债券使用概率"),
    ("cures.refinancing.expected_yuan", "yuan", "refinancing bonds: expected amount", "再融资专项债券期望金额"),
    ("cures.refinancing.p95_yuan", "yuan", "refinancing bonds: amount, p95", "再融资专项债券金额95%分位"),
    ("paths.cure_refinancing_yuan", "yuan", "refinancing bonds: amount", "再融资专项债券金额"),
    ("cures.sinking_fund.p_used", "share", "P(sinking fund used)", "偿债基金使用概率"),
    ("cures.sinking_fund.expected_yuan", "yuan", "sinking fund: expected amount", "偿债基金期望金额"),
    ("cures.sinking_fund.p95_yuan", "yuan", "sinking fund: amount, p95", "偿债基金金额95%分位"),
    ("paths.cure_sinking_fund_yuan", "yuan", "sinking fund: amount", "偿债基金金额"),
    ("cures.disposal.p_used", "share", "P(disposal to a REIT / state buyer used)", "整体转让（REITs / 国有主体）使用概率"),
    ("cures.disposal.expected_yuan", "yuan", "disposal to a REIT / state buyer: expected amount", "整体转让（REITs / 国有主体）期望金额"),
    ("cures.disposal.p95_yuan", "yuan", "disposal to a REIT / state buyer: amount, p95", "整体转让（REITs / 国有主体）金额95%分位"),
    ("paths.cure_disposal_yuan", "yuan", "disposal to a REIT / state buyer: amount", "整体转让（REITs / 国有主体）金额"),
    ("cures.extension.expected_count", "count", "bank-loan extensions per path, mean", "银行贷款展期次数均值", 2),
    ("paths.cure_extension_count", "count", "bank-loan extensions", "银行贷款展期次数"),
    ("paths.cure_extension_fee_yuan", "yuan", "extension fees capitalised", "展期费用（计入本金）"),
    ("paths.refinancing_balance_end_yuan", "yuan", "refinancing bonds outstanding at the horizon", "期末再融资专项债券余额"),
    ("fiscal.refinancing_need_by_year.mean", "yuan", "refinancing need by year, mean", "分年再融资需求均值"),
    ("fiscal.refinancing_need_by_year.p95", "yuan", "refinancing need by year, p95", "分年再融资需求95%分位"),
    ("fiscal.refinancing_balance_at_horizon.mean", "yuan", "refinancing bonds outstanding at the horizon, mean",
     "期末再融资专项债券余额均值"),
    ("fiscal.refinancing_balance_at_horizon.p95", "yuan", "refinancing bonds outstanding at the horizon, p95",
     "期末再融资专项债券余额95%分位"),
    ("paths.disposal_year", "year", "year of the first disposal of a rental block", "首次整体转让年份"),
    ("sale.p_walkaway", "share", "P(pre-subscribed buyers walk away at hand-over)", "认购人交付时弃购的概率"),
    ("sale.walkaway_units.mean", "count", "units walked away at hand-over, mean", "交付时弃购套数均值"),
    ("sale.walkaway_units.p95", "count", "units walked away at hand-over, p95", "交付时弃购套数95%分位"),
    ("sale.forfeited_deposits_yuan.mean", "yuan", "deposits forfeited by walk-aways, mean", "弃购没收定金均值"),
    ("paths.walkaway_units", "count", "units walked away at hand-over", "交付时弃购套数"),
    ("paths.forfeited_deposits_yuan", "yuan", "deposits forfeited by walk-aways", "弃购没收定金"),
    # ------------------------------------------------------------------ per-path columns (paths.parquet)
    ("paths.path", "count", "path number", "路径编号"),
    ("paths.hidden_call", "flag", "hidden-debt call", "隐性债务触发"),
    ("paths.hidden_debt_pv", "yuan", "hidden-debt PV", "隐性债务现值"),
    ("paths.first_call_year", "year", "first call year", "首次触发年份"),
    ("paths.peak_call_share_of_fiscal", "share", "peak yearly call ÷ fiscal revenue", "年度代偿峰值占财政收入比", 3),
    ("paths.explicit_bond_call", "flag", "explicit bond burden", "专项债显性负担"),
    ("paths.explicit_bond_burden_pv", "yuan", "explicit bond-burden PV", "专项债显性负担现值"),
    ("paths.soe_support_pv", "yuan", "SOE-support PV", "国企支持现值"),
    ("paths.support_total", "yuan", "support from anyone, total", "各方支持合计"),
    ("paths.self_financing", "flag", "self-financing", "自求平衡"),
    ("paths.dscr_min", "ratio", "minimum DSCR (bank + bonds, operating window)", "最低偿债覆盖率 DSCR"),
    ("paths.dscr_min_all_years", "ratio", "minimum DSCR (bank + bonds, every year)", "全期最低偿债覆盖率 DSCR"),
    ("paths.bank_dscr_min_project", "ratio", "minimum bank DSCR of the project", "项目银行最低 DSCR"),
    ("paths.llcr", "ratio", "LLCR", "贷款寿命覆盖率 LLCR"),
    ("paths.bond_coverage_ratio", "ratio", "bond coverage ratio", "本息覆盖倍数"),
    ("paths.bond_coverage_after_bank", "ratio", "bond coverage after bank service", "扣除银行本息后本息覆盖倍数"),
    ("paths.default", "flag", "bank default", "银行违约"),
    ("paths.default_month", "months", "default month", "违约月份"),
    ("paths.ead", "yuan", "EAD", "违约风险暴露 EAD"),
    ("paths.collateral_at_default", "yuan", "collateral value at default", "违约时抵押物价值"),
    ("paths.hpi_at_default", "index", "house-price index at default", "违约时房价指数"),
    ("paths.hpi_at_sale", "index", "house-price index at sale", "处置时房价指数"),
    ("paths.equity_npv", "yuan", "equity NPV", "资本金净现值 NPV"),
    ("paths.equity_irr", "share", "equity IRR", "资本金内部收益率 IRR"),
    ("paths.project_irr", "share", "project IRR", "项目内部收益率 IRR"),
    ("paths.peak_funding_need", "yuan", "peak funding need", "峰值资金需求"),
    ("paths.lockup_years", "years", "years of distribution lock-up", "分配锁定年数"),
    ("paths.hpi_end", "index", "house-price index at the horizon", "期末房价指数"),
    ("paths.terminal_equity", "yuan", "terminal equity", "期末权益"),
    # ------------------------------------------------------------------ yearly ledgers and fans
    ("yearly.cfads", "yuan", "CFADS", "可偿债现金流 CFADS"),
    ("yearly.debt_service", "yuan", "debt service (bank + bonds)", "还本付息"),
    ("yearly.cash_balance", "yuan", "reserves + retained cash at year end", "年末准备金及留存现金"),
    ("yearly.gov_hidden", "yuan", "hidden-debt call", "隐性债务代偿"),
    ("yearly.gov_bond", "yuan", "explicit bond burden", "专项债兜底"),
    ("yearly.soe_support", "yuan", "SOE support", "国企支持"),
    ("yearly.cum_support", "yuan", "support from anyone, cumulative", "累计支持"),
    ("yearly.bank_balance", "yuan", "bank balance at year end", "年末银行贷款余额"),
    ("yearly.collateral_value", "yuan", "collateral value", "抵押物价值"),
    ("yearly.lockup_months", "months", "months of distribution lock-up", "分配锁定月数"),
    ("yearly.refinancing", "yuan", "special-bond principal refinanced", "再融资专项债券发行额"),
    ("yearly.dscr", "ratio", "DSCR (CFADS ÷ all debt service)", "偿债覆盖率 DSCR"),
    ("yearly.ltv", "share", "LTV", "抵押率 LTV"),
    # ------------------------------------------------------------------ median path: yearly cash-flow items
    ("flow.rent", "yuan", "rent collected", "租金"),
    ("flow.rent_subsidy", "yuan", "rent subsidy", "租金补贴"),
    ("flow.sales", "yuan", "sale proceeds", "销售回款"),
    ("flow.op_grants", "yuan", "operating grants", "运营补助"),
    ("flow.interest_subsidy", "yuan", "interest subsidy", "贴息"),
    ("flow.running_costs", "yuan", "running costs", "运营成本"),
    ("flow.rent_costs", "yuan", "mgmt, taxes, capex on rent", "管理税费"),
    ("flow.sales_tax", "yuan", "sales taxes", "销售税费"),
    ("flow.buybacks", "yuan", "buybacks", "回购"),
    ("flow.cfads", "yuan", "CFADS", "可偿债现金流"),
    ("flow.bank_interest", "yuan", "bank interest", "银行利息"),
    ("flow.bank_principal", "yuan", "bank principal", "银行本金"),
    ("flow.prepayment", "yuan", "prepayment (sweep)", "提前还款"),
    ("flow.bond_interest", "yuan", "bond interest", "专项债利息"),
    ("flow.bond_principal", "yuan", "bond principal", "专项债本金"),
    ("flow.distributions", "yuan", "distributions", "分配"),
    ("flow.short_opex", "yuan", "shortfall: costs", "成本缺口"),
    ("flow.short_bank", "yuan", "shortfall: bank", "银行缺口"),
    ("flow.short_bond", "yuan", "shortfall: bonds", "专项债缺口"),
    ("flow.sources", "yuan", "funding drawn", "融资到位"),
    ("flow.uses", "yuan", "acquisition & works", "收购及改造"),
    ("flow.dsra", "yuan", "DSRA at year end", "偿债准备金"),
    ("flow.cash", "yuan", "retained cash at year end", "留存现金"),
    ("flow.held", "count", "units held at year end", "持有套数", 1),
    ("flow.occupancy", "share", "occupancy (mean)", "出租率"),
    ("flow.soe_support", "yuan", "SOE support", "国企支持"),
    ("flow.gov_hidden", "yuan", "hidden-debt call", "隐性债务代偿"),
    ("flow.gov_bond", "yuan", "explicit bond burden", "专项债兜底"),
    ("flow.hpi", "index", "house-price index at year end", "房价指数"),
    ("flow.lpr", "share", "5-year LPR (mean)", "五年期 LPR", 2),
    ("flow.fiscal", "yuan", "fiscal revenue", "财政收入"),
    # ------------------------------------------------------------------ sensitivity and solver metrics
    ("metric.p_call", "share", "P(hidden-debt call)", "隐性债务触发概率"),
    ("metric.hidden_debt_pv", "yuan", "expected hidden-debt PV", "隐性债务现值期望"),
    ("metric.p_dscr_below_1", "share", "P(min bank DSCR < 1), bank test window", "银行 DSCR 低于 1 的概率"),
    ("metric.p_total_dscr_below_1", "share", "P(min DSCR < 1), bank + bonds, operating window",
     "DSCR 低于 1 的概率(运营期)"),
    ("metric.p_dscr_all_years_below_1", "share", "P(min DSCR < 1), bank + bonds, every year",
     "DSCR 低于 1 的概率(全期)"),
    ("metric.bank_dscr_min_p05", "ratio", "min bank DSCR, p05", "银行最低 DSCR 5%分位"),
    ("metric.bank_dscr_min_p50", "ratio", "min bank DSCR, median", "银行最低 DSCR 中位数"),
    ("metric.dscr_min_p05", "ratio", "min DSCR (bank + bonds, operating window), p05", "最低偿债覆盖率 DSCR 5%分位"),
    ("metric.dscr_min_p50", "ratio", "min DSCR (bank + bonds, operating window), median",
     "最低偿债覆盖率 DSCR 中位数"),
    ("metric.dscr_min_all_years_p50", "ratio", "min DSCR (bank + bonds, every year), median",
     "全期最低偿债覆盖率 DSCR 中位数"),
    ("metric.pd", "share", "PD over the loans' life (standalone)", "违约概率 PD"),
    ("metric.expected_loss", "yuan", "bank expected loss", "预期损失"),
    ("metric.equity_irr_p50", "share", "equity IRR, median", "资本金内部收益率 IRR 中位数"),
    ("metric.equity_irr_p05", "share", "equity IRR, p05", "资本金内部收益率 IRR 5%分位"),
    ("metric.equity_npv_p50", "yuan", "equity NPV, median", "资本金净现值 NPV 中位数"),
    ("metric.p_self_financing", "share", "P(self-financing, no support at all)", "完全自求平衡概率"),
    ("metric.p_bond_call", "share", "P(explicit special-bond burden)", "专项债显性负担概率"),
    ("metric.bond_burden_pv", "yuan", "expected explicit bond-burden PV", "专项债显性负担现值期望"),
    ("metric.soe_support_pv", "yuan", "expected SOE-support PV", "国企支持现值期望"),
    ("metric.peak_funding_need_p95", "yuan", "peak funding need, p95", "峰值资金需求 95%分位"),
    ("metric.llcr_p05", "ratio", "LLCR, p05", "贷款寿命覆盖率 LLCR 5%分位"),
    # ------------------------------------------------------------------ solver levers (baozhang solve --find)
    ("lever.grant", "yuan", "capital grant", "资本金补助"),
    ("lever.equity_share", "share", "equity share", "资本金比例"),
    ("lever.rent_ratio", "share", "rent ÷ market rent", "租金与市场租金之比"),
    ("lever.price", "yuan_per_m2", "acquisition price", "收购单价"),
    ("lever.loan", "yuan", "bank loan", "银行贷款"),
)


def _build() -> dict[str, Entry]:
    out: dict[str, Entry] = {}

    def add(e: Entry) -> None:
        if e.unit not in UNITS:
            raise ValueError(f"catalogue: {e.key}: unknown unit {e.unit!r}")
        if e.key in out:
            raise ValueError(f"catalogue: {e.key} listed twice")
        out[e.key] = e

    for row in _ROWS:
        key, unit, en, zh, *rest = row
        digits = rest[0] if rest else None
        stats = rest[1] if len(rest) > 1 else ()
        add(Entry(key, unit, en, zh, digits))
        for st in stats:
            add(Entry(f"{key}.{st}", unit, f"{en}, {_STAT_EN[st]}", f"{zh} {_STAT_ZH[st]}", digits))
    return out


#: every named output, by key
CATALOGUE: dict[str, Entry] = _build()

_INDEX = re.compile(r"\[\d+\]")


def normalise(key: str) -> str:
    """A summary key as the catalogue lists it: list indices dropped (``a[2].b`` → ``a.b``)."""
    return _INDEX.sub("", key)


def entry(key: str) -> Entry:
    """The catalogue entry of ``key`` (a summary key path, ``paths.<col>``, ``yearly.<q>``, ``flow.<item>``,
    ``metric.<name>`` or ``lever.<name>``); ``KeyError`` naming the closest known keys for an unknown one."""
    e = CATALOGUE.get(normalise(key))
    if e is None:
        near = difflib.get_close_matches(normalise(key), CATALOGUE, n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        raise KeyError(f"{key!r} is not in the output catalogue (measures/catalogue.py){hint}")
    return e


def has(key: str) -> bool:
    return normalise(key) in CATALOGUE

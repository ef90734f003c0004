"""The catalogue of named outputs: every number a user reads, with its English and Chinese label and its unit.

One registry for the four families of outputs, each in its own key space:

* ``hidden_debt.p_call``, ``bank.pd_cumulative``, ``soe.equity_irr.p50`` … — keys of :attr:`Result.summary`
  (``summary.json``), dotted; list indices are dropped (``fiscal.classification[2].share`` →
  ``fiscal.classification.share``);
* ``paths.<column>`` — the per-path columns of :attr:`Result.paths` (``paths.parquet``);
* ``yearly.<quantity>`` — the yearly ledgers (``ledgers.npz``, :meth:`Result.ledger`) and fan quantities
  (``yearly.csv``); ``flow.<item>`` — the median path's yearly cash-flow items (report.xlsx, sheet "Median path");
* ``metric.<name>`` — the sensitivity / solver metrics (:data:`measures.metrics.METRICS`), and
  ``lever.<name>`` — the levers ``baozhang solve --find`` solves for;
* ``text.<name>`` — the words around the numbers (section titles, table headers, the answer sentence, chart
  titles and axes), English and Chinese, for ``--lang zh | en | both`` (:func:`report.format.text`).

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
    ("run.parameter_uncertainty.draws", "count", "market-parameter draws (one per chunk)", "市场参数抽样次数（每块一次）"),
    ("run.parameter_uncertainty.paths_per_draw", "count", "paths per parameter draw", "每次参数抽样的路径数"),
    ("run.parameter_uncertainty.share_of_variance_hidden_debt_pv", "share",
     "share of the hidden-debt PV's variance from the parameter draws", "隐性债务现值方差中来自参数不确定性的比例", 2),
    ("run.parameter_uncertainty.share_of_variance_hidden_call", "share",
     "share of the call indicator's variance from the parameter draws", "代偿触发方差中来自参数不确定性的比例", 2),
    ("run.parameter_uncertainty.sd_across_draws_p_call", "share", "SD of P(call) across the parameter draws",
     "各参数抽样间代偿概率的标准差", 2),
    ("run.standard_errors.p_call", "share", "SE of P(hidden-debt call)", "隐性债务触发概率标准误", 2),
    ("run.standard_errors.expected_pv", "yuan", "SE of expected hidden-debt PV", "隐性债务现值期望标准误"),
    ("run.standard_errors.p_self_financing", "share", "SE of P(self-financing)", "自求平衡概率标准误", 2),
    ("run.standard_errors.expected_pv_bond_burden", "yuan", "SE of expected explicit bond-burden PV", "显性债务负担现值期望标准误"),
    ("run.standard_errors.independent_units", "count", "independent units behind the SEs (paths, pairs or replicates)", "标准误的独立单元数(路径、对偶对或重复)"),
    ("run.sampling", "text", "sampling (mc, antithetic, rqmc)", "抽样方法"),
    *((f"run.control_variates.{q}.{x}", unit if x in ("estimate", "plain", "se", "plain_se") else "ratio",
       f"{en}: {xe} (control variates)", f"{zh}：{xz}（控制变量法）")
      for q, unit, en, zh in (("p_call", "share", "P(hidden-debt call)", "隐性债务触发概率"),
                              ("expected_pv", "yuan", "expected hidden-debt PV", "隐性债务现值期望"),
                              ("expected_pv_bond_burden", "yuan", "expected explicit bond-burden PV", "显性债务负担现值期望"),
                              ("p_self_financing", "share", "P(self-financing)", "自求平衡概率"))
      for x, xe, xz in (("estimate", "adjusted estimate", "调整后估计"), ("se", "its SE", "其标准误"),
                        ("plain", "plain mean", "简单均值"), ("plain_se", "plain SE", "简单均值标准误"),
                        ("variance_reduction", "variance reduction 1/(1−R²)", "方差缩减倍数 1/(1−R²)"))),
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
    ("hidden_debt.first_call_year", "year", "first call year (programme year no.; paths with a call)",
     "首次触发年度（项目第几年，仅触发路径）", None, Q3),
    ("hidden_debt.first_call_year.n_calls", "count", "paths with a call", "触发路径数"),
    ("hidden_debt.first_call_year.share_by_year", "share", "share of paths first called in the year",
     "当年首次触发路径占比"),
    ("hidden_debt.peak_share_of_fiscal_revenue", "share", "peak yearly call ÷ fiscal revenue",
     "年度代偿峰值占财政收入比", 3, ("p50", "p95", "p99", "max")),
    ("coverage.p_self_financing", "share", "P(self-financing: no support at all)", "完全自求平衡概率"),
    ("coverage.bond_coverage_ratio", "ratio", "bond coverage ratio, bonds only (before bank service)",
     "本息覆盖倍数(仅专项债,未扣银行本息)", None, ("mean", "p05", "p50")),
    ("coverage.bond_coverage_after_bank", "ratio", "bond coverage after bank service", "扣除银行本息后本息覆盖倍数",
     None, ("p05", "p50")),
    ("coverage.dscr_min", "ratio", "minimum DSCR (bank + bonds, bullets refinancing rolls excluded, operating window)",
     "最低偿债覆盖率 DSCR（银行+专项债，不含再融资债券承接的到期本金）", None, Q3),
    ("coverage.llcr", "ratio", "LLCR per project (bank, lowest project)", "贷款寿命覆盖率 LLCR（按项目，取最低）", None,
     ("p05", "p50")),
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
    ("fiscal.government_buybacks.p_any", "share", "P(government pays a buyback)", "政府回购支出概率"),
    ("fiscal.government_buybacks.expected_pv", "yuan", "government buybacks, expected PV", "政府回购支出现值期望"),
    ("fiscal.government_buybacks.expected_resale_pv", "yuan", "resale of government buybacks, expected PV",
     "政府回购房源再配售回款现值期望"),
    ("fiscal.government_buybacks.expected_net_pv", "yuan", "government buybacks net of resale, expected PV",
     "政府回购净支出现值期望"),
    ("fiscal.government_owned.blocks", "count", "government-owned blocks", "政府持有项目数"),
    ("fiscal.government_owned.capital_pv", "yuan", "budget capital in government-owned blocks, PV", "政府持有项目财政资本金现值"),
    ("fiscal.government_owned.p_operating_topup", "share", "P(budget tops up a government-owned block)",
     "政府持有项目财政补足概率"),
    ("fiscal.government_owned.expected_operating_topup_pv", "yuan", "budget top-ups of government-owned blocks, expected PV",
     "政府持有项目财政补足现值期望"),
    ("fiscal.government_owned.expected_income_pv", "yuan", "income of government-owned blocks to the budget, expected PV",
     "政府持有项目收入缴库现值期望"),
    ("fiscal.government_owned.expected_net_pv", "yuan", "government-owned blocks, net cost to the budget, expected PV",
     "政府持有项目财政净成本现值期望"),
    ("fiscal.soe_support.p_support", "share", "P(SOE support)", "国企支持概率"),
    ("fiscal.soe_support.expected_pv", "yuan", "SOE support, expected PV", "国企支持现值期望"),
    ("fiscal.soe_support.p95_pv", "yuan", "SOE support PV, p95", "国企支持现值 95%分位"),
    # ------------------------------------------------------------------ summary: bank lens
    ("bank.has_bank_debt", "flag", "has bank debt", "有银行贷款"),
    ("bank.bank_principal_yuan", "yuan", "bank principal", "银行贷款本金"),
    ("bank.loan_life_years", "years", "loan life", "贷款期限"),
    ("bank.pd_lifetime", "share", "PD over the loan life (with SOE support)", "违约概率 PD(贷款期,含国企支持)"),
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
    ("bank.dscr_test_years", "year", "bank DSCR test years (programme years)", "DSCR 测试年度（项目年度）"),
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
    ("soe.equity_irr", "share", "equity IRR, terminal value at market value (secondary)",
     "资本金内部收益率 IRR(市值终值,次要参考)", None, Q3),
    ("soe.equity_irr_undefined_share", "share", "share of paths with no equity IRR", "IRR 无定义路径占比"),
    ("soe.project_irr", "share", "project IRR", "项目内部收益率 IRR", None, Q3),
    ("soe.npv", "yuan", "equity NPV, terminal value at market value (secondary)", "资本金净现值 NPV(市值终值,次要参考)",
     None, Q3),
    ("soe.p_npv_negative", "share", "P(equity NPV < 0), terminal value at market value", "净现值(市值终值)为负的概率"),
    ("soe.peak_funding_need", "yuan", "peak funding need", "峰值资金需求", None, ("mean", "p50", "p95")),
    ("soe.lockup_years", "years", "years in which any project's distributions are locked up", "任一项目分配锁定的年数",
     None, ("mean",) + Q3),
    ("soe.lockup_years.p_any", "share", "P(any project's distributions ever locked up)", "任一项目出现分配锁定的概率"),
    ("soe.lockup_years.share_locked_by_year", "share", "share of paths with any project locked up in the year",
     "当年任一项目锁定的路径占比"),
    ("soe.cash_balance_fan", "yuan", "reserves + retained cash at year end", "年末准备金及留存现金", None, FAN),
    ("soe.exhaustion_year.p_exhausted", "share", "P(SOE support exhausted)", "国企支持能力耗尽概率"),
    ("soe.exhaustion_year.p50", "year", "programme year SOE support is exhausted, median", "国企支持耗尽的项目年度 中位数"),
    ("hidden_debt.first_shortfall_year.p_shortfall", "share",
     "P(a project's own cash and reserves fall short: before SOE support; after the cures only under cures.timing = "
     "before_soe_support)", "项目自身现金及准备金出现缺口的概率(国企支持之前;仅当补救措施在国企支持之前时计入补救)"),
    ("hidden_debt.first_shortfall_year.p50", "year", "first shortfall year (programme year no.), median",
     "首次资金缺口的项目年度 中位数"),
    ("paths.first_shortfall_year", "year", "first shortfall year (programme year no.)", "首次资金缺口的项目年度"),
    ("paths.soe_exhausted", "flag", "SOE support exhausted", "国企支持耗尽"),
    ("paths.soe_exhaustion_year", "year", "programme year SOE support is exhausted", "国企支持耗尽的项目年度"),
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
    ("paths.disposal_year", "year", "programme year of the first disposal of a rental block", "首次整体转让的项目年度"),
    ("sale.p_walkaway", "share", "P(pre-subscribed buyers walk away at hand-over)", "认购人交付时弃购的概率"),
    ("sale.walkaway_units.mean", "count", "units walked away at hand-over, mean", "交付时弃购套数均值"),
    ("sale.walkaway_units.p95", "count", "units walked away at hand-over, p95", "交付时弃购套数95%分位"),
    ("sale.forfeited_deposits_yuan.mean", "yuan", "deposits forfeited by walk-aways, mean", "弃购没收定金均值"),
    ("paths.walkaway_units", "count", "units walked away at hand-over", "交付时弃购套数"),
    ("paths.forfeited_deposits_yuan", "yuan", "deposits forfeited by walk-aways", "弃购没收定金"),
    # ------------------------------------------------------------------ issue 16: fiscal register, classes, total cost
    ("hidden_debt.stock_by_year", "yuan", "hidden-debt register: SOE debt taken over, by year", "隐性债务登记余额(按年)",
     None, ("mean", "p50", "p95")),
    ("hidden_debt.stock_by_year_given_call", "yuan",
     "hidden-debt register by year, over the paths that call at some time (0 before their first call)",
     "隐性债务登记余额(按年,曾触发的全部路径,触发前计0)", None, ("mean", "p50", "p95")),
    ("hidden_debt.debt_at_first_call.expected", "yuan",
     "SOE debt outstanding at the first call, mean over all paths (0 where no call)",
     "首次代偿时国企债务余额 全部路径均值(未触发计0)"),
    ("hidden_debt.debt_at_first_call", "yuan", "SOE debt outstanding at the first call, over the paths with a call",
     "首次代偿时国企债务余额(仅触发路径)", None, Q2),
    ("hidden_debt.materiality_yuan", "yuan", "materiality threshold", "重要性门槛"),
    ("hidden_debt.materiality_share_of_investment", "share", "materiality threshold ÷ investment", "重要性门槛占总投资比", 2),
    ("hidden_debt.p_call_material", "share", "P(material hidden-debt call)", "重大隐性债务触发概率"),
    ("hidden_debt.exceedance.threshold_yuan", "yuan", "exceedance threshold", "超越阈值"),
    ("hidden_debt.exceedance.share_of_investment", "share", "exceedance threshold ÷ investment", "阈值占总投资比", 2),
    ("hidden_debt.exceedance.probability", "share", "P(hidden-debt PV > threshold)", "隐性债务现值超过阈值的概率", 2),
    ("hidden_debt.peak_share_of_land_revenue", "share", "peak yearly call ÷ government-fund (land) revenue",
     "年度代偿峰值占政府性基金(土地)收入比", 3, ("p50", "p95", "p99", "max")),
    ("hidden_debt.land_revenue_basis", "text", "land revenue basis", "土地收入口径"),
    ("fiscal.government_money_by_class.class", "text", "class of government money", "财政资金类别"),
    ("fiscal.government_money_by_class.label", "text", "government money", "财政资金"),
    ("fiscal.government_money_by_class.mof_wording", "text", "classification basis (MOF wording)", "分类依据(财政部口径)"),
    ("fiscal.government_money_by_class.probability", "share", "P(any paid)", "发生概率"),
    ("fiscal.government_money_by_class.expected_pv_yuan", "yuan", "expected PV", "现值期望"),
    ("fiscal.government_money_by_class.p_material", "share", "P(material)", "重大概率"),
    *[(f"fiscal.exceedance_by_class.{k}.{x}", u, f"{en}: {xe}", f"{zh}: {xz}", d)
      for k, en, zh in (("hidden_debt_call", "hidden-debt call (debt service)", "隐性债务代偿(偿债)"),
                        ("unbudgeted_subsidy", "unbudgeted subsidy", "预算外补助"),
                        ("explicit_bond_burden", "explicit bond burden", "专项债显性负担"),
                        ("total_government_money", "all government money", "财政资金合计"))
      for x, u, xe, xz, d in (("threshold_yuan", "yuan", "threshold", "阈值", None),
                              ("share_of_investment", "share", "threshold ÷ investment", "阈值占总投资比", 2),
                              ("probability", "share", "P(PV > threshold)", "现值超过阈值的概率", 2))],
    ("fiscal.total_government_money.p_call", "share", "P(any government money: call or bond burden)", "财政资金支出概率"),
    ("fiscal.total_government_money.expected_pv", "yuan", "government money, expected PV", "财政资金现值期望"),
    ("fiscal.total_government_money.p_material", "share", "P(material government money)", "重大财政资金支出概率"),
    ("fiscal.total_government_money.var95_pv", "yuan", "government money PV, VaR95", "财政资金现值 VaR95"),
    ("fiscal.total_government_money.cvar95_pv", "yuan", "government money PV, CVaR95", "财政资金现值 CVaR95"),
    ("fiscal.total_fiscal_cost.expected_pv", "yuan", "total fiscal cost, expected PV", "财政总成本现值期望"),
    ("fiscal.total_fiscal_cost.capital_grants_pv", "yuan", "budgeted capital grants, PV", "预算内资本金补助现值"),
    ("fiscal.total_fiscal_cost.budgeted_operating_support_pv", "yuan", "rent subsidy + interest subsidy + operating grants, PV",
     "租金补贴、贴息及运营补助现值"),
    ("fiscal.total_fiscal_cost.land_at_allocated_cost_pv", "yuan", "allocated land at cost, PV", "划拨土地(按成本)现值"),
    ("fiscal.total_fiscal_cost.government_owned_capital_pv", "yuan", "budget capital in government-owned blocks, PV",
     "政府持有项目财政资本金现值"),
    ("fiscal.total_fiscal_cost.government_owned_operating_pv", "yuan", "top-ups of government-owned blocks, PV",
     "政府持有项目财政补足现值"),
    ("fiscal.total_fiscal_cost.unbudgeted_government_money_pv", "yuan", "unbudgeted government money, PV",
     "预算外财政资金现值"),
    ("fiscal.total_fiscal_cost.refinancing_outstanding_at_horizon_pv", "yuan",
     "refinancing bonds still owed at the horizon, PV", "期末未偿再融资债券现值"),
    ("fiscal.total_fiscal_cost.multiple_of_expected_hidden_debt", "ratio", "total fiscal cost ÷ expected hidden debt",
     "财政总成本与隐性债务期望之比", 1),
    ("fiscal.debt_ratio.capacity_yuan", "yuan", "comprehensive fiscal capacity", "综合财力"),
    ("fiscal.debt_ratio.capacity_basis", "text", "fiscal capacity basis", "综合财力口径"),
    ("fiscal.debt_ratio.contribution_by_year", "share", "programme's contribution to the debt ratio, by year",
     "项目对债务率的贡献(按年)", 2, ("mean", "p50", "p95")),
    ("fiscal.debt_ratio.contribution_peak", "share", "programme's peak contribution to the debt ratio", "项目对债务率的峰值贡献",
     2, Q2),
    ("fiscal.debt_ratio.warning_line", "share", "debt-ratio warning line (assumption)", "债务率警戒线(假设)", 0),
    ("fiscal.debt_ratio.bands.band", "text", "debt-ratio band", "债务率等级"),
    ("fiscal.debt_ratio.bands.lower", "share", "band from", "等级下限", 0),
    ("fiscal.debt_ratio.bands.upper", "share", "band to", "等级上限", 0),
    ("fiscal.debt_ratio.bands_status", "text", "status of the bands", "等级来源说明"),
    ("fiscal.debt_ratio.city_ratio_before", "share", "city debt ratio before the programme", "项目前城市债务率", 0),
    ("fiscal.debt_ratio.city_ratio_p95", "share", "city debt ratio with the programme, p95", "含项目城市债务率 95%分位", 0),
    ("fiscal.debt_ratio.city_band_p95", "text", "city debt-ratio band with the programme, p95", "含项目城市债务率等级"),
    # ------------------------------------------------------------------ issue 16: coverage
    ("coverage.bond_coverage_all_financing", "ratio", "bond coverage with all financing (bonds + bank service: the combined-financing test)",
     "本息覆盖倍数(组合融资:含银行贷款本息)", None, ("p05", "p50")),
    ("coverage.bond_coverage_all_financing_with_residual", "ratio",
     "bond coverage with all financing, residual value included", "本息覆盖倍数(含银行贷款本息,含残值)", None, ("p05", "p50")),
    ("coverage.bond_coverage_with_residual", "ratio", "bond coverage, residual value included", "本息覆盖倍数(含残值)",
     None, ("p05", "p50")),
    ("coverage.findings", "text", "coverage findings", "覆盖倍数合规提示"),
    *[(f"coverage.findings.{x}", "text", f"coverage finding: {x.replace('_', ' ')}", f"覆盖倍数提示: {z}")
      for x, z in (("rule_id", "规则"), ("rule_set", "规则集"), ("document", "文件"), ("clause", "条款"),
                   ("project", "项目"), ("actual", "实际值"), ("limit", "限值"), ("message", "说明"))],
    # ------------------------------------------------------------------ issue 16: bank views
    *[(f"bank.{v}.{x}", u, f"{ve}: {xe}", f"{vz}: {xz}", d)
      for v, ve, vz in (("borrower", "borrower view", "借款人口径"),
                        ("pd_with_soe_support", "with SOE support", "含国企支持"),
                        ("pd_without_soe_support", "without SOE support", "不含国企支持"),
                        ("pd_corporate", "SOE corporate (full recourse)", "国企主体(全额追索)"))
      for x, u, xe, xz, d in (("pd_lifetime", "share", "PD over the loan life", "贷款期违约概率", None),
                              ("pd_annualised", "share", "PD, annualised", "年化违约概率", 2),
                              ("lgd_mean", "share", "LGD, mean", "违约损失率均值", None),
                              ("ead_mean", "yuan", "EAD, mean", "违约风险暴露均值", None),
                              ("expected_loss", "yuan", "expected loss", "预期损失", None),
                              ("expected_loss_rate", "share", "EL rate", "预期损失率", 2))],
    ("bank.borrower.type", "text", "borrower type", "借款人类型"),
    ("bank.borrower.pd_event", "text", "default event the PD counts", "违约事件口径"),
    ("bank.borrower.grade", "text", "grade of the borrower view", "借款人口径等级"),
    ("bank.borrower.risk_weight", "share", "risk weight of the borrower view", "借款人口径风险权重", 0),
    ("bank.borrower.regulatory_el_rate", "share", "regulatory EL rate of the borrower view", "借款人口径监管预期损失率", 2),
    ("bank.ltv_income_peak", "share", "peak LTV on income value", "峰值抵押率(收益法估值)", None, Q2),
    ("bank.ltv_income_peak.cap_rate", "share", "cap rate of the income value", "收益法资本化率", 2),
    # ------------------------------------------------------------------ issue 16: SOE monthly returns
    *[(f"soe.{k}", "share", en, zh, None, Q3) for k, en, zh in (
        ("equity_irr_monthly", "equity IRR, monthly flows, supported view, income terminal value",
         "资本金IRR(月度现金流,含支持,收益法终值)"),
        ("equity_irr_monthly_no_tv", "equity IRR, monthly flows, supported view, no terminal value",
         "资本金IRR(月度现金流,含支持,不含终值)"),
        ("equity_irr_standalone", "equity IRR, monthly flows, standalone (no government money)",
         "资本金IRR(月度现金流,不含财政资金)"))],
    *[(f"soe.{k}.undefined_share", "share", f"{en}: share undefined", f"{zh}无定义占比") for k, en, zh in (
        ("equity_irr_monthly", "monthly equity IRR", "月度IRR"), ("equity_irr_monthly_no_tv", "monthly equity IRR, no TV",
                                                                  "月度IRR(不含终值)"),
        ("equity_irr_standalone", "standalone equity IRR", "独立口径IRR"))],
    *[(f"soe.{k}", "yuan", en, zh, None, Q3) for k, en, zh in (
        ("npv_monthly", "equity NPV, monthly flows, supported view, income terminal value", "资本金NPV(月度,含支持,收益法终值)"),
        ("npv_monthly_no_tv", "equity NPV, monthly flows, no terminal value", "资本金NPV(月度,不含终值)"),
        ("npv_standalone", "equity NPV, monthly flows, standalone", "资本金NPV(月度,不含财政资金)"))],
    ("soe.terminal_value_income.p50", "yuan", "terminal equity at income value, median", "收益法期末权益 中位数"),
    ("soe.terminal_value_income.cap_rate", "share", "cap rate of the terminal value", "终值资本化率", 2),
    # ------------------------------------------------------------------ issue 16: per-path columns
    ("paths.debt_at_first_call", "yuan", "SOE debt outstanding at the first call", "首次代偿时国企债务余额"),
    ("paths.gov_debt_service_pv", "yuan", "hidden-debt call on bank service, PV", "代偿银行本息现值"),
    ("paths.unbudgeted_subsidy_pv", "yuan", "unbudgeted subsidy of operating gaps, PV", "预算外运营补助现值"),
    ("paths.budgeted_subsidy_pv", "yuan", "budgeted subsidies paid, PV", "预算内补贴现值"),
    ("paths.government_money_pv", "yuan", "government money, PV", "财政资金现值"),
    ("paths.government_call", "flag", "any government money", "发生财政资金支出"),
    ("paths.peak_call_share_of_land_revenue", "share", "peak yearly call ÷ land-tied revenue", "年度代偿峰值占土地收入比", 3),
    ("paths.bond_coverage_all_financing", "ratio", "bond coverage with all financing", "本息覆盖倍数(含银行贷款本息)"),
    ("paths.bond_coverage_all_financing_with_residual", "ratio", "bond coverage with all financing and residual",
     "本息覆盖倍数(含银行贷款本息,含残值)"),
    ("paths.bond_coverage_with_residual", "ratio", "bond coverage with residual", "本息覆盖倍数(含残值)"),
    ("paths.terminal_value_income", "yuan", "terminal equity at income value", "收益法期末权益"),
    ("paths.equity_irr_monthly", "share", "equity IRR, monthly, supported", "资本金IRR(月度,含支持)"),
    ("paths.equity_irr_monthly_no_tv", "share", "equity IRR, monthly, no terminal value", "资本金IRR(月度,不含终值)"),
    ("paths.equity_irr_standalone", "share", "equity IRR, monthly, standalone", "资本金IRR(月度,不含财政资金)"),
    ("paths.equity_npv_monthly", "yuan", "equity NPV, monthly, supported", "资本金NPV(月度,含支持)"),
    ("paths.equity_npv_monthly_no_tv", "yuan", "equity NPV, monthly, no terminal value", "资本金NPV(月度,不含终值)"),
    ("paths.equity_npv_standalone", "yuan", "equity NPV, monthly, standalone", "资本金NPV(月度,不含财政资金)"),
    ("paths.ltv_income_peak", "share", "peak LTV on income value", "峰值抵押率(收益法)"),
    *[(f"paths.{x}_{k}", u, f"{xe} ({ke})", f"{xz}({kz})")
      for k, ke, kz in (("nosupport", "without SOE support", "不含国企支持"), ("corporate", "SOE corporate", "国企主体"))
      for x, u, xe, xz in (("default_month", "months", "default month", "违约月份"), ("ead", "yuan", "EAD", "违约风险暴露"),
                           ("collateral", "yuan", "collateral at default", "违约时抵押物价值"),
                           ("hpi_at_default", "index", "house-price index at default", "违约时房价指数"),
                           ("hpi_at_sale", "index", "house-price index at sale", "处置时房价指数"))],
    # ------------------------------------------------------------------ per-path columns (paths.parquet)
    ("paths.path", "count", "path number", "路径编号"),
    ("paths.hidden_call", "flag", "hidden-debt call", "隐性债务触发"),
    ("paths.hidden_debt_pv", "yuan", "hidden-debt PV", "隐性债务现值"),
    ("paths.first_call_year", "year", "first call year (programme year no.)", "首次触发的项目年度"),
    ("paths.peak_call_share_of_fiscal", "share", "peak yearly call ÷ fiscal revenue", "年度代偿峰值占财政收入比", 3),
    ("paths.explicit_bond_call", "flag", "explicit bond burden", "专项债显性负担"),
    ("paths.explicit_bond_burden_pv", "yuan", "explicit bond-burden PV", "专项债显性负担现值"),
    ("paths.soe_support_pv", "yuan", "SOE-support PV", "国企支持现值"),
    ("paths.soe_support_pv_fiscal", "yuan", "SOE-support PV at the fiscal rate (who pays the gap)",
     "国企支持现值(按财政折现率)"),
    ("paths.support_total", "yuan", "support from anyone, total", "各方支持合计"),
    ("paths.self_financing", "flag", "self-financing", "自求平衡"),
    ("paths.dscr_min", "ratio", "minimum DSCR (bank + bonds, bullets refinancing rolls excluded, operating window)",
     "最低偿债覆盖率 DSCR（不含再融资债券承接的到期本金）"),
    ("paths.dscr_min_all_years", "ratio", "minimum DSCR (bank + bonds, bullets refinancing rolls excluded, every year)",
     "全期最低偿债覆盖率 DSCR（不含再融资债券承接的到期本金）"),
    ("paths.bank_dscr_min_project", "ratio", "minimum bank DSCR of the project", "项目银行最低 DSCR"),
    ("paths.llcr", "ratio", "LLCR per project (bank, lowest project)", "贷款寿命覆盖率 LLCR（按项目，取最低）"),
    ("paths.bond_coverage_ratio", "ratio", "bond coverage ratio, bonds only (before bank service)",
     "本息覆盖倍数(仅专项债,未扣银行本息)"),
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
    ("paths.lockup_years", "years", "years in which any project's distributions are locked up", "任一项目分配锁定的年数"),
    ("paths.hpi_end", "index", "house-price index at the horizon", "期末房价指数"),
    ("paths.terminal_equity", "yuan", "terminal equity", "期末权益"),
    ("paths.gov_buyback_pv", "yuan", "government buybacks PV", "政府回购支出现值"),
    ("paths.gov_resale_pv", "yuan", "resale of government buybacks PV", "政府回购房源再配售回款现值"),
    ("paths.gov_buyback_any", "flag", "government pays a buyback", "政府回购支出"),
    ("paths.gov_owned_opex_pv", "yuan", "budget top-ups of government-owned blocks PV", "政府持有项目财政补足现值"),
    ("paths.gov_owned_income_pv", "yuan", "income of government-owned blocks to the budget PV", "政府持有项目收入缴库现值"),
    ("paths.gov_owned_opex_any", "flag", "budget tops up a government-owned block", "政府持有项目财政补足"),
    # ------------------------------------------------------------------ yearly ledgers and fans
    ("yearly.cfads", "yuan", "CFADS", "可偿债现金流 CFADS"),
    ("yearly.debt_service", "yuan", "debt service (bank + bonds)", "还本付息"),
    ("yearly.cash_balance", "yuan", "reserves + retained cash at year end", "年末准备金及留存现金"),
    ("yearly.gov_hidden", "yuan", "hidden-debt call", "隐性债务代偿"),
    ("yearly.gov_bond", "yuan", "explicit bond burden", "显性债务负担(专项债)"),
    ("yearly.soe_support", "yuan", "SOE support", "国企支持"),
    ("yearly.cum_support", "yuan", "support from anyone, cumulative", "累计支持"),
    ("yearly.bank_balance", "yuan", "bank balance at year end", "年末银行贷款余额"),
    ("yearly.collateral_value", "yuan", "collateral value", "抵押物价值"),
    ("yearly.lockup_months", "months", "months in which any project's distributions are locked up", "任一项目分配锁定的月数"),
    ("yearly.refinancing", "yuan", "special-bond principal refinanced", "再融资专项债券发行额"),
    ("yearly.bank_service", "yuan", "bank service due (interest + scheduled principal)", "银行贷款应付本息"),
    ("yearly.bank_cfads", "yuan", "CFADS available to the bank (projects with bank loans)", "可用于偿还银行的现金流（有银行贷款的项目）"),
    ("yearly.dscr", "ratio", "coverage of all debt service (CFADS ÷ bond + bank service, bullets refinancing "
     "rolls excluded; not the bank DSCR)",
     "本息覆盖倍数（组合融资：可偿债现金流 ÷ 全部还本付息，不含再融资债券承接的到期本金，非银行 DSCR）"),
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
    ("flow.soe_bond_interest", "yuan", "SOE corporate-bond interest", "公司信用类债券利息"),
    ("flow.soe_bond_principal", "yuan", "SOE corporate-bond principal", "公司信用类债券本金"),
    ("flow.short_soe_bond", "yuan", "shortfall: SOE bonds", "公司信用类债券缺口"),
    ("flow.overrun", "yuan", "construction overrun (SOE equity)", "建设超支（国企资本金）"),
    ("flow.gov_buybacks", "yuan", "buybacks paid by the government", "政府回购支出"),
    ("flow.gov_resale", "yuan", "resale proceeds to the government", "政府回购房源再配售回款"),
    ("flow.gov_owned_opex", "yuan", "budget top-ups of government-owned blocks", "政府持有项目财政补足"),
    ("flow.gov_owned_income", "yuan", "income of government-owned blocks to the budget", "政府持有项目收入缴库"),
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
    ("flow.gov_bond", "yuan", "explicit bond burden", "显性债务负担(专项债)"),
    ("flow.hpi", "index", "house-price index at year end", "房价指数"),
    ("flow.lpr", "share", "5-year LPR (mean)", "五年期 LPR", 2),
    ("flow.fiscal", "yuan", "fiscal revenue", "财政收入"),
    # ------------------------------------------------------------------ sensitivity and solver metrics
    ("metric.p_call", "share", "P(hidden-debt call)", "隐性债务触发概率"),
    ("metric.hidden_debt_pv", "yuan", "expected hidden-debt PV", "隐性债务现值期望"),
    ("metric.p_dscr_below_1", "share", "P(min bank DSCR < 1), bank test window", "银行 DSCR 低于 1 的概率"),
    ("metric.p_total_dscr_below_1", "share", "P(min DSCR < 1), bank + bonds, bullets refinancing rolls excluded, operating window",
     "DSCR 低于 1 的概率(运营期)"),
    ("metric.p_dscr_all_years_below_1", "share", "P(min DSCR < 1), bank + bonds, bullets refinancing rolls excluded, every year",
     "DSCR 低于 1 的概率(全期)"),
    ("metric.bank_dscr_min_p05", "ratio", "min bank DSCR, p05", "银行最低 DSCR 5%分位"),
    ("metric.bank_dscr_min_p50", "ratio", "min bank DSCR, median", "银行最低 DSCR 中位数"),
    ("metric.dscr_min_p05", "ratio", "min DSCR (bank + bonds, bullets refinancing rolls excluded, operating window), p05", "最低偿债覆盖率 DSCR 5%分位"),
    ("metric.dscr_min_p50", "ratio", "min DSCR (bank + bonds, bullets refinancing rolls excluded, operating window), median",
     "最低偿债覆盖率 DSCR 中位数"),
    ("metric.dscr_min_all_years_p50", "ratio", "min DSCR (bank + bonds, bullets refinancing rolls excluded, every year), median",
     "全期最低偿债覆盖率 DSCR 中位数"),
    ("metric.pd", "share", "PD over the loans' life (with SOE support)", "违约概率 PD(含国企支持)"),
    ("metric.expected_loss", "yuan", "bank expected loss", "预期损失"),
    ("metric.equity_irr_p50", "share", "equity IRR, median", "资本金内部收益率 IRR 中位数"),
    ("metric.equity_irr_p05", "share", "equity IRR, p05", "资本金内部收益率 IRR 5%分位"),
    ("metric.equity_npv_p50", "yuan", "equity NPV, median", "资本金净现值 NPV 中位数"),
    ("metric.p_self_financing", "share", "P(self-financing, no support at all)", "完全自求平衡概率"),
    ("metric.p_bond_call", "share", "P(explicit special-bond burden)", "专项债显性负担概率"),
    ("metric.bond_burden_pv", "yuan", "expected explicit bond-burden PV", "专项债显性负担现值期望"),
    ("metric.soe_support_pv", "yuan", "expected SOE-support PV", "国企支持现值期望"),
    ("metric.peak_funding_need_p95", "yuan", "peak funding need, p95", "峰值资金需求 95%分位"),
    ("metric.llcr_p05", "ratio", "LLCR per project (lowest), p05", "贷款寿命覆盖率 LLCR（按项目，取最低）5%分位"),
    # ------------------------------------------------------------------ solver levers (baozhang solve --find)
    ("lever.grant", "yuan", "capital grant", "资本金补助"),
    ("lever.equity_share", "share", "equity share", "资本金比例"),
    ("lever.rent_ratio", "share", "rent ÷ market rent", "租金与市场租金之比"),
    ("lever.price", "yuan_per_m2", "acquisition price", "收购单价"),
    ("lever.loan", "yuan", "bank loan", "银行贷款"),
)


# (name, English, Chinese): the words around the numbers — section titles, table headers, sentences, chart titles
# and axes — as ``text.<name>`` entries (unit "text"); ``{field}`` placeholders are filled by
# :func:`baozhang_finance.report.format.text`. One key space per place: ``html.``, ``xlsx.``, ``term.`` (terminal
# tables), ``chart.``, ``col.`` (table column headers every output shares), ``unit.``, ``payer.``, ``word.``.
_TEXT_ROWS: tuple[tuple[str, str, str], ...] = (
    # ------------------------------------------------------------------ words and column headers
    ("word.yes", "yes", "是"), ("word.no", "no", "否"), ("word.none", "none", "无"),
    ("word.years", "{n} y", "{n} 年"), ("word.months", "{n} m", "{n} 个月"),
    ("col.lens", "lens", "视角"), ("col.metric", "metric", "指标"), ("col.value", "value", "数值"),
    ("col.measure", "measure", "指标"), ("col.key", "key", "键"), ("col.field", "field", "字段"),
    ("col.meaning", "meaning", "含义"), ("col.payer", "payer", "承担方"), ("col.expected_pv", "expected PV", "现值期望"),
    ("col.share", "share", "占比"), ("col.sheet", "sheet", "工作表"), ("col.contents", "contents", "内容"),
    ("col.section", "section", "部分"), ("col.unit", "unit", "单位"), ("col.value_wan", "value (万元)", "数值（万元）"),
    ("col.label", "label", "名称"), ("col.label_zh", "中文", "中文"), ("col.quantity", "quantity", "指标"),
    ("col.year", "programme year", "项目年度"),
    ("col.calendar_year", "calendar year (of the year's start)", "公历年（年度起始）"), ("col.n", "paths (n)", "路径数"),
    ("col.scenario", "scenario", "情景"), ("col.rank", "rank", "排名"), ("col.range", "range", "取值范围"),
    ("col.group", "group", "分组"), ("col.name", "name", "名称"),
    ("col.rule_id", "rule", "规则"), ("col.rule_set", "rule set", "规则集"), ("col.document", "document", "文件"),
    ("col.clause", "clause", "条款"), ("col.project", "project", "项目"), ("col.actual", "actual", "实际"),
    ("col.limit", "limit", "限值"), ("col.message", "finding", "问题说明"), ("col.reason", "reason", "原因"),
    ("col.type", "type", "类型"), ("col.units", "units", "套数"), ("col.area", "m²/unit", "套均面积 m²"),
    ("col.price", "price 元/m²", "收购单价 元/m²"), ("col.appraisal", "appraisal 元/m²", "评估单价 元/m²"),
    ("col.investment", "investment", "总投资"), ("col.equity", "equity", "资本金"),
    ("col.equity_share", "equity share", "资本金比例"), ("col.capital_share", "capital share", "资本金(含专项债)比例"),
    ("col.loan", "loan", "贷款"), ("col.amount", "amount", "金额"), ("col.term", "term", "期限"),
    ("col.grace", "grace", "宽限期"), ("col.amortisation", "amortisation", "还款方式"), ("col.rate", "rate", "利率"),
    ("col.relending", "PBoC relending", "保障性住房再贷款"), ("col.bond", "bond", "专项债"),
    ("col.coupon", "coupon", "票面利率"), ("col.coupons", "coupons", "付息频率"), ("col.principal", "principal", "还本方式"),
    ("col.counts_as_capital", "counts as capital", "计作资本金"), ("col.grant", "grant", "补助"),
    ("col.source", "source", "来源"), ("col.kind", "kind", "性质"),
    ("col.s1", "S1", "一阶指数 S1"), ("col.s1_conf", "S1 ± (95 %)", "S1 ±（95 %）"), ("col.st", "ST", "总效应指数 ST"),
    ("col.st_conf", "ST ± (95 %)", "ST ±（95 %）"),
    ("unit.yuan", "yuan 元", "元"), ("unit.yuan_per_m2", "元/m²", "元/m²"), ("unit.share", "share", "比例"),
    ("unit.ratio", "×", "倍"), ("unit.index", "index", "指数"), ("unit.years", "years", "年"),
    ("unit.year", "year no.", "第几年"), ("unit.months", "months", "月"), ("unit.count", "count", "个数"),
    ("unit.flag", "yes/no", "是/否"), ("unit.wan", "万元", "万元"),
    ("payer.explicit_bond_burden", "explicit special-bond burden", "显性债务负担（专项债）"),
    ("payer.soe_explicit_support", "SOE explicit support", "国企自有资金支持"),
    ("payer.hidden_debt_call", "hidden-debt call", "隐性债务"),
    ("stats", "{stats}", "{stats}"),
    # ------------------------------------------------------------------ report.html
    ("html.title", "{name} — does it pay for itself?", "{name} — 能否自求平衡？"),
    ("html.soe", "implementing SOE: {soe}", "实施主体：{soe}"),
    ("html.horizon", "start {start}, horizon {years} years", "起始 {start}，测算期 {years} 年"),
    ("html.paths", "{paths} Monte Carlo paths, seed {seed}", "蒙特卡洛模拟 {paths} 条路径，随机种子 {seed}"),
    ("html.stress", "stress", "压力情景"),
    ("html.h_question", "The question", "问题"),
    ("html.question",
     "When the SOE buys this housing stock and runs it as affordable housing, does the money that comes back (rent "
     "at ≤ 80 % of market, sales at cost + ≤ 5 %, subsidies) cover the debt that paid for it — and if not, who pays, "
     "and how much? Money the budget pays for SOE debt that is not government debt is hidden debt, which every "
     "policy document forbids.",
     "国企收购存量商品房用作保障性住房后，回流的资金（租金不高于市场租金的 80 %，配售价格不高于成本加 5 %，各项补助）"
     "能否覆盖为此所借的债务？如不能，由谁承担、承担多少？财政为非政府债务的国企债务付钱，即构成隐性债务，"
     "各项政策文件均明令禁止。"),
    ("html.h_answer", "The answer", "结论"),
    ("html.answer_none",
     "In none of the {n} simulated futures does the city budget have to pay the SOE's debt or costs off its books "
     "(hidden debt): the programme's own revenue, reserves and the SOE's support cover them (95 % upper bound on "
     "the probability: {bound}).",
     "在模拟的 {n} 种未来情形中，没有一种需要城市财政在预算外代偿国企的债务或成本（隐性债务）：项目自身收入、"
     "准备金和国企支持足以覆盖（该概率的 95 % 上限：{bound}）。"),
    ("html.answer_some",
     "In {p}{band} of {n} simulated futures the programme cannot pay its SOE debt and costs from its own revenue, "
     "reserves and the SOE's support, and the city budget is called on off its books (hidden debt): expected "
     "present value {pv}; {tail}",
     "在模拟的 {n} 种未来情形中，有 {p}{band} 的情形项目无法以自身收入、准备金和国企支持偿付国企债务和成本，"
     "城市财政须在预算外代偿（隐性债务）：现值期望 {pv}；{tail}"),
    ("html.tail", "1-in-20 worst case (VaR95) {var}, mean of the worst 1 in 20 (ES95) {es}.",
     "二十分之一最坏情形（VaR95）{var}，最坏二十分之一情形的均值（ES95）{es}。"),
    ("html.tail_rare", "fewer than 1 in 20 futures call, so VaR95 is {var}; the mean of the worst 1 in 20 (ES95) is "
                       "{es}, and a call, when it comes, has a median PV of {given}.",
     "触发的情形不足二十分之一，故 VaR95 为 {var}；最坏二十分之一情形的均值（ES95）为 {es}，一旦触发，现值中位数为 {given}。"),
    ("html.answer_bond", "On budget, apart from the hidden debt: P(self-financing) is {p_self}, and the budget pays "
                         "the special bonds' service on {p_bond} of futures (explicit bond burden, expected PV {bond}).",
     "隐性债务之外，预算内：完全自求平衡概率为 {p_self}，{p_bond} 的情形由财政偿付专项债本息（显性债务负担，现值期望 {bond}）。"),
    ("html.answer_self0", "No future is self-financing (P(self-financing, no support from anyone) is {p_self}): "
                          "every one needs the SOE's money.",
     "没有一种情形能够完全自求平衡（完全自求平衡概率为 {p_self}）：每种情形都需要国企出资支持。"),
    ("html.interval_exact", "The interval of P(hidden-debt call) in the answer is the exact (Clopper–Pearson) 95 % "
                            "interval, as only {k} paths call.",
     "结论中隐性债务触发概率的区间为精确（Clopper–Pearson）95 % 区间，因触发路径仅 {k} 条。"),
    ("html.interval_exact_rest", "The interval of P(hidden-debt call) in the answer is the exact (Clopper–Pearson) "
                                 "95 % interval, as only {k} paths do not call.",
     "结论中隐性债务触发概率的区间为精确（Clopper–Pearson）95 % 区间，因未触发路径仅 {k} 条。"),
    ("html.interval_normal", "The interval of P(hidden-debt call) in the answer is the normal one (± 1.96 standard "
                             "errors; {k} paths call).",
     "结论中隐性债务触发概率的区间为正态近似区间（± 1.96 个标准误；触发路径 {k} 条）。"),
    ("html.no_loan", "no loan", "无贷款"),
    ("html.kpi_irr", "equity IRR, median, terminal value at income value (at market value: {market})",
     "资本金IRR中位数，收益法终值（按市值终值：{market}）"),
    ("html.below", "Below the {t} tolerance for P(hidden-debt call) this report uses.",
     "低于本报告采用的隐性债务触发概率容忍度 {t}。"),
    ("html.above", "Above the {t} tolerance for P(hidden-debt call) this report uses.",
     "高于本报告采用的隐性债务触发概率容忍度 {t}。"),
    ("html.se_note",
     "Probabilities are Monte Carlo estimates; in the tables below “± SE” is one standard error, and an interval "
     "written [lo, hi] 95 % is a 95 % interval (± 1.96 standard errors).",
     "概率均为蒙特卡洛估计值；下表中“± SE”为一个标准误，写作 [lo, hi] 95 % 的区间为 95 % 置信区间（± 1.96 个标准误）。"),
    ("html.h_fiscal", "Fiscal lens (finance bureau)", "财政视角（财政局）"),
    ("html.coverage_all", "bond coverage over all financing (bonds + bank service): the policy's combined-financing test",
     "本息覆盖倍数(组合融资:专项债及银行贷款本息)"),
    ("html.coverage_bond_only", "bond coverage, bonds only, before bank service (rental CFADS goes to the bank first)",
     "本息覆盖倍数(仅专项债,未扣银行本息;租金现金流先偿银行)"),
    ("html.h_payers", "Who pays the gap (expected PV)", "资金缺口由谁承担（现值期望）"),
    ("html.hd_var95", "hidden-debt PV: VaR95 / CVaR95", "隐性债务现值 VaR95 / CVaR95"),
    ("html.hd_var99", "hidden-debt PV: VaR99 / CVaR99", "隐性债务现值 VaR99 / CVaR99"),
    ("html.bond_burden", "explicit special-bond burden: P / expected PV", "专项债显性负担：概率 / 现值期望"),
    ("html.img_hidden_debt", "hidden-debt PV distribution", "隐性债务现值分布"),
    ("html.cap_hidden_debt", "Hidden-debt PV per path, VaR95 and CVaR95 marked.", "各路径隐性债务现值，标出 VaR95 与 CVaR95。"),
    ("html.img_cash_fan", "cash balance fan chart", "现金余额扇形图"),
    ("html.cap_cash_fan", "Reserves + retained cash at year end: p05–p95 fan.", "年末准备金及留存现金：p05–p95 扇形区间。"),
    ("html.cap_cash_fan_empty", "The median is 0 in every year: on most paths the reserve is drawn as soon as it is "
     "filled, because a block's cash flow does not cover its debt service and SOE support tops it up month by month.",
     "各年中位数均为 0：多数路径上准备金一经补足即被动用，因为项目现金流不足以覆盖债务本息，由国企逐月补足。"),
    ("html.h_bank", "Bank lens (credit officer: PD with the SOE's support, no government support)",
     "银行视角（信贷审批：违约概率含国企支持，不含政府支持）"),
    ("html.pd_life_annual", "PD with SOE support: over the loan life / annualised", "违约概率 PD（含国企支持；贷款期 / 年化）"),
    ("html.pd_nosupport", "the ring-fenced project alone: default in the first month the bank's service needs any "
                          "SOE money", "项目自身口径：银行本息首次需要国企资金的当月即计违约"),
    ("html.pd_nosupport_month0", "100 % by construction: every path needs SOE money in month 0 (e.g. interest in the "
                                 "renovation months, before any rent), so this says nothing about credit quality; the "
                                 "bank's PD is the one with SOE support",
     "按定义为 100 %：每条路径在第 0 月即需国企资金（如改造期内、尚无租金时的利息），因此不反映信用质量；"
     "银行违约概率以含国企支持口径为准"),
    ("html.years_to_default", "years to default p05 / p50 / p95 (defaulted paths)", "违约时间 5% / 50% / 95% 分位（违约路径）"),
    ("html.lgd_ead", "LGD (mean, defaulted paths) / EAD (mean)", "违约损失率 LGD（均值，违约路径）/ 违约风险暴露 EAD（均值）"),
    ("html.el", "expected loss / EL rate", "预期损失 / 预期损失率"),
    ("html.grade", "grade (slotting) / risk weight", "监管分类等级 / 风险权重"),
    ("html.no_bank", "The programme has no bank loan.", "本项目群没有银行贷款。"),
    ("html.img_pd", "cumulative PD", "累计违约概率"),
    ("html.cap_pd", "Cumulative probability of default by the end of each programme year (with SOE support).",
     "截至各项目年度末的累计违约概率（含国企支持）。"),
    ("html.img_dscr", "bank DSCR by programme year", "逐年银行偿债覆盖率 DSCR"),
    ("html.cap_dscr", "The bank lens's DSCR by programme year: CFADS available to the bank (after special-bond service "
                      "where the bonds rank first) ÷ bank service (interest + scheduled principal), all projects with "
                      "bank debt together, p05–p95 and median; the bank's test years {a}–{b} shaded; 1.0 and the "
                      "distribution lock-up threshold {lockup} marked (the lock-up itself is tested on all debt "
                      "service, trailing 12 months, per project).",
     "银行视角的逐年偿债覆盖率 DSCR：可用于偿还银行的现金流（专项债优先时先扣专项债本息）÷ 银行本息（利息 + 计划本金），"
     "有银行贷款的项目合计，p05–p95 区间及中位数；阴影为银行测试年度第 {a}–{b} 年；标出 1.0 及分配锁定线 {lockup}"
     "（锁定按各项目近 12 个月全部还本付息测试）。"),
    ("html.img_dscr_min", "minimum bank DSCR per path", "各路径银行最低 DSCR 分布"),
    ("html.cap_dscr_min", "The bank lens's headline DSCR: per path, the lowest bank DSCR of any ring-fenced project with "
                          "bank debt over its test years (programme years {a}–{b}) — the table's 'minimum bank DSCR' "
                          "and P(< 1).",
     "银行视角的主要 DSCR：每条路径上，各有银行贷款的封闭项目在其测试年度（第 {a}–{b} 年）内的最低银行 DSCR，"
     "即上表“银行最低偿债覆盖率”及其低于 1 的概率。"),
    ("html.img_coverage_fan", "debt-service coverage, all financing, by programme year", "逐年本息覆盖倍数（组合融资）"),
    ("html.cap_coverage_fan", "本息覆盖倍数, all financing, by programme year: CFADS ÷ all debt service (special bonds "
                              "and bank loans; bullets refinancing rolls excluded), "
                              "p05–p95 fan; 1.0 and the lock-up threshold {lockup} marked. Not the "
                              "bank's DSCR (bank lens below).",
     "逐年本息覆盖倍数（组合融资）：可偿债现金流 ÷ 全部还本付息（专项债及银行贷款；再融资债券承接的到期本金不计入），p05–p95 扇形区间；标出 1.0 及分配"
     "锁定线 {lockup}。并非银行 DSCR（见下文银行视角）。"),
    ("html.h_soe", "SOE lens (implementing SOE and researchers)", "国企视角（实施主体与研究者）"),
    ("html.img_waterfall", "median path waterfall", "中位路径资金瀑布图"),
    ("html.cap_waterfall",
     "The median path, no. {index}: {rule} Lifetime sources and uses of cash, undiscounted. Per-project yearly "
     "cash flows are in report.xlsx, sheet '{sheet}'.",
     "中位路径（第 {index} 条）：{rule}全周期资金来源与去向，未折现。各项目逐年现金流见 report.xlsx 的“{sheet}”工作表。"),
    ("median_rule", "among the paths at the median hidden-debt PV ({n} of them here), the one nearest their median "
                    "SOE support PV, then nearest their median terminal equity, then the lowest path number.",
     "在隐性债务现值等于中位数的路径中（本次共 {n} 条），取国企支持现值最接近其中位数者，再取期末权益最接近其中位数者，"
     "仍并列时取路径编号最小者。"),
    ("html.h_compliance", "Policy compliance", "合规检查"),
    ("html.rule_sets", "Rule sets: {sets}.", "规则集：{sets}。"),
    ("html.check_failed", "The compliance check failed: {error}", "合规检查失败：{error}"),
    ("html.no_finding", "No policy finding: the plan complies with the rules checked.", "无合规问题：方案符合所检查的规则。"),
    ("html.findings", "{n} finding(s): {plan} from the plan's rules (static check), {run} from the run's results "
                      "(summary.json).",
     "{n} 项合规问题：{plan} 项来自方案的静态规则检查，{run} 项来自运行结果（summary.json）。"),
    ("finding.coverage.floor", "{measure}: median {actual} below the floor {limit} the plan cites",
     "{measure}：中位数 {actual}，低于方案所引用的下限 {limit}"),
    ("finding.coverage.ceiling", "{measure}: median {actual} implausibly above {limit} — check the income forecast",
     "{measure}：中位数 {actual}，高于 {limit}，不合常理——请核查收入预测"),
    ("finding.plan", "plan (static rules)", "方案（静态规则）"),
    ("finding.run", "run result (summary.json {where})", "运行结果（summary.json {where}）"),
    ("html.h_unverifiable", "Rules that could not be checked (the scenario lacks the figure)", "无法核验的规则（情景缺少相应数据）"),
    ("html.h_assumptions", "Key assumptions", "主要假设"),
    ("html.h_projects", "Projects and capital", "项目与资本金"),
    ("html.h_loans", "Bank loans", "银行贷款"),
    ("html.h_bonds", "Special bonds", "专项债"),
    ("html.h_grants", "Grants", "补助"),
    ("html.h_waterfall", "Waterfall", "资金使用顺序"),
    ("html.h_support", "Support and cures (the settings this run used)", "国企支持与化解措施（本次运行采用的设置）"),
    ("html.legacy_pays", "everything, in the waterfall's order (legacy conventions)", "按资金使用顺序支付全部款项（旧口径）"),
    ("html.refills", "the SOE's support pot refills: the programme's distributions return to it (default conventions: "
                     "support.distributions_return, or waterfall.soe_support_revolving)",
     "国企支持资金池可回补：项目分配回流资金池（默认口径：support.distributions_return 或 waterfall.soe_support_revolving）"),
    ("html.refills_legacy", "the SOE's support pot refills only when waterfall.soe_support_revolving (legacy conventions)",
     "仅当 waterfall.soe_support_revolving 时国企支持资金池可回补（旧口径）"),
    ("html.no_cap", "no cap", "无上限"),
    ("html.pv_rates_meaning", "PV rates: government figures at the fiscal rate, SOE figures at the programme rate",
     "现值折现率：财政口径按财政折现率，国企口径按项目折现率"),
    ("html.no_cures", "the scenario names no cure: none is tried", "情景未设化解措施：不尝试任何化解"),
    ("html.no_cures_legacy", "legacy conventions try no cure", "旧口径不尝试任何化解措施"),
    ("html.cure_absent", "not configured", "未设置"),
    ("html.h_market", "Market (annual)", "市场参数（年化）"),
    ("html.stresses", "Stress overlays defined: {names}.", "已定义的压力情景：{names}。"),
    ("html.fixed", "fixed {rate}", "固定 {rate}"),
    ("html.relending", "{share} at {rate}, {term} y × {n}", "{share}，利率 {rate}，{term} 年 × {n}"),
    ("html.capital", "capital", "资本金"), ("html.operating", "operating, month {m}", "运营期，第 {m} 月"),
    ("html.h_manifest", "Run manifest", "运行记录"),
    ("html.h_param_unc", "Parameter uncertainty", "参数不确定性"),
    ("html.param_unc", "The market parameters were drawn {draws} times from their estimated sampling distribution "
     "([market.parameter_uncertainty], {per} paths per draw). The draws explain {pv} of the variance of the "
     "hidden-debt PV across paths and {call} of the variance of the call indicator; P(call) varies across draws "
     "with a standard deviation of {sd} percentage points.",
     "市场参数按其估计抽样分布抽取 {draws} 次（[market.parameter_uncertainty]，每次 {per} 条路径）。参数抽样解释了各路径隐性债务"
     "现值方差的 {pv}、触发指示方差的 {call}；各次抽样之间触发概率的标准差为 {sd} 个百分点。"),
    ("html.footer", "baozhang-finance · summary.json, paths.parquet, yearly.csv and report.xlsx in this run folder "
                    "hold every number on this page.",
     "baozhang-finance · 本页所有数字均可在本运行文件夹的 summary.json、paths.parquet、yearly.csv 和 report.xlsx 中找到。"),
    # ------------------------------------------------------------------ report.xlsx
    ("xlsx.sheet.guide", "Guide", "说明"), ("xlsx.sheet.summary", "Summary", "汇总"),
    ("xlsx.sheet.inputs", "Inputs", "输入"), ("xlsx.sheet.yearly", "Yearly", "逐年"),
    ("xlsx.sheet.median", "Median path", "中位路径"), ("xlsx.sheet.paths", "Paths sample", "路径样本"),
    ("xlsx.sheet.manifest", "Manifest", "运行记录"),
    ("xlsx.title", "{name} — baozhang-finance report", "{name} — baozhang-finance 测算报告"),
    ("xlsx.guide.summary", "every number of summary.json (three lenses) with its label and unit; money in yuan and "
                           "万元 (10k yuan); shares as %",
     "summary.json 的全部数字（三个视角），附名称和单位；金额以元和万元计，比例以 % 计"),
    ("xlsx.guide.inputs", "the scenario as read and validated (every field, flattened)", "读入并校验后的情景（全部字段，展开）"),
    ("xlsx.guide.yearly", "fan-chart table: mean and p05–p95 across paths by year; money in 万元",
     "扇形图数据：逐年各路径的均值及 p05–p95；金额以万元计"),
    ("xlsx.guide.median", "yearly cash flows per project of path {index} (the median path: median hidden-debt PV, "
                          "ties by SOE support PV, terminal equity, path number), yuan; by programme year",
     "第 {index} 条路径（中位路径：隐性债务现值中位数，并列时依次按国企支持现值、期末权益、路径编号选取）各项目逐年现金流，"
     "单位元，按项目年度"),
    ("xlsx.guide.paths", "the first {rows} of {total} per-path rows (all rows are in paths.parquet)",
     "{total} 条路径中的前 {rows} 条（全部见 paths.parquet）"),
    ("xlsx.guide.manifest", "package version, git commit, scenario SHA-256, seed, paths, chunk size, wall time",
     "软件版本、git 提交、情景 SHA-256、随机种子、路径数、分块大小、运行时间"),
    ("xlsx.guide.se", "± in the tables is one standard error (SE) of the Monte Carlo estimate",
     "表中 ± 为蒙特卡洛估计的一个标准误（SE）"),
    ("xlsx.median_head", "Path {index}: median hidden-debt PV = {yuan} yuan ({wan} 万元). Money in yuan; flows are "
                         "yearly sums by programme year (year 1 = {first} to {last}; 'calendar year' is the year in "
                         "which the programme year starts).",
     "第 {index} 条路径：隐性债务现值中位数 = {yuan} 元（{wan} 万元）。金额以元计，现金流为各项目年度合计（第 1 年 = {first} "
     "至 {last}；“公历年”为该项目年度起始的公历年）。"),
    ("xlsx.median_note", "The median path: {rule} Re-simulated month by month from the run's seed and chunk; checked "
                         "against the run's ledgers.",
     "中位路径的选取：{rule}按本次运行的随机种子和分块逐月重新模拟，并与运行台账核对一致。"),
    ("xlsx.programme_block", "Programme (support by payer, market)", "项目群（各方支持、市场）"),
    # ------------------------------------------------------------------ terminal tables
    # the slotting grades of specialised lending (商业银行资本管理办法: 优 / 良 / 中 / 差 / 违约)
    ("grade.Strong", "Strong", "优"), ("grade.Good", "Good", "良"), ("grade.Satisfactory", "Satisfactory", "中"),
    ("grade.Weak", "Weak", "差"), ("grade.Default", "Default", "违约"),
    ("term.fiscal", "fiscal", "财政"), ("term.bank", "bank", "银行"), ("term.soe", "SOE", "国企"),
    ("term.title", "{name} — {paths} paths, seed {seed}", "{name} — {paths} 条路径，随机种子 {seed}"),
    ("term.stress", ", stress {stress}", "，压力情景 {stress}"),
    ("term.footnote", "万元 = 10,000 yuan; ± = one standard error (SE); bank PD: with SOE support.",
     "万元 = 10,000 元；± 为一个标准误（SE）；银行违约概率为含国企支持口径。"),
    ("note.pv_rates", "PV: government figures (hidden debt, bond burden, government money) at the fiscal discount "
                      "rate {fiscal}; SOE figures (equity NPV, SOE support) at the programme discount rate {soe}.",
     "现值：财政口径（隐性债务、专项债显性负担、财政资金）按财政折现率 {fiscal} 折现；国企口径（资本金净现值、国企支持）"
     "按项目折现率 {soe} 折现。"),
    ("note.income_tv", "SOE return: terminal value at income value (NOI ÷ cap rate {cap}), as affordable rental "
                       "housing cannot be sold at market; the market-value figure is shown beside it as secondary.",
     "国企收益按收益法终值（净营业收入 ÷ 资本化率 {cap}）计算：保租房不得按市场价出售；按市值计终值的数字并列作次要参考。"),
    ("term.no_policy_finding", "No policy finding: neither the plan's rules nor the run's coverage tests flag anything.",
     "无合规问题：方案的静态规则与运行结果的覆盖倍数检验均未发现问题。"),
    ("term.policy_findings", "Policy findings: {n} ({plan} from the plan's rules, {run} from the run's results):",
     "合规问题 {n} 项（{plan} 项来自方案规则，{run} 项来自运行结果）："),
    ("term.finding_line", "  [{source}] {rule}: {actual} (limit {limit}) — {message}",
     "  [{source}] {rule}：{actual}（限值 {limit}）— {message}"),
    ("term.p_self", "P(self-financing, no support)", "完全自求平衡概率"),
    ("term.p_call", "P(hidden-debt call) ± SE", "隐性债务触发概率 ± SE"),
    ("term.pv", "hidden debt PV: mean ± SE", "隐性债务现值 均值 ± SE"),
    ("term.var95", "hidden debt PV: VaR95 / CVaR95", "隐性债务现值 VaR95/CVaR95"),
    ("term.var99", "hidden debt PV: VaR99 / CVaR99", "隐性债务现值 VaR99/CVaR99"),
    ("term.first_call", "first call year p05/p50/p95", "首次触发年份 5/50/95%"),
    ("term.peak_share", "peak call ÷ fiscal rev. p50/p95", "代偿峰值/财政收入 50/95%"),
    ("term.bond", "explicit bond burden: P / PV", "专项债显性负担 概率/现值"),
    ("term.coverage", "bond coverage p05/p50", "本息覆盖倍数 5/50%"),
    ("term.coverage_all", "coverage, all financing p05/p50", "本息覆盖倍数(组合融资) 5/50%"),
    ("term.coverage_all_both", "本息覆盖倍数 bonds+bank p05/p50", "本息覆盖倍数(组合融资) 5/50%"),
    ("term.coverage_bond_only", "bonds only, before bank service", "  仅专项债,未扣银行本息"),
    ("term.gap", "gap: budget-bond / SOE / hidden", "缺口承担 财政(专项债)/国企/隐性"),
    ("term.pd", "PD, with SOE support, life/ann.", "违约概率(含国企支持) 贷款期/年化"),
    ("term.default_year", "default year p05/p50/p95", "违约年份 5/50/95%"),
    ("term.ead_lgd_el", "EAD / LGD / EL (means)", "EAD/LGD/预期损失 均值"),
    ("term.el_rate", "EL rate (EL ÷ principal)", "预期损失率"),
    ("term.dscr", "bank DSCR min y{y0}–{y1} p05/p50", "银行最低DSCR {y0}–{y1}年 5/50%"),
    ("term.p_dscr", "P(bank DSCR min < 1)", "银行DSCR低于1的概率"),
    ("term.ltv", "peak LTV p50 / p95", "峰值LTV 50/95%"),
    ("term.grade", "slotting grade (risk weight)", "监管分类（风险权重）"),
    ("term.grade_by", "  by PD / DSCR / LTV", "  按 PD/DSCR/LTV"),
    ("term.bank_debt", "bank debt", "银行贷款"),
    ("term.llcr", "LLCR per project p05/p50", "按项目LLCR 5/50%"),
    ("term.irr", "equity IRR p05/p50/p95", "资本金IRR 5/50/95%"),
    ("term.npv", "equity NPV p05/p50/p95", "资本金NPV 5/50/95%"),
    ("term.irr_income", "equity IRR, income TV p05/50/95", "资本金IRR(收益法终值) 5/50/95%"),
    ("term.npv_income", "equity NPV, income TV p05/50/95", "资本金NPV(收益法终值) 5/50/95%"),
    ("term.market_tv", "  market-value TV p05/50/95", "  按市值终值 5/50/95%"),
    ("term.funding", "peak funding need p50/p95", "峰值资金需求 50/95%"),
    ("term.lockup", "yrs any project locked mean/p95", "任一项目锁定年数 均值/95%"),
    ("term.lockup_p", "{years} (P {p})", "{years}（概率 {p}）"),
    ("term.compare_title", "Scenario comparison — {paths} paths, seed {seed}, chunk size {chunk} (same for all)",
     "情景比较 — {paths} 条路径，随机种子 {seed}，分块 {chunk}（各情景相同）"),
    ("term.compare_caption",
     "P(call), E[hidden]: hidden-debt call (fiscal); ± SE: one standard error; E[bond]: explicit special-bond "
     "burden; government PVs (E[hidden], E[bond]) {fiscal}; PD: with SOE support; "
     "IRR: SOE equity, terminal value at market value; money in 万元",
     "触发概率、隐性债务：财政视角的隐性债务触发概率与现值期望；标准误：一个标准误；专项债负担：显性负担现值期望；"
     "财政口径现值（隐性债务、专项债负担）{fiscal}；违约概率：含国企支持口径；IRR：国企资本金，按市值计终值；"
     "金额单位万元"),
    ("term.compare_rate_one", "at the fiscal discount rate {rate}", "按财政折现率 {rate} 折现"),
    ("term.compare_rate_each", "at each programme's fiscal discount rate", "按各项目的财政折现率折现"),
    ("compare.total_investment_yuan", "invest 万元", "总投资"),
    ("compare.p_self_financing", "P(self-fin)", "自求平衡"),
    ("compare.p_hidden_call", "P(call)", "触发概率"),
    ("compare.p_hidden_call_se", "± SE", "标准误"),
    ("compare.hidden_debt_pv_yuan", "E[hidden] PV 万元", "隐性债务"),
    ("compare.explicit_bond_burden_pv_yuan", "E[bond] PV 万元", "专项债负担"),
    ("compare.dscr_min_p05", "DSCRmin p05", "最低DSCR p05"),
    ("compare.pd_lifetime", "PD life", "违约概率"),
    ("compare.equity_irr_p50", "IRR p50", "IRR 中位数"),
    ("term.sweep_title", "sweep of {field} ({paths} paths, seed {seed}; value ± one standard error; money in 万元)",
     "{field} 扫描（{paths} 条路径，随机种子 {seed}；数值 ± 一个标准误；金额单位万元）"),
    ("term.tornado_title", "tornado ({runs} runs × {paths} paths, seed {seed}; base {base}; metric at the input's "
                           "low … high)",
     "龙卷风图（{runs} 次运行 × {paths} 条路径，随机种子 {seed}；基准 {base}；指标在输入低值 … 高值时）"),
    ("term.sobol_title", "Sobol indices ({runs} runs × {paths} paths, N = {n}; conf = 95 % half-width)",
     "Sobol 指数（{runs} 次运行 × {paths} 条路径，N = {n}；± 为 95 % 置信半宽）"),
    ("term.solved", "{find} of project {k} ({name}) with {constraint}: {answer} (plan: {base}, change {change})",
     "满足 {constraint} 的项目 {k}（{name}）{find}：{answer}（方案值：{base}，变化 {change}）"),
    ("term.solved_metric", "  {metric} at the answer = {value} (± SE){unc}", "  该解下{metric} = {value}（± SE）{unc}"),
    ("term.solved_unc", ", answer ± {se} SE (Monte Carlo)", "，解 ± {se} SE（蒙特卡洛）"),
    ("term.solved_runs", "  {n} simulations × {paths} paths, seed {seed}, {secs} s{note}",
     "  {n} 次模拟 × {paths} 条路径，随机种子 {seed}，{secs} 秒{note}"),
    ("term.stopped_by", "; stopped by {why}", "；停止条件：{why}"),
    ("term.compliant", "{name}: compliant — {n} rules of [{sets}] checked, no findings",
     "{name}：合规 — 已检查 [{sets}] 的 {n} 条规则，无问题"),
    ("term.findings", "{name}: {n} policy finding(s) under [{sets}]", "{name}：[{sets}] 下有 {n} 项合规问题"),
    ("term.not_verifiable", "  not verifiable: {rule} ({document} {clause}) for {project}: {reason}",
     "  无法核验：{rule}（{document} {clause}），{project}：{reason}"),
    # ------------------------------------------------------------------ charts (PNG)
    ("chart.fan.cash_balance", "Cash at year end (reserves + retained), 10k yuan", "年末现金（偿债准备金及留存现金，万元）"),
    ("chart.fan.dscr", "Debt-service coverage, all financing (CFADS ÷ bond + bank service; bullets refinancing rolls excluded)",
     "本息覆盖倍数（组合融资：可偿债现金流 ÷ 专项债及银行本息）"),
    ("chart.fan.cfads", "CFADS, 10k yuan", "可用于偿债的现金流（万元）"),
    ("chart.fan.cum_support", "Cumulative external support, 10k yuan", "累计外部支持（万元）"),
    ("chart.fan.bank_balance", "Bank loan balance, 10k yuan", "银行贷款余额（万元）"),
    ("chart.fan.ltv", "Loan-to-value", "贷款价值比 LTV"),
    ("chart.no_data", "no data for this quantity", "无数据"),
    ("borrower.project", "ring-fenced project (limited recourse)", "封闭项目（有限追索）"),
    ("borrower.soe_full_recourse", "the SOE (full recourse)", "国企主体（全额追索）"),
    ("year_span", "{y} ({span})", "第 {y} 年（{span}）"),
    ("chart.median", "median", "中位数"), ("chart.year", "year", "年份"),
    ("chart.median_is", "median {v}", "中位数 {v}"),
    ("chart.year_axis", "programme year (calendar year below)", "项目年度（下方为公历年）"),
    ("chart.year_axis_start", "programme year (year 1 = {first} to {last}; calendar year below)",
     "项目年度（第 1 年 = {first} 至 {last}；下方为公历年）"),
    ("chart.year_axis_end", "end of programme year (calendar year below)", "项目年度末（下方为公历年）"),
    ("chart.year_axis_end_start", "end of programme year (year 1 = {first} to {last}; calendar year below)",
     "项目年度末（第 1 年 = {first} 至 {last}；下方为公历年）"),
    ("chart.ref", "reference {v}", "参考线 {v}"),
    ("chart.ref_one", "1.0: cash just covers the service", "1.0：现金流恰好覆盖本息"),
    ("chart.ref_lockup_all", "lock-up {v} (on all debt service)", "分配锁定线 {v}（按全部本息）"),
    ("chart.bank_dscr_title", "Bank DSCR by year: CFADS available to the bank ÷ bank service",
     "逐年银行 DSCR：可偿还银行的现金流 ÷ 银行本息"),
    ("chart.bank_dscr_y", "bank DSCR (x)", "银行 DSCR（倍）"),
    ("chart.bank_dscr_window", "bank test years {a}–{b}", "银行测试年度 第 {a}–{b} 年"),
    ("chart.bank_min_title", "Minimum bank DSCR per path (lowest ring-fenced project)",
     "各路径银行最低 DSCR（取最低的项目）"),
    ("chart.bank_min_x", "minimum bank DSCR over programme years {a}–{b}", "第 {a}–{b} 年内银行最低 DSCR"),
    ("chart.bank_min_clipped", "values above {v} in the last bar", "大于 {v} 的计入最后一栏"),
    ("chart.bank_min_below", "paths: P(minimum < 1) = {p}", "路径分布：低于 1 的概率 {p}"),
    ("chart.bank_min_none", "{n} paths without bank service in the window", "{n} 条路径测试期内无银行本息"),
    ("chart.share_of_paths", "share of paths", "路径占比"),
    ("chart.hd_mark", "{name} = {v} 10k yuan", "{name} = {v} 万元"),
    ("chart.hd_title", "Hidden-debt call, present value per path", "隐性债务现值分布"),
    ("chart.hd_x", "PV of government money for SOE debt / costs, 10k yuan", "财政代偿国企债务及成本的现值（万元）"),
    ("chart.hd_y", "paths", "路径数"),
    ("chart.hd_none", "no hidden-debt call on any of the {n} paths", "所有 {n} 条路径均无隐性债务"),
    ("chart.hd_with", "paths with a call ({p})", "有代偿路径（{p}）"),
    ("chart.hd_without", "no call: {p} of paths (PV = 0)", "无代偿：{p} 的路径（现值 = 0）"),
    ("chart.pd_title", "Bank: cumulative PD (with SOE support)", "银行累计违约概率（含国企支持）"),
    ("chart.pd_y", "cumulative PD", "累计违约概率"),
    ("chart.pd_none", "no bank debt", "无银行贷款"),
    ("chart.pd_x", "end of programme year", "项目年度末"),
    ("chart.pd_x_start", "end of programme year (year 1 starts {start})", "项目年度末（第 1 年始于 {start}）"),
    ("chart.wf.funding", "Funding raised", "融资到位"),
    ("chart.wf.acquisition", "Acquisition & fit-out", "收购与改造"),
    ("chart.wf.rent", "Rent + rent subsidy", "租金及补贴"),
    ("chart.wf.sales", "Sale proceeds", "销售回款"),
    ("chart.wf.grants", "Operating grants + interest subsidy", "运营补助与贴息"),
    ("chart.wf.operating_costs", "Operating costs & taxes", "运营成本与税费"),
    ("chart.wf.buybacks", "Buybacks", "回购支出"),
    ("chart.wf.bank_service", "Bank interest + principal", "银行本息"),
    ("chart.wf.bond_service", "Special-bond service", "专项债本息"),
    ("chart.wf.cures", "Cures: extensions, refinancing bonds", "展期与再融资债券"),
    ("chart.wf.soe_support", "SOE support", "国企支持"),
    ("chart.wf.gov_bond", "Budget: explicit bond burden", "财政：显性债务负担（专项债）"),
    ("chart.wf.gov_hidden", "Budget: hidden-debt call", "财政：隐性债务代偿"),
    ("chart.wf.distributions", "Distributions to SOE", "向国企分配"),
    ("chart.wf.end_cash", "Cash at the end", "期末现金"),
    ("chart.wf_x", "10k yuan (lifetime totals, undiscounted)", "万元（全周期合计，未折现）"),
    ("chart.wf_title", "Median path: where the money came from and went", "中位路径：资金来源与去向"),
    ("chart.wf_in", "inflow (+)", "流入（+）"), ("chart.wf_out", "outflow (−)", "流出（−）"),
    ("chart.wf_soe", "SOE support (+)", "国企支持（+）"), ("chart.wf_budget", "budget money (+)", "财政资金（+）"),
    ("chart.wf_median", "Median path (no. {index}): lifetime cash", "中位路径（第 {index} 条）资金来源与去向"),
    ("chart.ci95", "95 % CI", "95 % 置信区间"),
    ("chart.low", "input at low", "输入取低值"), ("chart.high", "input at high", "输入取高值"),
    ("chart.change", "change in {metric} from base {base}", "{metric}相对基准 {base} 的变化"),
    ("chart.s1", "first order S1", "一阶指数 S1"), ("chart.st", "total ST", "总效应指数 ST"),
    ("chart.sobol_y", "Sobol index of {metric}", "{metric}的 Sobol 指数"),
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
    for name, en, zh in _TEXT_ROWS:
        add(Entry(f"text.{name}", "text", en, zh))
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


def stat_label(stat: str, lang: str) -> str:
    """A statistic's name (``p05`` → "p05" / "5%分位")."""
    en, zh = _STAT_EN.get(stat, stat), _STAT_ZH.get(stat, stat)
    return {"en": en, "zh": zh}.get(lang, f"{en} {zh}")


def has(key: str) -> bool:
    return normalise(key) in CATALOGUE

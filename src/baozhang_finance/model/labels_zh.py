"""Chinese names of the scenario's tables and fields, for the input workbook (``baozhang template``).

Keyed by field name (a name means the same thing in every table it appears in) and by table path. A field with no
entry here still appears in the workbook, with its English description only: add its name here when you add it.
"""

from __future__ import annotations

TABLES_ZH: dict[str, str] = {
    "programme": "项目群", "projects": "项目", "projects.construction": "新建", "projects.cost_basis": "成本构成",
    "projects.rental": "配租运营", "projects.sale": "配售运营", "projects.sale.buyback": "回购",
    "projects.sale.walkaway": "认购违约", "projects.financing": "融资", "projects.financing.loans": "银行贷款",
    "projects.financing.loans.relending": "保障性住房再贷款", "projects.financing.bonds": "专项债",
    "projects.financing.bonds.schedule": "提前还本计划", "projects.financing.grants": "补助资金",
    "projects.financing.soe_bonds": "公司信用类债券", "projects.financing.soe_bonds.schedule": "公司债还本计划",
    "projects.financing.interest_subsidy": "贴息", "waterfall": "现金流分配与兜底", "policy": "政策依据",
    "credit": "银行回收假设", "market": "市场", "market.stresses": "压力情景", "market.correlation": "相关系数",
    "simulation": "模拟设置", "support": "兜底政策", "cures": "化解措施", "cures.extension": "贷款展期",
    "cures.refinancing": "再融资专项债券", "cures.sinking_fund": "偿债基金", "cures.disposal": "资产处置（REITs/国企收购）",
}

FIELDS_ZH: dict[str, str] = {
    # programme
    "name": "名称", "city": "城市", "soe": "实施主体", "start": "起始年月", "horizon_years": "测算期（年）",
    "discount_rate": "折现率", "fiscal_revenue_yuan": "一般公共预算收入（年）", "fiscal_discount_rate": "财政折现率",
    # project
    "type": "类型（配租/配售）", "units": "套数", "area_m2": "套均面积", "appraisal_yuan_per_m2": "评估单价",
    "acquisition_price_yuan_per_m2": "收购单价", "acquisition_start_month": "收购开始月",
    "acquisition_months": "收购付款月数", "purchase_tax_rate": "契税及费用率", "renovation_yuan_per_m2": "改造单价",
    "upfront_reserve_yuan": "初始偿债准备金", "construction": "新建阶段", "cost_basis": "成本构成", "rental": "配租运营",
    "sale": "配售运营", "financing": "融资",
    "land_cost_yuan": "划拨土地成本", "construction_cost_yuan_per_m2": "建安单价", "start_month": "开始月",
    "months": "月数", "land_yuan_per_m2": "土地成本单价", "construction_yuan_per_m2": "建安成本单价",
    "replacement_yuan_per_m2": "同地段保障房重置价格",
    # rental
    "market_rent_yuan_per_m2_month": "市场租金", "rent_ratio": "租金折扣率（占市场租金）", "lease_years": "租期（年）",
    "renovation_months": "改造月数", "lease_up_months": "出租爬坡月数", "stabilised_occupancy": "稳定出租率",
    "collection_rate": "租金收缴率", "opex_yuan_per_m2_year": "运维成本", "management_fee_share": "管理费率",
    "vat_rate_on_rent": "租金增值税率", "property_tax_rate_on_rent": "房产税率", "capex_reserve_share_of_rent": "大修基金比例",
    "rent_subsidy_yuan_per_unit_month": "租金补贴",
    # sale
    "margin": "利润率", "presubscription_share": "预认购比例", "deposit_share": "定金比例",
    "handover_delay_months": "交付延迟月数", "absorption_monthly": "月去化率", "absorption_price_elasticity": "去化价格弹性",
    "sweep_share": "售房款还贷比例", "holding_cost_yuan_per_m2_year": "持有成本", "sales_tax_rate": "销售税费率",
    "buyer_down_payment_share": "首付比例", "buyback": "回购", "walkaway": "认购违约",
    "deposits_in_escrow": "预售资金监管", "buyback_reserve_share": "回购准备金比例",
    "lockup_years": "封闭期（年）", "hazard_annual": "年回购申请率", "price_sensitivity": "房价下跌敏感度",
    "price_rule": "回购定价规则", "fee_share": "费用比例", "index_rate_annual": "年调价率",
    "resale_delay_months": "再销售延迟月数", "resale_margin": "再销售加价率", "base_share": "基础违约比例",
    "gap_sensitivity": "价差敏感度",
    # financing
    "equity_yuan": "国企资本金", "loans": "银行贷款", "bonds": "专项债", "grants": "补助资金", "interest_subsidy": "贴息",
    "amount_yuan": "金额", "term_years": "期限（年）", "grace_months": "宽限期（月）", "amortisation": "还款方式",
    "rate_type": "利率类型", "fixed_rate": "固定利率", "spread_over_lpr": "LPR加点", "capitalise_interest_in_grace": "宽限期利息资本化",
    "relending": "再贷款", "share": "比例", "rate": "利率", "rollovers": "展期次数", "reprice_probability": "重定价概率",
    "coupon": "票面利率", "coupon_frequency": "付息频率", "principal": "还本方式", "schedule": "提前还本计划",
    "counts_as_capital": "计入资本金", "year": "年", "source": "资金来源", "per_unit_yuan": "每套金额",
    "capital": "资本性补助", "month": "到账月", "share_of_interest": "贴息比例", "years": "年数",
    # waterfall, policy, credit
    "seniority": "偿债顺序", "dsra_months": "偿债准备金（月）", "lockup_dscr": "分配锁定DSCR",
    "soe_support_capacity_yuan": "国企兜底能力", "soe_support_revolving": "兜底能力可循环",
    "cross_project_support": "项目间互助", "terminal_value_haircut": "期末价值折扣", "rule_sets": "政策规则集",
    "forced_sale_haircut": "处置折价", "liquidation_months": "处置周期（月）", "liquidation_cost_share": "处置费用率",
    "recovery_discount_rate": "回收折现率",
    # market
    "price_drift_annual": "房价年增长", "price_vol_annual": "房价年波动率", "decline_years": "下跌期（年）",
    "decline_drift_annual": "下跌期房价年增长", "rent_drift_annual": "租金年增长", "rent_vol_annual": "租金年波动率",
    "rent_decline_years": "租金下跌期（年）", "rent_decline_drift_annual": "下跌期租金年增长", "lpr_initial": "初始LPR",
    "lpr_mean": "LPR长期均值", "lpr_reversion": "LPR回归速度", "lpr_vol_annual": "LPR年波动", "lpr_floor": "LPR下限",
    "cpi_drift_annual": "CPI年涨幅", "cpi_vol_annual": "CPI年波动率", "occupancy_reversion": "出租率回归速度",
    "occupancy_vol_annual": "出租率年波动", "absorption_reversion": "去化回归速度", "absorption_vol_annual": "去化年波动",
    "fiscal_growth_annual": "财政收入年增长", "fiscal_vol_annual": "财政收入年波动率", "fiscal_land_share": "土地出让收入占比",
    "fiscal_land_beta": "土地收入房价弹性", "relending_nonrenewal_prob": "再贷款不续作概率", "correlation": "相关系数矩阵",
    "stresses": "压力情景", "price_change": "房价累计变化", "price_start_month": "房价变化开始月",
    "price_months": "房价变化月数", "rent_change": "租金累计变化", "rate_shift_bp": "利率变动（基点）",
    "rate_start_month": "利率变动开始月", "occupancy_shift": "出租率变动", "occupancy_start_month": "出租率变动开始月",
    "relending_stops_month": "再贷款停止月",
    # simulation
    "paths": "模拟路径数", "seed": "随机种子", "chunk_size": "每批路径数",
    # support and cures
    "conventions": "口径", "soe_pays": "国企资金可支付", "yearly_capacity_yuan": "国企年度新增兜底能力",
    "distributions_return": "分配回流兜底资金池", "pot_cap_yuan": "兜底资金池上限", "order": "化解顺序",
    "timing": "化解时点（国企支持之后或之前）",
    "extension": "贷款展期", "refinancing": "再融资专项债券", "sinking_fund": "偿债基金", "disposal": "资产处置",
    "max_times": "最多次数", "rate_step_bp": "每次加息（基点）", "max_tenor_years": "最长期限（年）",
    "max_loan_to_income_value": "贷款/收益法价值上限", "max_share": "最大比例", "buyer": "买方",
    "cap_rate": "资本化率", "cap_rate_lpr_beta": "资本化率LPR系数", "transaction_cost_share": "交易费用率",
    "min_operating_months": "最短运营月数", "min_occupancy": "最低出租率",
    # seed terms
    "soe_bonds": "公司信用类债券", "acquisition_condition_share": "收购前置配售配租比例", "pre_allocation_share": "预配租比例",
    "acceptance_share": "回购申请接受比例", "payer": "回购支付方", "delay_months": "工期延误月数",
    "delay_probability": "工期延误概率", "overrun_share": "建设成本超支比例", "overrun_probability": "成本超支概率",
}

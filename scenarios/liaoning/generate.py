"""Write the 15 Liaoning city scenario files (scenarios/liaoning/<pinyin>.toml) from scenarios/liaoning_2025.toml.

Run from the repository root: ``python scenarios/liaoning/generate.py``. The figures and their sources are in the
tables below and in docs/liaoning-province.md; every line this script changes carries its own source comment.
Rule: the 2025 tranche (10,000 公租房 + 35,000 保租房, seeds/000_61892fe0cb3773ac.txt §一) is shared over the 14
prefecture cities and the 沈抚 demonstration zone in proportion to resident population (常住人口), largest
remainder to make the totals exact.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "scenarios" / "liaoning_2025.toml"
OUT = ROOT / "scenarios" / "liaoning"
SEED = "seeds/000_61892fe0cb3773ac.txt"
POP_SRC = "辽宁省统计局 2021 常住人口 (table in jsmbw.com/news/624195.html)"
REV_SRC = "2024 一般公共预算收入, 全市 (wanbiaoku.com/new/0b3fed041231460a9ce7e612e8bb2a6a, 2025-01-24)"

# pinyin, 中文, population 2021 (万, 常住), its source, revenue 2024 (亿 yuan, 全市 general budget), its source, tier
CITIES = [
    ("shenyang", "沈阳", 911.8, POP_SRC, 825.60, REV_SRC, "A"),
    ("dalian", "大连", 748.8, POP_SRC, 774.60, REV_SRC, "A"),
    ("anshan", "鞍山", 328.2, POP_SRC, 172.2, REV_SRC, "B"),
    ("fushun", "抚顺", 181.9, POP_SRC, 72.5, REV_SRC, "C"),
    ("benxi", "本溪", 129.6, POP_SRC, 91.5, REV_SRC, "C"),
    ("dandong", "丹东", 215.3, POP_SRC, 80.35, REV_SRC, "B"),
    ("jinzhou", "锦州", 266.8, POP_SRC, 121.4, REV_SRC, "B"),
    ("yingkou", "营口", 231.2, POP_SRC, 140.6, REV_SRC, "B"),
    ("fuxin", "阜新", 161.9, POP_SRC, 49.0,
     "assumption, range 47–52 亿: 2023 was 47.42 亿 (same source); 2024 figure not found, 2023 × 1.03", "D"),
    ("liaoyang", "辽阳", 157.7, POP_SRC, 86.33, REV_SRC, "C"),
    ("panjin", "盘锦", 139.0, POP_SRC, 140.5, REV_SRC, "B"),
    ("tieling", "铁岭", 232.9, POP_SRC, 55.0,
     "assumption, range 52–59 亿: 2023 was 51.61 亿 (same source); 2024 figure not found, 2023 × 1.07", "D"),
    ("chaoyang", "朝阳", 284.0, POP_SRC, 87.7, REV_SRC, "C"),
    ("huludao", "葫芦岛", 240.3, POP_SRC, 75.2, REV_SRC, "C"),
    ("shenfu", "沈抚示范区", 30.0, "assumption, range 20–40 万: no public figure found (a 171 km² zone carved from "
     "Shenyang and Fushun)", 25.0, "assumption, range 15–40 亿: no public figure found", "S"),
]

# market and price tiers (docs/liaoning-province.md "Markets"): domain-facts §3 — Shenyang and Dalian larger and firmer,
# small north-eastern cities weaker. Every figure an assumption with the range in the doc, except Dalian's rent anchor.
TIERS = {
    #      gzf appr, bzf appr, gzf rent, bzf rent, decl yrs, decl drift, price vol, rent drift, rent decl, occ, lease-up,
    #      fiscal growth, land share
    "A": dict(opex=26.0, g_app=8000.0, b_app=8500.0, g_rent=22.0, b_rent=24.0, decl_y=2, decl=-0.03, vol=0.06, rdrift=0.0,
              rdecl=-0.012, occ=0.93, lease=12, fgrow=0.02, land=0.30, label="provincial capital / sub-provincial city"),
    "S": dict(opex=22.0, g_app=6500.0, b_app=7000.0, g_rent=18.0, b_rent=20.0, decl_y=3, decl=-0.04, vol=0.07, rdrift=-0.003,
              rdecl=-0.015, occ=0.90, lease=18, fgrow=0.02, land=0.35, label="new zone on Shenyang's edge"),
    "B": dict(opex=20.0, g_app=4600.0, b_app=4800.0, g_rent=15.0, b_rent=18.0, decl_y=3, decl=-0.05, vol=0.08, rdrift=-0.005,
              rdecl=-0.018, occ=0.92, lease=18, fgrow=0.01, land=0.25, label="mid-size industrial / port city"),
    "C": dict(opex=20.0, g_app=4200.0, b_app=4400.0, g_rent=14.0, b_rent=16.0, decl_y=3, decl=-0.06, vol=0.09, rdrift=-0.008,
              rdecl=-0.020, occ=0.90, lease=21, fgrow=0.005, land=0.22, label="shrinking resource / industrial city"),
    "D": dict(opex=19.0, g_app=3600.0, b_app=3800.0, g_rent=12.0, b_rent=13.5, decl_y=4, decl=-0.07, vol=0.10, rdrift=-0.010,
              rdecl=-0.022, occ=0.88, lease=24, fgrow=0.0, land=0.20, label="small north-eastern city, weakest market"),
}
# per-city overrides of the tier (assumptions; Dalian's rents anchored on a sourced 2021 figure)
OVERRIDE = {
    "dalian": dict(g_app=9500.0, b_app=10000.0, g_rent=26.0, b_rent=28.0),
    "panjin": dict(g_app=5200.0, b_app=5500.0),
    "yingkou": dict(g_app=4800.0, b_app=5000.0),
}
GZF_TOTAL, BZF_TOTAL = 10_000, 35_000
BASE_BZF_INVESTMENT, BASE_CAPACITY = 647_400_000.0, 40_000_000.0  # liaoning_2025.toml


def largest_remainder(total: int, weights: list[float]) -> list[int]:
    """Integer shares of ``total`` proportional to ``weights`` (Hamilton's method: floor, then the largest remainders)."""
    w = sum(weights)
    raw = [total * x / w for x in weights]
    out = [int(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - out[i], reverse=True)[: total - sum(out)]:
        out[i] += 1
    return out


def allocation() -> list[dict]:
    pops = [c[2] for c in CITIES]
    gzf, bzf = largest_remainder(GZF_TOTAL, pops), largest_remainder(BZF_TOTAL, pops)
    rows = []
    for (py, zh, pop, psrc, rev, rsrc, tier), g, b in zip(CITIES, gzf, bzf):
        t = {**TIERS[tier], **OVERRIDE.get(py, {})}
        rows.append(dict(py=py, zh=zh, pop=pop, psrc=psrc, rev=rev, rsrc=rsrc, tier=tier, gzf=g, bzf=b,
                         share=pop / sum(pops), **t))
    return rows


def _money(x: float) -> str:
    return f"{x:_.1f}"


def city_values(r: dict) -> dict:
    """(section, key) → (value text, comment) for the lines of liaoning_2025.toml that change."""
    g_area, b_area = 55.0, 65.0
    g_price = round(r["g_app"] * 3900.0 / 4600.0, -1)  # the base file's discount to appraisal (≈ 15 %)
    b_price = round(r["b_app"] * 3800.0 / 4800.0, -1)  # ≈ 21 %
    g_inv = r["gzf"] * g_area * (g_price + 200.0)
    b_inv = r["bzf"] * b_area * (b_price + 200.0)
    share = f"{100 * r['share']:.2f} % of the population of the 15 areas ({r['psrc'] if 'assumption' not in r['psrc'] else 'population: ' + r['psrc']})"
    cap = round(BASE_CAPACITY * b_inv / BASE_BZF_INVESTMENT, -5)
    tier = f"assumption (tier {r['tier']}: {r['label']}; docs/liaoning-province.md)"
    v = {
        ("programme", "name"): (f'"Liaoning 2025 rental acquisition, {r["zh"]} ({r["py"].capitalize()})"',
                                f"{SEED} §一: 2025 tranche of the 2025–27 plan, this area's share"),
        ("programme", "city"): (f'"{r["zh"]} {r["py"].capitalize()}"', "one of the 14 prefecture cities + 沈抚示范区 (§一 责任单位)"),
        ("programme", "soe"): (f'"{r["zh"]} designated housing SOE (收购主体) for 保租房; 公租房 held by the {r["zh"]} government"',
                               f"{SEED} §二 (公租房: 各地区政府), §三 (保租房: 选定地方国企); the SOE's name is not public in what we found"),
        ("programme", "fiscal_revenue_yuan"): (f"{r['rev'] * 1e8:.4e}".replace("e+10", "e10").replace("e+09", "e9"),
                                               f"{r['rev']:g} 亿: " + r["rsrc"]),
        ("projects#0", "name"): ('"公租房 block (public rental, government-owned)"', f"{SEED} §二: 各地区政府 buy stock as 公租房"),
        ("projects#0", "units"): (f"{r['gzf']}", f"{SEED} §一: 10,000 公租房 in 2025 × {share}"),
        ("projects#0", "appraisal_yuan_per_m2"): (f"{r['g_app']:.1f}", f"{tier}: resale value of older stock, 2025"),
        ("projects#0", "acquisition_price_yuan_per_m2"): (f"{g_price:.1f}", f"{SEED} §九: 以合理价格收购; ≈ 15 % below appraisal, as liaoning_2025.toml"),
        ("projects#0.rental", "market_rent_yuan_per_m2_month"): (f"{r['g_rent']:.1f}", f"{tier}: gross yield {100 * 12 * r['g_rent'] / r['g_app']:.1f} % (facts §3: 3–4 % older units)"),
        ("projects#0.rental", "stabilised_occupancy"): ("0.95", "facts §3: > 95 % in 保租房 REIT assets (A); 公租房 waiting lists"),
        ("projects#0.financing", "equity_yuan"): (_money(0.2 * g_inv), f"20 % of {g_inv / 1e6:,.3f} m: the {r['zh']} budget's own funds (本级财政资金), assumption"),
        ("projects#0.financing.bonds", "amount_yuan"): (_money(0.4 * g_inv), "40 % of investment; assumption (facts §2: bonds ≈ 70 % in disclosed projects)"),
        ("projects#0.financing.grants", "amount_yuan"): (_money(0.4 * g_inv), "40 % of investment; assumption: central + provincial funds carry most of 公租房"),
        ("projects#1", "units"): (f"{r['bzf']}", f"{SEED} §一: 35,000 保租房 in 2025 × {share}"),
        ("projects#1", "appraisal_yuan_per_m2"): (f"{r['b_app']:.1f}", f"{tier}: resale value of newer stock, 2025"),
        ("projects#1", "acquisition_price_yuan_per_m2"): (f"{b_price:.1f}", f"{SEED} §九: 以合理价格; ≈ 21 % below appraisal, as liaoning_2025.toml"),
        ("projects#1.rental", "market_rent_yuan_per_m2_month"): (f"{r['b_rent']:.1f}", f"{tier}: gross yield {100 * 12 * r['b_rent'] / r['b_app']:.1f} %" + (
            "; Dalian city districts 31.6 元/月/㎡ in Nov-2021 (bazfc.cn/haiwaidichan/2023080486082.html), less the 2022–25 rent fall, outer stock" if r["py"] == "dalian" else "")),
        ("projects#1.rental", "lease_up_months"): (f"{r['lease']}", f"{tier}: {r['bzf']:,} units let over {r['lease']} months"),
        ("projects#1.rental", "stabilised_occupancy"): (f"{r['occ']}", f"{tier}; facts §3: ~90 % market occupancy; {SEED} §九 warns of long vacancy"),
        ("projects#1.financing", "equity_yuan"): (_money(0.3 * b_inv), f"30 % of {b_inv / 1e6:,.3f} m; assumption (facts §2: 资本金 ≈ 36 % in disclosed projects)"),
        ("projects#1.financing.loans", "amount_yuan"): (_money(0.4 * b_inv), "40 % of investment (residual of sources = uses); assumption"),
        ("projects#1.financing.bonds", "amount_yuan"): (_money(0.3 * b_inv), "30 % of investment; assumption (facts §2)"),
        ("projects#0.rental", "opex_yuan_per_m2_year"): (f"{r['opex']:.1f}", f"facts §3: maintenance 0.5–1 % of value/yr (A) → {100 * r['opex'] / r['g_app']:.2f} % of {r['g_app']:,.0f}; {tier}"),
        ("projects#1.rental", "opex_yuan_per_m2_year"): (f"{r['opex']:.1f}", f"facts §3: maintenance 0.5–1 % of value/yr (A) → {100 * r['opex'] / r['b_app']:.2f} % of {r['b_app']:,.0f}; {tier}"),
        ("waterfall", "soe_support_capacity_yuan"): (_money(cap), f"assumption: liaoning_2025.toml's 40 m scaled to this 保租房 block ({100 * cap / b_inv:.1f} % of its investment)"),
        ("market", "price_vol_annual"): (f"{r['vol']}", tier),
        ("market", "decline_years"): (f"{r['decl_y']}", f"{tier}; facts §3: north-east cities among the steepest declines"),
        ("market", "decline_drift_annual"): (f"{r['decl']}", f"{tier}; facts §3: −3 to −6 %/yr for such cities (A)"),
        ("market", "rent_drift_annual"): (f"{r['rdrift']}", tier),
        ("market", "rent_decline_drift_annual"): (f"{r['rdecl']}", f"{tier}; facts §3: −1.2 to −2.4 %/yr observed in 2024 (V)"),
        ("market", "fiscal_growth_annual"): (f"{r['fgrow']}", f"{tier}; 2024 growth of this budget in the revenue source"),
        ("market", "fiscal_land_share"): (f"{r['land']}", tier),
        ("simulation", "seed"): (f"{20251124 + [c[0] for c in CITIES].index(r['py'])}", "liaoning_2025.toml's seed + the area's index (independent runs)"),
    }
    return v


SECTION = re.compile(r"^\s*\[\[?([A-Za-z_.]+)\]\]?")
KEYLINE = re.compile(r"^(?P<key>[A-Za-z0-9_]+)(?P<pad>\s*=\s*)(?P<val>.*?)(?P<gap>\s*)(?P<cmt>#.*)?$")


def _value_end(line: str) -> int:
    """Index where a line's value ends (before its comment), honouring quoted strings."""
    q = None
    for i, ch in enumerate(line):
        if q:
            if ch == q:
                q = None
        elif ch in "\"'":
            q = ch
        elif ch == "#":
            return i
    return len(line)


def render(r: dict, base: str) -> str:
    vals = city_values(r)
    used, out, proj, section = set(), [], -1, ""
    header = (f"# Liaoning 2025, {r['zh']} ({r['py']}): this area's share of the 2025 tranche (辽政办发〔2025〕1号, {SEED}),\n"
              f"# {r['gzf']:,} 公租房 (held by the government: owner = \"government\") + {r['bzf']:,} 保租房 (the city's SOE).\n"
              "# Written by scenarios/liaoning/generate.py from scenarios/liaoning_2025.toml; the allocation rule, the\n"
              "# sources and the ranges of every assumption are in docs/liaoning-province.md. Sources: seeds/ = ../shared/seeds,\n"
              "# facts §n = ../shared/domain-facts.md section n; \"assumption\" marks a figure with no public source.\n")
    lines = base.splitlines()
    start = next(i for i, x in enumerate(lines) if x.startswith("[programme]"))
    for line in lines[start:]:
        m = SECTION.match(line)
        if m:
            name = m.group(1)
            if name == "projects":
                proj += 1
            section = (f"projects#{proj}" + name[len("projects"):]) if name.startswith("projects") else name
            out.append(line)
            if section == "projects#0":
                out.append('owner = "government"' + " " * 41 + f"# {SEED} §二: 公租房 are bought by 各地区政府, not an SOE (docs/decisions.md 50)")
            continue
        k = KEYLINE.match(line)
        if k and (section, k.group("key")) in vals:
            val, cmt = vals[(section, k.group("key"))]
            used.add((section, k.group("key")))
            head = f"{k.group('key')}{k.group('pad')}{val}"
            end = _value_end(line)
            width = max(len(line[:end].rstrip()) + 1, len(head) + 1, 61)
            out.append(f"{head:<{width}}# {cmt}")
            continue
        out.append(line)
    missing = set(vals) - used
    assert not missing, missing
    return header + "\n" + "\n".join(out) + "\n"


def main() -> None:
    base = BASE.read_text(encoding="utf-8")
    rows = allocation()
    assert sum(r["gzf"] for r in rows) == GZF_TOTAL and sum(r["bzf"] for r in rows) == BZF_TOTAL
    for r in rows:
        (OUT / f"{r['py']}.toml").write_text(render(r, base), encoding="utf-8")
    for r in rows:
        print(f"{r['py']:10s} {r['zh']:6s} pop {r['pop']:6.1f} share {100 * r['share']:5.2f} %  公租房 {r['gzf']:5d}  "
              f"保租房 {r['bzf']:5d}  revenue {r['rev']:6.1f} 亿  tier {r['tier']}")


if __name__ == "__main__":
    main()

"""baozhang-finance: does an affordable-housing acquisition programme pay for itself, and who pays if not?

>>> from baozhang_finance import load_scenario, simulate
>>> result = simulate(load_scenario("scenarios/demo.toml"), paths=2000, seed=1)
>>> result.summary["hidden_debt"]["p_call"]
"""

__version__ = "0.1.0"

from baozhang_finance.model.scenario import Scenario, ScenarioError, load_scenario  # noqa: E402
from baozhang_finance.run.simulate import simulate  # noqa: E402
from baozhang_finance.run.result import Result  # noqa: E402

__all__ = ["Scenario", "ScenarioError", "load_scenario", "simulate", "Result", "__version__"]

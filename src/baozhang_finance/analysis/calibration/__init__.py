"""Calibrate the ``[market]`` block from a city's history: readers (:mod:`.data`), estimators (:mod:`.estimate`),
the TOML block (:mod:`.writer`), synthetic data from the engine's own equations (:mod:`.synthetic`)."""

from baozhang_finance.analysis.calibration.data import (
    CalibrationError, MarketData, chain_to_levels, read_market_data, read_nbs_chain, read_tidy_csv)
from baozhang_finance.analysis.calibration.estimate import Calibration, Estimate, calibrate
from baozhang_finance.analysis.calibration.writer import market_toml

__all__ = ["CalibrationError", "MarketData", "chain_to_levels", "read_market_data", "read_nbs_chain", "read_tidy_csv",
           "Calibration", "Estimate", "calibrate", "market_toml"]

"""The column store in part files, its bounded caches, and a streamed summary on two processes (decision 63).

Blocks, row groups and parts are made small here so that a few thousand paths span several part files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from baozhang_finance import load_scenario, simulate
from baozhang_finance.measures import blocked as bk
from baozhang_finance.run import lens_pool, store
from baozhang_finance.run.result import Result

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def small_blocks(small_blocks, monkeypatch):
    """conftest's small blocks, and ledger part files of two row groups."""
    monkeypatch.setattr(store, "PART_ROW_GROUPS", 2)


def _chunks(n=7_300, chunk=650, years=4, seed=3):
    rng = np.random.default_rng(seed)
    for a in range(0, n, chunk):
        k = min(chunk, n - a)
        yield {"path": np.arange(a, a + k, dtype=np.int64), "x": rng.normal(size=k),
               "flag": rng.random(k) < 0.3,
               "y_bal": rng.normal(size=(k, years)).astype(np.float32),
               "y_months": rng.integers(0, 13, size=(k, years)).astype(np.uint8)}


def test_a_store_in_several_parts_reads_back_every_value(small_blocks, tmp_path):
    whole = list(_chunks())
    cat = {k: np.concatenate([c[k] for c in whole]) for k in whole[0]}
    st = store.write_chunks(_chunks(), tmp_path / "s")
    names = sorted(p.name for p in (tmp_path / "s").iterdir())
    # 7,300 rows: 8 row groups of ≤ 1,000, two per part → ledgers.parquet + 3 more parts and their list
    assert names == ["ledgers.00001.parquet", "ledgers.00002.parquet", "ledgers.00003.parquet", "ledgers.parquet",
                     "ledgers.parts.json", "paths.parquet"]
    doc = json.loads((tmp_path / "s" / store.PARTS_FILE).read_text())
    assert [sum(p["row_groups"]) for p in doc["parts"]] == [2_000, 2_000, 2_000, 1_300]
    assert st.n == 7_300 and st.ledger_years == {"bal": 4, "months": 4}
    for k in ("path", "x", "flag"):
        assert st.column(k).tobytes() == cat[k].tobytes() and st.column(k).dtype == cat[k].dtype
    for name in ("bal", "months"):
        assert st.ledger(name).tobytes() == cat[f"y_{name}"].tobytes()
        for i in range(-(-st.n // bk.BLOCK)):
            blk = st.ledger_block(name, i)
            assert blk.tobytes() == cat[f"y_{name}"][i * 1_000:(i + 1) * 1_000].tobytes()
            assert st.ledger_year_block(name, 2, i).tobytes() == \
                np.ascontiguousarray(cat[f"y_{name}"][i * 1_000:(i + 1) * 1_000, 2]).tobytes()
    for row in (0, 1_999, 2_000, 5_555, 7_299):
        assert st.ledger_row("bal", row).tobytes() == cat["y_bal"][row].tobytes()
    with pytest.raises(IndexError):
        st.ledger_row("bal", 7_300)
    assert sorted(p.name for p in st.files()) == names
    # the reader never holds more than OPEN_PARTS parts open, whatever it read
    assert len(st._ledgers._open) <= store.OPEN_PARTS


def test_the_store_writes_lz4_required_fields_and_pandas_reads_it(small_blocks, tmp_path):
    """The store writes LZ4, not-nullable fields, one data page per column chunk (decision 66); pandas and pyarrow
    read the files as ever, every value as written."""
    import pandas as pd
    import pyarrow.parquet as pq

    whole = list(_chunks())
    cat = {k: np.concatenate([c[k] for c in whole]) for k in whole[0]}
    st = store.write_chunks(_chunks(), tmp_path / "s")
    for src in (st._paths, st._ledgers):
        assert not any(f.nullable for f in src.schema)
        for g in range(len(src.starts) - 1):
            md = src.pf(int(src.part[g])).metadata.row_group(int(src.local[g]))
            for j in range(len(src.names)):
                assert md.column(j).compression == "LZ4"
    df = pd.read_parquet(tmp_path / "s" / store.PATHS_FILE)
    for k in ("path", "x", "flag"):
        assert df[k].to_numpy().tobytes() == cat[k].tobytes()
        assert st.column(k).tobytes() == cat[k].tobytes()
    led = pq.read_table(tmp_path / "s" / "ledgers.00001.parquet").to_pandas()
    assert led["months/03"].to_numpy().tobytes() == np.ascontiguousarray(cat["y_months"][2_000:4_000, 3]).tobytes()


@pytest.mark.parametrize("layout", ["snappy", "snappy_v2", "plain_pages", "zstd", "dictionary"])
def test_folders_of_other_layouts_read_every_value(small_blocks, tmp_path, layout):
    """Files of other layouts — snappy and nullable (the store's before), version-2 pages, several uncompressed
    pages per chunk, zstd, dictionary pages — read back every value, whole and by block."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(5)
    n = 2_500
    cols = {"path": np.arange(n), "x": rng.normal(size=n), "zeros": np.where(rng.random(n) < 0.9, 0.0, 1.5),
            "flag": rng.random(n) < 0.3, "months": rng.integers(0, 13, n).astype(np.uint8),
            "f4": rng.normal(size=n).astype(np.float32), "i4": rng.integers(-9, 9, n).astype(np.int32)}
    t = pa.table({k: pa.array(v) for k, v in cols.items()})
    kw = {"snappy": {}, "snappy_v2": {"data_page_version": "2.0"},
          "plain_pages": {"compression": "none", "data_page_size": 1_000}, "zstd": {"compression": "zstd"},
          "dictionary": {"use_dictionary": True}}[layout]
    kw = {"use_dictionary": False, "write_statistics": False, **kw}
    (tmp_path / "f").mkdir()
    pq.write_table(t, tmp_path / "f" / store.PATHS_FILE, row_group_size=1_000, **kw)
    st = store.ColumnStore(tmp_path / "f")
    for name in cols:
        assert st.column(name).tobytes() == cols[name].tobytes(), name
        assert st.column_block(name, 1).tobytes() == cols[name][1_000:2_000].tobytes()


def test_a_store_of_one_part_keeps_the_layout_of_before(small_blocks, tmp_path):
    st = store.write_chunks(_chunks(n=1_800), tmp_path / "s")
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["ledgers.parquet", "paths.parquet"]
    assert st.ledger("bal").shape == (1_800, 4)


def test_the_block_cache_never_exceeds_its_bound(small_blocks, monkeypatch, tmp_path):
    monkeypatch.setattr(store, "CACHE_BYTES", 20_000)  # ≈ 2 float64 blocks of 1,000 rows
    st = store.write_chunks(_chunks(), tmp_path / "s")
    for i in range(8):
        st.column_block("x", i)
        st.ledger_block("bal", i)
        st.ledger_block("months", i)
        assert st._cached <= store.CACHE_BYTES
        assert st._cached == sum(a.nbytes for a in st._cache.values())


def test_the_writer_keeps_one_part_open(small_blocks, tmp_path, monkeypatch):
    opened = []
    real = store._parquet_writer

    def spy(path, schema, *args):
        opened.append(Path(path).name)
        return real(path, schema, *args)
    monkeypatch.setattr(store, "_parquet_writer", spy)
    w = store.ColumnWriter(tmp_path / "s")
    for c in _chunks():
        w.append(c)
        assert sum(1 for k in w._writers if k == store.LEDGERS_FILE) <= 1
    w.close()
    assert opened == ["paths.parquet", "ledgers.parquet", "ledgers.00001.parquet", "ledgers.00002.parquet",
                      "ledgers.00003.parquet"]


@pytest.mark.slow
def test_a_streamed_run_in_parts_summary_on_two_processes_is_the_in_memory_runs(small_blocks, monkeypatch,
                                                                                 tmp_path):
    """3,000 demo paths: 3 blocks over 2 ledger parts, quantiles through the radix selection; the summary computed
    on two processes (the helper given the small block and cap), serially, and in memory: the same bits; the
    saved folder (every part linked) loads and gives them again."""
    demo = load_scenario(ROOT / "scenarios" / "demo.toml")
    mem = simulate(demo, paths=3_000, chunk_size=500, seed=5, stream=False)
    monkeypatch.setenv(lens_pool.WORKERS_ENV, "2")
    par = simulate(demo, paths=3_000, chunk_size=500, seed=5, stream=True)
    assert (par._store.folder / store.PARTS_FILE).exists()
    helped = []
    real = lens_pool._feed

    def count(child, spec, queue, results, failed):
        before = set(results)
        real(child, spec, queue, results, failed)
        helped.extend(set(results) - before)
    monkeypatch.setattr(lens_pool, "_feed", count)
    s_par = json.dumps(par.summary)
    assert helped, "the helper process computed no task"
    monkeypatch.setenv(lens_pool.WORKERS_ENV, "1")
    ser = simulate(demo, paths=3_000, chunk_size=500, seed=5, stream=True)
    assert s_par == json.dumps(ser.summary) == json.dumps(mem.summary)
    assert par.yearly.equals(ser.yearly) and par.yearly.equals(mem.yearly)
    out = par.save(tmp_path / "run")
    assert (out / store.PARTS_FILE).exists() and (out / "ledgers.00001.parquet").exists()
    back = Result.load(out)
    assert back.streamed and json.dumps(back.summary) == s_par
    assert np.array_equal(back.ledger("bank_balance"), mem.ledger("bank_balance"))


@pytest.mark.slow
def test_a_folder_saved_before_loads_with_the_same_numbers(small_blocks, monkeypatch, tmp_path):
    """A streamed run's folder in the layout of before (snappy, nullable fields, pyarrow's default pages — what
    ColumnWriter wrote until decision 66): Result.load reads it (through pyarrow) with the numbers of the
    in-memory run, bit for bit."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    demo = load_scenario(ROOT / "scenarios" / "demo.toml")
    monkeypatch.setenv(lens_pool.WORKERS_ENV, "1")
    mem = simulate(demo, paths=2_500, chunk_size=500, seed=9, stream=False)
    out = simulate(demo, paths=2_500, chunk_size=500, seed=9, stream=True).save(tmp_path / "run")
    for f in sorted(out.glob("*.parquet")):  # rewritten as before: snappy, nullable, pages of 20,000 values at most
        pf = pq.ParquetFile(f)
        schema = pa.schema([pa.field(x.name, x.type) for x in pf.schema_arrow])
        w = pq.ParquetWriter(f.with_suffix(".old"), schema, compression="snappy", use_dictionary=False,
                             write_statistics=False)
        for g in range(pf.metadata.num_row_groups):
            w.write_table(pa.Table.from_arrays(pf.read_row_group(g).columns, schema=schema))
        w.close()
        f.with_suffix(".old").replace(f)
        assert pq.ParquetFile(f).schema_arrow.field(0).nullable
    back = Result.load(out)
    assert json.dumps(back.summary) == json.dumps(mem.summary)
    assert back.yearly.equals(mem.yearly)


@pytest.mark.slow
def test_a_helper_that_fails_costs_no_figure(small_blocks, monkeypatch):
    """The helper cannot start (a module that does not exist): every task is computed here, the same bits."""
    demo = load_scenario(ROOT / "scenarios" / "demo.toml")
    monkeypatch.setenv(lens_pool.WORKERS_ENV, "1")
    ref = simulate(demo, paths=2_000, chunk_size=500, seed=7, stream=True)
    monkeypatch.setenv(lens_pool.WORKERS_ENV, "2")
    monkeypatch.setattr(lens_pool, "CHILD_MODULE", "baozhang_finance.run.no_such_module")
    bad = simulate(demo, paths=2_000, chunk_size=500, seed=7, stream=True)
    assert json.dumps(bad.summary) == json.dumps(ref.summary)
    assert bad.yearly.equals(ref.yearly)


def test_run_tasks_shares_the_queue_and_keeps_every_result():
    out = lens_pool.run_tasks(["a", "b", "c"], lambda k: k * 2, None, workers=1)
    assert out == {"a": "aa", "b": "bb", "c": "cc"}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_quantiles_of_collected_values_are_numpys(dtype):
    rng = np.random.default_rng(11)
    cases = [rng.normal(size=200_001), 1.25 + rng.random(150_000) * 1e-3, np.abs(np.round(rng.normal(size=90_000), 2)),
             np.where(rng.random(120_000) < 0.97, 1.0, rng.normal(size=120_000)),
             np.round(rng.normal(size=90_000), 2), np.where(rng.random(100_000) < 0.5, 0.0, rng.lognormal(3, 2, 100_000)),
             np.concatenate([rng.normal(size=80_000), [np.inf, -np.inf]])]
    for x in cases:
        x = x.astype(dtype)
        for q in [(0.05, 0.25, 0.5, 0.75, 0.95), 0.95, (0.0, 1.0), 0.999, [0.01, 0.5]]:
            for method in ("linear", "inverted_cdf"):
                got, want = bk.quantile_of_values(x, q, method), np.quantile(x, q, method=method)
                assert np.asarray(got).dtype == np.asarray(want).dtype
                assert np.asarray(got).tobytes() == np.asarray(want).tobytes(), (q, method, got, want)
    x = rng.normal(size=10_000).astype(dtype)  # probabilities numpy handles otherwise: numpy itself
    for q in (np.float32(0.3), np.array([0.1, 0.7], dtype=np.float32)):
        got, want = bk.quantile_of_values(x, q, "inverted_cdf"), np.quantile(x, q, method="inverted_cdf")
        got, want = np.asarray(got), np.asarray(want)
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
    for q in (1.5, -0.1, [0.5, np.nan]):
        with pytest.raises(ValueError):
            bk.quantile_of_values(x, q)


def test_fan_stats_is_the_separate_reductions(small_blocks):
    rng = np.random.default_rng(2)
    x = rng.normal(size=5_500)
    x[rng.random(5_500) < 0.1] = np.nan
    for arr in (x, x.astype(np.float32), x[:600]):
        c = bk.Col.of(arr)
        ok = c[~np.isnan(c)]
        n, m, q = bk.fan_stats(ok, (0.05, 0.5, 0.95))
        assert n == ok.size and m == bk.mean(ok)
        assert np.asarray(q).tobytes() == np.asarray(bk.quantile(ok, (0.05, 0.5, 0.95))).tobytes()
        n, m, q = bk.fan_stats(c, [0.5, 0.95], mean="running_nan", dropnan=True)
        assert m == bk.running_nanmean(c) and np.array_equal(q, bk.quantile(c, [0.5, 0.95], dropnan=True))
        n, m, q = bk.fan_stats(ok, [0.5, 0.95], mean="running")
        assert m == bk.running_mean(ok)


def test_keep_freed_pages_reuses_the_heap():
    """After keep_freed_pages (glibc), a month's worth of temporaries of the engine's size (30 arrays of 160 kB alive
    at once, then freed), again and again, reuse the heap's pages: no minor page faults. glibc's default trims the
    freed heap top each time and faults every page in again (measured: ≈ 22,800 faults for these 20 rounds)."""
    import platform
    import resource

    from baozhang_finance.run.store import keep_freed_pages

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        pytest.skip("glibc only")
    assert keep_freed_pages() and keep_freed_pages()  # applies, once per process

    def months():
        for _ in range(20):
            month = [np.ones(20_000) for _ in range(30)]  # 160 kB each: two projects × 10,000 paths
            del month
    months()  # the heap grown once
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    months()
    assert resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before < 100

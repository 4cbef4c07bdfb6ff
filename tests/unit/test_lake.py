"""The Parquet lake: schemas, layout, exactly-once across a crash, compaction, SQL, reports."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import pyarrow.parquet as pq
import pytest

from shopstream.cli import main
from shopstream.connectors.files import JsonlSource
from shopstream.events import streams
from shopstream.events.insights import CartAbandonment, FraudAlert, RevenueStats, TopProducts
from shopstream.events.model import ShopperEvent
from shopstream.events.patterns import AntecedentRules, BasketPattern
from shopstream.events.recommendations import RecommendationEvent, TrendingProducts
from shopstream.events.records import BasketCompletion, DeadLetter, LateEvent, Output
from shopstream.events.trends import EntityTrend
from shopstream.lake.compact import compact
from shopstream.lake.errors import LakeError
from shopstream.lake.query import query
from shopstream.lake.schemas import EVENTS, SCHEMA_VERSION, SCHEMAS
from shopstream.lake.sink import LakeSink
from shopstream.pipeline import default_topology
from shopstream.profiles.records import CustomerProfile, SegmentChange, SegmentCounts
from shopstream.runners.embedded.checkpoint import CheckpointStore
from shopstream.runners.embedded.runner import EmbeddedRunner, RunnerConfig

RECORD_TYPES: dict[str, type[msgspec.Struct]] = {
    EVENTS: ShopperEvent,
    streams.CATALOG_CHANGES: ShopperEvent,
    streams.BASKET_COMPLETIONS: BasketCompletion,
    streams.ABANDONED_BASKETS: BasketCompletion,
    streams.CART_ABANDONMENT: CartAbandonment,
    streams.FRAUD_ALERTS: FraudAlert,
    streams.REVENUE_STATS: RevenueStats,
    streams.TOP_PRODUCTS: TopProducts,
    streams.BASKET_PATTERNS: BasketPattern,
    streams.RULES_BY_ANTECEDENT: AntecedentRules,
    streams.PRODUCT_RECOMMENDATIONS: RecommendationEvent,
    streams.TRENDING_PRODUCTS: TrendingProducts,
    streams.DEAD_LETTER: DeadLetter,
    streams.LATE_EVENTS: LateEvent,
    streams.PROFILES: CustomerProfile,
    streams.SEGMENT_CHANGES: SegmentChange,
    streams.SEGMENT_COUNTS: SegmentCounts,
    streams.PRODUCT_TRENDS: EntityTrend,
    streams.CATEGORY_TRENDS: EntityTrend,
}
#: Streams of the optional stages (run --profiles --trends).
OPTIONAL = frozenset({streams.PROFILES, streams.SEGMENT_CHANGES, streams.SEGMENT_COUNTS,
                      streams.PRODUCT_TRENDS, streams.CATEGORY_TRENDS})


@pytest.fixture(scope="module")
def shop_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three days of a simulated shop with bad and late lines (about 3,000 lines)."""
    path = tmp_path_factory.mktemp("lake-input") / "in.jsonl"
    code = main(["simulate", "--sessions", "600", "--days", "3", "--end",
                 "2026-03-04T00:00:00Z", "--bad-rate", "0.02", "--disorder-ms", "20000",
                 "-o", str(path), "--no-progress"])
    assert code == 0
    return path


def _plain(value: Any) -> Any:
    """A record as a dict of its fields (recursively), tuples as lists and dicts as lists
    of pairs (how Arrow gives a map back)."""
    if isinstance(value, msgspec.Struct):
        return {name: _plain(getattr(value, name)) for name in value.__struct_fields__}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return [(k, _plain(v)) for k, v in value.items()]
    return value


def lake_rows(lake: Path, stream: str) -> list[dict[str, Any]]:
    files = sorted(lake.glob(f"stream={stream}/date=*/*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def canonical(rows: list[dict[str, Any]]) -> Counter[str]:
    return Counter(json.dumps(r, sort_keys=True, default=str) for r in rows)


def run_with_lake(src: Path, out: Path, lake: Path, checkpoint: Path | None = None,
                  config: RunnerConfig | None = None, resume: bool = False) -> LakeSink:
    sink = LakeSink(lake)
    EmbeddedRunner(default_topology(), out, config, checkpoint, lake=sink).run(
        src, resume=resume)
    return sink


def test_every_field_of_every_record_has_its_column_in_order() -> None:
    # A column may come before its field (the lake's schema of a record's next version:
    # such a column is null until the field arrives); a field without a column may not.
    assert set(RECORD_TYPES) == set(SCHEMAS)
    for stream, kind in RECORD_TYPES.items():
        fields = list(kind.__struct_fields__)
        assert [n for n in SCHEMAS[stream].names if n in fields] == fields, stream


def test_lake_rows_equal_the_jsonl_records_stream_by_stream(shop_input: Path,
                                                             tmp_path: Path) -> None:
    sink = run_with_lake(shop_input, tmp_path / "out", tmp_path / "lake")
    assert sink.rows[EVENTS] > 2_000 and sink.rows[streams.DEAD_LETTER] > 0
    for stream, kind in RECORD_TYPES.items():
        if stream == EVENTS or stream in OPTIONAL:
            continue
        lines = (tmp_path / "out" / f"{stream}.jsonl").read_bytes().splitlines()
        expected = [_plain(msgspec.json.decode(line, type=kind)) for line in lines]
        assert canonical(lake_rows(tmp_path / "lake", stream)) == canonical(expected), stream
        assert sink.rows[stream] == len(lines)
    events = [_plain(e) for e in _decoded(shop_input)]
    assert canonical(lake_rows(tmp_path / "lake", EVENTS)) == canonical(events)


def _decoded(path: Path) -> list[ShopperEvent]:
    from shopstream.errors import DecodeError
    from shopstream.events.decode import EventDecoder

    decoder, out = EventDecoder(), []
    for raw, _ in JsonlSource(path):
        with contextlib.suppress(DecodeError):
            out.append(decoder.decode(raw))
    return out


def test_layout_is_hive_by_stream_and_utc_date_with_versioned_typed_schemas(
        shop_input: Path, tmp_path: Path) -> None:
    run_with_lake(shop_input, tmp_path / "out", tmp_path / "lake")
    files = sorted((tmp_path / "lake").rglob("*.parquet"))
    dates = {f.parent.name for f in files if f.parent.parent.name == "stream=events"}
    assert dates == {"date=2026-03-01", "date=2026-03-02", "date=2026-03-03"}
    for f in files:
        stream = f.parent.parent.name.removeprefix("stream=")
        schema = pq.read_schema(f)
        assert schema.remove_metadata() == SCHEMAS[stream], f
        assert schema.metadata[b"shopstream.schema_version"] == str(SCHEMA_VERSION).encode()
        assert f.name.startswith("part-")
    events = pq.read_table(files[0].parent.parent.parent / "stream=events")
    assert str(events.schema.field("items").type).startswith("list<")
    day = pq.read_table(tmp_path / "lake" / "stream=events" / "date=2026-03-02")
    stamps = day.column("timestamp_ms").to_pylist()
    assert min(stamps) >= 1772409600000 and max(stamps) < 1772409600000 + 86_400_000


def crash_after(path: Path, lines: int) -> Any:
    for n, item in enumerate(JsonlSource(path), start=1):
        if n > lines:
            raise KeyboardInterrupt  # stands in for a kill: no clean shutdown of the loop
        yield item


def all_rows(lake: Path) -> dict[str, Counter[str]]:
    return {s: canonical(lake_rows(lake, s)) for s in SCHEMAS}


@pytest.mark.parametrize("crash_at", [10, 700, 1_900])
def test_a_crashed_and_resumed_run_leaves_each_row_once(shop_input: Path, tmp_path: Path,
                                                        crash_at: int) -> None:
    config = RunnerConfig(checkpoint_every_events=500)
    run_with_lake(shop_input, tmp_path / "whole", tmp_path / "whole-lake")
    sink = LakeSink(tmp_path / "lake")
    runner = EmbeddedRunner(default_topology(), tmp_path / "out", config, tmp_path / "ck",
                            lake=sink)
    with pytest.raises(KeyboardInterrupt):
        runner.run(shop_input, source=crash_after(shop_input, crash_at))
    run_with_lake(shop_input, tmp_path / "out", tmp_path / "lake", tmp_path / "ck", config,
                  resume=True)
    assert all_rows(tmp_path / "lake") == all_rows(tmp_path / "whole-lake")


def test_a_kill_between_the_lake_flush_and_the_checkpoint_save_is_undone(
        shop_input: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = RunnerConfig(checkpoint_every_events=500)
    run_with_lake(shop_input, tmp_path / "whole", tmp_path / "whole-lake")
    saves = {"n": 0}
    real_save = CheckpointStore.save

    def dying_save(self: CheckpointStore, snapshot: dict[str, Any]) -> None:
        saves["n"] += 1
        if saves["n"] == 3:  # the lake has flushed for this checkpoint; it never lands
            raise KeyboardInterrupt
        real_save(self, snapshot)

    monkeypatch.setattr(CheckpointStore, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        run_with_lake(shop_input, tmp_path / "out", tmp_path / "lake", tmp_path / "ck", config)
    monkeypatch.setattr(CheckpointStore, "save", real_save)
    run_with_lake(shop_input, tmp_path / "out", tmp_path / "lake", tmp_path / "ck", config,
                  resume=True)
    assert all_rows(tmp_path / "lake") == all_rows(tmp_path / "whole-lake")


@pytest.mark.slow
def test_a_sigkilled_cli_run_resumed_equals_an_uninterrupted_one(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    assert main(["simulate", "--sessions", "2500", "--days", "2", "--end",
                 "2026-03-04T00:00:00Z", "--bad-rate", "0.01", "-o", str(src),
                 "--no-progress"]) == 0
    base = [sys.executable, "-m", "shopstream.cli", "run", "--input", str(src),
            "--no-progress", "--checkpoint-every", "1000"]
    whole = subprocess.run([*base, "--output-dir", str(tmp_path / "wo"),
                            "--lake", str(tmp_path / "whole-lake")], capture_output=True,
                           check=True)
    assert whole.returncode == 0
    args = [*base, "--output-dir", str(tmp_path / "o"), "--lake", str(tmp_path / "lake"),
            "--checkpoint-dir", str(tmp_path / "ck")]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (tmp_path / "ck" / "checkpoint.pkl").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    resumed = subprocess.run([*args, "--resume", "--json"], capture_output=True, check=True)
    assert json.loads(resumed.stdout)["resumed_at_line"] > 0
    assert all_rows(tmp_path / "lake") == all_rows(tmp_path / "whole-lake")


def test_running_the_same_input_again_replaces_its_rows_and_another_input_appends(
        shop_input: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lake = tmp_path / "lake"
    base = ["run", "--input", str(shop_input), "--no-progress", "--lake", str(lake)]
    assert main([*base, "--output-dir", str(tmp_path / "o1")]) == 0
    once = all_rows(lake)
    compact(lake)  # compacted files still belong to their run
    assert main([*base, "--output-dir", str(tmp_path / "o2"), "--checkpoint-every", "700",
                 "--checkpoint-dir", str(tmp_path / "ck")]) == 0
    assert all_rows(lake) == once
    other = tmp_path / "other.jsonl"
    with shop_input.open("rb") as lines:
        other.write_bytes(b"".join(lines.readlines()[:400]))
    for target in (lake, tmp_path / "other-lake"):
        assert main(["run", "--input", str(other), "--no-progress", "--lake", str(target),
                     "--output-dir", str(tmp_path / "o3")]) == 0
    alone = all_rows(tmp_path / "other-lake")
    assert sum(alone[EVENTS].values()) > 300
    assert all_rows(lake) == {s: once[s] + alone[s] for s in SCHEMAS}
    capsys.readouterr()


def test_a_replaced_run_cannot_be_resumed(tmp_path: Path) -> None:
    first = LakeSink(tmp_path / "lake", source="/in.jsonl")
    first.start(None, resume=False, checkpoint_dir=tmp_path / "ck")
    first.write(Output(streams.DEAD_LETTER, "in", DeadLetter("decode", "bad", "x", "in", 1)))
    state = first.commit()
    LakeSink(tmp_path / "lake", source="/in.jsonl").start(None, resume=False,
                                                          checkpoint_dir=None)
    assert not list((tmp_path / "lake").rglob("*.parquet"))
    with pytest.raises(LakeError, match="replaced by a later run"):
        LakeSink(tmp_path / "lake", source="/in.jsonl").start(state, resume=True,
                                                              checkpoint_dir=tmp_path / "ck")


def test_compaction_keeps_every_row_and_leaves_one_file_per_partition(
        shop_input: Path, tmp_path: Path) -> None:
    config = RunnerConfig(checkpoint_every_events=300)
    run_with_lake(shop_input, tmp_path / "out", tmp_path / "lake", tmp_path / "ck", config)
    before = all_rows(tmp_path / "lake")
    assert len(list((tmp_path / "lake").glob("stream=events/date=2026-03-02/*"))) > 1
    done = compact(tmp_path / "lake")
    assert done.partitions > 0 and done.files_after < done.files_before
    assert all_rows(tmp_path / "lake") == before
    for folder in (tmp_path / "lake").glob("stream=*/date=*"):
        assert len(list(folder.iterdir())) == 1
    assert compact(tmp_path / "lake").partitions == 0


def test_sql_and_reports_over_a_simulated_run(shop_input: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out, lake = tmp_path / "out", tmp_path / "lake"
    assert main(["run", "--input", str(shop_input), "--output-dir", str(out),
                 "--lake", str(lake), "--no-progress"]) == 0
    assert "Parquet files" in capsys.readouterr().out
    purchases = [json.loads(line) for line in
                 (out / "basket-completions.jsonl").read_text().splitlines()]
    completed = [p for p in purchases if p["status"] == "COMPLETED"]
    _cols, rows = query(lake, "SELECT count(*), sum(total_value) FROM basket_completions "
                             "WHERE status = 'COMPLETED'")
    assert rows[0][0] == len(completed)
    assert rows[0][1] == pytest.approx(sum(p["totalValue"] for p in completed))

    assert main(["report", "customers", "--lake", str(lake), "--format", "json"]) == 0
    customers = json.loads(capsys.readouterr().out)
    by_user: dict[str, list[float]] = {}
    for p in completed:
        by_user.setdefault(p["userId"], []).append(p["totalValue"])
    assert len(customers) == len(by_user)
    for c in customers:
        spent = by_user[c["user_id"]]
        assert c["orders"] == len(spent)
        assert c["total_spent"] == pytest.approx(round(sum(spent), 2))
        total = sum(spent)
        assert c["segment"] == ("High" if total > 10_000 else
                                "Medium" if total > 5_000 else "Low")

    assert main(["report", "products", "--lake", str(lake), "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "product_id,product_name,category,quantity,revenue,customers"
    quantity: Counter[str] = Counter()
    for p in completed:
        for item in p["items"]:
            quantity[item["productId"]] += item["quantity"]
    assert len(lines) - 1 == len(quantity)
    top = lines[1].split(",")
    assert int(top[3]) == quantity[top[0]]

    assert main(["report", "revenue", "--lake", str(lake), "--format", "json"]) == 0
    months = json.loads(capsys.readouterr().out)
    assert [m["month"] for m in months] == ["2026-03"] or len(months) >= 1
    assert sum(m["orders"] for m in months) == len(completed)

    assert main(["sql", "SELECT event_type, count(*) AS n FROM events GROUP BY 1 "
                        "ORDER BY 1", "--lake", str(lake)]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split() == ["event_type", "n"] and "PURCHASE" in table


def test_errors_are_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(LakeError, match="does not exist"):
        query(tmp_path / "nope", "SELECT 1")
    (tmp_path / "lake").mkdir()
    with pytest.raises(LakeError, match="query failed"):
        query(tmp_path / "lake", "SELECT * FROM no_such_view")
    assert query(tmp_path / "lake", "SELECT count(*) FROM fraud_alerts")[1] == [(0,)]
    assert main(["sql", "SELEC", "--lake", str(tmp_path / "lake")]) == 1
    assert "query failed" in capsys.readouterr().err
    with pytest.raises(LakeError, match="no schema"):
        LakeSink(tmp_path / "l", streams=["nope"])


def test_profiles_segments_and_trends_land_in_the_lake_and_sql_reads_them(
        shop_input: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, lake = tmp_path / "out", tmp_path / "lake"
    assert main(["run", "--input", str(shop_input), "--output", str(out), "--lake", str(lake),
                 "--profiles", "--trends", "--no-progress"]) == 0
    capsys.readouterr()
    for stream in sorted(OPTIONAL):
        lines = (out / f"{stream}.jsonl").read_bytes().splitlines()
        assert lines, stream
        expected = [_plain(msgspec.json.decode(line, type=RECORD_TYPES[stream]))
                    for line in lines]
        rows = lake_rows(lake, stream)
        if stream == streams.PROFILES:  # the (value, share) pairs are structs in the lake
            for row in rows:
                row["preferences"] = [[dim, [[v["value"], v["share"]] for v in values]]
                                      for dim, values in row["preferences"]]
        assert canonical(rows) == canonical(expected), stream
    assert main(["sql", "SELECT label, count(*) AS n FROM product_trends GROUP BY 1 "
                        "ORDER BY 1", "--lake", str(lake), "--format", "json"]) == 0
    labels = json.loads(capsys.readouterr().out)
    products = (out / f"{streams.PRODUCT_TRENDS}.jsonl").read_bytes().splitlines()
    assert sum(r["n"] for r in labels) == len(products)
    assert main(["sql", "SELECT user_id, sessions.sessions AS sessions, "
                        "preferences['category'] AS categories, lifetime.churn_risk AS risk "
                        "FROM profiles ORDER BY computed_at DESC LIMIT 1",
                 "--lake", str(lake), "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["sessions"] >= 1 and isinstance(row["categories"], list)

"""``shopstream run --store``, ``shopstream serve`` options and ``demo`` with the API."""

from __future__ import annotations

import json
import os
import threading
import urllib.request
from pathlib import Path

import pytest
from helpers import ev, jsonl

from shopstream.api.live import LiveConfig
from shopstream.api.server import ServeConfig
from shopstream.cli import build_parser, main
from shopstream.errors import ConfigError
from shopstream.stores.embedded import SqliteStore

T0 = 1_699_999_980_000


def test_run_with_a_store_writes_features_under_the_reference_keys(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(jsonl([
        ev("VIEW_PRODUCT", T0 + 1_000, user_id="u1", product_id="p", category="Books",
           price=9.0, country="DE"),
        ev("PURCHASE", T0 + 2_000, user_id="u1", cart_total=9.0)]))
    db = tmp_path / "f.db"
    assert main(["run", "--input", str(src), "--output-dir", str(tmp_path / "out"),
                 "--store", str(db), "--no-progress"]) == 0
    assert "feature values written" in capsys.readouterr().out
    features = (tmp_path / "out" / "shopper-features.jsonl").read_text().splitlines()
    assert features and json.loads(features[0])["entity"] in ("user", "session")
    store = SqliteStore(db)
    # End of input closes every window: the last values are the drained ones.
    assert store.get_many(["user:u1:orders_count_24hr", "user:u1:locations",
                           "session:s1:session_page_count"]) == [0, ["DE"], 1]
    store.close()


def test_run_features_are_off_by_default_and_on_when_asked(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(jsonl([ev("VIEW_PRODUCT", T0, product_id="p")]))
    main(["run", "--input", str(src), "--output-dir", str(tmp_path / "a"), "--no-progress"])
    assert not (tmp_path / "a" / "shopper-features.jsonl").exists()
    main(["run", "--input", str(src), "--output-dir", str(tmp_path / "b"), "--features",
          "--no-progress"])
    assert (tmp_path / "b" / "shopper-features.jsonl").read_text()


def test_a_store_without_features_is_a_one_line_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(jsonl([ev("VIEW_PRODUCT", T0, product_id="p")]))
    code = main(["run", "--input", str(src), "--output-dir", str(tmp_path / "o"),
                 "--store", str(tmp_path / "f.db"), "--no-features", "--no-progress"])
    assert code == 1
    assert "--store needs the feature operators" in capsys.readouterr().err


def test_serve_options() -> None:
    args = build_parser().parse_args(["serve", "--store", "redis://127.0.0.1:6379"])
    assert (args.host, args.port, args.workers, args.idle_ms) == ("127.0.0.1", 8000, 1, 1000)
    with pytest.raises(ConfigError, match=r"ServeConfig\.workers must be >= 1, got 0"):
        ServeConfig(store="f.db", workers=0)
    with pytest.raises(ConfigError, match=r"LiveConfig\.idle_ms must be > 0, got 0"):
        LiveConfig(idle_ms=0)


def test_serve_store_commit_and_priority_options_reach_the_hosted_pipeline() -> None:
    from shopstream.cli.serve_durability import durability_options

    args = build_parser().parse_args(["serve", "--store", "f.db", "--store-commit-ms", "0",
                                      "--pipeline-nice", "12"])
    live = ServeConfig(store="f.db", **durability_options(args)).live
    assert (live.store_commit_ms, live.pipeline_nice) == (0, 12)
    defaults = ServeConfig(store="f.db").live
    assert (defaults.store_commit_ms, defaults.pipeline_nice) == (250, 0)
    with pytest.raises(ConfigError, match=r"LiveConfig\.pipeline_nice must be in 0\.\.19, got 20"):
        ServeConfig(store="f.db", pipeline_nice=20)


def test_serve_read_scheduling_options() -> None:
    args = build_parser().parse_args(["serve", "--store", "f.db", "--read-slice-us", "100",
                                      "--read-cpus", "1", "--pipeline-cpus", "0,2"])
    assert (args.read_slice_us, args.read_cpus, args.pipeline_cpus) == (100, (1,), (0, 2))
    defaults = build_parser().parse_args(["serve", "--store", "f.db"])
    assert (defaults.read_slice_us, defaults.read_cpus, defaults.pipeline_cpus) == (0, (), ())
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--store", "f.db", "--read-cpus", "one"])
    with pytest.raises(ConfigError, match=r"ServeConfig\.read_slice_us must be 0 or "
                                          r"100\.\.100000, got 50"):
        ServeConfig(store="f.db", read_slice_us=50)
    rt = build_parser().parse_args(["serve", "--store", "f.db", "--read-rt-priority", "10"])
    assert (rt.read_rt_priority, defaults.read_rt_priority) == (10, 0)
    with pytest.raises(ConfigError, match=r"ServeConfig\.read_rt_priority must be in "
                                          r"0\.\.99, got 100"):
        ServeConfig(store="f.db", read_rt_priority=100)
    # As the read workers get it: JSON lists back to tuples.
    assert ServeConfig(store="f.db", read_cpus=[1]).read_cpus == (1,)  # type: ignore[arg-type]


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) < 2,
                    reason="CPU placement: Linux with 2 CPUs or more")
def test_pin_thread_and_back_to_every_cpu() -> None:
    # A read worker started by a pinned server (--pipeline-cpus) without --read-cpus
    # goes back to every CPU: pin_thread(()).
    from shopstream.api.thread_priority import pin_thread

    seen: list[object] = []

    def pinned_then_free() -> None:
        seen.append(pin_thread((0,)))
        seen.append(pin_thread(()))

    before = os.sched_getaffinity(0)
    worker = threading.Thread(target=pinned_then_free)
    worker.start()
    worker.join()
    assert seen[0] == frozenset({0})
    assert isinstance(seen[1], frozenset) and seen[1] >= before


def test_serve_security_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from shopstream.cli.serve import security_options

    monkeypatch.delenv("SHOPSTREAM_API_KEYS", raising=False)
    defaults = security_options(build_parser().parse_args(["serve", "--store", "f.db"]))
    assert defaults == {"api_keys": (), "read_keys": False, "cors_origins": (),
                        "max_body_bytes": 4_194_304, "idle_timeout_s": 5.0,
                        "max_header_bytes": 16_384, "max_connections": 1_000}
    keys = tmp_path / "keys"
    keys.write_text("file-key-0123456789abcdef\n")
    monkeypatch.setenv("SHOPSTREAM_API_KEYS", "env-key-0123456789abcdef")
    args = build_parser().parse_args([
        "serve", "--store", "f.db", "--api-key-file", str(keys), "--read-keys",
        "--cors-origin", "https://shop.example", "--cors-origin", "https://m.shop.example",
        "--max-body-bytes", "65536", "--idle-timeout", "2", "--max-connections", "50"])
    config = ServeConfig(store="f.db", **security_options(args))
    assert config.api_keys == ("file-key-0123456789abcdef", "env-key-0123456789abcdef")
    assert config.security.cors_origins == ("https://shop.example", "https://m.shop.example")
    assert (config.read_keys, config.max_body_bytes, config.limits.idle_timeout_s,
            config.limits.max_connections) == (True, 65_536, 2.0, 50)
    monkeypatch.delenv("SHOPSTREAM_API_KEYS")
    with pytest.raises(ConfigError, match="read_keys needs API keys"):
        ServeConfig(store="f.db", read_keys=True)
    with pytest.raises(ConfigError, match="not an origin"):
        ServeConfig(store="f.db", cors_origins=("shop.example",))
    code = main(["serve", "--store", str(tmp_path / "f.db"), "--read-keys"])
    assert code == 1


def test_demo_serves_the_api_over_live_traffic(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "--sessions", "200", "--output-dir", str(tmp_path), "--no-progress",
                 "--port", "0", "--serve-seconds", "1", "--live-rate", "400"])
    out = capsys.readouterr().out
    assert code == 0
    assert "3/3 serving the API at http://127.0.0.1:" in out
    assert "live dashboard: open http://127.0.0.1:" in out
    served = next(line for line in out.splitlines() if line.startswith("served:"))
    assert int(served.split()[1].replace(",", "")) > 0
    url = next(w for w in out.split() if w.endswith("/features"))
    assert url.startswith("http://127.0.0.1:")
    with pytest.raises(OSError):   # the server stopped with the demo
        urllib.request.urlopen(url, timeout=2)

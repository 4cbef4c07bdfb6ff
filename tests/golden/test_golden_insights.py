"""Golden streams for the insight operators: hand-written inputs, hand-computed outputs.

Each test runs the default pipeline (default configuration) on ``data/<name>/input.jsonl``
and compares one output stream with ``data/<name>/expected-<stream>.jsonl``. The expected
files were written by hand from the computations in each docstring (times are 2026-01-05
UTC; the files hold them as epoch milliseconds); regenerate them only with
``pytest --regen-golden`` after a deliberate change, and read the diff.
"""

from __future__ import annotations

from pathlib import Path

from shopstream.pipeline import default_topology
from shopstream.runners.embedded.runner import EmbeddedRunner

DATA = Path(__file__).parent / "data"


def check(name: str, stream: str, tmp_path: Path, regen: bool) -> None:
    summary = EmbeddedRunner(default_topology(), tmp_path).run(DATA / name / "input.jsonl")
    assert (summary.dead_letters, summary.late_events) == (0, 0)
    produced = (tmp_path / f"{stream}.jsonl").read_text()
    expected = DATA / name / f"expected-{stream}.jsonl"
    if regen:
        expected.write_text(produced)
    assert produced == expected.read_text(), stream


def test_cart_abandonment(tmp_path: Path, regen_golden: bool) -> None:
    """Timeout 15 min after the last add; a cart is watched from an add worth >= 100.

    * ann: views Desk Lamp (Home), Sofa (Home), Scarf (Fashion); adds the Sofa (480 x 1,
      armed, due 10:16:30), then 2 Cushions at 10:05 (15 x 2: extends, due 10:20:00).
      One record at 10:20:00: 480 + 30 = 510.00 -> FIFTEEN_PERCENT (>= 300);
      recommendations: viewed and not in the cart, most recent first, same category first:
      Desk Lamp (Home, VIEWED_SAME_CATEGORY), then Scarf (VIEWED).
    * bob: Headphones 150 at 10:02, purchase at 10:17:00 *exactly* at the timeout: at equal
      times events come before timers, so the purchase counts: no record.
    * cat: Boots 60 x 2 = 120 (price x quantity) at 10:03, purchase at 10:18:00.001, 1 ms
      too late: record at 10:18:00, 120.00 -> FREE_SHIPPING (< 150), no views.
    * dan: Mug 30, Teapot 45 (cart 75: not yet), Tea 12.5 x 2 at 10:04:20 (cart 100.00:
      armed): record at 10:19:20, FREE_SHIPPING.
    * eve, out of order within the 5 s bound: the Camera add (300, 10:06:03) arrives before
      the views of Tripod (10:06:00) and Camera Bag (10:06:01); a Strap added at 10:07
      (extends to 10:22:00) and removed at 10:07:30. Record at 10:22:00 with the Camera
      only, 300.00 -> FIFTEEN_PERCENT, recommending Camera Bag then Tripod.

    Records come out in deadline order: cat, dan, ann, eve.
    """
    check("abandonment", "cart-abandonment", tmp_path, regen_golden)


def test_fraud_alerts(tmp_path: Path, regen_golden: bool) -> None:
    """More than 5 orders in (now - 60 s, now]; above 1000.00; same amount and items in 10 min.

    * mallory crosses the frequency limit twice: orders at 11:00:00, :10, ..., :50 (the
      6th, at 11:00:50, alerts with all six), one more at 11:00:55 (still above: no new
      alert), then at 11:03:00 the last minute holds one order (re-armed) and the 6th of
      11:03:00, :05, ..., :25 alerts again with those six. Severity HIGH.
    * peggy: six orders 12 s apart, 11:00:02 to 11:01:02: the window is half-open, so at
      11:01:02 the first one is out: 5 orders, no alert (and orders without items are not
      compared as repeats, although all are 5.00).
    * whale: 1000.00 (not above: nothing), 1500.00 (HIGH_VALUE, MEDIUM), 2500.00 (at least
      twice the threshold: HIGH).
    * trent buys 2 gift cards (25 x 2 = 50.00, from the items: no cartTotal) at 11:01, at
      11:04 (arriving 3 s out of order, after an event at 11:04:03) and at 11:12. At 11:04:
      REPEATED_ORDER (O-T1, O-T2), LOW. At 11:12, O-T1 is 11 minutes old and out of the
      window: REPEATED_ORDER (O-T2, O-T3), LOW.
    """
    check("fraud", "fraud-alerts", tmp_path, regen_golden)


def test_revenue_stats(tmp_path: Path, regen_golden: bool) -> None:
    """One-minute tumbling windows from 12:00.

    * 12:00: ann 100.00 (cartTotal), bob 45.00 (items 20 x 2 + 5 x 1), ann 55.00 at
      12:00:59.999 (still this window): 200.00, 3 orders, average 66.67, 2 customers; no
      previous window: change null.
    * 12:01: cat 60.00 (no items, no cartTotal: her cart, 30 x 2), dan 40.00 at 12:01:40
      arriving after an event at 12:01:43 (within the bound): 100.00, 2 orders, 50.00,
      2 customers, change -100.00 (-50 %).
    * 12:02 and 12:03: no orders, still emitted with zeros: change -100.00 (-100 %), then
      0.00 (percent null: the previous revenue was 0).
    * 12:04: eve 80.00 exactly at 12:04:00.000 (a window starts at its first millisecond):
      change +80.00, percent null. A page view at 12:10 and the end of input add no
      empty windows after the last order.
    """
    check("revenue", "revenue-stats", tmp_path, regen_golden)


def test_top_products(tmp_path: Path, regen_golden: bool) -> None:
    """One-minute windows from 13:00; Tea 4.00 (Food), Mug 9.00 (Home), Kettle 30.00
    (Home), Honey 7.50 (Food), Spoon 2.00 (Home).

    * 13:00, 3 orders: Tea 3+1 = 4 (16.00, 2 orders), Mug 1+2 = 3 (27.00, 2 orders),
      Kettle 1 (30.00). By quantity Tea, Mug, Kettle; by revenue Kettle, Mug, Tea. Home:
      4 units, 57.00, 3 orders, 2 products; Food: 4 units, 16.00, 2 orders. Rising (at least
      2 orders and twice the previous window's; there is none): Tea and Mug, 2 orders each,
      by product id.
    * 13:01: no orders: an empty record.
    * 13:02, 4 orders, one arriving 3 s out of order (13:02:15 after 13:02:18), one bought
      from the session's cart (Honey x 1 at 13:02:59.999): Mug 3 (27.00, 3 orders), Honey
      2+1 = 3 (22.50, 2 orders), Tea 1 (4.00). Mug and Honey tie on quantity: revenue
      decides. Home 27.00 (3 orders), Food 26.50 (Honey + Tea: 3 orders, 2 products).
      Rising against the empty 13:01: Mug (3), Honey (2).
    * 13:03, 3 orders of Mug + Spoon: both 3 units; Mug 3 orders vs 3 before: not rising;
      Spoon 3 vs 0: rising. Home 6 units, 33.00, 3 orders, 2 products.
    """
    check("top-products", "top-products", tmp_path, regen_golden)

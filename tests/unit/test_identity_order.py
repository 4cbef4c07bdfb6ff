"""Identity resolution decides from event time, not arrival order (issue #16, found by
hypothesis with seed 298539718973889903435663845803164588861)."""

from __future__ import annotations

from collections import Counter

from arrival_order import chain_in_arrival_order, per_key
from helpers import ev

BOUND = 5_000


def resolved(events: list) -> Counter[tuple[str, int, bool, bool]]:
    outs = chain_in_arrival_order(events, BOUND, profiles=False)
    return Counter((key, r.event.timestamp_ms, r.merged, r.anonymous) for _, key, r in outs)


def test_two_logins_in_one_session_resolve_the_same_in_either_arrival_order() -> None:
    # The failing case: s0 is anonymous, then shows u1 at t=26 and u2 at t=27.
    anon = [ev("VIEW_PRODUCT", 10, "s0", product_id="p"),
            ev("PAGE_VIEW", 20, "s0")]
    u1 = ev("PAGE_VIEW", 26, "s0", user_id="u1")
    u2 = ev("PAGE_VIEW", 27, "s0", user_id="u2")
    in_time = resolved([*anon, u1, u2])
    swapped = resolved([*anon, u2, u1])
    assert in_time == swapped
    # The earliest login takes the anonymous events before it.
    assert in_time == Counter({("u1", 10, True, False): 1, ("u1", 20, True, False): 1,
                               ("u1", 26, False, False): 1, ("u2", 27, False, False): 1})


def test_the_profiles_of_the_failing_case_do_not_depend_on_arrival_order() -> None:
    anon = [ev("VIEW_PRODUCT", 10, "s0", product_id="p", category="Toys", price=5.0),
            ev("ADD_TO_CART", 20, "s0", product_id="p", price=5.0)]
    u1 = ev("PAGE_VIEW", 26, "s0", user_id="u1")
    u2 = ev("PAGE_VIEW", 27, "s0", user_id="u2")
    first = per_key(chain_in_arrival_order([*anon, u1, u2], BOUND))
    second = per_key(chain_in_arrival_order([*anon, u2, u1], BOUND))
    third = per_key(chain_in_arrival_order([u2, *anon, u1], BOUND))
    assert first == second == third
    assert first["u1"][0][1].events == 3 and first["u2"][0][1].events == 1


def test_a_shared_device_switching_users_sends_later_anonymous_events_to_the_new_user(
) -> None:
    events = [ev("PAGE_VIEW", 1_000, "s0", user_id="u1"),
              ev("VIEW_PRODUCT", 2_000, "s0", product_id="p"),
              ev("PAGE_VIEW", 3_000, "s0", user_id="u2"),
              ev("VIEW_PRODUCT", 4_000, "s0", product_id="q")]
    expected = Counter({("u1", 1_000, False, False): 1, ("u1", 2_000, True, False): 1,
                        ("u2", 3_000, False, False): 1, ("u2", 4_000, True, False): 1})
    assert resolved(events) == expected
    assert resolved([events[1], events[3], events[2], events[0]]) == expected


def test_a_later_arriving_earlier_login_still_takes_the_events_before_it() -> None:
    events = [ev("VIEW_PRODUCT", 1_000, "s0", product_id="p"),
              ev("PAGE_VIEW", 4_000, "s0", user_id="u2"),
              ev("PAGE_VIEW", 3_000, "s0", user_id="u1")]   # arrives last, 1 s late
    assert resolved(events)[("u1", 1_000, True, False)] == 1


def test_a_session_that_never_logs_in_stays_anonymous() -> None:
    events = [ev("VIEW_PRODUCT", 1_000, "s0", product_id="p"),
              ev("VIEW_PRODUCT", 2_000, "s0", product_id="q")]
    assert resolved(events) == Counter({("s0", 1_000, False, True): 1,
                                        ("s0", 2_000, False, True): 1})

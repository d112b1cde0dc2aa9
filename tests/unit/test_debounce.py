"""interface_up_down_delays, sans-I/O: literal times, as keepalived debounces link flaps."""

from __future__ import annotations

from vrrpkit.core.debounce import LinkDebouncer


def test_a_flap_shorter_than_the_delay_is_never_seen() -> None:
    d = LinkDebouncer({"eth0": (500_000, 200_000)})  # down 0.5 s, up 0.2 s
    d.initial("eth0", True)
    assert d.changed("eth0", False, 10.0) == [] and d.get_timer() == 10.5
    assert d.changed("eth0", True, 10.3) == [] and d.get_timer() is None
    assert d.reported("eth0") is True


def test_a_change_that_lasts_the_delay_is_reported_when_it_runs_out() -> None:
    d = LinkDebouncer({"eth0": (500_000, 200_000)})
    d.initial("eth0", True)
    d.changed("eth0", False, 10.0)
    d.changed("eth0", False, 10.2)  # a repeated event does not restart the delay
    assert d.handle_timer(10.49) == []
    assert d.handle_timer(10.5) == [("eth0", False)] and d.reported("eth0") is False
    d.changed("eth0", True, 11.0)
    assert d.get_timer() == 11.2 and d.handle_timer(11.2) == [("eth0", True)]


def test_interfaces_without_delays_and_zero_delays_pass_at_once() -> None:
    d = LinkDebouncer({"eth1": (0, 0)})
    d.initial("eth0", True)
    d.initial("eth1", True)
    assert d.changed("eth0", False, 1.0) == [("eth0", False)]
    assert d.changed("eth1", False, 1.0) == [("eth1", False)]
    assert d.changed("eth2", True, 1.0) == [("eth2", True)]  # never seen: reported as it comes
    assert d.changed("eth2", True, 2.0) == []  # no change, nothing to say

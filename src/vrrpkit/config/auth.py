"""An instance's `authentication` block, as keepalived 2.2.7 completes it (vrrp.c, measured with
`keepalived -t`): each rule below turns the authentication off (or, for AH, the initial MASTER
state), with keepalived's reason in the diagnostic; the first that applies is the only one said.
"""

from __future__ import annotations

from collections.abc import Callable

from vrrpkit.config.diagnostics import Location, Reporter

_TYPES = {"PASS": 1, "AH": 2}


def authentication(
    r: Reporter, loc: Callable[[str], Location], written: tuple[str | None, bytes], *,
    version: int, ipv6: bool, strict: bool, state: str, priority: int,
) -> tuple[int, bytes, str]:  # fmt: skip
    """(auth_type, auth_pass, state) for the instance: 0 none, 1 PASS, 2 AH."""
    kind, password = written
    if kind is None:
        if password:
            r.add(loc("authentication"), "invalid-value", "authentication has auth_pass but no auth_type; ignored",
                  "warning")  # fmt: skip
        return 0, b"", state
    auth_type = _TYPES.get(kind, 0)
    if not auth_type:
        return 0, b"", state
    where = loc("authentication")
    if strict:
        r.add(where, "strict-drops-auth",
              "strict mode ignores the authentication block ('Strict mode does not support authentication'); "
              "adverts go out without a password, so hosts without strict mode and with this password "
              "will drop them")  # fmt: skip
    elif version == 3:
        r.add(where, "auth-ignored-v3",
              "VRRPv3 has no authentication (RFC 5798); keepalived ignores this block ('VRRP version 3 does not "
              "support authentication. Ignoring.')")  # fmt: skip
    elif not password:
        r.add(where, "auth-no-password",
              "authentication without auth_pass: keepalived ignores the block ('Authentication specified but "
              "no password given. Ignoring') and sends adverts without authentication")  # fmt: skip
    elif auth_type == 2 and ipv6:
        r.add(where, "ah-ipv6",
              "auth_type AH is IPv4 only: keepalived ignores the block ('Cannot use AH authentication with "
              "IPv6. ignoring') and sends adverts without authentication")  # fmt: skip
    else:
        if auth_type == 2 and state == "MASTER" and priority != 255:
            r.add(loc("state"), "ah-initial-master",
                  "state MASTER with auth_type AH: keepalived starts the instance as BACKUP ('Initial state "
                  "master is incompatible with AH authentication - clearing'), to learn the AH sequence "
                  "number from the master first")  # fmt: skip
            state = "BACKUP"
        return auth_type, password, state
    return 0, b"", state

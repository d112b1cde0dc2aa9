"""The OS adapters for the daemon and the diagnostics: thin, typed, and free of protocol decisions
(those live in core).

Modules (import the one you need; nothing is imported here, so the daemon loads only what it runs):

* ``vrrp_socket``: raw protocol-112 sockets (VrrpSocket4/6) for asyncio ``add_reader``.
* ``netlink``: VIP add/delete exactly as keepalived does, address and link queries; ``linkmon``: link events.
* ``rtnl``: the small synchronous rtnetlink client ``netlink`` sends its requests through.
* ``garp``: gratuitous ARP / unsolicited NA frames and sender; the ARP/NS split-brain prober.
* ``nft``: the ``no_accept`` nftables table.
* ``scripts``: vrrp_script / notify execution, script security, rise/fall counting.
* ``tap``: an AF_PACKET tap that sees VRRP (and IGMP) below the host firewall, for diagnostics.
* ``icmp``: ICMP echo and the ICMP errors that quote our probes, for ``investigate``.
* ``igmp``: one IGMPv3 group query, for ``investigate``.
* ``fdsocket``: the base every socket-owning adapter shares (fileno, close, ``with``).
* ``consts``: Linux constants Python 3.11 lacks.

The daemon has no clock module here: it reads time from its asyncio loop (``loop.time()``, which is
monotonic), so a wall-clock step never moves a VRRP timer.
"""

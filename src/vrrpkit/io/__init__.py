"""The daemon's OS adapters: thin, typed, and free of protocol decisions (those live in core).

Modules (import the one you need; nothing is imported here, so ``vrrpkit.io.clock`` does not pull
in pyroute2):

* ``vrrp_socket``: raw protocol-112 sockets (VrrpSocket4/6) for asyncio ``add_reader``.
* ``netlink``: VIP add/delete exactly as keepalived does, address and link queries, LinkMonitor.
* ``garp``: gratuitous ARP / unsolicited NA frames and sender; the ARP/NS split-brain prober.
* ``nft``: the ``no_accept`` nftables table.
* ``scripts``: vrrp_script / notify execution, script security, rise/fall counting.
* ``clock``: the monotonic clock, the only place the daemon reads time.
* ``consts``: Linux constants Python 3.11 lacks.
"""

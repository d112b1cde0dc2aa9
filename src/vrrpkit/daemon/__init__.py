"""`vrrpkit run`: the asyncio driver that connects core to io."""

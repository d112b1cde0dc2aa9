"""Pictures of a cluster: self-contained HTML pages with inline SVG timelines, rendered from data.

Three readers need the same drawing: the daemon's status page (`status`, from the typed `Snapshot`),
the demo's report (`demo`, from the demo's result) and a capture's timeline (`capture`, from
`vrrpkit watch -r`'s summary). Rendering is pure: data and the current time in, one string out, no
I/O, no clock, nothing from the network (no scripts, fonts or images to fetch), so a page works
offline, in a terminal browser, and in a test that compares text.

`html` (escaping, the page shell) and `timeline` (lanes of bands on a time axis, as SVG) import
nothing from vrrpkit, which is why `lab` may use them; `status` reads `control.snapshot`, so only
the daemon and the CLI reach it (import-linter holds both rules).
"""

"""What a test against real keepalived needs, said once for every such module (`pytestmark`)."""

from __future__ import annotations

import os
import shutil

import pytest

KEEPALIVED = [
    pytest.mark.root,
    pytest.mark.interop,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
    pytest.mark.skipif(shutil.which("keepalived", path="/usr/sbin:/usr/bin") is None, reason="needs keepalived"),
]

"""One line describing the machine a measurement ran on, for reports and benchmarks.

Its own module so the understanding evaluation and every bench can name the machine without
importing one another.
"""

from __future__ import annotations

import os
import platform


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}"

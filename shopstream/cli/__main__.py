"""``python -m shopstream.cli``."""

from __future__ import annotations

import sys

from shopstream.cli import main

sys.exit(main())

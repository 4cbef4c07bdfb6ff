"""``python -m shopstream.runners.flink SPEC``: run one pickled job in this interpreter."""

from __future__ import annotations

import sys

from shopstream.runners.flink.runner import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

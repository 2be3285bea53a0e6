"""`hoinghi serve` for tests, with every live frame it builds checked against /api/asyncapi.json (issue 19):
the conftest's check covers servers inside the test process; this covers hub processes. Each frame that
breaks the document is written, one per line, to the file named by HOINGHI_TEST_FRAME_PROBLEMS, which
`tests.served.Hub.stop` reads and fails on."""

from __future__ import annotations

import os
import sys

from tests.contract import frame_problem
from web import cli
from web.live import protocol


def main() -> None:
    problems = os.environ["HOINGHI_TEST_FRAME_PROBLEMS"]

    def check(text: str) -> None:
        problem = frame_problem(text)
        if problem is not None:
            with open(problems, "a", encoding="utf-8") as out:
                out.write(problem.replace("\n", " ")[:2000] + "\n")

    protocol.frame_check = check
    cli.main(sys.argv[1:])


if __name__ == "__main__":
    main()

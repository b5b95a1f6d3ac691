"""A real `trustacks serve` process for the crash and shutdown tests, with a test dispatcher.

    python -m tests.service.service_proc MARKER_DIR

Settings come from the TRUSTACKS_* environment as in production. The dispatcher touches
MARKER_DIR/started-<job id> and then blocks, so the test can kill or stop the process mid-job.
Prints `LISTENING <port>` once the port is open.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.config import load_settings
from bot.logs import configure_logging
from bot.serve_cli import run_service


def main(marker_dir: str) -> None:
    settings = load_settings()
    configure_logging(settings.log_level, secrets=settings.secrets())
    markers = Path(marker_dir)

    async def dispatch(job) -> None:
        (markers / f"started-{job.id}").write_text(str(job.attempts))
        await asyncio.sleep(3600)

    def listening(host: str, port: int) -> None:
        print(f"LISTENING {port}", flush=True)

    asyncio.run(run_service(settings, dispatch, on_listening=listening))


if __name__ == "__main__":
    main(sys.argv[1])

"""A background HTTP client for the scenarios: requests back to back to one URL, counting what
answered and what failed, until told to stop.

    python3 client.py URL RUN_DIR NAME [MAX_SECONDS]

Writes RUN_DIR/NAME.pid at start (so `orchestr scenario destroy` can stop it), RUN_DIR/NAME.json
once a second while running and a last time when it stops: requests, ok, failed, the first
failures, and how many answers named each version (`version=N` in the demo app's page). It
stops when RUN_DIR/NAME.stop appears, on SIGTERM, or after MAX_SECONDS (default 600).
Standard library only: it runs with any python3.
"""

import json
import os
import re
import signal
import sys
import time
import urllib.request
from collections import Counter

VERSION = re.compile(r"version=(\S+)")


def main() -> None:
    url, run_dir, name = sys.argv[1], sys.argv[2], sys.argv[3]
    limit = float(sys.argv[4]) if len(sys.argv) > 4 else 600.0
    base = os.path.join(run_dir, name)
    with open(base + ".pid", "w") as handle:
        handle.write(f"{os.getpid()}\n")
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    counts = {"requests": 0, "ok": 0, "failed": 0}
    failures = []
    versions = Counter()
    started = last_report = time.monotonic()

    def report(done):
        data = dict(
            counts,
            failures=failures[:20],
            versions=dict(versions),
            done=done,
            seconds=round(time.monotonic() - started, 2),
        )
        with open(base + ".json.tmp", "w") as handle:
            json.dump(data, handle)
        os.replace(base + ".json.tmp", base + ".json")

    while not stopping and not os.path.exists(base + ".stop"):
        if time.monotonic() - started > limit:
            break
        counts["requests"] += 1
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                body = answer.read().decode(errors="replace")
            counts["ok"] += 1
            found = VERSION.search(body)
            versions[found.group(1) if found else "?"] += 1
        except Exception as error:  # every failure counts, whatever it is
            counts["failed"] += 1
            failures.append(f"{time.strftime('%H:%M:%S')} {error}")
        if time.monotonic() - last_report >= 1:
            report(False)
            last_report = time.monotonic()
        time.sleep(0.01)
    report(True)
    os.remove(base + ".pid")


if __name__ == "__main__":
    main()

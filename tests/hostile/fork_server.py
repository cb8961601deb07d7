"""A fork server for the crash tests: imports torch and modelfusion once, then forks one child per CLI run.

Starting `modelfusion` costs seconds (importing torch); a forked child starts in milliseconds, so a test
can kill twenty merges at random moments quickly. Protocol: JSON lines on stdin / stdout.
  {"op": "run", "argv": [...], "log": PATH, "fsize": BYTES | null} -> {"pid": PID}
  {"op": "wait", "pid": PID} -> {"status": EXIT_CODE or -SIGNAL, "seconds": RUN_TIME}
The child's stdout and stderr go to `log`; `fsize` sets RLIMIT_FSIZE (Python ignores SIGXFSZ, so a write
past the limit fails with EFBIG, as on a full disk).
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import time
import traceback

import rich.console
import rich.progress
import rich.table
import torch

import modelfusion.api
from modelfusion.cli.main import app
from modelfusion.methods import all_methods

PRELOADED = (rich.console, rich.progress, rich.table, modelfusion.api)


def _child(argv: list[str], log: str, fsize: int | None) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    code = 1
    try:
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        app(args=argv, prog_name="modelfusion", standalone_mode=True)
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main() -> None:
    torch.set_num_threads(1)
    for method in all_methods():  # import every method's math now (its spec names it lazily), not in each child
        for ref in (method.fn, method.streamed):  # "package.module:function"
            if ref is not None:
                importlib.import_module(ref.partition(":")[0])
    started: dict[int, float] = {}
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        if req["op"] == "run":
            pid = os.fork()
            if pid == 0:
                _child(req["argv"], req["log"], req.get("fsize"))
            started[pid] = time.perf_counter()
            print(json.dumps({"pid": pid}), flush=True)
        elif req["op"] == "wait":
            _, status = os.waitpid(req["pid"], 0)
            seconds = time.perf_counter() - started.pop(req["pid"])
            code = os.waitstatus_to_exitcode(status)
            print(json.dumps({"status": code, "seconds": seconds}), flush=True)


if __name__ == "__main__":
    main()

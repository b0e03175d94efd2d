"""Runs the examples against --target, or against an otserve started here (the
binary from $OTSERVE_BIN or build/otserve) when no target is given."""
import contextlib, os, re, subprocess

import otserve


@contextlib.contextmanager
def client(target=None, timeout=120):
    if target:
        with otserve.Client(target, timeout=timeout) as c:
            yield c
        return
    binary = os.environ.get("OTSERVE_BIN", "build/otserve")
    proc = subprocess.Popen([binary, "--listen=127.0.0.1:0"], stderr=subprocess.PIPE,
                            text=True)
    try:
        m = re.search(r"listening on port (\d+)", proc.stderr.readline())
        if not m:
            raise RuntimeError(f"{binary} did not start")
        with otserve.Client(f"127.0.0.1:{m.group(1)}", timeout=timeout) as c:
            yield c
    finally:
        proc.terminate()
        proc.wait(30)
        proc.stderr.close()

"""Starts an otserve binary on a free loopback port for a test module."""
import os, re, subprocess, time


class Server:
    def __init__(self, *args):
        binary = os.environ.get("OTSERVE_BIN", "build/otserve")
        self.proc = subprocess.Popen([binary, "--listen=127.0.0.1:0", *args],
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stderr.readline()
        m = re.search(r"listening on port (\d+)", line)
        if not m:
            self.proc.kill()
            raise RuntimeError("otserve did not start: " + line)
        self.address = f"127.0.0.1:{m.group(1)}"

    def stop(self, sig_timeout=30):
        self.proc.terminate()
        try:
            return self.proc.wait(sig_timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        finally:
            self.proc.stderr.close()

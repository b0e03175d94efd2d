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
        self.metrics_address = None
        if any(a.startswith("--metrics_listen") for a in args):
            for _ in range(5):
                line = self.proc.stderr.readline()
                m = re.search(r"metrics on port (\d+)", line)
                if m:
                    break
            if not m:
                self.proc.kill()
                raise RuntimeError("no metrics endpoint: " + line)
            self.metrics_address = f"127.0.0.1:{m.group(1)}"

    def stop_and_read(self, sig_timeout=30):
        """Stops the server and returns the rest of its stderr."""
        self.proc.terminate()
        text = self.proc.stderr.read()
        self.proc.wait(sig_timeout)
        self.proc.stderr.close()
        return text

    def stop(self, sig_timeout=30):
        self.proc.terminate()
        try:
            return self.proc.wait(sig_timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        finally:
            self.proc.stderr.close()

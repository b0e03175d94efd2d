#!/usr/bin/python3
"""Encode + decode cost of an ot.v1.Array for a 1e6 x 3 float64 measure from Python:
raw little-endian bytes (`data`) versus packed repeated double (`values`).
Usage: array_encoding.py [n]   (generates the stubs into a temporary folder)"""
import os, subprocess, sys, tempfile, time
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
proto = os.path.join(here, "..", "proto")
out = tempfile.mkdtemp()
subprocess.check_call(["protoc", "-I", proto, "--python_out", out, "ot/v1/types.proto"])
for d in ("ot", "ot/v1"):
    open(os.path.join(out, d, "__init__.py"), "w").close()
sys.path.insert(0, out)
sys.modules.pop("ot", None)
from ot.v1 import types_pb2  # noqa: E402

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
x = np.random.default_rng(0).normal(size=(n, 3))

def best(f, reps=5):
    t = []
    for _ in range(reps):
        s = time.perf_counter(); r = f(); t.append(time.perf_counter() - s)
    return min(t), r

def enc_bytes():
    return types_pb2.Array(shape=x.shape, dtype=types_pb2.DTYPE_FLOAT64,
                           data=np.ascontiguousarray(x, "<f8").tobytes()).SerializeToString()

def enc_values():
    return types_pb2.Array(shape=x.shape, dtype=types_pb2.DTYPE_FLOAT64,
                           values=x.ravel()).SerializeToString()

def dec_bytes(s):
    a = types_pb2.Array.FromString(s)
    return np.frombuffer(a.data, "<f8").reshape(tuple(a.shape))

def dec_values(s):
    a = types_pb2.Array.FromString(s)
    return np.asarray(a.values, dtype=np.float64).reshape(tuple(a.shape))

te_b, sb = best(enc_bytes); td_b, yb = best(lambda: dec_bytes(sb))
te_v, sv = best(enc_values); td_v, yv = best(lambda: dec_values(sv))
assert np.array_equal(yb, x) and np.array_equal(yv, x)
from google.protobuf.internal import api_implementation
print(f"protobuf backend={api_implementation.Type()} n={n}x3")
print(f"raw bytes : encode {te_b*1e3:.1f} ms, decode {td_b*1e3:.1f} ms, {len(sb)} bytes")
print(f"packed f64: encode {te_v*1e3:.1f} ms, decode {td_v*1e3:.1f} ms, {len(sv)} bytes")

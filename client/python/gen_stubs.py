#!/usr/bin/python3
"""Builds the importable otserve Python package: copies client/python/otserve and
generates its gRPC stubs under otserve/_proto with protoc and grpc_python_plugin.
Generated imports ("from ot.v1 import ...") are made package-relative, so the
stubs never clash with POT's top-level `ot` package."""
import argparse, os, re, shutil, subprocess

ap = argparse.ArgumentParser()
ap.add_argument("--proto_dir", required=True)
ap.add_argument("--out", required=True, help="folder that will contain otserve/")
ap.add_argument("--package_src", required=True)
ap.add_argument("--grpc_plugin", required=True)
ap.add_argument("--version", required=True, help="from CMake's project(VERSION)")
args = ap.parse_args()

pkg = os.path.join(args.out, "otserve")
shutil.rmtree(pkg, ignore_errors=True)
shutil.copytree(args.package_src, pkg, ignore=shutil.ignore_patterns("__pycache__", "_proto"))
with open(os.path.join(pkg, "_version.py"), "w") as f:
    f.write(f'"""Written by gen_stubs.py from CMake\'s project(VERSION)."""\n__version__ = "{args.version}"\n')
# The API's recommended service config, read by the client at run time.
shutil.copy(os.path.join(args.proto_dir, "ot", "v1", "service_config.json"), pkg)
gen = os.path.join(pkg, "_proto")
os.makedirs(gen)
protos = ["ot/v1/types.proto", "ot/v1/service.proto",
          "google/rpc/status.proto", "google/rpc/error_details.proto"]
subprocess.check_call(["protoc", "-I", args.proto_dir, "--python_out", gen,
                       "--grpc_python_out", gen,
                       "--plugin=protoc-gen-grpc_python=" + args.grpc_plugin] + protos)

top = {"ot", "google"}  # roots of our generated modules (google.protobuf is not ours)
for root, _, files in os.walk(gen):
    open(os.path.join(root, "__init__.py"), "a").close()
    for f in files:
        if not f.endswith(".py"):
            continue
        path = os.path.join(root, f)
        depth = os.path.relpath(root, gen).count(os.sep) + (0 if root == gen else 1)
        dots = "." * (depth + 1)
        src = open(path).read()
        src = re.sub(r"^from (ot\.v1|google\.rpc) import", lambda m: "from " + dots + m.group(1) + " import",
                     src, flags=re.M)
        open(path, "w").write(src)

"""Written by gen_stubs.py from CMake's project(VERSION)."""
__version__ = "0.1.0"

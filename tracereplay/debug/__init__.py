"""Offline debugging of one capture: object histories, trace slices, minimal reproductions
(delta debugging) and a Perfetto / chrome://tracing export.

Everything here works on the canonical event table and returns data or writes files; nothing
prints (the CLI in tracereplay/cli/ does).
"""

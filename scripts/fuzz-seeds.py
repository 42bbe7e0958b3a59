#!/usr/bin/env python3
"""Writes the fuzzers' seed inputs: every example and every `// -----`
piece of the lit tests, one file each (RUN/CHECK comment lines dropped:
they are noise to a mutator).

    fuzz-seeds.py REPO OUTDIR
"""
import hashlib
import pathlib
import re
import sys


def pieces(path):
    text = path.read_text(errors="replace")
    for piece in re.split(r"^// -----.*$", text, flags=re.M):
        lines = [l for l in piece.splitlines()
                 if not re.match(r"\s*//\s*(RUN|CHECK|[A-Z0-9_-]+:)", l)]
        body = "\n".join(lines).strip()
        if body:
            yield body + "\n"


def main():
    repo, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    files = sorted(repo.glob("examples/*.mlir")) + sorted(repo.glob("test/**/*.mlir"))
    n = 0
    for f in files:
        for body in pieces(f):
            name = hashlib.sha1(body.encode()).hexdigest()[:16] + ".mlir"
            (out / name).write_text(body)
            n += 1
    print(f"fuzz-seeds: {n} seeds from {len(files)} files in {out}")


if __name__ == "__main__":
    main()

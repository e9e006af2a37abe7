#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check smolder's symbol-table answers against eu-addr2line's.

For a sample of addresses inside the object's function symbols (nm -D, or
nm when it has a .symtab), compare the symbol smolder names (the outermost
frame, from `smolder symbolize --json`) with eu-addr2line -S's. The same
symbol means the same start address, and a name that is one of the names
the symbol tables give that address (libc has write, __write and
__libc_write at one address; which alias a tool prints is a matter of
taste). Exits 1 below --min percent.
"""
import argparse
import json
import random
import re
import subprocess
import sys


def func_symbols(obj):
    syms = {}
    for flag in (["-D"], []):
        p = subprocess.run(["nm", "-S", "--defined-only"] + flag + [obj],
                           capture_output=True, text=True)
        for line in p.stdout.splitlines():
            f = line.split()
            if len(f) == 4 and f[2] in "Tt" and f[2]:
                name = f[3].split("@")[0]
                syms.setdefault(int(f[0], 16), (int(f[1], 16), set()))[1].add(name)
    return syms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smolder", required=True)
    ap.add_argument("--obj", required=True)
    ap.add_argument("--sample", type=int, default=500)
    ap.add_argument("--min", type=float, default=99.9)
    args = ap.parse_args()

    syms = func_symbols(args.obj)
    starts = sorted(a for a, (size, _) in syms.items() if size > 0)
    rnd = random.Random(1)
    addrs = []
    for a in rnd.sample(starts, min(args.sample, len(starts))):
        addrs.append(a + rnd.randrange(syms[a][0]))
    data = "".join("0x%x\n" % a for a in addrs)

    p = subprocess.run([args.smolder, "symbolize", "--json", "--no-demangle",
                        "-e", args.obj], input=data, capture_output=True,
                       text=True)
    ours = [json.loads(l) for l in p.stdout.splitlines()]
    p = subprocess.run(["eu-addr2line", "-S", "-e", args.obj], input=data,
                       capture_output=True, text=True)
    lines = p.stdout.splitlines()
    theirs = [lines[i] for i in range(0, len(lines), 2)]
    if len(ours) != len(addrs) or len(theirs) != len(addrs):
        sys.exit("symcheck: %d and %d answers for %d addresses" %
                 (len(ours), len(theirs), len(addrs)))
    agree, bad = 0, []
    for a, o, t in zip(addrs, ours, theirs):
        m = re.match(r"^(.*?)(?:\+0x([0-9a-f]+))?$", t)
        tname, toff = m.group(1).split("@")[0], int(m.group(2) or "0", 16)
        frames = o.get("Symbol", [])
        oname = frames[-1]["FunctionName"] if frames else "??"
        ostart = int(frames[-1]["StartAddress"], 16) if frames else -1
        names = syms.get(ostart, (0, set()))[1]
        if ostart == a - toff and (oname == tname or
                                   (oname in names and tname in names)):
            agree += 1
        else:
            bad.append((a, oname, ostart, t))
    pct = 100.0 * agree / len(addrs)
    print("symbols vs eu-addr2line: %d of %d agree (%.2f%%)" %
          (agree, len(addrs), pct))
    for a, on, os_, t in bad[:5]:
        print("  0x%x: smolder %s (starts 0x%x), eu-addr2line %s" %
              (a, on, os_, t))
    return 0 if pct >= args.min else 1


if __name__ == "__main__":
    sys.exit(main())

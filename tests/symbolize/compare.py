#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compare `smolder symbolize` with llvm-symbolizer and addr2line.

For every instruction of every function in the object's .text (from
objdump -d), or a sample of them, symbolize the address with the three
tools and compare, address by address:

  - with llvm-symbolizer-14 (both --no-demangle, so names are compared as
    the object spells them): function, file, line and column of every
    frame of the inline chain;
  - with addr2line -f -i -C (both demangling with libiberty): function,
    file and line of every frame.

Names are compared demangled by the GNU demangler (c++filt for
llvm-symbolizer's raw names), so that the two demanglers' spellings do not
count. Where addr2line and llvm-symbolizer disagree with each other,
smolder follows llvm-symbolizer (see README.md in this directory for the
cases), so agreement with addr2line is required where they agree.

Prints the agreement and the first disagreements; exits 1 when either
required agreement is below --min (percent).
"""
import argparse
import os
import random
import re
import subprocess
import sys


def text_addresses(obj):
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "-j",
                          ".text", obj], capture_output=True, text=True,
                         check=True).stdout
    addrs = []
    for line in out.splitlines():
        m = re.match(r"^\s+([0-9a-f]+):\s+\S", line)
        if m:
            addrs.append(int(m.group(1), 16))
    return addrs


def run(cmd, addrs):
    data = "".join("0x%x\n" % a for a in addrs)
    p = subprocess.run(cmd, input=data, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("compare: %s failed (%d): %s" % (cmd[0], p.returncode,
                                                   p.stderr.strip()))
    return p.stdout


def parse_llvm_shape(out, n):
    """Blocks of (function, file:line:col) pairs, a blank line after each."""
    blocks, cur = [], []
    lines = out.split("\n")
    i = 0
    while i < len(lines) and len(blocks) < n:
        if lines[i] == "":
            blocks.append(cur)
            cur = []
            i += 1
            continue
        func, loc = lines[i], lines[i + 1]
        m = re.match(r"^(.*):(\d+):(\d+)$", loc)
        if not m:
            sys.exit("compare: unexpected line %r" % loc)
        cur.append((func, m.group(1), int(m.group(2)), int(m.group(3))))
        i += 2
    if len(blocks) != n:
        sys.exit("compare: %d answers for %d addresses" % (len(blocks), n))
    return blocks


def parse_addr2line(out, n):
    """addr2line -a -f -i: an address line, then (function, file:line)."""
    blocks = []
    lines = out.split("\n")
    i = 0
    while i < len(lines):
        if re.match(r"^0x[0-9a-f]+$", lines[i]):
            blocks.append([])
            i += 1
            continue
        if not lines[i]:
            i += 1
            continue
        func, loc = lines[i], lines[i + 1]
        loc = re.sub(r" \(discriminator \d+\)$", "", loc)
        file, _, line = loc.rpartition(":")
        blocks[-1].append((func, file, 0 if line in ("?", "") else int(line)))
        i += 2
    if len(blocks) != n:
        sys.exit("compare: addr2line gave %d answers for %d addresses" %
                 (len(blocks), n))
    return blocks


def norm_unknown(frames):
    """An unknown answer, in each tool's spelling, becomes []."""
    if len(frames) == 1 and frames[0][0] == "??" and frames[0][1] in ("??", ""):
        return []
    return frames


def demangle_all(blocks):
    """Demangle llvm-symbolizer's raw names with c++filt, the GNU
    demangler addr2line -C and smolder use, so that names compare
    whatever each tool's demangler prints."""
    names = sorted({f[0] for b in blocks for f in b})
    out = subprocess.run(["c++filt"], input="\n".join(names) + "\n",
                         capture_output=True, text=True, check=True).stdout
    table = dict(zip(names, out.split("\n")))
    return [[(table[f[0]],) + tuple(f[1:]) for f in b] for b in blocks]


def report(name, addrs, pairs, show):
    """pairs: (ours, theirs) per address; prints and returns agreement."""
    agree = 0
    bad = []
    for a, (x, y) in zip(addrs, pairs):
        if x == y:
            agree += 1
        else:
            bad.append((a, x, y))
    pct = 100.0 * agree / len(pairs) if pairs else 100.0
    print("%-44s %6d of %6d agree (%.3f%%)" % (name, agree, len(pairs), pct))
    for a, x, y in bad[:show]:
        k = 0
        while k < min(len(x), len(y)) and x[k] == y[k]:
            k += 1
        print("  0x%x: %d and %d frames; from frame %d:\n    smolder: %s\n"
              "    other:   %s" % (a, len(x), len(y), k, x[k:k + 2],
                                   y[k:k + 2]))
    return pct


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smolder", required=True)
    ap.add_argument("--obj", required=True, help="object to symbolize")
    ap.add_argument("--peer-obj", help="the object the other tools read "
                    "(default: --obj; for a stripped --obj, its original)")
    ap.add_argument("--debug-dir", help="smolder's --debug-dir")
    ap.add_argument("--sample", type=int, default=0,
                    help="at most this many addresses (seeded sample)")
    ap.add_argument("--min", type=float, default=99.9)
    ap.add_argument("--show", type=int, default=5)
    ap.add_argument("--no-addr2line", action="store_true")
    args = ap.parse_args()

    peer = args.peer_obj or args.obj
    addrs = text_addresses(peer)
    if args.sample and len(addrs) > args.sample:
        addrs = sorted(random.Random(1).sample(addrs, args.sample))
    if not addrs:
        sys.exit("compare: no instructions in %s" % args.obj)
    sm = [args.smolder, "symbolize", "-e", args.obj]
    if args.debug_dir:
        sm += ["--debug-dir", args.debug_dir]

    n = len(addrs)
    ours = [norm_unknown(b) for b in parse_llvm_shape(run(sm, addrs), n)]
    llvm = parse_llvm_shape(run(["llvm-symbolizer-14", "--no-demangle",
                                 "--obj", peer], addrs), n)
    llvm = [norm_unknown(b) for b in demangle_all(llvm)]
    print("%s: %d addresses" % (os.path.basename(args.obj), n))
    ok = report("function, file:line:column vs llvm-symbolizer",
                addrs, list(zip(ours, llvm)), args.show) >= args.min
    if not args.no_addr2line:
        a2l = parse_addr2line(run(["addr2line", "-a", "-f", "-i", "-C", "-e",
                                   peer], addrs), n)
        a2l = [norm_unknown(b) for b in a2l]
        ours3 = [[f[:3] for f in b] for b in ours]
        llvm3 = [[f[:3] for f in b] for b in llvm]
        report("function, file:line vs addr2line", addrs,
               list(zip(ours3, a2l)), 0)
        both = [(a, o, t) for a, o, t, l in zip(addrs, ours3, a2l, llvm3)
                if t == l]
        print("  addr2line and llvm-symbolizer differ on %d addresses; "
              "there smolder follows llvm-symbolizer" % (n - len(both)))
        ok = report("  vs addr2line where the two agree",
                    [a for a, _, _ in both],
                    [(o, t) for _, o, t in both], args.show) >= args.min and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

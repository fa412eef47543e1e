#!/usr/bin/env python3
"""Prints the table `scripts/bench.sh` ends with: every figure, its target,
the reference measured in the same run and the ratio to it, and whether the
target was met.

Input: one tab-separated row per figure: name, value, unit, comparison (<= or
>=), target (a number, "Nx" for N times the reference, or -) and reference
(a number or -).
"""
import sys


def number(text):
    try:
        return float(text)
    except ValueError:
        return None


def shown(value):
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def main():
    rows = []
    met = missed = 0
    for line in open(sys.argv[1]):
        name, value, unit, comparison, target, reference = line.rstrip("\n").split("\t")
        value, reference = number(value), number(reference)
        if target.endswith("x"):
            factor = float(target[:-1])
            limit = factor * reference if reference is not None else None
            target_text = f"{comparison} {factor:g}x ref" + (f" ({shown(limit)})" if limit is not None else "")
        elif target == "-":
            limit, target_text = None, "-"
        else:
            limit, target_text = float(target), f"{comparison} {shown(float(target))}"
        ratio = f"{value / reference:.2f}" if value is not None and reference else "-"
        if value is None:
            verdict = "NO FIGURE"
            missed += 1
        elif limit is None:
            verdict = ""
        elif (value <= limit) if comparison == "<=" else (value >= limit):
            verdict = "ok"
            met += 1
        else:
            verdict = "MISSED"
            missed += 1
        rows.append((name, f"{shown(value)} {unit}", target_text, f"{shown(reference)}", ratio, verdict))
    header = ("figure", "measured", "target", "reference", "ratio", "")
    widths = [max(len(row[i]) for row in rows + [header]) for i in range(len(header))]
    for row in [header, tuple("-" * width for width in widths)] + rows:
        print("  ".join(cell.ljust(width) if i == 0 else cell.rjust(width) if i < 5 else cell
                        for i, (cell, width) in enumerate(zip(row, widths))).rstrip())
    print(f"\n{met} targets met, {missed} missed or without a figure. References: the direct writer "
          "(scripts/bench/direct_writer.c) for MJPEG, 200 MJPEG viewers for WebSocket, the scaled "
          "libjpeg-turbo decode for motion, a bare loopback TCP connection for ingest, motion off for "
          "the motion CPU.")


if __name__ == "__main__":
    main()

"""Medians, ratios and the printed tables; nothing here runs a command.

Ratios are always braid divided by the anchor, whatever the metric's direction: above 1
is better for throughput, below 1 is better for CPU per GB, latency and loss (the table
says which way each row points).
"""

import statistics

from suite import METRICS


def medians(results, impl_names):
    """{impl: {metric: median over the repetitions that produced it, or None}}."""
    out = {}
    for name in impl_names:
        rows = [r for r in results if r["impl"] == name]
        out[name] = {}
        for key, *_ in METRICS:
            values = [r[key] for r in rows if r.get(key) is not None]
            out[name][key] = statistics.median(values) if values else None
    return out


def ratio(subject, anchor):
    """subject / anchor, or None when either is missing or the anchor is zero."""
    if subject is None or anchor is None or anchor == 0:
        return None
    return subject / anchor


def ratios(meds, subject, anchors):
    """{anchor: {metric: subject/anchor}} from the medians."""
    return {a: {key: ratio(meds[subject][key], meds[a][key]) for key, *_ in METRICS} for a in anchors}


def fmt(value):
    """A number with three significant digits (or '—' for a missing one)."""
    if value is None:
        return "—"
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def fmt_ratio(value):
    """A ratio as '2.31×' (or '—')."""
    return "—" if value is None else f"{value:.2f}×"


def median_table(meds, rats, subject, anchors):
    """The markdown table of medians and braid/anchor ratios."""
    impls = [subject, *anchors]
    head = ["metric", "unit", "better", *impls, *(f"{subject}/{a}" for a in anchors)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, label, unit, higher in METRICS:
        cells = [label, unit, "higher" if higher else "lower"]
        cells += [fmt(meds[i][key]) for i in impls]
        cells += [fmt_ratio(rats[a][key]) for a in anchors]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def spread_table(results, impl_names):
    """Every repetition's value per metric and implementation (to judge the medians' spread)."""
    head = ["metric", *impl_names]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, label, _unit, _higher in METRICS:
        cells = [label]
        for name in impl_names:
            rows = sorted((r for r in results if r["impl"] == name), key=lambda r: r["rep"])
            cells.append(" / ".join(fmt(r.get(key)) for r in rows))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)

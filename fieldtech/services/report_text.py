"""The billing report and statements as plain lines, for the terminal (`fieldtech report`) and
the TUI's report screen alike. No textual here: the screen only shows these lines."""

from __future__ import annotations

from fieldtech.domain.billing import ProviderStatement, Report, Statement, money

BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[int]) -> str:
    """One block per value, scaled from 0 to the largest (an empty month is the lowest)."""
    top = max(values, default=0)
    if top <= 0:
        return BLOCKS[0] * len(values)
    return "".join(BLOCKS[min(len(BLOCKS) - 1, max(0, v) * (len(BLOCKS) - 1) // top)]
                   for v in values)


def bars(trend: list[tuple[str, int]], currency: str, width: int = 40) -> list[str]:
    """A horizontal bar per month: 'Mar 26 ████████▌ 3,200.00 USD'."""
    top = max((v for _, v in trend), default=0)
    lines = []
    for month, value in trend:
        eighths = 0 if top <= 0 else max(0, value) * width * 8 // top
        bar = "█" * (eighths // 8) + ("" if eighths % 8 == 0 else " ▏▎▍▌▋▊▉"[eighths % 8])
        lines.append(f"{month}  {bar:<{width}}  {money(value, currency)}")
    return lines


def report_lines(r: Report, width: int = 80) -> list[str]:
    cur = r.currency
    values = [v for _, v in r.trend]
    lines = [
        f"Business report for {r.month}",
        f"MRR {money(r.mrr, cur)}   ARR {money(r.arr, cur)}   "
        f"provider fees {money(r.provider_total, cur)}",
        f"MRR, 12 months  {sparkline(values)}  ({r.trend[0][0]} → {r.trend[-1][0]})",
        "",
        *bars(list(r.trend), cur, max(10, width - 40)),
        "",
        "Margin bands: " + ", ".join(f"{label}: {n}" for label, n in r.bands.items()),
    ]
    if r.flagged:
        lines.append("Below 20 % two months running: "
                     + ", ".join(r.name(c) for c in r.flagged))
    lines.append("")
    lines.append(f"Renewals in the next 30 days: {len(r.renewals)}")
    lines += [f"  {n.term_end.isoformat()}  {r.name(n.customer_id)}  "
              f"{'auto-renews' if n.auto_renew else 'expires'}" for n in r.renewals[:20]]
    if len(r.renewals) > 20:
        lines.append(f"  … and {len(r.renewals) - 20} more")
    lines.append(f"Suspended, still costing provider fees: {len(r.suspended_fees)}"
                 + (f" ({money(sum(c for _, c in r.suspended_fees), cur)})"
                    if r.suspended_fees else ""))
    lines += [f"  {r.name(c)}  {money(cents, cur)}" for c, cents in r.suspended_fees[:20]]
    lines.append("")
    lines.append("SLA compliance (acknowledged within target):")
    if not r.sla:
        lines.append("  no incidents with a response target this month")
    for tier, f in r.sla.items():
        share = "—" if f.compliance is None else f"{100 * f.compliance:.0f} %"
        lines.append(f"  {tier:<12} {share:>6}  {f.met}/{f.incidents} met, "
                     f"{f.breaches} breach{'es' if f.breaches != 1 else ''}")
    if r.hours:
        used = sum(u for _, u, _ in r.hours)
        left = sum(x for _, _, x in r.hours)
        lines.append("")
        lines.append(f"Included hours: {used / 60:.1f} h used, {left / 60:.1f} h left "
                     f"({len(r.hours)} customers with included time)")
    return lines


def statement_lines(s: Statement | ProviderStatement, names: dict[str, str]) -> list[str]:
    if isinstance(s, ProviderStatement):
        head = [f"Provider statement for {s.month}: {len(s.lines)} package fees"]
        body = [f"  {line.quantity:<30} {line.description:<24} "
                f"{money(line.cents, s.currency):>16}" for line in s.lines]
    else:
        head = [f"{names.get(s.customer_id, s.customer_id)} — statement for {s.month}"]
        body = [f"  {line.description:<34} {line.quantity:<24} "
                f"{money(line.cents, s.currency):>16}" for line in s.lines]
    return [*head, *body, f"  {'Total':<59} {money(s.total, s.currency):>16}"]

"""An accessibility scan of the page a Playwright test has open: axe-core, vendored.

axe-core is in static/vendor/axe-core/ (pinned, with its licence); no page links
it. ``page.evaluate`` puts it into the page through the DevTools protocol, so the
page's own Content-Security-Policy stays on while it runs (an added ``<script>``
tag would be refused by ``script-src 'self'``, and turning the policy off would
test a page candidates never get).

    from tests.a11y import assert_accessible
    assert_accessible(page, "candidate item")   # no serious or critical violation
"""

from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).resolve().parent.parent / "static" / "vendor" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


def axe_violations(page, impacts=BLOCKING, context=None, scrolled_under=()) -> list[dict]:
    """axe's violations of the given impacts on the page as it is now (WCAG 2.x A/AA rules).

    ``scrolled_under``: CSS selectors of sticky bars. A target that scrolls
    beneath one is reported by ``target-size`` as "partially obscured" at this
    scroll position only; such a finding is dropped when the caller names the
    bar (and proves by its own test that every target can be scrolled clear).
    Any other reason for ``target-size`` still fails.
    """
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    results = page.evaluate(
        """async (context) => {
            const options = {runOnly: {type: 'tag',
                values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}};
            const r = await window.axe.run(context || document, options);
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary}))}));
        }""",
        context,
    )
    if scrolled_under:
        results = [_drop_scrolled_under(page, v, scrolled_under) for v in results]
    return [v for v in results if v and v["impact"] in impacts]


def _drop_scrolled_under(page, violation, bars):
    if violation["id"] != "target-size":
        return violation
    kept = []
    for node in violation["nodes"]:
        under = "partially obscured" in node["summary"] and page.evaluate(
            """([target, bars]) => {
                const box = document.querySelector(target).getBoundingClientRect();
                return bars.some(sel => [...document.querySelectorAll(sel)].some(bar => {
                    const b = bar.getBoundingClientRect();
                    return b.height > 0 && box.top < b.bottom && box.bottom > b.top;
                }));
            }""",
            [node["target"], list(bars)],
        )
        if not under:
            kept.append(node)
    return {**violation, "nodes": kept} if kept else None


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['impact']} {v['id']}: {v['help']}")
        for node in v["nodes"][:5]:
            lines.append(f"    {node['target']}: {node['summary']}")
    return "\n".join(lines)


def assert_accessible(page, where: str, impacts=BLOCKING, context=None, scrolled_under=()) -> None:
    """Fail, listing every offending element, if axe finds a violation of ``impacts``."""
    found = axe_violations(page, impacts, context, scrolled_under)
    assert not found, f"axe-core on the {where} page:\n{describe(found)}"

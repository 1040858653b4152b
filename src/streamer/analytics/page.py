"""A page of the report: self-contained (inline CSS, no scripts, every chart
embedded as a `data:` URI), so the file alone can be mailed or archived; each chart's PNG and
its data CSV are also written beside it, linked relatively."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field

import pandas as pd

TABLE_ROWS = 15

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1180px;
  padding: 0 1rem; color: #222; }
h1 { margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
.meta { color: #666; } .missing { background: #fff4e5; border-left: 4px solid #ffa726;
  padding: .6rem 1rem; } .failed { background: #fdecea; border-left: 4px solid #ef5350;
  padding: .6rem 1rem; } img { max-width: 100%; border: 1px solid #eee; }
table { border-collapse: collapse; font-size: 12px; margin: .5rem 0; }
td, th { border: 1px solid #ddd; padding: 2px 6px; text-align: right; }
th { background: #f5f5f5; } nav a { margin-right: 1rem; }
"""


@dataclass(frozen=True, slots=True)
class Chart:
    png: str
    """the file name of the PNG beside the page"""
    caption: str
    image: bytes
    """the PNG itself, embedded in the page"""


@dataclass
class Section:
    """One part of the page: its charts and tables, or notes on what is missing."""

    key: str
    title: str
    about: str
    charts: list[Chart] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame, str]] = field(default_factory=list)
    """(caption, data as the page shows it, csv file name)"""
    missing: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def render(
    title: str,
    facts: list[tuple[str, str]],
    sections: list[Section],
    pages: tuple[tuple[str, str], ...] = (),
    current: str = "",
) -> str:
    """The page of `sections`; `pages` (file, title) are the report's pages, linked from each
    (`current` is this one)."""
    missing = [(s, m) for s in sections for m in s.missing]
    others = [(f, t) for f, t in pages if f != current]
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        '<p class="meta">' + " · ".join(f"{_e(k)}: <b>{_e(v)}</b>" for k, v in facts) + "</p>",
        "<nav>" + "".join(f'<a href="#{s.key}">{_e(s.title)}</a>' for s in sections) + "</nav>",
    ]
    if others:
        out.insert(-1, '<nav class="pages">Also in this report: ' + " · ".join(
            f'<a href="{_e(f)}">{_e(t)}</a>' for f, t in others) + "</nav>")  # fmt: skip
    if missing:
        out.append('<div class="missing"><b>Missing from this report:</b><ul>')
        out.extend(f"<li>{_e(s.title)}: {_e(m)}</li>" for s, m in missing)
        out.append("</ul></div>")
    for section in sections:
        out.append(f'<h2 id="{section.key}">{_e(section.title)}</h2><p>{_e(section.about)}</p>')
        out.extend(f'<p class="failed">Query failed: {_e(f)}</p>' for f in section.failed)
        out.extend(f'<p class="missing">{_e(m)}</p>' for m in section.missing)
        for chart in section.charts:
            data = base64.b64encode(chart.image).decode("ascii")
            out.append(
                f'<figure><img src="data:image/png;base64,{data}" alt="{_e(chart.caption)}">'
                f'<figcaption>{_e(chart.caption)} (<a href="{_e(chart.png)}">PNG</a>)'
                "</figcaption></figure>"
            )
        for caption, frame, csv in section.tables:
            if frame.empty:
                out.append(f'<p class="missing">no rows for {_e(caption)}</p>')
                continue
            shown = min(len(frame), TABLE_ROWS)
            out.append(
                f"<p><b>{_e(caption)}</b> ({len(frame)} rows{', first ' + str(shown) if shown < len(frame) else ''}; "  # noqa: E501
                f'<a href="{_e(csv)}">all as CSV</a>)</p>'
            )
            out.append(frame.head(TABLE_ROWS).to_html(index=False, na_rep=""))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _e(text: str) -> str:
    return html.escape(text, quote=True)

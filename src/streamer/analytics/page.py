"""The report's index.html: one self-contained page (inline CSS, no scripts) linking each
chart's PNG and its data CSV, written beside it with relative links."""

from __future__ import annotations

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


@dataclass
class Section:
    """One part of the page: its charts and tables, or notes on what is missing."""

    key: str
    title: str
    about: str
    charts: list[tuple[str, str]] = field(default_factory=list)
    """(png file name, caption)"""
    tables: list[tuple[str, pd.DataFrame, str]] = field(default_factory=list)
    """(caption, data, csv file name)"""
    missing: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def render(title: str, facts: list[tuple[str, str]], sections: list[Section]) -> str:
    missing = [(s, m) for s in sections for m in s.missing]
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        '<p class="meta">' + " · ".join(f"{_e(k)}: <b>{_e(v)}</b>" for k, v in facts) + "</p>",
        "<nav>" + "".join(f'<a href="#{s.key}">{_e(s.title)}</a>' for s in sections) + "</nav>",
    ]
    if missing:
        out.append('<div class="missing"><b>Missing from this report:</b><ul>')
        out.extend(f"<li>{_e(s.title)}: {_e(m)}</li>" for s, m in missing)
        out.append("</ul></div>")
    for section in sections:
        out.append(f'<h2 id="{section.key}">{_e(section.title)}</h2><p>{_e(section.about)}</p>')
        out.extend(f'<p class="failed">Query failed: {_e(f)}</p>' for f in section.failed)
        out.extend(f'<p class="missing">{_e(m)}</p>' for m in section.missing)
        for png, caption in section.charts:
            out.append(
                f'<figure><a href="{_e(png)}"><img src="{_e(png)}" alt="{_e(caption)}"></a>'
                f"<figcaption>{_e(caption)}</figcaption></figure>"
            )
        for caption, frame, csv in section.tables:
            shown = min(len(frame), TABLE_ROWS)
            out.append(
                f"<p><b>{_e(caption)}</b> ({len(frame)} rows{', first ' + str(shown) if shown < len(frame) else ''}; "  # noqa: E501
                f'<a href="{_e(csv)}">all as CSV</a>)</p>'
            )
            out.append(frame.head(TABLE_ROWS).to_html(index=False, na_rep="", float_format=_num))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _num(value: float) -> str:
    return f"{value:,.6g}"


def _e(text: str) -> str:
    return html.escape(text, quote=True)

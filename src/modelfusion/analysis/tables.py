"""Report tables: one shape for the terminal (rich), markdown and HTML, so every report reads the same."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field


def fmt(value: float | int | str | None, digits: int = 3) -> str:
    """A number as report text: '-' for missing or NaN, integers with thousands separators, floats to `digits`."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return f"{value:,}"
    if math.isnan(value):
        return "-"
    if value != 0 and abs(value) < 10 ** (-digits):
        return f"{value:.1e}"
    return f"{value:.{digits}f}"


def pct(value: float) -> str:
    return "-" if math.isnan(value) else f"{100 * value:.1f}%"


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    note: str = ""

    def to_markdown(self) -> str:
        lines = [f"### {self.title}", ""]
        if self.note:
            lines += [self.note, ""]
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(self.columns))) + "|")
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in self.rows]
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in self.rows)
        note = f"<p>{html.escape(self.note)}</p>" if self.note else ""
        return f"<h3>{html.escape(self.title)}</h3>{note}<table><tr>{head}</tr>{body}</table>\n"

    def to_rich(self):
        from rich.table import Table as RichTable

        table = RichTable(title=self.title, title_justify="left")
        for i, c in enumerate(self.columns):
            table.add_column(c, justify="left" if i == 0 else "right", overflow="fold")
        for row in self.rows:
            table.add_row(*row)
        return table


@dataclass
class Report:
    """A titled report: intro paragraphs, tables, and images (paths relative to the report file)."""

    title: str
    intro: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    images: list[tuple[str, str]] = field(default_factory=list)
    """(caption, relative path)."""

    def to_markdown(self) -> str:
        parts = [f"# {self.title}", ""] + [p + "\n" for p in self.intro]
        parts += [t.to_markdown() for t in self.tables]
        parts += [f"![{caption}]({path})\n" for caption, path in self.images]
        return "\n".join(parts)

    def to_html(self) -> str:
        style = (
            "body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse;margin:1em 0}"
            "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}td:first-child{text-align:left}"
        )
        body = [f"<h1>{html.escape(self.title)}</h1>"] + [f"<p>{html.escape(p)}</p>" for p in self.intro]
        body += [t.to_html() for t in self.tables]
        body += [
            f'<figure><img src="{html.escape(p)}" alt="{html.escape(c)}"><figcaption>{html.escape(c)}</figcaption>'
            "</figure>"
            for c, p in self.images
        ]
        return f"<!doctype html><meta charset='utf-8'><title>{html.escape(self.title)}</title>" + (
            f"<style>{style}</style>" + "\n".join(body)
        )

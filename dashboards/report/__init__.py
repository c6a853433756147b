"""The weekly report (周报) per enterprise: its data (data.py, from the named queries of
pipeline/store/queries_report.py), its HTML (html.py, templates/), its PDF printed by
Chromium (pdf.py), ``hj212 report weekly`` (cli.py) and ``render_all`` for the benchmark.
The web app's page is dashboards/report_page.py."""

from dashboards.report.render import Timing, render_all

__all__ = ["Timing", "render_all"]

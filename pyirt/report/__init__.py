"""Post-incident reports, derived from an incident's journal and artifacts (never the other way round).

``model`` holds the typed facts, ``build`` derives them (pure), ``load`` reads an incident folder,
``render`` writes Markdown, HTML and JSON through Jinja templates, ``timeline`` draws the inline
SVG and ``pdf`` prints the HTML with headless Chromium.
"""

"""The monthly statistical report the contracts ask for: the figures (`figures.py`), as JSON
for machines, CSV of the tickets behind them, and an HTML page with charts for people
(`html.py`)."""

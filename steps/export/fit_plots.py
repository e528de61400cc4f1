"""The fit plot of a best model: out-of-fold predicted vs measured power over time, and residuals
against load, one row of panels per component (PNG bytes, matplotlib Agg).

A pipeline has dozens of these, so they must stay a small part of export's time: plain lines
without antialiasing, at most MAX_POINTS points a line, few ticks, and one figure per number of
components that is re-filled for each plot (building axes and ticks costs more than drawing).
Re-filling resets everything a plot shows, so the same input gives the same bytes.
"""

from __future__ import annotations

import io
from typing import Dict, List, Tuple

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .fit_data import FitData

MAX_POINTS = 800
DPI = 60
WIDTH = 10.0  # inches
ROW_HEIGHT = 2.1


def _thin(count: int) -> slice:
    """Every k-th row, so that no line has more than MAX_POINTS points (the shape stays visible)."""
    return slice(None, None, max(1, -(-count // MAX_POINTS)))


class _Template:
    """A figure with `rows` rows of (time panel, residual panel) and their lines, data left empty."""

    def __init__(self, rows: int):
        self.figure = Figure(figsize=(WIDTH, ROW_HEIGHT * rows + 0.9), dpi=DPI)
        FigureCanvasAgg(self.figure)
        # Rows share their x axes (time, load): inner rows draw no x tick labels, which saves text layout.
        self.axes = self.figure.subplots(rows, 2, squeeze=False, sharex="col")
        self.lines: List[Tuple] = []
        for left, right in self.axes:
            measured = left.plot([], [], color="black", linewidth=0.8, antialiased=False, label="measured")[0]
            predicted = left.plot([], [], color="tab:orange", linewidth=0.8, antialiased=False, label="predicted")[0]
            residual = right.plot([], [], linestyle="none", marker=".", markersize=2, color="tab:blue")[0]
            right.axhline(0.0, color="black", linewidth=0.6)
            right.set_ylabel("predicted - measured (W)")
            for axis in (left, right):
                axis.locator_params(nbins=4)  # ticks are most of the drawing time
            self.lines.append((measured, predicted, residual))
        self.axes[0, 0].legend(fontsize="small", loc="upper right")
        self.axes[-1, 0].set_xlabel("time (minutes from the first sample)")
        height = self.figure.get_figheight()
        self.figure.subplots_adjust(
            left=0.08, right=0.98, wspace=0.25, hspace=0.35, top=1 - 0.5 / height, bottom=0.6 / height
        )
        # Fixed label places (0.45 in left of and 0.4 in below the axes): matplotlib otherwise measures
        # every tick label of the column on each draw to place them.
        for axis in self.axes.flat:
            box = axis.get_position()
            axis.yaxis.set_label_coords(-0.45 / (box.width * WIDTH), 0.5)
            axis.xaxis.set_label_coords(0.5, -0.4 / (box.height * height))


class FitPlotter:
    """Draws fit plots, keeping one template figure per number of components."""

    def __init__(self) -> None:
        self._templates: Dict[int, _Template] = {}

    def plot(self, title: str, load_name: str, data: FitData) -> bytes:
        """Left: measured and predicted power over time; right: predicted - measured against load."""
        components = data.components
        template = self._templates.get(len(components))
        if template is None:
            template = self._templates[len(components)] = _Template(len(components))
        rows = _thin(len(data.timestamp))
        minutes = (data.timestamp - data.timestamp[0]) / 60.0
        by_load = np.argsort(data.load, kind="stable")[rows]
        for (left, right), lines, component in zip(template.axes, template.lines, components):
            measured, predicted = data.measured[component], data.predicted[component]
            lines[0].set_data(minutes[rows], measured[rows])
            lines[1].set_data(minutes[rows], predicted[rows])
            lines[2].set_data(data.load[by_load], (predicted - measured)[by_load])
            left.set_ylabel(f"{component} (W)")
            for axis in (left, right):
                axis.relim()
                axis.autoscale_view()
        template.axes[-1, 1].set_xlabel(load_name)
        template.figure.suptitle(title, fontsize="medium")
        buffer = io.BytesIO()
        # No "Software" text chunk: the same plot gives the same bytes on every export.
        template.figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
        return buffer.getvalue()


def fit_plot(title: str, load_name: str, data: FitData) -> bytes:
    """One fit plot on a fresh figure."""
    return FitPlotter().plot(title, load_name, data)

# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small inline SVG line chart of backup sizes per run: no script, no external file.
Each point carries a <title>, which browsers show as a tooltip."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from html import escape

from ansible_collections.caretaker.maintenance.plugins.plugin_utils._report.text import human_bytes

COLOURS = ('#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2')
WIDTH = 640
PLOT_HEIGHT = 160
LEFT = 72
RIGHT = 16
TOP = 12
BOTTOM = 28
LEGEND_LINE = 18


def size_chart(labels, series):
    """SVG text for ``series`` ([{'name', 'sizes': [int or None per label]}]); '' when
    there is nothing to draw."""
    values = [size for s in series for size in s['sizes'] if size is not None]
    if not values or len(labels) < 2:
        return ''
    top_value = max(values) * 1.1 or 1
    height = TOP + PLOT_HEIGHT + BOTTOM + LEGEND_LINE * len(series)
    plot_width = WIDTH - LEFT - RIGHT
    step = plot_width / float(max(len(labels) - 1, 1))

    def x(position):
        return LEFT + position * step

    def y(size):
        return TOP + PLOT_HEIGHT - (size / top_value) * PLOT_HEIGHT

    parts = ['<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="%d" height="%d" '
             'viewBox="0 0 %d %d" aria-label="Backup sizes per run">' % (WIDTH, height, WIDTH, height),
             '<title>Backup sizes per run</title>']
    for fraction in (0, 0.5, 1):
        level = TOP + PLOT_HEIGHT - fraction * PLOT_HEIGHT
        parts.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (LEFT, level, WIDTH - RIGHT, level))
        parts.append('<text x="%d" y="%.1f" font-size="11" text-anchor="end" fill="#555">%s</text>'
                     % (LEFT - 6, level + 4, escape(human_bytes(int(top_value * fraction)))))
    for position, label in ((0, labels[0]), (len(labels) - 1, labels[-1])):
        anchor = 'start' if position == 0 else 'end'
        parts.append('<text x="%.1f" y="%d" font-size="11" text-anchor="%s" fill="#555">%s</text>'
                     % (x(position), TOP + PLOT_HEIGHT + 18, anchor, escape(label)))
    for index, entry in enumerate(series):
        colour = COLOURS[index % len(COLOURS)]
        points = [(x(p), y(size), p, size) for p, size in enumerate(entry['sizes']) if size is not None]
        if len(points) > 1:
            parts.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>'
                         % (colour, ' '.join('%.1f,%.1f' % (px, py) for px, py, _p, _s in points)))
        for px, py, position, size in points:
            parts.append('<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s, %s: %s</title></circle>'
                         % (px, py, colour, escape(entry['name']), escape(labels[position]), escape(human_bytes(size))))
        legend_y = TOP + PLOT_HEIGHT + BOTTOM + LEGEND_LINE * index + 10
        parts.append('<rect x="%d" y="%d" width="12" height="12" fill="%s"/>' % (LEFT, legend_y - 10, colour))
        parts.append('<text x="%d" y="%d" font-size="12" fill="#222">%s</text>'
                     % (LEFT + 18, legend_y, escape(entry['name'])))
    parts.append('</svg>')
    return '\n'.join(parts)

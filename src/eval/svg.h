/* Small SVG charts for the evaluation report and `itracr report`: grouped bar charts and
 * line charts, written as self-contained <svg> elements (no scripts, no external resources;
 * styling by presentation attributes, so a chart looks the same alone or inside HTML).
 * All text is escaped. NaN values are gaps (no bar, a break in a line). */
#ifndef ITRACR_EVAL_SVG_H
#define ITRACR_EVAL_SVG_H
#include <stdbool.h>

#include "util/strbuf.h"

/* Appends s with & < > " ' escaped (valid in XML/HTML text and quoted attributes). Control
 * bytes other than tab and newline become spaces: XML forbids them. */
void svg_escape(StrBuf *b, const char *s);

typedef struct SvgSeries {
    const char *name;
    const double *x, *y; /* [n] */
    int n;
    const char *color; /* "#1f77b4"; NULL: the palette */
} SvgSeries;

typedef struct SvgChart {
    const char *title, *xlabel, *ylabel;
    double x, y; /* position inside a parent <svg> (0, 0 when standalone) */
    int width, height;
    bool log_y;        /* line charts: log scale (falls back to linear if a value <= 0) */
    double ymin, ymax; /* NaN: from the data */
    bool percent;      /* y tick labels as percentages (values are fractions) */
    bool standalone;   /* adds the xmlns attribute: a file of its own */
} SvgChart;

/* A chart with defaults: 480x280, auto range, linear. */
void svg_chart_init(SvgChart *c, const char *title);

/* Line chart of n_series series; each series is drawn as a <path class="curve">. */
void svg_line_chart(StrBuf *b, const SvgChart *c, const SvgSeries *s, int n_series);

/* Grouped bar chart: values [n_series, n_cat]; bars are <rect class="bar"> with a <title>
 * tooltip. colors may be NULL (the palette). */
void svg_bar_chart(StrBuf *b, const SvgChart *c, const char *const *cats, int n_cat,
                   const char *const *series_names, const char *const *colors, const double *values,
                   int n_series);

/* The palette colour i (cycled). */
const char *svg_color(int i);

#endif

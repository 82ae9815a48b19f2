/* SVG bar and line charts. */
#include "eval/svg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const k_palette[] = {"#2563eb", "#f59e0b", "#10b981", "#ef4444",
                                        "#8b5cf6", "#64748b", "#ec4899", "#14b8a6"};

const char *svg_color(int i) {
    int n = (int)(sizeof k_palette / sizeof k_palette[0]);
    return k_palette[((i % n) + n) % n];
}

void svg_escape(StrBuf *b, const char *s) {
    if (!s) return;
    const char *run = s;
    for (; *s; s++) {
        const char *rep = NULL;
        unsigned char ch = (unsigned char)*s;
        switch (ch) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default:
            if (ch < 0x20 && ch != '\n' && ch != '\t') rep = " ";
        }
        if (rep) {
            sb_appendn(b, run, (size_t)(s - run));
            sb_append(b, rep);
            run = s + 1;
        }
    }
    sb_appendn(b, run, (size_t)(s - run));
}

void svg_chart_init(SvgChart *c, const char *title) {
    memset(c, 0, sizeof *c);
    c->title = title;
    c->width = 480;
    c->height = 280;
    c->ymin = NAN;
    c->ymax = NAN;
}

/* ---- layout ---------------------------------------------------------------------------- */

typedef struct Frame {
    double left, top, w, h; /* plot area */
    double lo, hi;          /* y range (log10 values when log) */
    bool log;
} Frame;

static void open_svg(StrBuf *b, const SvgChart *c) {
    sb_printf(b,
              "<svg %sx=\"%g\" y=\"%g\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
              "font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\" role=\"img\">",
              c->standalone ? "xmlns=\"http://www.w3.org/2000/svg\" " : "", c->x, c->y, c->width,
              c->height, c->width, c->height);
    sb_printf(b, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>", c->width, c->height);
    if (c->title) {
        sb_printf(b,
                  "<text x=\"%g\" y=\"18\" text-anchor=\"middle\" font-size=\"13\" "
                  "font-weight=\"bold\" fill=\"#111827\">",
                  c->width / 2.0);
        svg_escape(b, c->title);
        sb_append(b, "</text>");
    }
}

static double nice_step(double range, int target) {
    double raw = range / target;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

static double frame_y(const Frame *f, double v) {
    double t = f->log ? log10(v) : v;
    return f->top + f->h - (t - f->lo) / (f->hi - f->lo) * f->h;
}

static void fmt_tick(char *buf, size_t cap, double v, bool percent) {
    if (percent) snprintf(buf, cap, "%g%%", round(v * 1000) / 10);
    else if (v != 0 && (fabs(v) >= 1e5 || fabs(v) < 1e-3)) snprintf(buf, cap, "%.0e", v);
    else snprintf(buf, cap, "%g", v);
}

/* Horizontal grid lines with labels at nice values of the y range. */
static void y_axis(StrBuf *b, const Frame *f, const SvgChart *c) {
    char lab[32];
    if (f->log) {
        /* 1-2-5 ticks when the range spans few decades, powers of ten otherwise */
        static const double mult[3] = {1, 2, 5};
        int per = f->hi - f->lo <= 2.5 ? 3 : 1;
        for (int e = (int)floor(f->lo); e <= (int)ceil(f->hi); e++)
            for (int k = 0; k < per; k++) {
                double v = mult[k] * pow(10, e), t = log10(v);
                if (t < f->lo - 1e-9 || t > f->hi + 1e-9) continue;
                double y = frame_y(f, v);
                fmt_tick(lab, sizeof lab, v, false);
                sb_printf(
                    b,
                    "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e7eb\"/>"
                    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#6b7280\">%s</text>",
                    f->left, f->left + f->w, y, y, f->left - 4, y + 3.5, lab);
            }
    } else {
        double step = nice_step(f->hi - f->lo, 5);
        for (double v = ceil(f->lo / step - 1e-9) * step; v <= f->hi + step * 1e-6; v += step) {
            double y = frame_y(f, v);
            fmt_tick(lab, sizeof lab, fabs(v) < step * 1e-9 ? 0 : v, c->percent);
            sb_printf(b,
                      "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e7eb\"/>"
                      "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#6b7280\">%s</text>",
                      f->left, f->left + f->w, y, y, f->left - 4, y + 3.5, lab);
        }
    }
    sb_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#9ca3af\"/>",
              f->left, f->left + f->w, f->top + f->h, f->top + f->h);
    if (c->ylabel) {
        sb_printf(b,
                  "<text transform=\"translate(12 %.1f) rotate(-90)\" text-anchor=\"middle\" "
                  "fill=\"#374151\">",
                  f->top + f->h / 2);
        svg_escape(b, c->ylabel);
        sb_append(b, "</text>");
    }
    if (c->xlabel) {
        sb_printf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"#374151\">",
                  f->left + f->w / 2, c->height - 4);
        svg_escape(b, c->xlabel);
        sb_append(b, "</text>");
    }
}

static void legend(StrBuf *b, const SvgChart *c, const char *const *names,
                   const char *const *colors, int n) {
    if (n < 2) return;
    double x = 56, y = 32;
    for (int i = 0; i < n; i++) {
        const char *name = names[i] ? names[i] : "";
        double w = 22 + 6.2 * (double)strlen(name);
        if (x + w > c->width - 8 && x > 56) {
            x = 56;
            y += 14;
        }
        sb_printf(b,
                  "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%s\"/>"
                  "<text x=\"%.1f\" y=\"%.1f\" fill=\"#374151\">",
                  x, y - 8, colors[i], x + 14, y + 1);
        svg_escape(b, name);
        sb_append(b, "</text>");
        x += w;
    }
}

static void range_of(const double *v, int n, double *lo, double *hi) {
    for (int i = 0; i < n; i++) {
        if (!isfinite(v[i])) continue;
        if (v[i] < *lo) *lo = v[i];
        if (v[i] > *hi) *hi = v[i];
    }
}

/* ---- line chart ------------------------------------------------------------------------ */

void svg_line_chart(StrBuf *b, const SvgChart *c, const SvgSeries *s, int n_series) {
    open_svg(b, c);
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    bool positive = true;
    for (int k = 0; k < n_series; k++) {
        for (int i = 0; i < s[k].n; i++) {
            if (!isfinite(s[k].x[i]) || !isfinite(s[k].y[i])) continue;
            if (s[k].x[i] < xlo) xlo = s[k].x[i];
            if (s[k].x[i] > xhi) xhi = s[k].x[i];
            if (s[k].y[i] <= 0) positive = false;
        }
        range_of(s[k].y, s[k].n, &ylo, &yhi);
    }
    const char *names[16], *colors[16];
    int nl = n_series < 16 ? n_series : 16;
    for (int k = 0; k < nl; k++) {
        names[k] = s[k].name;
        colors[k] = s[k].color ? s[k].color : svg_color(k);
    }
    int legend_rows = n_series > 1 ? 1 : 0;
    Frame f = {56, 30 + 14.0 * legend_rows, c->width - 56 - 16, 0, 0, 1, false};
    f.h = c->height - f.top - 34;
    if (!isfinite(xlo)) { /* nothing to draw */
        sb_printf(
            b,
            "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\" fill=\"#6b7280\">no data</text></svg>",
            c->width / 2.0, c->height / 2.0);
        return;
    }
    if (!isnan(c->ymin)) ylo = c->ymin;
    if (!isnan(c->ymax)) yhi = c->ymax;
    f.log = c->log_y && positive && ylo > 0;
    if (f.log) {
        f.lo = floor(log10(ylo) * 4) / 4;
        f.hi = ceil(log10(yhi) * 4) / 4;
        if (f.hi - f.lo < 0.5) f.hi = f.lo + 0.5;
    } else {
        if (yhi - ylo < 1e-12) {
            yhi += 0.5;
            ylo -= 0.5;
        }
        double step = nice_step(yhi - ylo, 5);
        f.lo = floor(ylo / step) * step;
        f.hi = ceil(yhi / step) * step;
        if (!isnan(c->ymin)) f.lo = c->ymin;
        if (!isnan(c->ymax)) f.hi = c->ymax;
    }
    if (xhi - xlo < 1e-12) xhi = xlo + 1;
    y_axis(b, &f, c);
    /* x ticks */
    double xs = nice_step(xhi - xlo, 5);
    for (double v = ceil(xlo / xs) * xs; v <= xhi + xs * 1e-6; v += xs) {
        double px = f.left + (v - xlo) / (xhi - xlo) * f.w;
        char lab[32];
        fmt_tick(lab, sizeof lab, v, false);
        sb_printf(b,
                  "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#9ca3af\"/>"
                  "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#6b7280\">%s</text>",
                  px, px, f.top + f.h, f.top + f.h + 4, px, f.top + f.h + 15, lab);
    }
    legend(b, c, names, colors, nl);
    for (int k = 0; k < n_series; k++) {
        const char *col = s[k].color ? s[k].color : svg_color(k);
        sb_printf(b,
                  "<path class=\"curve\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" "
                  "stroke-linejoin=\"round\" d=\"",
                  col);
        bool pen = false;
        int drawn = 0;
        double lastx = 0, lasty = 0;
        for (int i = 0; i < s[k].n; i++) {
            double xv = s[k].x[i], yv = s[k].y[i];
            if (!isfinite(xv) || !isfinite(yv) || (f.log && yv <= 0)) {
                pen = false;
                continue;
            }
            double px = f.left + (xv - xlo) / (xhi - xlo) * f.w;
            double py = frame_y(&f, yv);
            if (py < f.top) py = f.top; /* clipped to a fixed range */
            if (py > f.top + f.h) py = f.top + f.h;
            sb_printf(b, "%c%.1f %.1f ", pen ? 'L' : 'M', px, py);
            pen = true;
            drawn++;
            lastx = px;
            lasty = py;
        }
        sb_append(b, "\">");
        sb_append(b, "<title>");
        svg_escape(b, s[k].name);
        sb_append(b, "</title></path>");
        if (drawn == 1) /* a single point has no line: mark it */
            sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>", lastx, lasty,
                      col);
    }
    sb_append(b, "</svg>");
}

/* ---- bar chart ------------------------------------------------------------------------- */

void svg_bar_chart(StrBuf *b, const SvgChart *c, const char *const *cats, int n_cat,
                   const char *const *series_names, const char *const *colors, const double *values,
                   int n_series) {
    open_svg(b, c);
    double lo = 0, hi = -INFINITY;
    range_of(values, n_cat * n_series, &lo, &hi);
    if (!isfinite(hi) || hi <= 0) hi = 1;
    if (!isnan(c->ymax)) hi = c->ymax;
    if (!isnan(c->ymin)) lo = c->ymin;
    const char *cols[16];
    int ns = n_series < 16 ? n_series : 16;
    for (int k = 0; k < ns; k++) cols[k] = colors && colors[k] ? colors[k] : svg_color(k);
    int legend_rows = n_series > 1 ? 1 : 0;
    /* long category names are rotated */
    size_t maxlab = 0;
    for (int i = 0; i < n_cat; i++)
        if (cats[i] && strlen(cats[i]) > maxlab) maxlab = strlen(cats[i]);
    double slot_guess = (c->width - 72.0) / (n_cat > 0 ? n_cat : 1);
    bool rotate = (double)maxlab * 6.2 > slot_guess;
    double bottom = rotate ? 14 + 5.5 * (double)(maxlab < 18 ? maxlab : 18) : 34;
    Frame f = {56, 30 + 14.0 * legend_rows, c->width - 56 - 16, 0, 0, 1, false};
    f.h = c->height - f.top - bottom;
    if (!c->percent) {
        double step = nice_step(hi - lo, 5);
        hi = ceil(hi / step) * step;
    }
    f.lo = lo;
    f.hi = hi > lo ? hi : lo + 1;
    y_axis(b, &f, c);
    legend(b, c, series_names, cols, ns);
    if (n_cat <= 0 || n_series <= 0) {
        sb_append(b, "</svg>");
        return;
    }
    double slot = f.w / n_cat;
    double bw = slot * 0.8 / n_series;
    for (int i = 0; i < n_cat; i++) {
        double sx = f.left + slot * i + slot * 0.1;
        for (int k = 0; k < n_series; k++) {
            double v = values[(size_t)k * (size_t)n_cat + (size_t)i];
            if (!isfinite(v)) continue;
            double vv = v < f.lo ? f.lo : v > f.hi ? f.hi : v;
            double y0 = frame_y(&f, f.lo > 0 ? f.lo : 0), y1 = frame_y(&f, vv);
            double top = y1 < y0 ? y1 : y0, h = fabs(y0 - y1);
            sb_printf(b,
                      "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                      "fill=\"%s\"><title>",
                      sx + bw * k, top, bw > 1.5 ? bw - 1 : bw, h, cols[k % 16]);
            svg_escape(b, cats[i]);
            if (series_names && series_names[k]) {
                sb_append(b, " / ");
                svg_escape(b, series_names[k]);
            }
            char lab[32];
            fmt_tick(lab, sizeof lab, v, false);
            if (c->percent) snprintf(lab, sizeof lab, "%.1f%%", v * 100);
            sb_printf(b, ": %s</title></rect>", lab);
            if (n_series * n_cat <= 24 && bw >= 14) {
                if (c->percent) snprintf(lab, sizeof lab, "%.0f", v * 100);
                sb_printf(b,
                          "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"9\" "
                          "fill=\"#374151\">%s</text>",
                          sx + bw * k + bw / 2, top - 2, lab);
            }
        }
        double cx = f.left + slot * i + slot / 2, cy = f.top + f.h + 13;
        if (rotate)
            sb_printf(b,
                      "<text transform=\"translate(%.1f %.1f) rotate(-45)\" text-anchor=\"end\" "
                      "fill=\"#374151\">",
                      cx + 3, cy - 4);
        else
            sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#374151\">", cx,
                      cy);
        svg_escape(b, cats[i]);
        sb_append(b, "</text>");
    }
    sb_append(b, "</svg>");
}

/* Training curves from the training log as SVG. */
#include <math.h>
#include <stdlib.h>

#include "eval/report.h"
#include "eval/svg.h"

/* x/y of the records that have field f: the NaN rows stay in (gaps), which is what the
 * line chart breaks on; validation fields are sparse, so they are compacted instead. */
static int compact(const TrainLog *log, int f, double *xs, double *ys) {
    int n = 0;
    for (int i = 0; i < log->n; i++)
        if (isfinite(log->field[f][i])) {
            xs[n] = log->step[i];
            ys[n] = log->field[f][i];
            n++;
        }
    return n;
}

void report_curves_svg(StrBuf *b, const TrainLog *log, double x, double y, bool standalone) {
    int W = REPORT_CURVES_W, H = REPORT_CURVES_H;
    sb_printf(
        b,
        "<svg %sx=\"%g\" y=\"%g\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" class=\"curves\">",
        standalone ? "xmlns=\"http://www.w3.org/2000/svg\" " : "", x, y, W, H, W, H);
    int n = log ? log->n : 0;
    double *xs[TL_N_FIELDS], *ys[TL_N_FIELDS];
    int cnt[TL_N_FIELDS];
    for (int f = 0; f < TL_N_FIELDS; f++) {
        xs[f] = malloc(sizeof(double) * (size_t)(n ? n : 1));
        ys[f] = malloc(sizeof(double) * (size_t)(n ? n : 1));
        if (!xs[f] || !ys[f]) abort();
        cnt[f] = n ? compact(log, f, xs[f], ys[f]) : 0;
    }
    int w3 = W / 3;
    SvgChart c;
    svg_chart_init(&c, "training loss");
    c.xlabel = "step";
    c.ylabel = "loss";
    c.log_y = true;
    c.width = w3;
    c.height = H;
    SvgSeries loss = {"loss", xs[TL_LOSS], ys[TL_LOSS], cnt[TL_LOSS], "#2563eb"};
    svg_line_chart(b, &c, &loss, 1);

    svg_chart_init(&c, "validation");
    c.xlabel = "step";
    c.ylabel = "accuracy";
    c.percent = true;
    c.ymin = 0;
    c.ymax = 1;
    c.x = w3;
    c.width = w3;
    c.height = H;
    SvgSeries val[2] = {
        {"token accuracy", xs[TL_VAL_TOKEN_ACC], ys[TL_VAL_TOKEN_ACC], cnt[TL_VAL_TOKEN_ACC],
         "#10b981"},
        {"exact match", xs[TL_VAL_EXACT], ys[TL_VAL_EXACT], cnt[TL_VAL_EXACT], "#f59e0b"}};
    svg_line_chart(b, &c, val, 2);

    svg_chart_init(&c, "learning rate");
    c.xlabel = "step";
    c.ylabel = "lr";
    c.x = 2 * w3;
    c.width = W - 2 * w3;
    c.height = H;
    SvgSeries lr = {"lr", xs[TL_LR], ys[TL_LR], cnt[TL_LR], "#8b5cf6"};
    svg_line_chart(b, &c, &lr, 1);
    sb_append(b, "</svg>");
    for (int f = 0; f < TL_N_FIELDS; f++) {
        free(xs[f]);
        free(ys[f]);
    }
}

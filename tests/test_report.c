/* The HTML report, the SVG charts and the training-log reader.
 *
 * `test_report --emit-html PATH` writes the synthetic report used here to PATH and exits:
 * tests/cli/report_browser.sh opens that page in headless Chromium. */
#include <math.h>

#include "eval/equiv.h"
#include "eval/report.h"
#include "eval/svg.h"
#include "eval/train_log.h"
#include "eval_tables.h"
#include "gen/sampler.h"
#include "rasp/rasp.h"
#include "test.h"

#define T_SIZE (PT_ROWS * PT_COLS)
#define N_SYN 48

static const char *EVIL = "<script>alert('x')</script> & \"q\"";
static const char *LONG_JSON =
    "{\"lr\":0.00050000000000000001,\"lr_min\":5.0000000000000002e-05,\"seed\":18446744073709551615,"
    "\"note\":\"strings stay as written\",\"w\":[0.10000000000000001,2,-1e-07]}";
static const char *LONG_PATH =
    "/data/runs/a-rather-long-experiment-name-without-any-spaces/and/a/deep/folder/structure/"
    "that/goes/on/and/on/well/past/the/width/of/the/page/checkpoint-000000008900.safetensors";

/* A tag-balance check: every element opened is closed in order, except void elements and
 * self-closed ones. Text must not contain a raw '<' that starts something else than a tag,
 * which also catches unescaped content. Returns the number of problems (first one in why). */
static int html_balance(const char *s, char *why, size_t cap) {
    static const char *const voids[] = {"meta", "br", "hr", "img", "input", "link", NULL};
    char stack[256][16];
    int depth = 0, problems = 0;
    why[0] = 0;
    for (const char *p = s; (p = strchr(p, '<')) != NULL;) {
        if (p[1] == '!') { /* doctype */
            p = strchr(p, '>');
            if (!p) break;
            continue;
        }
        if (p[1] == '?') { /* xml declaration */
            p = strstr(p, "?>");
            if (!p) break;
            continue;
        }
        bool closing = p[1] == '/';
        const char *n = p + 1 + closing;
        size_t len = 0;
        while ((n[len] >= 'a' && n[len] <= 'z') || (n[len] >= '0' && n[len] <= '9') ||
               (n[len] >= 'A' && n[len] <= 'Z'))
            len++;
        if (!len || len >= 16) {
            if (!problems++) snprintf(why, cap, "stray '<' at offset %ld", (long)(p - s));
            p++;
            continue;
        }
        char name[16];
        memcpy(name, n, len);
        name[len] = 0;
        const char *end = strchr(n, '>');
        if (!end) {
            if (!problems++) snprintf(why, cap, "unterminated tag %s", name);
            break;
        }
        bool self = end[-1] == '/';
        bool isvoid = false;
        for (int i = 0; voids[i]; i++) isvoid |= strcmp(voids[i], name) == 0;
        if (closing) {
            if (depth == 0 || strcmp(stack[depth - 1], name) != 0) {
                if (!problems++)
                    snprintf(why, cap, "</%s> closes <%s> at offset %ld", name,
                             depth ? stack[depth - 1] : "(nothing)", (long)(p - s));
            } else {
                depth--;
            }
        } else if (!self && !isvoid) {
            if (depth == 256) return problems + 1;
            snprintf(stack[depth++], 16, "%s", name);
        }
        p = end + 1;
    }
    if (depth) {
        if (!problems++) snprintf(why, cap, "<%s> never closed", stack[depth - 1]);
    }
    return problems;
}

static int count_of(const char *s, const char *needle) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

/* One cell of t changed to another valid id of its column. */
static void mutate(const int16_t *t, int16_t *p, uint64_t *st) {
    memcpy(p, t, sizeof(int16_t) * T_SIZE);
    int len = eval_table_len(t);
    int row = 1 + (int)(rng_splitmix64(st) % (uint64_t)len);
    int col = (int)(rng_splitmix64(st) % PT_COLS);
    int v = pt_vocab_size(col);
    int16_t id = (int16_t)(3 + rng_splitmix64(st) % (uint64_t)(v - 4));
    p[row * PT_COLS + col] = id >= t[row * PT_COLS + col] ? (int16_t)(id + 1) : id;
}

/* A realistic report from generated programs, near-miss predictions and a synthetic log. */
typedef struct Syn {
    EvalMetrics dec, tf, noise;
    int16_t truth[N_SYN][T_SIZE], pred[N_SYN][T_SIZE];
    EquivResult res[N_SYN];
    ReportExample ex[10];
    int n_ex;
    TrainLog log;
    ReportClassic classics[4];
    ReportKV kv[8];
    ReportInput in;
} Syn;

static int build_syn(Syn *s) {
    memset(s, 0, sizeof *s);
    if (eval_metrics_init(&s->dec) || eval_metrics_init(&s->tf) || eval_metrics_init(&s->noise))
        return 1;
    GenConfig c;
    gen_config_default(&c);
    c.max_seq_len = 4;
    char err[512];
    GenSampler *g = gen_sampler_new(&c, err, sizeof err);
    if (!g) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    Value vocab[GEN_MAX_VOCAB];
    for (int i = 0; i < c.n_vocab; i++) vocab[i] = val_int(c.vocab[i]);
    uint64_t st = 3;
    int n_ok = 0, n_bad = 0;
    for (int k = 0; k < N_SYN; k++) {
        GenSample a;
        if (gen_sample(g, gen_sample_seed(11, (uint64_t)k), &a)) return 1;
        memcpy(s->truth[k], a.tokens, sizeof s->truth[k]);
        if (k % 3 == 0) memcpy(s->pred[k], a.tokens, sizeof s->pred[k]);
        else mutate(a.tokens, s->pred[k], &st);
        if (equiv_check_pair(s->truth[k], s->pred[k], vocab, c.n_vocab, c.max_seq_len, NULL, NULL,
                             &s->res[k], err, sizeof err))
            return 1;
        eval_metrics_add(&s->dec, s->truth[k], s->pred[k], s->res[k].status);
        eval_metrics_add(&s->tf, s->truth[k], k % 2 ? s->truth[k] : s->pred[k],
                         k % 2 ? EVAL_FN_EQUIVALENT : s->res[k].status);
        int16_t junk[T_SIZE];
        tab_build(junk, "Map cat add1 tokens - v1");
        eval_metrics_add(&s->noise, s->truth[k], junk, EVAL_FN_DIFFERENT);
        bool ok = s->res[k].exact || s->res[k].status == EVAL_FN_EQUIVALENT;
        if ((ok && n_ok < 3) || (!ok && n_bad < 5)) {
            ReportExample *e = &s->ex[s->n_ex++];
            static char titles[10][32];
            snprintf(titles[s->n_ex - 1], sizeof titles[0], "test sample %d", k);
            e->title = titles[s->n_ex - 1];
            e->true_tokens = s->truth[k];
            e->pred_tokens = s->pred[k];
            e->func = s->res[k].status;
            e->detail = s->res[k].detail;
            n_ok += ok;
            n_bad += !ok;
        }
    }
    gen_sampler_free(g);
    /* an example whose title needs escaping */
    s->ex[0].title = EVIL;
    static const char LOG[] =
        "{\"step\": 0, \"loss\": 4.1, \"lr\": 0.0}\n"
        "{\"step\": 100, \"loss\": 2.0, \"lr\": 0.0003}\n"
        "{\"step\": 200, \"loss\": 1.1, \"lr\": 0.0006, \"val_token_acc\": 0.62, \"val_exact\": 0.05}\n"
        "not json at all\n"
        "{\"step\": 300, \"loss\": 0.7, \"lr\": 0.0006}\n"
        "{\"step\": 400, \"loss\": 0.45, \"lr\": 0.00055, \"val_token_acc\": 0.81, \"val_exact\": 0.22}\n"
        "{\"step\": 500, \"loss\": 0.3, \"lr\": 0.0005}\n"
        "{\"step\": 600, \"loss\": 0.21, \"lr\": 0.00045, \"val_token_acc\": 0.9, \"val_exact\": 0.41}\n";
    if (train_log_parse(LOG, sizeof LOG - 1, &s->log, err, sizeof err)) return 1;
    s->classics[0] = (ReportClassic){"hist", true, EVAL_FN_EQUIVALENT, NULL,
                                     "v1 = SelectorWidth(Select(tokens, tokens, EQ))"};
    s->classics[1] = (ReportClassic){"length", false, EVAL_FN_EQUIVALENT,
                                     "different table, same outputs on 3905 inputs", NULL};
    s->classics[2] = (ReportClassic){"sort", false, EVAL_FN_DIFFERENT,
                                     "input [1] position 0: true 1, predicted 2", NULL};
    s->classics[3] = (ReportClassic){EVIL, false, EVAL_FN_NO_DECODE,
                                     "row 2: v7 used before it is defined", NULL};
    s->kv[0] = (ReportKV){"dataset", "data/test (48 programs)"};
    s->kv[1] = (ReportKV){"vocab", "{0, 1, 2, 3, 4}"};
    s->kv[2] = (ReportKV){"max_seq_len", "4"};
    s->kv[3] = (ReportKV){"meta-model", "6 layers, d_model 256"};
    s->kv[4] = (ReportKV){"decoding", "beam 4"};
    s->kv[5] = (ReportKV){"note", EVIL};
    /* JSON written with %.17g (an older training config), and a long unbreakable path */
    s->kv[6] = (ReportKV){"training config", LONG_JSON};
    s->kv[7] = (ReportKV){"dataset path", LONG_PATH};
    s->in.title = "itracr evaluation (synthetic)";
    s->in.decoded = &s->dec;
    s->in.teacher = &s->tf;
    s->in.noise = &s->noise;
    s->in.examples = s->ex;
    s->in.n_examples = s->n_ex;
    s->in.log = &s->log;
    s->in.settings = s->kv;
    s->in.n_settings = 8;
    s->in.classics = s->classics;
    s->in.n_classics = 4;
    return 0;
}

static void free_syn(Syn *s) {
    eval_metrics_free(&s->dec);
    eval_metrics_free(&s->tf);
    eval_metrics_free(&s->noise);
    train_log_free(&s->log);
}

static void test_html_report(void) {
    static Syn s;
    CHECK(build_syn(&s) == 0);
    StrBuf b;
    sb_init(&b);
    report_html(&b, &s.in);
    const char *h = b.s;
    char why[256];
    int problems = html_balance(h, why, sizeof why);
    CHECK_MSG(problems == 0, "%d problems, first: %s", problems, why);
    CHECK(strncmp(h, "<!DOCTYPE html>", 15) == 0);
    /* self-contained: no scripts, no links, nothing fetched */
    CHECK(strstr(h, "<script") == NULL);
    CHECK(strstr(h, "http://") == NULL && strstr(h, "https://") == NULL);
    CHECK(strstr(h, "<link") == NULL && strstr(h, "src=") == NULL);
    /* settings: JSON floats in their shortest form, integers and strings as written */
    CHECK(strstr(h, "{&quot;lr&quot;:0.0005,&quot;lr_min&quot;:5e-05,&quot;seed&quot;:"
                    "18446744073709551615,&quot;note&quot;:&quot;strings stay as written&quot;,"
                    "&quot;w&quot;:[0.1,2,-1e-07]}") != NULL);
    CHECK(strstr(h, "0.00050000000000000001") == NULL);
    CHECK(strstr(h, LONG_PATH) != NULL);
    /* the settings table cannot widen the page: fixed layout, values wrap anywhere */
    CHECK(strstr(h, "#settings-table{table-layout:fixed;width:100%}") != NULL);
    CHECK(strstr(h, "overflow-wrap:anywhere") != NULL);
    /* the evil strings arrive escaped */
    CHECK(count_of(h, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;") == 3);
    /* sections */
    const char *ids[] = {"headline",   "breakdowns", "curves",  "examples",
                         "confusions", "classics",   "settings"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "<section id=\"%s\">", ids[i]);
        CHECK_MSG(strstr(h, want) != NULL, "%s", want);
    }
    /* headline numbers as computed */
    char want[64];
    snprintf(want, sizeof want, "<div class=\"big\">%.1f%%</div>", 100 * eval_exact_rate(&s.dec));
    CHECK_MSG(strstr(h, want) != NULL, "%s", want);
    snprintf(want, sizeof want, "<div class=\"big\">%.1f%%</div>", 100 * eval_equiv_rate(&s.dec));
    CHECK_MSG(strstr(h, want) != NULL, "%s", want);
    /* one true and one predicted table per example; wrong cells highlighted */
    CHECK(count_of(h, "<table class=\"prog\">") == 2 * s.n_ex);
    int wrong = 0;
    for (int i = 0; i < s.n_ex; i++) {
        EvalPair pr;
        eval_compare(s.ex[i].true_tokens, s.ex[i].pred_tokens, &pr);
        wrong += pr.tok_total - pr.tok_correct;
    }
    CHECK(wrong > 0);
    CHECK(count_of(h, "class=\"bad\"") == wrong);
    CHECK(count_of(h, "class=\"miss\"") == wrong);
    CHECK(count_of(h, "<pre class=\"rasp\">") >= 2 * s.n_ex);
    /* charts: 4 breakdown charts + 3 curve charts inside the curves svg */
    CHECK(count_of(h, "<svg ") == 4 + 1 + 3);
    CHECK(count_of(h, "class=\"bar\"") > 10);
    CHECK(count_of(h, "class=\"curve\"") == 4);
    /* classic verdicts */
    CHECK(strstr(h, "<p>1 exact, 1 equivalent, 2 wrong of 4</p>") != NULL);
    CHECK(count_of(h, "<span class=\"badge b-wrong\">wrong</span>") >= 2);
    CHECK(strstr(h, "verified-table") == NULL); /* no search, no verified table */
    sb_free(&b);

    /* with a search: top-1 and verified@K side by side, noise beside them */
    s.in.verified = &s.tf;
    s.in.noise_verified = &s.noise;
    s.in.verified_label = "verified@8";
    s.in.verified_note = "note <8>";
    sb_init(&b);
    report_html(&b, &s.in);
    h = b.s;
    CHECK(html_balance(h, why, sizeof why) == 0);
    const char *t = strstr(h, "<table id=\"verified-table\">");
    CHECK(t != NULL && strstr(h, "<h3 id=\"verified\">Top-1 and verified@8</h3>") != NULL);
    CHECK(strstr(h, "note &lt;8&gt;") != NULL);
    if (t) {
        /* the exact row: top-1, verified, noise top-1, noise verified, in that order */
        char row[256];
        snprintf(
            row, sizeof row,
            "<tr><th>exact program match</th><td class=\"num\">%.1f%%</td><td class=\"num\">%.1f%%</td>"
            "<td class=\"num\">%.1f%%</td><td class=\"num\">%.1f%%</td></tr>",
            100 * eval_exact_rate(&s.dec), 100 * eval_exact_rate(&s.tf),
            100 * eval_exact_rate(&s.noise), 100 * eval_exact_rate(&s.noise));
        CHECK_MSG(strstr(t, row) != NULL, "%s", row);
    }
    sb_free(&b);
    free_syn(&s);
}

static void test_html_minimal(void) {
    /* nothing but the decoded metrics of zero programs: still a valid page */
    EvalMetrics m;
    CHECK(eval_metrics_init(&m) == 0);
    ReportInput in = {0};
    in.decoded = &m;
    StrBuf b;
    sb_init(&b);
    report_html(&b, &in);
    char why[256];
    CHECK_MSG(html_balance(b.s, why, sizeof why) == 0, "%s", why);
    CHECK(strstr(b.s, "no training log given") != NULL);
    CHECK(strstr(b.s, "&ndash;") != NULL); /* rates of nothing are shown as a dash */
    CHECK(strstr(b.s, "nan") == NULL);
    sb_free(&b);
    eval_metrics_free(&m);
}

static void test_svg_escape(void) {
    StrBuf b;
    sb_init(&b);
    svg_escape(&b, "a<b & 'c' \"d\">\x01");
    CHECK_STR(b.s, "a&lt;b &amp; &#39;c&#39; &quot;d&quot;&gt; ");
    sb_free(&b);
}

static void test_train_log(void) {
    static const char text[] =
        "{\"step\": 1, \"loss\": 3.5, \"lr\": 0.001}\n"
        "\n"
        "{\"step\": 2, \"loss\": \"high\"}\n"     /* bad: a string */
        "{\"loss\": 1}\n"                         /* bad: no step */
        "{\"step\": 3, \"loss\": 2.5} trailing\n" /* bad: trailing text */
        "[1, 2]\n"                                /* bad: not an object */
        "{\"step\": 4, \"val_token_acc\": 0.5, \"val_exact\": null}\r\n"
        "{\"step\": 5, \"loss\": 1.5, \"extra\": [1]}"; /* no final newline */
    TrainLog log;
    char err[256];
    CHECK(train_log_parse(text, sizeof text - 1, &log, err, sizeof err) == 0);
    CHECK(log.n == 3);
    CHECK(log.n_bad == 4 && log.first_bad_line == 3);
    CHECK(log.step[0] == 1 && log.step[1] == 4 && log.step[2] == 5);
    CHECK(log.field[TL_LOSS][0] == 3.5 && isnan(log.field[TL_LOSS][1]) &&
          log.field[TL_LOSS][2] == 1.5);
    CHECK(log.field[TL_VAL_TOKEN_ACC][1] == 0.5 && isnan(log.field[TL_VAL_EXACT][1]));
    CHECK(isnan(log.field[TL_LR][2]));
    /* curves of that log: a standalone, balanced SVG with the four curves */
    StrBuf b;
    sb_init(&b);
    report_curves_svg(&b, &log, 0, 0, true);
    char why[256];
    CHECK_MSG(html_balance(b.s, why, sizeof why) == 0, "%s", why);
    CHECK(strncmp(b.s, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) == 0);
    CHECK(count_of(b.s, "class=\"curve\"") == 4);
    CHECK(strstr(b.s, "nan") == NULL && strstr(b.s, "inf") == NULL);
    sb_free(&b);
    train_log_free(&log);
    /* nothing valid */
    CHECK(train_log_parse("garbage\n{\"loss\": 1}\n", 20, &log, err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "2 malformed lines, the first is line 1") != NULL, "%s", err);
    CHECK(log.n == 0 && log.step == NULL);
    CHECK(train_log_parse("\n\n", 2, &log, err, sizeof err) != 0);
    CHECK(strstr(err, "empty") != NULL);
    CHECK(train_log_load("tests/fixtures/does-not-exist.jsonl", &log, err, sizeof err) != 0);
    CHECK(strstr(err, "does-not-exist.jsonl") != NULL);
}

static void test_charts(void) {
    /* a bar chart with a NaN value: that bar is left out, the rest drawn */
    const char *cats[3] = {"Map", "Select", "a<b"};
    double vals[3] = {0.5, NAN, 1.0};
    SvgChart c;
    svg_chart_init(&c, "t & t");
    c.percent = true;
    c.ymin = 0;
    c.ymax = 1;
    StrBuf b;
    sb_init(&b);
    svg_bar_chart(&b, &c, cats, 3, NULL, NULL, vals, 1);
    char why[256];
    CHECK_MSG(html_balance(b.s, why, sizeof why) == 0, "%s", why);
    CHECK(count_of(b.s, "class=\"bar\"") == 2);
    CHECK(strstr(b.s, "t &amp; t") && strstr(b.s, "a&lt;b"));
    sb_free(&b);
    /* a line chart of one point, and of nothing */
    double x = 1, y = 2;
    SvgSeries s = {"one", &x, &y, 1, NULL};
    sb_init(&b);
    svg_line_chart(&b, &c, &s, 1);
    CHECK(strstr(b.s, "<circle") != NULL);
    s.n = 0;
    svg_line_chart(&b, &c, &s, 1);
    CHECK(strstr(b.s, "no data") != NULL);
    CHECK_MSG(html_balance(b.s, why, sizeof why) == 0, "%s", why);
    sb_free(&b);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--emit-html") == 0) {
        static Syn s;
        if (build_syn(&s)) {
            fprintf(stderr, "test_report: could not build the synthetic report\n");
            return 1;
        }
        char err[256];
        int rc = report_write_html(argv[2], &s.in, err, sizeof err);
        if (rc) fprintf(stderr, "test_report: %s\n", err);
        free_syn(&s);
        return rc ? 1 : 0;
    }
    RUN(test_svg_escape);
    RUN(test_train_log);
    RUN(test_charts);
    RUN(test_html_minimal);
    RUN(test_html_report);
    TEST_END();
}

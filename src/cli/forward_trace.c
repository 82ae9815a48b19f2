/* forward --trace / --trace-html: the residual stream and attention patterns of one run
 * (compiler/trace.h) as JSON, and as one self-contained HTML page that draws them. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "compiler/trace.h"
#include "io/json_util.h"
#include "util/strbuf.h"

static cJSON *matrix(const double *a, int rows, int cols) {
    cJSON *m = cJSON_CreateArray();
    for (int r = 0; r < rows; r++) {
        cJSON *row = cJSON_CreateArray();
        for (int c = 0; c < cols; c++)
            cJSON_AddItemToArray(row, json_number(a[(size_t)r * cols + c]));
        cJSON_AddItemToArray(m, row);
    }
    return m;
}

static cJSON *value_json(Value v) {
    char buf[256];
    val_str_fmt(v, buf, sizeof buf);
    return cJSON_CreateString(buf);
}

/* The trace as a JSON document (malloc'ed). */
static char *trace_json(const CompiledModel *m, const ModelTrace *tr) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "format", "itracr-trace/1");
    cJSON *toks = cJSON_AddArrayToObject(o, "tokens");
    for (int t = 0; t < tr->T; t++)
        cJSON_AddItemToArray(toks, t == 0 ? cJSON_CreateString("BOS")
                                          : value_json(m->tokens[tr->ids[t]]));
    cJSON_AddItemToObject(o, "residual_labels",
                          cJSON_CreateStringArray(m->residual_labels, m->residual_dim));
    cJSON *st = cJSON_AddArrayToObject(o, "stages");
    for (int s = 0; s < tr->n_stages; s++) {
        char name[64];
        model_trace_stage_name(s, name, sizeof name);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", name);
        cJSON_AddItemToObject(e, "residual",
                              matrix(tr->resid + (size_t)s * tr->T * tr->D, tr->T, tr->D));
        cJSON_AddItemToArray(st, e);
    }
    cJSON *at = cJSON_AddArrayToObject(o, "attention");
    for (int l = 0; l < m->num_layers; l++)
        for (int h = 0; h < tr->H; h++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "layer", l);
            cJSON_AddNumberToObject(e, "head", h);
            const char *node = m->info && m->info[l].head_nodes && h < m->info[l].n_heads
                                   ? m->info[l].head_nodes[h]
                                   : "";
            cJSON_AddStringToObject(e, "node", node);
            cJSON_AddItemToObject(
                e, "pattern",
                matrix(tr->attn + ((size_t)l * tr->H + h) * tr->T * tr->T, tr->T, tr->T));
            cJSON_AddItemToArray(at, e);
        }
    cJSON *out = cJSON_AddObjectToObject(o, "output");
    cJSON_AddStringToObject(out, "name", m->output_name ? m->output_name : "");
    cJSON_AddStringToObject(out, "encoding", m->output_numerical ? "numerical" : "categorical");
    cJSON *dec = cJSON_AddArrayToObject(out, "decoded");
    for (int t = 1; t < tr->T; t++) {
        double raw;
        Value v = model_decode_row(m, tr->out + (size_t)t * m->n_out, &raw);
        cJSON_AddItemToArray(dec, m->output_numerical ? json_number(raw) : value_json(v));
    }
    cJSON_AddItemToObject(out, "logits", matrix(tr->out, tr->T, m->n_out));
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    return s;
}

/* One page, no external resources: the JSON in a script element ("</" escaped so that no
 * string can close it) and a small renderer: a heat map per stage (positions x the residual
 * directions that are non-zero somewhere) and per attention head. */
static const char *k_page_head =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>itracr forward trace</title>\n"
    "<style>body{font:13px sans-serif;margin:1em}table{border-collapse:collapse;margin:.3em 0 1.2em}"
    "td,th{border:1px solid #ddd;padding:2px 4px;text-align:right;font-variant-numeric:tabular-nums}"
    "th{background:#f4f4f4;font-weight:normal}th.v{writing-mode:vertical-rl;transform:rotate(180deg);"
    "text-align:left;max-height:14em}.wrap{overflow-x:auto}h2{font-size:15px;margin:1em 0 .2em}</style>\n"
    "</head><body><h1>itracr forward trace</h1><p id=\"summary\"></p><div id=\"out\"></div>\n"
    "<script id=\"trace\" type=\"application/json\">";
static const char *k_page_tail =
    "</script>\n<script>\n"
    "const T=JSON.parse(document.getElementById('trace').textContent);\n"
    "const out=document.getElementById('out');\n"
    "function cell(v){const a=Math.min(1,Math.abs(v));const c=v>=0?'49,130,189':'214,96,77';"
    "const td=document.createElement('td');td.textContent=Math.abs(v)<5e-4?'':v.toFixed(2);"
    "td.style.background='rgba('+c+','+a+')';return td;}\n"
    "function table(title,rows,cols,data){const h=document.createElement('h2');h.textContent=title;out.appendChild(h);"
    "const w=document.createElement('div');w.className='wrap';const t=document.createElement('table');"
    "const hr=document.createElement('tr');hr.appendChild(document.createElement('th'));"
    "cols.forEach(c=>{const th=document.createElement('th');th.className='v';th.textContent=c;hr.appendChild(th);});"
    "t.appendChild(hr);rows.forEach((r,i)=>{const tr=document.createElement('tr');const th=document.createElement('th');"
    "th.textContent=r;tr.appendChild(th);data[i].forEach(v=>tr.appendChild(cell(v)));t.appendChild(tr);});"
    "w.appendChild(t);out.appendChild(w);}\n"
    "const pos=T.tokens.map((t,i)=>i+': '+t);\n"
    "document.getElementById('summary').textContent='input '+T.tokens.join(' ')+'  ->  '+T.output.name+' = '+"
    "T.output.decoded.join(' ');\n"
    "const live=T.residual_labels.map((_,d)=>T.stages.some(s=>s.residual.some(r=>Math.abs(r[d])>5e-4)));\n"
    "const labels=T.residual_labels.filter((_,d)=>live[d]);\n"
    "T.stages.forEach((s,k)=>{table('residual after '+s.name,pos,labels,s.residual.map(r=>r.filter((_,d)=>live[d])));"
    "if(k%2==0&&k+1<T.stages.length)T.attention.filter(a=>a.layer==k/2).forEach(a=>"
    "table('layer '+a.layer+' head '+a.head+(a.node?' ('+a.node+')':'')+': attention (row attends to column)',"
    "pos,pos,a.pattern));});\n"
    "</script></body></html>\n";

static char *trace_html(const char *json) {
    StrBuf b;
    sb_init(&b);
    sb_append(&b, k_page_head);
    for (const char *p = json; *p;) {
        const char *lt = strstr(p, "</");
        if (!lt) {
            sb_append(&b, p);
            break;
        }
        sb_appendn(&b, p, (size_t)(lt - p));
        sb_append(&b, "<\\/");
        p = lt + 2;
    }
    sb_append(&b, k_page_tail);
    return sb_take(&b);
}

int cli_forward_trace(const CompiledModel *m, const Value *xs, int n, const char *json_target,
                      const char *html_target, bool json_out, bool html_out) {
    ModelTrace tr;
    char err[512];
    if (model_trace(m, xs, n, &tr, err, sizeof err) != 0) {
        fprintf(stderr, "itracr forward: %s\n", err);
        return EXIT_BAD_INPUT;
    }
    char *js = trace_json(m, &tr);
    int rc = EXIT_OK;
    if (!js) abort();
    if (json_out && out_write(json_target, js, strlen(js), err, sizeof err) != 0) {
        fprintf(stderr, "itracr forward: %s\n", err);
        rc = EXIT_BAD_INPUT;
    }
    if (html_out && rc == EXIT_OK) {
        char *page = trace_html(js);
        if (out_write(html_target, page, strlen(page), err, sizeof err) != 0) {
            fprintf(stderr, "itracr forward: %s\n", err);
            rc = EXIT_BAD_INPUT;
        }
        free(page);
    }
    free(js);
    model_trace_free(&tr);
    return rc;
}

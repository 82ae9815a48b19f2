/* Human-readable and JSON summaries of a compiled model. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "compiler/model.h"

static void print_json(FILE *f, const CompiledModel *m) {
    cJSON *r = cJSON_CreateObject(), *c = model_config_json(m);
    cJSON_AddItemToObject(r, "config", c);
    if (m->transform && m->transform[0]) cJSON_AddStringToObject(r, "transform", m->transform);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", m->output_name);
    cJSON_AddStringToObject(o, "encoding", m->output_numerical ? "numerical" : "categorical");
    cJSON_AddNumberToObject(o, "columns", m->n_out);
    cJSON_AddItemToObject(r, "output", o);
    cJSON *layers = cJSON_CreateArray();
    for (int l = 0; l < m->num_layers; l++) {
        const ModelLayerInfo *in = m->info ? &m->info[l] : NULL;
        cJSON *lj = cJSON_CreateObject();
        cJSON_AddNumberToObject(lj, "heads", in ? in->n_heads : 0);
        cJSON *hn = cJSON_CreateArray();
        for (int h = 0; in && h < in->n_heads; h++)
            cJSON_AddItemToArray(hn, cJSON_CreateString(in->head_nodes[h]));
        cJSON_AddItemToObject(lj, "head_nodes", hn);
        cJSON_AddNumberToObject(lj, "mlp_hidden", in ? in->mlp_hidden : 0);
        cJSON *mn = cJSON_CreateArray();
        for (int k = 0; in && k < in->n_mlp_nodes; k++)
            cJSON_AddItemToArray(mn, cJSON_CreateString(in->mlp_nodes[k]));
        cJSON_AddItemToObject(lj, "mlp_nodes", mn);
        cJSON_AddItemToArray(layers, lj);
    }
    cJSON_AddItemToObject(r, "layers", layers);
    cJSON *rl = cJSON_CreateArray();
    for (int i = 0; i < m->residual_dim; i++)
        cJSON_AddItemToArray(rl, cJSON_CreateString(m->residual_labels[i]));
    cJSON_AddItemToObject(r, "residual_labels", rl);
    cJSON *w = cJSON_CreateArray();
    for (int i = 0; i < m->n_warnings; i++)
        cJSON_AddItemToArray(w, cJSON_CreateString(m->warnings[i]));
    cJSON_AddItemToObject(r, "warnings", w);
    char *s = cJSON_Print(r);
    fprintf(f, "%s\n", s);
    free(s);
    cJSON_Delete(r);
}

void model_print_info(FILE *f, const CompiledModel *m, bool json) {
    if (json) {
        print_json(f, m);
        return;
    }
    fprintf(f, "output          %s (%s, %d column%s)\n", m->output_name,
            m->output_numerical ? "numerical" : "categorical", m->n_out, m->n_out == 1 ? "" : "s");
    fprintf(f, "layers          %d\nheads           %d\nkey_size        %d\nmlp_hidden_size %d\n",
            m->num_layers, m->num_heads, m->key_size, m->mlp_hidden_size);
    fprintf(f,
            "residual_dim    %d\nmax_seq_len     %d\nvocab_size      %d (BOS and PAD included)\n",
            m->residual_dim, m->max_seq_len, m->vocab_size);
    fprintf(f, "causal          %s\nmlp_exactness   %d%s\n", m->causal ? "yes" : "no",
            m->mlp_exactness, m->exact ? " (exact mode)" : "");
    if (m->transform && m->transform[0]) fprintf(f, "transform       %s\n", m->transform);
    fprintf(f, "\nlayer  heads  mlp_hidden  nodes\n");
    for (int l = 0; l < m->num_layers; l++) {
        const ModelLayerInfo *in = m->info ? &m->info[l] : NULL;
        fprintf(f, "%5d  %5d  %10d  ", l, in ? in->n_heads : 0, in ? in->mlp_hidden : 0);
        if (in) {
            for (int h = 0; h < in->n_heads; h++)
                fprintf(f, "%s%s", h ? ", " : "attn: ", in->head_nodes[h]);
            for (int k = 0; k < in->n_mlp_nodes; k++)
                fprintf(f, "%s%s", k ? ", " : (in->n_heads ? "; mlp: " : "mlp: "),
                        in->mlp_nodes[k]);
        }
        fputc('\n', f);
    }
    fprintf(f, "\nresidual (%d):", m->residual_dim);
    for (int i = 0; i < m->residual_dim; i++)
        fprintf(f, "%s%s", i ? ", " : " ", m->residual_labels[i]);
    fputc('\n', f);
    for (int i = 0; i < m->n_warnings; i++) fprintf(f, "warning: %s\n", m->warnings[i]);
}

/* examples/06_char_lstm.c - a character-level LSTM language model (the W4 shape of
   WORKLOADS.md) on a real corpus: the English word list of Debian's wamerican package,
   one word per line (104,334 words, 70 distinct characters).
     token -> embedding 64 -> 1-layer LSTM, hidden 256 -> linear 256->V at every step
   softmax cross-entropy over all steps, Adam lr 1e-3, global-norm gradient clipping at 5,
   batch 32, sequence length 64, torch's default init (N(0,1) embedding, U(+-1/sqrt(256))
   LSTM and linear). dl_embedding + dl_rnn_forward + dl_linear_forward + dl_cross_entropy.

   Data. Every 10th word of the file is held out for test. The remaining words are shuffled
   (a splitmix64 Fisher-Yates that bench/torch_char_lstm.py repeats exactly), reshuffled
   each epoch, and written one after the other, each followed by '\n', into one stream of
   characters. The stream is cut into 32 contiguous streams, one per batch row, and each
   training step reads the next 64 characters of every row: truncated backpropagation
   through time, with the LSTM's state (h, c) carried from one chunk to the next (detached:
   no gradient flows across the chunk boundary) and reset at each epoch. The file is UTF-8
   (a few words have accents: "café") and the vocabulary is the set of its characters
   (Unicode code points, '\n' included: 70), sorted.

   Metric. Held-out bits per character: the mean of -log2 p(next character) over the test
   stream, read the same way (32 rows, state carried, no gradient), next to the unigram
   model's bits per character on the same characters (the training frequencies, add-one
   smoothed): the unigram knows nothing about order, so the gap is what the LSTM has learnt
   about spelling. Then it generates words (dl_sample_logits: temperature and top-k),
   starting from '\n' with a zero state, and says how many are in the training list, are
   held-out words it never saw, or are new.

   The default run (1200 steps, 2.8 epochs): held-out 2.965 bits/char, unigram 4.440
   (561 s on a shared 2-core machine running other jobs; bench/run_workloads.sh times the W4 step itself).
   bench/torch_char_lstm.py runs the same recipe in PyTorch.

   Data: sudo apt-get install wamerican   (/usr/share/dict/american-english)
   Build: cc -O2 -march=native -I. examples/06_char_lstm.c -lm -o build/06_char_lstm
   Run:   build/06_char_lstm [steps] [word_list]                    (default 1200 steps) */
#define _POSIX_C_SOURCE 199309L
#define DL_IMPLEMENTATION
#include "dl.h"
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <math.h>
#include <time.h>

#define SEED      1
#define EMB       64
#define HIDDEN    256
#define SEQ       64
#define BATCH     32
#define LR        1e-3f
#define CLIP      5.0f
#define HOLD_OUT  10               /* every 10th word is a test word */
#define STEPS     1200
#define LOG_EVERY 100
#define EVAL_EVERY 400
#define WORDS     "/usr/share/dict/american-english"
#define MAX_PARAMS 8
#define MAX_VOCAB 1024

typedef struct model {
    dl_tensor *emb;                /* [V, EMB]                                       */
    dl_rnn rnn;                    /* LSTM EMB -> HIDDEN                             */
    dl_linear fc;                  /* HIDDEN -> V                                    */
    dl_tensor *params[MAX_PARAMS]; int nparams;
    dl_optim *opt;
    dl_tensor *h, *c;              /* [1, BATCH, HIDDEN]: the state carried between chunks */
    dl_tensor *h1, *c1;            /* [1, 1, HIDDEN]: the sampler's state            */
    int vocab;
} model;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* splitmix64: the shuffles, so that bench/torch_char_lstm.py can repeat them exactly */
static uint64_t sm64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static void shuffle_words(char **w, int64_t n, uint64_t *s) {
    int64_t i;
    for (i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(sm64(s) % (uint64_t)(i + 1));
        char *t = w[i]; w[i] = w[j]; w[j] = t;
    }
}
/* the next character of a UTF-8 string (a byte that does not start a valid sequence
   stands for itself, as in Latin-1) */
static uint32_t utf8_next(const unsigned char **s) {
    const unsigned char *p = *s;
    int n, i;
    uint32_t c;
    if (p[0] >= 0xc2 && p[0] < 0xe0) { n = 1; c = p[0] & 31u; }
    else if (p[0] >= 0xe0 && p[0] < 0xf0) { n = 2; c = p[0] & 15u; }
    else if (p[0] >= 0xf0 && p[0] < 0xf5) { n = 3; c = p[0] & 7u; }
    else { n = 0; c = p[0]; }
    for (i = 1; i <= n; i++) {                 /* stops at the terminating 0 */
        if ((p[i] & 0xc0) != 0x80) { n = 0; c = p[0]; break; }
        c = (c << 6) | (p[i] & 63u);
    }
    *s = p + n + 1;
    return c;
}
static int utf8_put(uint32_t c, char *out) {       /* returns the bytes written (1..4) */
    if (c < 0x80) { out[0] = (char)c; return 1; }
    if (c < 0x800) { out[0] = (char)(0xc0 | (c >> 6)); out[1] = (char)(0x80 | (c & 63)); return 2; }
    if (c < 0x10000) { out[0] = (char)(0xe0 | (c >> 12)); out[1] = (char)(0x80 | ((c >> 6) & 63)); out[2] = (char)(0x80 | (c & 63)); return 3; }
    out[0] = (char)(0xf0 | (c >> 18)); out[1] = (char)(0x80 | ((c >> 12) & 63));
    out[2] = (char)(0x80 | ((c >> 6) & 63)); out[3] = (char)(0x80 | (c & 63)); return 4;
}
static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}
/* the token of character c: its index in the sorted vocabulary sym[0..vocab) */
static int32_t token(const uint32_t *sym, int vocab, uint32_t c) {
    const uint32_t *hit = (const uint32_t *)bsearch(&c, sym, (size_t)vocab, sizeof c, cmp_u32);
    return hit ? (int32_t)(hit - sym) : 0;
}
/* the words, each followed by '\n', as tokens; returns the length */
static int64_t write_stream(char *const *w, int64_t n, const uint32_t *sym, int vocab, int32_t *out) {
    int64_t i, k = 0;
    const unsigned char *p;
    for (i = 0; i < n; i++) {
        for (p = (const unsigned char *)w[i]; *p;) out[k++] = token(sym, vocab, utf8_next(&p));
        out[k++] = token(sym, vocab, '\n');
    }
    return k;
}
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* the parameters, Adam's state and the carried states, from the arena (before the mark) */
static void model_init(dl_ctx *ctx, model *m, int vocab) {
    dl_optim_desc od;
    m->vocab = vocab;
    m->emb = dl_normal(ctx, dl_shape2(vocab, EMB), 0.0f, 1.0f);       /* torch.nn.Embedding */
    dl_requires_grad(ctx, m->emb, 1);
    dl_rnn_init(ctx, &m->rnn, DL_LSTM, EMB, HIDDEN, 1, 0, 0.0f, 1);
    dl_linear_init(ctx, &m->fc, HIDDEN, vocab, 1);
    m->params[0] = m->emb;
    m->nparams = 1 + dl_rnn_params(&m->rnn, m->params + 1);          /* w_ih w_hh b_ih b_hh */
    m->params[m->nparams++] = m->fc.weight;
    m->params[m->nparams++] = m->fc.bias;
    memset(&od, 0, sizeof od); od.kind = DL_ADAM; od.lr = LR;
    m->opt = dl_optim_new(ctx, &od, m->nparams);
    dl_optim_add(m->opt, m->params, m->nparams, NULL);
    m->h = dl_zeros(ctx, dl_shape3(1, BATCH, HIDDEN));
    m->c = dl_zeros(ctx, dl_shape3(1, BATCH, HIDDEN));
    m->h1 = dl_zeros(ctx, dl_shape3(1, 1, HIDDEN));
    m->c1 = dl_zeros(ctx, dl_shape3(1, 1, HIDDEN));
}

/* tokens idx [T, B] int32 from state (h, c) -> logits [T*B, V]; the new state is copied
   back into h, c (the values only: the next chunk starts from a constant) */
static dl_tensor *model_forward(dl_ctx *ctx, model *m, dl_tensor *idx, dl_tensor *h, dl_tensor *c) {
    int64_t T = idx->shape[0], B = idx->shape[1];
    dl_tensor *x = dl_embedding(ctx, m->emb, idx, -1);                   /* [T, B, EMB]    */
    dl_rnn_out o = dl_rnn_forward(ctx, &m->rnn, x, h, c, NULL, 1);      /* y [T, B, HIDDEN] */
    dl_tensor *y = dl_reshape(ctx, o.y, dl_shape2(T * B, HIDDEN));
    if (!dl_ctx_status(ctx) && !dl_ctx_is_measuring(ctx)) {
        dl_copy_to(o.h, h->data);
        dl_copy_to(o.c, c->data);
    }
    return dl_linear_forward(ctx, &m->fc, y);                           /* [T*B, V]       */
}

/* inputs [SEQ, BATCH] and targets [SEQ*BATCH] (row t*BATCH + b) of chunk k of a stream cut
   into BATCH rows of `len` tokens; stream NULL: zeros (the measuring run) */
static void chunk(dl_ctx *ctx, const int32_t *stream, int64_t len, int64_t k, dl_tensor **in, dl_tensor **tgt) {
    int64_t t, b;
    *in = dl_index_zeros(ctx, dl_shape2(SEQ, BATCH));
    *tgt = dl_index_zeros(ctx, dl_shape1(SEQ * BATCH));
    if (!stream || dl_ctx_status(ctx)) return;
    for (t = 0; t < SEQ; t++)
        for (b = 0; b < BATCH; b++) {
            const int32_t *row = stream + b * len + k * SEQ + t;
            (*in)->idata[t * BATCH + b] = row[0];
            (*tgt)->idata[t * BATCH + b] = row[1];
        }
}

/* one training step on chunk k; returns the mean loss in nats */
static float train_step(dl_ctx *ctx, model *m, const int32_t *stream, int64_t len, int64_t k) {
    dl_tensor *in, *tgt, *loss;
    chunk(ctx, stream, len, k, &in, &tgt);
    loss = dl_cross_entropy(ctx, model_forward(ctx, m, in, m->h, m->c), tgt, NULL);
    dl_optim_zero_grad(m->opt);
    dl_backward(ctx, loss);
    dl_clip_grad_norm(m->params, m->nparams, CLIP);
    dl_optim_step(m->opt);
    return dl_item(loss);
}

/* summed loss in nats over chunk k, no tape */
static double eval_chunk(dl_ctx *ctx, model *m, const int32_t *stream, int64_t len, int64_t k) {
    dl_ce_desc sum;
    dl_tensor *in, *tgt;
    int prev = dl_set_grad_enabled(ctx, 0);
    double s;
    memset(&sum, 0, sizeof sum); sum.reduction = DL_REDUCE_SUM;
    chunk(ctx, stream, len, k, &in, &tgt);
    s = (double)dl_item(dl_cross_entropy(ctx, model_forward(ctx, m, in, m->h, m->c), tgt, &sum));
    dl_set_grad_enabled(ctx, prev);
    return s;
}

/* one character of the sampler: feeds token `tok`, returns the logits [1, V] */
static dl_tensor *sample_step(dl_ctx *ctx, model *m, int32_t tok) {
    int prev = dl_set_grad_enabled(ctx, 0);
    dl_tensor *logits = model_forward(ctx, m, dl_index_tensor(ctx, dl_shape2(1, 1), &tok), m->h1, m->c1);
    dl_set_grad_enabled(ctx, prev);
    return logits;
}

/* the arena bytes of the model, Adam, the states, a training step, an evaluation chunk
   and a sampler step: the same code run once in a measuring context (shapes only) */
static size_t measure_bytes(int vocab) {
    dl_ctx_desc md;
    dl_ctx *mc;
    model m;
    dl_mark mk;
    size_t need;
    memset(&md, 0, sizeof md); md.measure = 1;
    mc = dl_ctx_init(&md);
    if (!mc) return 0;
    model_init(mc, &m, vocab);
    mk = dl_ctx_mark(mc);
    train_step(mc, &m, NULL, 0, 0);
    dl_ctx_rewind(mc, mk);
    eval_chunk(mc, &m, NULL, 0, 0);
    dl_ctx_rewind(mc, mk);
    sample_step(mc, &m, 0);
    need = dl_ctx_status(mc) ? 0 : dl_ctx_peak_bytes(mc);
    if (!need) fprintf(stderr, "06_char_lstm: measuring: %s\n", dl_ctx_message(mc));
    dl_ctx_free(mc);
    return need;
}

/* held-out bits per character over every full chunk of the test stream (state from zero) */
static double test_bpc(dl_ctx *ctx, model *m, const int32_t *stream, int64_t len, int64_t chunks, dl_mark mk) {
    double nats = 0;
    int64_t k;
    dl_fill(m->h, 0.0f); dl_fill(m->c, 0.0f);
    for (k = 0; k < chunks && !dl_ctx_status(ctx); k++) {
        nats += eval_chunk(ctx, m, stream, len, k);
        dl_ctx_rewind(ctx, mk);
    }
    return nats / ((double)(chunks * SEQ * BATCH) * log(2.0));
}

int main(int argc, char **argv) {
    const char *path = WORDS;
    int steps = STEPS, vocab = 0, step, i;
    uint32_t sym[MAX_VOCAB];
    FILE *f;
    long fsize;
    char *text, **all, **train_w, **test_w, **sorted, *p;
    int64_t n_words = 0, n_train = 0, n_test = 0, n_tr_tok, n_te_tok, tr_len, te_len, tr_chunks, te_chunks, k, w;
    int32_t *tr_stream, *te_stream;
    double count[MAX_VOCAB], unigram_bits = 0, t_start, t_log, loss_log = 0, bpc = 0;
    uint64_t rng = SEED;
    size_t need;
    dl_ctx_desc cd;
    dl_ctx *ctx;
    dl_mark mk;
    model m;
    int epoch = 1, log_n = 0;

    if (argc > 1) steps = atoi(argv[1]);        /* [steps] [word_list] */
    if (argc > 2) path = argv[2];
    if (steps < 1 || argc > 3) { fprintf(stderr, "usage: %s [steps >= 1] [word_list]\n", argv[0]); return 2; }

    /* the word list: one word per line */
    f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "06_char_lstm: cannot open %s\n"
                        "  install the word list with: sudo apt-get install wamerican\n"
                        "  (or give any one-word-per-line file as the second argument)\n", path);
        return 2;
    }
    fseek(f, 0, SEEK_END); fsize = ftell(f); fseek(f, 0, SEEK_SET);
    text = (char *)malloc((size_t)fsize + 2);
    all = (char **)malloc(sizeof(char *) * ((size_t)fsize / 2 + 2));
    if (!text || !all || fsize <= 0 || fread(text, 1, (size_t)fsize, f) != (size_t)fsize) {
        fprintf(stderr, "06_char_lstm: cannot read %s\n", path);
        return 1;
    }
    fclose(f);
    text[fsize] = '\n'; text[fsize + 1] = 0;
    for (p = text; *p;) {                         /* split at '\n', skip empty lines */
        char *e = strchr(p, '\n');
        *e = 0;
        if (e > p) all[n_words++] = p;
        p = e + 1;
    }
    sym[vocab++] = '\n';                          /* vocabulary: every character of the file */
    for (w = 0; w < n_words; w++) {
        const unsigned char *q = (const unsigned char *)all[w];
        while (*q) {
            uint32_t c = utf8_next(&q);
            for (i = 0; i < vocab && sym[i] != c; i++) {}
            if (i < vocab) continue;
            if (vocab == MAX_VOCAB) { fprintf(stderr, "06_char_lstm: more than %d distinct characters in %s\n", MAX_VOCAB, path); return 1; }
            sym[vocab++] = c;
        }
    }
    qsort(sym, (size_t)vocab, sizeof sym[0], cmp_u32);
    train_w = (char **)malloc(sizeof(char *) * (size_t)n_words);
    test_w = (char **)malloc(sizeof(char *) * (size_t)n_words);
    sorted = (char **)malloc(sizeof(char *) * (size_t)n_words);
    tr_stream = (int32_t *)malloc(sizeof(int32_t) * ((size_t)fsize + 2));
    te_stream = (int32_t *)malloc(sizeof(int32_t) * ((size_t)fsize + 2));
    if (!train_w || !test_w || !sorted || !tr_stream || !te_stream) { fprintf(stderr, "06_char_lstm: out of memory\n"); return 1; }
    for (w = 0; w < n_words; w++) {
        if (w % HOLD_OUT == HOLD_OUT - 1) test_w[n_test++] = all[w]; else train_w[n_train++] = all[w];
        sorted[w] = all[w];
    }
    qsort(sorted, (size_t)n_words, sizeof(char *), cmp_str);
    shuffle_words(test_w, n_test, &rng);          /* the test stream, built once */
    n_te_tok = write_stream(test_w, n_test, sym, vocab, te_stream);
    shuffle_words(train_w, n_train, &rng);        /* epoch 1's training stream */
    n_tr_tok = write_stream(train_w, n_train, sym, vocab, tr_stream);
    tr_len = n_tr_tok / BATCH; tr_chunks = (tr_len - 1) / SEQ;
    te_len = n_te_tok / BATCH; te_chunks = (te_len - 1) / SEQ;

    /* the unigram model: training character frequencies (add-one), scored on the
       characters the LSTM is scored on (the targets of every full test chunk) */
    for (i = 0; i < vocab; i++) count[i] = 1.0;
    for (k = 0; k < n_tr_tok; k++) count[tr_stream[k]] += 1.0;
    for (k = 0; k < BATCH; k++) {
        int64_t t;
        for (t = 1; t <= te_chunks * SEQ; t++) unigram_bits -= log2(count[te_stream[k * te_len + t]] / ((double)n_tr_tok + vocab));
    }
    unigram_bits /= (double)(te_chunks * SEQ * BATCH);

    need = measure_bytes(vocab);
    if (!need) return 1;
    memset(&cd, 0, sizeof cd);
    cd.memory_size = need + ((size_t)1 << 20);
    cd.seed = SEED;
    ctx = dl_ctx_init(&cd);
    if (!ctx) { fprintf(stderr, "06_char_lstm: dl_ctx_init failed (no memory)\n"); return 1; }
    model_init(ctx, &m, vocab);
    if (dl_ctx_status(ctx)) { fprintf(stderr, "06_char_lstm: setup: %s\n", dl_ctx_message(ctx)); return 1; }
    mk = dl_ctx_mark(ctx);

    printf("%s: %ld words, vocabulary %d characters; %ld training words (%ld chars), %ld held-out words (%ld chars)\n",
           path, (long)n_words, vocab, (long)n_train, (long)n_tr_tok, (long)n_test, (long)n_te_tok);
    printf("char LSTM: embedding %d, LSTM %d, linear %d->%d; batch %d x seq %d (truncated BPTT, state carried), "
           "Adam lr %g, clip %g; %ld steps per epoch; arena %.1f MiB\n",
           EMB, HIDDEN, HIDDEN, vocab, BATCH, SEQ, (double)LR, (double)CLIP, (long)tr_chunks,
           (double)dl_ctx_capacity(ctx) / 1048576.0);
    printf("unigram model (training character frequencies): %.3f bits/char on the held-out words\n", unigram_bits);
    fflush(stdout);

    t_start = t_log = now_s();
    k = 0;
    for (step = 1; step <= steps; step++) {
        if (k == tr_chunks) {                     /* next epoch: reshuffle, reset the state */
            shuffle_words(train_w, n_train, &rng);
            write_stream(train_w, n_train, sym, vocab, tr_stream);
            dl_fill(m.h, 0.0f); dl_fill(m.c, 0.0f);
            k = 0; epoch++;
        }
        loss_log += (double)train_step(ctx, &m, tr_stream, tr_len, k++);
        log_n++;
        dl_ctx_rewind(ctx, mk);
        if (dl_ctx_status(ctx)) { fprintf(stderr, "06_char_lstm: step %d: %s\n", step, dl_ctx_message(ctx)); return 1; }
        if (step % LOG_EVERY == 0 || step == steps) {
            double t = now_s();
            printf("step %5d  epoch %d  train %.3f bits/char  %.1f ms/step", step, epoch,
                   loss_log / log_n / log(2.0), 1e3 * (t - t_log) / log_n);
            loss_log = 0; log_n = 0;
            if (step % EVAL_EVERY == 0 || step == steps) {
                /* the test pass uses the carried state: keep the training one aside */
                float hs[BATCH * HIDDEN], cs[BATCH * HIDDEN];
                dl_copy_to(m.h, hs); dl_copy_to(m.c, cs);
                bpc = test_bpc(ctx, &m, te_stream, te_len, te_chunks, mk);
                dl_copy_from(m.h, hs); dl_copy_from(m.c, cs);
                printf("  held-out %.3f bits/char (eval %.1f s)", bpc, now_s() - t);
            }
            printf("\n");
            fflush(stdout);
            t_log = now_s();
        }
    }
    if (dl_ctx_status(ctx)) { fprintf(stderr, "06_char_lstm: %s\n", dl_ctx_message(ctx)); return 1; }
    printf("trained %d steps (%.2f epochs) in %.1f s\n", steps, (double)steps / (double)tr_chunks, now_s() - t_start);

    /* samples: temperature and top-k; each word is looked up in the whole list */
    {
        static const float temps[3] = {0.5f, 0.8f, 1.0f};
        static const int topks[3] = {0, 10, 0};
        int s;
        for (s = 0; s < 3; s++) {
            char word[256], line[4096];
            int len = 0, words = 0, known = 0, held = 0, chars = 0;
            int32_t cur = token(sym, vocab, '\n');
            size_t used = 0;
            dl_fill(m.h1, 0.0f); dl_fill(m.c1, 0.0f);
            line[0] = 0;
            while (words < 16 && chars < 400) {
                dl_tensor *logits = sample_step(ctx, &m, cur);
                if (dl_ctx_status(ctx)) break;
                cur = dl_sample_logits(ctx, logits->data, vocab, temps[s], topks[s]);
                dl_ctx_rewind(ctx, mk);
                chars++;
                if (sym[cur] != '\n') { if (len < 240) len += utf8_put(sym[cur], word + len); continue; }
                word[len] = 0;
                if (len > 0) {
                    char *key = word, **hit = (char **)bsearch(&key, sorted, (size_t)n_words, sizeof(char *), cmp_str);
                    int is_test = 0;
                    if (hit) {                    /* held out: the index of its first copy in file order */
                        int64_t idx = 0;
                        for (w = 0; w < n_words; w++) if (strcmp(all[w], word) == 0) { idx = w; break; }
                        is_test = idx % HOLD_OUT == HOLD_OUT - 1;
                    }
                    known += hit && !is_test; held += hit && is_test;
                    used += (size_t)snprintf(line + used, sizeof line - used, "%s%s ", word,
                                             hit ? (is_test ? "+" : "") : "*");
                    if (used >= sizeof line) used = sizeof line - 1;
                    words++;
                }
                len = 0;
            }
            if (dl_ctx_status(ctx)) { fprintf(stderr, "06_char_lstm: sampling: %s\n", dl_ctx_message(ctx)); return 1; }
            printf("sample (temperature %.1f, top-k %s%d): %d words: %d training, %d held-out (+), %d new (*)\n  %s\n",
                   (double)temps[s], topks[s] ? "" : "all ", topks[s] ? topks[s] : vocab, words, known, held,
                   words - known - held, line);
        }
    }
    printf("held-out %.3f bits/char (unigram %.3f) after %d steps\n", bpc, unigram_bits, steps);
    dl_ctx_free(ctx);
    free(text); free(all); free(train_w); free(test_w); free(sorted); free(tr_stream); free(te_stream);
    return 0;
}

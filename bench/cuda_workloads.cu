/* bench/cuda_workloads.cu - WORKLOADS.md's W1-W5 on the CUDA backend: the models, data and
   steps of bench/workloads.c (included), on a GPU, timed three ways:
     graph  each step through dl_step_run (recorded, captured once, then replayed)
     eager  each step launched op by op
     det    eager with dl_ctx_desc.deterministic = 1 (what determinism costs)
   Each timed step ends when the device is done with it (dl_ctx_sync), as the PyTorch
   peer's ends with torch.cuda.synchronize(); the loss is read after the clock stops.
   bench/torch_cuda_workloads.py times PyTorch the same way (eager and torch.cuda.graphs);
   bench/run_cuda_workloads.sh runs both and prints the ratios.
   Usage: cuda_workloads [W1 ... W5] [--steps N] [--warmup N]   (default: all, 50, 10)
   Output, one line per workload:
     W1 dl_graph_ms=.. dl_eager_ms=.. dl_det_ms=.. loss0=.. replays=.. device=..
   Build: nvcc -O2 -arch=sm_90 -I. bench/cuda_workloads.cu -o build/cuda_workloads -lcublas */
#define WL_NO_MAIN
#include "workloads.c"
#define DL_CUDA_IMPLEMENTATION
#include "dl_cuda.h"

typedef struct wl_step { model *m; dl_tensor *loss; } wl_step;
static void wl_train(dl_ctx *ctx, void *u) { wl_step *s = (wl_step *)u; train_step(ctx, s->m, &s->loss); }

/* median ms per step of `steps` timed steps after `warmup`; mode 0 eager, 1 graph */
static double time_steps(int w, int mode, int det, int steps, int warmup, float *loss0, int *replays) {
    dl_ctx_desc d; dl_ctx *ctx; model m; dl_mark mk; dl_step st; wl_step ws; int i; double *ms, med;
    memset(&d, 0, sizeof d); d.memory_size = (size_t)1 << 30; d.seed = 1; d.backend = dl_cuda_backend(); d.deterministic = det;
    ctx = dl_ctx_init(&d);
    if (!ctx) { fprintf(stderr, "cuda_workloads: no CUDA context\n"); return -1.0; }
    setup(ctx, &m, w);
    if (dl_ctx_status(ctx)) { fprintf(stderr, "cuda_workloads: W%d setup: %s\n", w, dl_ctx_message(ctx)); dl_ctx_free(ctx); return -1.0; }
    memset(&st, 0, sizeof st); ws.m = &m; ws.loss = NULL;
    ms = (double *)malloc(sizeof(double) * (size_t)steps);
    mk = dl_ctx_mark(ctx);
    for (i = 0; i < warmup + steps; i++) {
        double t0 = now_ms(); float l;
        if (mode) dl_step_run(ctx, &st, wl_train, &ws); else wl_train(ctx, &ws);
        dl_ctx_sync(ctx);                         /* the step is done on the device */
        t0 = now_ms() - t0;
        l = dl_item(ws.loss);                     /* read after the clock, as the peer */
        dl_ctx_rewind(ctx, mk);
        if (i == 0 && loss0) *loss0 = l;
        if (i >= warmup) ms[i - warmup] = t0;
        if (dl_ctx_status(ctx)) { fprintf(stderr, "cuda_workloads: W%d step %d: %s\n", w, i, dl_ctx_message(ctx)); free(ms); dl_ctx_free(ctx); return -1.0; }
    }
    qsort(ms, (size_t)steps, sizeof(double), cmpd);
    med = steps % 2 ? ms[steps / 2] : 0.5 * (ms[steps / 2 - 1] + ms[steps / 2]);
    if (replays) *replays = st.replays;
    free(ms);
    dl_step_free(ctx, &st);
    dl_ctx_free(ctx);
    return med;
}
int main(int argc, char **argv) {
    int want[6] = {0, 0, 0, 0, 0, 0}, any = 0, steps = 50, warmup = 10, i, w;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = atoi(argv[++i]);
        else if (argv[i][0] == 'W' && argv[i][1] >= '1' && argv[i][1] <= '5' && !argv[i][2]) { want[argv[i][1] - '0'] = 1; any = 1; }
        else if (strcmp(argv[i], "all")) { fprintf(stderr, "usage: %s [W1 ... W5|all] [--steps N] [--warmup N]\n", argv[0]); return 2; }
    }
    if (steps < 1 || warmup < 0) return 2;
    (void)step; (void)param_count;            /* workloads.c's CPU-only helpers */
    if (!dl_cuda_available()) { printf("# no CUDA device; skipped\n"); return 0; }
    printf("# dl.h %s on %s, %d steps after %d warm-up\n", dl_version(), dl_cuda_device_name(), steps, warmup);
    for (w = 1; w <= 5; w++) {
        float loss0 = 0.0f; int replays = 0; double g, e, dt;
        if (any && !want[w]) continue;
        g = time_steps(w, 1, 0, steps, warmup, &loss0, &replays);
        e = time_steps(w, 0, 0, steps, warmup, NULL, NULL);
        dt = time_steps(w, 0, 1, steps, warmup, NULL, NULL);
        printf("W%d dl_graph_ms=%.4f dl_eager_ms=%.4f dl_det_ms=%.4f gflops_graph=%.1f loss0=%.4f replays=%d device=%s\n", w, g, e, dt,
               g > 0 ? 3.0 * flop_fwd(w) / (g * 1e6) : 0.0, (double)loss0, replays, dl_cuda_device_name());
        fflush(stdout);
    }
    return 0;
}

/* Dataset generation throughput: accepted samples per second at the default settings.
 *
 * Baseline: baseline=jobs1, the same run (same seed, same N) with 1 job, measured in this
 * process just before; the target is --jobs 2. Shards go to a temporary directory (under
 * /dev/shm when it exists, so the disk does not enter the timing) and are removed.
 * Also prints CPU seconds per accepted sample, which does not depend on a busy machine.
 * Usage: bench/gen [N] (default 4000). Last line: accepted_per_s=X (2 jobs). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dataset/gen_driver.h"

static void rm_tree(const char *dir) {
    const char *subs[] = {"train", "val", "test", ""};
    for (int s = 0; s < 4; s++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, subs[s]);
        DIR *d = opendir(p);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char f[1024];
            snprintf(f, sizeof f, "%s/%s", p, e->d_name);
            struct stat sb;
            if (stat(f, &sb) == 0 && S_ISREG(sb.st_mode)) unlink(f);
        }
        if (d) closedir(d);
        if (s < 3) rmdir(p);
    }
    rmdir(dir);
}

static int run(long n, int jobs, double *wall, double *cpu, GdStats *st) {
    char dir[64];
    snprintf(dir, sizeof dir, "%s/itracr_bench_gen_XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(dir)) return 1;
    GdConfig c;
    gd_config_default(&c);
    c.n = n;
    c.seed = 1;
    c.jobs = jobs;
    c.out_dir = dir;
    char err[512];
    clock_t c0 = clock();
    int rc = gd_run(&c, st, err, sizeof err);
    *cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;
    *wall = st->seconds;
    if (rc) fprintf(stderr, "bench/gen: %s\n", err);
    rm_tree(dir);
    return rc;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 4000;
    if (n <= 0) n = 4000;
    double w1, c1, w2, c2;
    GdStats s1, s2;
    if (run(n, 1, &w1, &c1, &s1) || run(n, 2, &w2, &c2, &s2)) return 1;
    double r1 = (double)n / w1, r2 = (double)n / w2;
    double load[3] = {0, 0, 0};
    FILE *la = fopen("/proc/loadavg", "r"); /* other processes share the cores: say how busy */
    if (la) {
        if (fscanf(la, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
            load[0] = load[1] = load[2] = 0;
        fclose(la);
    }
    printf("samples=%ld seeds=%ld acceptance=%.1f%% online_cpus=%ld loadavg=%.2f,%.2f,%.2f\n", n,
           s1.seeds, 100.0 * (double)n / (double)s1.seeds, sysconf(_SC_NPROCESSORS_ONLN), load[0],
           load[1], load[2]);
    printf("baseline=jobs1 accepted_per_s=%.0f cpu_ms_per_accepted=%.3f\n", r1,
           1e3 * c1 / (double)n);
    printf("jobs2 accepted_per_s=%.0f cpu_ms_per_accepted=%.3f\n", r2, 1e3 * c2 / (double)n);
    printf("ratio_vs_baseline=%.2f\n", r2 / r1);
    printf("accepted_per_s=%.0f\n", r2);
    return 0;
}

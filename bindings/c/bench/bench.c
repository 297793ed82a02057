/* The cost of one call of casepol's C ABI from C: casepol_is_allowed (names to a decision)
 * and casepol_decide (a prepared request), timed with clock_gettime over the requests that
 * benches/overhead.rs wrote (every user x resource x action of policies/workzone), median of
 * 15 rounds of at least 20 ms each. Run by bindings/bench.sh (docs/performance.md §11).
 *
 * Usage: bench POLICY_DIR REQUESTS_TSV */

#define _POSIX_C_SOURCE 200809L

#include "casepol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_REQUESTS 100000

static char *principal[MAX_REQUESTS], *action[MAX_REQUESTS], *resource[MAX_REQUESTS];
static CasepolPrepared *prepared[MAX_REQUESTS];
static size_t n;

static double now_ns(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef size_t (*round_fn)(const CasepolPolicy *, const CasepolEntities *);

static size_t round_is_allowed(const CasepolPolicy *p, const CasepolEntities *e) {
    size_t allowed = 0;
    for (size_t i = 0; i < n; i++) {
        bool a = false;
        if (casepol_is_allowed(p, e, principal[i], action[i], resource[i], NULL, &a, NULL) == CASEPOL_STATUS_OK && a)
            allowed++;
    }
    return allowed;
}

static size_t round_decide(const CasepolPolicy *p, const CasepolEntities *e) {
    size_t allowed = 0;
    for (size_t i = 0; i < n; i++) {
        bool a = false;
        if (casepol_decide(p, e, prepared[i], &a) == CASEPOL_STATUS_OK && a)
            allowed++;
    }
    return allowed;
}

/* The median wall and CPU (CLOCK_PROCESS_CPUTIME_ID) nanoseconds per request of `round`. */
static void median_ns(round_fn round, const CasepolPolicy *p, const CasepolEntities *e, size_t *allowed,
                      double *wall, double *cpu) {
    double walls[15], cpus[15];
    *allowed = round(p, e);
    for (int r = 0; r < 15; r++) {
        double start = now_ns(CLOCK_MONOTONIC), cpu_start = now_ns(CLOCK_PROCESS_CPUTIME_ID), elapsed;
        size_t calls = 0;
        do {
            round(p, e);
            calls += n;
            elapsed = now_ns(CLOCK_MONOTONIC) - start;
        } while (elapsed < 20e6);
        walls[r] = elapsed / (double)calls;
        cpus[r] = (now_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu_start) / (double)calls;
    }
    qsort(walls, 15, sizeof walls[0], cmp);
    qsort(cpus, 15, sizeof cpus[0], cmp);
    *wall = walls[7];
    *cpu = cpus[7];
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s POLICY_DIR REQUESTS_TSV\n", argv[0]);
        return 2;
    }
    char *err = NULL;
    CasepolPolicy *p = NULL;
    CasepolEntities *e = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/entities.json", argv[1]);
    if (casepol_policy_from_path(argv[1], &p, &err) != CASEPOL_STATUS_OK ||
        casepol_entities_load_path(p, path, &e, &err) != CASEPOL_STATUS_OK) {
        fprintf(stderr, "%s\n", err ? err : "could not load");
        return 1;
    }
    FILE *f = fopen(argv[2], "r");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    char line[1024];
    while (n < MAX_REQUESTS && fgets(line, sizeof line, f)) {
        char *u = strtok(line, "\t\n"), *a = strtok(NULL, "\t\n"), *r = strtok(NULL, "\t\n");
        if (!u || !a || !r)
            continue;
        principal[n] = strdup(u);
        action[n] = strdup(a);
        resource[n] = strdup(r);
        char json[1024];
        snprintf(json, sizeof json, "{\"principal\": \"%s\", \"action\": \"%s\", \"resource\": \"%s\"}", u, a, r);
        if (casepol_prepare(p, e, json, &prepared[n], &err) != CASEPOL_STATUS_OK) {
            fprintf(stderr, "%s\n", err ? err : "could not prepare");
            return 1;
        }
        n++;
    }
    fclose(f);
    size_t allowed_names, allowed_prepared;
    double names, names_cpu, decide, decide_cpu;
    median_ns(round_is_allowed, p, e, &allowed_names, &names, &names_cpu);
    median_ns(round_decide, p, e, &allowed_prepared, &decide, &decide_cpu);
    printf("requests: %zu, %zu allowed (%zu by the prepared path)\n", n, allowed_names, allowed_prepared);
    printf("%-48s %7.1f ns/request wall, %7.1f ns CPU\n", "C     casepol_is_allowed, called from C", names, names_cpu);
    printf("%-48s %7.1f ns/request wall, %7.1f ns CPU\n", "C     casepol_decide (prepared), from C", decide, decide_cpu);
    for (size_t i = 0; i < n; i++) {
        free(principal[i]);
        free(action[i]);
        free(resource[i]);
        casepol_prepared_free(prepared[i]);
    }
    casepol_entities_free(e);
    casepol_policy_free(p);
    return allowed_names == allowed_prepared ? 0 : 1;
}

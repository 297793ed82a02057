/* casepol's C ABI, exercised from C: every function, its answers and its error paths, and
 * concurrent decisions on shared handles. Run by bindings/c/run-tests.sh, under valgrind
 * memcheck, which fails the run on any leak or invalid access.
 *
 * Usage: test POLICY_DIR (policies/workzone of the repository). */

#include "casepol.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed = 0;
static int failed = 0;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (cond) {                                                                    \
            passed++;                                                                  \
        } else {                                                                       \
            failed++;                                                                  \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
        }                                                                              \
    } while (0)

/* Whether `haystack` holds `needle`; NULL holds nothing. */
static int has(const char *haystack, const char *needle) {
    return haystack != NULL && strstr(haystack, needle) != NULL;
}

static const char *SOURCE =
    "role Clerk;\n"
    "action view;\n"
    "group Clerks { grants Clerk; scope assigned via assignee; }\n"
    "case Case {\n"
    "  relation assignee;\n"
    "  allow Clerk: view;\n"
    "}\n"
    "casetype Claim { states Open; initial Open; final Open; }\n";

static const char *ENTITIES =
    "{\"users\": [{\"id\": \"ann\", \"groups\": [\"Clerks\"]}, {\"id\": \"bob\"}],"
    " \"resources\": [{\"id\": \"c1\", \"kind\": \"Case\", \"type\": \"Claim\", \"state\": \"Open\"}]}";

static void test_version_and_status_names(void) {
    CHECK(strcmp(casepol_version(), "0.1.0") == 0);
    CHECK(strcmp(casepol_status_name(CASEPOL_STATUS_OK), "CASEPOL_STATUS_OK") == 0);
    CHECK(strcmp(casepol_status_name(CASEPOL_STATUS_POLICY), "CASEPOL_STATUS_POLICY") == 0);
    CHECK(strcmp(casepol_status_name(CASEPOL_STATUS_PANIC), "CASEPOL_STATUS_PANIC") == 0);
    CHECK(strcmp(casepol_status_name(-1), "CASEPOL_STATUS_UNKNOWN") == 0);
    casepol_string_free(NULL);
    casepol_policy_free(NULL);
    casepol_entities_free(NULL);
    casepol_prepared_free(NULL);
    CHECK(casepol_policy_warning_count(NULL) == 0);
    CHECK(casepol_entities_version(NULL) == 0);
}

static void test_policy_errors(void) {
    CasepolPolicy *p = (CasepolPolicy *)0x1;
    char *err = NULL;

    /* A policy that does not check: every diagnostic in the message, no handle. */
    CHECK(casepol_policy_from_source("bad.casepol", "role R; allow Q: view;", &p, &err) ==
          CASEPOL_STATUS_POLICY);
    CHECK(p == NULL);
    CHECK(has(err, "bad.casepol"));
    CHECK(has(err, "CP"));
    casepol_string_free(err);

    /* NULL arguments. */
    CHECK(casepol_policy_from_source(NULL, SOURCE, &p, &err) == CASEPOL_STATUS_NULL_ARGUMENT);
    CHECK(has(err, "`name` is NULL"));
    casepol_string_free(err);
    CHECK(casepol_policy_from_source("p", NULL, &p, &err) == CASEPOL_STATUS_NULL_ARGUMENT);
    casepol_string_free(err);
    CHECK(casepol_policy_from_source("p", SOURCE, NULL, &err) == CASEPOL_STATUS_NULL_ARGUMENT);
    CHECK(has(err, "`out` is NULL"));
    casepol_string_free(err);
    /* No message wanted. */
    CHECK(casepol_policy_from_source("p", NULL, &p, NULL) == CASEPOL_STATUS_NULL_ARGUMENT);

    /* Invalid UTF-8. */
    CHECK(casepol_policy_from_source("p", "role \xff;", &p, &err) == CASEPOL_STATUS_INVALID_UTF8);
    CHECK(has(err, "not valid UTF-8"));
    casepol_string_free(err);

    /* A path that does not exist. */
    CHECK(casepol_policy_from_path("/nonexistent/casepol", &p, &err) == CASEPOL_STATUS_READ);
    CHECK(p == NULL);
    CHECK(err != NULL);
    casepol_string_free(err);
    CHECK(casepol_policy_from_path(NULL, &p, &err) == CASEPOL_STATUS_NULL_ARGUMENT);
    casepol_string_free(err);
}

static void test_entities_errors(const CasepolPolicy *policy, const char *dir) {
    CasepolEntities *e = (CasepolEntities *)0x1;
    char *err = NULL;
    CHECK(casepol_entities_load(policy, "{\"users\": [{\"id\": \"ann\", \"groups\": [\"Nope\"]}]}", &e,
                                &err) == CASEPOL_STATUS_ENTITIES);
    CHECK(e == NULL);
    CHECK(has(err, "Nope"));
    casepol_string_free(err);
    CHECK(casepol_entities_load(policy, "{", &e, &err) == CASEPOL_STATUS_ENTITIES);
    casepol_string_free(err);
    CHECK(casepol_entities_load(NULL, ENTITIES, &e, &err) == CASEPOL_STATUS_NULL_ARGUMENT);
    CHECK(has(err, "`policy` is NULL"));
    casepol_string_free(err);
    CHECK(casepol_entities_load(policy, NULL, &e, &err) == CASEPOL_STATUS_NULL_ARGUMENT);
    casepol_string_free(err);
    CHECK(casepol_entities_load(policy, ENTITIES, NULL, &err) == CASEPOL_STATUS_NULL_ARGUMENT);
    casepol_string_free(err);
    char path[4096];
    snprintf(path, sizeof path, "%s/no-such-file.json", dir);
    CHECK(casepol_entities_load_path(policy, path, &e, &err) == CASEPOL_STATUS_READ);
    CHECK(e == NULL);
    casepol_string_free(err);
    CHECK(casepol_entities_load_path(policy, NULL, &e, &err) == CASEPOL_STATUS_NULL_ARGUMENT);
    casepol_string_free(err);
}

static void test_check(const CasepolPolicy *p, const CasepolEntities *e) {
    char *out = NULL;
    char *err = NULL;

    /* WorkZone: AA may not view supp-1 (read code), BB may. */
    CHECK(casepol_check(p, e, "{\"principal\": \"AA\", \"action\": \"view\", \"resource\": \"supp-1\"}",
                        &out, &err) == CASEPOL_STATUS_OK);
    CHECK(err == NULL);
    CHECK(has(out, "\"decision\":\"deny\""));
    CHECK(has(out, "\"layer\":\"read_code\""));
    CHECK(has(out, "\"reason\":\"code_not_held\""));
    casepol_string_free(out);

    CHECK(casepol_check(p, e, "{\"principal\": \"BB\", \"action\": \"view\", \"resource\": \"doc-1\"}",
                        &out, &err) == CASEPOL_STATUS_OK);
    CHECK(has(out, "\"decision\":\"allow\""));
    CHECK(has(out, "\"determining\":[{\"kind\":\"rule\""));
    CHECK(has(out, "allow Clerk: view, view_codes, edit, edit_codes;"));
    casepol_string_free(out);

    /* An unknown user: a request error, a deny, and no answer. */
    CHECK(casepol_check(p, e, "{\"principal\": \"zoe\", \"action\": \"view\", \"resource\": \"doc-1\"}",
                        &out, &err) == CASEPOL_STATUS_REQUEST);
    CHECK(out == NULL);
    CHECK(has(err, "zoe"));
    casepol_string_free(err);

    /* Malformed and misshapen JSON. */
    CHECK(casepol_check(p, e, "{\"principal\": ", &out, &err) == CASEPOL_STATUS_JSON);
    CHECK(has(err, "invalid request"));
    casepol_string_free(err);
    CHECK(casepol_check(p, e, "{\"principal\": \"BB\", \"action\": \"view\", \"extra\": 1}", &out, &err) ==
          CASEPOL_STATUS_JSON);
    casepol_string_free(err);
    /* Over the size limit (64 KiB). */
    size_t big = 70 * 1024;
    char *huge = malloc(big + 1);
    memset(huge, ' ', big);
    huge[big] = '\0';
    CHECK(casepol_check(p, e, huge, &out, &err) == CASEPOL_STATUS_JSON);
    CHECK(has(err, "more than the limit of 64 KiB"));
    casepol_string_free(err);
    free(huge);

    CHECK(casepol_check(NULL, e, "{}", &out, &err) == CASEPOL_STATUS_NULL_ARGUMENT);
    casepol_string_free(err);
    CHECK(casepol_check(p, NULL, "{}", &out, &err) == CASEPOL_STATUS_NULL_ARGUMENT);
    casepol_string_free(err);
    CHECK(casepol_check(p, e, NULL, &out, &err) == CASEPOL_STATUS_NULL_ARGUMENT);
    casepol_string_free(err);
    CHECK(casepol_check(p, e, "{}", NULL, &err) == CASEPOL_STATUS_NULL_ARGUMENT);
    casepol_string_free(err);
}

static void test_is_allowed(const CasepolPolicy *p, const CasepolEntities *e) {
    bool allowed = true;
    char *err = NULL;
    CHECK(casepol_is_allowed(p, e, "AA", "view", "supp-1", NULL, &allowed, NULL) == CASEPOL_STATUS_OK);
    CHECK(!allowed);
    CHECK(casepol_is_allowed(p, e, "BB", "view", "doc-1", NULL, &allowed, &err) == CASEPOL_STATUS_OK);
    CHECK(allowed);
    CHECK(err == NULL);
    /* Unknown names deny, with a message when asked for. */
    CHECK(casepol_is_allowed(p, e, "BB", "fly", "doc-1", NULL, &allowed, &err) == CASEPOL_STATUS_REQUEST);
    CHECK(!allowed);
    CHECK(has(err, "fly"));
    casepol_string_free(err);
    allowed = true;
    CHECK(casepol_is_allowed(p, e, "BB", "view", "nowhere", NULL, &allowed, NULL) == CASEPOL_STATUS_REQUEST);
    CHECK(!allowed);
    /* WorkZone has no modules: naming one is an error. */
    allowed = true;
    CHECK(casepol_is_allowed(p, e, "BB", "view", "doc-1", "Cases", &allowed, &err) == CASEPOL_STATUS_REQUEST);
    CHECK(!allowed);
    casepol_string_free(err);
    /* No resource: an action needs one. */
    CHECK(casepol_is_allowed(p, e, "BB", "view", NULL, NULL, &allowed, &err) == CASEPOL_STATUS_REQUEST);
    CHECK(!allowed);
    casepol_string_free(err);
    CHECK(casepol_is_allowed(p, e, "BB", "view", "\xfe", NULL, &allowed, &err) == CASEPOL_STATUS_INVALID_UTF8);
    casepol_string_free(err);
    CHECK(casepol_is_allowed(p, e, NULL, "view", "doc-1", NULL, &allowed, &err) == CASEPOL_STATUS_NULL_ARGUMENT);
    casepol_string_free(err);
    CHECK(casepol_is_allowed(p, e, "BB", NULL, "doc-1", NULL, &allowed, &err) == CASEPOL_STATUS_NULL_ARGUMENT);
    casepol_string_free(err);
    CHECK(casepol_is_allowed(p, e, "BB", "view", "doc-1", NULL, NULL, &err) == CASEPOL_STATUS_NULL_ARGUMENT);
    CHECK(has(err, "`allowed` is NULL"));
    casepol_string_free(err);
}

static void test_prepared(const CasepolPolicy *p, const CasepolEntities *e, const CasepolPolicy *other_policy,
                          const CasepolEntities *other_entities) {
    CasepolPrepared *r = NULL;
    char *err = NULL;
    bool allowed = false;
    CHECK(casepol_prepare(p, e, "{\"principal\": \"BB\", \"action\": \"edit\", \"resource\": \"doc-1\"}", &r,
                          &err) == CASEPOL_STATUS_OK);
    CHECK(r != NULL);
    CHECK(casepol_decide(p, e, r, &allowed) == CASEPOL_STATUS_OK);
    CHECK(allowed);
    /* With other entities or another policy: a deny, never an answer. */
    allowed = true;
    CHECK(casepol_decide(p, other_entities, r, &allowed) == CASEPOL_STATUS_REQUEST);
    CHECK(!allowed);
    allowed = true;
    CHECK(casepol_decide(other_policy, other_entities, r, &allowed) == CASEPOL_STATUS_REQUEST);
    CHECK(!allowed);
    CHECK(casepol_decide(p, e, NULL, &allowed) == CASEPOL_STATUS_NULL_ARGUMENT);
    CHECK(casepol_decide(p, e, r, NULL) == CASEPOL_STATUS_NULL_ARGUMENT);
    CHECK(casepol_decide(NULL, e, r, &allowed) == CASEPOL_STATUS_NULL_ARGUMENT);
    casepol_prepared_free(r);

    r = (CasepolPrepared *)0x1;
    CHECK(casepol_prepare(p, e, "{\"principal\": \"nobody\", \"action\": \"edit\", \"resource\": \"doc-1\"}", &r,
                          &err) == CASEPOL_STATUS_REQUEST);
    CHECK(r == NULL);
    CHECK(has(err, "nobody"));
    casepol_string_free(err);
    CHECK(casepol_prepare(p, e, "[]", &r, &err) == CASEPOL_STATUS_JSON);
    casepol_string_free(err);
    CHECK(casepol_prepare(p, e, "{}", NULL, &err) == CASEPOL_STATUS_NULL_ARGUMENT);
    casepol_string_free(err);
}

static void test_explain(const CasepolPolicy *p, const CasepolEntities *e) {
    char *out = NULL;
    char *err = NULL;
    const char *req = "{\"principal\": \"AA\", \"action\": \"view\", \"resource\": \"supp-1\"}";
    CHECK(casepol_explain(p, e, req, false, &out, &err) == CASEPOL_STATUS_OK);
    CHECK(has(out, "read access code"));
    CHECK(has(out, "[BB|AA] & [ ] & [PERS]"));
    casepol_string_free(out);
    CHECK(casepol_explain(p, e, req, true, &out, &err) == CASEPOL_STATUS_OK);
    CHECK(has(out, "\"decision\":{\"allowed\":false,\"layer\":\"read_code\",\"reason\":\"code_not_held\"}"));
    casepol_string_free(out);
    /* An unknown user is explained as the deny it is. */
    CHECK(casepol_explain(p, e, "{\"principal\": \"zoe\", \"action\": \"view\", \"resource\": \"doc-1\"}", false,
                          &out, &err) == CASEPOL_STATUS_OK);
    CHECK(has(out, "zoe"));
    casepol_string_free(out);
    CHECK(casepol_explain(p, e, "nope", false, &out, &err) == CASEPOL_STATUS_JSON);
    CHECK(out == NULL);
    casepol_string_free(err);
    CHECK(casepol_explain(p, e, req, false, NULL, &err) == CASEPOL_STATUS_NULL_ARGUMENT);
    casepol_string_free(err);
}

static void test_queries(const CasepolPolicy *p, const CasepolEntities *e) {
    char *out = NULL;
    char *err = NULL;

    CHECK(casepol_who_can(p, e, "{\"action\": \"view\", \"resource\": \"case-1\"}", &out, &err) ==
          CASEPOL_STATUS_OK);
    CHECK(has(out, "\"user\":\"BB\""));
    CHECK(has(out, "\"user\":\"CC\""));
    CHECK(!has(out, "\"user\":\"AA\""));
    CHECK(has(out, "\"denied\":4"));
    casepol_string_free(out);
    CHECK(casepol_who_can(p, e, "{\"action\": \"view\", \"resource\": \"nowhere\"}", &out, &err) ==
          CASEPOL_STATUS_REQUEST);
    CHECK(has(err, "nowhere"));
    casepol_string_free(err);
    CHECK(casepol_who_can(p, e, "{\"action\": \"view\"}", &out, &err) == CASEPOL_STATUS_JSON);
    CHECK(has(err, "resource"));
    casepol_string_free(err);

    CHECK(casepol_actions(p, e, "{\"principal\": \"BB\", \"resource\": \"case-1\"}", &out, &err) ==
          CASEPOL_STATUS_OK);
    CHECK(has(out, "\"allowed\":[\"view\",\"view_codes\",\"edit\",\"edit_codes\",\"close\"]"));
    CHECK(has(out, "\"transitions\":[{\"action\":\"close\",\"from\":\"Open\",\"to\":\"Closed\",\"decision\":\"allow\""));
    casepol_string_free(out);
    CHECK(casepol_actions(p, e, "{\"principal\": \"AA\", \"resource\": \"case-1\"}", &out, &err) ==
          CASEPOL_STATUS_OK);
    CHECK(has(out, "\"allowed\":[]"));
    casepol_string_free(out);
    CHECK(casepol_actions(p, e, "{\"principal\": \"nobody\", \"resource\": \"case-1\"}", &out, &err) ==
          CASEPOL_STATUS_REQUEST);
    casepol_string_free(err);

    CHECK(casepol_list(p, e, "{\"principal\": \"BB\", \"action\": \"view\"}", &out, &err) == CASEPOL_STATUS_OK);
    CHECK(has(out, "{\"resources\":[\"case-1\",\"contact-1\",\"contact-2\",\"doc-1\",\"doc-2\",\"supp-1\"],\"next\":null}"));
    casepol_string_free(out);
    /* Pages of two, following the cursor. */
    CHECK(casepol_list(p, e, "{\"principal\": \"BB\", \"action\": \"view\", \"limit\": 2}", &out, &err) ==
          CASEPOL_STATUS_OK);
    CHECK(has(out, "{\"resources\":[\"case-1\",\"contact-1\"],\"next\":\"contact-1\"}"));
    casepol_string_free(out);
    CHECK(casepol_list(p, e, "{\"principal\": \"BB\", \"action\": \"view\", \"limit\": 2, \"after\": \"contact-1\"}",
                       &out, &err) == CASEPOL_STATUS_OK);
    CHECK(has(out, "{\"resources\":[\"contact-2\",\"doc-1\"],\"next\":\"doc-1\"}"));
    casepol_string_free(out);
    CHECK(casepol_list(p, e, "{\"principal\": \"BB\", \"action\": \"view\", \"kind\": \"Document\"}", &out, &err) ==
          CASEPOL_STATUS_OK);
    CHECK(has(out, "{\"resources\":[\"doc-1\",\"doc-2\"],\"next\":null}"));
    casepol_string_free(out);
    CHECK(casepol_list(p, e, "{\"principal\": \"BB\", \"action\": \"view\", \"limit\": 0}", &out, &err) ==
          CASEPOL_STATUS_JSON);
    CHECK(has(err, "`limit` must be at least 1"));
    casepol_string_free(err);
    CHECK(casepol_list(p, e, "{\"principal\": \"BB\", \"action\": \"view\", \"kind\": \"Nope\"}", &out, &err) ==
          CASEPOL_STATUS_REQUEST);
    casepol_string_free(err);

    CHECK(casepol_filter(p, e, "{\"principal\": \"BB\", \"action\": \"view\", \"dialect\": \"sqlite\"}", &out,
                         &err) == CASEPOL_STATUS_OK);
    CHECK(has(out, "\"dialect\":\"sqlite\""));
    CHECK(has(out, "\"select\":\"SELECT r.id FROM resources r"));
    CHECK(has(out, "IN (SELECT value FROM json_each(?"));
    CHECK(has(out, "\"params\":["));
    casepol_string_free(out);
    CHECK(casepol_filter(p, e, "{\"principal\": \"BB\", \"action\": \"view\", \"dialect\": \"postgres\"}", &out,
                         &err) == CASEPOL_STATUS_OK);
    CHECK(has(out, "= ANY($"));
    casepol_string_free(out);
    CHECK(casepol_filter(p, e, "{\"principal\": \"BB\", \"action\": \"view\", \"dialect\": \"oracle\"}", &out,
                         &err) == CASEPOL_STATUS_JSON);
    CHECK(has(err, "oracle"));
    casepol_string_free(err);

    /* NULLs in every query. */
    CHECK(casepol_who_can(p, e, NULL, &out, &err) == CASEPOL_STATUS_NULL_ARGUMENT);
    casepol_string_free(err);
    CHECK(casepol_actions(p, NULL, "{}", &out, &err) == CASEPOL_STATUS_NULL_ARGUMENT);
    casepol_string_free(err);
    CHECK(casepol_list(NULL, e, "{}", &out, &err) == CASEPOL_STATUS_NULL_ARGUMENT);
    casepol_string_free(err);
    CHECK(casepol_filter(p, e, "{}", NULL, &err) == CASEPOL_STATUS_NULL_ARGUMENT);
    casepol_string_free(err);
}

static void test_apply(const CasepolPolicy *p, const CasepolEntities *e) {
    CasepolEntities *next = NULL;
    char *events = NULL;
    char *err = NULL;
    bool allowed = true;

    CHECK(casepol_entities_version(e) == 1);
    CHECK(casepol_is_allowed(p, e, "AA", "view", "case-1", NULL, &allowed, NULL) == CASEPOL_STATUS_OK);
    CHECK(!allowed);
    CHECK(casepol_apply(p, e, "{\"changes\": [{\"op\": \"set_code\", \"resource\": \"case-1\", \"read\": \"FIN\"}]}",
                        &next, &events, &err) == CASEPOL_STATUS_OK);
    CHECK(casepol_entities_version(next) == 2);
    CHECK(has(events, "\"version\":2"));
    CHECK(has(events, "{\"user\":\"AA\",\"resource\":\"case-1\",\"action\":\"view\",\"module\":null,\"access\":\"gained\",\"causes\":[1]}"));
    CHECK(has(events, "\"text\":\"`AA` gained"));
    casepol_string_free(events);
    /* The new version decides the new way; the old one is as it was. */
    CHECK(casepol_is_allowed(p, next, "AA", "view", "case-1", NULL, &allowed, NULL) == CASEPOL_STATUS_OK);
    CHECK(allowed);
    CHECK(casepol_is_allowed(p, e, "AA", "view", "case-1", NULL, &allowed, NULL) == CASEPOL_STATUS_OK);
    CHECK(!allowed);

    /* A change set with problems applies nothing. */
    CasepolEntities *refused = (CasepolEntities *)0x1;
    CHECK(casepol_apply(p, next, "{\"changes\": [{\"op\": \"set_state\", \"resource\": \"nowhere\", \"state\": \"Closed\"}]}",
                        &refused, &events, &err) == CASEPOL_STATUS_CHANGE_SET);
    CHECK(refused == NULL);
    CHECK(events == NULL);
    CHECK(has(err, "nowhere"));
    casepol_string_free(err);
    CHECK(casepol_apply(p, next, "{\"changes\": 1}", &refused, &events, &err) == CASEPOL_STATUS_CHANGE_SET);
    casepol_string_free(err);
    CHECK(casepol_apply(p, next, "{}", NULL, &events, &err) == CASEPOL_STATUS_NULL_ARGUMENT);
    casepol_string_free(err);
    CHECK(casepol_apply(p, next, "{}", &refused, NULL, &err) == CASEPOL_STATUS_NULL_ARGUMENT);
    casepol_string_free(err);
    CHECK(casepol_apply(p, next, NULL, &refused, &events, &err) == CASEPOL_STATUS_NULL_ARGUMENT);
    casepol_string_free(err);
    casepol_entities_free(next);
}

/* A policy that declares a request context: the by-name path gives none, so it is an error;
 * the JSON request gives it. */
static void test_context(const char *dir) {
    char path[4096];
    char *err = NULL;
    char *out = NULL;
    CasepolPolicy *p = NULL;
    CasepolEntities *e = NULL;
    snprintf(path, sizeof path, "%s/../github", dir);
    CHECK(casepol_policy_from_path(path, &p, &err) == CASEPOL_STATUS_OK);
    snprintf(path, sizeof path, "%s/../github/entities.json", dir);
    CHECK(casepol_entities_load_path(p, path, &e, &err) == CASEPOL_STATUS_OK);
    bool allowed = true;
    CHECK(casepol_is_allowed(p, e, "ann", "edit_issue", "issue-open", NULL, &allowed, &err) == CASEPOL_STATUS_REQUEST);
    CHECK(!allowed);
    CHECK(has(err, "context"));
    casepol_string_free(err);
    const char *req = "{\"principal\": \"ann\", \"action\": \"edit_issue\", \"resource\": \"issue-open\","
                      " \"context\": {\"authenticated\": true, \"mfa\": false}}";
    CHECK(casepol_check(p, e, req, &out, &err) == CASEPOL_STATUS_OK);
    CHECK(has(out, "\"decision\":\"allow\""));
    casepol_string_free(out);
    CasepolPrepared *r = NULL;
    CHECK(casepol_prepare(p, e, req, &r, &err) == CASEPOL_STATUS_OK);
    CHECK(casepol_decide(p, e, r, &allowed) == CASEPOL_STATUS_OK);
    CHECK(allowed);
    casepol_prepared_free(r);
    casepol_entities_free(e);
    casepol_policy_free(p);
}

/* Threads deciding on the same handles at once: every answer as on one thread. */
struct shared {
    const CasepolPolicy *p;
    const CasepolEntities *e;
    int wrong;
};

static void *decide_many(void *arg) {
    struct shared *s = arg;
    int wrong = 0;
    for (int i = 0; i < 2000; i++) {
        bool allowed = false;
        if (casepol_is_allowed(s->p, s->e, "BB", "view", "doc-1", NULL, &allowed, NULL) != CASEPOL_STATUS_OK ||
            !allowed)
            wrong++;
        if (casepol_is_allowed(s->p, s->e, "AA", "view", "supp-1", NULL, &allowed, NULL) != CASEPOL_STATUS_OK ||
            allowed)
            wrong++;
    }
    s->wrong = wrong;
    return NULL;
}

static void test_threads(const CasepolPolicy *p, const CasepolEntities *e) {
    pthread_t threads[4];
    struct shared shared[4];
    for (int i = 0; i < 4; i++) {
        shared[i] = (struct shared){p, e, -1};
        CHECK(pthread_create(&threads[i], NULL, decide_many, &shared[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        CHECK(shared[i].wrong == 0);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s POLICY_DIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    char *err = NULL;

    test_version_and_status_names();
    test_policy_errors();

    CasepolPolicy *policy = NULL;
    CHECK(casepol_policy_from_path(dir, &policy, &err) == CASEPOL_STATUS_OK);
    CHECK(err == NULL);
    CHECK(policy != NULL);
    CHECK(casepol_policy_warning_count(policy) == 0);
    char path[4096];
    snprintf(path, sizeof path, "%s/entities.json", dir);
    CasepolEntities *entities = NULL;
    CHECK(casepol_entities_load_path(policy, path, &entities, &err) == CASEPOL_STATUS_OK);
    CHECK(entities != NULL);
    if (policy == NULL || entities == NULL) {
        fprintf(stderr, "could not load %s: %s\n", dir, err ? err : "(no message)");
        casepol_string_free(err);
        return 1;
    }

    /* A second policy, from source, and entities of its own. */
    CasepolPolicy *small = NULL;
    CHECK(casepol_policy_from_source("small.casepol", SOURCE, &small, &err) == CASEPOL_STATUS_OK);
    CasepolEntities *small_entities = NULL;
    CHECK(casepol_entities_load(small, ENTITIES, &small_entities, &err) == CASEPOL_STATUS_OK);
    bool allowed = true;
    CHECK(casepol_is_allowed(small, small_entities, "bob", "view", "c1", NULL, &allowed, NULL) == CASEPOL_STATUS_OK);
    CHECK(!allowed);
    /* Entities of one policy decided with another: an error, never an answer. */
    allowed = true;
    CHECK(casepol_is_allowed(policy, small_entities, "ann", "view", "c1", NULL, &allowed, &err) ==
          CASEPOL_STATUS_REQUEST);
    CHECK(!allowed);
    CHECK(has(err, "another policy"));
    casepol_string_free(err);

    test_entities_errors(policy, dir);
    test_check(policy, entities);
    test_is_allowed(policy, entities);
    test_prepared(policy, entities, small, small_entities);
    test_explain(policy, entities);
    test_queries(policy, entities);
    test_apply(policy, entities);
    test_threads(policy, entities);
    test_context(dir);

    casepol_entities_free(small_entities);
    casepol_policy_free(small);
    casepol_entities_free(entities);
    casepol_policy_free(policy);

    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

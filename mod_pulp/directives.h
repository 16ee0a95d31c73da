/* The httpd.conf directives of mod_pulp, each with a default and a merge rule. */
#ifndef PULP_DIRECTIVES_H
#define PULP_DIRECTIVES_H

#include <httpd.h>
#include <http_config.h>

/* Documentation of one directive, checked by the unit tests against pulp_directives[]. */
typedef struct pulp_directive_info {
    const char *name;
    const char *default_value;
    /* How a virtual host's value combines with the main server's. */
    const char *merge_rule;
} pulp_directive_info_t;

extern const command_rec pulp_directives[];
extern const pulp_directive_info_t pulp_directive_info[];

void *pulp_create_server_config(apr_pool_t *pool, server_rec *s);
void *pulp_merge_server_config(apr_pool_t *pool, void *base, void *add);

struct pulp_server_config;
/* Fills what no directive set with its default; run once per server after the merge. */
void pulp_config_apply_defaults(struct pulp_server_config *config);

#endif

/* The access check of the published yum trees: protected repositories need a TLS client
 * certificate signed by their CA (repo_access.c). */
#ifndef PULP_REPO_ACCESS_H
#define PULP_REPO_ACCESS_H

/* Registers the access_checker hook; called from register_hooks. */
void pulp_repo_access_register(void);

#endif

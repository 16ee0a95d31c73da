/* The output filter that turns httpd's own error pages under /pulp/api into Pulp error
 * bodies. */
#ifndef PULP_ERROR_FILTER_H
#define PULP_ERROR_FILTER_H

#include "mod_pulp.h"

/* Registers the filter and the insert_error_filter hook; called from register_hooks. */
void pulp_error_filter_register(void);

#endif

/* The output filter that turns httpd's own error pages under /pulp/api, and the errors
 * that the access check of the published trees raises, into Pulp error bodies. */
#ifndef PULP_ERROR_FILTER_H
#define PULP_ERROR_FILTER_H

#include "mod_pulp.h"

/* The r->notes entry with the message of an error that the module returns from a hook
 * rather than a handler; the error body carries it in place of the generic message. */
#define PULP_ERROR_MESSAGE_NOTE "pulp-error-message"

/* Registers the filter and the insert_error_filter hook; called from register_hooks. */
void pulp_error_filter_register(void);

#endif

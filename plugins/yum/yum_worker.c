/* The yum plugin's operations for the worker's sync and publish task kinds. */
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "pulp_storage.h"
#include "yum.h"
#include "yum_tree.h"

static const char *scratchpad_url(json_object *scratchpad)
{
    json_object *value = NULL;

    if (!scratchpad || !json_object_object_get_ex(scratchpad, "relative_url", &value) ||
        !json_object_is_type(value, json_type_string))
        return NULL;
    return json_object_get_string(value);
}

pulp_status_t yum_distributor_remove(const char *storage_dir, const char *repo_id,
                                     const char *distributor_id, json_object *config,
                                     json_object *scratchpad, pulp_error_t *error)
{
    static const char *const protocols[] = { "http", "https" };
    const char *urls[2] = { yum_config_string(config, "relative_url"),
                            scratchpad_url(scratchpad) };
    char master_dir[PATH_MAX];

    for (size_t p = 0; p < 2; p++) {
        for (size_t u = 0; u < 2; u++) {
            char normal[PULP_STORAGE_PATH_MAX];

            if (!urls[u] || pulp_storage_path_normalize(urls[u], strlen(urls[u]), normal,
                                                        sizeof normal, NULL) != PULP_OK)
                continue;
            if (yum_tree_unserve(storage_dir, protocols[p], normal, repo_id, distributor_id,
                                 error) != PULP_OK)
                return error->status;
        }
    }
    if (yum_tree_master_dir(storage_dir, repo_id, distributor_id, master_dir,
                            sizeof master_dir, error) != PULP_OK ||
        pulp_storage_remove_tree(master_dir, error) != PULP_OK)
        return error->status;

    /* The repository's folder goes with its last distributor; rmdir leaves it otherwise. */
    *strrchr(master_dir, '/') = '\0';
    rmdir(master_dir);
    return PULP_OK;
}

const pulp_importer_ops_t pulp_yum_importer_ops = {
    YUM_IMPORTER_TYPE,
    yum_sync_run,
};

const pulp_distributor_ops_t pulp_yum_distributor_ops = {
    YUM_DISTRIBUTOR_TYPE,
    yum_publish_run,
    yum_distributor_remove,
};

#include "pulp_password.h"

#include <crypt.h>
#include <string.h>

int pulp_password_hash(const char *password, char *hash, size_t hash_size)
{
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data data;
    const char *result;

    if (!crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof salt))
        return -1;

    memset(&data, 0, sizeof data);
    result = crypt_r(password, salt, &data);
    if (!result || result[0] == '*' || strlen(result) >= hash_size)
        return -1;

    strcpy(hash, result);
    return 0;
}

int pulp_password_verify(const char *password, const char *hash)
{
    struct crypt_data data;
    const char *result;
    size_t length;
    unsigned char difference = 0;

    if (!password || !hash || !*hash)
        return 0;

    memset(&data, 0, sizeof data);
    result = crypt_r(password, hash, &data);
    if (!result || result[0] == '*')
        return 0;

    length = strlen(hash);
    if (strlen(result) != length)
        return 0;
    for (size_t i = 0; i < length; i++)
        difference |= (unsigned char)(result[i] ^ hash[i]);
    return difference == 0;
}

/* Password hashing with crypt(3): yescrypt, salted, slow by design. */
#ifndef PULP_PASSWORD_H
#define PULP_PASSWORD_H

#include <stddef.h>

/* Writes a new yescrypt hash of password into hash; returns 0, or -1 on failure. */
int pulp_password_hash(const char *password, char *hash, size_t hash_size);

/* Returns 1 when password matches the stored hash, 0 otherwise. Takes the time of one hash. */
int pulp_password_verify(const char *password, const char *hash);

#endif

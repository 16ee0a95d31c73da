#ifndef PULP_UUID_H
#define PULP_UUID_H

#define PULP_UUID_LENGTH 36

/* Writes a random (version 4) UUID in its canonical text form; returns 0, or -1 when the
 * kernel's random source fails. */
int pulp_uuid_generate(char out[PULP_UUID_LENGTH + 1]);

/* Returns 1 when text is a UUID in canonical form (any case). */
int pulp_uuid_is_valid(const char *text);

#endif

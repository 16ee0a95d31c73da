#include "pulp_uuid.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

int pulp_uuid_generate(char out[PULP_UUID_LENGTH + 1])
{
    uint8_t bytes[16];

    if (getrandom(bytes, sizeof bytes, 0) != (ssize_t)sizeof bytes)
        return -1;

    bytes[6] = (bytes[6] & 0x0f) | 0x40;  /* version 4 */
    bytes[8] = (bytes[8] & 0x3f) | 0x80;  /* RFC 4122 variant */

    snprintf(out, PULP_UUID_LENGTH + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
             bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14],
             bytes[15]);
    return 0;
}

int pulp_uuid_is_valid(const char *text)
{
    if (!text || strlen(text) != PULP_UUID_LENGTH)
        return 0;

    for (int i = 0; i < PULP_UUID_LENGTH; i++) {
        int dash = (i == 8 || i == 13 || i == 18 || i == 23);

        if (dash ? text[i] != '-' : !isxdigit((unsigned char)text[i]))
            return 0;
    }
    return 1;
}

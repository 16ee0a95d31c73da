/* pulp-worker: placeholder entry point until the worker lands. */
#include <stdio.h>

int main(void)
{
    fputs("pulp-worker: not built yet\n", stderr);
    return 1;
}

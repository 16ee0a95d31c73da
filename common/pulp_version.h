#ifndef PULP_VERSION_H
#define PULP_VERSION_H

/* The product's version, reported by /status/ and the programs' --version. */
#define PULP_VERSION "0.1.0"

#endif

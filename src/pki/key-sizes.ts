/**
 * The RSA sizes skycert makes: never below what Go and current OpenSSL policies
 * accept. A module of its own so that the command definitions read them without
 * loading the key generator (and node:crypto with it).
 */
export const MIN_RSA_BITS = 2048;
export const MAX_RSA_BITS = 16384;

/* SPDX-License-Identifier: MIT */
/*
 * Weak-password refusal for bgw-authdb passwd. The NOTICE programme (seeds/
 * 002) found IoT devices taken over with "password" and "123456"; the
 * Mirai-family botnets try a short built-in list of factory defaults. We
 * refuse:
 *  - fewer than PWCHECK_MIN_LEN bytes, or more than SCRAM_PASSWORD_MAX;
 *  - fewer than 3 of 4 character classes (lower, upper, digit, other)
 *    unless at least PWCHECK_PASSPHRASE_LEN long (a passphrase);
 *  - the user name (or its reverse) anywhere in it, case-insensitively;
 *  - a built-in list of default/botnet passwords, compared after folding
 *    case, common substitutions (0->o, 1->l, 3->e, 4->a, @->a, $->s, 5->s,
 *    7->t) and trailing digits and punctuation ("Passw0rd123!" is
 *    "password");
 *  - runs or sequences of one character ("aaaaaaaaaa", "1234567890",
 *    "qwertyuiop");
 *  - a shorter unit repeated ("passwordpassword");
 *  - control characters (and NUL);
 *  - fewer than PWCHECK_MIN_BITS by zxcvbn's estimate (dictionary words
 *    with l33t and capitals, keyboard walks such as "ZAQ!2wsxCDE#",
 *    repeats, sequences, the user name), at every length;
 *  - and, when built with libpwquality, whatever its full check refuses
 *    (cracklib's dictionary, at every length).
 */
#ifndef BGW_AUTHDB_PWCHECK_H
#define BGW_AUTHDB_PWCHECK_H

#include <stddef.h>

#define PWCHECK_MIN_LEN		10
#define PWCHECK_PASSPHRASE_LEN	16
#define PWCHECK_MIN_BITS	45.0	/* log2 of zxcvbn's guesses */

/* 0 if acceptable; -EINVAL and *why (a static string) if refused. */
int pwcheck(const char *user, const char *pw, size_t len, const char **why);

#endif

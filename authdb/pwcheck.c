/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#ifdef HAVE_PWQUALITY
#include <pwquality.h>
#endif
#include <zxcvbn.h>

#include "pwcheck.h"
#include "scram.h"

/*
 * Factory defaults and the dictionaries of IoT botnets (Mirai's scanner
 * list and its successors), plus the most common leaked passwords, folded
 * as pw_fold() does. Short ones are refused by length anyway; they stay so
 * that a folded long variant ("admin123456") is still caught.
 */
static const char *const pw_defaults[] = {
	"password", "passwort", "pass", "admin", "administrator", "root",
	"toor", "default", "guest", "user", "support", "service", "supervisor",
	"system", "tech", "test", "ubnt", "changeme", "letmein", "welcome",
	"qwerty", "qwertz", "azerty", "iloveyou", "monkey", "dragon", "master",
	"secret", "login", "abc", "abcabc", "alpine", "raspberry", "dreambox",
	"realtek", "vizxv", "xcelll", "juantech", "anko", "zlxx", "klv",
	"meinsm", "smcadmin", "xmhdipc", "hislicon", "jvbzd", "ikwb",
	"zte", "huawei", "bluetooth", "gateway", "router", "camera",
	"sunshine", "princess", "football", "baseball", "shadow", "superman",
	"trustno", "adminadmin", "rootroot", "passpass", "useruser",
	"administrator", "manager", "operator", "private", "public",
};

/* Lower-case, undo common substitutions, drop trailing digits/punctuation. */
static size_t pw_fold(const char *pw, size_t len, char one, char *out, size_t cap)
{
	size_t i, o = 0;

	for (i = 0; i < len && o + 1 < cap; i++) {
		char c = (char)tolower((unsigned char)pw[i]);

		switch (c) {
		case '0': c = 'o'; break;
		case '1': c = one; break;
		case '3': c = 'e'; break;
		case '4': case '@': c = 'a'; break;
		case '5': case '$': c = 's'; break;
		case '7': c = 't'; break;
		}
		out[o++] = c;
	}
	out[o] = '\0';
	/* Trailing digits and punctuation of the original: "password123!" */
	i = len;
	while (i > 0 && (isdigit((unsigned char)pw[i - 1]) ||
			 ispunct((unsigned char)pw[i - 1])))
		i--;
	if (i > 0 && i < o)
		out[i] = '\0';
	return strlen(out);
}

static bool pw_is_sequence(const char *pw, size_t len)
{
	static const char *const rows[] = {
		"0123456789", "9876543210", "abcdefghijklmnopqrstuvwxyz",
		"zyxwvutsrqponmlkjihgfedcba", "qwertyuiopasdfghjklzxcvbnm",
		"1qaz2wsx3edc4rfv5tgb6yhn", "qwertzuiop", "azertyuiop",
	};
	char low[SCRAM_PASSWORD_MAX + 1];
	size_t i, distinct = 0;
	bool seen[256] = { false };

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)tolower((unsigned char)pw[i]);

		low[i] = (char)c;
		if (!seen[c]) {
			seen[c] = true;
			distinct++;
		}
	}
	low[len] = '\0';
	if (distinct <= 3)
		return true;	/* "aaaaaaaaaa", "abababababab" */
	/* A prefix-repeated walk along a row ("1234567890", "qwertyuiop12"). */
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t rl = strlen(rows[i]), k = 0;

		while (k < len && low[k] == rows[i][k % rl])
			k++;
		if (k >= len - len / 4)
			return true;
	}
	return false;
}

/*
 * The whole password is one shorter unit repeated ("passwordpassword",
 * "Abc1!Abc1!"): its strength is the unit's, and guessers try doubling.
 */
static bool pw_is_repeated_unit(const char *pw, size_t len)
{
	size_t p, i;

	for (p = 1; p <= len / 2; p++) {
		if (len % p)
			continue;
		for (i = p; i < len; i++)
			if (tolower((unsigned char)pw[i]) != tolower((unsigned char)pw[i - p]))
				break;
		if (i == len)
			return true;
	}
	return false;
}

static bool contains_ci(const char *hay, size_t hlen, const char *needle)
{
	size_t n = strlen(needle), i, j;

	if (!n || n > hlen)
		return false;
	for (i = 0; i + n <= hlen; i++) {
		for (j = 0; j < n; j++)
			if (tolower((unsigned char)hay[i + j]) !=
			    tolower((unsigned char)needle[j]))
				break;
		if (j == n)
			return true;
	}
	return false;
}

/* Matches a default whole, or one decorated with a few extra characters. */
static bool pw_is_default(const char *pw, size_t len, char one, char *folded,
			  size_t cap)
{
	size_t i, fl, dl;

	fl = pw_fold(pw, len, one, folded, cap);
	for (i = 0; i < sizeof(pw_defaults) / sizeof(pw_defaults[0]); i++) {
		dl = strlen(pw_defaults[i]);
		if (!strcmp(folded, pw_defaults[i]) ||
		    (dl >= 5 && fl < dl + 6 && contains_ci(folded, fl, pw_defaults[i])))
			return true;
	}
	return false;
}

int pwcheck(const char *user, const char *pw, size_t len, const char **why)
{
	char folded[SCRAM_PASSWORD_MAX + 1], pwz[SCRAM_PASSWORD_MAX + 1], rev[64];
	bool lower = false, upper = false, digit = false, other = false;
	size_t i, n, classes;
	int ret = -EINVAL;

	*why = NULL;
	if (!pw) {
		*why = "no password";
		return -EINVAL;
	}
	if (len < PWCHECK_MIN_LEN) {
		*why = "too short (at least 10 characters)";
		goto out;
	}
	if (len > SCRAM_PASSWORD_MAX) {
		*why = "too long (at most 1024 bytes)";
		goto out;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)pw[i];

		if (c < 0x20 || c == 0x7f) {
			*why = "contains a control character";
			goto out;
		}
		if (islower(c))
			lower = true;
		else if (isupper(c))
			upper = true;
		else if (isdigit(c))
			digit = true;
		else
			other = true;
	}
	classes = (size_t)lower + upper + digit + other;
	if (classes < 3 && len < PWCHECK_PASSPHRASE_LEN) {
		*why = "too simple: use 3 of lower case, upper case, digits and "
		       "symbols, or a passphrase of 16 or more characters";
		goto out;
	}
	if (user && user[0]) {
		n = strlen(user);
		for (i = 0; i < n && i < sizeof(rev) - 1; i++)
			rev[i] = user[n - 1 - i];
		rev[i] = '\0';
		/* Substrings only for names of 3 or more: "al" is in too
		 * many good passwords to mean anything. */
		if ((n >= 3 && (contains_ci(pw, len, user) || contains_ci(pw, len, rev))) ||
		    (n < 3 && n == len && contains_ci(pw, len, user))) {
			*why = "contains the user name";
			goto out;
		}
	}
	if (pw_is_default(pw, len, 'l', folded, sizeof(folded)) ||
	    pw_is_default(pw, len, 'i', folded, sizeof(folded))) {
		*why = "a well-known default password (botnets try these first)";
		goto out;
	}
	if (pw_is_sequence(pw, len)) {
		*why = "a keyboard sequence or repeated characters";
		goto out;
	}
	if (pw_is_repeated_unit(pw, len)) {
		*why = "a shorter password repeated";
		goto out;
	}
	memcpy(pwz, pw, len);
	pwz[len] = '\0';
	{
		/*
		 * zxcvbn's estimate of the guesses an attacker needs, in bits:
		 * it finds dictionary words (with l33t and capitals), keyboard
		 * walks on QWERTY and keypad layouts in any direction
		 * ("ZAQ!2wsxCDE#": 38 bits), repeats and sequences, and the
		 * user's name. At PWCHECK_MIN_BITS (2^45, about 3.5e13
		 * guesses) a stolen authdb costs a GPU years at PBKDF2-SHA-256
		 * with 16384 iterations.
		 */
		const char *names[2] = { user && user[0] ? user : NULL, NULL };
		double bits = ZxcvbnMatch(pwz, names, NULL);

		if (bits < PWCHECK_MIN_BITS) {
			*why = "too easy to guess (a dictionary word, a keyboard walk, "
			       "a repetition or a sequence); a few unrelated words "
			       "make a good passphrase";
			goto out;
		}
	}
#ifdef HAVE_PWQUALITY
	{
		static char msg[256];
		pwquality_settings_t *pq = pwquality_default_settings();
		void *aux = NULL;
		int score;

		if (!pq) {
			*why = "cannot initialise libpwquality";
			goto out;
		}
		/*
		 * The full check at every length, with our minimum; not the
		 * site's pwquality.conf, so that the rule is the same on every
		 * gateway (and in the tests).
		 */
		if (pwquality_set_int_value(pq, PWQ_SETTING_MIN_LENGTH, PWCHECK_MIN_LEN) ||
		    pwquality_set_int_value(pq, PWQ_SETTING_DICT_CHECK, 1) ||
		    pwquality_set_int_value(pq, PWQ_SETTING_USER_CHECK, 1)) {
			*why = "cannot configure libpwquality";
			pwquality_free_settings(pq);
			goto out;
		}
		score = pwquality_check(pq, pwz, NULL, user, &aux);
		/* Without cracklib's dictionary every check would fail;
		 * our own rules above still apply then. */
		if (score == PWQ_ERROR_CRACKLIB_CHECK && aux &&
		    strstr((const char *)aux, "dictionary") &&
		    strstr((const char *)aux, "error"))
			score = 0;
		if (score < 0) {
			pwquality_strerror(msg, sizeof(msg), score, aux);
			*why = msg;
			pwquality_free_settings(pq);
			goto out;
		}
		pwquality_free_settings(pq);
	}
#endif
	ret = 0;
out:
	explicit_bzero(folded, sizeof(folded));
	explicit_bzero(pwz, sizeof(pwz));
	return ret;
}

/* SPDX-License-Identifier: MIT */
/* Weak and default passwords refused; reasonable ones accepted. */
#include "config.h"

#include <string.h>

#include "check_main.h"
#include "pwcheck.h"

static const char *const weak[] = {
	"", "pencil", "123456", "password", "admin", "root", "12345678",
	"qwerty", "default",
	"1234567890", "qwertyuiop", "aaaaaaaaaaaa", "abababababab",
	"Password123!", "P@ssw0rd2024", "Adm1n1strator!", "administrator",
	"Ch4ngeMe!99", "Welcome2bgw!", "Raspberry#1",
	"xAlice-2024!",		/* contains the user name */
	"ecila#Secure9",	/* contains it reversed */
	"lowercaseonly",	/* two classes, short of a passphrase */
	"tab\there1A!x",	/* control character */
	/* Passed before: 16+ characters skipped the class rule, and neither
	 * the default list nor libpwquality saw the repetition or the walk. */
	"passwordpassword",
	"ZAQ!2wsxCDE#",		/* keyboard walk down the columns */
	"!QAZ@WSX#EDC",		/* the same walk, the other way */
	"aaaaaaaaaaaaaaaaaaaa", "qwertyuiopasdfgh", "1q2w3e4r5t6y",
	"Abc1!Abc1!Abc1!",	/* a unit repeated */
	"Welcome2bgw!",		/* a word, a digit, a word: 39 bits */
};

static const char *const strong[] = {
	"Tr0ub4dor&3x",
	"correct horse battery staple",
	"glacier anvil tulip orbit",
	"Harbour-Kite-37-Plum",
	"k9#Vm2!qLz7p",
	"blue-Lantern-47-kettle",
};

START_TEST(test_weak_refused)
{
	const char *why = NULL;

	ck_assert_int_lt(pwcheck("alice", weak[_i], strlen(weak[_i]), &why), 0);
	ck_assert_ptr_nonnull(why);
}
END_TEST

START_TEST(test_strong_accepted)
{
	const char *why = NULL;

	ck_assert_msg(pwcheck("alice", strong[_i], strlen(strong[_i]), &why) == 0,
		      "%s refused: %s", strong[_i], why ? why : "");
}
END_TEST

START_TEST(test_short_user_names)
{
	const char *why;

	/* A two-letter name is not searched inside passwords... */
	ck_assert_int_eq(pwcheck("al", "Tr0ub4dor&3xal", 14, &why), 0);
	/* ...a longer one is, in either direction. */
	ck_assert_int_lt(pwcheck("bob", "Tr0ub4dor&3xBoB", 15, &why), 0);
}
END_TEST

START_TEST(test_embedded_nul)
{
	const char *why;

	ck_assert_int_lt(pwcheck("alice", "Abcdef\0gh1!xyz", 15, &why), 0);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("pwcheck");
	TCase *tc = tcase_create("pwcheck");

	tcase_add_loop_test(tc, test_weak_refused, 0, sizeof(weak) / sizeof(weak[0]));
	tcase_add_loop_test(tc, test_strong_accepted, 0,
			    sizeof(strong) / sizeof(strong[0]));
	tcase_add_test(tc, test_embedded_nul);
	tcase_add_test(tc, test_short_user_names);
	suite_add_tcase(s, tc);
	return s;
}

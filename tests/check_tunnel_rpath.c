/* SPDX-License-Identifier: MIT */
/*
 * tunnel/rpath.c: which of a relay name's addresses the client asks
 * (tun_rpath_addrs), driven with made-up resolver lists: each address
 * once, the first one's family only, the cap said.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>

#include "check_main.h"
#include "rpath.h"

#define AI_MAX 8

static struct sockaddr_in v4[AI_MAX];
static struct sockaddr_in6 v6[AI_MAX];
static struct addrinfo ai[AI_MAX];

/* Entry i of a list: "a.b.c.d" or "v6", port. */
static void ai_set(unsigned i, const char *addr, uint16_t port)
{
	memset(&ai[i], 0, sizeof(ai[i]));
	ai[i].ai_socktype = SOCK_DGRAM;
	if (strchr(addr, ':')) {
		memset(&v6[i], 0, sizeof(v6[i]));
		v6[i].sin6_family = AF_INET6;
		v6[i].sin6_port = htons(port);
		ck_assert_int_eq(inet_pton(AF_INET6, addr, &v6[i].sin6_addr), 1);
		ai[i].ai_family = AF_INET6;
		ai[i].ai_addr = (struct sockaddr *)&v6[i];
		ai[i].ai_addrlen = sizeof(v6[i]);
	} else {
		memset(&v4[i], 0, sizeof(v4[i]));
		v4[i].sin_family = AF_INET;
		v4[i].sin_port = htons(port);
		ck_assert_int_eq(inet_pton(AF_INET, addr, &v4[i].sin_addr), 1);
		ai[i].ai_family = AF_INET;
		ai[i].ai_addr = (struct sockaddr *)&v4[i];
		ai[i].ai_addrlen = sizeof(v4[i]);
	}
	ai[i].ai_next = NULL;
	if (i)
		ai[i - 1].ai_next = &ai[i];
}

static uint32_t v4_of(const struct sockaddr_storage *s)
{
	return ntohl(((const struct sockaddr_in *)(const void *)s)->sin_addr.s_addr);
}

/* The resolver gives one address twice (a hosts file with two lines): asked once. */
START_TEST(duplicate_address_once)
{
	struct sockaddr_storage ras[TUN_RPATH_ADDRS];
	socklen_t lens[TUN_RPATH_ADDRS];
	bool more = true;

	ai_set(0, "203.0.113.10", 3479);
	ai_set(1, "203.0.113.11", 3479);
	ai_set(2, "203.0.113.10", 3479);
	ai_set(3, "203.0.113.11", 3479);
	ck_assert_uint_eq(tun_rpath_addrs(ai, ras, lens, &more), 2);
	ck_assert(!more);
	ck_assert_uint_eq(v4_of(&ras[0]), 0xcb00710a);
	ck_assert_uint_eq(v4_of(&ras[1]), 0xcb00710b);
	ck_assert_uint_eq(lens[0], sizeof(struct sockaddr_in));
	/* Another port is another relay. */
	ai_set(0, "203.0.113.10", 3479);
	ai_set(1, "203.0.113.10", 3480);
	ck_assert_uint_eq(tun_rpath_addrs(ai, ras, lens, &more), 2);
	/* IPv6 too. */
	ai_set(0, "2001:db8::1", 3479);
	ai_set(1, "2001:db8::1", 3479);
	ai_set(2, "2001:db8::2", 3479);
	ck_assert_uint_eq(tun_rpath_addrs(ai, ras, lens, &more), 2);
	ck_assert_uint_eq(lens[1], sizeof(struct sockaddr_in6));
}
END_TEST

/* One socket: the first address's family only. */
START_TEST(first_family_only)
{
	struct sockaddr_storage ras[TUN_RPATH_ADDRS];
	socklen_t lens[TUN_RPATH_ADDRS];
	bool more = true;

	ai_set(0, "2001:db8::1", 3479);
	ai_set(1, "203.0.113.10", 3479);
	ai_set(2, "2001:db8::2", 3479);
	ck_assert_uint_eq(tun_rpath_addrs(ai, ras, lens, &more), 2);
	ck_assert_int_eq(ras[0].ss_family, AF_INET6);
	ck_assert_int_eq(ras[1].ss_family, AF_INET6);
	ck_assert(!more);
}
END_TEST

/* Duplicates take no place under the cap; what is past it is said. */
START_TEST(cap_counts_distinct)
{
	struct sockaddr_storage ras[TUN_RPATH_ADDRS];
	socklen_t lens[TUN_RPATH_ADDRS];
	bool more = true;
	static const char *const a[] = { "192.0.2.1", "192.0.2.1", "192.0.2.2", "192.0.2.3",
					 "192.0.2.2", "192.0.2.4", "192.0.2.4" };
	unsigned i, n = sizeof(a) / sizeof(a[0]);

	for (i = 0; i < n; i++)
		ai_set(i, a[i], 3479);
	ck_assert_uint_eq(tun_rpath_addrs(ai, ras, lens, &more), 4);
	ck_assert(!more);
	ck_assert_uint_eq(v4_of(&ras[3]), 0xc0000204);
	ai_set(n, "192.0.2.5", 3479);
	ck_assert_uint_eq(tun_rpath_addrs(ai, ras, lens, &more), 4);
	ck_assert(more);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("tunnel_rpath");
	TCase *tc = tcase_create("addrs");

	tcase_add_test(tc, duplicate_address_once);
	tcase_add_test(tc, first_family_only);
	tcase_add_test(tc, cap_counts_distinct);
	suite_add_tcase(s, tc);
	return s;
}

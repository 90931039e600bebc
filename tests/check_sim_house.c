/* SPDX-License-Identifier: MIT */
/*
 * The scenario parser (man/bgw-sim.5) and the RD's data and crypto:
 * good files, and every malformed case with its FILE:LINE message.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "rpa.h"
#include "sim.h"
#include "sim_int.h"

static char err[512];

static int parse(const char *text, struct sim_house **h)
{
	err[0] = '\0';
	return sim_house_parse_buf("t.house", text, strlen(text), h, err, sizeof(err));
}

/* The text must be refused with exactly this message. */
static void bad(const char *text, const char *msg)
{
	struct sim_house *h = NULL;

	ck_assert_int_lt(parse(text, &h), 0);
	ck_assert_ptr_null(h);
	ck_assert_msg(!strcmp(err, msg), "got '%s', want '%s'", err, msg);
}

START_TEST(default_house)
{
	struct sim_house *h = sim_house_default();
	const char *ids[] = { "lock", "thermometer", "bulb", "speaker", "cuff" };
	size_t i;

	ck_assert_ptr_nonnull(h);
	ck_assert_uint_eq(h->n, 5);
	for (i = 0; i < 5; i++) {
		ck_assert_str_eq(h->rd[i].id, ids[i]);
		ck_assert(h->rd[i].has_addr);
		ck_assert(h->rd[i].discoverable && h->rd[i].connectable);
	}
	ck_assert_uint_eq(h->rd[0].addr_type, BDADDR_RANDOM);
	ck_assert_uint_eq(h->rd[3].tech, SIM_TECH_BREDR);
	ck_assert_uint_eq(h->rd[2].tech, SIM_TECH_BREDR | SIM_TECH_LE);
	ck_assert_uint_eq(h->rd[1].chars[0].uuid, 0x2a6e);
	ck_assert_uint_eq(h->rd[1].chars[0].len, 2);
	sim_house_free(h);
}
END_TEST

START_TEST(full_example)
{
	static const char text[] =
		"# a comment\r\n"
		"\n"
		"device door_lock-2\n"
		"  address C1:02:03:04:05:06 random\n"
		"  type le\n"
		"  name   Back Door  \n"
		"  appearance 0x0700\n"
		"  rssi -80\n"
		"  discoverable no\n"
		"  connectable yes\n"
		"  uuid16 180F\n"
		"  adv 020106\n"
		"  service 180f\n"
		"  characteristic 2a19 read,notify 64\n"
		"  characteristic 2a00 read,write,write-without-response \"hi there\"\n"
		"device radio\n"
		"  address 00:11:22:33:44:55\n"
		"  type dual\n"
		"  class 0x200404\n"
		"  eir 0909526164696f2f6f6e\n"
		"  connect-in 2500\n";
	struct sim_house *h = NULL;

	ck_assert_int_eq(parse(text, &h), 0);
	ck_assert_uint_eq(h->n, 2);
	ck_assert_str_eq(h->rd[0].name, "Back Door");
	ck_assert_int_eq(h->rd[0].rssi, -80);
	ck_assert(!h->rd[0].discoverable);
	ck_assert_uint_eq(h->rd[0].adv_len, 3);
	ck_assert_uint_eq(h->rd[0].n_chars, 2);
	ck_assert_uint_eq(h->rd[0].chars[1].len, 8);
	ck_assert_uint_eq(h->rd[0].chars[1].props,
			  SIM_PROP_READ | SIM_PROP_WRITE | SIM_PROP_WRITE_NR);
	ck_assert_str_eq(h->rd[1].name, "radio");	/* defaults to the id */
	ck_assert_uint_eq(h->rd[1].cod, 0x200404);
	ck_assert_int_eq(h->rd[1].connect_in_ms, 2500);
	ck_assert_uint_eq(h->rd[1].eir_len, 10);
	sim_house_free(h);
}
END_TEST

START_TEST(truncated)
{
	/* A file cut after the device line: no address. */
	bad("device lock\n", "t.house:1: device 'lock' has no address");
	bad("device a\n address 00:11:22:33:44:55\ndevice b\n",
	    "t.house:3: device 'b' has no address");
	bad("", "t.house:0: no device in the scenario");
	bad("device x\n address 00:11:22:33:44:55\n characteristic 2a19 read",
	    "t.house:3: characteristic before any service");
	bad("device x\n address 00:11:22:33:44:55\n service 180f\n characteristic 2a19 read",
	    "t.house:4: missing characteristic value");
	bad("device x\n address 00:11:22:33:44:55\n service 180f\n"
	    " characteristic 2a19 read \"abc", "t.house:4: unterminated string value \"abc");
}
END_TEST

START_TEST(oversized)
{
	char *t = malloc(4096);
	size_t i;

	strcpy(t, "device x\n name ");
	for (i = strlen(t); i < 15 + 249; i++)
		t[i] = 'n';
	t[i] = '\0';
	bad(t, "t.house:2: name too long (at most 248 bytes)");
	memset(t, 'a', 1100);
	memcpy(t, "# ", 2);
	t[1100] = '\0';
	bad(t, "t.house:1: line too long (1100 bytes, at most 1024)");
	strcpy(t, "device x\n address 00:11:22:33:44:55\n adv ");
	for (i = strlen(t); i < 43 + 64; i++)
		t[i] = 'a';
	t[i] = '\0';
	bad(t, "t.house:3: adv too long (at most 31 bytes)");
	bad("device x\n address 00:11:22:33:44:55\n advertising loud\n",
	    "t.house:3: bad advertising 'loud' (legacy, extended or coded)");
	bad("device x\n address 00:11:22:33:44:55\n ext-adv-len 1651\n",
	    "t.house:3: bad ext-adv-len '1651' (0-1650 octets)");
	t[0] = '\0';
	for (i = 0; i < SIM_MAX_RDS + 1; i++)
		sprintf(t + strlen(t), "device d%zu\n", i);
	bad(t, "t.house:33: too many devices (at most 32)");
	strcpy(t, "device x\n service 180f\n characteristic 2a19 read ");
	memset(t + strlen(t), '0', 2 * 65 + 1);
	t[strlen("device x\n service 180f\n characteristic 2a19 read ") + 2 * 65] = '\0';
	bad(t, "t.house:3: value too long (at most 64 bytes)");
	free(t);
}
END_TEST

START_TEST(bad_address)
{
	bad("device x\n address 12:34\n", "t.house:2: bad address '12:34'");
	bad("device x\n address 00:00:00:00:00:00\n",
	    "t.house:2: bad address '00:00:00:00:00:00'");
	bad("device x\n address 11:22:33:44:55:66 random\n",
	    "t.house:2: random address '11:22:33:44:55:66' is not static (top two bits must be 1)");
	bad("device x\n address 11:22:33:44:55:66 private\n",
	    "t.house:2: bad address type 'private' (public or random)");
	bad("device a\n address 11:22:33:44:55:66\ndevice b\n address 11:22:33:44:55:66\n",
	    "t.house:4: address '11:22:33:44:55:66' already used by device 'a'");
	bad("device x\n address C1:22:33:44:55:66 random\n type dual\n",
	    "t.house:1: device 'x': BR/EDR needs a public address");
}
END_TEST

/*
 * A device with privacy (irk): on the air a resolvable private address
 * its IRK resolves, its identity kept to distribute; a new one on
 * request; an irk that is not 32 hex digits, or on a BR/EDR device,
 * refused with its line.
 */
START_TEST(private_address)
{
	struct sim_house *h = NULL;
	struct bdaddr id, first;

	ck_assert_int_eq(parse("device x\n address C1:22:33:44:55:66 random\n type le\n"
			       " irk ec0234a357c8ad05341010a60a397d9b\n", &h), 0);
	ck_assert(h->rd[0].has_irk);
	ck_assert_uint_eq(h->rd[0].irk[0], 0x9b);	/* SMP order */
	ck_assert_int_eq(bdaddr_parse("C1:22:33:44:55:66", &id), 0);
	ck_assert(bdaddr_eq(&h->rd[0].id_addr, &id));
	ck_assert_uint_eq(h->rd[0].id_type, BDADDR_RANDOM);
	ck_assert_uint_eq(h->rd[0].addr_type, BDADDR_RANDOM);
	ck_assert(rpa_is_resolvable(&h->rd[0].addr));
	ck_assert(rpa_matches(h->rd[0].irk, &h->rd[0].addr));
	first = h->rd[0].addr;
	ck_assert_int_eq(sim_rd_new_rpa(&h->rd[0], 0x708194), 0);
	ck_assert(!bdaddr_eq(&h->rd[0].addr, &first));
	/* The specification's sample (Vol 3 Part H D.7): prand 0x708194, hash 0x0dfbaa. */
	ck_assert_uint_eq(h->rd[0].addr.b[0], 0xaa);
	ck_assert_uint_eq(h->rd[0].addr.b[2], 0x0d);
	ck_assert_uint_eq(h->rd[0].addr.b[5], 0x70);
	ck_assert(rpa_matches(h->rd[0].irk, &h->rd[0].addr));
	sim_house_free(h);
	bad("device x\n address C1:22:33:44:55:66 random\n type le\n irk 0011\n",
	    "t.house:4: bad irk '0011' (32 hex digits)");
	bad("device x\n address 11:22:33:44:55:66\n type dual\n"
	    " irk ec0234a357c8ad05341010a60a397d9b\n",
	    "t.house:1: device 'x': an irk needs type le");
}
END_TEST

START_TEST(embedded_nul)
{
	static const char text[] = "device x\n name a\0b\n";
	struct sim_house *h = NULL;

	ck_assert_int_lt(sim_house_parse_buf("t.house", text, sizeof(text) - 1,
					     &h, err, sizeof(err)), 0);
	ck_assert_str_eq(err, "t.house:2: embedded NUL byte");
	bad("device x\n name a\033b\n", "t.house:2: control character 0x1b");
}
END_TEST

START_TEST(unknown_keyword)
{
	bad("device x\n colour blue\n", "t.house:2: unknown keyword 'colour'");
	bad("name x\n", "t.house:1: 'name' outside a device block");
	bad("device x\ndevice x\n", "t.house:2: duplicate device id 'x'");
	bad("device bad/id\n", "t.house:1: bad device id 'bad/id' (1-31 of A-Z a-z 0-9 - _)");
}
END_TEST

START_TEST(bad_values)
{
	bad("device x\n rssi -200\n", "t.house:2: bad rssi '-200' (-127..20 dBm)");
	bad("device x\n rssi 5x\n", "t.house:2: bad rssi '5x' (-127..20 dBm)");
	bad("device x\n discoverable maybe\n", "t.house:2: bad discoverable 'maybe' (yes or no)");
	bad("device x\n type usb\n", "t.house:2: bad type 'usb' (le, bredr or dual)");
	bad("device x\n class 0x1000000\n", "t.house:2: bad class '0x1000000' (0x000000-0xffffff)");
	bad("device x\n uuid16 18\n", "t.house:2: bad uuid16 '18' (4 hex digits)");
	bad("device x\n eir 0g\n", "t.house:2: bad eir '0g' (hex bytes)");
	bad("device x\n service 180f\n characteristic 2a19 fly 00\n",
	    "t.house:3: bad characteristic properties 'fly'");
	bad("device x\n connect-in -1\n", "t.house:2: bad connect-in '-1' (0-3600000 ms)");
	bad("device x\n type le dual\n", "t.house:2: trailing text after type 'le'");
	bad("device x\n pairing sc-maybe\n",
	    "t.house:2: bad pairing 'sc-maybe' (ssp, legacy, sc, sc-only or refuse)");
	bad("device x\n confirm maybe\n", "t.house:2: bad confirm 'maybe' (yes or no)");
	bad("device x\n confirm\n", "t.house:2: bad confirm '' (yes or no)");
	/* Six decimal digits: no sign, no hex, no seventh digit. */
	bad("device x\n passkey 1000000\n", "t.house:2: bad passkey '1000000' (0-999999, decimal)");
	bad("device x\n passkey 0x10\n", "t.house:2: bad passkey '0x10' (0-999999, decimal)");
	bad("device x\n passkey -1\n", "t.house:2: bad passkey '-1' (0-999999, decimal)");
	bad("device x\n passkey\n", "t.house:2: bad passkey '' (0-999999, decimal)");
}
END_TEST

/* The LE Secure Connections keys (bgw-sim(5)) and their defaults. */
START_TEST(le_sc_keys)
{
	struct sim_house *h = NULL;

	ck_assert_int_eq(parse("device a\n address 10:B6:00:00:00:01\n pairing sc-only\n"
			       " io-capability keyboard\n passkey 001234\n confirm no\n"
			       "device b\n address 10:B6:00:00:00:02\n pairing sc\n"
			       "device c\n address 10:B6:00:00:00:03\n", &h), 0);
	ck_assert_uint_eq(h->rd[0].pairing, SIM_PAIR_SC_ONLY);
	ck_assert_uint_eq(h->rd[0].io_cap, 0x02);
	ck_assert(h->rd[0].has_passkey);
	ck_assert_uint_eq(h->rd[0].passkey, 1234);	/* decimal, not octal */
	ck_assert(!h->rd[0].nc_confirm);
	ck_assert_uint_eq(h->rd[1].pairing, SIM_PAIR_SC);
	ck_assert(!h->rd[1].has_passkey);
	ck_assert(h->rd[1].nc_confirm);			/* its user says yes */
	ck_assert_uint_eq(h->rd[2].pairing, SIM_PAIR_SSP);	/* LE legacy */
	sim_house_free(h);
}
END_TEST

START_TEST(load_file)
{
	char path[] = "/tmp/check_sim_house.XXXXXX";
	struct sim_house *h = NULL;
	char want[600];
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "device x\n address 1:2\n", 23), 23);
	close(fd);
	ck_assert_int_eq(sim_house_load(path, &h, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: bad address '1:2'", path);
	ck_assert_str_eq(err, want);
	unlink(path);
	ck_assert_int_eq(sim_house_load(path, &h, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_null(h);
}
END_TEST

START_TEST(parser_line_api)
{
	struct sim_house_parser *p = NULL;
	struct sim_house *h = NULL;

	/* The split API a fuzzer drives: after an error everything fails. */
	ck_assert_int_eq(sim_house_parser_new(&p, "f"), 0);
	ck_assert_int_eq(sim_house_parser_line(p, "device a", 8, err, sizeof(err)), 0);
	ck_assert_int_lt(sim_house_parser_line(p, "bogus", 5, err, sizeof(err)), 0);
	ck_assert_int_lt(sim_house_parser_line(p, "address 00:11:22:33:44:55", 25,
					       err, sizeof(err)), 0);
	ck_assert_int_lt(sim_house_parser_finish(p, &h, err, sizeof(err)), 0);
	ck_assert_ptr_null(h);
	sim_house_parser_free(p);
	sim_house_parser_free(NULL);
	sim_house_free(NULL);
}
END_TEST

START_TEST(rd_data_derived)
{
	struct sim_house *h = sim_house_default();
	struct sim_rd rd;

	/* thermometer: flags, appearance, UUID, name in the adv data */
	sim_rd_init(&rd, &h->rd[1]);
	ck_assert(!memcmp(rd.adv, "\x02\x01\x06\x03\x19\x00\x03\x03\x03\x1a\x18"
			  "\x0c\x09Thermometer", 24));
	ck_assert_uint_eq(rd.adv_len, 24);
	ck_assert(!memcmp(rd.rsp, "\x0c\x09Thermometer", 13));
	/* speaker: EIR with both UUIDs and the name */
	sim_rd_init(&rd, &h->rd[3]);
	ck_assert(!memcmp(rd.eir, "\x05\x03\x0b\x11\x0e\x11\x10\x09Kitchen Speaker", 23));
	/* cuff: the name does not fit the 31-byte adv data, scan rsp has it */
	sim_rd_init(&rd, &h->rd[4]);
	ck_assert_uint_le(rd.adv_len, 31);
	ck_assert(!memcmp(rd.rsp, "\x14\x09" "Blood Pressure Cuff", 21));
	sim_house_free(h);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("sim_house");
	TCase *tc;

#define ADD(name)						\
	do {							\
		tc = tcase_create(#name);			\
		tcase_add_test(tc, name);			\
		suite_add_tcase(s, tc);				\
	} while (0)
	ADD(default_house);
	ADD(full_example);
	ADD(truncated);
	ADD(oversized);
	ADD(bad_address);
	ADD(private_address);
	ADD(embedded_nul);
	ADD(unknown_keyword);
	ADD(bad_values);
	ADD(le_sc_keys);
	ADD(load_file);
	ADD(parser_line_api);
	ADD(rd_data_derived);
	return s;
}

/* SPDX-License-Identifier: MIT */
/*
 * cdclient/hub.c with the stream upstream (remote.c) against a scripted
 * controller on a unix socket in a private temporary directory, and the
 * endpoint parser (endpoint.c).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "btsnoop.h"
#include "check_main.h"
#include "endpoint.h"
#include "hci.h"
#include "hub.h"
#include "log.h"
#include "loop.h"

#define MAX_GOT		32
/* Loop rounds a test waits at most (each round at most 50 ms). */
#define MAX_ROUNDS	200

static char dir[64];
static char sock_path[128];
static char snoop_path[128];
static int lfd = -1;	/* the scripted controller's listener */
static int cfd = -1;	/* its accepted connection */
static struct loop *loop;
static struct cd_hub *hub;
static struct snoop *snoop;
static struct cd_port *port;

static struct {
	uint8_t data[512];
	size_t len;
} got[MAX_GOT];
static size_t ngot;

static int port_deliver(const uint8_t *h4, size_t len, void *user)
{
	ck_assert_uint_lt(ngot, MAX_GOT);
	ck_assert_uint_le(len, sizeof(got[0].data));
	memcpy(got[ngot].data, h4, len);
	got[ngot].len = len;
	ngot++;
	return 0;
}

static const struct cd_port_ops port_ops = { .deliver = port_deliver };

static void quiet(int prio, const char *line, void *user)
{
}

static void run_until(bool (*cond)(void))
{
	int i;

	for (i = 0; i < MAX_ROUNDS && !cond(); i++)
		loop_iterate(loop, 50);
	ck_assert_msg(cond(), "condition not reached");
}

static bool accepted(void)
{
	if (cfd < 0)
		cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	return cfd >= 0 && cd_hub_is_up(hub);
}

static size_t want_got;
static bool got_enough(void)
{
	return ngot >= want_got;
}

static bool is_down(void)
{
	return !cd_hub_is_up(hub);
}

static void setup(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct cd_remote *r;
	char spec[160];

	log_set_handler(quiet, NULL);
	snprintf(dir, sizeof(dir), "/tmp/check_cd_hub.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock_path, sizeof(sock_path), "%s/ctl.sock", dir);
	snprintf(snoop_path, sizeof(snoop_path), "%s/trace.btsnoop", dir);
	memcpy(sun.sun_path, sock_path, strlen(sock_path) + 1);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(lfd, 2), 0);

	loop = loop_new();
	ck_assert_ptr_nonnull(loop);
	ck_assert_int_eq(snoop_open(&snoop, snoop_path), 0);
	ck_assert_int_eq(cd_hub_new(&hub, loop, snoop), 0);
	port = cd_hub_attach(hub, "test", &port_ops, NULL);
	ck_assert_ptr_nonnull(port);
	snprintf(spec, sizeof(spec), "unix:%s", sock_path);
	ck_assert_int_eq(cd_remote_new_stream(&r, loop, spec, &cd_hub_remote_cbs,
					      hub), 0);
	ck_assert_int_eq(cd_hub_set_remote(hub, r), 0);
	ngot = 0;
	cfd = -1;
	run_until(accepted);
}

static void teardown(void)
{
	cd_port_detach(port);
	cd_hub_free(hub);
	snoop_close(snoop);
	loop_free(loop);
	if (cfd >= 0)
		close(cfd);
	close(lfd);
	unlink(sock_path);
	unlink(snoop_path);
	rmdir(dir);
	log_set_handler(NULL, NULL);
}

/* Read exactly n bytes the controller side got (bounded wait). */
static void ctl_expect(const uint8_t *want, size_t n)
{
	uint8_t buf[64];
	size_t have = 0;
	ssize_t r;
	int i;

	ck_assert_uint_le(n, sizeof(buf));
	for (i = 0; i < MAX_ROUNDS && have < n; i++) {
		loop_iterate(loop, 10);
		r = recv(cfd, buf + have, n - have, MSG_DONTWAIT);
		if (r > 0)
			have += (size_t)r;
	}
	ck_assert_uint_eq(have, n);
	ck_assert_mem_eq(buf, want, n);
	ck_assert_int_lt(recv(cfd, buf, sizeof(buf), MSG_DONTWAIT), 0);
}

START_TEST(host_input_validated)
{
	static const uint8_t reset[] = { 0x01, 0x03, 0x0c, 0x00 };
	static const uint8_t event[] = { 0x04, 0x0e, 0x04, 0x01, 0x03, 0x0c, 0x00 };
	static const uint8_t shortp[] = { 0x01, 0x03, 0x0c, 0x01 };
	static const uint8_t longp[] = { 0x01, 0x03, 0x0c, 0x00, 0x00 };
	static const uint8_t badtype[] = { 0x07, 0x03, 0x0c, 0x00 };
	uint8_t *big = calloc(1, CD_PKT_MAX + 1);
	uint8_t *zero = calloc(1, CD_PKT_MAX);
	int n;

	ck_assert_int_eq(cd_port_send(port, event, sizeof(event)), -EPERM);
	ck_assert_int_eq(cd_port_send(port, shortp, sizeof(shortp)), -EINVAL);
	ck_assert_int_eq(cd_port_send(port, longp, sizeof(longp)), -EINVAL);
	ck_assert_int_eq(cd_port_send(port, badtype, sizeof(badtype)), -EINVAL);
	ck_assert_int_eq(cd_port_send(port, reset, 0), -EINVAL);
	/* One byte over the cap: refused, not truncated. */
	ck_assert_ptr_nonnull(big);
	ck_assert_ptr_nonnull(zero);
	n = h4_build_acl(big, CD_PKT_MAX + 1, 1, 2, 0, zero,
			 CD_PKT_MAX + 1 - 5);
	ck_assert_int_eq(n, CD_PKT_MAX + 1);
	ck_assert_int_eq(cd_port_send(port, big, (size_t)n), -EINVAL);
	n = h4_build_acl(big, CD_PKT_MAX, 1, 2, 0, zero, CD_PKT_MAX - 5);
	ck_assert_int_eq(cd_port_send(port, big, (size_t)n), 0);
	free(big);
	free(zero);
	/* Nothing refused reached the controller; the good ones did. */
	ck_assert_int_eq(cd_port_send(port, reset, sizeof(reset)), 0);
	{
		uint8_t buf[CD_PKT_MAX + 64];
		size_t have = 0;
		ssize_t r;
		int i;

		for (i = 0; i < MAX_ROUNDS && have < (size_t)CD_PKT_MAX + 4; i++) {
			loop_iterate(loop, 10);
			r = recv(cfd, buf + have, sizeof(buf) - have, MSG_DONTWAIT);
			if (r > 0)
				have += (size_t)r;
		}
		ck_assert_uint_eq(have, (size_t)CD_PKT_MAX + 4);
		ck_assert_uint_eq(buf[0], H4_ACL);
		ck_assert_mem_eq(buf + CD_PKT_MAX, reset, 4);
	}
	ck_assert_uint_eq(ngot, 0);
}
END_TEST

START_TEST(controller_to_port)
{
	static const uint8_t reset[] = { 0x01, 0x03, 0x0c, 0x00 };
	/* Command Complete (Reset) and an ACL packet, split mid-header. */
	static const uint8_t stream[] = {
		0x04, 0x0e, 0x04, 0x01, 0x03, 0x0c, 0x00,
		0x02, 0x01, 0x20, 0x02, 0x00, 0xaa, 0xbb,
	};
	char *text;
	size_t len;

	ck_assert_int_eq(cd_port_send(port, reset, sizeof(reset)), 0);
	ctl_expect(reset, sizeof(reset));
	ck_assert_int_eq(send(cfd, stream, 9, 0), 9);
	loop_iterate(loop, 10);
	ck_assert_int_eq(send(cfd, stream + 9, sizeof(stream) - 9, 0),
			 (ssize_t)(sizeof(stream) - 9));
	want_got = 2;
	run_until(got_enough);
	ck_assert_uint_eq(got[0].len, 7);
	ck_assert_mem_eq(got[0].data, stream, 7);
	ck_assert_uint_eq(got[1].len, 7);
	ck_assert_mem_eq(got[1].data, stream + 7, 7);

	ck_assert_int_eq(cd_hub_render_session(hub, &text, &len), 0);
	ck_assert_ptr_nonnull(strstr(text, "state: up\n"));
	ck_assert_ptr_nonnull(strstr(text, "rtt-us: last "));
	ck_assert_ptr_nonnull(strstr(text, "bytes-in: 14\n"));
	ck_assert_ptr_nonnull(strstr(text, "bytes-out: 4\n"));
	free(text);
}
END_TEST

static void expect_hw_error(size_t i)
{
	ck_assert_uint_eq(got[i].len, 4);
	ck_assert_uint_eq(got[i].data[0], H4_EVT);
	ck_assert_uint_eq(got[i].data[1], HCI_EV_HARDWARE_ERROR);
	ck_assert_uint_eq(got[i].data[2], 1);
	ck_assert_uint_eq(got[i].data[3], CD_HW_ERROR_UPSTREAM);
}

START_TEST(controller_sending_command_is_dropped)
{
	static const uint8_t cmd[] = { 0x01, 0x03, 0x0c, 0x00 };

	ck_assert_int_eq(send(cfd, cmd, sizeof(cmd), 0), (ssize_t)sizeof(cmd));
	run_until(is_down);
	ck_assert_uint_eq(ngot, 0);	/* the command never reached the port */
	/* It reconnects by itself; the hosts then get a reset. */
	close(cfd);
	cfd = -1;
	run_until(accepted);
	want_got = 1;
	run_until(got_enough);
	ck_assert_uint_eq(ngot, 1);
	expect_hw_error(0);
}
END_TEST

/*
 * Item: a host that goes away leaves no links behind. When the last host
 * that sent anything is gone, the hub resets the controller and keeps the
 * Reset's completion from the hosts; while another host still drives the
 * controller, or for a host that sent nothing, it does not.
 */
START_TEST(host_gone_resets_controller)
{
	static const uint8_t rd_addr[] = { 0x01, 0x09, 0x10, 0x00 };
	static const uint8_t reset[] = { 0x01, 0x03, 0x0c, 0x00 };
	static const uint8_t cc_reset[] = { 0x04, 0x0e, 0x04, 0x01, 0x03, 0x0c, 0x00 };
	static const uint8_t cc_other[] = { 0x04, 0x0e, 0x04, 0x01, 0x01, 0x0c, 0x00 };
	struct cd_port *p2 = cd_hub_attach(hub, "second", &port_ops, NULL);
	uint8_t buf[16];

	ck_assert_ptr_nonnull(p2);
	/* A host that sent nothing opened nothing: no reset. */
	cd_port_host_gone(p2);
	loop_iterate(loop, 10);
	ck_assert_int_lt(recv(cfd, buf, sizeof(buf), MSG_DONTWAIT), 0);
	/* Two hosts active; the first leaves: the second still drives it. */
	ck_assert_int_eq(cd_port_send(port, rd_addr, sizeof(rd_addr)), 0);
	ctl_expect(rd_addr, sizeof(rd_addr));
	ck_assert_int_eq(cd_port_send(p2, rd_addr, sizeof(rd_addr)), 0);
	ctl_expect(rd_addr, sizeof(rd_addr));
	cd_port_host_gone(port);
	loop_iterate(loop, 10);
	ck_assert_int_lt(recv(cfd, buf, sizeof(buf), MSG_DONTWAIT), 0);
	/* The last one leaves: Reset upstream. */
	cd_port_host_gone(p2);
	ctl_expect(reset, sizeof(reset));
	/* Its completion reaches no host; what follows does. */
	ck_assert_int_eq(send(cfd, cc_reset, sizeof(cc_reset), 0), (ssize_t)sizeof(cc_reset));
	ck_assert_int_eq(send(cfd, cc_other, sizeof(cc_other), 0), (ssize_t)sizeof(cc_other));
	want_got = 2;	/* cc_other, once to each port */
	run_until(got_enough);
	ck_assert_uint_eq(ngot, 2);
	ck_assert_mem_eq(got[0].data, cc_other, sizeof(cc_other));
	ck_assert_mem_eq(got[1].data, cc_other, sizeof(cc_other));
	/* A new host's own Reset is answered to it as usual. */
	ck_assert_int_eq(cd_port_send(port, reset, sizeof(reset)), 0);
	ctl_expect(reset, sizeof(reset));
	ck_assert_int_eq(send(cfd, cc_reset, sizeof(cc_reset), 0), (ssize_t)sizeof(cc_reset));
	want_got = 4;
	run_until(got_enough);
	ck_assert_mem_eq(got[2].data, cc_reset, sizeof(cc_reset));
	cd_port_detach(p2);
}
END_TEST

START_TEST(down_commands_answered)
{
	static const uint8_t reset[] = { 0x01, 0x03, 0x0c, 0x00 };
	static const uint8_t bdaddr[] = { 0x01, 0x09, 0x10, 0x00 };
	static const uint8_t acl[] = { 0x02, 0x01, 0x20, 0x01, 0x00, 0x00 };

	/* Reset goes upstream and is never answered: the link dies. */
	ck_assert_int_eq(cd_port_send(port, reset, sizeof(reset)), 0);
	ctl_expect(reset, sizeof(reset));
	close(cfd);
	cfd = -1;
	/* Listener gone too, so it stays down while we look. */
	close(lfd);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(sock_path);
	run_until(is_down);
	/* The command in flight fails at once: Command Status, Hardware Failure. */
	ck_assert_uint_eq(ngot, 1);
	ck_assert_uint_eq(got[0].len, 7);
	ck_assert_mem_eq(got[0].data, "\x04\x0f\x04\x03\x01\x03\x0c", 7);

	/* New commands too; data is discarded. */
	ck_assert_int_eq(cd_port_send(port, acl, sizeof(acl)), -ENOTCONN);
	ck_assert_int_eq(cd_port_send(port, bdaddr, sizeof(bdaddr)), 0);
	ck_assert_uint_eq(ngot, 2);
	ck_assert_uint_eq(got[1].len, 7);
	ck_assert_mem_eq(got[1].data, "\x04\x0f\x04\x03\x01\x09\x10", 7);
}
END_TEST

START_TEST(btsnoop_records_both_directions)
{
	static const uint8_t reset[] = { 0x01, 0x03, 0x0c, 0x00 };
	static const uint8_t cc[] = { 0x04, 0x0e, 0x04, 0x01, 0x03, 0x0c, 0x00 };
	struct snoop_reader *rd;
	struct snoop_rec rec;
	uint8_t buf[64];

	ck_assert_int_eq(cd_port_send(port, reset, sizeof(reset)), 0);
	ctl_expect(reset, sizeof(reset));
	ck_assert_int_eq(send(cfd, cc, sizeof(cc), 0), (ssize_t)sizeof(cc));
	want_got = 1;
	run_until(got_enough);

	ck_assert_int_eq(snoop_reader_open(&rd, snoop_path), 0);
	ck_assert_int_eq(snoop_read(rd, buf, sizeof(buf), &rec), 4);
	ck_assert(!rec.from_controller);
	ck_assert_mem_eq(buf, reset, 4);
	ck_assert_int_eq(snoop_read(rd, buf, sizeof(buf), &rec), 7);
	ck_assert(rec.from_controller);
	ck_assert_mem_eq(buf, cc, 7);
	ck_assert_int_eq(snoop_read(rd, buf, sizeof(buf), &rec), 0);
	snoop_reader_close(rd);
}
END_TEST

START_TEST(endpoint_parse)
{
	struct cd_endpoint ep;
	char longp[200];

	ck_assert_int_eq(cd_endpoint_parse("unix:/run/x.sock", &ep), 0);
	ck_assert(ep.is_unix);
	ck_assert_str_eq(ep.path, "/run/x.sock");
	ck_assert_int_eq(cd_endpoint_parse("tcp:127.0.0.1:6402", &ep), 0);
	ck_assert(!ep.is_unix);
	ck_assert_str_eq(ep.host, "127.0.0.1");
	ck_assert_str_eq(ep.port, "6402");
	ck_assert_int_eq(cd_endpoint_parse("tcp:[::1]:1", &ep), 0);
	ck_assert_str_eq(ep.host, "::1");
	ck_assert_int_eq(cd_endpoint_parse("tcp:gw.example:65535", &ep), 0);

	ck_assert_int_eq(cd_endpoint_parse("unix:", &ep), -EINVAL);
	ck_assert_int_eq(cd_endpoint_parse("udp:1.2.3.4:5", &ep), -EINVAL);
	ck_assert_int_eq(cd_endpoint_parse("tcp:1.2.3.4", &ep), -EINVAL);
	ck_assert_int_eq(cd_endpoint_parse("tcp::80", &ep), -EINVAL);
	ck_assert_int_eq(cd_endpoint_parse("tcp:::1:80", &ep), -EINVAL);
	ck_assert_int_eq(cd_endpoint_parse("tcp:h:0", &ep), -EINVAL);
	ck_assert_int_eq(cd_endpoint_parse("tcp:h:65536", &ep), -EINVAL);
	ck_assert_int_eq(cd_endpoint_parse("tcp:h:+80", &ep), -EINVAL);
	ck_assert_int_eq(cd_endpoint_parse("tcp:h:080000", &ep), -EINVAL);
	ck_assert_int_eq(cd_endpoint_parse("tcp:h:", &ep), -EINVAL);
	ck_assert_int_eq(cd_endpoint_parse("unix:/a\nb", &ep), -EINVAL);
	ck_assert_int_eq(cd_endpoint_parse(NULL, &ep), -EINVAL);
	/* A path longer than sun_path is refused, never cut. */
	memset(longp, 'a', sizeof(longp));
	memcpy(longp, "unix:/", 6);
	longp[sizeof(longp) - 1] = '\0';
	ck_assert_int_eq(cd_endpoint_parse(longp, &ep), -EINVAL);
}
END_TEST

START_TEST(endpoint_listen_loopback_only)
{
	struct cd_endpoint ep;

	ck_assert_int_eq(cd_endpoint_parse("tcp:0.0.0.0:1", &ep), 0);
	ck_assert_int_eq(cd_endpoint_listen(&ep), -EPERM);
	ck_assert_int_eq(cd_endpoint_parse("tcp:192.0.2.1:1", &ep), 0);
	ck_assert_int_eq(cd_endpoint_listen(&ep), -EPERM);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("cd_hub");
	TCase *tc = tcase_create("hub");
	TCase *te = tcase_create("endpoint");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, host_input_validated);
	tcase_add_test(tc, controller_to_port);
	tcase_add_test(tc, controller_sending_command_is_dropped);
	tcase_add_test(tc, host_gone_resets_controller);
	tcase_add_test(tc, down_commands_answered);
	tcase_add_test(tc, btsnoop_records_both_directions);
	suite_add_tcase(s, tc);
	tcase_add_test(te, endpoint_parse);
	tcase_add_test(te, endpoint_listen_loopback_only);
	suite_add_tcase(s, te);
	return s;
}

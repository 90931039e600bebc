/* SPDX-License-Identifier: MIT */
/*
 * cd-tunnel-gw: a stand-in gateway for bgw-cdclient's tunnel tests
 * (t-cd-tunnel.sh): a tunnel server (tunnel/tunnel.h) that bridges each
 * session to its own connection to an H4 unix socket (bgw-sim --unix), so
 * every session gets a simulated controller, as bgw-muxd gives it a
 * virtual one. Loopback only.
 *
 *	cd-tunnel-gw PKI-DIR dtls|tls H4-SOCKET
 *
 * PKI-DIR is made by tests/tunnel_certs.sh. Logins: alice's certificate;
 * user "erin" with the password "correct horse battery"; bob's certificate
 * is refused as revoked. Prints
 * "port N" on stdout once listening; SIGTERM ends it.
 *
 *	cd-tunnel-gw bundle PKI-DIR USER SERVER OUT
 *
 * writes USER's enrolment bundle with the bundle module's writer (the key turned
 * into the PKCS#8 the format wants), as bgw-authdb cert issue would.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "bundle.h"
#include "hci.h"
#include "log.h"
#include "loop.h"
#include "pktq.h"
#include "scram.h"
#include "tunnel.h"

#define GW_PASSWORD "correct horse battery"

struct bridge {
	struct bridge *next, **pprev;	/* all of them, freed at exit */
	struct loop *l;
	struct tun_session *s;
	int fd;
	struct h4_reader *rd;
	struct pktq held;	/* for the tunnel, waiting for on_writable */
	bool reading;
};

static const char *h4_path;
static struct bridge *bridges;

static void bridge_free(struct bridge *b)
{
	if (!b)
		return;
	if (b->pprev) {
		*b->pprev = b->next;
		if (b->next)
			b->next->pprev = b->pprev;
	}
	if (b->fd >= 0) {
		loop_del_fd(b->l, b->fd);
		close(b->fd);
	}
	h4_reader_free(b->rd);
	pktq_clear(&b->held);
	free(b);
}

static int to_tunnel(const struct h4_pkt *pkt, void *user)
{
	struct bridge *b = user;
	int err = -ENOBUFS;

	if (pktq_is_empty(&b->held))
		err = tun_session_send(b->s, pkt->raw, pkt->raw_len);
	if (err == -ENOBUFS)
		err = pktq_push_force(&b->held, pkt->raw, pkt->raw_len);
	return err;
}

static void set_reading(struct bridge *b, bool on)
{
	if (b->reading != on && loop_mod_fd(b->l, b->fd, on ? EPOLLIN : 0) == 0)
		b->reading = on;
}

static void on_h4(struct loop *l, int fd, uint32_t events, void *user)
{
	struct bridge *b = user;
	uint8_t buf[4096];
	ssize_t n;

	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0 || h4_reader_feed(b->rd, buf, (size_t)n, to_tunnel, b) < 0) {
		loop_del_fd(l, fd);
		close(fd);
		b->fd = -1;
		tun_session_close(b->s, TUN_R_SHUTDOWN);
		return;
	}
	if (!pktq_is_empty(&b->held))
		set_reading(b, false);
}

static int srv_session(void *user, struct tun_session *s, const char *name)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct bridge *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->l = user;
	b->s = s;
	pktq_init(&b->held, 0, 0);
	b->rd = h4_reader_new(0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", h4_path);
	b->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!b->rd || b->fd < 0 ||
	    connect(b->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    loop_add_fd(b->l, b->fd, EPOLLIN, on_h4, b) < 0) {
		if (b->fd >= 0)
			close(b->fd);
		b->fd = -1;
		bridge_free(b);
		return -EIO;
	}
	b->reading = true;
	b->next = bridges;
	if (b->next)
		b->next->pprev = &b->next;
	b->pprev = &bridges;
	bridges = b;
	tun_session_set_data(s, b);
	printf("session %s\n", name);
	fflush(stdout);
	return 0;
}

static int srv_packet(void *user, struct tun_session *s, const uint8_t *h4,
		      size_t len)
{
	struct bridge *b = tun_session_get_data(s);

	/* The test controller is local and fast: a blocking send is fine. */
	if (b && b->fd >= 0 && send(b->fd, h4, len, MSG_NOSIGNAL) != (ssize_t)len)
		tun_session_close(s, TUN_R_INTERNAL);
	return 0;
}

static void srv_end(void *user, struct tun_session *s, int reason)
{
	bridge_free(tun_session_get_data(s));
	tun_session_set_data(s, NULL);
}

static void srv_writable(void *user, struct tun_session *s)
{
	struct bridge *b = tun_session_get_data(s);
	struct pkt *p;

	while (b && (p = pktq_pop(&b->held))) {
		if (tun_session_send(s, p->data, p->len) == -ENOBUFS) {
			pktq_requeue(&b->held, p);
			return;
		}
		pkt_free(p);
	}
	if (b && b->fd >= 0)
		set_reading(b, true);
}

static const struct tun_server_ops srv_ops = {
	.on_session = srv_session,
	.on_packet = srv_packet,
	.on_session_end = srv_end,
	.on_writable = srv_writable,
};

static int auth_cert(void *user, const struct tun_cert_info *ci, char *name,
		     size_t cap)
{
	/* bob's certificate stands for a revoked one (bgw-authdb cert revoke). */
	if (!strcmp(ci->cn, "bob"))
		return -EKEYREVOKED;
	if (strcmp(ci->cn, "alice"))
		return -ENOENT;
	snprintf(name, cap, "%s", ci->cn);
	return 0;
}

static int auth_scram(void *user, const char *name, struct scram_verifier *v,
		      bool *real)
{
	static const uint8_t salt[16] = "cd-tunnel-gw-sal";
	static const uint8_t secret[32] = "cd-tunnel-gw fake verifier key.";

	if (!strcmp(name, "erin")) {
		*real = true;
		return scram_verifier_derive(GW_PASSWORD, strlen(GW_PASSWORD),
					     salt, sizeof(salt), SCRAM_ITER_MIN, v);
	}
	*real = false;
	return scram_verifier_fake(secret, sizeof(secret), name, v);
}

static const struct tun_auth_ops auth_ops = {
	.cert_user = auth_cert,
	.scram_lookup = auth_scram,
};

static void on_signal(struct loop *l, int signo, void *user)
{
	loop_quit(l, 0);
}

/* The first PEM block of a file (certtool puts text before it). */
static char *pem_of(const char *path, const char *label)
{
	char begin[64], end[64], *buf = NULL, *b, *e, *out = NULL;
	size_t cap = 0;
	FILE *f = fopen(path, "re");
	ssize_t n;

	if (!f)
		return NULL;
	n = getdelim(&buf, &cap, '\0', f);
	fclose(f);
	snprintf(begin, sizeof(begin), "-----BEGIN %s-----", label);
	snprintf(end, sizeof(end), "-----END %s-----\n", label);
	if (n > 0 && (b = strstr(buf, begin)) && (e = strstr(b, end)))
		out = strndup(b, (size_t)(e - b) + strlen(end));
	free(buf);
	return out;
}

static int make_bundle(const char *dir, const char *user, const char *server,
		       const char *outp)
{
	char path[512];
	struct bundle c = { 0 };
	gnutls_x509_privkey_t key = NULL;
	gnutls_datum_t in, der = { 0 };
	char *ec = NULL;
	int ret = 1;

	snprintf(path, sizeof(path), "%s/%s.crt", dir, user);
	c.cert_pem = pem_of(path, "CERTIFICATE");
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	c.ca_pem = pem_of(path, "CERTIFICATE");
	snprintf(path, sizeof(path), "%s/%s.key", dir, user);
	ec = pem_of(path, "EC PRIVATE KEY");
	if (!c.cert_pem || !c.ca_pem || !ec)
		goto out;
	in.data = (unsigned char *)ec;
	in.size = (unsigned int)strlen(ec);
	if (gnutls_x509_privkey_init(&key) ||
	    gnutls_x509_privkey_import(key, &in, GNUTLS_X509_FMT_PEM) ||
	    gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL,
					      GNUTLS_PKCS_PLAIN, &der))
		goto out;
	c.key_pem = strndup((const char *)der.data, der.size);
	if (!c.key_pem ||
	    strlen(user) > AUTH_NAME_MAX || strlen(server) > BUNDLE_SERVER_MAX ||
	    bundle_cert_fingerprint(c.ca_pem, strlen(c.ca_pem), c.ca_fpr))
		goto out;
	strcpy(c.user, user);
	strcpy(c.server, server);
	if (bundle_write(outp, &c))
		goto out;
	ret = 0;
out:
	if (ret)
		fprintf(stderr, "cd-tunnel-gw: cannot write the bundle\n");
	gnutls_free(der.data);
	gnutls_x509_privkey_deinit(key);
	free(ec);
	free(c.cert_pem);
	free(c.key_pem);
	free(c.ca_pem);
	return ret;
}

int main(int argc, char **argv)
{
	char ca[512], crt[512], key[512];
	struct tun_server_cfg cfg = { .host = "127.0.0.1" };
	struct tun_server *srv = NULL;
	struct loop *l;
	bool tls;
	int ret = 1;

	if (argc == 6 && !strcmp(argv[1], "bundle"))
		return make_bundle(argv[2], argv[3], argv[4], argv[5]);
	if (argc != 4 || (strcmp(argv[2], "dtls") && strcmp(argv[2], "tls"))) {
		fprintf(stderr, "usage: cd-tunnel-gw PKI-DIR dtls|tls H4-SOCKET\n");
		return 2;
	}
	tls = !strcmp(argv[2], "tls");
	h4_path = argv[3];
	snprintf(ca, sizeof(ca), "%s/ca.crt", argv[1]);
	snprintf(crt, sizeof(crt), "%s/server.crt", argv[1]);
	snprintf(key, sizeof(key), "%s/server.key", argv[1]);
	cfg.ca_file = ca;
	cfg.cert_file = crt;
	cfg.key_file = key;
	cfg.udp_port = tls ? NULL : "0";
	cfg.tcp_port = tls ? "0" : NULL;
	log_open("cd-tunnel-gw", LOG_TARGET_STDERR);
	signal(SIGPIPE, SIG_IGN);
	l = loop_new();
	if (!l || loop_add_signal(l, SIGTERM, on_signal, NULL) ||
	    loop_add_signal(l, SIGINT, on_signal, NULL))
		goto out;
	if (tun_server_new(&srv, l, &cfg, &srv_ops, &auth_ops, l)) {
		fprintf(stderr, "cd-tunnel-gw: cannot start the server\n");
		goto out;
	}
	printf("port %u\n", tls ? tun_server_tcp_port(srv) : tun_server_udp_port(srv));
	fflush(stdout);
	ret = loop_run(l) < 0;
out:
	tun_server_free(srv);	/* no callbacks: the bridges go here */
	while (bridges)
		bridge_free(bridges);
	if (l) {
		loop_iterate(l, 0);
		loop_free(l);
	}
	return ret;
}

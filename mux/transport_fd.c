/* SPDX-License-Identifier: MIT */
/*
 * Controller transports over a descriptor (see transport.h): unix:, tcp:
 * and h4: are byte streams sharing one non-blocking fd with an H4 reader
 * and a bounded write queue; hci: is a packet socket (one H4 packet per
 * read and write, Linux hci_sock.c). The descriptor is opened here, or by
 * the owner's open_fd (bgw-muxd's worker asks its monitor).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <bluetooth/bluetooth.h>
#include <bluetooth/hci.h>

#include "hci.h"
#include "log.h"
#include "pktq.h"
#include "secmem.h"
#include "transport_int.h"

struct fd_transport {
	struct mux_transport base;	/* first: the generic part */
	struct loop *loop;
	struct mux_transport_ops ops;
	bool packet;		/* hci: one H4 packet per read and write */
	int fd;
	bool failed;
	struct h4_reader *rd;
	struct pktq outq;
	size_t out_off;		/* bytes of the head packet already written */
	struct loop_timer *err_timer;
	int err;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Report a failure once, from the loop (never inside send). */
static void err_timer_fn(struct loop_timer *lt, void *user)
{
	struct fd_transport *t = user;

	if (t->ops.error)
		t->ops.error(t->err, t->ops.user);
}

static void fail(struct fd_transport *t, int err)
{
	if (t->failed)
		return;
	t->failed = true;
	t->err = err;
	if (t->fd >= 0)
		loop_del_fd(t->loop, t->fd);
	loop_timer_arm(t->err_timer, 0);
}

static int rx_pkt(const struct h4_pkt *pkt, void *user)
{
	struct fd_transport *t = user;

	t->ops.rx(pkt->raw, pkt->raw_len, t->ops.user);
	return 0;
}

static void flush_out(struct fd_transport *t)
{
	int err = pktq_write(&t->outq, t->fd, &t->out_off, MUX_TRANSPORT_QUEUE,
			     t->packet ? PKTQ_W_WHOLE : 0);

	if (err) {
		/* A packet socket takes a packet whole: a short write is -EIO. */
		if (err != -EIO || !t->packet)
			log_err("controller transport: write: %s", strerror(-err));
		fail(t, err);
		return;
	}
	/* Write interest only while something waits. */
	loop_mod_fd(t->loop, t->fd, pktq_is_empty(&t->outq) ? EPOLLIN : EPOLLIN | EPOLLOUT);
}

static void fd_cb(struct loop *l, int fd, uint32_t events, void *user)
{
	struct fd_transport *t = user;
	uint8_t buf[H4_MAX_PKT];
	ssize_t r;
	int e;

	if (events & EPOLLOUT)
		flush_out(t);
	if (t->failed)
		return;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		r = read(fd, buf, sizeof(buf));
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r <= 0) {
			e = r < 0 ? -errno : -EPIPE;
			log_err("controller transport: %s", r < 0 ? strerror(errno) : "closed by peer");
			fail(t, e);
			return;
		}
		if (t->packet) {
			struct h4_pkt pkt;

			if (h4_parse(&pkt, buf, (size_t)r, 0) < 0)
				log_warn("controller transport: malformed packet dropped");
			else
				t->ops.rx(buf, (size_t)r, t->ops.user);
		} else {
			e = h4_reader_feed(t->rd, buf, (size_t)r, rx_pkt, t);
			if (e < 0) {
				/* Out of sync: a stream cannot be resynchronised safely. */
				log_err("controller transport: framing error: %s", h4_strerror(e));
				fail(t, -EPROTO);
			}
		}
		/* A Link Key Notification may have passed (doc/security.md). */
		secmem_wipe(buf, (size_t)r);
	}
}

static speed_t baud_to_speed(unsigned long b)
{
	static const struct {
		unsigned long baud;
		speed_t sp;
	} tab[] = {
		{ 9600, B9600 }, { 19200, B19200 }, { 38400, B38400 },
		{ 57600, B57600 }, { 115200, B115200 }, { 230400, B230400 },
		{ 460800, B460800 }, { 921600, B921600 }, { 1000000, B1000000 },
		{ 1500000, B1500000 }, { 2000000, B2000000 }, { 3000000, B3000000 },
		{ 4000000, B4000000 },
	};
	size_t i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (tab[i].baud == b)
			return tab[i].sp;
	return 0;
}

/* "h4:/dev/ttyX[,BAUD][,flow]" */
static int parse_h4(const char *spec, char *path, size_t pathlen, speed_t *sp,
		    bool *flow, char *err, size_t errlen)
{
	char buf[MUX_URI_MAX];
	char *tok, *save = NULL;
	unsigned n = 0;

	if (strlen(spec) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, spec);
	*sp = B115200;
	*flow = false;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save), n++) {
		if (n == 0) {
			if (tok[0] != '/' || strlen(tok) >= pathlen) {
				set_err(err, errlen, "h4: needs an absolute device path");
				return -EINVAL;
			}
			strcpy(path, tok);
		} else if (strcmp(tok, "flow") == 0) {
			*flow = true;
		} else {
			char *end;
			unsigned long b = strtoul(tok, &end, 10);

			if (*end || !(*sp = baud_to_speed(b))) {
				set_err(err, errlen, "h4: unsupported baud rate '%s'", tok);
				return -EINVAL;
			}
		}
	}
	if (n == 0) {
		set_err(err, errlen, "h4: needs a device path");
		return -EINVAL;
	}
	return 0;
}

static int parse_hci(const char *spec, unsigned *idx)
{
	char *end;
	unsigned long n;

	if (!*spec)
		return -EINVAL;
	n = strtoul(spec, &end, 10);
	if (*end || n > 0xfffe)
		return -EINVAL;
	*idx = (unsigned)n;
	return 0;
}

/* "tcp:HOST:PORT", HOST may be [v6]. */
static int parse_tcp(const char *spec, char *host, size_t hl, char *port, size_t pl)
{
	const char *colon = strrchr(spec, ':');
	size_t n;

	if (!colon || colon == spec || !colon[1] || strlen(colon + 1) >= pl)
		return -EINVAL;
	n = (size_t)(colon - spec);
	if (spec[0] == '[' && n >= 2 && spec[n - 1] == ']') {
		spec++;
		n -= 2;
	}
	if (n == 0 || n >= hl)
		return -EINVAL;
	memcpy(host, spec, n);
	host[n] = '\0';
	strcpy(port, colon + 1);
	return 0;
}

static int check_unix(const char *arg, char *err, size_t errlen)
{
	if (!arg[0] || strlen(arg) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		set_err(err, errlen, "unix: needs a socket path");
		return -EINVAL;
	}
	return 0;
}

static int check_tcp(const char *arg, char *err, size_t errlen)
{
	char a[MUX_URI_MAX], b[32];

	if (parse_tcp(arg, a, sizeof(a), b, sizeof(b)) < 0) {
		set_err(err, errlen, "tcp: wants tcp:HOST:PORT, not 'tcp:%s'", arg);
		return -EINVAL;
	}
	return 0;
}

static int check_h4(const char *arg, char *err, size_t errlen)
{
	char a[MUX_URI_MAX];
	speed_t sp;
	bool flow;

	return parse_h4(arg, a, sizeof(a), &sp, &flow, err, errlen);
}

static int check_hci(const char *arg, char *err, size_t errlen)
{
	unsigned idx;

	if (parse_hci(arg, &idx) < 0) {
		set_err(err, errlen, "hci: wants a controller index, as hci:0, not 'hci:%s'", arg);
		return -EINVAL;
	}
	return 0;
}

static int probe_unix(const char *uri, const char *path, char *err,
		      size_t errlen)
{
	struct stat st;
	int r;

	if (stat(path, &st) < 0) {
		r = -errno;
		set_err(err, errlen, "%s: %s (is its server running?)", uri, strerror(-r));
		return r;
	}
	if (!S_ISSOCK(st.st_mode)) {
		set_err(err, errlen, "%s: not a socket", uri);
		return -ENOTSOCK;
	}
	return 0;
}

static int probe_tcp(const char *uri, const char *arg, char *err, size_t errlen)
{
	char host[MUX_URI_MAX], port[32];
	struct addrinfo hints, *res = NULL;
	int r;

	parse_tcp(arg, host, sizeof(host), port, sizeof(port));
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	r = getaddrinfo(host, port, &hints, &res);
	if (r != 0) {
		set_err(err, errlen, "%s: cannot resolve %s: %s", uri, host, gai_strerror(r));
		return -EHOSTUNREACH;
	}
	freeaddrinfo(res);
	return 0;
}

static int probe_h4(const char *uri, const char *arg, char *err, size_t errlen)
{
	char path[MUX_URI_MAX];
	speed_t sp;
	bool flow;
	int r, fd;

	parse_h4(arg, path, sizeof(path), &sp, &flow, err, errlen);
	fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		set_err(err, errlen, "%s: %s: %s", uri, path, strerror(-r));
		return r;
	}
	r = isatty(fd) ? 0 : -ENOTTY;
	close(fd);
	if (r < 0)
		set_err(err, errlen, "%s: %s is not a terminal (UART)", uri, path);
	return r;
}

/* hci:N: the kernel lists every registered controller in sysfs. */
static int probe_hci(const char *uri, const char *arg, char *err, size_t errlen)
{
	char path[64];
	struct stat st;
	unsigned idx;
	int r;

	/* probe runs after check: arg parses; say so anyway if it does not. */
	r = parse_hci(arg, &idx);
	if (r < 0)
		return check_hci(arg, err, errlen);
	snprintf(path, sizeof(path), "/sys/class/bluetooth/hci%u", idx);
	if (stat(path, &st) < 0) {
		r = -errno;
		set_err(err, errlen, "%s: no controller hci%u (%s; see `btmgmt info`)", uri, idx,
			r == -ENOENT ? "not registered" : strerror(-r));
		return r == -ENOENT ? -ENODEV : r;
	}
	return 0;
}

static int open_unix(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;

		set_err(err, errlen, "unix:%s: %s", path, strerror(-e));
		close(fd);
		return e;
	}
	return fd;
}

static int open_tcp(const char *spec, char *err, size_t errlen)
{
	char host[256], port[32];
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, r, e = -ECONNREFUSED;

	if (parse_tcp(spec, host, sizeof(host), port, sizeof(port)) < 0)
		return -EINVAL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	r = getaddrinfo(host, port, &hints, &res);
	if (r) {
		set_err(err, errlen, "tcp:%s: %s", spec, gai_strerror(r));
		return -EHOSTUNREACH;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		e = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		set_err(err, errlen, "tcp:%s: %s", spec, strerror(-e));
		return e;
	}
	return fd;
}

static int open_tty(const char *spec, char *err, size_t errlen)
{
	char path[MUX_URI_MAX];
	struct termios tio;
	speed_t sp;
	bool flow;
	int fd, r;

	r = parse_h4(spec, path, sizeof(path), &sp, &flow, err, errlen);
	if (r < 0)
		return r;
	fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		set_err(err, errlen, "h4:%s: %s", path, strerror(errno));
		return r;
	}
	if (tcgetattr(fd, &tio) < 0) {
		r = -errno;
		set_err(err, errlen, "h4:%s: not a terminal: %s", path, strerror(errno));
		close(fd);
		return r;
	}
	cfmakeraw(&tio);
	cfsetispeed(&tio, sp);
	cfsetospeed(&tio, sp);
	tio.c_cflag |= CLOCAL | CREAD;
	if (flow)
		tio.c_cflag |= CRTSCTS;
	else
		tio.c_cflag &= ~(tcflag_t)CRTSCTS;
	if (tcsetattr(fd, TCSANOW, &tio) < 0) {
		r = -errno;
		set_err(err, errlen, "h4:%s: cannot configure: %s", path, strerror(errno));
		close(fd);
		return r;
	}
	tcflush(fd, TCIOFLUSH);
	return fd;
}

/*
 * HCI user channel (Linux hci_sock.c, hci_sock_bind HCI_CHANNEL_USER): the
 * controller must be down and nobody else may hold it.
 */
static int open_hci(const char *spec, char *err, size_t errlen)
{
	struct sockaddr_hci sa;
	char name[16];
	unsigned idx;
	int fd, e;

	if (parse_hci(spec, &idx) < 0)
		return -EINVAL;
	snprintf(name, sizeof(name), "hci%u", idx);
	fd = socket(AF_BLUETOOTH, SOCK_RAW | SOCK_CLOEXEC, BTPROTO_HCI);
	if (fd < 0) {
		e = -errno;
		set_err(err, errlen, "%s: no Bluetooth in this kernel: %s", name, strerror(errno));
		return e;
	}
	memset(&sa, 0, sizeof(sa));
	sa.hci_family = AF_BLUETOOTH;
	sa.hci_dev = (unsigned short)idx;
	sa.hci_channel = HCI_CHANNEL_USER;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = -errno;
		close(fd);
		switch (-e) {
		case EBUSY:
			if (err && errlen)
				snprintf(err, errlen,
					 "%s is up or held by bluetoothd: run `btmgmt --index %u power off` / stop bluetoothd (or another program holds its user channel)",
					 name, idx);
			break;
		case EUSERS:
			set_err(err, errlen, "%s: already in use (another user channel holds it)", name);
			break;
		case EPERM:
		case EACCES:
			set_err(err, errlen, "%s: the HCI user channel needs CAP_NET_ADMIN", name);
			break;
		case ENODEV:
			set_err(err, errlen, "%s: no such controller", name);
			break;
		default:
			set_err(err, errlen, "%s: %s", name, strerror(-e));
			break;
		}
		return e;
	}
	return fd;
}

static void fd_close(struct mux_transport *base)
{
	struct fd_transport *t = (struct fd_transport *)base;

	if (t->fd >= 0) {
		if (!t->failed)
			loop_del_fd(t->loop, t->fd);
		close(t->fd);
	}
	h4_reader_free(t->rd);
	pktq_clear(&t->outq);
	loop_timer_free(t->err_timer);
	free(t);
}

static int fd_open(const struct mux_transport_kind *k, struct loop *l,
		   const char *uri, const char *arg,
		   const struct mux_transport_ops *ops,
		   struct mux_transport **out, char *err, size_t errlen)
{
	struct fd_transport *t;
	int r, fd;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->base.kind = k;
	t->loop = l;
	t->ops = *ops;
	t->packet = k == &mux_transport_hci;
	t->fd = -1;
	pktq_init(&t->outq, MUX_TRANSPORT_QUEUE, 0);
	t->err_timer = loop_timer_new(l, err_timer_fn, t);
	if (!t->err_timer) {
		r = -ENOMEM;
		goto fail;
	}
	if (ops->open_fd)
		fd = ops->open_fd(uri, err, errlen, ops->user);
	else
		fd = k->open_fd(arg, err, errlen);
	if (fd < 0) {
		r = fd;
		goto fail;
	}
	t->fd = fd;
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		r = -errno;
		goto fail;
	}
	if (!t->packet) {
		t->rd = h4_reader_new(H4_MAX_PKT);
		if (!t->rd) {
			r = -ENOMEM;
			goto fail;
		}
	}
	r = loop_add_fd(l, fd, EPOLLIN, fd_cb, t);
	if (r < 0)
		goto fail;
	*out = &t->base;
	return 0;
fail:
	fd_close(&t->base);
	return r;
}

static int fd_send(struct mux_transport *base, const uint8_t *h4, size_t len)
{
	struct fd_transport *t = (struct fd_transport *)base;
	int r;

	if (t->failed)
		return -EPIPE;
	r = pktq_push(&t->outq, h4, len);
	if (r < 0)
		return r;
	flush_out(t);
	return t->failed ? t->err : 0;
}

const struct mux_transport_kind mux_transport_unix = {
	"unix", false, check_unix, probe_unix, open_unix, fd_open, fd_send, fd_close,
};

const struct mux_transport_kind mux_transport_tcp = {
	"tcp", false, check_tcp, probe_tcp, open_tcp, fd_open, fd_send, fd_close,
};

const struct mux_transport_kind mux_transport_h4 = {
	"h4", false, check_h4, probe_h4, open_tty, fd_open, fd_send, fd_close,
};

const struct mux_transport_kind mux_transport_hci = {
	"hci", false, check_hci, probe_hci, open_hci, fd_open, fd_send, fd_close,
};

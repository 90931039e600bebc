/* SPDX-License-Identifier: MIT */
/*
 * What every part of the tunnel server says on the wire: reason codes and
 * their words, a message's header, ERROR and CLOSE, the key that tells a
 * repeated login request, and the keys exported from a channel for a
 * session (RFC 5705). The lowest of the server's files: it calls only
 * the channel and message code.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "tunnel_int.h"

const char *tun_reason_str(int reason)
{
	switch (reason) {
	case TUN_R_NONE: return "no error";
	case TUN_R_PROTOCOL: return "protocol error";
	case TUN_R_VERSION: return "incompatible protocol version";
	case TUN_R_AUTH_FAILED: return "login failed";
	case TUN_R_CERT_REQUIRED: return "a client certificate is required";
	case TUN_R_CERT_REVOKED: return "client certificate revoked";
	case TUN_R_CERT_EXPIRED: return "client certificate expired or not yet valid";
	case TUN_R_CERT_INVALID: return "client certificate not accepted";
	case TUN_R_CERT_UNKNOWN: return "client certificate not registered to any user";
	case TUN_R_MODE_UNSUPPORTED: return "login mode not supported by the server";
	case TUN_R_RESUME_FAILED: return "session could not be resumed";
	case TUN_R_BUSY: return "server busy";
	case TUN_R_TIMEOUT: return "timed out";
	case TUN_R_SHUTDOWN: return "closed by the peer";
	case TUN_R_REFUSED: return "session refused by the server";
	case TUN_R_INTERNAL: return "internal error";
	case TUN_R_RATE_LIMITED: return "too many failed logins, try later";
	case TUN_R_KICKED: return "ended by the gateway's admin";
	case TUN_R_SERVER_CERT: return "server certificate verification failed";
	case TUN_R_HANDSHAKE: return "secure handshake failed";
	case TUN_R_UNREACHABLE: return "server unreachable";
	case TUN_R_LOCAL_CLOSE: return "closed locally";
	case TUN_R_RESUME_EXPIRED: return "client did not come back in time";
	case TUN_R_PEER_DEAD: return "peer stopped answering";
	default: return "unknown reason";
	}
}

bool tun_reason_on_wire(int reason)
{
	return reason > 0 && reason < 100;
}

void tun_msg_init(struct tun_msg *m, uint8_t version, uint8_t type)
{
	memset(m, 0, sizeof(*m));
	m->version = version;
	m->type = type;
}

uint16_t tun_login_key(const struct tun_msg *m)
{
	switch (m->type) {
	case TUN_MSG_HELLO:
	case TUN_MSG_RESUME:
	case TUN_MSG_CERT_PROOF:
		return (uint16_t)(m->type << 8);
	case TUN_MSG_AUTH:
		return (uint16_t)(m->type << 8 | m->auth.step);
	default:
		return 0;
	}
}

/* An ERROR or CLOSE with a reason code the wire knows, and its text. */
void tun_msg_reason(struct tun_msg *m, uint8_t version, uint8_t type, int reason,
		    const char *text)
{
	if (!tun_reason_on_wire(reason))
		reason = TUN_R_INTERNAL;
	tun_msg_init(m, version, type);
	m->close.code = (uint16_t)reason;
	snprintf(m->close.text, sizeof(m->close.text), "%s", text ? text : tun_reason_str(reason));
}

/* ERROR or CLOSE with a reason code and text (best effort). */
void tun_send_reason(struct tun_chan *ch, uint8_t version, uint8_t type,
		     int reason, const char *text)
{
	struct tun_msg m;

	tun_msg_reason(&m, version, type, reason, text);
	tun_chan_send(ch, &m);
}

int tun_export_key(struct tun_chan *ch, const uint8_t *sid, const char *label,
		   uint8_t *out)
{
	return tun_chan_export(ch, label, sid, TUN_SID_LEN, out, TUN_KEY_LEN);
}

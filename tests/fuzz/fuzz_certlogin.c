/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for what a subverted bgw-muxd peer process can hand
 * its monitor at a login (muxd/peerauth.h): the input as a CERT_LOGIN
 * blob through the monitor's request decoder (muxd/rpc.c) and, when the
 * decoder takes it, into the certificate login check (a fresh challenge,
 * the CA below, an authdb: tunnel/certlogin.c, muxd/peerauth.c); the input
 * as each peer request type's payload; and as the data of a SIGN request
 * for a DTLS peer (its hello random fixed) and a TCP one. The CA is a
 * fixed public certificate (no key here); the seed carries a certificate
 * it issued, so the chain checks pass and the signature check runs.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authdb.h"
#include "certlogin.h"
#include "cursor.h"
#include "peerauth.h"
#include "rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char ca_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBcjCCARigAwIBAgIUX2Fe5h3YMBJkzNIiEG0xUersG9wwCgYIKoZIzj0EAwIw\n"
	"FjEUMBIGA1UEAxMLYmd3IGZ1enogQ0EwIBcNMjYxMjA3MDk1NTI0WhgPMjEyNjEx\n"
	"MTMwOTU1MjRaMBYxFDASBgNVBAMTC2JndyBmdXp6IENBMFkwEwYHKoZIzj0CAQYI\n"
	"KoZIzj0DAQcDQgAEoobGtcUUmGh23a+XPfv7asCt6z7+vKXsS4//2st0nCkXH7qG\n"
	"WC/OoHe7/TzN+i9GjtuJzLP5NXoyKmQxtEuck6NCMEAwDwYDVR0TAQH/BAUwAwEB\n"
	"/zAOBgNVHQ8BAf8EBAMCAgQwHQYDVR0OBBYEFAkUA8VZ+5ErJNOL/zK9XTOdcsmJ\n"
	"MAoGCCqGSM49BAMCA0gAMEUCIFCTJ97qyK8eC2czAK2djsiC16i6fB8b10ULhRc3\n"
	"/pV4AiEAqOF3CIMYN7eytjzwfrPpZkMLHc4YjbzXnSxAPjNRORA=\n"
	"-----END CERTIFICATE-----\n";

static struct tun_certca *ca;
static struct authdb *db;

static void init(void)
{
	static const char text[] = "user alice admin\nuser bob\n";
	char path[] = "/tmp/bgw-fuzz-ca-XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, ca_pem, sizeof(ca_pem) - 1) != (ssize_t)(sizeof(ca_pem) - 1))
		abort();
	close(fd);
	if (tun_certca_new(&ca, path) < 0)
		abort();
	unlink(path);
	if (authdb_parse_buffer("fuzz", text, sizeof(text) - 1, &db, NULL, 0) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t types[] = {
		RPC_SPAWN, RPC_SIGN, RPC_CERT_CHALLENGE, RPC_CERT_LOGIN, RPC_LINK, RPC_LOG,
		RPC_PEER_STOP,
	};
	static uint8_t req[RPC_REQ_MAX];
	uint8_t rnd[32], chal[RPC_CHAL_LEN], fpr[AUTHDB_FPR_LEN];
	char user[AUTHDB_NAME_MAX + 1];
	struct peerauth pa;
	struct rpc_req q;
	const char *why;
	size_t i, n;

	if (!ca)
		init();
	/* The input as every peer request's payload. */
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		rpc_req_decode(types[i], data, size, &q, &why);
	/* As a CERT_LOGIN blob: arg, four empty strings, le16 length, blob. */
	if (size <= RPC_BLOB_MAX) {
		n = 0;
		memset(req, 0, 5);
		n = 5;
		put_le16(req + n, (uint16_t)size);
		n += 2;
		if (size)
			memcpy(req + n, data, size);
		n += size;
		if (rpc_req_decode(RPC_CERT_LOGIN, req, n, &q, &why) == 0) {
			peerauth_init(&pa, NULL);
			if (peerauth_challenge(&pa, chal) < 0)
				abort();
			peerauth_cert_login(&pa, ca, db, q.blob, q.blob_len, user, fpr);
			if (strlen(user) > AUTHDB_NAME_MAX)
				abort();
			/* Spent: a second try is refused before any parsing. */
			if (peerauth_cert_login(&pa, ca, db, q.blob, q.blob_len, user,
						fpr) != -EPROTO)
				abort();
			peerauth_clear(&pa);
		}
	}
	/* As what a SIGN asks to be signed. */
	memset(rnd, 0xc1, sizeof(rnd));
	peerauth_init(&pa, rnd);
	peerauth_sign_check(&pa, false, data, size);
	peerauth_init(&pa, NULL);
	peerauth_sign_check(&pa, false, data, size);
	return 0;
}

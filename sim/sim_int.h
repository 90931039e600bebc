/* SPDX-License-Identifier: MIT */
/*
 * Internals of the simulated controller shared by sim/ *.c (not for users
 * of sim.h): the parsed house, the runtime state of remote devices (RDs)
 * and the RD's upper layers (L2CAP signalling, ATT, SMP).
 */
#ifndef BGW_SIM_INT_H
#define BGW_SIM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bdaddr.h"
#include "loop.h"
#include "sim.h"

/* Caps of a scenario; exceeding one is a parse error, never a truncation. */
#define SIM_MAX_RDS		32
#define SIM_ID_MAX		31
#define SIM_NAME_MAX		248	/* Core Vol 4 Part E 7.3.12 */
#define SIM_EIR_MAX		240	/* Core Vol 3 Part C 8 */
#define SIM_ADV_MAX		31	/* legacy advertising PDU payload */
/* Extended advertising data: at most 1650 octets (Vol 4 Part E 7.8.57). */
#define SIM_EXT_ADV_MAX		1650
#define SIM_MAX_UUIDS		8
#define SIM_MAX_SERVICES	8
#define SIM_MAX_CHARS		16
#define SIM_VALUE_MAX		64
#define SIM_MAX_BONDS		8
#define SIM_LINE_MAX		1024

enum {
	SIM_TECH_BREDR = 0x01,
	SIM_TECH_LE = 0x02,
};

/* GATT characteristic properties (Core Vol 3 Part G 3.3.1.1). */
enum {
	SIM_PROP_READ = 0x02,
	SIM_PROP_WRITE_NR = 0x04,
	SIM_PROP_WRITE = 0x08,
	SIM_PROP_NOTIFY = 0x10,
	/*
	 * Not a GATT property bit (never in the declaration): reading or
	 * writing the value needs an encrypted link, as a device that keeps
	 * it for bonded centrals (Insufficient Encryption, Vol 3 Part F
	 * 3.4.1.1).
	 */
	SIM_PROP_ENCRYPT = 0x80,
};

struct sim_char {
	uint8_t svc;		/* index into services[] */
	uint16_t uuid;
	uint8_t props;
	uint8_t len;
	uint8_t value[SIM_VALUE_MAX];
};

enum sim_adv_pdu {
	SIM_PDU_LEGACY = 0,
	SIM_PDU_EXT,		/* extended PDUs only, primary PHY LE 1M */
	SIM_PDU_CODED,		/* extended PDUs only, on LE Coded */
};

struct sim_rd_cfg {
	char id[SIM_ID_MAX + 1];
	unsigned line;		/* where the device block starts */
	bool has_addr;
	struct bdaddr addr;
	uint8_t addr_type;	/* BDADDR_PUBLIC or BDADDR_RANDOM */
	uint8_t tech;		/* SIM_TECH_* bits */
	char name[SIM_NAME_MAX + 1];
	uint32_t cod;
	int8_t rssi;
	bool discoverable;
	bool connectable;
	uint16_t appearance;
	uint8_t n_uuids;
	uint16_t uuids[SIM_MAX_UUIDS];
	bool eir_set;
	uint8_t eir_len;
	uint8_t eir[SIM_EIR_MAX];
	bool adv_set;
	uint8_t adv_len;
	uint8_t adv[SIM_ADV_MAX];
	/*
	 * "advertising legacy|extended|coded": legacy PDUs (the default), or
	 * extended PDUs only (Vol 6 Part B 2.3.1) on LE 1M or only on LE
	 * Coded; "ext-adv-len N" pads the extended data to N octets.
	 */
	uint8_t adv_pdu;
	uint16_t ext_adv_len;
	uint8_t n_services;
	uint16_t services[SIM_MAX_SERVICES];
	uint8_t n_chars;
	struct sim_char chars[SIM_MAX_CHARS];
	int32_t connect_in_ms;	/* incoming BR/EDR connection; -1: never */
	/*
	 * Pairing (BR/EDR and LE) as the device's own host answers it: its IO
	 * capability (Vol 4 Part E 7.7.41: 0 DisplayOnly, 1 DisplayYesNo,
	 * 2 KeyboardOnly, 3 NoInputNoOutput, the default) and how it pairs.
	 */
	uint8_t io_cap;
	uint8_t pairing;	/* enum sim_pairing */
	/*
	 * LE Secure Connections: what the device's user answers to numeric
	 * comparison ("confirm yes|no"), and the passkey it shows or types
	 * ("passkey N"; a displaying device draws one without it).
	 */
	bool nc_confirm;
	bool has_passkey;
	uint32_t passkey;
	/*
	 * "irk HEX": an LE device with privacy. addr is then its resolvable
	 * private address (Vol 6 Part B 1.3.2.2), made from irk (SMP order),
	 * and id_addr its identity (the address line), which it distributes with
	 * the IRK when a pairing asks for IdKey (Vol 3 Part H 3.6.4-3.6.5).
	 */
	bool has_irk;
	uint8_t irk[16];
	struct bdaddr id_addr;
	uint8_t id_type;
};

/*
 * How the device pairs. BR/EDR: SSP but for "legacy" (a PIN code) and
 * "refuse"; LE (rd_smp.c): legacy pairing but for "sc" and "sc-only".
 */
enum sim_pairing {
	SIM_PAIR_SSP = 0,	/* Secure Simple Pairing; LE legacy (the default) */
	SIM_PAIR_LEGACY,	/* no SSP: a PIN code (Vol 2 Part F 4.2.1) */
	SIM_PAIR_REFUSE,	/* refuses to pair (Pairing Not Allowed/Supported) */
	SIM_PAIR_SC,		/* LE Secure Connections if the initiator has it */
	SIM_PAIR_SC_ONLY,	/* LE Secure Connections Only mode */
};

struct sim_house {
	size_t n;
	struct sim_rd_cfg rd[SIM_MAX_RDS];
};

/* Keys an RD keeps for a peer controller, as a real device bonds. */
struct sim_bond {
	bool used;
	struct bdaddr peer;
	bool has_lk;
	uint8_t lk[16];
	bool has_ltk;
	uint8_t ltk[16];
	uint16_t ediv;
	uint8_t rand[8];
};

struct sim_rd {
	struct sim_rd_cfg *cfg;
	struct sim_bond bonds[SIM_MAX_BONDS];
	unsigned next_bond;
	uint8_t eir_len;
	uint8_t eir[SIM_EIR_MAX];
	uint8_t adv_len;
	uint8_t adv[SIM_ADV_MAX];
	uint8_t rsp_len;
	uint8_t rsp[SIM_ADV_MAX];
	uint16_t ext_len;
	uint8_t ext[SIM_EXT_ADV_MAX];
};

/* ---- house.c ---- */
struct sim_house_parser;

/* The parser API is split so that the real parser is unit-tested and fuzzed. */
int sim_house_parser_new(struct sim_house_parser **out, const char *fname);
/* One line without its newline; len bytes (an embedded NUL is an error). */
int sim_house_parser_line(struct sim_house_parser *p, const char *line,
			  size_t len, char *err, size_t errlen);
int sim_house_parser_finish(struct sim_house_parser *p, struct sim_house **out,
			    char *err, size_t errlen);
void sim_house_parser_free(struct sim_house_parser *p);
/* Parse a whole buffer (the default house, tests). */
int sim_house_parse_buf(const char *fname, const char *buf, size_t len,
			struct sim_house **out, char *err, size_t errlen);
/* The default scenario's text (also printed by bgw-sim --dump-default). */
const char *sim_house_default_text(void);

/*
 * A device with an IRK takes a new resolvable private address, from
 * prand (its low 22 bits; the top two are 0b01): 0, -EINVAL without an
 * IRK, -EIO if the cipher failed. Tests call it between connections, as
 * a device changes its address on a timer (Vol 3 Part C 10.7).
 */
int sim_rd_new_rpa(struct sim_rd_cfg *d, uint32_t prand);

/* ---- air.c ---- */
uint64_t sim_air_delay(const struct sim_air *a, uint64_t sim_us);
uint32_t sim_air_rand(struct sim_air *a);
void sim_air_rand_bytes(struct sim_air *a, uint8_t *p, size_t n);
struct loop *sim_air_loop(const struct sim_air *a);
const struct sim_opts *sim_air_opts(const struct sim_air *a);
size_t sim_air_rd_count(const struct sim_air *a);
struct sim_rd *sim_air_rd(struct sim_air *a, size_t i);
struct sim_rd *sim_air_find_rd(struct sim_air *a, const struct bdaddr *addr);
/*
 * A controller's place in the air. The air assigns its address (want, or
 * the next free one) and keeps the list; gone(user) is called if the air
 * is freed while the controller is still attached (the port is then gone
 * too). NULL on allocation failure.
 */
struct sim_air_port;
typedef void (*sim_air_gone_fn)(void *user);
struct sim_air_port *sim_air_attach(struct sim_air *a, const struct bdaddr *want,
				    sim_air_gone_fn gone, void *user);
void sim_air_detach(struct sim_air *a, struct sim_air_port *p);
const struct bdaddr *sim_air_port_addr(const struct sim_air_port *p);
void *sim_air_port_user(const struct sim_air_port *p);
/* The attached controllers in turn: prev NULL for the first. */
struct sim_air_port *sim_air_port_next(struct sim_air *a,
				       const struct sim_air_port *prev);

/* ---- ctrl*.c (internals in ctrl_int.h) ---- */
const struct bdaddr *sim_ctrl_addr(const struct sim_ctrl *c);
/* Is this opcode implemented (and so its Supported_Commands bit set)? */
bool sim_ctrl_cmd_supported(uint16_t op);

/* ---- rd_state.c: an RD's data, below the air ---- */
void sim_rd_init(struct sim_rd *rd, struct sim_rd_cfg *cfg);
struct sim_bond *sim_rd_bond(struct sim_rd *rd, const struct bdaddr *peer,
			     bool create);

/* ---- rd.c: an RD's upper layers on a link, above the air ---- */
struct sim_link;
/* An L2CAP PDU (basic header included) from the RD to the host. */
typedef void (*sim_link_send_fn)(const uint8_t *pdu, size_t len, void *user);

struct sim_link *sim_link_new(struct sim_air *a, struct sim_rd *rd, bool le,
			      const struct bdaddr *ia, uint8_t iat,
			      sim_link_send_fn send, void *user);
void sim_link_free(struct sim_link *k);
/* One complete L2CAP PDU from the host (basic header included). */
void sim_link_input(struct sim_link *k, const uint8_t *pdu, size_t len);
/* LE: does the RD hold this key (the pairing's STK or LTK, a bond's LTK)? */
bool sim_link_ltk_ok(struct sim_link *k, const uint8_t rand[8], uint16_t ediv,
		     const uint8_t ltk[16]);
/* LE: the link is now encrypted; the RD distributes its keys. */
void sim_link_encrypted(struct sim_link *k);

/* ---- rd_smp.c: an RD's Security Manager on an LE link (the responder) ---- */
struct sim_smp;
/* An SMP PDU (code first, no L2CAP header) from the RD to the host. */
typedef void (*sim_smp_send_fn)(const uint8_t *pdu, size_t len, void *user);

struct sim_smp *sim_smp_new(struct sim_air *a, struct sim_rd *rd,
			    const struct bdaddr *ia, uint8_t iat,
			    sim_smp_send_fn send, void *user);
/* Wipes the pairing's keys; s may be NULL. */
void sim_smp_free(struct sim_smp *s);
/* One SMP PDU from the host (code first), untrusted. */
void sim_smp_input(struct sim_smp *s, const uint8_t *pdu, size_t len);
bool sim_smp_ltk_ok(struct sim_smp *s, const uint8_t rand[8], uint16_t ediv,
		    const uint8_t ltk[16]);
void sim_smp_encrypted(struct sim_smp *s);

#endif /* BGW_SIM_INT_H */

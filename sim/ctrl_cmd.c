/* SPDX-License-Identifier: MIT */
/*
 * Command dispatch of the simulated controller over the feature tables
 * (ctrl_int.h). The supported-commands bitmap is derived from the same
 * tables, so the bits can never claim a command that is not handled; every
 * other opcode gets Unknown HCI Command (Vol 4 Part E 4.5).
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "log.h"
#include "ctrl_int.h"

static void supported_commands(uint8_t out[64]);

static void c_read_commands(struct sim_ctrl *c, const struct ctrl_cmd *x)
{
	uint8_t b[65];

	b[0] = 0;
	supported_commands(b + 1);
	ctrl_reply_cc(c, x->op, b, sizeof(b));
}

/* Read Local Supported Commands has no bit of its own (6.27). */
static const struct ctrl_cmd_def own_cmds[] = {
	{ HCI_OP_READ_LOCAL_COMMANDS, NO_BIT, 0, 0, CC, c_read_commands },
};

static CTRL_CMD_TABLE(ctrl_cmds_own, own_cmds);

/* Every command the controller implements, by feature. */
static const struct ctrl_cmd_table *const tables[] = {
	&ctrl_cmds_own,
	&ctrl_cmds_info,
	&ctrl_cmds_bredr,
	&ctrl_cmds_conn,
	&ctrl_cmds_pair,
	&ctrl_cmds_le_adv,
	&ctrl_cmds_le_conn,
	&ctrl_cmds_le_enc,
};

static const struct ctrl_cmd_def *cmd_find(uint16_t op)
{
	size_t t, i;

	for (t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (i = 0; i < tables[t]->n; i++)
			if (tables[t]->defs[i].op == op)
				return &tables[t]->defs[i];
	return NULL;
}

static void supported_commands(uint8_t out[64])
{
	const struct ctrl_cmd_def *d;
	size_t t, i;

	memset(out, 0, 64);
	for (t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (i = 0; i < tables[t]->n; i++) {
			d = &tables[t]->defs[i];
			if (d->octet < 64)
				out[d->octet] |= (uint8_t)(1u << d->bit);
		}
	}
}

bool sim_ctrl_cmd_supported(uint16_t op)
{
	return cmd_find(op) != NULL;
}

static void cmd_input(struct sim_ctrl *c, const struct h4_pkt *p)
{
	struct ctrl_cmd x = { p->cmd.opcode, p->cmd.param, p->cmd.plen };
	const struct ctrl_cmd_def *d = cmd_find(x.op);

	if (!d) {
		/* Not implemented: Unknown HCI Command, never silence (4.5). */
		ctrl_reply_cs(c, x.op, HCI_ST_UNKNOWN_COMMAND);
		return;
	}
	/* Fixed-length commands: exact length or Invalid HCI Command
	 * Parameters, in the command's own response (4.5). */
	if (d->plen >= 0 && x.plen != d->plen) {
		ctrl_bad_params(c, &x, d->status_first);
		return;
	}
	d->fn(c, &x);
}

int sim_ctrl_input(struct sim_ctrl *c, const uint8_t *h4, size_t len)
{
	struct h4_pkt p;
	int r;

	if (!c)
		return -EINVAL;
	if (!c->air)
		return -ENODEV;
	r = h4_parse(&p, h4, len, 0);
	if (r < 0)
		return -EBADMSG;
	switch (p.type) {
	case H4_CMD:
		cmd_input(c, &p);
		return 0;
	case H4_ACL:
		return ctrl_acl_input(c, &p);
	case H4_SCO:
	case H4_ISO:
		/* No SCO or ISO links exist here: discarded like data for an
		 * unknown handle. */
		log_info("sim: %s packet dropped (no such link)", h4_type_name(p.type));
		return 0;
	default:
		return -EBADMSG;	/* events never flow host -> controller */
	}
}

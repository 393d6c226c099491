/*
 * turn/authlog.c - one log line per authentication failure, rate-limited
 * per worker so a flood of bad requests cannot fill the disk: a token
 * bucket of TURN_AUTHLOG_PER_S lines per second with a burst of
 * TURN_AUTHLOG_BURST; lines held back are counted and reported by the next
 * line that goes out. The user name comes from the attacker: it is cut to
 * 64 bytes and anything outside printable ASCII (and the quote) becomes
 * '?', so a line can neither be split nor forged. Pure: time is s->now_ms.
 */
#include "turn/turn_int.h"

#include <stdio.h>
#include <string.h>

#define CREDIT_PER_LINE 1000u
#define USER_SHOWN      64

static bool take_credit(struct turn_server *s)
{
	uint64_t cap = (uint64_t)TURN_AUTHLOG_BURST * CREDIT_PER_LINE;
	uint64_t credit = s->authlog_credit;

	if (s->authlog_last_ms == 0)
		credit = cap; /* first failure of this worker */
	else if (s->now_ms > s->authlog_last_ms)
		credit += (s->now_ms - s->authlog_last_ms) *
		          (uint64_t)TURN_AUTHLOG_PER_S * CREDIT_PER_LINE / 1000;
	if (credit > cap)
		credit = cap;
	s->authlog_last_ms = s->now_ms ? s->now_ms : 1;
	if (credit < CREDIT_PER_LINE) {
		s->authlog_credit = (uint32_t)credit;
		return false;
	}
	s->authlog_credit = (uint32_t)(credit - CREDIT_PER_LINE);
	return true;
}

void turn_auth_log(struct turn_server *s, const char *reason, const char *user,
                   size_t user_len, const union turn_addr *client)
{
	char shown[USER_SHOWN + 4], addr[64], more[48] = "";
	size_t n = user_len < USER_SHOWN ? user_len : USER_SHOWN;

	if (!take_credit(s)) {
		s->authlog_suppressed++;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)user[i];
		shown[i] =
		        ch >= 0x20 && ch < 0x7f && ch != '"' ? (char)ch : '?';
	}
	if (user_len > n)
		memcpy(shown + n, "...", 3), n += 3;
	shown[n] = '\0';
	turn_addr_str(client, addr, sizeof(addr));
	if (s->authlog_suppressed)
		snprintf(more, sizeof(more), " (%u earlier lines suppressed)",
		         s->authlog_suppressed);
	s->authlog_suppressed = 0;
	turn_log(s, "auth failure: reason=\"%s\" user=\"%s\" client=%s%s",
	         reason, user ? shown : "", addr, more);
}

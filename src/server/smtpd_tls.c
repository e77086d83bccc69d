/*
 * smtpd_tls.c - the listener's STARTTLS (RFC 3207): the server context
 * from tls_cert_file and tls_key_file, with the floor and ciphers of
 * tls/tls_policy.c, and the switch of a session to TLS.
 *
 * Ownership: the context is the smtpd's (SSL_CTX_free() in smtpd_free());
 * a session's SSL belongs to its TLS bufferevent, freed with it.
 */
#include <stdio.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "server/smtpd_int.h"
#include "tls/tls.h"

/*
 * smtpd_tls_ctx_new - the server context for STARTTLS, NULL with err
 * when the certificate or key cannot be used
 */
SSL_CTX *
smtpd_tls_ctx_new(const struct dmx_conf *conf, char *err, size_t errlen)
{
	SSL_CTX		*ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_use_certificate_chain_file(ctx, conf->tls_cert_file) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, conf->tls_key_file ?
	    conf->tls_key_file : conf->tls_cert_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "STARTTLS: cannot load %s / %s: %s",
		    conf->tls_cert_file, conf->tls_key_file ?
		    conf->tls_key_file : conf->tls_cert_file,
		    ERR_reason_error_string(ERR_get_error()));
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* The floor and the ciphers: tls/tls_policy.c */
	if (tls_ctx_policy(ctx, 0, (int)conf->smtpd_tls_min_version, err,
	    errlen) == -1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/*
 * smtpd_starttls - 220, then TLS over the same socket. Anything the
 * client pipelined after STARTTLS is discarded (RFC 3207 4.2); the
 * session starts over and needs EHLO again.
 */
void
smtpd_starttls(struct session *s)
{
	struct bufferevent	*tb;
	struct timeval		 tv;
	SSL			*ssl;

	if (s->d->tls_ctx == NULL || s->tls) {
		smtpd_reply(s, "502 5.5.1 STARTTLS not available");
		return;
	}
	if (s->state != S_READY && s->state != S_GREET) {
		smtpd_reply(s, "503 5.5.1 STARTTLS inside a transaction");
		return;
	}
	if ((ssl = SSL_new(s->d->tls_ctx)) == NULL) {
		smtpd_reply(s, "454 4.7.0 TLS not available due to local "
		    "problem");
		return;
	}
	smtpd_reply(s, "220 2.0.0 Ready to start TLS");
	if (s->held != NULL)	/* the 220 goes out in the clear, now */
		evbuffer_add_buffer(bufferevent_get_output(s->bev), s->held);
	evbuffer_drain(bufferevent_get_input(s->bev),
	    evbuffer_get_length(bufferevent_get_input(s->bev)));
	tb = bufferevent_openssl_filter_new(s->d->base, s->bev, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (tb == NULL) {
		SSL_free(ssl);
		smtpd_close_after_output(s);
		return;
	}
	/* The TLS layer writes no more than this below itself (OUT_HIGH). */
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, OUT_HIGH / 2);
	s->bev = tb;
	bufferevent_setcb(s->bev, smtpd_session_read, smtpd_session_write,
	    smtpd_session_event, s);
	tv.tv_sec = (time_t)s->d->conf->smtp_timeout;
	tv.tv_usec = 0;
	bufferevent_set_timeouts(s->bev, &tv, &tv);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	s->reading = 1;
	smtpd_txn_reset(s);
	smtpd_in_init(&s->in, s->in.line_max, s->in.lf_ok);
	s->tls = 1;
	s->state = S_GREET;
	s->helo[0] = '\0';
}

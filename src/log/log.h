/*
 * log.h - one line per event, to stderr (the CLI) or syslog (the daemon).
 *
 * Three kinds of failure: fatalx() for our own bugs, fatal() for a
 * broken setup at startup (appends strerror(errno)), and log_warnx()
 * for one peer or one message. The library logs but never exits,
 * except through fatalx() on an internal bug.
 */
#ifndef DANEMX_LOG_H
#define DANEMX_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void	log_init(const char *ident, int to_syslog, int verbosity);
void	log_set_quiet(int);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif /* DANEMX_LOG_H */

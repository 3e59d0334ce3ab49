/*
 * server: the FastCGI worker pool (and the single-request CGI mode).
 *
 * DESIGN
 * N threads each own one FCGX_Request, one store handle and (inside the
 * provider layer) one curl handle, and loop on FCGX_Accept_r. Signals are
 * blocked in every thread; main waits in sigwait, and on SIGTERM/SIGINT
 * sets the stop flag, wakes the accepts by shutting the listening socket
 * down, and gives in-flight requests until the deadline (streams check
 * server_stopping() and end early) before exiting: shutdown takes < 1 s.
 */
#ifndef AH_SERVER_H
#define AH_SERVER_H

struct conf;

/* Serve until SIGTERM/SIGINT; returns the process exit status. */
int server_run(const struct conf *c);
/* 1 once shutdown began: long work (streams) should end now. */
int server_stopping(void);
/* Take a stream slot (conf max_streams per process); 0 ok, -1 when all are busy. */
int server_stream_acquire(void);
void server_stream_release(void);

#endif

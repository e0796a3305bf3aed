/* Cancel and statement_timeout (guards/cancel.c), usable from any thread.
 * Globals: none shared (cancel.c keeps its state under its own mutex). Includes no header of the addon. */
#ifndef PYGLITE_CANCEL_H
#define PYGLITE_CANCEL_H

#include <stdint.h>

enum { CANCEL_NONE = 0, CANCEL_USER = 1, CANCEL_TIMEOUT = 2 };

void cancel_set_engine_thread(void);
void cancel_set_target(uint8_t *mem_base, uint32_t addr_interrupt, uint32_t addr_cancel, uint32_t addr_latch);
void cancel_exec_begin(double token, int timeout_ms);
void cancel_exec_end(void);
int cancel_request(double token, int kind); /* 1 if the token was running and got the request */
int cancel_kind(void);                       /* pending request for the running exec, or 0 */
int cancel_consumed(void);                   /* PostgreSQL took the pending request (raised its 57014) */
int cancel_install_restart_flag(int signo);

#endif

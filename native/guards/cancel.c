/* Cancel and statement_timeout for the engine thread, requested from any thread.
 *
 * PostgreSQL stops a statement when its signal handler sets QueryCancelPending/InterruptPending and the
 * executor reaches CHECK_FOR_INTERRUPTS (postgres.c ProcessInterrupts). PGlite has no signals, so we set
 * the same two flags directly in the engine's wasm memory (same process, V8 never moves a wasm32 memory).
 * Python code ignores those flags, so we also send SIGUSR2 to the engine thread: CPython runs the
 * Python-level handler installed by the host (which raises QueryCanceled), and the signal interrupts
 * blocking calls such as time.sleep. SA_RESTART is added so that other system calls of that thread
 * (file I/O in JS or wasm) are restarted rather than failing with EINTR.
 * All state changes happen under one mutex, so a request can only reach the exec it was meant for. */
#include "cancel.h"
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond;
static int cond_ready;
static pthread_t engine_thread;
static int have_engine;
static uint8_t *mem_base;
static uint32_t addr_interrupt, addr_cancel, addr_latch;
static double running;      /* token of the exec in progress, 0 = none */
static atomic_int pending;  /* CANCEL_* requested for the running exec */
static int armed;           /* statement_timeout deadline set */
static struct timespec deadline;
static int watchdog_started;

static void write_flag(uint32_t addr, int32_t v) {
  if (mem_base && addr) *(volatile int32_t *)(mem_base + addr) = v;
}

static int32_t read_flag(uint32_t addr) {
  return mem_base && addr ? *(volatile int32_t *)(mem_base + addr) : 0;
}

/* PostgreSQL's ProcessInterrupts clears QueryCancelPending before it raises "canceling statement …"
 * (postgres.c): once it has, the request travels as that SQL error (inside plpy.execute an SPIError that
 * Python may catch, as in PostgreSQL) and is done with; a later request may come. */
int cancel_consumed(void) {
  return atomic_load(&pending) != CANCEL_NONE && read_flag(addr_cancel) == 0;
}

/* Caller holds lock. */
static int request_locked(double token, int kind) {
  if (running == 0 || running != token) return 0;
  if (atomic_load(&pending) != CANCEL_NONE && !cancel_consumed()) return 0;
  atomic_store(&pending, kind);
  write_flag(addr_cancel, 1);
  write_flag(addr_interrupt, 1);
  /* MyLatch->is_set: a backend waiting in WaitLatch (pg_sleep, a lock wait) wakes up and reaches
   * CHECK_FOR_INTERRUPTS, as PostgreSQL's SIGINT handler's SetLatch(MyLatch) makes it (postgres.c
   * StatementCancelHandler). PGlite's poll() never blocks, so WaitEventSetWait sees the flag at once. */
  write_flag(addr_latch, 1);
  if (have_engine) pthread_kill(engine_thread, SIGUSR2);
  return 1;
}

static void *watchdog_main(void *unused) {
  pthread_mutex_lock(&lock);
  for (;;) {
    if (!armed) {
      pthread_cond_wait(&cond, &lock);
      continue;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec > deadline.tv_sec || (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec)) {
      armed = 0;
      request_locked(running, CANCEL_TIMEOUT);
      continue;
    }
    pthread_cond_timedwait(&cond, &lock, &deadline);
  }
  return NULL;
}

static void ensure_cond_locked(void) {
  if (cond_ready) return;
  pthread_condattr_t a;
  pthread_condattr_init(&a);
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
  pthread_cond_init(&cond, &a);
  pthread_condattr_destroy(&a);
  cond_ready = 1;
}

void cancel_set_engine_thread(void) {
  pthread_mutex_lock(&lock);
  engine_thread = pthread_self();
  have_engine = 1;
  pthread_mutex_unlock(&lock);
}

void cancel_set_target(uint8_t *base, uint32_t a_int, uint32_t a_cancel, uint32_t a_latch) {
  pthread_mutex_lock(&lock);
  mem_base = base;
  addr_interrupt = a_int;
  addr_cancel = a_cancel;
  addr_latch = a_latch;
  pthread_mutex_unlock(&lock);
}

void cancel_exec_begin(double token, int timeout_ms) {
  pthread_mutex_lock(&lock);
  ensure_cond_locked();
  running = token;
  atomic_store(&pending, CANCEL_NONE);
  write_flag(addr_cancel, 0);
  if (timeout_ms > 0) {
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
      deadline.tv_sec++;
      deadline.tv_nsec -= 1000000000L;
    }
    armed = 1;
    if (!watchdog_started) {
      pthread_t t;
      pthread_attr_t attr;
      pthread_attr_init(&attr);
      pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
      sigset_t all, old;
      sigfillset(&all);
      pthread_sigmask(SIG_BLOCK, &all, &old); /* the watchdog must never receive signals */
      if (pthread_create(&t, &attr, watchdog_main, NULL) == 0) watchdog_started = 1;
      pthread_sigmask(SIG_SETMASK, &old, NULL);
      pthread_attr_destroy(&attr);
    }
    pthread_cond_signal(&cond);
  } else {
    armed = 0;
  }
  pthread_mutex_unlock(&lock);
}

void cancel_exec_end(void) {
  pthread_mutex_lock(&lock);
  running = 0;
  armed = 0;
  atomic_store(&pending, CANCEL_NONE);
  write_flag(addr_cancel, 0);
  pthread_mutex_unlock(&lock);
}

int cancel_request(double token, int kind) {
  pthread_mutex_lock(&lock);
  int r = request_locked(token, kind);
  pthread_mutex_unlock(&lock);
  return r;
}

int cancel_kind(void) {
  return atomic_load(&pending);
}

int cancel_install_restart_flag(int signo) {
  struct sigaction sa;
  if (sigaction(signo, NULL, &sa)) return -1;
  if (sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN) return -1; /* Python's handler must be there */
  sa.sa_flags |= SA_RESTART;
  return sigaction(signo, &sa, NULL);
}

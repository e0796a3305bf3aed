/* pyglite_fsutil: the data directory's lock, as flock(2) on an open file descriptor, and syncfs(2).
 *
 * PGlite writes postmaster.pid with process id -42, so PostgreSQL's own interlock (miscinit.c
 * CreateLockFile) never stops a second server on the same data directory. A kernel lock does: it is taken
 * atomically, and the kernel drops it when its process ends in any way, SIGKILL included, so a lock left
 * by a killed server is never mistaken for a live one and two starters cannot both "clear" it. Node has no
 * flock, hence this addon. It does not link libpython: the CLI's backup/restore commands load it alone.
 *
 * syncfs(fd) flushes every file of the filesystem holding fd in one call: what PostgreSQL's
 * recovery_init_sync_method = syncfs does after a crash (fd.c SyncDataDirectory) instead of an fsync per
 * file. PGlite's build has no syncfs, and Node has none either (src/engine/storage/durable.ts). */
#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static int fd_arg(napi_env env, napi_callback_info info, int32_t *fd) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return 0;
  return napi_get_value_int32(env, argv[0], fd) == napi_ok;
}

/* tryLock(fd): true if this process now holds an exclusive lock on fd's file, false if another holds it. */
static napi_value TryLock(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!fd_arg(env, info, &fd)) {
    napi_throw_type_error(env, NULL, "tryLock(fd)");
    return NULL;
  }
  int r;
  do r = flock(fd, LOCK_EX | LOCK_NB);
  while (r != 0 && errno == EINTR);
  if (r != 0 && errno != EWOULDBLOCK) return throw_errno(env, "flock", errno);
  napi_value out;
  napi_get_boolean(env, r == 0, &out);
  return out;
}

/* unlock(fd): release the lock (closing the descriptor releases it too). */
static napi_value Unlock(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!fd_arg(env, info, &fd)) {
    napi_throw_type_error(env, NULL, "unlock(fd)");
    return NULL;
  }
  if (flock(fd, LOCK_UN) != 0) return throw_errno(env, "flock", errno);
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

/* syncfs(fd): flush the whole filesystem fd is on (Linux; elsewhere it throws "not supported"). Since
 * Linux 5.8 it reports a writeback error on that filesystem as fsync would. */
static napi_value SyncFs(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!fd_arg(env, info, &fd)) {
    napi_throw_type_error(env, NULL, "syncfs(fd)");
    return NULL;
  }
#ifdef __linux__
  int r;
  do r = syncfs(fd);
  while (r != 0 && errno == EINTR);
  if (r != 0) return throw_errno(env, "syncfs", errno);
#else
  return throw_errno(env, "syncfs", ENOSYS);
#endif
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor d[] = {
      {"tryLock", 0, TryLock, 0, 0, 0, napi_default, 0},
      {"unlock", 0, Unlock, 0, 0, 0, napi_default, 0},
      {"syncfs", 0, SyncFs, 0, 0, 0, napi_default, 0},
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
  return exports;
}

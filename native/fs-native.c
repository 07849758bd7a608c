// Node-API add-on for what Node's fs cannot do: set file times to the nanosecond (futimens, utimensat) and find a
// sparse file's data without reading its holes (lseek SEEK_DATA/SEEK_HOLE). Loaded by src/platform/native-addon.ts.
#define _GNU_SOURCE
#define NAPI_VERSION 8

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <node_api.h>

#define NS_PER_SECOND 1000000000LL

/*
 * Throws the failure of a Node-API call as a JS error, unless that call already left an exception pending (a
 * throwing getter, say). The error info must be read before any other Node-API call, which would reset it.
 */
static napi_value fail(napi_env env, const char *call) {
  const napi_extended_error_info *info = NULL;
  const char *message = call;
  if (napi_get_last_error_info(env, &info) == napi_ok && info != NULL && info->error_message != NULL) {
    message = info->error_message;
  }
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, NULL, message);
  return NULL;
}

#define CHECK(env, call)                               \
  do {                                                 \
    if ((call) != napi_ok) return fail((env), #call);  \
  } while (0)

/*
 * Throws a failed system call with its errno, negative as Node reports it, and the call's name. The TypeScript
 * side turns it into an error shaped like Node's own fs errors (code, errno, syscall, path).
 */
static napi_value throw_errno(napi_env env, int err, const char *syscall) {
  napi_value message, error, errno_value, syscall_value;
  CHECK(env, napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &message));
  CHECK(env, napi_create_error(env, NULL, message, &error));
  CHECK(env, napi_create_int32(env, -err, &errno_value));
  CHECK(env, napi_set_named_property(env, error, "errno", errno_value));
  CHECK(env, napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value));
  CHECK(env, napi_set_named_property(env, error, "syscall", syscall_value));
  napi_throw(env, error);
  return NULL;
}

/* Reads a file descriptor; false (with a TypeError thrown) when `value` is not one. */
static bool get_fd(napi_env env, napi_value value, int *fd) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_number ||
      napi_get_value_int32(env, value, fd) != napi_ok || *fd < 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "fd must be a file descriptor (a non-negative integer)");
    return false;
  }
  return true;
}

/*
 * Reads a time given as a BigInt of nanoseconds since the epoch into a timespec. tv_nsec must lie in
 * [0, 1e9), so times before 1970 borrow a second.
 */
static bool get_timespec(napi_env env, napi_value value, const char *name, struct timespec *out) {
  int64_t ns = 0;
  bool lossless = false;
  if (napi_get_value_bigint_int64(env, value, &ns, &lossless) != napi_ok || !lossless) {
    char message[96];
    snprintf(message, sizeof message, "%s must be a bigint of nanoseconds that fits in 64 bits", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
    return false;
  }
  int64_t seconds = ns / NS_PER_SECOND;
  int64_t rest = ns % NS_PER_SECOND;
  if (rest < 0) {
    rest += NS_PER_SECOND;
    seconds -= 1;
  }
  out->tv_sec = (time_t)seconds;
  out->tv_nsec = (long)rest;
  return true;
}

/* setTimesFd(fd, atimeNs, mtimeNs): the times of an open file, by futimens(2). */
static napi_value set_times_fd(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd;
  struct timespec times[2];
  if (argc < 3) {
    napi_throw_type_error(env, NULL, "setTimesFd(fd, atimeNs, mtimeNs) takes 3 arguments");
    return NULL;
  }
  if (!get_fd(env, argv[0], &fd) || !get_timespec(env, argv[1], "atime", &times[0]) ||
      !get_timespec(env, argv[2], "mtime", &times[1])) {
    return NULL;
  }
  if (futimens(fd, times) != 0) return throw_errno(env, errno, "futimens");
  return NULL;
}

/*
 * setTimesPath(path, atimeNs, mtimeNs): the times of `path` itself, by utimensat(2) with AT_SYMLINK_NOFOLLOW, so
 * that a symlink gets its own times and its target keeps its own.
 */
static napi_value set_times_path(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, NULL, "setTimesPath(path, atimeNs, mtimeNs) takes 3 arguments");
    return NULL;
  }
  napi_valuetype type;
  CHECK(env, napi_typeof(env, argv[0], &type));
  if (type != napi_string) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "path must be a string");
    return NULL;
  }
  struct timespec times[2];
  if (!get_timespec(env, argv[1], "atime", &times[0]) || !get_timespec(env, argv[2], "mtime", &times[1])) {
    return NULL;
  }
  size_t length = 0;
  CHECK(env, napi_get_value_string_utf8(env, argv[0], NULL, 0, &length));
  char *path = malloc(length + 1);
  if (path == NULL) return throw_errno(env, ENOMEM, "malloc");
  if (napi_get_value_string_utf8(env, argv[0], path, length + 1, &length) != napi_ok) {
    free(path);
    return fail(env, "napi_get_value_string_utf8");
  }
  // A NUL inside the string would silently cut the path short; Node's fs refuses such paths too.
  if (strlen(path) != length) {
    free(path);
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "path must not contain null bytes");
    return NULL;
  }
  int result = utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW);
  int err = errno;
  free(path);
  if (result != 0) return throw_errno(env, err, "utimensat");
  return NULL;
}

/* Whether lseek's errno means the filesystem or kernel cannot tell holes, so the whole file counts as data. */
static bool seek_unsupported(int err) {
  return err == EINVAL || err == ENOTSUP || err == EOPNOTSUPP;
}

/*
 * dataRegions(fd, size): [offset, length, offset, length, ...] of the runs of data within the first `size` bytes,
 * found with lseek SEEK_DATA/SEEK_HOLE. [0, size] where holes cannot be sought. The descriptor's file position is
 * put back as it was, so a caller reading with position null is not disturbed.
 */
static napi_value data_regions(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "dataRegions(fd, size) takes 2 arguments");
    return NULL;
  }
  int fd;
  if (!get_fd(env, argv[0], &fd)) return NULL;
  int64_t size = 0;
  napi_valuetype type;
  CHECK(env, napi_typeof(env, argv[1], &type));
  if (type != napi_number || napi_get_value_int64(env, argv[1], &size) != napi_ok || size < 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "size must be a non-negative integer");
    return NULL;
  }

  napi_value regions;
  CHECK(env, napi_create_array(env, &regions));
  off_t position = lseek(fd, 0, SEEK_CUR);
  if (position == (off_t)-1) return throw_errno(env, errno, "lseek");

  uint32_t count = 0;
  int err = 0;
  bool whole = false;
  off_t offset = 0;
  while (offset < size) {
    off_t data = lseek(fd, offset, SEEK_DATA);
    if (data == (off_t)-1) {
      if (errno == ENXIO) break;  // no data after offset: the rest is a hole
      if (seek_unsupported(errno)) whole = true;
      else err = errno;
      break;
    }
    if (data >= size) break;
    off_t hole = lseek(fd, data, SEEK_HOLE);
    if (hole == (off_t)-1) {
      if (errno == ENXIO) {
        hole = size;  // the file shrank under us: its data ran to where it was said to end
      } else {
        if (seek_unsupported(errno)) whole = true;
        else err = errno;
        break;
      }
    }
    if (hole > size) hole = size;
    napi_value start, length;
    CHECK(env, napi_create_int64(env, data, &start));
    CHECK(env, napi_create_int64(env, hole - data, &length));
    CHECK(env, napi_set_element(env, regions, count++, start));
    CHECK(env, napi_set_element(env, regions, count++, length));
    offset = hole;
  }

  if (lseek(fd, position, SEEK_SET) == (off_t)-1 && err == 0) err = errno;
  if (err != 0) return throw_errno(env, err, "lseek");
  if (whole) {
    CHECK(env, napi_create_array(env, &regions));
    if (size > 0) {
      napi_value start, length;
      CHECK(env, napi_create_int64(env, 0, &start));
      CHECK(env, napi_create_int64(env, size, &length));
      CHECK(env, napi_set_element(env, regions, 0, start));
      CHECK(env, napi_set_element(env, regions, 1, length));
    }
  }
  return regions;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor properties[] = {
      {"setTimesFd", NULL, set_times_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setTimesPath", NULL, set_times_path, NULL, NULL, NULL, napi_enumerable, NULL},
      {"dataRegions", NULL, data_regions, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(env, napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties));
  return exports;
}

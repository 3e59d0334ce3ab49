/*
 * runner.c: fork/execve of one tool call with a clean, limited environment
 * (see runner.h).
 *
 * DESIGN
 * Everything the child needs (argv, envp, paths) is built before fork, so
 * the child runs only async-signal-safe calls: setpgid, sigaction,
 * sigprocmask, dup2, close_range (or a close loop), chdir, umask, setrlimit
 * and execve. stdin is one end of a socketpair so the host can write with
 * MSG_NOSIGNAL: a tool that exits without reading its input never raises
 * SIGPIPE in the host. The exit is observed with waitid(WNOWAIT) first, so
 * the process group can be killed (taking any children the tool left
 * behind) while the leader is still a zombie and its id cannot be reused.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "host/sched.h"
#include "tools/runner.h"
#include "common/valid.h"

#define RUNNER_DEFAULT_AS (512LL << 20)
#define RUNNER_DEFAULT_FSIZE (16LL << 20)
#define RUNNER_DEFAULT_NPROC 64
#define RUNNER_READ_CHUNK 65536

/* Milliseconds on the monotonic clock. */
static int64_t runner_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tool_runner_env_name_ok(const char *name)
{
	return valid_name(VALID_SECRET, name);
}

/* A signal's description; thread-safe, unlike strsignal. */
static const char *runner_signame(int sig)
{
	const char *d = sigdescr_np(sig);

	return d != NULL ? d : "unknown signal";
}

/* Set the error of out. Returns -1. */
static int runner_fail(struct tool_run_result *out, enum reason code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int runner_fail(struct tool_run_result *out, enum reason code, const char *fmt, ...)
{
	va_list ap;

	out->ok = 0;
	va_start(ap, fmt);
	reason_vset(&out->err, code, fmt, ap);
	va_end(ap);
	return -1;
}

/* nftw callback: remove one entry of the working directory. */
static int runner_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	/* Keep going past an entry that will not go: the directory check reports it. */
	if (flag == FTW_DP || flag == FTW_D || flag == FTW_DNR)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* The environment for the child: a NULL-terminated, malloc'd array of malloc'd strings. */
static char **runner_envp(const struct tool_run_spec *s)
{
	char **env = calloc(s->n_secrets + 6, sizeof(*env));
	size_t n = 0, i;

	if (env == NULL)
		return NULL;
	if (asprintf(&env[n++], "AGENTHOST_TENANT_ID=%lld", (long long)s->tenant_id) < 0)
		goto fail;
	if (asprintf(&env[n++], "AGENTHOST_RUN_ID=%s", s->run_id) < 0)
		goto fail;
	if (asprintf(&env[n++], "%s=%s", s->name_var != NULL ? s->name_var : "AGENTHOST_TOOL",
	             s->tool) < 0)
		goto fail;
	if (s->idempotency_key != NULL &&
	    asprintf(&env[n++], "AGENTHOST_IDEMPOTENCY_KEY=%s", s->idempotency_key) < 0)
		goto fail;
	for (i = 0; i < s->n_secrets; i++)
		if (asprintf(&env[n++], "%s=%s", s->secrets[i].name, s->secrets[i].value) < 0)
			goto fail;
	return env;
fail:
	/* asprintf leaves the pointer undefined on failure: that slot is the last one set. */
	env[n - 1] = NULL;
	for (i = 0; env[i] != NULL; i++) {
		explicit_bzero(env[i], strlen(env[i]));
		free(env[i]);
	}
	free(env);
	return NULL;
}

/* Wipe (secrets) and free an environment from runner_envp. */
static void runner_envp_free(char **env)
{
	size_t i;

	if (env == NULL)
		return;
	for (i = 0; env[i] != NULL; i++) {
		explicit_bzero(env[i], strlen(env[i]));
		free(env[i]);
	}
	free(env);
}

/* Set one rlimit in the child (async-signal-safe). */
static void runner_limit(int res, rlim_t v)
{
	struct rlimit rl = {v, v};

	setrlimit(res, &rl);
}

/*
 * In the child: become a process group, wire stdin/stdout/stderr, drop every
 * other descriptor, reset signals, enter the working directory, apply the
 * limits and execve. Never returns.
 */
static void runner_child(const struct tool_run_spec *s, int in_fd, int out_fd, int null_fd,
                         const char *dir, char *const argv[], char *const envp[])
{
	struct sigaction sa;
	sigset_t none;
	int sig, fd;

	setpgid(0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/*
	 * Lift the three descriptors above 2 first: in a host started with 0-2
	 * closed one of them may sit there, and dup2 onto itself would neither
	 * move it out of the way of the others nor clear its close-on-exec flag.
	 */
	in_fd = fcntl(in_fd, F_DUPFD, 3);
	out_fd = fcntl(out_fd, F_DUPFD, 3);
	null_fd = fcntl(null_fd, F_DUPFD, 3);
	if (in_fd < 0 || out_fd < 0 || null_fd < 0)
		_exit(126);
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(null_fd, 2) < 0)
		_exit(126);
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0)
#endif
		for (fd = 3; fd < 65536; fd++)
			close(fd);
	if (chdir(dir) != 0)
		_exit(126);
	umask(077);
	runner_limit(RLIMIT_CPU, (rlim_t)(s->timeout_ms / 1000 + 1));
	runner_limit(RLIMIT_AS,
	             (rlim_t)(s->max_memory_bytes > 0 ? s->max_memory_bytes : RUNNER_DEFAULT_AS));
	runner_limit(RLIMIT_FSIZE,
	             (rlim_t)(s->max_file_bytes > 0 ? s->max_file_bytes : RUNNER_DEFAULT_FSIZE));
	runner_limit(RLIMIT_NPROC,
	             (rlim_t)(s->max_processes > 0 ? s->max_processes : RUNNER_DEFAULT_NPROC));
	runner_limit(RLIMIT_CORE, 0);
	execve(s->exec_path, argv, envp);
	_exit(127);
}

/*
 * poll() for the pump. In a request coroutine the request parks on the
 * tool's output instead of holding the thread (host/sched.h); while input is
 * still to be written it looks again every 5 ms.
 */
static int runner_poll(struct pollfd *p, int np, int64_t left)
{
	int rc, ev;

	if (!sched_in_coro())
		return poll(p, (nfds_t)np, (int)left);
	rc = poll(p, (nfds_t)np, 0);
	if (rc != 0)
		return rc;
	ev = sched_wait_fd(p[0].fd, POLLIN, (np > 1 && left > 5 ? 5 : left) * 1000);
	if (ev < 0)
		return -1;
	return poll(p, (nfds_t)np, 0);
}

/*
 * Feed stdin (then shut its write side, so the tool sees EOF) and read stdout
 * until EOF, the deadline or the cap. The caller closes both descriptors.
 * Returns 0 at EOF, 1 on timeout, 2 when the output went over the cap, -1 on
 * an I/O error.
 */
static int runner_pump(const struct tool_run_spec *s, int in_fd, int out_fd, int64_t deadline,
                       struct buf *o)
{
	struct pollfd p[2];
	size_t written = 0, want;
	ssize_t n;
	int64_t left;
	int np;

	if (s->input_len == 0) {
		shutdown(in_fd, SHUT_WR);
		in_fd = -1;
	}
	for (;;) {
		left = deadline - runner_now_ms();
		if (left <= 0)
			return 1;
		np = 0;
		p[np].fd = out_fd;
		p[np++].events = POLLIN;
		if (in_fd >= 0) {
			p[np].fd = in_fd;
			p[np++].events = POLLOUT;
		}
		if (runner_poll(p, np, left) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (np == 2 && (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			n = send(in_fd, s->input + written, s->input_len - written,
			         MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0)
				written += (size_t)n;
			/* A tool that does not read its input is its own business. */
			if (written == s->input_len ||
			    (n < 0 && errno != EAGAIN && errno != EINTR)) {
				shutdown(in_fd, SHUT_WR);
				in_fd = -1;
			}
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			want = s->max_output + 1 - o->len;
			if (want > RUNNER_READ_CHUNK)
				want = RUNNER_READ_CHUNK;
			if (buf_reserve(o, want + 1) != 0)
				return -1;
			n = read(out_fd, o->data + o->len, want);
			if (n == 0)
				return 0;
			if (n < 0) {
				if (errno == EINTR || errno == EAGAIN)
					continue;
				return -1;
			}
			o->len += (size_t)n;
			o->data[o->len] = '\0';
			if (o->len > s->max_output)
				return 2;
		}
	}
}

/*
 * Wait for the child to exit until deadline without reaping it. 0 with *si
 * filled, 1 on timeout, -1 on error.
 */
static int runner_wait(pid_t pid, int64_t deadline, siginfo_t *si)
{
	for (;;) {
		memset(si, 0, sizeof(*si));
		if (waitid(P_PID, (id_t)pid, si, WEXITED | WNOHANG | WNOWAIT) != 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (si->si_pid == pid)
			return 0;
		if (runner_now_ms() >= deadline)
			return 1;
		sched_sleep_us(2000);
	}
}

int tool_runner_run(const struct tool_run_spec *s, struct tool_run_result *out)
{
	char dir[4096], *argv[2];
	char **envp = NULL;
	const char *tmp;
	struct buf o = BUF_INIT;
	int in_sp[2] = {-1, -1}, out_p[2] = {-1, -1}, null_fd = -1, pumped, waited = -1, rc = -1;
	int have_dir = 0;
	int64_t start = runner_now_ms(), deadline;
	siginfo_t si;
	json_error_t jerr;
	json_t *j;
	pid_t pid = -1;

	memset(out, 0, sizeof(*out));
	out->exit_status = -1;
	if (s->n_secrets > TOOL_RUNNER_MAX_ENV)
		return runner_fail(out, R_tool_spawn_failed, "the tool has too many secrets");
	if (s->exec_path == NULL || s->exec_path[0] != '/' || s->timeout_ms <= 0 ||
	    s->max_output == 0 || s->tool == NULL || s->run_id == NULL ||
	    (s->input_len > 0 && s->input == NULL))
		return runner_fail(out, R_tool_spawn_failed, "the tool is misconfigured");
	for (size_t i = 0; i < s->n_secrets; i++)
		if (!tool_runner_env_name_ok(s->secrets[i].name) || s->secrets[i].value == NULL)
			return runner_fail(out, R_tool_spawn_failed,
			                   "a tool secret has an invalid name");
	tmp = s->tmp_dir;
	if (tmp == NULL || tmp[0] == '\0')
		tmp = getenv("TMPDIR");
	if (tmp == NULL || tmp[0] != '/')
		tmp = "/tmp";
	if ((size_t)snprintf(dir, sizeof(dir), "%s/ah-tool-XXXXXX", tmp) >= sizeof(dir) ||
	    mkdtemp(dir) == NULL) {
		runner_fail(out, R_tool_spawn_failed, "cannot create a working directory");
		log_error("tools: %s: mkdtemp under %s: %s", s->tool, tmp, strerror(errno));
		goto out;
	}
	have_dir = 1;
	envp = runner_envp(s);
	argv[0] = (char *)s->exec_path;
	argv[1] = NULL;
	if (envp == NULL) {
		runner_fail(out, R_tool_spawn_failed, "out of memory");
		goto out;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_sp) != 0 ||
	    pipe2(out_p, O_CLOEXEC) != 0 || (null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
		runner_fail(out, R_tool_spawn_failed, "cannot create pipes: %s", strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		runner_fail(out, R_tool_spawn_failed, "cannot fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		runner_child(s, in_sp[1], out_p[1], null_fd, dir, argv, envp);
	/* Also from the parent, so killpg works even before the child ran setpgid. */
	setpgid(pid, pid);
	close(in_sp[1]);
	close(out_p[1]);
	in_sp[1] = out_p[1] = -1;
	fcntl(out_p[0], F_SETFL, O_NONBLOCK);
	deadline = start + s->timeout_ms;
	pumped = runner_pump(s, in_sp[0], out_p[0], deadline, &o);
	if (pumped == 0)
		waited = runner_wait(pid, deadline, &si);
	/* Kill the group: the tool on timeout or overflow, and whatever it left behind. */
	kill(-pid, SIGKILL);
	if (waited != 0)
		runner_wait(pid, INT64_MAX, &si);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	out->duration_ms = (int)(runner_now_ms() - start);
	if (pumped == 1 || (pumped == 0 && waited == 1)) {
		runner_fail(out, R_tool_timeout, "the tool did not finish within %d ms",
		            s->timeout_ms);
		goto out;
	}
	if (pumped == 2) {
		runner_fail(out, R_tool_output_too_large, "the tool wrote more than %zu bytes",
		            s->max_output);
		goto out;
	}
	if (pumped < 0 || waited < 0) {
		runner_fail(out, R_tool_failed, "cannot talk to the tool: %s", strerror(errno));
		goto out;
	}
	if (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED) {
		out->term_signal = si.si_status;
		runner_fail(out, R_tool_crashed, "the tool was killed by signal %d (%s)",
		            si.si_status,
		            si.si_status == SIGXCPU ? "CPU limit" : runner_signame(si.si_status));
		goto out;
	}
	out->exit_status = si.si_status;
	if (si.si_status == 127) {
		runner_fail(out, R_tool_spawn_failed, "the tool could not be started");
		goto out;
	}
	if (si.si_status != 0) {
		runner_fail(out, R_tool_failed, "the tool exited with status %d", si.si_status);
		goto out;
	}
	j = json_loadb(o.data != NULL ? o.data : "", o.len, JSON_DECODE_ANY, &jerr);
	if (j == NULL) {
		runner_fail(out, R_tool_invalid_output, "the tool's output is not JSON: %s",
		            jerr.text);
		goto out;
	}
	json_decref(j);
	out->ok = 1;
	rc = 0;
out:
	if (o.len > 0 || rc == 0) {
		out->output = buf_steal(&o);
		if (out->output == NULL && rc == 0)
			rc = runner_fail(out, R_tool_failed, "out of memory");
	}
	buf_free(&o);
	if (in_sp[0] >= 0)
		close(in_sp[0]);
	if (in_sp[1] >= 0)
		close(in_sp[1]);
	if (out_p[0] >= 0)
		close(out_p[0]);
	if (out_p[1] >= 0)
		close(out_p[1]);
	if (null_fd >= 0)
		close(null_fd);
	runner_envp_free(envp);
	if (have_dir && nftw(dir, runner_rm, 16, FTW_DEPTH | FTW_PHYS) != 0)
		log_warn("tools: %s: cannot remove working directory %s", s->tool, dir);
	if (out->duration_ms == 0)
		out->duration_ms = (int)(runner_now_ms() - start);
	return rc;
}

void tool_run_result_free(struct tool_run_result *out)
{
	if (out == NULL)
		return;
	free(out->output);
	out->output = NULL;
}

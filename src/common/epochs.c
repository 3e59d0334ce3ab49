/*
 * epochs.c: host-wide change counters in a shared mapping (see epochs.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/epochs.h"

#define EPOCH_MAGIC 0x4148455043480001ULL /* "AHEPCH" v1 */

struct epoch_file {
	uint64_t magic;
	uint64_t pad[7];                         /* the counters start on their own cache line */
	_Atomic uint64_t global[EPOCH__GLOBALS]; /* (room for 16) */
	uint64_t pad2[16 - EPOCH__GLOBALS];
	_Atomic uint64_t tenant[EPOCH_TENANT_SLOTS];
};

_Static_assert(EPOCH__GLOBALS <= 16, "room for 16 global counters");

static struct epoch_file local_epochs; /* until (or unless) the file is mapped */
static struct epoch_file *epochs = &local_epochs;
static int epochs_is_shared;

int epochs_open(const char *state_dir, int create, char *err, size_t errlen)
{
	char path[512];
	struct stat sb;
	void *p;
	int fd;

	if (state_dir == NULL || state_dir[0] == '\0') {
		snprintf(err, errlen, "no state_dir");
		return -1;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/epochs", state_dir) >= sizeof(path)) {
		snprintf(err, errlen, "state_dir is too long");
		return -1;
	}
	fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0660);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* A new file is all zeros after ftruncate: magic 0 is set below, counters start at 0. */
	if (fstat(fd, &sb) < 0 || ((size_t)sb.st_size < sizeof(struct epoch_file) &&
	                           ftruncate(fd, (off_t)sizeof(struct epoch_file)) < 0)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	p = mmap(NULL, sizeof(struct epoch_file), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "%s: mmap: %s", path, strerror(errno));
		return -1;
	}
	epochs = p;
	if (epochs->magic != EPOCH_MAGIC)
		epochs->magic = EPOCH_MAGIC;
	epochs_is_shared = 1;
	return 0;
}

int epochs_shared(void)
{
	return epochs_is_shared;
}

static unsigned epochs_slot(int64_t tenant_id)
{
	uint64_t h = (uint64_t)tenant_id * 0x9E3779B97F4A7C15ULL;

	return (unsigned)(h >> 40) % EPOCH_TENANT_SLOTS;
}

uint64_t epochs_tenant(int64_t tenant_id)
{
	return atomic_load_explicit(&epochs->tenant[epochs_slot(tenant_id)], memory_order_seq_cst);
}

uint64_t epochs_global(enum epoch_global g)
{
	return atomic_load_explicit(&epochs->global[g], memory_order_seq_cst);
}

/*
 * EPOCH_ANY moves before the slot it accompanies. A reader reads the slot,
 * then EPOCH_ANY (cache_stamp): if it saw the slot's new value it also sees
 * EPOCH_ANY moved, so a value read before the change is never stored under
 * the new slot value.
 */
void epochs_bump_tenant(int64_t tenant_id)
{
	atomic_fetch_add_explicit(&epochs->global[EPOCH_ANY], 1, memory_order_seq_cst);
	atomic_fetch_add_explicit(&epochs->tenant[epochs_slot(tenant_id)], 1, memory_order_seq_cst);
}

void epochs_bump_global(enum epoch_global g)
{
	if (g != EPOCH_ANY)
		atomic_fetch_add_explicit(&epochs->global[EPOCH_ANY], 1, memory_order_seq_cst);
	atomic_fetch_add_explicit(&epochs->global[g], 1, memory_order_seq_cst);
}

void epochs_bump_all(void)
{
	atomic_fetch_add_explicit(&epochs->global[EPOCH_ANY], 1, memory_order_seq_cst);
	for (unsigned i = 0; i < EPOCH_TENANT_SLOTS; i++)
		atomic_fetch_add_explicit(&epochs->tenant[i], 1, memory_order_seq_cst);
	for (int g = 1; g < EPOCH__GLOBALS; g++)
		atomic_fetch_add_explicit(&epochs->global[g], 1, memory_order_seq_cst);
}

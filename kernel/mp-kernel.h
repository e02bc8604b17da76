/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memplug kernel layer: the guest kernel's memory-hotplug state as data.
 *
 * Everything here reads (and, for state changes, writes) sysfs and procfs
 * under a configurable root, so a recorded fixture and a live guest run the
 * same code.  The rules (rules.c) are pure functions over this data.  Facts
 * behind them are in ../shared/KERNEL-RULES.md and docs/kernel.md.
 */
#ifndef MP_KERNEL_H
#define MP_KERNEL_H

#include <dirent.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <syslog.h>

/* ---- context ----------------------------------------------------------- */

struct mp_ctx;

/**
 * mp_ctx_new() - create a context rooted at @sysroot
 * @sysroot: directory holding sys/ and proc/; NULL means $MEMPLUG_SYSROOT,
 *           and "" (or neither set) means the running system.
 * @out: receives the context
 *
 * Return: 0, -ENOMEM, or -ENAMETOOLONG.
 */
int mp_ctx_new(const char *sysroot, struct mp_ctx **out);
void mp_ctx_free(struct mp_ctx *ctx);
/** mp_ctx_root() - the root prefix ("" for the running system). */
const char *mp_ctx_root(const struct mp_ctx *ctx);

/**
 * mp_ctx_path() - build "<root>/<relative path>" into @buf
 * @ctx: context
 * @buf: destination
 * @len: size of @buf
 * @fmt: printf format of the path below the root, without leading slash
 *
 * Return: 0 or -ENAMETOOLONG.
 */
int mp_ctx_path(const struct mp_ctx *ctx, char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/**
 * mp_ctx_opendir() - open a directory below the context's root
 * @ctx: context
 * @rel: path below the root ("sys/devices/system/memory")
 * @path: receives the full path, for the caller's messages
 * @plen: size of @path
 * @dir: receives the directory (NULL on failure)
 *
 * Return: 0, -ENAMETOOLONG or the -errno of opendir(3), not logged: a
 * missing directory means different things to different callers (no NUMA,
 * no dax bus, a broken sysfs).
 */
int mp_ctx_opendir(const struct mp_ctx *ctx, const char *rel, char *path, size_t plen, DIR **dir);

/**
 * mp_ctx_read_text() - a whole text file below the context's root
 * @ctx: context
 * @rel: path below the root ("proc/iomem")
 * @path: receives the full path, for the caller's messages
 * @plen: size of @path
 * @text: receives a malloc'ed, NUL-terminated buffer (NULL on failure)
 * @len: receives its length, may be NULL
 *
 * A NUL byte is refused (mp_text_check() logs where): the /proc files read
 * this way never hold one, and a parser would stop there.
 *
 * Return: 0, -ENAMETOOLONG, -EBADMSG (a NUL byte, logged) or the -errno of
 * reading the file (not logged: the caller knows which ones are expected).
 */
int mp_ctx_read_text(const struct mp_ctx *ctx, const char *rel, char *path, size_t plen,
		     char **text, size_t *len);

/*
 * Where the library's messages go (as kmod_set_log_fn() does for libkmod):
 * a daemon sends them to the journal, a test captures them, a tool prints
 * them.  Without a function set they go to the process-wide logger
 * (util/log.h: stderr, with journald priority prefixes under systemd).
 */
typedef void (*mp_log_fn)(void *data, int priority, const char *fmt, va_list ap);

/**
 * mp_ctx_set_log_fn() - send the messages of everything using @ctx to @fn
 * @ctx: context
 * @fn: function, or NULL for the process-wide logger
 * @data: passed to @fn
 */
void mp_ctx_set_log_fn(struct mp_ctx *ctx, mp_log_fn fn, void *data);
/** mp_ctx_log() - log through @ctx's function; @priority is a syslog LOG_* level. */
void mp_ctx_log(const struct mp_ctx *ctx, int priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/** mp_ctx_vlog() - mp_ctx_log() with a va_list. */
void mp_ctx_vlog(const struct mp_ctx *ctx, int priority, const char *fmt, va_list ap);

#define mp_ctx_err(ctx, ...) mp_ctx_log(ctx, LOG_ERR, __VA_ARGS__)
#define mp_ctx_warn(ctx, ...) mp_ctx_log(ctx, LOG_WARNING, __VA_ARGS__)
#define mp_ctx_notice(ctx, ...) mp_ctx_log(ctx, LOG_NOTICE, __VA_ARGS__)
#define mp_ctx_info(ctx, ...) mp_ctx_log(ctx, LOG_INFO, __VA_ARGS__)
#define mp_ctx_dbg(ctx, ...) mp_ctx_log(ctx, LOG_DEBUG, __VA_ARGS__)

/* ---- geometry ---------------------------------------------------------- */

/* x86_64 values (KERNEL-RULES.md §1); the block size is read from sysfs. */
#define MP_PAGE_SHIFT 12
#define MP_SUBSECTION_SHIFT 21
#define MP_SECTION_SHIFT 27
#define MP_PAGE_SIZE (1ULL << MP_PAGE_SHIFT)
#define MP_SUBSECTION_SIZE (1ULL << MP_SUBSECTION_SHIFT)
#define MP_SECTION_SIZE (1ULL << MP_SECTION_SHIFT)

struct mp_geometry {
	uint64_t page_size;
	uint64_t subsection_size;
	uint64_t section_size;
	uint64_t block_size;
};

/**
 * mp_geometry_read() - read block_size_bytes and fill in the fixed sizes
 * @ctx: context
 * @geo: result
 *
 * Return: 0, -errno from reading, or -EINVAL when the block size is not hex,
 * not a power of two or not a multiple of the section size (the message
 * names the file).
 */
int mp_geometry_read(const struct mp_ctx *ctx, struct mp_geometry *geo);

static inline uint64_t mp_addr_to_pfn(uint64_t addr)
{
	return addr >> MP_PAGE_SHIFT;
}

static inline uint64_t mp_pfn_to_addr(uint64_t pfn)
{
	return pfn << MP_PAGE_SHIFT;
}

static inline uint64_t mp_addr_to_section(uint64_t addr)
{
	return addr >> MP_SECTION_SHIFT;
}

/* Index of the 2 MiB sub-section inside its section (0..63). */
static inline unsigned int mp_addr_to_subsection(uint64_t addr)
{
	return (unsigned int)((addr & (MP_SECTION_SIZE - 1)) >> MP_SUBSECTION_SHIFT);
}

static inline uint64_t mp_addr_to_block(const struct mp_geometry *geo, uint64_t addr)
{
	return addr / geo->block_size;
}

static inline uint64_t mp_block_to_addr(const struct mp_geometry *geo, uint64_t id)
{
	return id * geo->block_size;
}

/* ---- /proc/iomem --------------------------------------------------------- */

struct mp_iomem_res {
	uint64_t start;
	uint64_t end; /* inclusive, as the kernel prints it */
	char *name;
	int depth;
	unsigned int line;
	struct mp_iomem_res *parent;
	struct mp_iomem_res *child;
	struct mp_iomem_res *sibling;
};

struct mp_iomem;

/**
 * mp_iomem_parse() - parse /proc/iomem text into a tree
 * @text: file contents
 * @origin: file name for messages
 * @out: result
 *
 * Nesting comes from the two-space indentation.  A file whose addresses are
 * all zero was read without CAP_SYS_ADMIN: refused with -EPERM, since using
 * the zeros would give wrong answers.
 *
 * Return: 0, -EINVAL (malformed line, message names file:line), -EPERM, -ENOMEM.
 */
int mp_iomem_parse(const char *text, const char *origin, struct mp_iomem **out);
/** mp_iomem_read() - read and parse <root>/proc/iomem, see mp_iomem_parse(). */
int mp_iomem_read(const struct mp_ctx *ctx, struct mp_iomem **out);

enum {
	/*
	 * No message for a missing or unreadable file, or one read without
	 * CAP_SYS_ADMIN (-ENOENT, -EACCES, -EPERM): the caller answers without
	 * iomem and says so once.  A damaged file is still reported.
	 */
	MP_IOMEM_QUIET_ACCESS = 1 << 0,
};

/** mp_iomem_read_flags() - mp_iomem_read() with MP_IOMEM_* @flags. */
int mp_iomem_read_flags(const struct mp_ctx *ctx, unsigned int flags, struct mp_iomem **out);
void mp_iomem_free(struct mp_iomem *io);
/** mp_iomem_first() - first top-level resource, NULL for an empty file. */
const struct mp_iomem_res *mp_iomem_first(const struct mp_iomem *io);
/** mp_iomem_find() - deepest resource containing @addr, or NULL. */
const struct mp_iomem_res *mp_iomem_find(const struct mp_iomem *io, uint64_t addr);
/**
 * mp_iomem_sysram_bytes() - bytes of [@start, @end] covered by System RAM
 * @io: tree
 * @start: first byte
 * @end: last byte (inclusive)
 *
 * Counts resources named "System RAM" or "System RAM (<driver>)" at any
 * depth, the way walk_system_ram_range() does for the kernel's hole check.
 */
uint64_t mp_iomem_sysram_bytes(const struct mp_iomem *io, uint64_t start, uint64_t end);
bool mp_iomem_is_sysram(const struct mp_iomem_res *r);
/** mp_iomem_find_sysram() - first System RAM resource overlapping [@start, @end], or NULL. */
const struct mp_iomem_res *mp_iomem_find_sysram(const struct mp_iomem *io, uint64_t start,
						uint64_t end);

/**
 * mp_iomem_next() - the resource after @r in a depth-first walk of the tree
 *
 * Walks by the parent links, without a stack: any depth or breadth.
 * Return: the next resource, or NULL at the end.
 */
const struct mp_iomem_res *mp_iomem_next(const struct mp_iomem_res *r);
/** mp_iomem_find_named() - the first resource called @name at any depth, or NULL. */
const struct mp_iomem_res *mp_iomem_find_named(const struct mp_iomem *io, const char *name);

/* Where a set of ranges lies, and how much of it there is. */
struct mp_iomem_span {
	uint64_t start, end; /* first and last byte; 0/0 when @nr is 0 */
	uint64_t bytes;
	size_t nr;
};

/**
 * mp_iomem_kmem() - the "System RAM (kmem)" ranges kmem added under @dax
 * @io: tree
 * @dax: "daxX.Y"
 * @span: if not NULL, receives where they lie and their total size
 * @ranges: if not NULL, receives the first @max of them, in address order
 * @max: entries in @ranges
 *
 * Return: how many there are (can exceed @max).
 */
size_t mp_iomem_kmem(const struct mp_iomem *io, const char *dax, struct mp_iomem_span *span,
		     const struct mp_iomem_res **ranges, size_t max);

/* ---- memory blocks ----------------------------------------------------- */

enum mp_block_state {
	MP_BLOCK_UNKNOWN = 0,
	MP_BLOCK_OFFLINE,
	MP_BLOCK_ONLINE,
	MP_BLOCK_GOING_OFFLINE,
};

enum mp_dev_kind {
	MP_DEV_UNKNOWN = 0,
	MP_DEV_BOOT,
	MP_DEV_DIMM,
	MP_DEV_DAX,
	MP_DEV_VIRTIO_MEM,
};

/* The device a block belongs to. */
struct mp_devref {
	enum mp_dev_kind kind;
	char name[32]; /* "slot3" (DIMM, ACPI _UID = QEMU slot), "dax0.0", "virtio0" */
	char acpi[32]; /* DIMM: ACPI device, e.g. "PNP0C80:03" */
	int slot; /* DIMM slot, else -1 */
};

/* Node links one block can record; a block spanning more is cut off (nr_nodes says). */
#define MP_BLOCK_MAX_NODES 8

struct mp_block {
	uint64_t id;
	uint64_t start;
	uint64_t size;
	enum mp_block_state state;
	int node; /* lowest linked node, -1 when no nodeN link (yet) */
	int nr_nodes; /* nodeN links: a boot block on a node boundary has two */
	int nodes[MP_BLOCK_MAX_NODES]; /* ascending; first MIN(nr_nodes, MAX) */
	signed char removable; /* memoryN/removable: 0/1, -1 not read (MP_SCAN_REMOVABLE) */
	signed char memmap_on_memory; /* s390 sys/firmware/memory/memoryN: 0/1, -1 absent */
	char zones[48]; /* valid_zones as read, "" when not read */
	uint64_t sysram_bytes; /* System RAM coverage from iomem; only with MP_SCAN_IOMEM */
	struct mp_devref dev; /* only with MP_SCAN_DEVICES */
};

/* What mp_memory_scan() reads beyond the block list and state. */
enum {
	MP_SCAN_ZONES = 1 << 0, /* valid_zones where mp_block_zones_readable(); implies NODES */
	MP_SCAN_NODES = 1 << 1, /* every node of every block, from node/nodeN/memoryM */
	MP_SCAN_DEVICES = 1 << 2, /* owning device (firmware_node, iomem); implies IOMEM */
	MP_SCAN_IOMEM = 1 << 3, /* System RAM coverage (holes) */
	MP_SCAN_ALL = 0xf, /* the four above: what the rules and the daemon need */
	/* lsmem's extra columns, not in MP_SCAN_ALL */
	MP_SCAN_REMOVABLE = 1 << 4, /* memoryN/removable */
	MP_SCAN_MEMMAP = 1 << 5, /* sys/firmware/memory/memoryN/memmap_on_memory (s390) */
	/*
	 * With IOMEM/DEVICES: an unreadable /proc/iomem (absent, or all zeros
	 * for a reader without CAP_SYS_ADMIN) is not an error; the scan goes
	 * on without it, mem->iomem stays NULL and mem->iomem_why says why.
	 */
	MP_SCAN_IOMEM_OPTIONAL = 1 << 6,
};

struct mp_memory {
	struct mp_geometry geo;
	char auto_online[24]; /* auto_online_blocks, "" when absent */
	size_t nr;
	struct mp_block *blocks; /* sorted by id */
	struct mp_iomem *iomem; /* with MP_SCAN_IOMEM/DEVICES, else NULL */
	char iomem_why[160]; /* MP_SCAN_IOMEM_OPTIONAL: why iomem is NULL, else "" */
	/* private to memblock.c: id -> index into blocks when ids are dense, else NULL */
	int32_t *index;
	uint64_t index_len;
};

/**
 * mp_memory_scan() - read every memory block under <root>/sys/devices/system/memory
 * @ctx: context
 * @flags: MP_SCAN_* bits: read only what the caller needs
 * @out: result, free with mp_memory_free()
 *
 * Return: 0 or -errno; errors are logged with the path.
 */
int mp_memory_scan(const struct mp_ctx *ctx, unsigned int flags, struct mp_memory **out);
/**
 * mp_memory_rescan() - mp_memory_scan() that reads again only what can have changed
 * @ctx: context
 * @flags: MP_SCAN_* bits, the same as @prev was scanned with
 * @prev: an earlier scan of the same root, its online blocks' zones read
 *	  (mp_memory_read_zones()); NULL: a full scan
 * @changed: blocks that may have changed since @prev, any order: every block
 *	     a uevent named since (add, online, offline, remove), every block
 *	     the caller wrote, every block whose links it waits for
 * @nr_changed: entries in @changed
 * @out: result, free with mp_memory_free()
 *
 * A block online in @prev with its zone read and not in @changed keeps
 * what @prev read of it (state, zones, its firmware_node device,
 * removable, memmap_on_memory) without a read: a block's state changes
 * only with a uevent (device_online()/device_offline()), and its zone and
 * ACPI link are fixed while it is online.  Everything else is read as by
 * mp_memory_scan(): the block list (blocks that came and went), every
 * offline block, the node links, auto_online_blocks, /proc/iomem and what
 * it says of each block (holes, kmem and virtio-mem owners).  On a guest of
 * N blocks a uevent then costs a directory listing and the named blocks,
 * not N blocks' files (bench/uevent-cost.py).
 *
 * Return: 0 or -errno, as mp_memory_scan().
 */
int mp_memory_rescan(const struct mp_ctx *ctx, unsigned int flags, const struct mp_memory *prev,
		     const uint64_t *changed, size_t nr_changed, struct mp_memory **out);
void mp_memory_free(struct mp_memory *mem);
/** mp_memory_find() - block with number @id, or NULL. */
struct mp_block *mp_memory_find(const struct mp_memory *mem, uint64_t id);
/** mp_memory_find_addr() - block containing physical address @addr, or NULL. */
struct mp_block *mp_memory_find_addr(const struct mp_memory *mem, uint64_t addr);

/**
 * mp_block_zones_readable() - may memoryN/valid_zones be read for @b?
 * @b: block with its node links read (MP_SCAN_NODES) and, when it has
 *     none, its state
 *
 * The one rule every reader of valid_zones follows (scan, verifier,
 * engine).  6.1's valid_zones_show() of an offline block dereferences
 * NODE_DATA(mem->nid), and a DIMM eject resets nid to NUMA_NO_NODE
 * (unregister_memory_block_under_nodes()) before the sysfs files go: a
 * read in that window oopses the reader.  The node links go in the same
 * step, so: readable when the block has a node link, or is online (an
 * online block's zones come from mem->zone, never from nid).
 *
 * Return: true when reading valid_zones is safe.
 */
bool mp_block_zones_readable(const struct mp_block *b);

/**
 * mp_memory_read_zones() - fill in valid_zones where the rule allows
 * @ctx: context
 * @mem: scan made without MP_SCAN_ZONES (with MP_SCAN_NODES)
 * @ids: offline blocks whose zones are wanted too (a device about to be
 *       decided), or NULL; the rest of the offline blocks are not read, so
 *       that a daemon reacting to every uevent never reads a block in the
 *       middle of an eject it has no business with
 * @nr_ids: entries in @ids
 *
 * Online blocks are read always; the offline ones in @ids only where
 * mp_block_zones_readable() says so.  A read that fails leaves "".
 */
void mp_memory_read_zones(const struct mp_ctx *ctx, struct mp_memory *mem, const uint64_t *ids,
			  size_t nr_ids);

/* The links the kernel adds to a block after its "add" uevent (§2, §10). */
struct mp_block_links {
	int node; /* first nodeN link, -1 none */
	bool firmware_node; /* ACPI memory device link (DIMMs) */
};

/**
 * mp_block_read_links() - which links memoryN has now
 *
 * For a settling device: far cheaper than a scan of every block.
 * Return: 0 or -errno (-ENOENT: the block is gone).
 */
int mp_block_read_links(const struct mp_ctx *ctx, uint64_t id, struct mp_block_links *l);

/**
 * mp_block_format_nodes() - the block's nodes as "1" or "0,1", "-" for none
 * Return: @buf.
 */
const char *mp_block_format_nodes(const struct mp_block *b, char *buf, size_t len);

/**
 * mp_block_same_nodes() - do @a and @b link to the same set of nodes?
 */
bool mp_block_same_nodes(const struct mp_block *a, const struct mp_block *b);

const char *mp_block_state_name(enum mp_block_state s);
/** mp_block_state_parse() - "online"/"offline"/"going-offline" to a state (else UNKNOWN). */
enum mp_block_state mp_block_state_parse(const char *s);
const char *mp_dev_kind_name(enum mp_dev_kind k);
/** mp_devref_format() - "dimm:slot3", "dax:dax0.0", "virtio-mem:virtio0", "boot", "-". */
const char *mp_devref_format(const struct mp_devref *d, char *buf, size_t len);

/**
 * mp_devref_parse() - the inverse of mp_devref_format()
 * Return: 0, or -EINVAL for an unknown kind.
 */
int mp_devref_parse(const char *s, struct mp_devref *d);

/**
 * mp_block_parse_name() - "memory42" or "42" to a block number
 * Return: 0 or -EINVAL.
 */
int mp_block_parse_name(const char *s, uint64_t *id);

/**
 * mp_block_read_state() - re-read one block's state from sysfs
 * Return: 0 or -errno (-ENOENT: no such block).
 */
int mp_block_read_state(const struct mp_ctx *ctx, uint64_t id, enum mp_block_state *state);
int mp_block_read_zones(const struct mp_ctx *ctx, uint64_t id, char *buf, size_t len);
/**
 * mp_block_read_phys_index() - memoryN/phys_index: the block's first section
 * number.  The kernel's rule (§1) is phys_index * section size = block start.
 * Return: 0 or -errno (-EINVAL: not hex).
 */
int mp_block_read_phys_index(const struct mp_ctx *ctx, uint64_t id, uint64_t *index);

/**
 * mp_block_write_state() - write a word to memoryN/state
 * @ctx: context
 * @id: block
 * @word: "online", "online_movable", "online_kernel" or "offline"
 * @timeout_ms: for "offline": interrupt the kernel's migration retries after
 *              this long (the write then fails with -EINTR); 0 = no limit
 *
 * The timeout uses ITIMER_REAL and SIGALRM (unblocked for the write): the
 * caller must not use them for anything else.
 *
 * Return: 0 or the kernel's -errno (-EINVAL: holes, several zones, or
 * already in that state; -EBUSY: unmovable pages; -EINTR: timed out).
 */
int mp_block_write_state(const struct mp_ctx *ctx, uint64_t id, const char *word, int timeout_ms);

/* ---- the list model as JSON (memjson.c) --------------------------------- */

struct json_object;

/**
 * mp_memory_to_json() - the one JSON form of a scan (memplugd's "list" answer)
 * @mem: scan
 * @sysroot: root the scan read ("" for the running system)
 *
 * {"sysroot", "block_size", "auto_online_blocks", "iomem_unavailable"
 * (string, only when iomem could not be read), "blocks": [{"id", "state",
 * "zones", "nodes": [..], "removable" (0/1/-1), "device",
 * "system_ram_bytes"}]}.
 *
 * Return: a new object (caller puts it), or NULL without memory.
 */
struct json_object *mp_memory_to_json(const struct mp_memory *mem, const char *sysroot);

/**
 * mp_memory_to_json_runs() - the compact form of mp_memory_to_json()
 * @mem: scan
 * @sysroot: root the scan read
 *
 * "runs" instead of "blocks": each run is one block's object with a
 * "count" of consecutive blocks alike in everything but id and start.  A
 * guest's 65,536 blocks are a handful of runs, so the answer is a few
 * hundred bytes instead of 8 MB (and the json tree behind it as small),
 * and the reader does not parse what it would merge again anyway.
 * mp_memory_from_json() reads both forms.
 *
 * Return: a new object, or NULL without memory.
 */
struct json_object *mp_memory_to_json_runs(const struct mp_memory *mem, const char *sysroot);

/**
 * mp_memory_from_json() - rebuild a scan from mp_memory_to_json() or _runs() output
 * @o: parsed JSON
 * @origin: name for messages (socket path, file)
 * @out: result, free with mp_memory_free(); untouched on error
 *
 * Every field is checked (type, range, known words, block ids ascending and
 * unique, node ids, device format); the first bad one is logged with its
 * block index and the model is discarded, never half filled.
 *
 * Return: 0, -EPROTO (bad input, message logged), or -ENOMEM.
 */
int mp_memory_from_json(struct json_object *o, const char *origin, struct mp_memory **out);

/* ---- /proc/kpageflags -------------------------------------------------- */

/* UAPI bits (include/uapi/linux/kernel-page-flags.h) */
#define MP_KPF_LRU 5
#define MP_KPF_SLAB 7
#define MP_KPF_BUDDY 10
#define MP_KPF_HUGE 17
#define MP_KPF_HWPOISON 19
#define MP_KPF_NOPAGE 20
#define MP_KPF_THP 22
#define MP_KPF_OFFLINE 23
#define MP_KPF_PGTABLE 26
/* Kernel-only bits (include/linux/kernel-page-flags.h), stable in 6.1..6.18 */
#define MP_KPF_RESERVED 32
#define MP_KPF_OWNER_PRIVATE 37

struct mp_kpf_counts {
	uint64_t pfns; /* asked for */
	uint64_t eof; /* past the end of the file: no memmap dumped, no online page */
	uint64_t nopage;
	uint64_t reserved; /* KPF_RESERVED set, whatever else */
	/*
	 * memmap_on_memory's self-hosted vmemmap pages, by the release's rule
	 * (struct mp_kernel_rules): RESERVED|OWNER_PRIVATE before 6.11 (counted
	 * in @reserved too), OWNER_PRIVATE alone from 6.11 (not in @reserved).
	 */
	uint64_t memmap_self;
	/*
	 * PG_reserved pages that are not the self-hosted memmap: what makes
	 * offline_pages() fail with EBUSY and what the verifier flags in an
	 * onlined block.  Use this, never @reserved - @memmap_self.
	 */
	uint64_t reserved_other;
	uint64_t buddy;
	uint64_t slab;
	uint64_t pgtable;
	uint64_t offline;
	uint64_t hwpoison;
	uint64_t lru;
	/*
	 * In use but neither free, on an LRU list nor part of a huge page or
	 * THP: kernel allocations migration can't move (slab, page tables,
	 * reserved, vmalloc, stacks), plus per-cpu free pages that
	 * offline_pages() drains first.  memmap_on_memory pages not counted.
	 */
	uint64_t unmovable;
};

struct mp_kpageflags;

/** mp_kpf_counts_to_json() - @k as a JSON object (the one naming of the counts); NULL on -ENOMEM. */
struct json_object *mp_kpf_counts_to_json(const struct mp_kpf_counts *k);

/**
 * mp_kpageflags_memmap_expected() - mp_kernel_memmap_expected() for the open root
 * @kpf: open kpageflags (its release's rules and memmap_on_memory, read at open)
 * @range_bytes: size of the DIMM's System RAM resource
 * @block_size: memory block size
 * @param: set to memmap_on_memory as read ("" unknown)
 * @release: set to the rules' name, for messages
 *
 * Return: 1 the DIMM's blocks self-host their memmap, 0 they do not, -1 unknown.
 */
int mp_kpageflags_memmap_expected(const struct mp_kpageflags *kpf, uint64_t range_bytes,
				  uint64_t block_size, const char **param, const char **release);

/**
 * mp_kpageflags_open() - open <root>/proc/kpageflags
 *
 * Reads the root's release (mp_kernel_version()) once, so that counting
 * applies its version rules (mp_kernel_rules_for()); an unknown release
 * accepts both forms of the self-hosted memmap.
 *
 * Return: 0 or -errno (-EACCES/-EPERM: root only; the message says so).
 */
int mp_kpageflags_open(const struct mp_ctx *ctx, struct mp_kpageflags **out);
void mp_kpageflags_close(struct mp_kpageflags *kpf);
/**
 * mp_kpageflags_count() - count flags over [@pfn, @pfn + @nr)
 * Reads in large chunks.  PFNs past EOF are counted in @c->eof (on 6.1 a
 * devdax range above max_pfn reads as EOF: not an error).
 * Return: 0 or -errno.
 */
int mp_kpageflags_count(struct mp_kpageflags *kpf, uint64_t pfn, uint64_t nr,
			struct mp_kpf_counts *c);

/* ---- dax devices and nvdimm namespaces ---------------------------------- */

#define MP_DAX_MAX_RANGES 8

struct mp_dax_dev {
	char name[32]; /* dax0.0 */
	uint64_t start; /* resource */
	uint64_t size;
	uint64_t align;
	int target_node;
	int numa_node;
	char driver[32]; /* "device_dax", "kmem", "" unbound */
	char parent[64]; /* e.g. "region0" for dax_pmem from an NVDIMM, "hmem..." */
	bool from_nvdimm;
	int nr_ranges;
	struct {
		uint64_t start, end; /* inclusive */
	} ranges[MP_DAX_MAX_RANGES];
};

struct mp_namespace {
	char name[32]; /* namespace0.0 */
	char mode[16]; /* raw, fsdax, devdax, sector */
	char devtype[24];
	uint64_t start;
	uint64_t size;
	int numa_node;
};

/**
 * mp_dax_scan() - read /sys/bus/dax/devices
 * @ctx: context
 * @out: malloc'ed array (NULL when none)
 * @nr: entries
 *
 * Return: 0 (also when the bus is absent) or -errno.
 */
int mp_dax_scan(const struct mp_ctx *ctx, struct mp_dax_dev **out, size_t *nr);
/** mp_namespace_scan() - read /sys/bus/nd/devices/namespace*; same contract. */
int mp_namespace_scan(const struct mp_ctx *ctx, struct mp_namespace **out, size_t *nr);

/* ---- rules ---------------------------------------------------------------- */

/* A predicted outcome of writing to memoryN/state, with the rule behind it. */
struct mp_prediction {
	int err; /* 0 = expected to succeed, else the -errno expected */
	bool certain; /* false: the kernel may still refuse for reasons we can't see */
	char zone[16]; /* zone the block would land in (online) */
	char rule[200]; /* the rule, in words, with the evidence */
};

struct mp_block_verdict {
	uint64_t sysram_bytes;
	bool holes;
	bool multizone;
	struct mp_prediction online; /* plain "online": the kernel picks the zone */
	struct mp_prediction online_movable;
	struct mp_prediction online_kernel;
	struct mp_prediction offline;
};

/**
 * mp_rules_block() - what the kernel's rules say about one block
 * @mem: scan with MP_SCAN_ZONES | MP_SCAN_IOMEM
 * @b: the block
 * @kpf: kpageflags counts over the block, or NULL when unreadable
 * @v: result
 */
void mp_rules_block(const struct mp_memory *mem, const struct mp_block *b,
		    const struct mp_kpf_counts *kpf, struct mp_block_verdict *v);

/* What binding kmem to a ZONE_DEVICE/dax range keeps and strands (§4, §8). */
struct mp_dax_trim {
	uint64_t start, end; /* the range, end inclusive */
	bool aligned_2m; /* start and size multiples of 2 MiB */
	bool partial_first_section, partial_last_section;
	uint64_t first_section, last_section;
	bool keeps_nothing; /* kmem would refuse / skip it */
	uint64_t keep_start, keep_end; /* inclusive; valid unless keeps_nothing */
	uint64_t stranded_head, stranded_tail; /* bytes */
};

/** mp_rules_dax_trim() - predict kmem's block-boundary trim of [@start, @end]. */
void mp_rules_dax_trim(const struct mp_geometry *geo, uint64_t start, uint64_t end,
		       struct mp_dax_trim *t);

/* ---- kernel features ------------------------------------------------------ */

enum mp_feature_state { MP_FEAT_NO = 0, MP_FEAT_YES, MP_FEAT_UNKNOWN };

struct mp_feature {
	const char *key; /* stable identifier for -J */
	const char *what;
	enum mp_feature_state state;
	char evidence[160];
};

/**
 * mp_kernel_features() - which behaviours memplug relies on the kernel offers
 * @ctx: context
 * @out: malloc'ed array
 * @nr: entries
 *
 * Judged from the release (proc/sys/kernel/osrelease) and from what sysfs and
 * procfs actually offer; each entry carries its evidence.
 * Return: 0 or -ENOMEM.
 */
int mp_kernel_features(const struct mp_ctx *ctx, struct mp_feature **out, size_t *nr);
/*
 * The memory-hotplug behaviours that differ between the releases memplug
 * supports (6.1 and later), judged from the release alone because nothing in
 * sysfs shows them.  Read from the 6.1 and 6.12 sources; the functions are
 * named in features.c, the table is in docs/kernel.md.
 */
struct mp_kernel_rules {
	int maj, min; /* -1 when the release is unknown */
	bool known;
	/* 6.11+: self-hosted memmap pages read OWNER_PRIVATE alone (else also RESERVED) */
	bool memmap_owner_private_only;
	/* 6.11+: hot-added memmap starts PageOffline (else PG_reserved) until onlined */
	bool hotplug_memmap_offline;
	/* 6.6+: memmap_on_memory in every block of an add (else only a one-block add) */
	bool memmap_per_block;
	/* 6.6+: memory_hotplug.memmap_on_memory accepts and shows "force" */
	bool memmap_force;
	/* 6.8+: daxX.Y/memmap_on_memory lets kmem self-host the memmap */
	bool dax_memmap_on_memory;
	char name[48]; /* e.g. "6.12 (6.11+ rules)", for messages */
};

/**
 * mp_kernel_rules_for() - the version rules of release @maj.@min
 * @maj: major, -1 when unknown (every field false, @known false)
 * @min: minor
 * @r: result
 */
void mp_kernel_rules_for(int maj, int min, struct mp_kernel_rules *r);

/**
 * mp_kernel_memmap_expected() - does a block of a hot-added DIMM self-host its memmap?
 * @r: the release's rules
 * @param: memory_hotplug.memmap_on_memory as read ("Y", "N", "force"; "" unknown)
 * @range_bytes: size of the DIMM's range (its one "System RAM" resource: ACPI
 *               adds each DIMM as one range, acpi_memory_enable_device())
 * @block_size: memory block size
 *
 * ACPI DIMMs ask for MHP_MEMMAP_ON_MEMORY whenever the parameter is on;
 * 6.1 grants it only to a one-block add, 6.6+ to every block of any add
 * (features.c).  Not for kmem (6.8+ opt-in per dax device) or virtio-mem.
 * Return: 1 yes, 0 no, -1 unknown (release or parameter unknown).
 */
int mp_kernel_memmap_expected(const struct mp_kernel_rules *r, const char *param,
			      uint64_t range_bytes, uint64_t block_size);

/**
 * mp_kernel_memmap_pages() - pages of self-hosted memmap in one block
 * @block_size: bytes
 *
 * memory_block_memmap_on_memory_pages() (mm/memory_hotplug.c): the block's
 * struct pages (64 bytes each on x86_64) in whole pages; "force" rounds up to
 * a pageblock, which for 128 MiB blocks (512 pages, 2 MiB) changes nothing.
 * Return: 512 for a 128 MiB block.
 */
uint64_t mp_kernel_memmap_pages(uint64_t block_size);

/** mp_kernel_release() - read osrelease into @buf; 0 or -errno. */
int mp_kernel_release(const struct mp_ctx *ctx, char *buf, size_t len);

/**
 * mp_kernel_version() - major and minor of proc/sys/kernel/osrelease
 * @ctx: context
 * @maj: result
 * @min: result
 *
 * Return: 0; -ENOENT (or another -errno) when the root has no osrelease;
 * -EINVAL when it does not start with "N.M".  On error both are -1.
 */
int mp_kernel_version(const struct mp_ctx *ctx, int *maj, int *min);

/**
 * mp_kernel_zones_imply_state() - does a one-word valid_zones mean online?
 * @maj: release major, -1 when unknown
 * @min: release minor
 *
 * True from 4.14 on, where an offline block always prints at least two
 * zones (see features.c for the kernel history).  False for older and for
 * unknown releases: read memoryN/state then.
 */
bool mp_kernel_zones_imply_state(int maj, int min);

/* ---- free memory per zone (proc/zoneinfo) ---------------------------------- */

struct mp_zone_free {
	int node;
	char zone[16]; /* "DMA", "DMA32", "Normal", "Movable", "Device" */
	bool kernel; /* DMA, DMA32 or Normal: where a hot-add's memmap comes from */
	bool known; /* "pages free" was read */
	uint64_t free; /* bytes */
};

/**
 * mp_zoneinfo_parse() - the zones of a zoneinfo text
 * @text: contents of proc/zoneinfo
 * @out: malloc'ed array (NULL when there are none)
 * @nr: entries
 *
 * What zoneinfo_show() never writes is refused with a "zoneinfo:LINE:"
 * message: no zone at all, a line before the first "Node N, zone NAME"
 * header, a malformed header, a zone without "pages free", a last line
 * without its newline.
 *
 * Return: 0, -EINVAL (refused, logged), -ENOMEM.
 */
int mp_zoneinfo_parse(const char *text, struct mp_zone_free **out, size_t *nr);
/** mp_zoneinfo_read() - mp_zoneinfo_parse() of the context's proc/zoneinfo; 0 or -errno. */
int mp_zoneinfo_read(const struct mp_ctx *ctx, struct mp_zone_free **out, size_t *nr);
/**
 * mp_zoneinfo_kernel_free() - free bytes in @node's kernel zones (DMA, DMA32, Normal)
 * Return: bytes, or -ENOENT when the node has no kernel zone.
 */
int64_t mp_zoneinfo_kernel_free(const struct mp_zone_free *z, size_t nr, int node);

/* ---- snapshots (fixtures, bug reports) ------------------------------------ */

/**
 * mp_snapshot_record() - record the hotplug-relevant sysfs/procfs state
 * @ctx: where to read (normally the running system)
 * @dest: directory to create; afterwards usable as --sysroot (after
 *        kpageflags expansion, see mp_snapshot_expand())
 *
 * Copies sys/devices/system/memory, sys/devices/system/node, sys/bus/dax,
 * sys/bus/nd, the memory ACPI devices' hid/uid, proc/iomem,
 * proc/sys/kernel/osrelease, the memory_hotplug parameters, and
 * /proc/kpageflags as run-length text (proc/kpageflags.rle).
 * Return: 0 or -errno.
 */
int mp_snapshot_record(const struct mp_ctx *ctx, const char *dest);

/**
 * mp_snapshot_expand() - turn proc/kpageflags.rle under @root into a binary
 * proc/kpageflags of the recorded length.
 * Return: 0, -ENOENT when there is no .rle, or -errno.
 */
int mp_snapshot_expand(const char *root);

/* ---- the kernel's log: why an offline failed (kmsg.c) -------------------- */

/* One record of /dev/kmsg ("prio,seq,usec,flags[,...];text"). */
struct mp_kmsg_record {
	int level; /* prio & 7: 7 = KERN_DEBUG */
	int facility; /* prio >> 3: 0 = kernel */
	uint64_t seq;
	uint64_t ts_us;
	char text[1024]; /* the message as /dev/kmsg escapes it (\xNN) */
};

/**
 * mp_kmsg_record_parse() - split one /dev/kmsg record
 * @buf: what one read(2) of /dev/kmsg returned (need not be NUL-terminated)
 * @len: its length
 * @r: result; dictionary lines (" KEY=value") after the text are skipped
 *
 * The header is "PRIO,SEQ,USEC,FLAG[,...]" in decimal (printk's
 * info_print_ext_header()); the text is escaped by the kernel, so a NUL
 * byte is not the kernel's.
 *
 * Return: 0, or -EINVAL when the record is malformed.
 */
int mp_kmsg_record_parse(const char *buf, size_t len, struct mp_kmsg_record *r);

/**
 * mp_kmsg_parse_offline_failure() - parse offline_pages()'s failure line
 * @text: a record's text
 * @start: first byte of the range the kernel tried
 * @end: last byte (inclusive)
 * @reason: receives a pointer into @text: the words after "failed due to "
 *
 * The line is mm/memory_hotplug.c offline_pages()'s pr_debug
 * "memory offlining [mem %#010llx-%#010llx] failed due to %s" (6.1).
 *
 * Return: 0, or -ENOENT when @text is not such a line.
 */
int mp_kmsg_parse_offline_failure(const char *text, uint64_t *start, uint64_t *end,
				  const char **reason);

/* What the kernel said about one offline write. */
struct mp_offline_why {
	bool from_kernel; /* @reason is the kernel's own words */
	char reason[200]; /* "failure to isolate range", or "kernel reason not available: <why>" */
	char message[256]; /* the kernel's whole line, "" when none was seen */
	unsigned int nr_dumps; /* dump_page() reports about pages of the block */
	uint64_t dump_pfn; /* the first one's pfn */
	char dump_because[64]; /* its "page dumped because: ..." */
	char dump[1024]; /* its lines, '\n'-separated */
	unsigned int nr_migrate_failures; /* "migrating pfn ... failed" / "failed to isolate pfn" */
	char migrate_line[160]; /* the first of them */
};

struct mp_kmsg;

/**
 * mp_kmsg_open() - get ready to read the kernel's reasons for offline failures
 * @ctx: context: <root>/dev/kmsg and <root>/sys/kernel/debug/dynamic_debug
 * @out: result, free with mp_kmsg_close()
 *
 * Opens /dev/kmsg non-blocking and turns on the dynamic-debug call sites of
 * offline_pages() that are off ("func offline_pages +p"); mp_kmsg_close()
 * turns exactly those off again.  Whatever is missing (no kmsg, no debugfs,
 * no permission, a kernel without the call site) does not fail the call: it
 * is recorded and every report says "kernel reason not available: <why>".
 *
 * Return: 0 or -ENOMEM.
 */
int mp_kmsg_open(const struct mp_ctx *ctx, struct mp_kmsg **out);
/** mp_kmsg_close() - restore the dynamic-debug settings changed, close kmsg. */
void mp_kmsg_close(struct mp_kmsg *k);
/**
 * mp_kmsg_unavailable() - why the kernel's reason can't be read
 * Return: NULL when both kmsg and the offline_pages() call site are usable,
 * else the explanation (kmsg may still give page dumps when only dynamic
 * debug is missing).
 */
const char *mp_kmsg_unavailable(const struct mp_kmsg *k);
/** mp_kmsg_mark() - skip to the end of the log: call right before a state write. */
void mp_kmsg_mark(struct mp_kmsg *k);
/**
 * mp_kmsg_offline_why() - what the kernel logged since mp_kmsg_mark() about
 * offlining [@start, @end]
 * @k: reader
 * @start: block's first byte
 * @end: block's last byte (inclusive)
 * @why: result; @why->reason is never empty
 */
void mp_kmsg_offline_why(struct mp_kmsg *k, uint64_t start, uint64_t end,
			 struct mp_offline_why *why);
/**
 * mp_kmsg_scan_records() - the record matcher behind mp_kmsg_offline_why()
 * @recs: records in log order
 * @nr: how many
 * @start: block's first byte
 * @end: block's last byte (inclusive)
 * @unavailable: mp_kmsg_unavailable(), for the reason when no line matched
 * @why: result
 */
void mp_kmsg_scan_records(const struct mp_kmsg_record *recs, size_t nr, uint64_t start,
			  uint64_t end, const char *unavailable, struct mp_offline_why *why);

/* ---- draining a device: offline all its blocks or none (offline.c) ------- */

enum mp_offline_outcome {
	MP_OFFLINE_NOT_TRIED = 0, /* an earlier block refused, or the deadline passed first */
	MP_OFFLINE_ALREADY, /* offline before the call: left alone */
	MP_OFFLINE_OFFLINED, /* offlined by this call and left offline */
	MP_OFFLINE_REFUSED, /* the kernel refused (err); it stays online */
	MP_OFFLINE_ROLLED_BACK, /* offlined, then onlined again into its old zone */
	MP_OFFLINE_ROLLBACK_FAILED, /* offlined, onlining again failed (rollback_err): offline */
	MP_OFFLINE_ROLLBACK_ZONE, /* onlined again, but valid_zones differs from before */
};

struct mp_offline_block {
	uint64_t id;
	uint64_t start, size;
	enum mp_offline_outcome outcome;
	unsigned int tried; /* position in the order tried, 1-based; 0: never written */
	bool suspect; /* kpageflags or valid_zones predicted a refusal (order) */
	char zone_before[16]; /* valid_zones before offlining ("Movable", "Normal", ...) */
	char zone_after[16]; /* valid_zones after a rollback */
	const char *rollback_word; /* "online_movable" / "online_kernel", NULL if none */
	int err; /* REFUSED: the offline write's -errno */
	int rollback_err; /* ROLLBACK_FAILED: the online write's -errno */
	uint64_t write_ms; /* time the offline write took */
};

struct mp_offline_result {
	int err; /* 0, the refusal's -errno, or -ETIMEDOUT */
	bool timed_out; /* the deadline passed (a write interrupted, or blocks left untried) */
	bool rollback_failed; /* some block could not be put back: see its outcome */
	unsigned int rolled_back;
	ssize_t failed; /* index of the block that refused / where time ran out, or -1 */
	struct mp_offline_why why; /* the kernel's reason for @failed */
	bool kpf_valid;
	struct mp_kpf_counts kpf; /* @failed's page flags right after the refusal */
	char kpf_error[96]; /* why @kpf is missing */
	uint64_t deadline_ms, elapsed_ms;
	size_t nr;
	struct mp_offline_block blocks[]; /* in the order the caller gave */
};

/* mp_blocks_offline() flags */
enum {
	/*
	 * Offline in ascending address order, as the kernel's ACPI eject does
	 * (acpi_bus_offline() walks the DIMM's physical nodes in bind order).
	 * Default: blocks predicted to refuse first, then ascending.
	 */
	MP_OFFLINE_ADDRESS_ORDER = 1 << 0,
};

/**
 * mp_blocks_offline() - offline a set of blocks (a device's) all or nothing
 * @ctx: context
 * @ids: block numbers
 * @nr: how many (at least 1, no duplicates)
 * @timeout_ms: overall deadline; each write gets the time left (0: none)
 * @flags: MP_OFFLINE_*
 * @out: result, always set when the return is not -ENOMEM/-EINVAL for
 *       arguments; free with free()
 *
 * Every block online at the start has its zone read from valid_zones; if a
 * block refuses or time runs out, every block this call offlined is onlined
 * again into that zone (newest first), and the refusal is reported with the
 * kernel's reason (dynamic debug + /dev/kmsg) and the block's kpageflags.
 *
 * Return: 0 when every block is offline; the refusal's -errno (-EBUSY,
 * -EINVAL, -EINTR ...) or -ETIMEDOUT after a complete rollback;
 * -ENOTRECOVERABLE when a rollback failed (the result says which block and
 * why: the device is left partly offline); -ENOENT when a block does not
 * exist (nothing written); -EINVAL, -ENOMEM.
 */
int mp_blocks_offline(const struct mp_ctx *ctx, const uint64_t *ids, size_t nr, int timeout_ms,
		      unsigned int flags, struct mp_offline_result **out);
/**
 * mp_offline_result_to_json() - @r as a JSON document (memplugctl -J, memplugd's answer)
 * Return: a new object, or NULL on -ENOMEM.
 */
struct json_object *mp_offline_result_to_json(const struct mp_offline_result *r);
/** mp_offline_outcome_name() - "offlined", "rolled back", ... */
const char *mp_offline_outcome_name(enum mp_offline_outcome o);

/* ---- uevents (uevent.c) ---------------------------------------------------- */

/* One kernel uevent, pointing into the message it was parsed from. */
struct mp_uevent {
	const char *action; /* ACTION=: "add", "online", ... */
	const char *subsystem; /* SUBSYSTEM=: "memory", "dax", ... */
	const char *devpath; /* DEVPATH=, NULL when absent */
};

/**
 * mp_uevent_parse() - split one kernel uevent
 * @msg: "ACTION@DEVPATH\0KEY=VALUE\0..." as one recv(2) of the uevent
 *       netlink socket returned it; the fields stay in place
 * @len: its length; @msg[@len] must be a NUL (the caller's buffer has a
 *       byte more), so that a last field cut short still ends
 * @ev: result
 * @why: receives what was wrong, for the caller's message
 * @whylen: size of @why
 *
 * The kernel (lib/kobject_uevent.c) writes the "ACTION@DEVPATH" header and
 * then KEY=VALUE fields, each ending with a NUL, always with ACTION and
 * SUBSYSTEM.  Anything else (no header, an empty field, a field without
 * '=', a missing ACTION or SUBSYSTEM, a key that is not upper case) is
 * refused rather than read as a message that says nothing.
 *
 * Return: 0, or -EBADMSG with @why.
 */
int mp_uevent_parse(const char *msg, size_t len, struct mp_uevent *ev, char *why, size_t whylen);

#endif

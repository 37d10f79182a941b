/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control socket: a Unix stream socket served by a thread of its own,
 * so that no Unbound worker ever waits on an operator. One request line per
 * connection (at most TAPIR_CONTROL_MAX_LINE bytes), a text answer, one NUL
 * byte that says the answer is whole, then the server closes. An answer
 * whose first line starts with "error:" reports a failed command; one that
 * ends without the NUL was cut short, and an empty one is no answer.
 *
 * Each phase of a request has a deadline of its own, so that a command
 * that runs long (a reload waiting for the writer, a flush waiting for
 * Unbound) never leaves its answer no time to be sent: reading the request
 * (TAPIR_CONTROL_READ_MS, short: a silent client holds up the next
 * operator by that much at most), what a command may wait for
 * (TAPIR_CONTROL_RUN_MS; its computing is not interrupted), and sending
 * the answer (TAPIR_CONTROL_SEND_MS, from the end of the command).
 *
 * A long answer (list, dump-rpz of millions of names) is sent while it is
 * made: the command hands each piece to the client with tapir_buf_flush(),
 * so that the answer never lies whole in memory, and it holds no read
 * section of the database while the client takes its time. Each piece
 * has TAPIR_CONTROL_SEND_MS to go out, and the whole answer
 * TAPIR_CONTROL_ANSWER_MS from the start of the command: one connection
 * is served at a time, so a client that reads slowly holds up the next
 * operator by that much at most. A client that stops reading, or leaves,
 * makes the next tapir_buf_flush() fail, and the command stops.
 *
 * Who may do what: the socket's mode and owner decide who reaches it at
 * all; past that, the server asks the kernel who is calling (SO_PEERCRED,
 * SO_PEERGROUPS) and tells the handler whether the peer is privileged
 * (root, this process's user, a member of the configured group), so that
 * commands that change state are kept to those, whatever the mode says.
 *
 * Thread safety: the handler runs on the control thread; it must only use
 * reader-safe functions of the engine.
 */
#ifndef TAPIR_CONTROL_H
#define TAPIR_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lib/tapir.h"

#define TAPIR_CONTROL_MAX_LINE 4096

#define TAPIR_CONTROL_READ_MS	2000
#define TAPIR_CONTROL_RUN_MS	30000
#define TAPIR_CONTROL_SEND_MS	30000
/* The longest an answer sent in pieces may take, from the start of the
 * command. */
#define TAPIR_CONTROL_ANSWER_MS 600000
/* How long a client waits for the answer to begin: every phase, and some
 * slack. */
#define TAPIR_CONTROL_CLIENT_MS                                                \
	(TAPIR_CONTROL_READ_MS + TAPIR_CONTROL_RUN_MS +                        \
		TAPIR_CONTROL_SEND_MS + 5000)
/* Once an answer has begun, how long a client waits for more of it: a
 * piece's time to go out, and time to make the next one. */
#define TAPIR_CONTROL_GAP_MS (TAPIR_CONTROL_SEND_MS + 5000)

/*
 * Where the packaged module and tapir-pop-control meet without reading
 * any configuration: the module serves status on this socket when its
 * configuration does not load (the socket's path is in that file), and
 * the tool asks there unless told otherwise. Both honour
 * $TAPIR_POP_SOCKET first (tapir_control_default_socket()). The directory
 * belongs to the unbound user (Debian: tmpfiles.d), because the module
 * creates the socket after Unbound has dropped privileges.
 */
#ifndef TAPIR_CONTROL_DEFAULT_SOCKET
#define TAPIR_CONTROL_DEFAULT_SOCKET "/run/unbound/tapir-pop.sock"
#endif
#define TAPIR_CONTROL_SOCKET_ENV "TAPIR_POP_SOCKET"

/*
 * The configuration the module reads by default ($TAPIR_POP_CONFIG, else
 * tapir-pop.yaml in Unbound's directory:, which is /etc/unbound on
 * Debian), for tapir-pop-control check and its diagnostics.
 */
#ifndef TAPIR_DEFAULT_CONFIG
#define TAPIR_DEFAULT_CONFIG "/etc/unbound/tapir-pop.yaml"
#endif
#define TAPIR_CONFIG_ENV "TAPIR_POP_CONFIG"

/**
 * The control socket to use when no configuration names one:
 * $TAPIR_POP_SOCKET when set and not empty, else
 * TAPIR_CONTROL_DEFAULT_SOCKET. Integration tests point it into their
 * private directory.
 * @return: a string that stays valid while the environment is unchanged.
 */
const char *tapir_control_default_socket(void);

/**
 * Where an answer goes while it is made: the control server sends data to
 * its client.
 * @return: 0, or a negative tapir_err when the bytes could not go (the
 *	client left, or did not read them in time).
 */
typedef int (*tapir_buf_sink)(void *arg, const char *data, size_t len);

/**
 * A growable answer buffer. Without a sink it collects the whole answer;
 * with one, tapir_buf_flush() hands on what it holds, so that it holds
 * one piece of a long answer at a time.
 */
struct tapir_buf {
	char *data; /* owned, NUL-terminated when len > 0 */
	size_t len, cap;
	/* An allocation failed or the sink refused: the answer is cut, and a
	 * command that makes a long one stops. Appends are dropped. */
	bool failed;
	tapir_buf_sink sink; /* NULL: the answer stays whole in data */
	void *sink_arg;	     /* borrowed */
	size_t sent;	     /* bytes handed to the sink so far */
};

/** Append formatted text. */
void tapir_buf_printf(struct tapir_buf *b, const char *fmt, ...)
	TAPIR_PRINTF(2, 3);
/** Append bytes. */
void tapir_buf_append(struct tapir_buf *b, const char *s, size_t len);
/** Free the buffer's memory and empty it, sink and all. */
void tapir_buf_clear(struct tapir_buf *b);
/**
 * Hand what b holds to its sink and empty it; without a sink, do nothing
 * (the answer stays whole in b). A command that makes a long answer calls
 * it between pieces, outside any read section of the database: the sink
 * may wait up to TAPIR_CONTROL_SEND_MS for the client.
 * @return: 0, or a negative tapir_err when b has failed (now or before):
 *	the rest of the answer goes nowhere, and the command should stop.
 */
int tapir_buf_flush(struct tapir_buf *b) TAPIR_WUR;

/** Who sent a request, as the kernel says (SO_PEERCRED). */
struct tapir_control_peer {
	pid_t pid;
	uid_t uid; /* (uid_t)-1 when the kernel did not say */
	gid_t gid;
	/* root, this process's effective user, or a member (primary or
	 * supplementary group) of tapir_control_opts.admin_group. */
	bool privileged;
};

/** Handles one request line (without the newline) from peer into out. */
typedef void (*tapir_control_fn)(void *arg, const char *line,
	const struct tapir_control_peer *peer, struct tapir_buf *out);

/** The socket's mode and owner, and who counts as privileged. */
struct tapir_control_opts {
	unsigned mode;	   /* permission bits of the socket */
	uid_t owner;	   /* (uid_t)-1: this process's user */
	gid_t group;	   /* (gid_t)-1: this process's group */
	gid_t admin_group; /* its members are privileged; (gid_t)-1: none */
	/* Deadlines for sending a piece and a whole answer, for tests;
	 * 0: TAPIR_CONTROL_SEND_MS, TAPIR_CONTROL_ANSWER_MS. */
	int send_ms, answer_ms;
};

struct tapir_control;

/**
 * Bind the socket and start the thread. The socket is bound in a private
 * directory beside path, given its mode and owner there, and renamed into
 * place, so that nobody ever finds it at path with another mode or owner.
 * A file left at path (a socket of a process gone, e.g. an Unbound that
 * crashed) is replaced; a socket that some process still serves is not:
 * that is another Unbound's, and taking it over would leave its operators
 * talking to the wrong module.
 * @param path: socket path; its directory must be writable.
 * @param opts: mode and owner; borrowed.
 * @param owner_errno: if not NULL, set to chown()'s errno when the owner
 *	or group could not be given (the socket is then served with this
 *	process's, and the mode), else to 0.
 * @return: the server or NULL with err filled.
 */
struct tapir_control *tapir_control_create(const char *path,
	const struct tapir_control_opts *opts, tapir_control_fn fn, void *arg,
	int *owner_errno, struct tapir_error *err);

/** Stop and join the thread, remove the socket; NULL is fine. */
void tapir_control_destroy(struct tapir_control *c);

/**
 * Client side: send one request and collect the answer.
 * @param timeout_ms: for connect, send and the first bytes of the answer
 *	(TAPIR_CONTROL_CLIENT_MS covers every phase of the server). An
 *	answer sent in pieces may then go on for up to
 *	TAPIR_CONTROL_ANSWER_MS, as long as no gap between two of its
 *	pieces is longer than TAPIR_CONTROL_GAP_MS.
 * @param out: the answer, without its end mark; left empty on failure.
 * @return: 0 or a negative tapir_err (err filled): TAPIR_EIO also when
 *	the server closed without an answer or the answer was cut short,
 *	TAPIR_ETIMEDOUT when it did not come in time. When the socket could
 *	not be reached (TAPIR_EIO from connect), errno is connect()'s, for
 *	a caller that explains it.
 */
int tapir_control_request(const char *path, const char *line, int timeout_ms,
	struct tapir_buf *out, struct tapir_error *err) TAPIR_WUR;

/**
 * One piece of an answer, in order, without the end mark.
 * @return: 0, or -1 to give up (out of memory).
 */
typedef int (*tapir_control_piece_fn)(void *arg, const char *data, size_t len);

/**
 * Client side: tapir_control_request(), with the answer handed to piece as
 * it arrives instead of collected, so that an answer of any size takes
 * the client no more memory than one read. The pieces of an answer that
 * turns out cut short (or too slow) have been handed over by the time
 * the error is returned: the caller says it was not whole.
 * @return: as tapir_control_request(); TAPIR_ENOMEM when piece gave up.
 */
int tapir_control_request_stream(const char *path, const char *line,
	int timeout_ms, tapir_control_piece_fn piece, void *arg,
	struct tapir_error *err) TAPIR_WUR;

#endif

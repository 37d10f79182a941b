/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The module's configuration: one YAML file (libyaml), parsed into an
 * immutable struct tapir_config. Errors name the file, line and key.
 *
 * Shape (every key optional unless marked; see examples/tapir-pop.yaml):
 *
 *   mqtt:                            # required with an mqtt source or
 *                                    # core-status, else optional
 *     broker: mqtts://host:8883      # mqtt:// or mqtts://, required
 *     client-id: resolver-1          # default "tapir-pop-<hostname>"
 *     ca-file: /path  cert-file: /path  key-file: /path
 *     keepalive: 30                  # seconds
 *     protocol: auto                 # auto (v5, falls back to 3.1.1) | 5 | 311
 *     reconnect-min: 1  reconnect-max: 60   # backoff, seconds
 *     session-expiry: 3600           # seconds the broker keeps the session
 *                                    # (0: clean session), 0..86400
 *   keys: /etc/dnstapir/certs/validation-keys.json   # JWKS; required
 *                                    # with an mqtt source
 *   sources:
 *     - name: dns-tapir              # required, unique, <= 63 chars
 *       type: mqtt                   # mqtt | file | xfr
 *       list: doubtlist              # allowlist | denylist | doubtlist
 *       topics: [observations/down/tapir-pop]   # mqtt: required
 *       qos: 1                       # 0..2
 *       log-only: no                 # count what it would block only
 *     - name: local-deny             # a file source
 *       type: file
 *       list: denylist
 *       path: /etc/unbound/deny.txt  # required for file sources
 *       format: domains              # domains | hosts | csv | rpz
 *       csv-column: 2  csv-header: yes  csv-delimiter: ","
 *       origin: rpz.example          # rpz: the zone's name
 *       refresh: 10                  # seconds between change checks
 *       max-size: 268435456          # bytes
 *       max-shrink: 50               # percent of names one load may drop
 *     - name: rpz-feed               # an xfr source: AXFR, then IXFR
 *       type: xfr
 *       list: denylist
 *       primary: 192.0.2.1           # IPv4 or IPv6 literal, required
 *       port: 53
 *       zone: rpz.example.           # required
 *       tsig-name: xfr-key           # TSIG, optional; then one of:
 *       tsig-secret: base64==        #   the secret ...
 *       tsig-secret-file: /path      #   ... or a file holding it
 *       tsig-algorithm: hmac-sha256  # hmac-sha256 | -sha512 | ... | -md5
 *       timeout: 30                  # seconds per transfer
 *   policy:
 *     denylist:  { action: NXDOMAIN }
 *     doubtlist:
 *       numsources:   { limit: 2, action: NXDOMAIN }
 *       numtapirtags: { limit: 3, action: NXDOMAIN }
 *       denytapir:    { tags: [likelymalware, 16], action: NXDOMAIN }
 *     tapir-source: dns-tapir        # the source whose tags rules read
 *     log-only: no                   # count blocks, answer normally
 *     rules:                         # named rules, the richer form
 *       - name: two-feeds            # required, unique
 *         action: NXDOMAIN           # default NXDOMAIN
 *         log-only: no
 *         sources-min: 2             # distinct doubtlist sources ...
 *         sources: [a, b]            # ... counting only these
 *         tags-min: 2                # tag bits of tags-from's entries
 *         tags-all: [x, y]  tags-any: [z]  tags-none: [looptest]
 *         tags-from: [dns-tapir]     # default: tapir-source
 *         lists: [denylist]          # an entry in one of these lists
 *   tags: { globally_new: 0, ... }   # extra tag names → bit numbers
 *   answer:
 *     negative-ttl: 60               # SOA TTL and minimum, seconds
 *     soa-mname: tapir-pop.invalid   # SOA owner is the blocked name's zone
 *     soa-rname: hostmaster.tapir-pop.invalid
 *     redirect-a: [192.0.2.1]        # REDIRECT answers (A queries)
 *     redirect-aaaa: [2001:db8::1]   #   (AAAA queries)
 *     redirect-cname: walled.example # or a CNAME for every type
 *   limits:
 *     max-message-size: 65536        # bytes, per MQTT message
 *     max-entries: 10000000          # names in the database
 *     queue-length: 10000            # messages waiting for the writer
 *     queue-bytes: 67108864          # ... and the bytes they may hold
 *     max-message-age: 86400         # seconds; older messages refused
 *     max-message-ahead: 300         # seconds ahead of this clock
 *     max-transfer-size: 536870912   # bytes of a zone transfer's changes
 *   control:
 *     socket: /run/unbound/tapir-pop.sock
 *     mode: 0660
 *     group: unbound                 # group of the socket (name or gid);
 *                                    # its members may also change state
 *     owner: unbound                 # owner of the socket (name or uid)
 *     # The module runs as the user Unbound drops privileges to: owner can
 *     # only be that user and group one of its groups (status shows a
 *     # problem otherwise); any when Unbound runs as root.
 *   logging:
 *     blocked-queries: no            # one line per blocked query
 *     client-address: no             # ... with the client address
 *   state-dir: /var/lib/unbound/tapir-pop
 *   core-status:                     # off unless given
 *     topic: status/up/resolver-1    # required
 *     interval: 60                   # seconds, 10..86400
 *     signing-key: /etc/dnstapir/certs/status.jwk   # required
 *
 * Thread safety: a parsed config is immutable; it is owned by the engine and
 * replaced whole on reload.
 */
#ifndef TAPIR_CONFIG_H
#define TAPIR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/name.h"
#include "lib/tapir.h"
#include "lib/vocab.h"

#define TAPIR_SOURCE_NAME_MAX 64 /* including NUL */
#define TAPIR_MAX_SOURCES     64
#define TAPIR_MAX_TOPICS      16
#define TAPIR_MAX_REDIRECT    8

/* enum tapir_action, tapir_list, tapir_source_type, tapir_file_format and
 * their names: lib/vocab.h. */

struct tapir_source_config {
	char name[TAPIR_SOURCE_NAME_MAX];
	enum tapir_source_type type;
	enum tapir_list list;
	bool log_only; /* its entries are counted ("would"), not enforced */
	/* mqtt */
	size_t n_topics;
	char *topics[TAPIR_MAX_TOPICS]; /* owned */
	int qos;
	/* file */
	char *path;	     /* owned */
	int format;	     /* enum tapir_file_format (lib/vocab.h) */
	unsigned csv_column; /* 1-based; 0: the format's default */
	bool csv_header;
	char csv_delim;			 /* 0: ',' */
	char origin[TAPIR_NAME_BUFSIZE]; /* rpz: zone name, "" if none */
	unsigned refresh; /* seconds between checks for a change */
	size_t max_size;  /* bytes: a larger file is refused */
	/* percent: a load that would remove more of the names the last
	 * load listed is held back for one check (lib/engine_files.c) */
	unsigned max_shrink;
	/* xfr */
	char *primary;			    /* owned: IPv4 or IPv6 literal */
	int port;			    /* 53 unless given */
	char zone[TAPIR_NAME_BUFSIZE];	    /* canonical */
	char tsig_name[TAPIR_NAME_BUFSIZE]; /* canonical, "": no TSIG */
	char *tsig_alg;	   /* owned, "hmac-sha256" unless given; NULL: none */
	char *tsig_secret; /* owned base64, from tsig-secret(-file) */
	unsigned timeout;  /* seconds per transfer, 30 unless given */
};

#define TAPIR_MAX_RULES 32

/* A named rule of the richer policy form: fires when every condition it
 * states holds for the entries that apply to a name. */
struct tapir_named_rule {
	char name[TAPIR_SOURCE_NAME_MAX];
	enum tapir_action action;
	bool log_only;	       /* counted as "would block", answer untouched */
	unsigned sources_min;  /* distinct doubtlist sources; 0: no condition */
	uint64_t sources_mask; /* the sources counted (bit per index); 0: all */
	unsigned tags_min;     /* tag bits set; 0: no condition */
	uint32_t tags_all, tags_any, tags_none; /* 0: no condition */
	uint64_t tags_from; /* sources whose tags count; 0: tapir-source */
	uint8_t lists;	    /* 1 << list: an entry in one of them; 0: any */
};

struct tapir_rule_config {
	bool enabled;
	unsigned limit; /* numsources, numtapirtags */
	uint32_t tags;	/* denytapir: any of these bits */
	enum tapir_action action;
};

enum tapir_mqtt_protocol {
	TAPIR_MQTT_AUTO = 0, /* v5, falling back to v3.1.1 */
	TAPIR_MQTT_V5 = 5,
	TAPIR_MQTT_V311 = 4,
};

struct tapir_config {
	char *path; /* owned: the file it came from */

	struct {
		char *host; /* owned, NULL when mqtt: is not given */
		int port;
		bool tls;
		char *client_id;		      /* owned */
		char *ca_file, *cert_file, *key_file; /* owned, may be NULL */
		int keepalive;
		enum tapir_mqtt_protocol protocol;
		int reconnect_min, reconnect_max;
		/* Seconds the broker keeps our session (subscriptions and
		 * the QoS 1 messages published meanwhile) while we are
		 * away; 0: a clean session, ended at each disconnect. */
		int session_expiry;
	} mqtt;

	char *keys_file; /* owned, NULL when not given (no mqtt source) */

	size_t n_sources;
	struct tapir_source_config sources[TAPIR_MAX_SOURCES];

	struct {
		enum tapir_action denylist_action;
		struct tapir_rule_config numsources;
		struct tapir_rule_config numtapirtags;
		struct tapir_rule_config denytapir;
		char tapir_source[TAPIR_SOURCE_NAME_MAX];
		bool log_only; /* every block only counted, answers untouched */
		size_t n_rules;
		struct tapir_named_rule rules[TAPIR_MAX_RULES];
	} policy;

	/* Tag names: bit number → name (NULL where unnamed). Both upstream
	 * vocabularies are known by default; "tags:" adds or overrides. */
	char *tag_names[32]; /* owned */

	struct {
		uint32_t negative_ttl;
		char soa_mname[TAPIR_NAME_BUFSIZE];
		char soa_rname[TAPIR_NAME_BUFSIZE];
		/* REDIRECT: A/AAAA records for those query types, or a CNAME
		 * to one name for every type; neither: NXDOMAIN. */
		size_t n_redirect_a, n_redirect_aaaa;
		uint8_t redirect_a[TAPIR_MAX_REDIRECT][4];
		uint8_t redirect_aaaa[TAPIR_MAX_REDIRECT][16];
		char redirect_cname[TAPIR_NAME_BUFSIZE]; /* "" if none */
		/* NXDOMAIN and NODATA block answers go into Unbound's message
		 * cache, for their TTL (module/tapir_pop.c). */
		bool cache_blocked;
	} answer;

	struct {
		size_t max_message_size;
		size_t max_entries;
		size_t queue_length;
		/* bytes the messages waiting for the writer may hold */
		size_t queue_bytes;
		/* seconds: a message whose timestamp is older than the
		 * clock by more, or ahead of it by more, is refused as stale
		 * (lib/engine_ingest.c); 0: that bound is off */
		unsigned max_message_age, max_message_ahead;
		/* Bytes a zone transfer's changes may take while it is
		 * verified (about 2 + the name's length each). */
		size_t max_transfer_size;
	} limits;

	struct {
		char *socket; /* owned, NULL: no control socket */
		unsigned mode;
		char *group; /* owned, NULL: the process's group */
		char *owner; /* owned, NULL: the process's user */
	} control;

	struct {
		bool blocked; /* one log line per blocked query */
		bool client;  /* ... with the client's address */
	} logging;

	char *state_dir; /* owned, may be NULL */

	/* Health reports to the DNS TAPIR core (off unless topic is set):
	 * counts and component states, never query data. */
	struct {
		char *topic;	   /* owned, NULL: off */
		unsigned interval; /* seconds */
		char *key_file; /* owned: private JWK that signs the reports */
	} core_status;

	/* The metrics command's text, also written to a file every interval
	 * seconds by the writer thread, for node_exporter's textfile
	 * collector (off unless textfile is set). */
	struct {
		char *textfile;	   /* owned, NULL: off; ends in .prom */
		unsigned interval; /* seconds */
	} metrics;
};

/**
 * Parse a configuration from a buffer.
 * @param name: file name used in error messages.
 * @param err: on failure, line and "file:line: key: reason" text.
 * @return: a config (owned by the caller) or NULL.
 */
struct tapir_config *tapir_config_parse(
	const char *buf, size_t len, const char *name, struct tapir_error *err);

/** tapir_config_parse() on a file. */
struct tapir_config *tapir_config_load(
	const char *path, struct tapir_error *err);

/** Free a config; NULL is fine. */
void tapir_config_destroy(struct tapir_config *cfg);

/* Called with each key path, borrowed for the call. */
typedef void (*tapir_config_key_fn)(const char *key, void *arg);

/**
 * Every key that takes a value, as the parser's tables say, in their
 * order: "mqtt.broker", "policy.doubtlist.numsources.limit". The items of
 * a list have their keys without an index ("sources.name",
 * "policy.rules.name"); "tags", a mapping of names of the operator's
 * choosing, is one key. For the manual and the test that keeps it
 * complete (tests/check-manpage.sh).
 * @param fn: called once per key.
 */
void tapir_config_list_keys(tapir_config_key_fn fn, void *arg);

/** Index of a source by name, or -1. */
int tapir_config_source_index(const struct tapir_config *cfg, const char *name);

/**
 * Tag name → bit number (0..31), using cfg's names and both upstream
 * vocabularies; a decimal number "0".."31" is also accepted.
 * @return: bit number or -1.
 */
int tapir_config_tag_bit(const struct tapir_config *cfg, const char *name);

#endif
